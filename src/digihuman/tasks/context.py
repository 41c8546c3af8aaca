"""What a job gets to work with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from digihuman.progress import Progress
from digihuman.tasks.payloads import Payload
from digihuman.tasks.store import TaskView
from digihuman.timings import StageTimings

if TYPE_CHECKING:
    from digihuman.catalog import Catalog
    from digihuman.config import Settings
    from digihuman.engines import Engines
    from digihuman.storage import Storage

P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class JobContext(Generic[P]):
    """Everything a job may use; jobs know nothing of HTTP, the queue or the database beyond the catalog.

    ``payload`` is the task's inputs as the payload class of its kind (``JobContext[VoiceSayPayload]``).
    """

    task: TaskView
    payload: P  # what the task asks for, built from its stored inputs
    engines: Engines
    storage: Storage
    settings: Settings
    catalog: Catalog  # voice and avatar models: voice jobs record languages, speech looks models up
    workdir: Path  # private scratch folder, removed after the job
    progress: Progress
    timings: StageTimings = field(default_factory=StageTimings)  # where the task's time goes

    def __post_init__(self) -> None:
        if not isinstance(self.payload, Payload):
            raise TypeError(f"payload must be a Payload, not {type(self.payload).__name__}")

    def input_path(self, key: str) -> Path:
        return self.storage.local_path(key)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Count the block's wall and CPU seconds to stage ``name`` of this task."""
        with self.timings.stage(name):
            yield

    def store_output(self, name: str, path: Path) -> str:
        """Keep a finished file under the task's folder; returns its storage key."""
        key = f"tasks/{self.task.id}/{name}"
        with self.stage("store"):
            self.storage.put_file(key, path)
        return key
