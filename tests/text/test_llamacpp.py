"""Local GGUF models: the llama-server child process, routing by name, clear failures, the real Gemma."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from digihuman.errors import EngineUnavailable, InvalidInput
from digihuman.text import gguf_models
from digihuman.text.base import ChatMessage, ChatRequest, PromptRequest
from digihuman.text.llamacpp import LlamaCppChat, LocalModel, ServerOptions
from digihuman.text.presets import RewritePresets
from digihuman.text.router import ChatRouter
from tests.text.chat_fakes import ScriptedModel

# One llama.cpp thread per server: the test processes already keep every core busy, and llama.cpp's
# threads wait for each other at every step, so a second one on a shared core costs 3-4x the CPU.
THREADS = 1


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the bundled Gemma is joined from its parts once for the module (253 MB; its own test
    joins it anew)."""
    return tmp_path_factory.mktemp("models")


def test_router_sends_each_model_to_its_backend() -> None:
    a, b = ScriptedModel(name="a", answer=lambda s: "from a"), ScriptedModel(name="b", answer=lambda s: "from b")
    router = ChatRouter([a, b])
    assert router.models() == ["a", "b"]
    assert router.complete(ChatRequest("b", (ChatMessage("user", "x"),))).text == "from b"
    assert "".join(router.stream(ChatRequest("a", (ChatMessage("user", "x"),)))) == "from a"
    assert router.continues_text("a") and not router.reasons("a")
    with pytest.raises(InvalidInput, match=r"unknown model 'c'; this server offers: a, b"):
        router.complete(ChatRequest("c", (ChatMessage("user", "x"),)))


def test_a_missing_gguf_is_reported_with_what_to_do(tmp_path: Path) -> None:
    chat = LlamaCppChat([LocalModel("mine", lambda: tmp_path / "nope.gguf")])
    assert chat.models() == ["mine"]
    with pytest.raises(EngineUnavailable, match=r"nope.gguf is missing; install it or fix DIGIHUMAN_CHAT__LLAMACPP"):
        chat.complete(ChatRequest("mine", (ChatMessage("user", "hi"),)))
    # the presets surface the same error (a 503, not a broken answer)
    presets = RewritePresets(ChatRouter([chat]), "mine")
    with pytest.raises(EngineUnavailable, match="is missing"):
        presets.complete(ChatRequest("rewrite-formal", (ChatMessage("user", "hey guys"),)))


def test_a_server_that_dies_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    broken = tmp_path / "llama-server"
    broken.write_text("#!/bin/sh\necho 'error loading model: bad magic' >&2\nexit 3\n")
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    chat = LlamaCppChat([LocalModel("m", lambda: gguf, base=True, reasoning=False)],
                        ServerOptions(binary=broken, log_dir=tmp_path / "logs"))
    with pytest.raises(EngineUnavailable, match=r"exited with code 3: error loading model: bad magic"):
        chat.complete_prompt(PromptRequest("m", "hello"))
    with pytest.raises(EngineUnavailable, match="does not exist"):
        LlamaCppChat([LocalModel("m", lambda: gguf, base=True, reasoning=False)],
                     ServerOptions(binary=tmp_path / "none")).complete_prompt(PromptRequest("m", "hello"))


def test_gguf_header_gives_size_and_kind(tmp_path: Path) -> None:
    gemma = gguf_models.gemma_path(tmp_path)
    header = gguf_models.read_header(gemma)
    assert header.size == gemma.stat().st_size == 253113024
    assert header.is_base and not header.thinks and header.metadata["general.architecture"] == "gemma3"
    assert gguf_models.gemma_path(tmp_path) == gemma  # assembled once, then reused
    with pytest.raises(InvalidInput, match="not a GGUF"):
        gguf_models.read_header(Path(__file__))


