"""Video remix: POST /generate_video and GET /query_video/{task_id}."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api.exchange import OTHER, assert_error, assert_ok, probe_url, upload


def remix(client, **body):
    return client.post("/generate_video", json=body)


def query(client, task_id, **kw):
    return assert_ok(client.get(f"/query_video/{task_id}", **kw))


def test_remix_runs_to_a_public_video(client, run_queued, media, tmp_path):
    response = remix(client, video_url=media.url("clip.mp4"), text_content="New words for the video.",
                     custom_floating_text=["{Big} news"], transforms={"mirror": True},
                     subtitle_style={"size": 20})
    task_id = assert_ok(response)["task_id"]
    pending = query(client, task_id)
    assert (pending["task_id"], pending["status"], pending["result_urls"], pending["error_message"]) == \
        (task_id, "pending", None, None)
    assert dt.datetime.fromisoformat(pending["created_at"]).tzinfo is not None

    assert run_queued() == 1
    done = query(client, task_id)
    assert done["status"] == "completed", done["error_message"]
    assert done["result_urls"]["oss_path"] == f"tasks/{task_id}/remix.mp4"
    info = probe_url(client, done["result_urls"]["public_url"], tmp_path / "r.mp4", "video/mp4")
    assert (info.kind, info.has_audio) == ("video", True)
    assert dt.datetime.fromisoformat(done["updated_at"]) >= dt.datetime.fromisoformat(done["created_at"])


def test_remix_of_an_uploaded_video_redubbed_with_a_stock_voice(client, run_queued, media, tmp_path):
    video = upload(client, media.root / "clip.mp4")
    response = remix(client, video_url=video, text_content="Speak this. And this.", voice="fake-en", rewrite=True)
    task_id = assert_ok(response)["task_id"]
    run_queued()
    done = query(client, task_id)
    assert done["status"] == "completed", done["error_message"]
    info = probe_url(client, done["result_urls"]["public_url"], tmp_path / "r.mp4")
    assert info.duration_s > 1.0  # as long as the new speech, not the 1 s source


def test_remix_with_a_voice_model(client, run_queued, media, voice_model):
    task_id = assert_ok(remix(client, video_url=media.url("clip.mp4"), voice=voice_model))["task_id"]
    run_queued()
    assert query(client, task_id)["status"] == "completed"


def test_a_voice_model_deleted_before_the_run_fails_the_task(client, run_queued, media, voice_model):
    task_id = assert_ok(remix(client, video_url=media.url("clip.mp4"), voice=voice_model))["task_id"]
    assert_ok(client.delete(f"/model/{voice_model}"))
    run_queued()
    failed = query(client, task_id)
    assert failed["status"] == "failed" and voice_model in failed["error_message"]
    assert failed["result_urls"] is None


def test_unknown_voice(client, media):
    assert_error(remix(client, video_url=media.url("clip.mp4"), voice="nobody"), 400,
                 "voice", "'nobody'", "fake-en")


@pytest.mark.parametrize("name", ["face.png", "speech.wav"])
def test_video_url_must_be_a_video(client, media, name):
    assert_error(remix(client, video_url=media.url(name)), 422, "video_url", "not a video")


def test_missing_video_url(client):
    assert_error(remix(client, text_content="hi"), 400, "video_url", "required")


def test_refused_url(client):
    assert_error(remix(client, video_url="file:///etc/passwd"), 400, "video_url", "file: scheme")


def test_unknown_and_foreign_tasks(client, media):
    assert_error(client.get("/query_video/nope"), 404, "'nope' does not exist")
    task_id = assert_ok(remix(client, video_url=media.url("clip.mp4")))["task_id"]
    assert_error(client.get(f"/query_video/{task_id}", headers=OTHER), 404, "does not exist")


def test_cancelled_remix_reads_failed(client, media):
    task_id = assert_ok(remix(client, video_url=media.url("clip.mp4")))["task_id"]
    assert_ok(client.post(f"/v1/tasks/{task_id}/cancel"))
    cancelled = query(client, task_id)
    assert cancelled["status"] == "failed" and "cancelled" in cancelled["error_message"]


@pytest.mark.parametrize(("body", "words"), [
    ({"transforms": {"speed": 3}}, ("transforms.speed", "0.5 to 2")),
    ({"transforms": {"mirrorr": True}}, ("unknown option", "mirrorr")),
    ({"transforms": {"mirror": "yes"}}, ("transforms.mirror", "true or false")),
    ({"transforms": {"aspect": "2:1"}}, ("transforms.aspect", "9:16")),
    ({"transforms": {"crop": {"x": 0.8, "width": 0.5}}}, ("transforms.crop", "inside the frame")),
    ({"transforms": {"color": {"warmth": 2}}}, ("transforms.color.warmth",)),
    ({"transforms": {"music_url": "file:///etc/passwd"}}, ("transforms.music_url", "file: scheme")),
    ({"subtitle_style": {"color": "blurple"}}, ("subtitle_style.color", "#FFD600")),
    ({"subtitle_style": {"animation": "spin"}}, ("subtitle_style.animation", "slide")),
    ({"custom_floating_text": ["{open"]}, ("custom_floating_text", "never closes")),
    ({"rewrite": True}, ("rewrite needs voice",)),
])
def test_bad_options_are_refused_naming_the_field(client, media, body, words):
    assert_error(remix(client, video_url=media.url("clip.mp4"), **body), 400, *words)


def test_music_url_must_have_sound(client, media):
    assert_error(remix(client, video_url=media.url("clip.mp4"), transforms={"music_url": media.url("face.png")}),
                 422, "transforms.music_url")


def test_music_is_taken_in_and_handed_to_the_job(client, run_queued, media, services):
    body = {"video_url": media.url("clip.mp4"), "transforms": {"music_url": media.url("speech.wav"), "ducking": 0.5}}
    task_id = assert_ok(client.post("/generate_video", json=body))["task_id"]
    inputs = services.tasks.get(task_id).inputs
    assert inputs["music_key"].startswith("uploads/") and inputs["transforms"]["ducking"] == 0.5
    run_queued()
    assert query(client, task_id)["status"] == "completed"


def test_the_options_are_documented_in_openapi(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["GenerateVideo"]["properties"]
    for word in ("mirror", "crop", "zoom", "speed", "brightness", "aspect", "blur", "music_url", "ducking",
                 "original_volume"):
        assert word in schema["transforms"]["description"], word
    for word in ("size", "outline", "highlight_color", "floating_position", "animation", "max_lines"):
        assert word in schema["subtitle_style"]["description"], word
    assert "{...}" in schema["custom_floating_text"]["description"]
