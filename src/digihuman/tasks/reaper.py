"""Housekeeping that keeps the task system honest, run by every API server and worker.

Passes are idempotent and race-safe (see TaskStore), so running one per process
on many machines is fine: tasks whose worker died are re-queued or failed, and
files past the retention period are deleted.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Collection

from digihuman.config import Settings
from digihuman.services import Services
from digihuman.tasks.store import Reaped

log = logging.getLogger(__name__)
RETENTION_EVERY_S = 600.0


def reap_once(services: Services, dead_workers: Collection[str] = ()) -> Reaped:
    """Re-queue or fail tasks whose worker went silent (or is among ``dead_workers``, names of processes
    known to have died) or overran; returns what was done."""
    settings = services.settings.tasks
    # A stuck job gets a heartbeat interval of grace past its limit to stop by itself.
    reaped = services.tasks.reap(settings.stale_after_s, grace_s=settings.stale_after_s,
                                 dead_workers=dead_workers)
    for task_id in reaped.requeued:
        task = services.tasks.get(task_id)
        services.queue.submit(task_id, task.timeout_s, task.kind)
        log.warning("task re-queued after its worker stopped", extra={"task_id": task_id, "attempt": task.attempts})
    for task_id in reaped.ended:
        log.warning("task ended by the reaper", extra={"task_id": task_id})
    resubmit_lost(services)
    return reaped


def resubmit_lost(services: Services) -> list[str]:
    """Queue again tasks whose queue message was lost (a worker killed between taking and claiming it).

    The queue holds fewer messages than there are queued records only when some
    were lost; the oldest waiting records are then the likely ones. A duplicate
    message is harmless: only one claim of a task can win.
    """
    stale = services.settings.tasks.stale_after_s
    waiting = services.tasks.queued_ids(updated_before=time.time() - stale)
    if not waiting:
        return []
    missing = len(services.tasks.queued_ids()) - services.queue.depth()
    lost = waiting[: max(0, missing)]
    for task_id in lost:
        services.tasks.touch(task_id, "queued again: its queue message was lost")
        task = services.tasks.get(task_id)
        services.queue.submit(task_id, task.timeout_s, task.kind)
        log.warning("task queued again after its message was lost", extra={"task_id": task_id})
    return lost


def purge_expired(services: Services, now: float | None = None) -> int:
    """Delete files of tasks that ended before the retention period, and old uploads."""
    days = services.settings.tasks.retention_days
    if days <= 0:
        return 0
    cutoff = (now or time.time()) - days * 86400
    removed = 0
    for task_id in services.tasks.expired(cutoff):
        removed += services.storage.delete_prefix(f"tasks/{task_id}")
        services.tasks.mark_purged(task_id)
    for key in list(services.storage.iter_older_than("uploads", cutoff)):
        removed += services.storage.delete_prefix(key)
    # Scratch folders of workers killed mid-job.
    scratch = services.settings.data_dir / "tmp"
    for path in scratch.glob("*") if scratch.is_dir() else ():
        if path.stat().st_mtime < time.time() - 86400:
            shutil.rmtree(path, ignore_errors=True)
    return removed


class Reaper:
    """Runs reap passes every few seconds and retention passes every ten minutes."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="reaper", daemon=True)
        self._last_purge = 0.0

    def start(self) -> None:
        """Run in a thread of this process (the API server)."""
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run(self, alive: Callable[[], bool] = lambda: True) -> None:
        while alive() and not self._stop.wait(self.services.settings.tasks.reaper_interval_s):
            self.pass_once()

    def pass_once(self) -> None:
        try:
            reap_once(self.services)
            if time.monotonic() - self._last_purge > RETENTION_EVERY_S:
                self._last_purge = time.monotonic()
                if removed := purge_expired(self.services):
                    log.info("retention removed old files", extra={"files": removed})
        except Exception:  # keep reaping; the next pass retries
            log.exception("reaper pass failed")


def start_reaper_process(settings: Settings) -> multiprocessing.Process:
    """Run the reaper in a child process of a worker.

    The huey consumer forks its worker processes, also later to replace dead
    ones; a reaper thread in the consumer could hold a lock at that moment and
    deadlock the child, so it gets a process of its own, which ends with its parent.
    """
    parent = os.getpid()

    def target() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the consumer handles Ctrl-C; we follow our parent
        Reaper(Services(settings)).run(alive=lambda: os.getppid() == parent)

    process = multiprocessing.get_context("fork").Process(target=target, name="digihuman-reaper", daemon=True)
    process.start()
    return process
