"""The one place where engine backends are chosen, for the API server and workers alike.

Engines load their models lazily, on first use, so building this set is cheap;
each process builds it once and keeps it. ``DIGIHUMAN_ENGINE_FACTORY`` may name
another builder ('module:function' taking Settings) to plug in other backends.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from digihuman.config import Settings
from digihuman.errors import EngineUnavailable, InvalidInput
from digihuman.remix.base import Remixer
from digihuman.render.base import TalkingHead
from digihuman.speech.tts.base import TextToSpeech
from digihuman.speech.voices.base import VoiceCloner
from digihuman.text.base import ChatModel

T = TypeVar("T")


@dataclass(frozen=True)
class Engines:
    """The engines this process can use; None where none is installed."""

    tts: TextToSpeech | None = None
    voice_cloner: VoiceCloner | None = None
    talking_head: TalkingHead | None = None
    chat: ChatModel | None = None
    remixer: Remixer | None = None

    def require_tts(self) -> TextToSpeech:
        return _require(self.tts, "text-to-speech")

    def require_voice_cloner(self) -> VoiceCloner:
        return _require(self.voice_cloner, "voice cloning")

    def require_talking_head(self) -> TalkingHead:
        return _require(self.talking_head, "the talking-head renderer")

    def require_chat(self) -> ChatModel:
        return _require(self.chat, "script rewriting (chat)")

    def require_remixer(self) -> Remixer:
        return _require(self.remixer, "video remix")


def _require(engine: T | None, name: str) -> T:
    if engine is None:
        raise EngineUnavailable(name)
    return engine


def build_engines(settings: Settings) -> Engines:
    """Engines for this process, from ``settings.engine_factory`` or the built-in backends."""
    if settings.engine_factory:
        return _load_factory(settings.engine_factory)(settings)
    # Built-in backends register here as they are implemented.
    return Engines()


def _load_factory(spec: str) -> Callable[[Settings], Engines]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidInput(f"DIGIHUMAN_ENGINE_FACTORY must look like 'package.module:function', not {spec!r}.")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise InvalidInput(f"DIGIHUMAN_ENGINE_FACTORY {spec!r} cannot be loaded: {e}.") from e
