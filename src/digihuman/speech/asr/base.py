"""The speech-recognition protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from digihuman.timeline import Word

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Segment:
    """A stretch of speech as the recogniser decoded it: a phrase or sentence, with its decoding scores."""

    start: float  # seconds from the start of the audio
    end: float
    text: str
    seek: int = 0  # where the decoding window began, in 10 ms frames
    tokens: tuple[int, ...] = ()  # the recogniser's token ids
    temperature: float = 0.0  # sampling temperature the decoder settled on
    avg_logprob: float = 0.0  # mean token log-probability (below -1: doubtful)
    compression_ratio: float = 1.0  # of the text under gzip (above 2.4: repetitive, probably invented)
    no_speech_prob: float = 0.0  # probability that nobody speaks in the window


@dataclass(frozen=True)
class Transcript:
    """What was said: text, language, timed words (characters for Chinese) and decoded segments."""

    text: str
    language: str  # ISO 639-1, e.g. "en", "zh"
    duration: float
    words: tuple[Word, ...] = field(default=())
    language_probability: float | None = None
    segments: tuple[Segment, ...] = field(default=())


class Recognizer(Protocol):
    """Turns speech audio into a timed transcript."""

    def transcribe(self, audio: Path | np.ndarray, language: str | None = None) -> Transcript:
        """Recognise ``audio`` (any format PyAV reads, or mono 16 kHz float32 samples a job has
        decoded already); ``language`` is a hint, detected when None."""
