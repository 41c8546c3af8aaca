"""A real avatar model trained once on a short clip of real footage, installed as a key's trained
avatar; servers with the phone-reporting test voice."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from digihuman.config import Settings
from digihuman.pipelines.avatar import avatar_model_prefix
from digihuman.services import Services
from digihuman.tasks.payloads import AVATAR_TRAIN
from digihuman.tasks.records import TaskRow, TaskStatus
from tests.conftest import API_KEY, make_settings

LIVE_SIZE = 160  # long side of the test streams: small keeps each test to seconds


@pytest.fixture(scope="session")
def avatar_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from digihuman.render.avatar import train_avatar
    from tests.render.conftest import cut_video
    from tests.shared_media import shared

    root = tmp_path_factory.mktemp("live-avatar")
    clip = cut_video(shared("video/v01*.mp4"), root / "v01_3s5.mp4", 3.5)
    train_avatar(clip, root / "model")
    return root / "model"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", engine_factory="tests.live.engines:build",
                         live={"max_sessions_per_key": 2, "idle_timeout_s": 300.0})


def install_avatar(services: Services, folder: Path, key: str = API_KEY) -> str:
    """Store ``folder`` as a trained avatar model of ``key``; returns its model_id."""
    owner = services.keys.identify(key)
    assert owner is not None
    model = services.catalog.create_avatar(owner, "live test")
    services.storage.put_dir(avatar_model_prefix(model.id), folder)
    # Its training task is written already finished, in one step: a queued one would be taken by the
    # server's worker thread, which would fail it for lacking a training request.
    now = time.time()
    task = TaskRow(id=uuid.uuid4().hex, kind=AVATAR_TRAIN, owner=owner, status=TaskStatus.SUCCEEDED.value,
                   progress=100.0, stage="done", inputs={}, outputs={"avatar_model_id": model.id}, attempts=1,
                   max_attempts=1, timeout_s=60, worker="test", created_at=now, updated_at=now, started_at=now,
                   finished_at=now)
    with services.tasks.db.transaction() as s:
        s.add(task)
    services.catalog.set_avatar_task(model.id, task.id)
    return model.id


@pytest.fixture
def avatar_id(services: Services, avatar_folder: Path) -> str:
    return install_avatar(services, avatar_folder)
