"""Every authenticated route answers 401 without a valid key; /health and /files/... need none."""

from __future__ import annotations

import pytest

from tests.api.exchange import assert_error, assert_ok, path_of, upload

CHAT = {"model": "fake-rewrite", "messages": [{"role": "user", "content": "x"}]}
# (method, path, request kwargs): bodies are well-formed, so only the key can be what is wrong.
ROUTES = [
    ("POST", "/avatar/generation",
     {"json": {"avatar_url": "http://example.com/a.png", "audio_url": "http://example.com/a.wav"}}),
    ("GET", "/avatar/task/abc", {}),
    ("POST", "/agent_api.php", {"data": {"act": "create_model", "model_name": "x"}}),
    ("POST", "/agent_api.php", {"files": [("act", (None, "chk_v2")), ("task_id", (None, "abc"))]}),
    ("POST", "/model", {"data": {"title": "t"}, "files": [("voices", ("v.wav", b"RIFF"))]}),
    ("GET", "/model", {}),
    ("GET", "/model/abc", {}),
    ("DELETE", "/model/abc", {}),
    ("POST", "/v1/tts", {"json": {"text": "hi"}}),
    ("GET", "/v1/voices", {}),
    ("POST", "/v1/chat/completions", {"json": CHAT}),
    ("POST", "/chat/completions", {"json": CHAT}),
    ("GET", "/v1/models", {}),
    ("POST", "/generate_video", {"json": {"video_url": "http://example.com/v.mp4"}}),
    ("GET", "/query_video/abc", {}),
    ("POST", "/v1/files", {"files": {"file": ("a.wav", b"RIFF")}}),
    ("GET", "/v1/tasks/abc", {}),
    ("POST", "/v1/tasks/abc/cancel", {}),
    ("GET", "/metrics", {}),
]
IDS = [f"{method} {path}" for method, path, _ in ROUTES]
BAD_HEADERS = {
    "no header": ({}, "missing API key"),
    "empty bearer": ({"Authorization": "Bearer "}, "missing API key"),
    "basic scheme": ({"Authorization": "Basic dGVzdC1rZXktMDEyMzQ1Njc4OQ=="}, "missing API key"),
    "bare key": ({"Authorization": "test-key-0123456789"}, "missing API key"),
    "wrong key": ({"Authorization": "Bearer not-a-key"}, "invalid API key"),
}


@pytest.mark.parametrize("headers", list(BAD_HEADERS), ids=list(BAD_HEADERS))
@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES, ids=IDS)
def test_unauthenticated(bare, services, method, path, kwargs, headers):
    sent, words = BAD_HEADERS[headers]
    response = bare.request(method, path, headers=sent, **kwargs)
    msg = assert_error(response, 401, words, "Authorization" if words.startswith("missing") else "key")
    assert "test-key" not in msg
    assert services.tasks.queued_ids() == []


@pytest.mark.parametrize(("path", "content", "content_type"), [
    ("/avatar/generation", b"{", "application/json"),
    ("/v1/tts", b"", None),
    ("/v1/tts", b"[1]", "application/json"),
    ("/generate_video", b'{"video_url": 5}', "application/json"),
    ("/v1/chat/completions", b"{not json", "application/json"),
    ("/model", b"garbage", "multipart/form-data"),
    ("/v1/files", b"--zz\r\nbroken", "multipart/form-data; boundary=zz"),
    ("/agent_api.php", b"{}", "application/json"),
])
def test_the_key_is_checked_before_the_body(bare, path, content, content_type):
    headers = {"content-type": content_type} if content_type else {}
    assert_error(bare.post(path, content=content, headers=headers), 401, "missing API key")
    headers["Authorization"] = "Bearer wrong"
    assert_error(bare.post(path, content=content, headers=headers), 401, "invalid API key")


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models"])
def test_openai_routes_also_carry_the_openai_error(bare, path):
    response = bare.request("GET" if path.endswith("models") else "POST", path, json={})
    msg = assert_error(response, 401)
    assert response.json()["error"] == {"message": msg, "type": "authentication_error", "code": 401}


def test_scheme_is_case_insensitive(bare):
    assert bare.get("/model", headers={"Authorization": "bearer test-key-0123456789"}).status_code == 200


def test_health_needs_no_key(bare):
    data = assert_ok(bare.get("/health"))
    assert (data["database"], data["queue"]) == ("ok", "ok")
    assert data["engines"] == dict.fromkeys(("tts", "voice_cloner", "talking_head", "chat", "remixer"), True)
    assert isinstance(data["queue_depth"], int) and data["version"]


def test_files_need_no_key(client, bare, media):
    url = upload(client, media.root / "face.png")
    got = bare.get(path_of(url))
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"


def test_stored_keys_work(client, bare, services):
    key = services.keys.create("ci")
    assert bare.get("/model", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert_error(bare.get("/model", headers={"Authorization": f"Bearer {key}x"}), 401, "invalid API key")
