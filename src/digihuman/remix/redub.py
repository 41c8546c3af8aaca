"""Re-dubbing: the script (rewritten first when asked) spoken by a voice, and the face made to say it.

Lip sync learns the face from the first :data:`LIPSYNC_WINDOW_S` seconds of the footage only (copied
out without re-encoding): learning costs about a second per second of video, while a dozen seconds
of a person talking already hold the mouth shapes speech needs; the talking head's own video is
written as a fast, nearly lossless intermediate, since the remix pass encodes it once more.

Rewrite styles are model names of the chat engine: "default" → ``rewrite-口播`` (a spoken-video
script), "xiaohongshu" → ``rewrite-xiaohongshu``, "formal" → ``rewrite-formal``, any other name
``rewrite-<name>``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from digihuman.errors import BackendFailed, EngineUnavailable, InvalidInput, MediaRejected
from digihuman.progress import Progress
from digihuman.remix.base import SpeakFn
from digihuman.render.base import RenderOptions, TalkingHead
from digihuman.speech.utterance import Speech
from digihuman.text.base import ChatMessage, ChatModel, ChatRequest

log = logging.getLogger(__name__)
LIPSYNC_WINDOW_S = 12.0  # seconds of footage the face is learned from
PRESETS = {"default": "rewrite-口播", "xiaohongshu": "rewrite-xiaohongshu", "formal": "rewrite-formal"}


def preset(style: str) -> str:
    """The chat model name of a rewrite style."""
    return PRESETS.get(style, style if style.startswith("rewrite-") else f"rewrite-{style}")


def rewrite(chat: ChatModel | None, script: str, style: str) -> str:
    """``script`` rewritten by the chat engine's preset for ``style``."""
    if chat is None:
        from digihuman.text.gguf_models import CHAT_EXTRA_HINT

        raise EngineUnavailable("script rewriting (chat)", f"{CHAT_EXTRA_HINT}, or send rewrite: false")
    model = preset(style)  # an unknown preset is refused by the chat engine, naming the model
    text = chat.complete(ChatRequest(model=model, messages=(ChatMessage("user", script),))).text.strip()
    if not text:
        raise BackendFailed(f"The rewrite model {model!r} returned no text; try again or send rewrite: false.")
    return text


def speak(speak_fn: SpeakFn, script: str) -> Speech:
    """``script`` spoken: the samples with the synthesiser's own timings (nothing is recognised)."""
    try:
        return Speech.from_chunks(speak_fn(script), text=script)
    except ValueError as e:  # nothing came out
        raise InvalidInput("text_content gave no speech: give the words to say.") from e


def lip_sync(talking_head: TalkingHead | None, video: Path, speech: Speech, out_dir: Path,
             progress: Progress) -> Path | None:
    """``video``'s face saying ``speech`` (a video as long as it), or None when the video has no
    usable face (or is too short to learn one) or no talking-head engine is installed."""
    if talking_head is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    face = first_seconds(video, LIPSYNC_WINDOW_S, out_dir / "face.mp4")
    try:
        result = talking_head.render(face, speech, out_dir, RenderOptions(intermediate=True), progress)
    except MediaRejected as e:
        log.info("remix: no lip sync (%s); the footage is looped under the new speech instead", e.message)
        return None
    return Path(result.video)


def first_seconds(video: Path, seconds: float, target: Path) -> Path:
    """The first ``seconds`` of ``video`` (picture and sound) copied into ``target`` without
    re-encoding; ``video`` itself when it is not much longer, or cannot be copied."""
    import av

    try:
        with av.open(str(video)) as source:
            if not source.streams.video or (source.duration or 0) / 1e6 <= seconds * 1.25:
                return video
            streams = [source.streams.video[0]] + list(source.streams.audio[:1])
            with av.open(str(target), "w") as out:
                copies = {s.index: out.add_stream_from_template(s) for s in streams}
                open_ = set(copies)
                # packets in decode order: stopping each stream at the first one due after the cut
                # keeps every reference frame the copied packets need
                for packet in source.demux(streams):
                    i = packet.stream.index
                    if i not in open_ or packet.dts is None:
                        continue
                    if float(packet.dts * packet.time_base) >= seconds:
                        open_.discard(i)
                        if not open_:
                            break
                        continue
                    packet.stream = copies[i]
                    out.mux(packet)
    except (av.error.FFmpegError, OSError, ValueError) as e:
        log.info("remix: the footage could not be cut for lip sync (%s); learning from all of it", e)
        return video
    return target
