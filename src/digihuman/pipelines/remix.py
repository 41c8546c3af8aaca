"""The video-remix job."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from digihuman.progress import scaled
from digihuman.remix.base import RemixRequest
from digihuman.pipelines.speech import speech_chunks
from digihuman.speech.tts.base import AudioChunk
from digihuman.tasks.context import JobContext
from digihuman.tasks.payloads import RemixPayload


def remix(ctx: JobContext[RemixPayload]) -> dict[str, Any]:
    remixer = ctx.engines.require_remixer()
    payload = ctx.payload
    request = RemixRequest(
        video=ctx.input_path(payload.video_key),
        script=payload.text_content,
        floating_text=payload.custom_floating_text,
        rewrite=payload.rewrite,
        transforms=payload.transforms,
        subtitle_style=payload.subtitle_style,
        music=ctx.input_path(payload.music_key) if payload.music_key else None,
    )
    voice = payload.voice
    speak_fn = None
    if voice:

        def speak_fn(text: str) -> Iterator[AudioChunk]:
            return speech_chunks(ctx, voice, text, ctx.task.owner)

    out_dir = ctx.workdir / "out"
    out_dir.mkdir()
    result = remixer.remix(request, out_dir, scaled(ctx.progress, 0, 97), speak_fn)
    return {"video": ctx.store_output("remix.mp4", result.video), "duration_s": result.duration_s}
