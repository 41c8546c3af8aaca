"""Talking-head routes end to end with the real engines, on short low-resolution real clips."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from digihuman.services import Services
from digihuman.tasks.worker import Worker
from tests.api.exchange import probe_url, upload
from tests.conftest import API_KEY
from tests.render.conftest import cut_video
from tests.shared_media import shared

pytestmark = pytest.mark.media


def run(services: Services, task_id: str) -> None:
    Worker(services).run(task_id)


def test_photo_says_text_with_a_stock_voice(real: tuple[TestClient, Services, Path]) -> None:
    client, services, root = real
    photo = upload(client, shared("image/p01_*"))
    created = client.post("/avatar/generation", json={
        "avatar_url": photo, "use_voice": {"voice_engine_id": "en-joe", "text": "Hello, welcome to the course."}})
    assert created.status_code == 200, created.text
    task_id = created.json()["data"]["id"]
    started = time.monotonic()
    run(services, task_id)
    status = client.get(f"/avatar/task/{task_id}").json()["data"]
    assert status["web_work_status"] == 200, status
    video = probe_url(client, status["work_video_path"], root / "photo.mp4", "video/mp4")
    assert video.has_audio and abs(video.duration_s - status["duration_s"]) < 0.1
    assert status["wm_work_video_path"] and status["work_webp_path"]
    assert time.monotonic() - started < 60


def test_train_an_avatar_then_render_fast(real: tuple[TestClient, Services, Path]) -> None:
    client, services, root = real
    clip = cut_video(shared("video/v01_*"), root / "v01_4s.mp4", 4.0)
    model = client.post("/agent_api.php", data={"act": "create_model_fast", "model_name": "anchor",
                                                "video_url": upload(client, clip)})
    assert model.status_code == 200, model.text
    model_id = model.json()["data"]["model"]["model_id"]
    run(services, services.catalog.avatar(model_id, services.keys.identify(API_KEY)).task_id)
    trained = client.post("/agent_api.php", data={"act": "chk_model_fast", "model_id": model_id}).json()["data"]
    assert trained["zstatus"] == 3 and trained["model_pic"], trained
    speech = cut_video(shared("video/v03_*"), root / "speech.mp4", 2.0)  # any speech: here another person's
    render = client.post("/agent_api.php", data={"act": "create_video_fast", "model_id": model_id,
                                                 "audio_url": upload(client, speech)})
    task_id = render.json()["data"]["task_id"]
    run(services, task_id)
    done = client.post("/agent_api.php", data={"act": "chk_video_fast", "task_id": task_id}).json()["data"]
    assert done["zstatus"] == 3, done
    video = probe_url(client, done["video_url"], root / "fast.mp4", "video/mp4")
    assert abs(video.duration_s - 2.0) < 0.1 and video.has_audio


def test_no_face_fails_the_task_with_422(real: tuple[TestClient, Services, Path]) -> None:
    client, services, root = real
    from tests.mediagen import make_png

    blank = upload(client, make_png(root / "blank.png", size=(256, 256)))
    created = client.post("/avatar/generation", json={
        "avatar_url": blank, "use_voice": {"voice_engine_id": "en-joe", "text": "Hello."}})
    task_id = created.json()["data"]["id"]
    run(services, task_id)
    status = client.get(f"/v1/tasks/{task_id}").json()["data"]
    assert status["status"] == "failed" and status["error"]["code"] == 422
    assert "no face found" in status["error"]["message"]
