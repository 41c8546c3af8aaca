"""What a job gets to work with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digihuman.progress import Progress
from digihuman.services import Services
from digihuman.tasks.store import TaskView
from digihuman.timings import StageTimings


@dataclass(frozen=True)
class JobContext:
    """Everything a job may use; jobs know nothing of HTTP or the queue."""

    task: TaskView
    services: Services
    workdir: Path  # private scratch folder, removed after the job
    progress: Progress
    timings: StageTimings = field(default_factory=StageTimings)  # where the task's time goes

    @property
    def inputs(self) -> dict[str, Any]:
        return self.task.inputs

    def input_path(self, key: str) -> Path:
        return self.services.storage.local_path(key)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Count the block's wall and CPU seconds to stage ``name`` of this task."""
        with self.timings.stage(name):
            yield

    def store_output(self, name: str, path: Path) -> str:
        """Keep a finished file under the task's folder; returns its storage key."""
        key = f"tasks/{self.task.id}/{name}"
        with self.stage("store"):
            self.services.storage.put_file(key, path)
        return key
