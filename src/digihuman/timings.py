"""Where a task's time goes: wall and CPU seconds per named stage.

A job runs inside :meth:`StageTimings.active`; any code below it (pipelines, engines, the
renderer's streaming loop) marks its work with ``with stage("encode"):``. Outside an active
timer ``stage`` does nothing, so engines time themselves without knowing about tasks.

Stages nest exclusively: time spent in an inner stage is taken out of the outer one, so the
stages of a task add up to at most its total and no second is counted twice. A stage entered
many times (a frame loop's decode, composite and encode) accumulates over its calls.

CPU seconds are the process's (``time.process_time``: every thread, including the encoder's
and the BLAS pools'); workers run one task per process, so they are the task's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

_current: ContextVar[StageTimings | None] = ContextVar("digihuman_stage_timings", default=None)


@dataclass
class StageTotal:
    """Accumulated seconds of one stage."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    calls: int = 0


class StageTimings:
    """Wall and CPU seconds per stage of one task (or one request)."""

    def __init__(self) -> None:
        self.stages: dict[str, StageTotal] = {}
        # open stages, innermost last: [name, wall at entry, cpu at entry, inner wall, inner cpu]
        self._open: list[list[Any]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Count the time inside the block to ``name`` (less any stage nested in it)."""
        entry = [name, time.perf_counter(), time.process_time(), 0.0, 0.0]
        self._open.append(entry)
        try:
            yield
        finally:
            self._open.pop()
            wall = time.perf_counter() - entry[1]
            cpu = time.process_time() - entry[2]
            self.add(name, wall - entry[3], cpu - entry[4])
            if self._open:
                self._open[-1][3] += wall
                self._open[-1][4] += cpu

    def add(self, name: str, wall_s: float, cpu_s: float, calls: int = 1) -> None:
        total = self.stages.setdefault(name, StageTotal())
        total.wall_s += max(0.0, wall_s)
        total.cpu_s += max(0.0, cpu_s)
        total.calls += calls

    def merge(self, other: dict[str, dict[str, float]]) -> None:
        """Add the stages of an earlier part of the same task (e.g. the intake, timed by the API)."""
        for name, value in other.items():
            self.add(name, float(value.get("wall_s", 0.0)), float(value.get("cpu_s", 0.0)),
                     int(value.get("calls", 1)))

    def as_dict(self) -> dict[str, dict[str, float]]:
        """{stage: {"wall_s", "cpu_s", "calls"}}, in the order the stages first ran."""
        return {name: {"wall_s": round(t.wall_s, 4), "cpu_s": round(t.cpu_s, 4), "calls": t.calls}
                for name, t in self.stages.items()}

    @contextmanager
    def active(self) -> Iterator[StageTimings]:
        """Make this the timer that :func:`stage` reports to, within the block."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)


def current() -> StageTimings | None:
    """The active timer, if any."""
    return _current.get()


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Count the block to stage ``name`` of the active timer; nothing when none is active."""
    timings = _current.get()
    if timings is None:
        yield
        return
    with timings.stage(name):
        yield
