"""Real worker processes (`digihuman worker`) on the embedded queue and on Redis.

Tasks are submitted the way the API does (record + queue message); workers run
the fake engines. Covered: load sharing, kill -9 mid-task, restarts with queued
work, cancellation and time limits of running tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from digihuman.api.submit import submit
from digihuman.config import Settings
from digihuman.services import Services
from digihuman.tasks.jobs import AVATAR_GENERATE
from digihuman.tasks.payloads import AvatarGeneratePayload, UseVoice
from digihuman.tasks.records import TaskStatus
from digihuman.tasks.store import TaskView
from tests.conftest import make_settings
from tests.mediagen import make_png

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
# 3 s of silence before a task counts as lost: a retried job process on a busy machine can take 2 s to
# start beating, and a shorter window then fails the retry as well.
FAST_LIFECYCLE = {"heartbeat_s": 0.3, "stale_after_s": 3.0, "reaper_interval_s": 0.5}


class Workers:
    """Starts and stops `digihuman worker` processes for one data dir and queue."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings, self.log_dir = settings, log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, workers: int = 1, **env: str) -> subprocess.Popen[bytes]:
        environ = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "DIGIHUMAN_DATA_DIR": str(self.settings.data_dir),
            "DIGIHUMAN_PUBLIC_URL": self.settings.public_url,
            "DIGIHUMAN_ENGINE_FACTORY": "tests.fake_engines:build",
            "DIGIHUMAN_LOG_LEVEL": "INFO",
            **{f"DIGIHUMAN_TASKS__{k.upper()}": str(v) for k, v in self.settings.tasks.model_dump().items()},
            **env,
        }
        if self.settings.redis_url:
            environ["DIGIHUMAN_REDIS_URL"] = self.settings.redis_url
        log = (self.log_dir / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "digihuman", "worker", "--workers", str(workers)],
                                env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("worker-*.log")))


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    overrides: dict[str, object] = {"tasks": FAST_LIFECYCLE}
    if request.param == "redis":
        overrides["redis_url"] = request.getfixturevalue("redis_url")
    return make_settings(tmp_path / "data", **overrides)


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(settings, tmp_path)
    yield pool
    pool.stop_all()


def speak_task(services: Services, text: str = "hello there") -> TaskView:
    """A render of a stored picture saying ``text``; the fake renderer sleeps DIGIHUMAN_FAKE_DELAY_S."""
    scratch = services.settings.data_dir / "inputs"
    scratch.mkdir(parents=True, exist_ok=True)
    with make_png(scratch / "face.png").open("rb") as picture:
        avatar = services.intake.take_upload(picture, "avatar", "image")
    payload = AvatarGeneratePayload(avatar_key=avatar.key, use_voice=UseVoice("fake-en", text))
    return submit(services, "owner", payload)


def wait_for(check: Callable[[], bool], what: str, workers: Workers, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}\n--- worker logs ---\n{workers.logs()}")


def final(services: Services, task_id: str) -> bool:
    return services.tasks.get(task_id).status.final


def test_two_worker_processes_share_the_load(settings: Settings, workers: Workers) -> None:
    services = Services(settings)
    # 0.3 s per job step (two steps a task): long enough that neither process drains the queue alone
    workers.start(DIGIHUMAN_FAKE_DELAY_S="0.3")
    workers.start(DIGIHUMAN_FAKE_DELAY_S="0.3")
    wait_for(lambda: workers.logs().count('"worker started"') == 2, "both workers to start", workers)
    tasks = [speak_task(services, f"sentence {i}") for i in range(8)]
    wait_for(lambda: all(final(services, t.id) for t in tasks), "all tasks to finish", workers, 60)
    done = [services.tasks.get(t.id) for t in tasks]
    assert all(t.status is TaskStatus.SUCCEEDED for t in done), [t.error_message for t in done]
    assert len({t.worker for t in done}) == 2, "both worker processes should have run tasks"
    assert all(services.storage.exists(t.outputs["video"]) for t in done)


