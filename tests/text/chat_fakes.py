"""Small chat backends behind the real protocols, that answer like real models do (preambles, traces)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from digihuman.text.base import ChatRequest, ChatResult, PromptRequest


@dataclass
class ScriptedModel:
    """A TextModel whose answer is ``answer(text)`` of the script it was asked about.

    As a base model (``base=True``) it continues few-shot prompts: the script is what follows the
    last "原文：" / "Original: " label, and the answer is cut at the request's stop strings, as
    llama-server does. As a chat model, the script is the last user message. It records every request
    and streams its answer in pieces of ``piece`` characters.
    """

    name: str = "scripted"
    base: bool = True
    answer: object = staticmethod(lambda script: script.upper())  # type: ignore[assignment]
    piece: int = 3
    requests: list[object] = field(default_factory=list)

    def models(self) -> list[str]:
        return [self.name]

    def continues_text(self, model: str) -> bool:
        return self.base

    def complete(self, request: ChatRequest) -> ChatResult:
        text = "".join(self.stream(request))
        return ChatResult(text, sum(len(m.content) for m in request.messages), len(text))

    def stream(self, request: ChatRequest) -> Iterator[str]:
        self.requests.append(request)
        script = [m.content for m in request.messages if m.role == "user"][-1]
        yield from _pieces(self.answer(script), self.piece)  # type: ignore[operator]

    def complete_prompt(self, request: PromptRequest) -> ChatResult:
        text = "".join(self.stream_prompt(request))
        return ChatResult(text, len(request.prompt), len(text))

    def stream_prompt(self, request: PromptRequest) -> Iterator[str]:
        self.requests.append(request)
        label = "原文：" if "原文：" in request.prompt else "Original: "
        script = request.prompt.rsplit(label, 1)[1].split("\n", 1)[0]
        text = self.answer(script)  # type: ignore[operator]
        for stop in request.stop:
            text = text.split(stop, 1)[0]
        yield from _pieces(text, self.piece)


def _pieces(text: str, size: int) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i:i + size]
