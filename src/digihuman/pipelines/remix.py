"""The video-remix job."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from digihuman.progress import scaled
from digihuman.remix.base import RemixRequest
from digihuman.pipelines.speech import speech_chunks
from digihuman.speech.tts.base import AudioChunk
from digihuman.tasks.context import JobContext


def remix(ctx: JobContext) -> dict[str, Any]:
    remixer = ctx.services.engines.require_remixer()
    inputs = ctx.inputs
    request = RemixRequest(
        video=ctx.input_path(inputs["video_key"]),
        script=inputs.get("text_content"),
        floating_text=tuple(inputs.get("custom_floating_text") or ()),
        rewrite=inputs.get("rewrite"),
        transforms=inputs.get("transforms") or {},
        subtitle_style=inputs.get("subtitle_style") or {},
        music=ctx.input_path(inputs["music_key"]) if inputs.get("music_key") else None,
    )
    voice = inputs.get("voice")
    speak_fn = None
    if voice:

        def speak_fn(text: str) -> Iterator[AudioChunk]:
            return speech_chunks(ctx.services, voice, text, ctx.task.owner)

    out_dir = ctx.workdir / "out"
    out_dir.mkdir()
    result = remixer.remix(request, out_dir, scaled(ctx.progress, 0, 97), speak_fn)
    return {"video": ctx.store_output("remix.mp4", result.video), "duration_s": result.duration_s}
