"""Voice jobs: train a voice model, speak text with one (the old create_audio flow)."""

from __future__ import annotations

from typing import Any

from digihuman.pipelines.speech import speak, voice_model_prefix
from digihuman.progress import scaled
from digihuman.speech.voices.base import VoiceTrainOptions
from digihuman.tasks.context import JobContext


def train(ctx: JobContext) -> dict[str, Any]:
    """Build a voice model from the uploaded samples and keep it in storage."""
    cloner = ctx.services.engines.require_voice_cloner()
    inputs = ctx.inputs
    model_dir = ctx.workdir / "voice"
    model_dir.mkdir()
    options = VoiceTrainOptions(
        train_mode=inputs.get("train_mode", "fast"),
        enhance=bool(inputs.get("enhance", False)),
        language=inputs.get("language"),
    )
    samples = [ctx.input_path(key) for key in inputs["sample_keys"]]
    info = cloner.train(samples, inputs.get("texts") or None, options, model_dir, scaled(ctx.progress, 0, 95))
    ctx.progress(96, "storing the voice model")
    model_id = inputs["voice_model_id"]
    ctx.services.storage.put_dir(voice_model_prefix(model_id), model_dir)
    ctx.services.catalog.set_voice_languages(model_id, list(info.languages))
    return {
        "voice_model_id": model_id,
        "languages": list(info.languages),
        "speech_seconds": info.speech_seconds,
        "warnings": list(info.warnings),
    }


def say(ctx: JobContext) -> dict[str, Any]:
    """Speak a text with a voice model into a WAV file."""
    ctx.progress(5, "synthesising speech")
    out = ctx.workdir / "speech.wav"
    duration = speak(ctx.services, ctx.inputs["voice_id"], ctx.inputs["text"], out, ctx.task.owner)
    return {"audio": ctx.store_output("speech.wav", out), "duration_s": duration}
