"""The speech-recognition protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from digihuman.timeline import Word


@dataclass(frozen=True)
class Transcript:
    """What was said: text, language and timed words (characters for Chinese)."""

    text: str
    language: str  # ISO 639-1, e.g. "en", "zh"
    duration: float
    words: tuple[Word, ...] = field(default=())
    language_probability: float | None = None


class Recognizer(Protocol):
    """Turns speech audio into a timed transcript."""

    def transcribe(self, audio: Path, language: str | None = None) -> Transcript:
        """Recognise ``audio`` (any format PyAV reads); ``language`` is a hint, detected when None."""
