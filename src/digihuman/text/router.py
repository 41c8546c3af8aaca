"""One ChatModel over several backends, each request going to the backend that offers its model name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from digihuman.errors import DigihumanError, EngineUnavailable, InvalidInput
from digihuman.text.base import ChatModel, ChatRequest, ChatResult, PromptRequest


class ChatRouter:
    """Routes by model name; the first backend offering a name wins. Also a TextModel for its backends'."""

    def __init__(self, backends: Sequence[ChatModel], missing: Mapping[str, str] | None = None) -> None:
        self.backends = list(backends)
        # Models this server would offer once something is installed (not listed): name -> how to get it.
        self.missing = dict(missing or {})

    def models(self) -> list[str]:
        seen: dict[str, None] = {}
        for backend in self.backends:
            seen.update(dict.fromkeys(backend.models()))
        return list(seen)

    def backend(self, model: str) -> ChatModel:
        for backend in self.backends:
            if model in backend.models():
                return backend
        raise refusal(self, model)

    def complete(self, request: ChatRequest) -> ChatResult:
        return self.backend(request.model).complete(request)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        return self.backend(request.model).stream(request)

    def continues_text(self, model: str) -> bool:
        check = getattr(self.backend(model), "continues_text", None)
        return bool(check and check(model))

    def reasons(self, model: str) -> bool:
        check = getattr(self.backend(model), "reasons", None)
        return bool(check and check(model))

    def complete_prompt(self, request: PromptRequest) -> ChatResult:
        return self._text_backend(request.model).complete_prompt(request)

    def stream_prompt(self, request: PromptRequest) -> Iterator[str]:
        return self._text_backend(request.model).stream_prompt(request)

    def _text_backend(self, model: str):  # type: ignore[no-untyped-def]
        backend = self.backend(model)
        if not hasattr(backend, "complete_prompt"):
            raise InvalidInput(f"model {model!r} takes chat messages, not a raw prompt.")
        return backend


def refusal(chat: ChatModel, model: str, field: str = "model") -> DigihumanError:
    """The error for a ``model`` that ``chat`` does not offer: 503 with how to install it where the server
    knows it but lacks its package (the bundled model without the chat extra), else 400 listing the offer."""
    missing = getattr(chat, "missing", {})
    if model in missing:
        return EngineUnavailable(f"the {field} {model!r}", missing[model])
    offered = ", ".join(chat.models()) or "none"
    return InvalidInput(f"unknown {field} {model!r}; this server offers: {offered} (GET /v1/models).")
