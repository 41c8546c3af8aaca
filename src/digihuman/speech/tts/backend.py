"""What one synthesis engine offers the catalogue: its voices, and speech for one run of text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from digihuman.speech.tts.base import SpeechOptions, Voice
from digihuman.timeline import Phone

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Utterance:
    """Speech for one run of normalised text: mono float32 samples and, when known, its phones."""

    samples: np.ndarray
    sample_rate: int
    phones: tuple[Phone, ...] = ()  # times in seconds from the start of ``samples``

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


class SpeechBackend(Protocol):
    """One engine behind :class:`~digihuman.speech.tts.catalogue.SpeechCatalogue`.

    It is given text already normalised for its language and in one script; it loads
    its model on the first call and keeps it.
    """

    def voices(self) -> list[Voice]:
        """The voices this engine speaks with."""

    def speak(self, text: str, voice_id: str, options: SpeechOptions) -> Utterance:
        """``text`` spoken by ``voice_id`` (one of :meth:`voices`)."""
