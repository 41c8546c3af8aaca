"""The task queue: huey, embedded on SQLite by default, on Redis across machines; one queue per worker group.

A queued message carries only a task id; everything else is in the task
record. Messages are written as JSON rather than huey's default pickle, so
nothing executable ever travels through the queue.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.registry import Message
from huey.serializer import Serializer
from huey.storage import BaseStorage, RedisStorage, SqliteStorage

from digihuman.config import Settings
from digihuman.tasks.kinds import GROUPS, group_of

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

    Each worker group (tasks/kinds.py) has its own queue, so render and speech workers
    scale apart; ``submit`` routes a task by its kind. ``groups`` are the queues this
    process consumes (all by default). Workers pass ``runner``, the function called with
    a task id; the API passes none and only submits.

    Messages queued before there were groups (and messages without a kind) sit in the
    common queue, which every worker also reads; the worker sends a task it does not
    serve on to its group's queue (``Worker.run``), so none is lost.
    """

    def __init__(self, settings: Settings, runner: Callable[[str], None] | None = None,
                 groups: Sequence[str] = GROUPS) -> None:
        self.groups = tuple(groups)
        common: dict[str, Any] = {"results": False, "serializer": JsonSerializer(), "utc": True}
        if settings.redis_url:
            self.huey: Huey = _GroupedRedisHuey(QUEUE_NAME, url=settings.redis_url, **common)
            pool = self.huey.storage.pool
            self._queues = {g: RedisStorage(_queue_name(g), blocking=False, connection_pool=pool)
                            for g in GROUPS}
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            filename = str(settings.data_dir / "queue.db")
            self.huey = _GroupedSqliteHuey(QUEUE_NAME, filename=filename, **common)
            self._queues = {g: SqliteStorage(_queue_name(g), filename=filename) for g in GROUPS}
        # The common queue first: its messages are the oldest.
        self.huey.consumed = [self.huey.storage, *(self._queues[g] for g in self.groups)]  # type: ignore[attr-defined]

        def run(task_id: str) -> None:
            if runner is None:
                raise RuntimeError("this process only submits tasks")
            runner(task_id)

        self._run = self.huey.task(name=TASK_NAME)(run)

    def submit(self, task_id: str, timeout_s: float, kind: str | None = None) -> None:
        """Queue a task record on its kind's queue; huey stops it (SIGALRM) past ``timeout_s``.

        Without a kind the message goes to the common queue, and the worker that takes it routes it.
        """
        storage = self._queues[group_of(kind)] if kind is not None else self.huey.storage
        message = self.huey.serialize_task(self._run.s(task_id, timeout=timeout_s))
        storage.enqueue(message, None)

    def depth(self) -> int:
        """Messages waiting in every queue (all groups, whoever consumes them)."""
        return self.huey.storage.queue_size() + sum(q.queue_size() for q in self._queues.values())

    def depths(self) -> dict[str, int]:
        """Messages waiting per group; ``common`` for the queue without a group."""
        return {"common": self.huey.storage.queue_size(), **{g: q.queue_size() for g, q in self._queues.items()}}


def _queue_name(group: str) -> str:
    return f"{QUEUE_NAME}.{group}"


class _GroupedDequeue:
    """Takes the next message from the consumed queues in turn, so a busy group cannot starve another."""

    consumed: list[BaseStorage]
    _turn = 0

    def dequeue(self) -> Any:
        queues = self.consumed
        for i in range(len(queues)):
            data = queues[(self._turn + i) % len(queues)].dequeue()
            if data is not None:
                self._turn = (self._turn + i + 1) % len(queues)
                return self.deserialize_task(data)  # type: ignore[attr-defined]
        return None


class _GroupedSqliteHuey(_GroupedDequeue, SqliteHuey):
    pass


class _GroupedRedisHuey(_GroupedDequeue, RedisHuey):
    def dequeue(self) -> Any:
        # One blocking BRPOP over every consumed list (rotated for fairness) instead of a poll per list.
        queues = self.consumed
        order = queues[self._turn:] + queues[:self._turn]
        self._turn = (self._turn + 1) % len(queues)
        try:
            popped = self.storage.conn.brpop([q.queue_key for q in order], timeout=1)  # type: ignore[attr-defined]
        except (TimeoutError, TypeError, IndexError):
            return None
        return self.deserialize_task(popped[1]) if popped else None
