"""The one place where engine backends are chosen, for the API server and workers alike.

Engines load their models lazily, on first use, so building this set is cheap;
each process builds it once and keeps it. ``DIGIHUMAN_ENGINE_FACTORY`` may name
another builder ('module:function' taking Settings) to plug in other backends.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from digihuman.config import Settings
from digihuman.errors import EngineUnavailable, InvalidInput
from digihuman.remix.base import Remixer
from digihuman.render.base import TalkingHead
from digihuman.speech.asr.base import Recognizer
from digihuman.speech.tts.base import TextToSpeech
from digihuman.speech.voices.base import VoiceCloner
from digihuman.text.base import ChatModel

T = TypeVar("T")


@dataclass(frozen=True)
class Engines:
    """The engines this process can use; None where none is installed."""

    tts: TextToSpeech | None = None
    asr: Recognizer | None = None
    voice_cloner: VoiceCloner | None = None
    talking_head: TalkingHead | None = None
    chat: ChatModel | None = None
    remixer: Remixer | None = None

    def require_tts(self) -> TextToSpeech:
        return _require(self.tts, "text-to-speech")

    def require_asr(self) -> Recognizer:
        return _require(self.asr, "speech recognition")

    def require_voice_cloner(self) -> VoiceCloner:
        return _require(self.voice_cloner, "voice cloning")

    def require_talking_head(self) -> TalkingHead:
        return _require(self.talking_head, "the talking-head renderer")

    def require_chat(self) -> ChatModel:
        from digihuman.text.gguf_models import CHAT_EXTRA_HINT

        return _require(self.chat, "script rewriting (chat)", CHAT_EXTRA_HINT)

    def require_remixer(self) -> Remixer:
        return _require(self.remixer, "video remix")


def _require(engine: T | None, name: str, hint: str = "") -> T:
    if engine is None:
        raise EngineUnavailable(name, hint)
    return engine


def build_engines(settings: Settings, only: frozenset[str] | None = None) -> Engines:
    """Engines for this process, from ``settings.engine_factory`` or the built-in backends.

    ``only`` names the Engines fields to build (a worker of some groups, see tasks/kinds.py); the
    others stay None and their modules are never imported, so e.g. a speech worker loads no renderer.
    """
    if settings.engine_factory:
        return _load_factory(settings.engine_factory)(settings)
    wanted = (lambda name: True) if only is None else only.__contains__
    tts = _speech() if wanted("tts") else None
    asr = _recognizer(settings) if wanted("asr") else None
    talking_head = _talking_head(asr) if wanted("talking_head") else None
    chat = _chat(settings) if wanted("chat") else None
    voice_cloner = _voice_cloner(settings, tts, asr) if wanted("voice_cloner") else None
    remixer = _remixer(asr, talking_head, chat) if wanted("remixer") else None
    return Engines(tts=tts, asr=asr, voice_cloner=voice_cloner, talking_head=talking_head, chat=chat,
                   remixer=remixer)


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def _speech() -> TextToSpeech | None:
    from digihuman.speech.tts.catalogue import SpeechCatalogue

    catalogue = SpeechCatalogue.installed()
    return catalogue if catalogue.backends else None


def _chat(settings: Settings) -> ChatModel | None:
    from digihuman.text import gguf_models
    from digihuman.text.llamacpp import LlamaCppChat, LocalModel, ServerOptions
    from digihuman.text.presets import RewritePresets
    from digihuman.text.router import ChatRouter

    chat, models_dir = settings.chat, settings.models_dir
    backends: list[ChatModel] = []
    if chat.base_url and chat.models:
        from digihuman.text.openai import OpenAIChat, OpenAIEndpoint

        backends.append(OpenAIChat(OpenAIEndpoint(chat.base_url, chat.api_key, tuple(chat.models), chat.timeout_s,
                                                  retries=chat.retries)))
    # Local models, best first: the operator's own GGUFs, installed optional models, the bundled Gemma.
    local = [LocalModel(name, lambda path=path: path) for name, path in chat.llamacpp.items()]
    local += [LocalModel(m.name, lambda m=m: gguf_models.optional_path(models_dir, m.name), base=False,
                         reasoning=m.reasoning) for m in gguf_models.installed_optional(models_dir)]
    # Without the chat extra the bundled model is not offered; asking for it says how to install it.
    missing: dict[str, str] = {}
    if chat.bundled and gguf_models.gemma_installed():
        local.append(LocalModel(gguf_models.GEMMA_NAME, lambda: gguf_models.gemma_path(models_dir), base=True,
                                reasoning=False))
    elif chat.bundled:
        missing[gguf_models.GEMMA_NAME] = gguf_models.CHAT_EXTRA_HINT
    if local:
        backends.append(LlamaCppChat(local, ServerOptions(
            binary=chat.llamacpp_server, threads=chat.llamacpp_threads, context=chat.llamacpp_context,
            timeout_s=chat.llamacpp_timeout_s, retries=chat.retries, log_dir=settings.data_dir / "logs")))
    if not backends:
        return None
    router = ChatRouter(backends, missing)
    rewrite_model = chat.rewrite_model or (chat.models[0] if chat.base_url and chat.models else local[0].name)
    if rewrite_model in missing:
        raise InvalidInput(f"DIGIHUMAN_CHAT__REWRITE_MODEL names {rewrite_model!r}, which is not installed; "
                           f"{missing[rewrite_model]}.")
    if rewrite_model not in router.models():
        raise InvalidInput(f"DIGIHUMAN_CHAT__REWRITE_MODEL names {rewrite_model!r}, which no chat backend offers; "
                           f"choose one of {', '.join(router.models())}.")
    return ChatRouter([RewritePresets(router, rewrite_model), router], missing)


def _recognizer(settings: Settings) -> Recognizer | None:
    from digihuman.speech.asr import whisper_models

    if not (_installed("faster_whisper") and whisper_models.installed()):
        return None
    from digihuman.speech.asr.whisper import WhisperRecognizer

    return WhisperRecognizer(cache_dir=settings.models_dir)


def _talking_head(asr: Recognizer | None) -> TalkingHead | None:
    if not _installed("mediapipe", "cv2", "pocketsphinx"):
        return None
    from digihuman.render.engine import SampleTalkingHead

    # The recogniser gives words, so English speech is aligned phone by phone (better lip sync).
    return SampleTalkingHead(recognizer=asr)


def _voice_cloner(settings: Settings, tts: TextToSpeech | None, asr: Recognizer | None) -> VoiceCloner | None:
    if tts is None or not _installed("pyworld"):
        return None
    from digihuman.speech.voices.world import WorldVoiceCloner

    # Stock voices speak the text; WORLD converts it into the target's voice. The recogniser
    # detects the samples' language when no transcript or hint gives it, hears their words when
    # no transcript is given, and aligns the stock voice saying them with the samples (fast training).
    return WorldVoiceCloner(tts, asr, settings.models_dir / "stock-voices")


def _remixer(asr: Recognizer | None, talking_head: TalkingHead | None, chat: ChatModel | None) -> Remixer | None:
    # Subtitles are timed by the recogniser and drawn with the bundled CJK font: both are needed;
    # lip sync (talking head) and rewriting (chat) are used when present.
    if asr is None or not _installed("av", "cv2", "PIL", "cvttf_NotoSansCJK_Regular"):
        return None
    from digihuman.remix.engine import VideoRemixer

    return VideoRemixer(recognizer=asr, talking_head=talking_head, chat=chat)


def _load_factory(spec: str) -> Callable[[Settings], Engines]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidInput(f"DIGIHUMAN_ENGINE_FACTORY must look like 'package.module:function', not {spec!r}.")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise InvalidInput(f"DIGIHUMAN_ENGINE_FACTORY {spec!r} cannot be loaded: {e}.") from e
