"""Video remix through the API with the real engines (recogniser, voices, talking head), on a short real clip."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from digihuman.services import Services
from digihuman.tasks.worker import Worker
from tests.api.exchange import assert_ok, probe_url, upload
from tests.render.conftest import cut_video
from tests.shared_media import shared

pytestmark = pytest.mark.media


def remix_done(client: TestClient, services: Services, body: dict) -> dict:
    task_id = assert_ok(client.post("/generate_video", json=body))["task_id"]
    Worker(services).run(task_id)
    done = assert_ok(client.get(f"/query_video/{task_id}"))
    assert done["status"] == "completed", done["error_message"]
    return done


def test_subtitles_captions_transforms_and_music(real: tuple[TestClient, Services, Path]) -> None:
    client, services, root = real
    clip = upload(client, cut_video(shared("video/v01_*"), root / "v01.mp4", 4.0))
    music = upload(client, shared("audio/a03_*"))
    done = remix_done(client, services, {
        "video_url": clip, "text_content": "My biggest weakness is asking for help.",
        "custom_floating_text": ["面试{技巧}", "Tip {1}"],
        "transforms": {"mirror": True, "speed": 1.25, "aspect": "9:16", "color": {"warmth": 0.3},
                       "music_url": music, "music_volume": 0.2},
        "subtitle_style": {"size": 16, "highlight_color": "#FF4040"}})
    video = probe_url(client, done["result_urls"]["public_url"], root / "r.mp4", "video/mp4")
    assert video.has_audio and abs(video.duration_s - 4.0 / 1.25) < 0.1
    assert (video.width, video.height) == (144, 256)


def test_redub_with_a_stock_voice(real: tuple[TestClient, Services, Path]) -> None:
    client, services, root = real
    clip = upload(client, cut_video(shared("video/v03_*"), root / "v03.mp4", 4.0))
    done = remix_done(client, services, {"video_url": clip, "voice": "en-joe",
                                         "text_content": "Welcome to our new kitchen show."})
    path = root / "redub.mp4"
    video = probe_url(client, done["result_urls"]["public_url"], path, "video/mp4")
    assert video.has_audio and 1.0 < video.duration_s < 3.0  # as long as the new speech, not the 4 s clip
    heard = services.engines.require_asr().transcribe(path, language="en").text.lower()
    assert "kitchen" in heard and "welcome" in heard, heard
