"""Live speech: what the avatar says next, as sound and the library mouth of every model frame.

One :class:`Utterance` is a sentence of synthesised speech, or a block of audio a client streams.
Its mouths are planned exactly as an offline render plans them (:func:`digihuman.render.video.plan_render`:
the person's learned mapping, then unit selection), over that utterance alone — selection never looks
further ahead than the sentence or block being planned. Streamed audio has no text: its timeline
comes from the sound (the acoustic method of :mod:`digihuman.speech.align`), and each block is planned
with the sound around it (:mod:`digihuman.live.blocks`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from digihuman.live.frames import window_frames
from digihuman.render.avatar import AvatarModel
from digihuman.speech.tts.base import AudioChunk

if TYPE_CHECKING:
    from digihuman.live.blocks import AudioBlock

RATE = 16000  # the analysis rate of digihuman.speech.align, and the live stream's sound


@dataclass(frozen=True)
class Utterance:
    """Sound to play and the mouth to show over it."""

    text: str  # what is said ("" for streamed audio)
    samples: np.ndarray  # float32 mono at RATE
    mouth: np.ndarray  # (T,) library row per model frame; frame 0 lies ``offset_s`` before samples[0]
    fps: float  # the model's frame rate (the plan's)
    offset_s: float = 0.0
    generation: int = 0  # interrupts seen when it was made: an older one is never played
    announce: bool = True  # a "speaking" event marks its start (not for every block of one stream)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / RATE

    def mouth_at(self, seconds: float) -> int:
        """Library row shown ``seconds`` into the utterance."""
        # a frame's own start time times fps is not always a whole number in floating point
        # (0.04 * 29 * 25 = 28.999…): without the nudge one frame in twenty showed the one before
        j = int((seconds + self.offset_s) * self.fps + 1e-6)
        return int(self.mouth[min(max(j, 0), len(self.mouth) - 1)])


class MouthPlanner:
    """Plans utterances on one avatar model (its arrays are loaded once)."""

    def __init__(self, model: AvatarModel) -> None:
        self.model = model

    def plan(self, samples: np.ndarray, timeline, first_frame: int) -> np.ndarray:  # noqa: ANN001 - Timeline
        """Library rows of ``samples`` (with ``timeline``), to be shown from model frame ``first_frame``
        of the footage on (whose head pose the mouths should match)."""
        from digihuman.render.video import plan_render
        from digihuman.speech.align import mouth_track

        mouth = mouth_track(timeline, self.model.fps)
        background = window_frames(self.model.background[1], first_frame, len(mouth))
        return plan_render(self.model, samples, timeline, mouth, background=background).mouth

    def sentence(self, chunks: list[AudioChunk], text: str, first_frame: int, generation: int) -> Utterance:
        """A sentence of synthesised speech: its own phones time the mouth (no recognition)."""
        from digihuman.media.audio import resample
        from digihuman.speech.align import timeline_from_tts

        samples = np.concatenate([resample(np.asarray(c.samples, np.float32), c.sample_rate, RATE)
                                  for c in chunks]).astype(np.float32)
        timeline = timeline_from_tts(chunks)
        return Utterance(text, samples, self.plan(samples, timeline, first_frame), self.model.fps,
                         generation=generation)

    def block(self, block: AudioBlock, first_frame: int, generation: int) -> Utterance:
        """A block of streamed audio, planned with the sound around it; only the block is played.
        A "speaking" event announces the stream's first block alone."""
        from digihuman.speech.align.timeline import default_builder

        whole = block.planned
        timeline = default_builder().from_samples(whole)
        k0 = max(0, first_frame - int(round(block.offset_s * self.model.fps)))
        return Utterance("", block.samples.astype(np.float32), self.plan(whole, timeline, k0), self.model.fps,
                         offset_s=block.offset_s, generation=generation, announce=block.index == 0)


