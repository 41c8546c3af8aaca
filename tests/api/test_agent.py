"""POST /agent_api.php: every act, urlencoded and multipart, and zstatus before and after the work."""

from __future__ import annotations

import pytest

from tests.api.exchange import OTHER, assert_error, assert_ok, probe_url

ACTS = ["create_v2", "chk_v2", "create_model_fast", "chk_model_fast", "create_video_fast", "chk_video_fast",
        "create_model", "create_model_audio", "chk_model_audio", "create_audio", "chk_audio"]


@pytest.fixture(params=["urlencoded", "multipart"])
def act(request, client):
    """act(name, headers=None, **fields): POST /agent_api.php as either kind of form."""

    def post(name, headers=None, **fields):
        fields = {"act": name, **fields}
        if request.param == "urlencoded":
            response = client.post("/agent_api.php", data=fields, headers=headers)
            assert response.request.headers["content-type"] == "application/x-www-form-urlencoded"
        else:
            response = client.post("/agent_api.php", files=[(k, (None, v)) for k, v in fields.items()],
                                   headers=headers)
            assert response.request.headers["content-type"].startswith("multipart/form-data")
        return response

    return post


def create_v2(act, media, video="talk5.mp4"):
    response = act("create_v2", video_url=media.url(video), audio_url=media.url("speech.wav"))
    return assert_ok(response)["task_id"]


def fast_model(act, media, name="anna", video="talk5.mp4"):
    return assert_ok(act("create_model_fast", model_name=name, video_url=media.url(video)))


def train_audio(act, media, model_id):
    response = act("create_model_audio", model_id=model_id, model_audio_url=media.url("voice.wav"))
    return assert_ok(response)["task_id"]


def test_v2_synthesis(act, client, run_queued, media, tmp_path):
    task_id = create_v2(act, media)
    queued = assert_ok(act("chk_v2", task_id=task_id))
    assert (queued["task_id"], queued["zstatus"]) == (task_id, 1)
    assert queued["video_url"] is None and queued["video_pic"] is None
    assert run_queued() == 1
    done = assert_ok(act("chk_v2", task_id=task_id))
    assert done["zstatus"] == 3, done["error"]
    assert done["video_time"] == pytest.approx(1.0, abs=0.2)
    info = probe_url(client, done["video_url"], tmp_path / "v.mp4", "video/mp4")
    assert (info.kind, info.has_audio) == ("video", True)
    assert probe_url(client, done["video_pic"], tmp_path / "cover.png", "image/png").kind == "image"


def test_v2_failure_is_minus_one(act, run_queued, media):
    task_id = create_v2(act, media, "black.mp4")
    run_queued()
    failed = assert_ok(act("chk_v2", task_id=task_id))
    assert failed["zstatus"] == -1 and "no face found" in failed["error"] and failed["video_url"] is None


def test_v2_needs_a_video(act, media):
    assert_error(act("create_v2", video_url=media.url("face.png"), audio_url=media.url("speech.wav")), 422,
                 "video_url", "not a video", "image")


def test_fast_avatar_model_then_video(act, client, run_queued, media, tmp_path):
    created = fast_model(act, media)
    model = created["model"]
    assert (model["model_name"], model["model_status"]) == ("anna", 1)
    assert "5 s" in created["warning"] and "30-300 s" in created["warning"]
    model_id = model["model_id"]
    queued = assert_ok(act("chk_model_fast", model_id=model_id))
    assert (queued["model_id"], queued["zstatus"], queued["model_pic"]) == (model_id, 1, None)

    assert_error(act("create_video_fast", model_id=model_id, audio_url=media.url("speech.wav")), 409,
                 model_id, "not trained", "chk_model_fast")
    assert run_queued() == 1
    trained = assert_ok(act("chk_model_fast", model_id=model_id))
    assert trained["zstatus"] == 3, trained["error"]
    assert probe_url(client, trained["model_pic"], tmp_path / "pic.png", "image/png").kind == "image"

    task_id = assert_ok(act("create_video_fast", model_id=model_id, audio_url=media.url("speech.wav")))
    task_id = task_id["task_id"]
    assert assert_ok(act("chk_video_fast", task_id=task_id))["zstatus"] == 1
    assert run_queued() == 1
    done = assert_ok(act("chk_video_fast", task_id=task_id))
    assert done["zstatus"] == 3, done["error"]
    assert done["video_time"] == pytest.approx(1.0, abs=0.2)
    assert probe_url(client, done["video_url"], tmp_path / "v.mp4", "video/mp4").kind == "video"
    # a high-speed task is not a V2 task
    assert_error(act("chk_v2", task_id=task_id), 404, "does not exist")


def test_fast_avatar_from_a_long_video_has_no_warning(act, media):
    created = fast_model(act, media, "long", "talk32.mp4")
    assert "warning" not in created
    assert created["model"]["model_status"] == 1


def test_fast_avatar_under_three_seconds_is_refused(act, services, media):
    assert_error(act("create_model_fast", model_name="short", video_url=media.url("talk2.mp4")), 422,
                 "video_url", "2.0 s", "at least 3 s")
    assert services.tasks.queued_ids() == []


def test_v2_video_under_three_seconds_is_refused_at_submit(act, services, media):
    assert_error(act("create_v2", video_url=media.url("clip.mp4"), audio_url=media.url("speech.wav")), 422,
                 "video_url", "1.0 s", "at least 3 s")
    assert services.tasks.queued_ids() == []


