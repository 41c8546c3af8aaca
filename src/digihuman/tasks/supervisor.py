"""Keeps the embedded worker of `digihuman serve` running: restarts it if it dies, stops it on exit."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

log = logging.getLogger(__name__)


class WorkerSupervisor:
    """Runs `digihuman worker` as a child process group and restarts it when it exits unasked."""

    def __init__(self, workers: int, env: dict[str, str], kinds: str = "", restart_delay_s: float = 2.0) -> None:
        self.command = [sys.executable, "-m", "digihuman", "worker", "--workers", str(workers)]
        if kinds:
            self.command += ["--kinds", kinds]
        self.env, self.restart_delay_s = env, restart_delay_s
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        # Its own process group, so that stopping it reaches the job processes huey forks.
        env = {**self.env, "DIGIHUMAN_SUPERVISOR_PID": str(os.getpid())}
        self._process = subprocess.Popen(self.command, env=env, start_new_session=True)

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            process = self._process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                log.error("embedded worker exited; restarting it",
                          extra={"returncode": process.returncode, "pid": process.pid})
                if not self._stopping.wait(self.restart_delay_s):
                    self._spawn()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask huey to finish running tasks and stop; kill the group if it takes too long."""
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
