"""Running one task record: claim it, run its job with a heartbeat, record the outcome.

The heartbeat thread proves the worker alive (a reaper re-queues or fails tasks
whose worker went silent, e.g. after kill -9), writes progress, and picks up
cancel requests; the job sees those when it next reports progress.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from huey.exceptions import TaskTimeout

from digihuman.errors import DigihumanError, TaskCancelled, TaskTimedOut
from digihuman.services import Services
from digihuman.tasks.context import JobContext
from digihuman.tasks.jobs import JOBS
from digihuman.tasks.store import TaskStore, TaskView

log = logging.getLogger(__name__)


class Heartbeat:
    """Reports liveness and progress of one running task from a side thread."""

    def __init__(self, store: TaskStore, task: TaskView, worker: str, interval_s: float) -> None:
        self.store, self.task, self.worker, self.interval_s = store, task, worker, interval_s
        self.percent, self.stage = 0.0, "starting"
        self.deadline = time.monotonic() + task.timeout_s
        self._cancelled = threading.Event()
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{task.id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._changed.set()
        self._thread.join(timeout=10)

    def report(self, percent: float, stage: str) -> None:
        """The Progress given to jobs: records, and stops the job when cancelled or overdue."""
        self.percent, self.stage = percent, stage
        self._changed.set()
        if self._cancelled.is_set():
            raise TaskCancelled("cancelled by the user.")
        if time.monotonic() > self.deadline:
            raise TaskTimedOut(f"the task ran past its time limit of {self.task.timeout_s:g} s and was stopped.")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.store.heartbeat(self.task.id, self.worker, self.percent, self.stage):
                    self._cancelled.set()
            except Exception:  # a database hiccup must not kill the job; the next beat retries
                log.warning("heartbeat failed", extra={"task_id": self.task.id}, exc_info=True)
            self._changed.wait(self.interval_s)
            self._changed.clear()
            # Progress writes are throttled; liveness needs only one beat per interval.
            self._stop.wait(min(0.5, self.interval_s))


class Worker:
    """Executes task records by id; one instance per worker process."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def name(self) -> str:
        # Computed per call: huey forks worker processes after this object is made.
        return f"{socket.gethostname()}:{os.getpid()}"

    def run(self, task_id: str) -> None:
        store, worker = self.services.tasks, self.name
        task = store.claim(task_id, worker)
        if task is None:
            log.info("task not claimable (ended, cancelled or taken)", extra={"task_id": task_id})
            return
        extra = {"task_id": task.id, "kind": task.kind, "attempt": task.attempts}
        log.info("task started", extra=extra)
        job = JOBS.get(task.kind)
        if job is None:
            store.fail(task.id, 500, f"this worker does not know task kind {task.kind!r}; update it.", worker=worker)
            return
        scratch = self.services.settings.data_dir / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        settings = self.services.settings.tasks
        with tempfile.TemporaryDirectory(dir=scratch) as tmp, Heartbeat(store, task, worker, settings.heartbeat_s) as beat:
            try:
                outputs = job(JobContext(task, self.services, Path(tmp), beat.report))
            except TaskTimeout:
                store.fail(task.id, 504, f"the task ran past its time limit of {task.timeout_s:g} s and was stopped.",
                           worker=worker)
            except DigihumanError as e:
                store.fail(task.id, e.status, e.message, worker=worker)
                log.info("task failed", extra={**extra, "code": e.status, "error": e.message})
            except Exception as e:
                log.exception("task crashed", extra=extra)
                store.fail(task.id, 500, f"internal error while {beat.stage}: {type(e).__name__}: {e}",
                           worker=worker)
            else:
                store.succeed(task.id, worker, outputs)
                log.info("task succeeded", extra=extra)
