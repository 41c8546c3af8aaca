"""What the client raises, all under DigihumanError so the CLI reports them like local failures.

    ClientError            a request the server refused (its status and one-sentence message)
    ├── TaskFailed         the task ended as failed; ``task`` holds the uniform task object
    │   └── TaskCancelled  the task ended as cancelled
    └── ServerUnreachable  no answer: wrong --server, server down, network error
"""

from __future__ import annotations

from typing import Any

from digihuman.errors import DigihumanError


class ClientError(DigihumanError):
    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


class TaskFailed(ClientError):
    def __init__(self, task: dict[str, Any]) -> None:
        error = task.get("error") or {}
        code = error.get("code") or 500
        super().__init__(f"task {task.get('id')} {task.get('status', 'failed')}: "
                         f"{error.get('message') or 'no reason given'}", code)
        self.task = task


class TaskCancelled(TaskFailed):
    pass


class ServerUnreachable(ClientError):
    def __init__(self, base_url: str, cause: Exception) -> None:
        super().__init__(f"the server at {base_url} could not be reached ({type(cause).__name__}); "
                         "check --server and that the server is running.", 503)
