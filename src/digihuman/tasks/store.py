"""Task records and every state change they go through.

Each change is one conditional UPDATE, so that API servers, workers and reapers
on several machines can race without corrupting a task: whoever's condition
still holds wins, the others see ``rowcount == 0`` and step aside.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from digihuman.database import Database
from digihuman.errors import Conflict, NotFound
from digihuman.tasks.records import TaskRow, TaskStatus

ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value)


@dataclass(frozen=True)
class TaskView:
    """A snapshot of one task record."""

    id: str
    kind: str
    name: str
    owner: str | None
    status: TaskStatus
    progress: float
    stage: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error_code: int | None
    error_message: str | None
    attempts: int
    max_attempts: int
    timeout_s: float
    cancel_requested: bool
    worker: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None

    @classmethod
    def of(cls, row: TaskRow) -> TaskView:
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["status"] = TaskStatus(row.status)
        return cls(**values)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at


@dataclass(frozen=True)
class Reaped:
    """What a reaper pass did: tasks to put back on the queue, tasks it ended."""

    requeued: list[str]
    ended: list[str]


class TaskStore:
    """Creates, claims, updates and finishes task records."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        kind: str,
        inputs: dict[str, Any],
        *,
        owner: str | None,
        name: str = "",
        timeout_s: float,
        max_attempts: int,
        task_id: str | None = None,
    ) -> TaskView:
        now = time.time()
        row = TaskRow(
            id=task_id or uuid.uuid4().hex,
            kind=kind,
            name=name,
            owner=owner,
            status=TaskStatus.QUEUED.value,
            progress=0.0,
            stage="queued",
            inputs=inputs,
            outputs=None,
            attempts=0,
            max_attempts=max_attempts,
            timeout_s=timeout_s,
            cancel_requested=False,
            created_at=now,
            updated_at=now,
        )
        with self.db.transaction() as s:
            s.add(row)
            s.flush()
            return TaskView.of(row)

    def get(self, task_id: str, *, kinds: tuple[str, ...] | None = None) -> TaskView:
        with self.db.transaction() as s:
            row = s.get(TaskRow, task_id)
            if row is None or (kinds is not None and row.kind not in kinds):
                raise NotFound(f"task {task_id!r} does not exist.")
            return TaskView.of(row)

    def discard(self, task_id: str) -> None:
        """Remove a task that never reached the queue (refused right after creation)."""
        with self.db.transaction() as s:
            s.execute(delete(TaskRow).where(TaskRow.id == task_id, TaskRow.status == TaskStatus.QUEUED.value))

    def page(self, owner: str, *, status: str | None = None, kind: str | None = None, limit: int = 20,
             after: tuple[float, str] | None = None) -> list[TaskView]:
        """``owner``'s tasks, newest first, starting after the (created_at, id) of the last one seen."""
        query = select(TaskRow).where(TaskRow.owner == owner)
        if status is not None:
            query = query.where(TaskRow.status == status)
        if kind is not None:
            query = query.where(TaskRow.kind == kind)
        if after is not None:
            created, task_id = after
            query = query.where(or_(TaskRow.created_at < created,
                                    and_(TaskRow.created_at == created, TaskRow.id < task_id)))
        query = query.order_by(TaskRow.created_at.desc(), TaskRow.id.desc()).limit(limit)
        with self.db.transaction() as s:
            return [TaskView.of(row) for row in s.scalars(query)]

    def count_active(self, owner: str | None) -> int:
        with self.db.transaction() as s:
            query = select(func.count()).select_from(TaskRow).where(TaskRow.status.in_(ACTIVE))
            return s.scalar(query.where(TaskRow.owner == owner)) or 0

    def _update(self, task_id: str, *conditions: Any, **values: Any) -> bool:
        values.setdefault("updated_at", time.time())
        with self.db.transaction() as s:
            result = s.execute(update(TaskRow).where(TaskRow.id == task_id, *conditions).values(**values))
            return result.rowcount == 1

    def claim(self, task_id: str, worker: str) -> TaskView | None:
        """Move a queued task to running for ``worker``; None when it is not claimable."""
        now = time.time()
        won = self._update(
            task_id,
            TaskRow.status == TaskStatus.QUEUED.value,
            TaskRow.cancel_requested.is_(False),
            status=TaskStatus.RUNNING.value,
            attempts=TaskRow.attempts + 1,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            stage="starting",
        )
        return self.get(task_id) if won else None

    def heartbeat(
        self, task_id: str, worker: str, progress: float | None = None, stage: str | None = None
    ) -> bool:
        """Record liveness (and progress); returns whether a cancel was requested."""
        values: dict[str, Any] = {"heartbeat_at": time.time()}
        if progress is not None:
            values["progress"] = max(0.0, min(100.0, progress))
        if stage is not None:
            values["stage"] = stage[:200]
        self._update(task_id, TaskRow.worker == worker, TaskRow.status == TaskStatus.RUNNING.value, **values)
        with self.db.transaction() as s:
            return bool(s.scalar(select(TaskRow.cancel_requested).where(TaskRow.id == task_id)))

    def succeed(self, task_id: str, worker: str, outputs: dict[str, Any]) -> bool:
        now = time.time()
        return self._update(
            task_id,
            TaskRow.worker == worker,
            TaskRow.status == TaskStatus.RUNNING.value,
            status=TaskStatus.SUCCEEDED.value,
            outputs=outputs,
            progress=100.0,
            stage="done",
            finished_at=now,
        )

    def fail(self, task_id: str, code: int, message: str, *, worker: str | None = None) -> bool:
        """End a task as failed (or cancelled, for code 499) unless it already ended."""
        conditions = [TaskRow.status.in_(ACTIVE)]
        if worker is not None:
            conditions.append(TaskRow.worker == worker)
        status = TaskStatus.CANCELLED if code == 499 else TaskStatus.FAILED
        return self._update(
            task_id,
            *conditions,
            status=status.value,
            error_code=code,
            error_message=message,
            stage=status.value,
            finished_at=time.time(),
        )

    def request_cancel(self, task_id: str) -> TaskView:
        """Cancel a queued task at once; ask a running one to stop at its next progress report."""
        task = self.get(task_id)
        if task.status.final:
            raise Conflict(f"task {task_id} already ended as {task.status.value}; nothing to cancel.")
        self._update(task_id, TaskRow.status.in_(ACTIVE), cancel_requested=True)
        self._update(
            task_id,
            TaskRow.status == TaskStatus.QUEUED.value,
            status=TaskStatus.CANCELLED.value,
            error_code=499,
            error_message="cancelled by the user before it started.",
            stage="cancelled",
            finished_at=time.time(),
        )
        return self.get(task_id)

    def reap(self, stale_after_s: float, grace_s: float, dead_workers: Collection[str] = ()) -> Reaped:
        """Deal with running tasks whose worker went silent or that overran their time limit.

        A silent task with attempts left goes back to the queue; otherwise it fails
        with a message saying why, so nothing stays "running" forever. Tasks of
        ``dead_workers`` (worker names whose process is known to have died) count
        as silent at once.
        """
        now = time.time()
        requeued: list[str] = []
        ended: list[str] = []
        with self.db.transaction() as s:
            rows = s.execute(
                select(TaskRow.id, TaskRow.heartbeat_at, TaskRow.started_at, TaskRow.timeout_s,
                       TaskRow.attempts, TaskRow.max_attempts, TaskRow.cancel_requested, TaskRow.worker)
                .where(TaskRow.status == TaskStatus.RUNNING.value)
            ).all()
        for task_id, beat, started, timeout_s, attempts, max_attempts, cancelled, worker in rows:
            running = (TaskRow.status == TaskStatus.RUNNING.value, TaskRow.worker == worker)
            if started is not None and now > started + timeout_s + grace_s:
                if self.fail(task_id, 504, f"the task ran past its time limit of {timeout_s:g} s and was stopped.",
                             worker=worker):
                    ended.append(task_id)
                continue
            if beat is not None and now - beat < stale_after_s and worker not in dead_workers:
                continue
            if cancelled:
                if self.fail(task_id, 499, "cancelled by the user.", worker=worker):
                    ended.append(task_id)
            elif attempts < max_attempts:
                if self._update(task_id, *running, TaskRow.heartbeat_at == beat,
                                status=TaskStatus.QUEUED.value, worker=None,
                                stage=f"requeued: worker {worker} stopped responding (attempt {attempts} of {max_attempts})"):
                    requeued.append(task_id)
            elif self.fail(
                task_id, 500,
                f"the worker running this task stopped responding (attempt {attempts} of {max_attempts}); "
                "submit it again, and check the worker's logs if it keeps happening.",
                worker=worker,
            ):
                ended.append(task_id)
        return Reaped(requeued, ended)

    def queued_ids(self, updated_before: float | None = None) -> list[str]:
        """Queued tasks, oldest first; only those untouched since ``updated_before`` when given."""
        query = select(TaskRow.id).where(TaskRow.status == TaskStatus.QUEUED.value)
        if updated_before is not None:
            query = query.where(TaskRow.updated_at < updated_before)
        with self.db.transaction() as s:
            return list(s.scalars(query.order_by(TaskRow.created_at)))

    def touch(self, task_id: str, stage: str) -> None:
        self._update(task_id, TaskRow.status == TaskStatus.QUEUED.value, stage=stage)

    def expired(self, cutoff: float) -> list[str]:
        """Ended tasks finished before ``cutoff`` whose files are still kept."""
        with self.db.transaction() as s:
            return list(s.scalars(select(TaskRow.id).where(
                TaskRow.finished_at < cutoff, TaskRow.files_purged.is_(False))))

    def mark_purged(self, task_id: str) -> None:
        self._update(task_id, files_purged=True)

    def stats(self, owner: str | None = None) -> list[tuple[str, str, int, float]]:
        """(kind, status, count, summed run seconds) for every kind and status present; of ``owner``'s
        tasks only when given."""
        duration = func.coalesce(TaskRow.finished_at - TaskRow.started_at, 0.0)
        query = select(TaskRow.kind, TaskRow.status, func.count(), func.sum(duration))
        if owner is not None:
            query = query.where(TaskRow.owner == owner)
        with self.db.transaction() as s:
            rows = s.execute(query.group_by(TaskRow.kind, TaskRow.status)).all()
        return [(kind, status, int(n), float(total or 0.0)) for kind, status, n, total in rows]
