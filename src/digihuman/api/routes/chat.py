"""Script rewriting, OpenAI-compatible: /v1/chat/completions, /chat/completions, /v1/models.

Model names choose the backend (a remote OpenAI-compatible endpoint, a local GGUF through llama.cpp)
or a rewrite preset (``rewrite-口播``, ``rewrite-xiaohongshu``, ``rewrite-formal``). A user message may
carry a video or audio URL: its speech is transcribed and rewritten (pipelines/rewrite.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.errors import DigihumanError, InvalidInput
from digihuman.pipelines.rewrite import script_messages
from digihuman.text.base import ChatRequest
from digihuman.text.router import refusal

log = logging.getLogger(__name__)
router = APIRouter(tags=["script rewriting"])


class Message(BaseModel):
    role: str
    # text, or OpenAI-style parts: {"type": "text", "text": …}, {"type": "video_url", "video_url": {"url": …}}
    content: str | list[dict[str, Any]]


class Completion(BaseModel):
    model: str
    messages: list[Message] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    stream: bool = False


def _complete(body: Completion, owner: Owner, services: ServicesDep) -> Any:
    chat = services.engines.require_chat()
    offered = chat.models()
    if body.model not in offered:
        raise refusal(chat, body.model)
    messages = script_messages([(m.role, m.content) for m in body.messages], services.intake, services.storage,
                               services.engines.require_asr)
    request = ChatRequest(body.model, messages, body.temperature, body.top_p, body.max_tokens)
    completion_id, created = "chatcmpl-" + uuid.uuid4().hex, int(time.time())
    context = services.settings.chat.llamacpp_context
    if body.stream:
        pieces = iter(chat.stream(request))
        # The first piece is awaited here, so that a backend that is down or refuses the request is
        # answered with its HTTP error rather than a broken event stream.
        with _over_context(context):
            first = next(pieces, None)
        return StreamingResponse(_sse(_chain(first, pieces), completion_id, created, body.model),
                                 media_type="text/event-stream")
    with _over_context(context):
        result = chat.complete(request)
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                     "finish_reason": result.finish_reason}],
        "usage": {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                  "total_tokens": result.prompt_tokens + result.completion_tokens},
    }


@contextlib.contextmanager
def _over_context(default_context: int) -> Iterator[None]:
    """Turn a backend's "too long for my context" refusal (llama-server's raw JSON) into a sentence."""
    try:
        yield
    except InvalidInput as e:
        if not _CONTEXT_ERROR.search(e.message):
            raise
        found = re.search(r'"n_ctx"\s*:\s*(\d+)|maximum context length is (\d+)', e.message)
        context = int(found.group(1) or found.group(2)) if found else default_context
        raise InvalidInput(f"the messages are longer than the model's context of {context} tokens; "
                           "shorten them.") from e


# llama-server: "exceed_context_size_error" / "exceeds the available context size"; OpenAI: "context_length_exceeded".
_CONTEXT_ERROR = re.compile(r"exceed_context_size|exceeds the available context|context_length_exceeded")


def _chain(first: str | None, rest: Iterator[str]) -> Iterator[str]:
    if first is not None:
        yield first
        yield from rest


def _sse(pieces: Iterator[str], completion_id: str, created: int, model: str) -> Iterator[str]:
    def event(delta: dict[str, str], finish: str | None) -> str:
        chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant"}, None)
    try:
        for piece in pieces:
            yield event({"content": piece}, None)
    except DigihumanError as e:  # the status line has gone out: tell the client in the stream, as OpenAI does
        log.warning("chat stream broke off", extra={"error": e.message})
        yield f"data: {json.dumps({'error': {'message': e.message, 'code': e.status}}, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"
        return
    yield event({}, "stop")
    yield "data: [DONE]\n\n"


router.post("/v1/chat/completions")(_complete)
router.post("/chat/completions")(_complete)


@router.get("/v1/models")
def models(owner: Owner, services: ServicesDep) -> dict[str, Any]:
    chat = services.engines.require_chat()
    return {"object": "list",
            "data": [{"id": name, "object": "model", "created": 0, "owned_by": "digihuman"} for name in chat.models()]}
