"""One job's speech, decoded once: the samples, and whatever is known of what they say.

A job builds one :class:`Speech` and hands it to every stage (the talking head, the remix), so
no stage decodes the sound again or recognises words that the synthesiser or the user already
gave. How much is known decides how the mouth is timed (``speech.align.timeline``):

    timeline known   text-to-speech: the synthesiser's own phones             no recognition
    text known       the user's audio with its words: forced alignment        no recognition
    nothing known    the user's audio alone: the recogniser finds the words
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from digihuman.speech.tts.base import AudioChunk
    from digihuman.timeline import Timeline


@dataclass(frozen=True, eq=False)
class Speech:
    """Speech to say: mono float32 samples and what is known of them. Made once per job."""

    samples: np.ndarray  # mono float32 in [-1, 1]
    sample_rate: int
    language: str | None = None  # "en", "zh", ...; None: unknown (detected or guessed from the text)
    text: str | None = None  # the words said, when known (a script, the synthesised text)
    timeline: Timeline | None = None  # the words, phones and visemes, when known (text-to-speech)
    # copies at other rates (16 kHz analysis, 48 kHz soundtrack), each made once
    _rates: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    @property
    def duration(self) -> float:
        """Seconds of sound."""
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0

    def at(self, rate: int) -> np.ndarray:
        """The samples at ``rate`` (resampled once, then kept)."""
        if rate == self.sample_rate:
            return self.samples
        if rate not in self._rates:
            from digihuman.media.audio import resample

            self._rates[rate] = resample(self.samples, self.sample_rate, rate).astype(np.float32, copy=False)
        return self._rates[rate]

    def with_timeline(self, timeline: Timeline) -> Speech:
        """The same speech with its timeline known."""
        return replace(self, timeline=timeline)

    @classmethod
    def from_file(cls, path: Path, *, text: str | None = None, language: str | None = None) -> Speech:
        """Decode ``path`` (any audio, or a video's sound track); ``text``: what it says, when known.

        Raises MediaRejected when the file has no sound track or cannot be decoded."""
        from digihuman.media.audio import decode_audio

        samples, rate = decode_audio(Path(path))
        text = text.strip() if text else None
        return cls(samples, rate, language=language or None, text=text or None)

    @classmethod
    def from_chunks(cls, chunks: Iterable[AudioChunk], *, text: str | None = None,
                    language: str | None = None) -> Speech:
        """Synthesised speech (``AudioChunk``s in order), its timeline from the phones the chunks carry.

        A chunk without phones is aligned to its own text; nothing is recognised. Raises
        ValueError when no audio came out.
        """
        from digihuman.media.audio import resample
        from digihuman.speech.align import timeline_from_tts

        spoken = list(chunks)
        if not spoken or not any(len(c.samples) for c in spoken):
            raise ValueError("no audio was produced")
        rate = spoken[0].sample_rate
        samples = np.concatenate([resample(np.asarray(c.samples, np.float32), c.sample_rate, rate)
                                  for c in spoken]).astype(np.float32, copy=False)
        timeline = timeline_from_tts(spoken)
        said = text if text is not None else " ".join(c.text for c in spoken if c.text)
        if language is None and timeline.language != "und":
            language = timeline.language
        return cls(samples, rate, language=language, text=said.strip() or None, timeline=timeline)
