"""The chat protocol behind script rewriting (OpenAI chat-completions semantics)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class PromptRequest:
    """Raw text for a base (not instruction-tuned) model to continue, e.g. a few-shot prompt."""

    model: str
    prompt: str
    stop: tuple[str, ...] = ()
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class ChatResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"


class ChatModel(Protocol):
    """Answers chat requests for the model names it offers."""

    def models(self) -> list[str]:
        """Model names clients may ask for."""

    def complete(self, request: ChatRequest) -> ChatResult:
        """The whole answer at once."""

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """The answer as text pieces, as they are generated."""


class TextModel(ChatModel, Protocol):
    """A ChatModel whose models can also continue raw text (base models want few-shot prompts)."""

    def continues_text(self, model: str) -> bool:
        """Whether ``model`` is a base model, best driven by raw prompts rather than chat turns."""

    def complete_prompt(self, request: PromptRequest) -> ChatResult:
        """The continuation of ``request.prompt``, at once."""

    def stream_prompt(self, request: PromptRequest) -> Iterator[str]:
        """The continuation of ``request.prompt``, as text pieces."""
