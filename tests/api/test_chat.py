"""OpenAI-compatible script rewriting: /v1/chat/completions, /chat/completions, /v1/models."""

from __future__ import annotations

import json

import pytest

from tests.api.exchange import assert_error

ROUTES = ["/v1/chat/completions", "/chat/completions"]
MESSAGES = [{"role": "system", "content": "Rewrite the script."},
            {"role": "user", "content": "one two three"}]


@pytest.mark.parametrize("route", ROUTES)
def test_completion(client, route):
    response = client.post(route, json={"model": "fake-rewrite", "messages": MESSAGES, "temperature": 0.5,
                                        "top_p": 0.9, "max_tokens": 50})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "fake-rewrite"
    assert body["id"].startswith("chatcmpl-") and isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "three two one"}
    assert choice["finish_reason"] and choice["index"] == 0
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}


@pytest.mark.parametrize("route", ROUTES)
def test_streaming(client, route):
    body = {"model": "fake-rewrite", "messages": MESSAGES, "stream": True}
    with client.stream("POST", route, json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = r.read().decode()
    events = [line for line in text.split("\n") if line]
    assert all(line.startswith("data: ") for line in events), events
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant"}
    assert [d["content"] for d in deltas if "content" in d] == ["three", "two", "one"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert "\n\n" in text and text.endswith("data: [DONE]\n\n")


@pytest.mark.parametrize("route", ROUTES)
def test_unknown_model(client, route):
    response = client.post(route, json={"model": "gpt-9", "messages": MESSAGES})
    msg = assert_error(response, 400, "unknown model", "'gpt-9'", "fake-rewrite", "/v1/models")
    error = response.json()["error"]
    assert error["message"] == msg and error["type"] == "invalid_request_error" and error["code"] == 400


@pytest.mark.parametrize(("body", "field"), [
    ({"model": "fake-rewrite", "messages": []}, "messages"),
    ({"model": "fake-rewrite"}, "messages"),
    ({"messages": MESSAGES}, "model"),
    ({"model": "fake-rewrite", "messages": MESSAGES, "temperature": 5}, "temperature"),
    ({"model": "fake-rewrite", "messages": [{"role": "user"}]}, "content"),
])
def test_bad_requests_carry_both_error_shapes(client, body, field):
    response = client.post("/v1/chat/completions", json=body)
    msg = assert_error(response, 400, "invalid request", field)
    assert response.json()["error"]["message"] == msg


def test_models(client):
    response = client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [(m["id"], m["object"]) for m in body["data"]] == [("fake-rewrite", "model")]
