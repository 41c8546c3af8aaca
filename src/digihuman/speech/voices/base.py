"""The voice-cloning protocol: build a voice model from samples, speak with it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from digihuman.progress import Progress
from digihuman.speech.tts.base import AudioChunk, SpeechOptions


@dataclass(frozen=True)
class VoiceTrainOptions:
    """How to build a voice model."""

    train_mode: Literal["fast", "full"] = "fast"  # full: a longer optimisation for closer similarity
    enhance: bool = False  # trim silence, denoise and normalise the samples first
    language: str | None = None  # hint; detected from the samples when None


@dataclass(frozen=True)
class VoiceModelInfo:
    """What training produced, beside the files written to the model folder."""

    languages: tuple[str, ...]
    speech_seconds: float
    warnings: tuple[str, ...] = field(default=())


class VoiceCloner(Protocol):
    """Builds voice models and speaks any text in them."""

    def train(
        self,
        samples: list[Path],
        texts: list[str] | None,
        options: VoiceTrainOptions,
        model_dir: Path,
        progress: Progress,
    ) -> VoiceModelInfo:
        """Write a voice model into ``model_dir`` from speech ``samples`` (transcripts optional)."""

    def synthesize(self, model_dir: Path, text: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        """Speak ``text`` in the voice stored in ``model_dir``."""
