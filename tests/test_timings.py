"""Stage timings: wall and CPU seconds per stage, nested exclusively, accumulated over calls."""

from __future__ import annotations

import time

import pytest

from digihuman.timings import StageTimings, current, stage


def spin(cpu_seconds: float) -> None:
    """Busy until this process has used ``cpu_seconds`` of CPU (however long a crowded machine takes)."""
    end = time.process_time() + cpu_seconds
    while time.process_time() < end:
        pass


def test_a_stage_counts_wall_and_cpu_seconds():
    """Run in a fresh process: CPU seconds are the process's, and a test process may still have other
    tests' threads at work."""
    import subprocess
    import sys

    code = "import tests.test_timings as t; t.check_wall_and_cpu_seconds()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def check_wall_and_cpu_seconds() -> None:
    timings = StageTimings()
    with timings.stage("compute"):
        spin(0.05)
    with timings.stage("wait"):
        time.sleep(0.05)
    got = timings.as_dict()
    assert list(got) == ["compute", "wait"]
    assert got["compute"]["cpu_s"] == pytest.approx(0.05, abs=0.01)  # busy: the CPU ran
    assert got["compute"]["wall_s"] >= got["compute"]["cpu_s"] - 0.002
    assert got["wait"]["wall_s"] >= 0.05 - 0.002
    assert got["wait"]["cpu_s"] < 0.02  # asleep: the CPU did not


def test_repeated_calls_accumulate_and_nested_stages_are_exclusive():
    timings = StageTimings()
    started = time.perf_counter()
    with timings.stage("render"):
        for _ in range(3):
            with timings.stage("encode"):
                time.sleep(0.02)
        time.sleep(0.03)
    elapsed = time.perf_counter() - started
    got = timings.as_dict()
    assert got["encode"]["calls"] == 3 and got["render"]["calls"] == 1
    assert got["encode"]["wall_s"] >= 0.06 - 0.002 and got["render"]["wall_s"] >= 0.03 - 0.002
    # the outer stage keeps only its own time: no second is counted twice, however busy the machine
    assert got["encode"]["wall_s"] + got["render"]["wall_s"] <= elapsed + 0.002


def test_module_stage_reports_to_the_active_timer_only():
    with stage("ignored"):  # no timer active: nothing is recorded anywhere, nothing fails
        pass
    assert current() is None
    timings = StageTimings()
    with timings.active():
        assert current() is timings
        with stage("decode"):
            time.sleep(0.01)
    assert current() is None
    assert set(timings.as_dict()) == {"decode"}


def test_a_failing_block_is_still_counted_and_merge_adds_earlier_parts():
    timings = StageTimings()
    with pytest.raises(ValueError), timings.stage("decode"):
        raise ValueError("bad frame")
    timings.merge({"download": {"wall_s": 1.5, "cpu_s": 0.25, "calls": 2},
                   "decode": {"wall_s": 1.0, "cpu_s": 0.5}})
    got = timings.as_dict()
    assert got["decode"]["calls"] == 2 and got["decode"]["wall_s"] >= 1.0
    assert got["download"] == {"wall_s": 1.5, "cpu_s": 0.25, "calls": 2}
