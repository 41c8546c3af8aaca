"""The text-to-speech protocol and the values it speaks in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from digihuman.timeline import Phone

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Voice:
    """A stock voice of the catalogue."""

    id: str  # stable id clients pass as reference_id / voice_engine_id, e.g. "en-joe"
    name: str
    language: str  # BCP 47, e.g. "en-US", "zh-CN"
    gender: Literal["male", "female", "neutral"]
    sample_rate: int
    description: str = ""


@dataclass(frozen=True)
class SpeechOptions:
    """How to speak; the same options serve stock and cloned voices."""

    chunk_length: int = 200  # characters per synthesis chunk (100-300); chunks stream as they are made
    sample_rate: int | None = None  # output rate; None keeps the voice's own
    latency: Literal["normal", "balanced"] = "normal"
    temperature: float | None = None  # sampling variation, for backends that have it
    top_p: float | None = None
    # speaking rate, 0.25-4.0: 2.0 says the same words in half the time, pauses included
    speed: float = 1.0


@dataclass(frozen=True)
class AudioChunk:
    """A piece of synthesised speech: mono float32 samples in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int
    text: str = ""  # the text this chunk speaks
    # Phones spoken, with times relative to the chunk's start, when the backend knows them;
    # lip sync then needs no alignment.
    phones: tuple[Phone, ...] = ()


class TextToSpeech(Protocol):
    """Speaks text with stock voices."""

    def voices(self) -> list[Voice]:
        """The voice catalogue."""

    def synthesize(self, text: str, voice_id: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        """Speak ``text``, yielding chunks as soon as each is ready."""