def test_worker_killed_mid_task_is_retried_at_once(settings: Settings, workers: Workers) -> None:
    # A minute of silence before a task counts as lost: only the consumer, which sees its job process die
    # (every 2 s), can retry the task within the wait below.
    lifecycle = settings.tasks.model_copy(update={"stale_after_s": 60.0})
    settings = settings.model_copy(update={"tasks": lifecycle})
    services = Services(settings)
    workers.settings = settings
    # 1 s per job step (two steps a task): the kill lands within the first one, and the retry is not long
    workers.start(DIGIHUMAN_FAKE_DELAY_S="1.0")
    task = speak_task(services)
    wait_for(lambda: services.tasks.get(task.id).status is TaskStatus.RUNNING, "the task to start", workers)
    pid = int(services.tasks.get(task.id).worker.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)  # the process running the job; its consumer survives and replaces it
    wait_for(lambda: final(services, task.id), "the retried task to finish", workers, 30)
    done = services.tasks.get(task.id)
    assert done.status is TaskStatus.SUCCEEDED, done.error_message
    assert done.attempts == 2
    assert done.worker != f"{done.worker.rsplit(':', 1)[0]}:{pid}"


def test_whole_worker_killed_with_no_attempts_left_fails_visibly(settings: Settings, workers: Workers) -> None:
    settings = settings.model_copy(update={"tasks": settings.tasks.model_copy(update={"max_attempts": 1})})
    services = Services(settings)
    workers.settings = settings
    doomed = workers.start(DIGIHUMAN_FAKE_DELAY_S="5")
    task = speak_task(services)
    wait_for(lambda: services.tasks.get(task.id).status is TaskStatus.RUNNING, "the task to start", workers)
    os.killpg(doomed.pid, signal.SIGKILL)  # consumer, job process and reaper all gone
    workers.start()  # another worker's reaper notices the silence
    wait_for(lambda: final(services, task.id), "the task to be failed", workers)
    dead = services.tasks.get(task.id)
    assert dead.status is TaskStatus.FAILED and dead.error_code == 500
    assert "stopped responding" in dead.error_message and "attempt 1 of 1" in dead.error_message


def test_queued_tasks_survive_restarts(settings: Settings, workers: Workers) -> None:
    # Submitted while no worker runs, by a server object that then goes away.
    tasks = [speak_task(Services(settings), f"queued {i}") for i in range(3)]
    first = workers.start()
    os.killpg(first.pid, signal.SIGKILL)  # may have taken nothing, or one; either way nothing is lost
    services = Services(settings)  # as after a server restart
    workers.start()
    wait_for(lambda: all(final(services, t.id) for t in tasks), "queued tasks to finish", workers, 60)
    assert [services.tasks.get(t.id).status for t in tasks] == [TaskStatus.SUCCEEDED] * 3


def test_running_task_can_be_cancelled(settings: Settings, workers: Workers) -> None:
    services = Services(settings)
    workers.start(DIGIHUMAN_FAKE_DELAY_S="20")
    task = speak_task(services)
    wait_for(lambda: services.tasks.get(task.id).status is TaskStatus.RUNNING, "the task to start", workers)
    started = time.monotonic()
    services.tasks.request_cancel(task.id)
    wait_for(lambda: final(services, task.id), "the cancel to take effect", workers)
    assert time.monotonic() - started < 5
    ended = services.tasks.get(task.id)
    assert ended.status is TaskStatus.CANCELLED and ended.error_code == 499


def test_task_past_its_time_limit_is_stopped(settings: Settings, workers: Workers) -> None:
    settings = settings.model_copy(update={"tasks": settings.tasks.model_copy(update={"timeout_s": 1.0})})
    services = Services(settings)
    workers.settings = settings
    workers.start(DIGIHUMAN_FAKE_DELAY_S="20")
    task = speak_task(services, "slow")
    wait_for(lambda: final(services, task.id), "the time limit", workers)
    ended = services.tasks.get(task.id)
    assert ended.status is TaskStatus.FAILED and ended.error_code == 504
    assert "time limit of 1 s" in ended.error_message
