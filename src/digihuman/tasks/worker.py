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

from digihuman.engines import Engines
from digihuman.errors import DigihumanError, NotFound, TaskCancelled, TaskTimedOut
from digihuman.progress import Progress
from digihuman.services import Services
from digihuman.tasks.context import JobContext
from digihuman.tasks.jobs import JOBS, PAYLOADS
from digihuman.tasks.kinds import KIND_GROUPS
from digihuman.tasks.payloads import INTAKE_TIMINGS, Payload
from digihuman.tasks.stage_times import StageTimes
from digihuman.tasks.store import TaskStore, TaskView
from digihuman.timings import StageTimings

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


def worker_name(pid: int) -> str:
    """How the job process ``pid`` of this machine signs the tasks it runs."""
    return f"{socket.gethostname()}:{pid}"


class Worker:
    """Executes task records by id; one instance per worker process."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def name(self) -> str:
        # Computed per call: huey forks worker processes after this object is made.
        return worker_name(os.getpid())

    def run(self, task_id: str) -> None:
        store, worker = self.services.tasks, self.name
        if self._route_elsewhere(task_id):
            return
        task = store.claim(task_id, worker)
        if task is None:
            log.info("task not claimable (ended, cancelled or taken)", extra={"task_id": task_id})
            return
        extra = {"task_id": task.id, "kind": task.kind, "attempt": task.attempts}
        log.info("task started", extra=extra)
        job, payload_class = JOBS.get(task.kind), PAYLOADS.get(task.kind)
        if job is None or payload_class is None:
            store.fail(task.id, 500, f"this worker does not know task kind {task.kind!r}; update it.", worker=worker)
            return
        try:
            payload = payload_class.from_json({k: v for k, v in task.inputs.items() if k != INTAKE_TIMINGS})
        except DigihumanError as e:
            # A row written by another version that this one cannot read: say so rather than guess.
            store.fail(task.id, 500, f"this task cannot run on this server: {e.message.rstrip('.')}; submit it again.",
                       worker=worker)
            log.warning("task inputs unreadable", extra={**extra, "error": e.message})
            return
        try:
            engines = self.services.engines  # built on first use: a bad engine setting fails this task
        except DigihumanError as e:
            store.fail(task.id, e.status, e.message, worker=worker)
            return
        scratch = self.services.settings.data_dir / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        settings = self.services.settings.tasks
        with tempfile.TemporaryDirectory(dir=scratch) as tmp, Heartbeat(store, task, worker, settings.heartbeat_s) as beat:
            ctx = self._context(task, payload, engines, Path(tmp), beat.report)
            ctx.timings.merge(task.inputs.get(INTAKE_TIMINGS) or {})  # timed by the API server
            try:
                # "other": the job's time outside every named stage
                with ctx.timings.active(), ctx.timings.stage("other"):
                    outputs = job(ctx)
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
                outputs = {**outputs, "timings": _with_total(ctx.timings)}
                store.succeed(task.id, worker, outputs)
                log.info("task succeeded", extra=extra)
            finally:
                self._record_stages(task, ctx.timings)

    def _route_elsewhere(self, task_id: str) -> bool:
        """Send a task of a group this worker does not serve on to that group's queue, unclaimed.

        Only messages from the common queue (queued before there were groups) can be such tasks.
        """
        queue = self.services.queue
        try:
            task = self.services.tasks.get(task_id)
        except NotFound:
            return False  # claim() below says so in the log
        group = KIND_GROUPS.get(task.kind)
        if group is None or group in queue.groups:
            return False
        queue.submit(task.id, task.timeout_s, task.kind)
        log.info("task sent on to its group's queue", extra={"task_id": task.id, "kind": task.kind, "group": group})
        return True

    def _context(self, task: TaskView, payload: Payload, engines: Engines, workdir: Path,
                 progress: Progress) -> JobContext[Payload]:
        """Only what jobs use: engines, storage, settings and the model catalog, not the whole process."""
        s = self.services
        return JobContext(task=task, payload=payload, engines=engines, storage=s.storage, settings=s.settings,
                          catalog=s.catalog, workdir=workdir, progress=progress)

    def _record_stages(self, task: TaskView, timings: StageTimings) -> None:
        try:
            StageTimes(self.services.db).record(task.id, task.owner, task.kind, _with_total(timings))
        except Exception:  # the task's outcome is recorded already; its profile is not worth failing it
            log.warning("stage times not recorded", extra={"task_id": task.id}, exc_info=True)


def _with_total(timings: StageTimings) -> dict[str, dict[str, float]]:
    stages = timings.as_dict()
    total = {"wall_s": round(sum(v["wall_s"] for v in stages.values()), 4),
             "cpu_s": round(sum(v["cpu_s"] for v in stages.values()), 4), "calls": 1}
    return {**stages, "total": total}
