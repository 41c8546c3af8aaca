"""Shared fixtures: settings in a temporary data dir, an API client with fake engines, services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from digihuman.api.app import create_app
from digihuman.config import Settings
from digihuman.services import Services
from tests.support.live_server import run_queued as run_all
from tests.services import (  # noqa: F401
    postgres_server, postgres_url, redis_server, redis_url, s3_server, s3_storage_url)

API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


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
