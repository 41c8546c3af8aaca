"""How engines report progress: a percentage and a short stage text."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called by engines as work advances; may raise to stop the work (cancel, time limit)."""

    def __call__(self, percent: float, stage: str) -> None: ...


def no_progress(percent: float, stage: str) -> None:
    """A Progress that ignores reports, for callers that do not track them."""


def scaled(progress: Progress, start: float, end: float) -> Progress:
    """Map an engine's 0-100 onto ``start``-``end`` of a larger job's progress."""

    def report(percent: float, stage: str) -> None:
        progress(start + (end - start) * max(0.0, min(100.0, percent)) / 100.0, stage)

    return report
