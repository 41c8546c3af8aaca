"""The task queue: huey, embedded on SQLite by default, on Redis across machines.

A queued message carries only a task id; everything else is in the task
record. Messages are written as JSON rather than huey's default pickle, so
nothing executable ever travels through the queue.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.registry import Message
from huey.serializer import Serializer

from digihuman.config import Settings

QUEUE_NAME = "digihuman"
TASK_NAME = "digihuman.run"


class JsonSerializer(Serializer):
    """Huey's message tuples (and revoke records) as JSON; datetimes tagged."""

    def _serialize(self, data: Any) -> bytes:
        return json.dumps(_encode(data), separators=(",", ":")).encode()

    def _deserialize(self, data: bytes) -> Any:
        return _decode(json.loads(data))


def _encode(value: Any) -> Any:
    if isinstance(value, Message):
        return {"$msg": [_encode(v) for v in value]}
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"queue messages carry plain data only, not {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$msg" in value:
            return Message(*(_decode(v) for v in value["$msg"]))
        if "$dt" in value:
            return dt.datetime.fromisoformat(value["$dt"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class TaskQueue:
    """The huey instance for these settings, with the one task that runs a task record.

    Workers pass ``runner``, the function called with a task id; the API passes
    none and only submits.
    """

    def __init__(self, settings: Settings, runner: Callable[[str], None] | None = None) -> None:
        common: dict[str, Any] = {"results": False, "serializer": JsonSerializer(), "utc": True}
        if settings.redis_url:
            self.huey: Huey = RedisHuey(QUEUE_NAME, url=settings.redis_url, **common)
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(QUEUE_NAME, filename=str(settings.data_dir / "queue.db"), **common)

        def run(task_id: str) -> None:
            if runner is None:
                raise RuntimeError("this process only submits tasks")
            runner(task_id)

        self._run = self.huey.task(name=TASK_NAME)(run)

    def submit(self, task_id: str, timeout_s: float) -> None:
        """Queue a task record for a worker; huey stops it (SIGALRM) past ``timeout_s``."""
        self.huey.enqueue(self._run.s(task_id, timeout=timeout_s))

    def depth(self) -> int:
        return self.huey.pending_count()