# A sentence is spoken as soon as its end is seen in a streaming answer; a clause mark also ends a
# piece once it is this long, so a model that writes long sentences still starts talking early.
_CLAUSE = re.compile(r"[,，;；:：]\s")
LONG_PIECE = 120


def sentences(pieces: Iterable[str]) -> Iterator[str]:
    """Whole sentences of a text that arrives in pieces (a chat answer), each as soon as it is complete;
    the first one is cut as :func:`first_cut` says as soon as its cut is written."""
    from digihuman.speech.frontend import split_sentences

    buffer = ""
    first = True
    for piece in pieces:
        buffer += piece
        parts = split_sentences(buffer)
        if first and len(parts) == 1 and (cut := first_cut(parts[0])) is not None:
            # the first sentence is still being written: its first words need not wait for its end
            yield parts[0][:cut].strip()
            buffer = buffer[buffer.index(parts[0]) + cut:].lstrip()
            first = False
            continue
        # the last part may still grow; everything before it is finished
        if len(parts) > 1:
            yield from parts[:-1]
            buffer = buffer[buffer.rindex(parts[-1]):]  # as written: a trailing space still parts words
            first = False
        if len(buffer) > LONG_PIECE:
            cut = [m.end() for m in _CLAUSE.finditer(buffer)]
            if cut:
                yield buffer[: cut[-1]].strip()
                buffer = buffer[cut[-1]:].lstrip()
                first = False
    if buffer.strip():
        yield buffer.strip()


# Nothing is heard until the whole first piece is synthesised (about 0.2 s per second of speech on two
# shared cores, longer under load), so the first piece of every request is kept short: a first sentence
# longer than FIRST_PIECE is spoken from its first clause mark on, in two pieces, and one longer than
# LONG_FIRST without a clause mark from a word boundary before FIRST_WORDS (before a conjunction or
# preposition where there is one: the phrase reads on naturally). The first piece is never shorter than
# MIN_FIRST: the second is synthesised while it plays, and must be ready when it ends.
_FIRST_CLAUSE = re.compile(r"[,，;；:：、]\s?")
_PHRASE_START = re.compile(r"\s+(?=(?:about|after|and|as|at|because|before|but|for|from|if|in|into|of|on|or|since|"
                           r"so|than|that|to|until|when|where|which|while|who|with)\b)", re.IGNORECASE)
FIRST_PIECE = 24  # weighted characters (a Han character counts three: it takes about as long to say)
LONG_FIRST = 40
FIRST_WORDS = 32
MIN_FIRST = 12


def first_cut(text: str) -> int | None:
    """Where the first piece of speech ends when ``text`` is the first sentence (None: say it whole)."""
    from digihuman.speech.frontend.segment import HAN

    han = re.compile(f"[{HAN}]")
    weights = np.cumsum([3 if han.match(c) else 1 for c in text]) if text else np.zeros(0, int)
    if not len(weights) or weights[-1] <= FIRST_PIECE:
        return None

    def fits(end: int) -> bool:  # text[:end] is a first piece long enough, with something after it
        return weights[end - 1] >= MIN_FIRST and len(text) - end >= 4

    mark = next((m for m in _FIRST_CLAUSE.finditer(text) if m.start() > 0 and fits(m.start())), None)
    if mark is not None:
        return mark.end()
    if weights[-1] > LONG_FIRST:
        for boundary in (_PHRASE_START, re.compile(r"\s")):
            spaces = [m.start() for m in boundary.finditer(text) if m.start() > 0 and fits(m.start())
                      and weights[m.start() - 1] <= FIRST_WORDS]
            if spaces:
                return spaces[-1]
    return None


def quick_start(parts: Iterable[str]) -> Iterator[str]:
    """``parts`` with the first one cut where :func:`first_cut` says."""
    first = True
    for part in parts:
        if first and (cut := first_cut(part)) is not None:
            yield part[:cut].strip()
            part = part[cut:].strip()
        first = False
        yield part