def test_cancelled_avatar_training_is_minus_one(act, client, media):
    model_id = fast_model(act, media)["model"]["model_id"]
    task_id = client.app.state.services.catalog.avatar(model_id, _owner(client)).task_id
    assert_ok(client.post(f"/v1/tasks/{task_id}/cancel"))
    assert assert_ok(act("chk_model_fast", model_id=model_id))["zstatus"] == -1


def _owner(client):
    return client.app.state.services.keys.identify(client.headers["authorization"].split()[1])


def test_avatar_models_are_private(act, media):
    model_id = fast_model(act, media)["model"]["model_id"]
    assert_error(act("chk_model_fast", model_id=model_id, headers=OTHER), 404, model_id, "does not exist")
    response = act("create_video_fast", model_id=model_id, audio_url=media.url("speech.wav"), headers=OTHER)
    assert_error(response, 404, "does not exist")


def test_voice_model_flow(act, client, run_queued, media, tmp_path):
    model_id = assert_ok(act("create_model", model_name="my voice"))["model_id"]
    assert client.get(f"/model/{model_id}").json()["state"] == "created"
    assert_error(act("create_audio", task_text="too early", people_id=model_id), 409,
                 "created", "not trained")
    train = train_audio(act, media, model_id)
    assert assert_ok(act("chk_model_audio", task_id=train))["zstatus"] == 0
    assert_error(act("create_model_audio", model_id=model_id, model_audio_url=media.url("voice.wav")), 409,
                 "already training")
    assert run_queued() == 1
    assert assert_ok(act("chk_model_audio", task_id=train))["zstatus"] == 3

    say = assert_ok(act("create_audio", task_text="Hello from my voice.", people_id=model_id))["task_id"]
    queued = assert_ok(act("chk_audio", task_id=say))
    assert (queued["zstatus"], queued["audio_url"]) == (1, None)
    assert run_queued() == 1
    done = assert_ok(act("chk_audio", task_id=say))
    assert done["zstatus"] == 3, done["error"]
    info = probe_url(client, done["audio_url"], tmp_path / "a.wav", "audio/wav")
    assert info.kind == "audio" and info.duration_s > 0.5


def test_create_audio_failure_is_four(act, client, run_queued, voice_model):
    say = assert_ok(act("create_audio", task_text="Soon gone.", people_id=voice_model))["task_id"]
    assert_ok(client.delete(f"/model/{voice_model}"))
    run_queued()
    failed = assert_ok(act("chk_audio", task_id=say))
    assert failed["zstatus"] == 4 and voice_model in failed["error"] and failed["audio_url"] is None


def test_cancelled_voice_training_is_minus_one(act, client, media):
    model_id = assert_ok(act("create_model", model_name="v"))["model_id"]
    train = train_audio(act, media, model_id)
    assert_ok(client.post(f"/v1/tasks/{train}/cancel"))
    assert assert_ok(act("chk_model_audio", task_id=train))["zstatus"] == -1


def test_create_audio_with_unknown_voice(act):
    assert_error(act("create_audio", task_text="hi", people_id="nobody"), 400,
                 "people_id", "'nobody'", "fake-en")


def test_create_model_audio_needs_speech(act, media):
    model_id = assert_ok(act("create_model", model_name="v"))["model_id"]
    assert_error(act("create_model_audio", model_id=model_id, model_audio_url=media.url("face.png")), 422,
                 "model_audio_url", "no sound")


@pytest.mark.parametrize("name", ["nope", "", "CREATE_V2"])
def test_unknown_act_lists_the_known_ones(act, name):
    msg = assert_error(act(name), 400, "unknown act", "known acts")
    assert all(known in msg for known in ACTS), msg


@pytest.mark.parametrize(("name", "fields", "missing"), [
    ("create_v2", {}, "video_url"),
    ("create_v2", {"video_url": "http://127.0.0.1/v.mp4"}, "audio_url"),
    ("chk_v2", {}, "task_id"),
    ("create_model_fast", {"video_url": "http://127.0.0.1/v.mp4"}, "model_name"),
    ("create_model_fast", {"model_name": "x"}, "video_url"),
    ("chk_model_fast", {}, "model_id"),
    ("create_video_fast", {"audio_url": "http://127.0.0.1/a.wav"}, "model_id"),
    ("chk_video_fast", {"task_id": "  "}, "task_id"),
    ("create_model", {}, "model_name"),
    ("create_model_audio", {}, "model_id"),
    ("chk_model_audio", {}, "task_id"),
    ("create_audio", {"people_id": "fake-en"}, "task_text"),
    ("create_audio", {"task_text": "hi"}, "people_id"),
    ("chk_audio", {}, "task_id"),
])
def test_missing_field_is_named(act, name, fields, missing):
    assert_error(act(name, **fields), 400, f"{missing} is required", f"act={name}")


def test_create_video_fast_without_audio_url(act, run_queued, media):
    model_id = fast_model(act, media)["model"]["model_id"]
    run_queued()
    assert_error(act("create_video_fast", model_id=model_id), 400, "audio_url is required")


@pytest.mark.parametrize("name", ["chk_v2", "chk_video_fast", "chk_model_audio", "chk_audio"])
def test_unknown_task_ids(act, name):
    assert_error(act(name, task_id="feedfacefeedface"), 404, "feedfacefeedface", "does not exist")


def test_another_keys_tasks_are_not_found(act, media):
    task_id = create_v2(act, media)
    assert_error(act("chk_v2", task_id=task_id, headers=OTHER), 404, "does not exist")