def test_install_from_a_file_checks_it_is_complete(tmp_path: Path, models_dir: Path) -> None:
    gemma = gguf_models.gemma_path(models_dir)
    cut = tmp_path / "cut.gguf"
    with open(gemma, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(10_000_000))
    with pytest.raises(InvalidInput, match=r"not a complete GGUF \(10000000 of 253113024 bytes\)"):
        gguf_models.install("deepseek-r1-7b", tmp_path / "models", cut)
    with pytest.raises(InvalidInput, match="unknown model 'llama-9'; installable models: deepseek-r1-7b"):
        gguf_models.install("llama-9", tmp_path / "models")
    installed = gguf_models.install("deepseek-r1-7b", tmp_path / "models", gemma)
    assert installed.stat().st_size == gemma.stat().st_size
    assert [m.name for m in gguf_models.installed_optional(tmp_path / "models")] == ["deepseek-r1-7b"]


@pytest.mark.skipif(not gguf_models.gemma_installed(), reason="the bundled Gemma is not installed")
def test_bundled_gemma_runs_through_llama_server(tmp_path: Path, models_dir: Path) -> None:
    """The real runtime: start llama-server on the bundled Gemma, complete, stream, stop."""
    chat = LlamaCppChat([LocalModel("gemma3-270m", lambda: gguf_models.gemma_path(models_dir))],
                        ServerOptions(threads=THREADS, log_dir=tmp_path / "logs", context=1024))
    try:
        assert chat.continues_text("gemma3-270m")  # no chat template in the GGUF: a base model
        result = chat.complete_prompt(PromptRequest("gemma3-270m", "The capital of France is", ("\n",),
                                                    temperature=0.0, max_tokens=8))
        assert "Paris" in result.text or "France" in result.text, result
        assert result.completion_tokens >= 1 and result.prompt_tokens >= 4
        pieces = list(chat.stream_prompt(PromptRequest("gemma3-270m", "1, 2, 3, 4,", temperature=0.0,
                                                       max_tokens=6)))
        assert len(pieces) >= 3 and "5" in "".join(pieces)
        server = chat._servers["gemma3-270m"]
        pid = server._process.pid  # type: ignore[union-attr]
        assert os.path.exists(f"/proc/{pid}")
    finally:
        chat.close()
    assert server._process is None


@pytest.mark.skipif(not gguf_models.gemma_installed(), reason="the bundled Gemma is not installed")
def test_the_server_ends_with_its_parent_even_on_kill_9(models_dir: Path) -> None:
    import signal
    import subprocess
    import sys

    code = f"""
import sys, threading
from pathlib import Path
from digihuman.text import gguf_models
from digihuman.text.llamacpp import LlamaCppChat, LocalModel, ServerOptions
chat = LlamaCppChat([LocalModel("g", lambda: gguf_models.gemma_path(Path({str(models_dir)!r})), base=True)],
                    ServerOptions(threads={THREADS}))
# started from a short-lived thread, as a request thread would
threading.Thread(target=lambda: chat._servers["g"].url()).start()
import time
while chat._servers["g"]._process is None or not chat._servers["g"]._url.endswith("/v1"):
    time.sleep(0.05)
print(chat._servers["g"]._process.pid, flush=True)
time.sleep(60)
"""
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
        assert os.path.exists(f"/proc/{server_pid}")
        time.sleep(0.5)  # the thread that asked for the server has ended: the server must live on
        assert os.path.exists(f"/proc/{server_pid}")
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 5
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(server_pid)


def _alive(pid: int) -> bool:
    """Running, not gone and not a zombie waiting for a reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not gguf_models.gemma_installed(), reason="the bundled Gemma is not installed")
def test_the_local_server_answers_only_with_its_key(models_dir: Path) -> None:
    import httpx

    chat = LlamaCppChat([LocalModel("g", lambda: gguf_models.gemma_path(models_dir), base=True)],
                        ServerOptions(threads=THREADS))
    try:
        assert chat.complete_prompt(PromptRequest("g", "Hello", max_tokens=2, temperature=0.0)).completion_tokens
        url = chat._servers["g"].url()
        body = {"prompt": "Hello", "max_tokens": 2}
        assert httpx.post(url + "/completions", json=body).status_code == 401
    finally:
        chat.close()
