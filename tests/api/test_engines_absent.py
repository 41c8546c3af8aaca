"""A server with no engines installed: 503 "engine not available" where one is needed, the rest works."""

from __future__ import annotations

import pytest

from tests.api.exchange import assert_error, assert_ok, path_of, upload

NONE = "tests.fake_engines:build_none"
CHAT = {"model": "fake-rewrite", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def bare_server(make_client):
    return make_client(engine_factory=NONE)


def needing_engines(media):
    """(name, request kwargs, engine words) for every route that needs an engine; inputs are valid."""
    wav = (media.root / "voice.wav").read_bytes()
    return [
        ("POST", "/avatar/generation",
         {"json": {"avatar_url": media.url("face.png"), "audio_url": media.url("speech.wav")}},
         "talking-head"),
        ("POST", "/avatar/generation", {"json": {"avatar_url": media.url("face.png"),
                                                 "use_voice": {"voice_engine_id": "fake-en", "text": "hi"}}},
         "talking-head"),
        ("POST", "/agent_api.php", {"data": {"act": "create_v2", "video_url": media.url("clip.mp4"),
                                             "audio_url": media.url("speech.wav")}}, "talking-head"),
        ("POST", "/agent_api.php", {"data": {"act": "create_model_fast", "model_name": "a",
                                             "video_url": media.url("talk5.mp4")}}, "talking-head"),
        ("POST", "/agent_api.php",
         {"data": {"act": "create_audio", "task_text": "hi", "people_id": "fake-en"}}, "text-to-speech"),
        ("POST", "/model", {"data": {"title": "t"}, "files": [("voices", ("v.wav", wav, "audio/wav"))]},
         "voice cloning"),
        ("POST", "/v1/tts", {"json": {"text": "hi"}}, "text-to-speech"),
        ("POST", "/v1/tts", {"json": {"text": "hi", "reference_id": "fake-en"}}, "text-to-speech"),
        ("GET", "/v1/voices", {}, "text-to-speech"),
        ("POST", "/v1/chat/completions", {"json": CHAT}, "chat"),
        ("POST", "/chat/completions", {"json": {**CHAT, "stream": True}}, "chat"),
        ("GET", "/v1/models", {}, "chat"),
        ("POST", "/generate_video", {"json": {"video_url": media.url("clip.mp4")}}, "video remix"),
    ]


def test_routes_needing_an_engine_answer_503(bare_server, media):
    client, services = bare_server
    for method, path, kwargs, engine in needing_engines(media):
        response = client.request(method, path, **kwargs)
        msg = assert_error(response, 503, "engine not available", engine, "not installed")
        if path in ("/v1/chat/completions", "/v1/models"):
            assert response.json()["error"]["message"] == msg
    assert services.tasks.queued_ids() == []
    assert client.get("/model").json()["total"] == 0


def test_routes_needing_no_engine_still_work(bare_server, media):
    client, _ = bare_server
    assert client.get("/model").json() == {"total": 0, "items": []}
    assert_error(client.get("/model/abc"), 404, "does not exist")
    assert_error(client.get("/v1/tasks/x"), 404, "'x' does not exist")
    assert_error(client.get("/avatar/task/x"), 404, "does not exist")
    assert_error(client.get("/query_video/x"), 404, "does not exist")
    assert_error(client.post("/agent_api.php", data={"act": "chk_v2", "task_id": "x"}), 404, "does not exist")
    url = upload(client, media.root / "face.png")
    assert client.get(path_of(url)).status_code == 200
    health = assert_ok(client.get("/health"))
    engines = ("tts", "voice_cloner", "talking_head", "chat", "remixer")
    assert health["engines"] == dict.fromkeys(engines, False)
    assert client.get("/metrics").status_code == 200


def test_bad_input_is_still_reported_first(bare_server, media):
    client, _ = bare_server
    response = client.post("/avatar/generation", json={"avatar_url": media.url("face.png")})
    assert_error(response, 400, "exactly one")
    assert_error(client.post("/agent_api.php", data={"act": "nope"}), 400, "unknown act")
