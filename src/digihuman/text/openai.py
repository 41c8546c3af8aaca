"""Chat through any OpenAI-compatible endpoint (a hosted API, vLLM, llama.cpp's server, Ollama…)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from digihuman.errors import BackendFailed, DigihumanError, EngineUnavailable, InvalidInput
from digihuman.text.base import ChatRequest, ChatResult

log = logging.getLogger(__name__)
# Worth another try: the backend is overloaded or restarting, not refusing the request.
TRANSIENT = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class OpenAIEndpoint:
    """Where and how to reach the backend."""

    base_url: str  # e.g. https://api.example.com/v1
    api_key: str | None
    models: tuple[str, ...]  # names offered to our clients, passed through unchanged
    timeout_s: float = 120.0  # per request (a long rewrite on a slow model takes a while)
    connect_timeout_s: float = 10.0
    retries: int = 2  # extra attempts on connection errors and transient statuses


class OpenAIChat:
    """A ChatModel that forwards to an OpenAI-compatible ``/chat/completions``."""

    def __init__(self, endpoint: OpenAIEndpoint, transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        timeout = httpx.Timeout(endpoint.timeout_s, connect=endpoint.connect_timeout_s)
        self._client = httpx.Client(base_url=endpoint.base_url.rstrip("/"), headers=headers, timeout=timeout,
                                    transport=transport)

    def models(self) -> list[str]:
        return list(self.endpoint.models)

    def complete(self, request: ChatRequest) -> ChatResult:
        body = self._send(request, stream=False).json()
        try:
            choice = body["choices"][0]
            usage = body.get("usage") or {}
            return ChatResult(
                text=choice["message"]["content"] or "",
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                finish_reason=choice.get("finish_reason") or "stop",
            )
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise BackendFailed(f"the chat backend answered in an unexpected shape: {str(body)[:200]}") from e

    def stream(self, request: ChatRequest) -> Iterator[str]:
        response = self._send(request, stream=True)
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line.removeprefix("data:").strip()
                if data == "[DONE]":
                    break
                delta = (json.loads(data).get("choices") or [{}])[0].get("delta") or {}
                if delta.get("content"):
                    yield delta["content"]
        finally:
            response.close()

    def _send(self, request: ChatRequest, *, stream: bool) -> httpx.Response:
        if request.model not in self.endpoint.models:
            raise InvalidInput(f"model {request.model!r} is not offered; choose one of {', '.join(self.endpoint.models)}.")
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": stream,
        }
        for name in ("temperature", "top_p", "max_tokens"):
            if getattr(request, name) is not None:
                payload[name] = getattr(request, name)
        attempts = self.endpoint.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.send(self._client.build_request("POST", "/chat/completions", json=payload),
                                             stream=stream)
            except httpx.TransportError as e:
                if attempt == attempts:
                    raise EngineUnavailable("the chat backend", f"{self.endpoint.base_url} did not answer: "
                                            f"{type(e).__name__}") from e
            else:
                if response.status_code < 400:
                    return response
                detail = response.read().decode(errors="replace")[:200]
                response.close()
                if response.status_code not in TRANSIENT or attempt == attempts:
                    raise _failure(response.status_code, detail)
            log.warning("chat backend attempt failed; retrying", extra={"attempt": attempt})
            time.sleep(min(4.0, 0.5 * 2 ** (attempt - 1)))
        raise AssertionError("unreachable")


def _failure(status: int, detail: str) -> DigihumanError:
    if status in (401, 403):
        return EngineUnavailable("the chat backend", "it refused our API key; check DIGIHUMAN_CHAT__API_KEY")
    if status == 400:
        return InvalidInput(f"the chat backend refused the request: {detail}")
    return BackendFailed(f"the chat backend failed with HTTP {status}: {detail}")
