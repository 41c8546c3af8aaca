"""Chat through any OpenAI-compatible endpoint (a hosted API, vLLM, llama.cpp's server, Ollama…)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from digihuman.errors import BackendFailed, DigihumanError, EngineUnavailable, InvalidInput
from digihuman.text.base import ChatRequest, ChatResult, PromptRequest

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
        body = self._send("/chat/completions", request.model, self._chat_payload(request), stream=False).json()
        return _result(body, lambda choice: choice["message"]["content"])

    def stream(self, request: ChatRequest) -> Iterator[str]:
        response = self._send("/chat/completions", request.model, self._chat_payload(request), stream=True)
        yield from _pieces(response, lambda choice: (choice.get("delta") or {}).get("content"))

    def continues_text(self, model: str) -> bool:
        return False  # remote models are driven by chat turns

    def complete_prompt(self, request: PromptRequest) -> ChatResult:
        """OpenAI's legacy ``/completions``: the continuation of a raw prompt (base models)."""
        body = self._send("/completions", request.model, self._prompt_payload(request), stream=False).json()
        return _result(body, lambda choice: choice["text"])

    def stream_prompt(self, request: PromptRequest) -> Iterator[str]:
        response = self._send("/completions", request.model, self._prompt_payload(request), stream=True)
        yield from _pieces(response, lambda choice: choice.get("text"))

    @staticmethod
    def _chat_payload(request: ChatRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": request.model,
                                   "messages": [{"role": m.role, "content": m.content} for m in request.messages]}
        return _sampling(payload, request)

    @staticmethod
    def _prompt_payload(request: PromptRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
        if request.stop:
            payload["stop"] = list(request.stop)
        return _sampling(payload, request)

    def _send(self, path: str, model: str, payload: dict[str, Any], *, stream: bool) -> httpx.Response:
        if model not in self.endpoint.models:
            raise InvalidInput(f"model {model!r} is not offered; choose one of {', '.join(self.endpoint.models)}.")
        payload = {**payload, "stream": stream}
        attempts = self.endpoint.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.send(self._client.build_request("POST", path, json=payload), stream=stream)
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


def _sampling(payload: dict[str, Any], request: ChatRequest | PromptRequest) -> dict[str, Any]:
    for name in ("temperature", "top_p", "max_tokens"):
        if getattr(request, name) is not None:
            payload[name] = getattr(request, name)
    return payload


def _result(body: Any, text_of: Callable[[dict[str, Any]], str | None]) -> ChatResult:
    try:
        choice = body["choices"][0]
        usage = body.get("usage") or {}
        return ChatResult(
            text=text_of(choice) or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason") or "stop",
        )
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise BackendFailed(f"the chat backend answered in an unexpected shape: {str(body)[:200]}") from e


def _pieces(response: httpx.Response, text_of: Callable[[dict[str, Any]], str | None]) -> Iterator[str]:
    """The text of each server-sent event, until ``[DONE]``."""
    try:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line.removeprefix("data:").strip()
            if data == "[DONE]":
                break
            try:
                choice = (json.loads(data).get("choices") or [{}])[0]
            except (ValueError, AttributeError) as e:
                raise BackendFailed(f"the chat backend streamed an unreadable event: {data[:200]}") from e
            text = text_of(choice)
            if text:
                yield text
    except httpx.TransportError as e:
        raise BackendFailed(f"the chat backend broke off while streaming: {type(e).__name__}") from e
    finally:
        response.close()


def _failure(status: int, detail: str) -> DigihumanError:
    if status in (401, 403):
        return EngineUnavailable("the chat backend", "it refused our API key; check DIGIHUMAN_CHAT__API_KEY")
    if status == 400:
        return InvalidInput(f"the chat backend refused the request: {detail}")
    return BackendFailed(f"the chat backend failed with HTTP {status}: {detail}")
