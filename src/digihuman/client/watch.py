"""Following a task to its end: server-sent events decoded, a progress bar drawn, the outcome returned or raised.

Both clients feed a :class:`Watch` with what they read (stream lines, or polled task
objects); everything a watch decides is made here, once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from digihuman.client.calls import check
from digihuman.client.errors import TaskCancelled, TaskFailed

if TYPE_CHECKING:
    import httpx

FINAL = ("succeeded", "failed", "cancelled")
RECONNECTS = 3  # event streams that end early before the watch falls back to polling
STREAM_READ_S = 60.0  # the server sends a keep-alive comment every 15 s of silence


@dataclass(frozen=True)
class Event:
    name: str
    data: str


class EventDecoder:
    """Server-sent events from the lines of a ``text/event-stream`` body (the WHATWG rules we need)."""

    def __init__(self) -> None:
        self._name, self._data = "message", []  # type: tuple[str, list[str]]

    def feed(self, line: str) -> Event | None:
        """The event a blank line completes, else None."""
        if not line:
            event = Event(self._name, "\n".join(self._data)) if self._data else None
            self._name, self._data = "message", []
            return event
        if line.startswith(":"):  # a comment: the server's keep-alive
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._name = value
        elif name == "data":
            self._data.append(value)
        return None


class EventsMissing(Exception):
    """The server has no event stream (an older server): follow the task by polling instead."""


def check_events_answer(response: httpx.Response) -> None:
    """Raise EventsMissing when an error answer of the events route means the route is missing, else
    the server's error: a 404 for a missing task names the task, a missing route's does not."""
    if response.status_code == 404:
        try:
            body = response.json()
        except ValueError:
            body = None
        msg = (body.get("msg") or body.get("detail")) if isinstance(body, dict) else None
        msg = msg.strip().lower() if isinstance(msg, str) else ""
        if not msg or msg.startswith("no such route") or msg.rstrip(".") == "not found":
            raise EventsMissing(response.request.url.path)
    check(response)


class Watch:
    """One task followed to its end, with a tqdm bar (on stderr unless ``file`` is given) when ``progress``."""

    def __init__(self, task_id: str, progress: bool = True, file: IO[str] | None = None) -> None:
        self.task_id = task_id
        self.via: str | None = None  # "events" or "polling": how the outcome arrived
        self.seen: list[tuple[float, str]] = []  # (progress, stage) updates, in order
        self._bar = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=100, desc=f"task {task_id[:8]}", unit="%", file=file, leave=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def on_event(self, event: Event) -> dict[str, Any] | None:
        """Feed one event; returns the succeeded task when the stream ends it (raises for failed/cancelled)."""
        if event.name == "progress":
            data = json.loads(event.data)
            self._show(float(data.get("progress") or 0.0), str(data.get("stage") or ""), data.get("eta_s"))
        elif event.name in FINAL:
            task = json.loads(event.data)
            task.setdefault("status", event.name)
            return self.finish(task, "events")
        return None

    def on_task(self, task: dict[str, Any]) -> dict[str, Any] | None:
        """Feed one polled task object; returns it once it has succeeded (raises for failed/cancelled)."""
        if task.get("status") in FINAL:
            return self.finish(task, "polling")
        self._show(float(task.get("progress") or 0.0), str(task.get("stage") or ""), None)
        return None

    def finish(self, task: dict[str, Any], via: str) -> dict[str, Any]:
        self.via = via
        status = task.get("status")
        if status == "succeeded":
            self._show(100.0, "done", None)
        self.close()
        if status == "cancelled":
            raise TaskCancelled(task)
        if status != "succeeded":
            raise TaskFailed(task)
        return task

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _show(self, percent: float, stage: str, eta_s: float | None) -> None:
        if self.seen and self.seen[-1] == (percent, stage):
            return
        self.seen.append((percent, stage))
        if self._bar is not None:
            self._bar.n = min(100.0, max(0.0, percent))
            self._bar.set_postfix_str(stage + (f", about {eta_s:.0f} s left" if eta_s else ""), refresh=False)
            self._bar.refresh()
