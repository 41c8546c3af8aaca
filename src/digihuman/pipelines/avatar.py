"""Talking-head jobs: render from a photo or video, train an avatar model, render from one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from digihuman.errors import NotFound
from digihuman.pipelines.speech import reporting, spoken
from digihuman.progress import scaled
from digihuman.render.base import RenderOptions, RenderResult
from digihuman.speech.tts.base import SpeechOptions
from digihuman.speech.utterance import Speech
from digihuman.speech.voices.base import VoiceTrainOptions
from digihuman.tasks.context import JobContext
from digihuman.tasks.payloads import AvatarFastPayload, AvatarGeneratePayload, AvatarTrainPayload


def avatar_model_prefix(model_id: str) -> str:
    return f"avatars/{model_id}"


def generate(ctx: JobContext[AvatarGeneratePayload]) -> dict[str, Any]:
    """Standard synthesis: the avatar (photo or video) says given audio, a stock voice or a cloned one.

    A video avatar is rendered through its avatar model (``avatar_model_id``, chosen at submit by the
    video's content hash): trained here and kept the first time, reused as it is afterwards.
    """
    head = ctx.engines.require_talking_head()
    speech = _speech(ctx)
    avatar = ctx.input_path(ctx.payload.avatar_key)
    model_id = ctx.payload.avatar_model_id
    if not model_id:
        return _render(ctx, head.render, avatar, speech, 20)
    model_dir, trained = _avatar_model(ctx, model_id, head, avatar)
    outputs = _render(ctx, head.render, model_dir, speech, 55 if trained else 20)
    return {**outputs, "avatar_model_id": model_id, "avatar_trained": trained}


def _avatar_model(ctx: JobContext[AvatarGeneratePayload], model_id: str, head: Any,
                  video: Path) -> tuple[Path, bool]:
    """The folder of the task's avatar model, and whether it had to be trained for this task."""
    prefix = avatar_model_prefix(model_id)
    try:
        return ctx.storage.local_dir(prefix), False
    except NotFound:
        pass
    model_dir = ctx.workdir / "model"
    model_dir.mkdir()
    with ctx.stage("training"):
        head.train(video, model_dir, scaled(ctx.progress, 20, 55))
    with ctx.stage("store"):
        ctx.storage.put_dir(prefix, model_dir)
    return model_dir, True


def render_fast(ctx: JobContext[AvatarFastPayload]) -> dict[str, Any]:
    """High-speed synthesis from a trained avatar model."""
    head = ctx.engines.require_talking_head()
    model_dir = ctx.storage.local_dir(avatar_model_prefix(ctx.payload.avatar_model_id))
    with ctx.stage("audio decoding"):
        speech = Speech.from_file(ctx.input_path(ctx.payload.audio_key))
    return _render(ctx, head.render, model_dir, speech, 0)


def train(ctx: JobContext[AvatarTrainPayload]) -> dict[str, Any]:
    """Build an avatar model from a talking video and keep it in storage."""
    head = ctx.engines.require_talking_head()
    model_id = ctx.payload.avatar_model_id
    model_dir = ctx.workdir / "model"
    model_dir.mkdir()
    with ctx.stage("training"):
        info = head.train(ctx.input_path(ctx.payload.video_key), model_dir, scaled(ctx.progress, 0, 95))
    ctx.progress(96, "storing the avatar model")
    with ctx.stage("store"):
        ctx.storage.put_dir(avatar_model_prefix(model_id), model_dir)
    return {
        "avatar_model_id": model_id,
        "cover": ctx.store_output("cover" + info.cover.suffix, info.cover),
        "frames": info.frames,
        "duration_s": info.duration_s,
        "warnings": list(info.warnings),
    }


def _speech(ctx: JobContext[AvatarGeneratePayload]) -> Speech:
    """The task's speech, made once: the given audio (with its words when the client sent them), or
    the text spoken by a stock, trained or freshly cloned voice (with the synthesiser's timings)."""
    payload = ctx.payload
    if payload.audio_key is not None:
        with ctx.stage("audio decoding"):
            return Speech.from_file(ctx.input_path(payload.audio_key), text=payload.text)
    if payload.use_voice is not None:
        voice = payload.use_voice
        with ctx.stage("speech synthesis"):
            return spoken(ctx, voice.voice_engine_id, voice.text, ctx.task.owner, language=voice.language,
                          progress=scaled(ctx.progress, 2, 19))
    clone = payload.create_voice
    assert clone is not None  # the payload holds exactly one source of speech
    cloner = ctx.engines.require_voice_cloner()
    model_dir = ctx.workdir / "voice"
    model_dir.mkdir()
    with ctx.stage("voice cloning"):
        cloner.train([ctx.input_path(clone.audio_key)], None,
                     VoiceTrainOptions(language=clone.language), model_dir,
                     scaled(ctx.progress, 0, 15))
    ctx.progress(16, "speaking with the cloned voice")
    with ctx.stage("speech synthesis"):
        chunks = cloner.synthesize(model_dir, clone.text, SpeechOptions())
        return Speech.from_chunks(reporting(chunks, len(clone.text), scaled(ctx.progress, 16, 19)),
                                  text=clone.text, language=clone.language)


def _render(
    ctx: JobContext[AvatarGeneratePayload] | JobContext[AvatarFastPayload], render: Callable[..., RenderResult],
    avatar: Path, speech: Speech, start: float,
) -> dict[str, Any]:
    out_dir = ctx.workdir / "out"
    out_dir.mkdir()
    payload = ctx.payload
    options = RenderOptions(
        quality=payload.quality,
        watermark=None if payload.no_watermark else ctx.settings.watermark_text,
        max_side=payload.resolution,
    )
    result: RenderResult = render(avatar, speech, out_dir, options, scaled(ctx.progress, start, 97))
    ctx.progress(98, "storing the video")
    return {
        "video": ctx.store_output("video.mp4", result.video),
        "cover": ctx.store_output("cover" + result.cover.suffix, result.cover),
        "preview": ctx.store_output("preview.webp", result.preview),
        "duration_s": result.duration_s,
    }
