"""Shared fixtures: settings in a temporary data dir, an API client with fake engines, services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from digihuman.api.app import create_app
from digihuman.config import Settings
from digihuman.services import Services
from digihuman.speech.asr.whisper_models import default_cache_dir
from tests.support.live_server import run_queued as run_all
from tests.services import (  # noqa: F401
    postgres_server, postgres_url, redis_server, redis_url, s3_server, s3_storage_url)

API_KEY = "test-key-0123456789"
# where the stock voices' analysed calibration frames are kept, as the server keeps them by default
STOCK_VOICE_FRAMES = default_cache_dir() / "stock-voices"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Test files in memory (tmpfs) where there is room: each test's data dir gets two new SQLite
    databases, whose creation syncs the disk about twenty times (~60 ms a test on a VM's disk, nothing
    in memory). Runs before pytest's own hook reads the option; test processes of -n inherit it."""
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    if config.option.basetemp or hasattr(config, "workerinput") or not os.access(shm, os.W_OK):
        return
    if shutil.disk_usage(shm).free < 8 << 30:  # the models copied by tests take a few GB at most
        return
    base = Path(tempfile.mkdtemp(prefix="digihuman-tests-", dir=shm))
    config.option.basetemp = str(base)
    config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))  # memory is not for keeping


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under ./run.sh test every engine, model and service is installed, so a skip (a missing engine,
    server or media folder) means a broken setup: it fails there instead of passing silently."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("DIGIHUMAN_REQUIRE_ENGINES") == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{reason}: ./run.sh test installs it, so it must not be skipped (DIGIHUMAN_REQUIRE_ENGINES=1)"


# Files that take longest (real engines, servers in subprocesses), longest first. The test processes take
# whole files in collection order, so these start at once instead of leaving one process busy at the end.
LONGEST_FIRST = (
    "remix/test_engine.py", "test_cli.py", "speech/test_voices.py", "tasks/test_workers.py",
    "api/test_real_voice.py", "speech/test_voice_samples.py", "fleet/test_fleet.py", "speech/test_asr.py",
    "api/test_chat_rewrite.py", "api/test_speech_once.py", "speech/test_align.py", "speech/test_tts.py",
    "text/test_llamacpp.py", "api/test_fish_sdk.py", "api/test_real_render.py", "api/test_remix_real.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0].removeprefix("tests/")
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: a file's tests keep their order


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "public_url": "http://testserver",
        "api_keys": [API_KEY],
        "allowed_hosts": ["127.0.0.1"],
        "engine_factory": "tests.fake_engines:build",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def services(settings: Settings) -> Services:
    return Services(settings)


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(settings, services, housekeeping=False), headers=AUTH) as c:
        yield c


@pytest.fixture
def run_queued(services: Services):  # type: ignore[no-untyped-def]
    """Run every queued task in this process, as a worker would; returns how many ran."""

    return lambda: run_all(services)
