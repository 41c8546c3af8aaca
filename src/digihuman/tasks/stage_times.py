"""Stage times of ended tasks, kept per stage so that any API server can report them.

Workers are other processes (often other machines), so a histogram in a worker's memory would
never reach /metrics; the worker writes one row per stage when a task ends, and the API server
counts them into histogram buckets in SQL at scrape time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import case, func, select

from digihuman.database import Database
from digihuman.tasks.records import StageTimeRow

# Upper bounds (seconds) of the histogram buckets: stages run from milliseconds to many minutes.
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


@dataclass(frozen=True)
class StageHistogram:
    """Wall seconds of one (kind, stage) over ended tasks, bucketed; CPU seconds summed."""

    kind: str
    stage: str
    count: int
    wall_sum: float
    cpu_sum: float
    cumulative: tuple[int, ...]  # tasks with wall seconds <= each of BUCKETS


class StageTimes:
    """Writes and aggregates the stage rows of ended tasks."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, task_id: str, owner: str | None, kind: str, stages: dict[str, dict[str, float]]) -> None:
        now = time.time()
        rows = [StageTimeRow(task_id=task_id, owner=owner, kind=kind, stage=name[:60],
                             wall_s=float(value["wall_s"]), cpu_s=float(value["cpu_s"]), created_at=now)
                for name, value in stages.items()]
        with self.db.transaction() as s:
            s.add_all(rows)

    def histograms(self, owner: str | None = None) -> list[StageHistogram]:
        """One histogram per (kind, stage); of ``owner``'s tasks only when given."""
        wall = StageTimeRow.wall_s
        buckets = [func.sum(case((wall <= bound, 1), else_=0)) for bound in BUCKETS]
        query = select(StageTimeRow.kind, StageTimeRow.stage, func.count(), func.sum(wall),
                       func.sum(StageTimeRow.cpu_s), *buckets)
        if owner is not None:
            query = query.where(StageTimeRow.owner == owner)
        keys = (StageTimeRow.kind, StageTimeRow.stage)
        query = query.group_by(*keys).order_by(*keys)
        with self.db.transaction() as s:
            rows = s.execute(query).all()
        return [StageHistogram(kind, stage, int(n), float(w or 0.0), float(c or 0.0),
                               tuple(int(b or 0) for b in counts))
                for kind, stage, n, w, c, *counts in rows]
