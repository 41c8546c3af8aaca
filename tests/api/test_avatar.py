"""POST /avatar/generation and GET /avatar/task/{id}: the standard synthesis group."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest

from tests.api.exchange import OTHER, assert_error, assert_ok, download, probe_url, upload

TASK_FIELDS = {"id", "work_name", "web_work_status", "work_video_path", "wm_work_video_path",
               "no_wm_work_video_path", "work_webp_path", "create_time", "progress", "stage", "error",
               "duration_s"}


def generate(client, **body):
    return client.post("/avatar/generation", json=body)


def task(client, task_id, **kw):
    return assert_ok(client.get(f"/avatar/task/{task_id}", **kw))


def test_audio_url_form_gives_a_watermarked_video_by_default(client, run_queued, media, tmp_path):
    before = time.time()
    response = generate(client, avatar_url=media.url("face.png"), audio_url=media.url("speech.wav"),
                        work_name="hi")
    assert response.json()["msg"] == "ok"
    task_id = assert_ok(response)["id"]
    queued = task(client, task_id)
    assert TASK_FIELDS <= queued.keys()
    assert (queued["id"], queued["work_name"], queued["web_work_status"]) == (task_id, "hi", 0)
    assert queued["work_video_path"] is None and queued["error"] is None
    assert before * 1000 - 1000 <= queued["create_time"] <= time.time() * 1000 + 1000

    assert run_queued() == 1
    done = task(client, task_id)
    assert done["web_work_status"] == 200, done["error"]
    assert done["progress"] == 100 and done["error"] is None
    assert done["duration_s"] == pytest.approx(1.0, abs=0.2)
    marked = done["wm_work_video_path"]
    assert marked and done["work_video_path"] == marked and done["no_wm_work_video_path"] is None
    info = probe_url(client, marked, tmp_path / "marked.mp4", "video/mp4")
    assert (info.kind, info.extension, info.has_audio) == ("video", "mp4", True)
    assert info.duration_s == pytest.approx(1.0, abs=0.3)
    preview = download(client, done["work_webp_path"], tmp_path / "preview.webp", "image/webp")
    assert preview.read_bytes()[8:12] == b"WEBP"

    # the same request without the mark: the same picture but for the bottom-right corner
    clean_id = assert_ok(generate(client, avatar_url=media.url("face.png"), audio_url=media.url("speech.wav"),
                                  no_watermark=True))["id"]
    assert run_queued() == 1
    clean = task(client, clean_id)["no_wm_work_video_path"]
    probe_url(client, clean, tmp_path / "clean.mp4", "video/mp4")
    with av.open(str(tmp_path / "marked.mp4")) as a, av.open(str(tmp_path / "clean.mp4")) as b:
        differs = np.abs(next(a.decode(video=0)).to_ndarray(format="rgb24").astype(int)
                         - next(b.decode(video=0)).to_ndarray(format="rgb24").astype(int)).max(axis=2) > 24
    rows, cols = np.nonzero(differs)
    assert rows.size and rows.min() > 0.6 * differs.shape[0] and cols.min() > 0.4 * differs.shape[1]


def test_no_watermark_picks_the_clean_video_from_uploaded_inputs(client, run_queued, media, tmp_path):
    avatar = upload(client, media.root / "face.jpg")
    audio = upload(client, media.root / "speech.wav")
    task_id = assert_ok(generate(client, avatar_url=avatar, audio_url=audio, no_watermark=True))["id"]
    run_queued()
    done = task(client, task_id)
    assert done["web_work_status"] == 200, done["error"]
    assert done["work_video_path"] == done["no_wm_work_video_path"] is not None
    assert done["wm_work_video_path"] is None
    assert probe_url(client, done["work_video_path"], tmp_path / "v.mp4", "video/mp4").kind == "video"


def test_video_avatar_with_stock_voice(client, run_queued, media, tmp_path):
    use_voice = {"voice_engine_id": "fake-en", "language": "en", "text": "Hello there. How are you today."}
    task_id = assert_ok(generate(client, avatar_url=media.url("talk5.mp4"), use_voice=use_voice))["id"]
    run_queued()
    done = task(client, task_id)
    assert done["web_work_status"] == 200, done["error"]
    assert done["duration_s"] > 1.0
    info = probe_url(client, done["work_video_path"], tmp_path / "v.mp4", "video/mp4")
    assert info.duration_s == pytest.approx(done["duration_s"], abs=0.3)


def test_trained_voice_model(client, run_queued, media, tmp_path, voice_model):
    use_voice = {"voice_engine_id": voice_model, "text": "Spoken with my own voice."}
    task_id = assert_ok(generate(client, avatar_url=media.url("face.png"), use_voice=use_voice))["id"]
    run_queued()
    done = task(client, task_id)
    assert done["web_work_status"] == 200, done["error"]
    assert probe_url(client, done["work_video_path"], tmp_path / "v.mp4").has_audio


def test_voice_model_still_training_is_a_conflict(client, media):
    sample = media.root / "voice.wav"
    created = client.post("/model", data={"title": "t"}, files=[("voices", ("v.wav", sample.read_bytes()))])
    model_id = created.json()["_id"]
    use_voice = {"voice_engine_id": model_id, "text": "too early"}
    assert_error(generate(client, avatar_url=media.url("face.png"), use_voice=use_voice), 409,
                 model_id, "not trained")


def test_create_voice_clones_then_speaks(client, run_queued, media, tmp_path):
    clone = {"audio_url": media.url("voice.wav"), "language": "en", "text": "A cloned voice says this."}
    task_id = assert_ok(generate(client, avatar_url=media.url("face.png"), create_voice=clone))["id"]
    run_queued()
    done = task(client, task_id)
    assert done["web_work_status"] == 200, done["error"]
    assert probe_url(client, done["work_video_path"], tmp_path / "v.mp4").kind == "video"


def test_missing_avatar_url(client, media):
    assert_error(generate(client, audio_url=media.url("speech.wav")), 400, "avatar_url", "required")


def test_both_audio_url_and_use_voice(client, media):
    msg = assert_error(generate(client, avatar_url=media.url("face.png"), audio_url=media.url("speech.wav"),
                                use_voice={"voice_engine_id": "fake-en", "text": "hi"}), 400, "exactly one")
    assert "not audio_url and use_voice" in msg


def test_none_of_the_three_speech_forms(client, media):
    assert_error(generate(client, avatar_url=media.url("face.png")), 400,
                 "exactly one", "audio_url", "create_voice", "use_voice")


def test_unknown_voice_lists_the_valid_ones(client, media):
    use_voice = {"voice_engine_id": "nobody", "text": "hi"}
    assert_error(generate(client, avatar_url=media.url("face.png"), use_voice=use_voice), 400,
                 "use_voice.voice_engine_id", "'nobody'", "fake-en", "fake-zh", "/v1/voices")


@pytest.mark.parametrize("field", ["use_voice", "create_voice"])
def test_empty_text(client, media, field):
    speech = {"voice_engine_id": "fake-en", "text": "  "} if field == "use_voice" else \
        {"audio_url": media.url("voice.wav"), "text": " "}
    assert_error(generate(client, avatar_url=media.url("face.png"), **{field: speech}), 400,
                 f"{field}.text is empty")


def test_black_portrait_fails_the_task_with_no_face_found(client, run_queued, media):
    response = generate(client, avatar_url=media.url("black.png"), audio_url=media.url("speech.wav"))
    task_id = assert_ok(response)["id"]
    run_queued()
    failed = task(client, task_id)
    assert failed["web_work_status"] == -1
    assert "no face found" in failed["error"]
    assert failed["work_video_path"] is None
    uniform = assert_ok(client.get(f"/v1/tasks/{task_id}"))
    assert uniform["status"] == "failed"
    assert uniform["error"] == {"code": 422, "message": failed["error"]}


def test_unknown_task(client):
    assert_error(client.get("/avatar/task/0123456789abcdef"), 404, "0123456789abcdef", "does not exist")


def test_another_keys_task_is_not_found(client, media):
    response = generate(client, avatar_url=media.url("face.png"), audio_url=media.url("speech.wav"))
    task_id = assert_ok(response)["id"]
    assert_error(client.get(f"/avatar/task/{task_id}", headers=OTHER), 404, "does not exist")
    assert task(client, task_id)["id"] == task_id


def test_a_task_of_another_group_is_not_found_here(client, media):
    remix = assert_ok(client.post("/generate_video", json={"video_url": media.url("clip.mp4")}))["task_id"]
    assert_error(client.get(f"/avatar/task/{remix}"), 404, "does not exist")


def test_video_avatar_under_three_seconds_is_refused_at_submit(client, media):
    services = client.app.state.services
    assert_error(generate(client, avatar_url=media.url("talk2.mp4"), audio_url=media.url("speech.wav")), 422,
                 "avatar_url", "2.0 s", "at least 3 s")
    assert services.tasks.queued_ids() == []
    owner = services.keys.identify(client.headers["authorization"].split()[1])
    assert services.catalog.avatars(owner) == []  # no avatar model is kept for a refused video
