"""The embedded worker's supervisor: a dead worker is started again at once, a crash loop backs off."""

from __future__ import annotations

import sys
import time

from digihuman.tasks.supervisor import WorkerSupervisor


def test_a_dead_worker_restarts_at_once_and_a_crash_loop_waits_longer_each_time(tmp_path) -> None:
    starts = tmp_path / "starts"
    supervisor = WorkerSupervisor(1, {}, restart_delay_s=0.4)
    # Stands in for a worker that fails as it starts: notes the time, then exits.
    note = f"import time; open({str(starts)!r}, 'a').write(f'{{time.time()}}\\n'); raise SystemExit(3)"
    supervisor.command = [sys.executable, "-c", note]
    supervisor.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not starts.exists() or len(starts.read_text().split()) < 4):
        time.sleep(0.05)
    supervisor.stop()
    times = [float(t) for t in starts.read_text().split()]
    assert len(times) >= 4, times
    gaps = [b - a for a, b in zip(times, times[1:])]
    # a process start each (0.02-0.2 s, by the machine's load), plus no wait after the first exit, then
    # 0.4 s, then 0.8 s: the waits are bounds below; the starts vary too much to subtract
    assert gaps[0] < gaps[1] and gaps[1] >= 0.4 and gaps[2] >= 0.8, gaps
    time.sleep(1.0)
    assert len(starts.read_text().split()) == len(times), "no worker may start after the stop"
