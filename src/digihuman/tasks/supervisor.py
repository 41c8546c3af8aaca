"""Keeps the embedded worker of `digihuman serve` running: restarts it if it dies, stops it on exit."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)
# A worker that dies is started again at once: queued tasks wait only for its start. One that dies again
# within SETTLED_S (a bad setting, a crash at start) waits restart_delay_s first, and twice as long each
# further time, up to MAX_RESTART_DELAY_S.
SETTLED_S = 30.0
MAX_RESTART_DELAY_S = 60.0


class WorkerSupervisor:
    """Runs `digihuman worker` as a child process group and restarts it when it exits unasked."""

    def __init__(self, workers: int, env: dict[str, str], kinds: str = "", restart_delay_s: float = 2.0) -> None:
        self.command = [sys.executable, "-m", "digihuman", "worker", "--workers", str(workers)]
        if kinds:
            self.command += ["--kinds", kinds]
        self.env, self.restart_delay_s = env, restart_delay_s
        self._started_at = 0.0
        self._lock = threading.Lock()  # a stop never misses a worker started at the same moment
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        # Its own process group, so that stopping it reaches the job processes huey forks.
        env = {**self.env, "DIGIHUMAN_SUPERVISOR_PID": str(os.getpid())}
        with self._lock:
            if self._stopping.is_set():
                return
            self._started_at = time.monotonic()
            self._process = subprocess.Popen(self.command, env=env, start_new_session=True)

    def _watch(self) -> None:
        quick_exits = 0
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            process.wait()  # seen as it happens, not at the next look
            if self._stopping.is_set():
                return
            quick_exits = quick_exits + 1 if time.monotonic() - self._started_at < SETTLED_S else 1
            delay = 0.0 if quick_exits == 1 else self.restart_delay_s * 2 ** (quick_exits - 2)
            delay = min(delay, MAX_RESTART_DELAY_S)
            log.error("embedded worker exited; restarting it",
                      extra={"returncode": process.returncode, "pid": process.pid, "delay_s": delay})
            if not self._stopping.wait(delay):
                self._spawn()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask huey to finish running tasks and stop; kill the group if it takes too long."""
        with self._lock:
            self._stopping.set()
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # unfinished tasks are retried by the reaper later
            process.wait()
