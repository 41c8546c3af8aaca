"""The OpenAI-compatible chat backend against a mock endpoint: answers, streams, retries, failures."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from digihuman.api.app import create_app
from digihuman.engines import Engines
from digihuman.errors import BackendFailed, EngineUnavailable, InvalidInput
from digihuman.services import Services
from digihuman.text.base import ChatMessage, ChatRequest, PromptRequest
from digihuman.text.openai import OpenAIChat, OpenAIEndpoint
from tests.conftest import AUTH, make_settings

REQUEST = ChatRequest("gpt-x", (ChatMessage("user", "rewrite: hello world"),), temperature=0.2)


def endpoint(handler, retries: int = 2) -> OpenAIChat:  # type: ignore[no-untyped-def]
    return OpenAIChat(OpenAIEndpoint("http://llm.test/v1", "sk-test", ("gpt-x",), retries=retries),
                      transport=httpx.MockTransport(handler))


def answer(text: str) -> dict:
    return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2}}


def test_complete_forwards_the_request_and_reads_the_answer() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer("hi there"))

    result = endpoint(handler).complete(REQUEST)
    assert (result.text, result.prompt_tokens, result.completion_tokens) == ("hi there", 5, 2)
    sent = json.loads(seen[0].content)
    assert seen[0].url == "http://llm.test/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer sk-test"
    assert sent == {"model": "gpt-x", "messages": [{"role": "user", "content": "rewrite: hello world"}],
                    "stream": False, "temperature": 0.2}


def test_stream_yields_the_pieces() -> None:
    events = [{"choices": [{"delta": {"role": "assistant"}}]}, {"choices": [{"delta": {"content": "Hel"}}]},
              {"choices": [{"delta": {"content": "lo"}}]}]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    chat = endpoint(lambda r: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"}))
    assert list(chat.stream(REQUEST)) == ["Hel", "lo"]


def test_transient_failures_are_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, text="busy") if len(calls) < 3 else httpx.Response(200, json=answer("ok"))

    assert endpoint(handler).complete(REQUEST).text == "ok" and len(calls) == 3


def test_failures_say_what_is_wrong() -> None:
    with pytest.raises(EngineUnavailable, match="API key"):
        endpoint(lambda r: httpx.Response(401, text="no")).complete(REQUEST)
    with pytest.raises(BackendFailed, match="HTTP 500"):
        endpoint(lambda r: httpx.Response(500, text="boom"), retries=0).complete(REQUEST)
    with pytest.raises(InvalidInput, match="refused the request"):
        endpoint(lambda r: httpx.Response(400, text="context too long")).complete(REQUEST)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(EngineUnavailable, match="did not answer"):
        endpoint(down, retries=0).complete(REQUEST)
    with pytest.raises(InvalidInput, match="not offered"):
        endpoint(down).complete(ChatRequest("other", REQUEST.messages))


def test_routes_speak_openai_through_the_backend(tmp_path) -> None:  # type: ignore[no-untyped-def]
    chat = endpoint(lambda r: httpx.Response(200, json=answer("a fresh script")))
    settings = make_settings(tmp_path / "d", engine_factory=None)
    services = Services(settings, engines=Engines(chat=chat))
    with TestClient(create_app(settings, services, housekeeping=False), headers=AUTH) as client:
        models = client.get("/v1/models").json()
        assert [m["id"] for m in models["data"]] == ["gpt-x"]
        done = client.post("/chat/completions", json={"model": "gpt-x", "messages": [{"role": "user", "content": "x"}]})
        assert done.status_code == 200 and done.json()["choices"][0]["message"]["content"] == "a fresh script"
        unknown = client.post("/v1/chat/completions", json={"model": "nope", "messages": [{"role": "user", "content": "x"}]})
        assert unknown.status_code == 400 and "gpt-x" in unknown.json()["error"]["message"]


def test_raw_prompts_go_to_completions_for_base_models() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if json.loads(request.content)["stream"]:
            events = [{"choices": [{"text": " Par"}]}, {"choices": [{"text": "is"}]}]
            body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json={"choices": [{"text": " Paris", "finish_reason": "stop"}],
                                         "usage": {"prompt_tokens": 6, "completion_tokens": 1}})

    chat = endpoint(handler)
    prompt = PromptRequest("gpt-x", "The capital of France is", ("\n",), 0.0, None, 5)
    result = chat.complete_prompt(prompt)
    assert (result.text, result.prompt_tokens, result.completion_tokens) == (" Paris", 6, 1)
    assert seen[0].url == "http://llm.test/v1/completions"
    assert json.loads(seen[0].content) == {"model": "gpt-x", "prompt": "The capital of France is", "stop": ["\n"],
                                           "temperature": 0.0, "max_tokens": 5, "stream": False}
    assert list(chat.stream_prompt(prompt)) == [" Par", "is"]
    assert not chat.continues_text("gpt-x")


def test_a_broken_event_stream_is_a_backend_failure() -> None:
    body = "data: {not json\n\n"
    chat = endpoint(lambda r: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"}))
    with pytest.raises(BackendFailed, match="unreadable event"):
        list(chat.stream(REQUEST))
