"""What a job gets to work with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digihuman.progress import Progress
from digihuman.services import Services
from digihuman.tasks.store import TaskView


@dataclass(frozen=True)
class JobContext:
    """Everything a job may use; jobs know nothing of HTTP or the queue."""

    task: TaskView
    services: Services
    workdir: Path  # private scratch folder, removed after the job
    progress: Progress

    @property
    def inputs(self) -> dict[str, Any]:
        return self.task.inputs

    def input_path(self, key: str) -> Path:
        return self.services.storage.local_path(key)

    def store_output(self, name: str, path: Path) -> str:
        """Keep a finished file under the task's folder; returns its storage key."""
        key = f"tasks/{self.task.id}/{name}"
        self.services.storage.put_file(key, path)
        return key
