"""Voice jobs: train a voice model, speak text with one (the old create_audio flow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from digihuman.pipelines.speech import speak, voice_model_prefix
from digihuman.progress import scaled
from digihuman.speech.voices.base import VoiceTrainOptions
from digihuman.tasks.context import JobContext
from digihuman.tasks.payloads import VoiceSayPayload, VoiceTrainPayload


def train(ctx: JobContext[VoiceTrainPayload]) -> dict[str, Any]:
    """Build a voice model from the uploaded samples and keep it in storage."""
    cloner = ctx.engines.require_voice_cloner()
    payload = ctx.payload
    model_dir = ctx.workdir / "voice"
    model_dir.mkdir()
    options = VoiceTrainOptions(train_mode=payload.train_mode, enhance=payload.enhance, language=payload.language)
    samples = _named(ctx, list(payload.sample_keys), list(payload.sample_names))
    info = cloner.train(samples, list(payload.texts) if payload.texts else None, options, model_dir,
                        scaled(ctx.progress, 0, 95))
    ctx.progress(96, "storing the voice model")
    model_id = payload.voice_model_id
    ctx.storage.put_dir(voice_model_prefix(model_id), model_dir)
    ctx.catalog.set_voice_languages(model_id, list(info.languages))
    return {
        "voice_model_id": model_id,
        "languages": list(info.languages),
        "speech_seconds": info.speech_seconds,
        "warnings": list(info.warnings),
    }


def _named(ctx: JobContext[VoiceTrainPayload], keys: list[str], names: list[str]) -> list[Path]:
    """The stored samples under the names they were uploaded with, so that messages about one name it."""
    out = []
    for i, key in enumerate(keys):
        stored = ctx.input_path(key)
        name = Path(names[i] if i < len(names) else "").name.strip()[:100]
        if not name or name.startswith("."):
            out.append(stored)  # no usable name: messages then say "sample 2 of 3"
            continue
        if Path(name).suffix.lower() != stored.suffix.lower():
            name += stored.suffix  # FFmpeg guesses formats from suffixes too: keep the one probing found
        link = ctx.workdir / "samples" / str(i) / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(stored.resolve())
        out.append(link)
    return out


def say(ctx: JobContext[VoiceSayPayload]) -> dict[str, Any]:
    """Speak a text with a voice model into a WAV file."""
    out = ctx.workdir / "speech.wav"
    duration = speak(ctx, ctx.payload.voice_id, ctx.payload.text, out, ctx.task.owner, scaled(ctx.progress, 5, 95))
    ctx.progress(96, "storing the speech")
    return {"audio": ctx.store_output("speech.wav", out), "duration_s": duration}
