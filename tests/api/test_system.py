"""/metrics, /docs, unknown routes, and the request body limit."""

from __future__ import annotations

import json

import pytest

from tests.api.exchange import assert_error, assert_ok


def test_metrics(client, run_queued, media):
    assert_ok(client.post("/avatar/generation", json={"avatar_url": media.url("face.png"),
                                                      "audio_url": media.url("speech.wav")}))
    client.get("/v1/tasks/nope")
    before = client.get("/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    text = before.text
    assert "digihuman_http_requests_total{" in text
    assert 'route="/avatar/generation",status="200"' in text
    assert 'route="/v1/tasks/{task_id}",status="404"' in text
    assert 'digihuman_tasks{kind="avatar.generate",status="queued"} 1.0' in text
    assert 'digihuman_queue_depth{group="render"} 1.0' in text  # the queued render waits on its group's queue
    assert 'digihuman_queue_depth{group="speech"} 0.0' in text
    assert "digihuman_http_request_seconds_bucket" in text
    run_queued()
    after = client.get("/metrics").text
    assert 'digihuman_tasks{kind="avatar.generate",status="succeeded"} 1.0' in after
    assert 'digihuman_task_duration_seconds_count{kind="avatar.generate",status="succeeded"} 1.0' in after


def test_docs(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "swagger" in docs.text.lower()
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/avatar/generation", "/agent_api.php", "/model", "/v1/tts", "/v1/chat/completions",
                 "/generate_video", "/v1/files", "/v1/tasks/{task_id}", "/health"):
        assert path in paths


def test_unknown_route(client, bare):
    assert_error(client.get("/v2/nothing"), 404, "no such route", "GET /v2/nothing")
    assert_error(bare.post("/avatar/generations"), 404, "no such route")


def test_wrong_method(client):
    assert_error(client.delete("/v1/voices"), 405, "DELETE", "not allowed", "/v1/voices")


def test_malformed_json(client):
    response = client.post("/v1/tts", content=b'{"text": "hi",', headers={"content-type": "application/json"})
    assert_error(response, 400, "not valid JSON", "character 14")


@pytest.mark.parametrize(("content", "content_type", "words"), [
    (b"", None, ("JSON object", "missing")),
    (b"[1, 2]", "application/json", ("JSON object", "not one")),
    (b'{"text": "hi"}', "text/plain", ("JSON object", "application/json")),
    (b"text=hi", "application/x-www-form-urlencoded", ("JSON object", "application/json")),
])
def test_body_that_is_not_a_json_object(client, content, content_type, words):
    headers = {"content-type": content_type} if content_type else {}
    assert_error(client.post("/v1/tts", content=content, headers=headers), 400, *words)


def test_wrong_field_types_are_named(client):
    body = {"avatar_url": 5, "audio_url": "x", "no_watermark": "maybe"}
    response = client.post("/avatar/generation", json=body)
    assert_error(response, 400, "avatar_url", "valid string", "no_watermark", "boolean")


def test_json_body_over_the_limit(client):
    body = {"text": "x" * (1024 * 1024 + 10)}
    assert_error(client.post("/v1/tts", json=body), 413, "larger than 1024 KiB", "/v1/files")


def test_small_body_limit(make_client):
    small, _ = make_client(max_body_bytes=1000)
    assert small.post("/v1/tts", json={"text": "short enough"}).status_code == 200
    msg = assert_error(small.post("/v1/tts", json={"text": "x" * 2000}), 413, "request body is larger than")
    assert "POST /v1/files" in msg
    response = small.post("/generate_video", json={"video_url": "http://x/" + "a" * 2000})
    assert_error(response, 413, "larger than")


def test_streamed_body_over_the_limit(make_client):
    # No Content-Length (chunked): the limit must hold while the body streams in.
    small, _ = make_client(max_body_bytes=1000)
    pieces = [b'{"text": "', b"x" * 600, b"x" * 600, b'"}']
    response = small.post("/v1/tts", content=iter(pieces), headers={"content-type": "application/json"})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert_error(response, 413, "request body is larger than")


def test_streamed_form_over_the_limit(make_client):
    small, _ = make_client(max_body_bytes=1000, media={"max_training_bytes": 1000})
    pieces = [b"act=create_model&model_name=", b"x" * (2 * 1024 * 1024)]
    response = small.post("/agent_api.php", content=iter(pieces),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert_error(response, 413, "request body is larger than")


def test_streamed_body_under_the_limit(client):
    pieces = [b'{"text": ', json.dumps("hello there").encode(), b"}"]
    response = client.post("/v1/tts", content=iter(pieces), headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"


def test_agent_api_wants_a_form(client):
    response = client.post("/agent_api.php", json={"act": "create_model", "model_name": "x"})
    assert_error(response, 400, "form", "urlencoded")
