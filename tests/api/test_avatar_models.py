"""Video avatars trained once per content and owner; GET/DELETE /v1/avatars; resolution; stage times."""

from __future__ import annotations

import re

import pytest

from tests.api.exchange import OTHER, assert_error, assert_ok, upload


def generate(client, **body):
    return client.post("/avatar/generation", json=body)


def task(client, task_id):
    return assert_ok(client.get(f"/v1/tasks/{task_id}"))


def generate_video(client, run_queued, avatar_url, audio_url, **kw):
    task_id = assert_ok(generate(client, avatar_url=avatar_url, audio_url=audio_url, **kw))["id"]
    assert run_queued() == 1
    done = task(client, task_id)
    assert done["status"] == "succeeded", done["error"]
    return done


def test_the_same_video_is_trained_once_then_reused(client, run_queued, media):
    first = generate_video(client, run_queued, media.url("talk5.mp4"), media.url("speech.wav"), work_name="me")
    assert first["outputs"]["avatar_trained"] is True
    assert "training" in first["outputs"]["timings"]
    model_id = first["outputs"]["avatar_model_id"]

    # the same bytes under another URL (an upload) are the same video
    video = upload(client, media.root / "talk5.mp4", "again.mp4")
    second = generate_video(client, run_queued, video, media.url("speech.wav"))
    assert second["outputs"]["avatar_model_id"] == model_id
    assert second["outputs"]["avatar_trained"] is False
    assert "training" not in second["outputs"]["timings"]
    assert second["outputs"]["video"] and second["duration_s"] is not None

    # V2 reuses it as well
    v2 = assert_ok(client.post("/agent_api.php", data={"act": "create_v2", "video_url": video,
                                                       "audio_url": media.url("speech.wav")}))
    assert run_queued() == 1
    done = task(client, v2["task_id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["outputs"]["avatar_model_id"] == model_id and done["outputs"]["avatar_trained"] is False

    items = assert_ok(client.get("/v1/avatars"))["items"]
    assert [m["id"] for m in items] == [model_id]
    model = items[0]
    assert (model["name"], model["state"]) == ("me", "trained")
    assert model["video_s"] == pytest.approx(5.0, abs=0.3)
    assert model["cover_url"].startswith("http://testserver/files/") and model["created_at"] > 0


def test_avatars_are_per_key_and_a_photo_makes_none(client, run_queued, media):
    mine = generate_video(client, run_queued, media.url("talk5.mp4"), media.url("speech.wav"))
    theirs_id = assert_ok(client.post("/avatar/generation", headers=OTHER, json={
        "avatar_url": media.url("talk5.mp4"), "audio_url": media.url("speech.wav")}))["id"]
    run_queued()
    theirs = assert_ok(client.get(f"/v1/tasks/{theirs_id}", headers=OTHER))
    assert theirs["outputs"]["avatar_trained"] is True  # another key's video is trained for that key
    assert theirs["outputs"]["avatar_model_id"] != mine["outputs"]["avatar_model_id"]

    photo = generate_video(client, run_queued, media.url("face.png"), media.url("speech.wav"))
    assert "avatar_model_id" not in photo["outputs"]
    assert len(assert_ok(client.get("/v1/avatars"))["items"]) == 1
    assert len(assert_ok(client.get("/v1/avatars", headers=OTHER))["items"]) == 1


def test_a_deleted_avatar_is_gone_and_trained_again_on_demand(client, run_queued, media, services):
    first = generate_video(client, run_queued, media.url("talk5.mp4"), media.url("speech.wav"))
    model_id = first["outputs"]["avatar_model_id"]
    assert services.storage.local_dir(f"avatars/{model_id}").is_dir()
    assert_error(client.delete(f"/v1/avatars/{model_id}", headers=OTHER), 404)
    assert assert_ok(client.delete(f"/v1/avatars/{model_id}")) == {"id": model_id, "deleted": True}
    assert assert_ok(client.get("/v1/avatars"))["items"] == []
    assert not (services.settings.files_dir / "avatars" / model_id).exists()
    assert_error(client.delete(f"/v1/avatars/{model_id}"), 404)

    again = generate_video(client, run_queued, media.url("talk5.mp4"), media.url("speech.wav"))
    assert again["outputs"]["avatar_trained"] is True and again["outputs"]["avatar_model_id"] != model_id


def test_create_model_fast_models_are_listed_and_reused_by_generation(client, run_queued, media):
    form = {"act": "create_model_fast", "model_name": "anchor", "video_url": media.url("talk5.mp4")}
    model_id = assert_ok(client.post("/agent_api.php", data=form))["model"]["model_id"]
    run_queued()
    done = generate_video(client, run_queued, media.url("talk5.mp4"), media.url("speech.wav"))
    assert done["outputs"]["avatar_model_id"] == model_id and done["outputs"]["avatar_trained"] is False
    (model,) = assert_ok(client.get("/v1/avatars"))["items"]
    assert (model["id"], model["name"], model["state"]) == (model_id, "anchor", "trained")
    assert model["video_s"] == pytest.approx(5.0, abs=0.3)


@pytest.mark.parametrize("value", [100, 3842, 721, "big", 0, True])
def test_resolution_is_checked_when_submitted(client, run_queued, media, value):
    body = {"avatar_url": media.url("face.png"), "audio_url": media.url("speech.wav"), "resolution": value}
    response = generate(client, **body)
    assert response.status_code == 400, response.text
    assert "resolution" in response.json()["msg"]
    form = {"act": "create_v2", "video_url": media.url("talk5.mp4"), "audio_url": media.url("speech.wav"),
            "resolution": str(value)}
    assert_error(client.post("/agent_api.php", data=form), 400, "resolution", "128", "3840")
    assert run_queued() == 0


def test_resolution_reaches_the_job(client, run_queued, media, services):
    done = generate_video(client, run_queued, media.url("face.png"), media.url("speech.wav"), resolution=720)
    assert services.tasks.get(done["id"]).inputs["resolution"] == 720
    form = {"act": "create_v2", "video_url": media.url("talk5.mp4"), "audio_url": media.url("speech.wav"),
            "resolution": "1080"}
    task_id = assert_ok(client.post("/agent_api.php", data=form))["task_id"]
    assert services.tasks.get(task_id).inputs["resolution"] == 1080


def test_stage_times_are_on_the_task_and_in_metrics(client, run_queued, media):
    done = generate_video(client, run_queued, media.url("talk5.mp4"), media.url("speech.wav"))
    timings = done["outputs"]["timings"]
    assert {"download", "intake", "training", "store", "other", "total"} <= timings.keys()
    for value in timings.values():
        assert value["wall_s"] >= 0 and value["cpu_s"] >= 0 and value["calls"] >= 1
    parts = sum(v["wall_s"] for k, v in timings.items() if k != "total")
    assert timings["total"]["wall_s"] == pytest.approx(parts, abs=0.01)
    assert timings["download"]["calls"] == 2  # the video and the audio

    text = client.get("/metrics").text
    assert 'digihuman_task_stage_seconds_bucket{kind="avatar.generate",le="+Inf",stage="training"} 1.0' in text
    assert 'digihuman_task_stage_seconds_count{kind="avatar.generate",stage="total"} 1.0' in text
    assert re.search(r'digihuman_task_stage_cpu_seconds_sum\{kind="avatar.generate",stage="download"\} [0-9.e-]+',
                     text)
    # the fake engines time no frame loop: only stages that ran are reported
    assert 'stage="encoding"' not in text
