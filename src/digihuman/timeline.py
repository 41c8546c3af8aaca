"""Time-coded values of speech: words, phones, visemes, and the timeline that holds them.

Times are seconds from the start of the audio. Every list is sorted by start
time and its items do not overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float | None = None


@dataclass(frozen=True)
class Phone:
    """A phone: ARPAbet for English (``AH0``), a pinyin initial or final for Mandarin (``zh``, ``ang``)."""

    symbol: str
    start: float
    end: float
    stressed: bool = False  # ARPAbet stress 1/2; Mandarin finals count as stressed
    openness: float | None = None  # how open the mouth sounds over the phone, 0..1, from the audio; None: unknown


@dataclass(frozen=True)
class Viseme:
    """A mouth shape held from ``start`` to ``end``; ``symbol`` is from ``speech.align.visemes.VISEMES``."""

    symbol: str
    start: float
    end: float
    weight: float = 1.0  # how strongly the shape is made, 0..1 (for the acoustic method: how open it sounds)


@dataclass(frozen=True)
class MouthTrack:
    """Per-frame continuous mouth targets at ``fps``, each in [0, 1].

    jaw: how far the jaw is open; width: lip spread (0 pursed, 0.5 rest, 1 wide);
    round: lip rounding/protrusion; teeth: how visible the upper teeth are.
    """

    fps: float
    jaw: tuple[float, ...]
    width: tuple[float, ...]
    round: tuple[float, ...]
    teeth: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.jaw)


@dataclass(frozen=True)
class Timeline:
    """Everything known about when what is said, for one audio."""

    duration: float
    language: str  # "en", "zh", or another code; "und" when unknown
    words: tuple[Word, ...] = field(default=())
    phones: tuple[Phone, ...] = field(default=())
    visemes: tuple[Viseme, ...] = field(default=())
    silences: tuple[tuple[float, float], ...] = field(default=())  # (start, end) spans with no speech
    method: str = ""  # how phones were found: "align", "pinyin", "acoustic", "tts" ("pauses": none were)


def divide(start: float, end: float, weights: Sequence[float]) -> list[tuple[float, float]]:
    """Cut ``start``..``end`` into consecutive spans proportional to ``weights``."""
    total = sum(weights)
    spans, t = [], start
    for weight in weights:
        step = (end - start) * weight / total
        spans.append((t, t + step))
        t += step
    return spans
