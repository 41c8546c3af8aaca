"""Any task in one uniform shape, as GET /v1/tasks/{id} shows it and as task callbacks send it."""

from __future__ import annotations

from typing import Any

from digihuman.services import Services
from digihuman.tasks.store import TaskView


def uniform_view(services: Services, task: TaskView) -> dict[str, Any]:
    outputs = {
        name: services.storage.url(value) if isinstance(value, str) and value.startswith("tasks/") else value
        for name, value in (task.outputs or {}).items()
    }
    return {
        "id": task.id,
        "kind": task.kind,
        "name": task.name,
        "status": task.status.value,
        "progress": round(task.progress, 1),
        "stage": task.stage,
        "attempts": task.attempts,
        "created_at": task.created_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "duration_s": task.duration_s,
        "cancel_requested": task.cancel_requested,
        "error": {"code": task.error_code, "message": task.error_message} if task.error_code else None,
        "outputs": outputs,
        "callbacks": services.callbacks.attempts(task.id),
    }
