"""Re-dubbing: the script (rewritten first when asked) spoken by a voice, and the face made to say it.

Rewrite styles are model names of the chat engine: "default" → ``rewrite-口播`` (a spoken-video
script), "xiaohongshu" → ``rewrite-xiaohongshu``, "formal" → ``rewrite-formal``, any other name
``rewrite-<name>``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from digihuman.errors import BackendFailed, EngineUnavailable, InvalidInput, MediaRejected
from digihuman.media.audio import write_wav
from digihuman.progress import Progress
from digihuman.remix.base import SpeakFn
from digihuman.render.base import RenderOptions, TalkingHead
from digihuman.text.base import ChatMessage, ChatModel, ChatRequest

log = logging.getLogger(__name__)
PRESETS = {"default": "rewrite-口播", "xiaohongshu": "rewrite-xiaohongshu", "formal": "rewrite-formal"}


def preset(style: str) -> str:
    """The chat model name of a rewrite style."""
    return PRESETS.get(style, style if style.startswith("rewrite-") else f"rewrite-{style}")


def rewrite(chat: ChatModel | None, script: str, style: str) -> str:
    """``script`` rewritten by the chat engine's preset for ``style``."""
    if chat is None:
        raise EngineUnavailable("script rewriting (chat)", "configure DIGIHUMAN_CHAT__* or send rewrite: false")
    model = preset(style)  # an unknown preset is refused by the chat engine, naming the model
    text = chat.complete(ChatRequest(model=model, messages=(ChatMessage("user", script),))).text.strip()
    if not text:
        raise BackendFailed(f"The rewrite model {model!r} returned no text; try again or send rewrite: false.")
    return text


def speak(speak_fn: SpeakFn, script: str, path: Path) -> float:
    """Speak ``script`` into the WAV file ``path``; its length in seconds."""
    try:
        return write_wav(speak_fn(script), path)
    except ValueError as e:  # nothing came out
        raise InvalidInput("text_content gave no speech: give the words to say.") from e


def lip_sync(talking_head: TalkingHead | None, video: Path, audio: Path, out_dir: Path,
             progress: Progress) -> Path | None:
    """``video``'s face saying ``audio`` (a video as long as the audio), or None when the video has
    no usable face (or is too short to learn one) or no talking-head engine is installed."""
    if talking_head is None:
        return None
    try:
        result = talking_head.render(video, audio, out_dir, RenderOptions(), progress)
    except MediaRejected as e:
        log.info("remix: no lip sync (%s); the footage is looped under the new speech instead", e.message)
        return None
    return Path(result.video)
