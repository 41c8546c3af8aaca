"""Parallel frames: the reference's own words said by the stock voice, paired frame by frame with it.

kNN across speakers compares a stock frame with frames of another voice, so its nearest frames
are often another sound, and the correction had to be averaged over 125-300 ms to keep the words
(see :func:`~digihuman.speech.voices.world.smoothing_for`). Here training has the stock voice say
what the reference says (its transcript, given or recognised) and aligns that rendition with the
recording by dynamic time warping on whisper's encoder states: they carry what is said and little
of who says it (mel-cepstra misaligned a woman's recording with the stock man's: whisper heard
64 % of the words wrong in the aligned frames, against 23 % on encoder states).

Converting new stock speech, each frame is matched against the rendition: the same voice, so
nearest means the same sound. It then takes the mean *difference* between the reference frames
paired with its nearest rendition frames and those rendition frames: how this speaker says that
sound unlike the stock voice (formants, spectral tilt, loudness). A difference rather than the
reference frames themselves keeps what the stock frame says when the nearest rendition frame is
a neighbouring sound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digihuman.speech.voices.features import RATE, Frames, analyse, with_context

KNN_DIMS = 25  # cepstral coefficients 1..24 are matched, as in the cross-speaker kNN
K = 8  # rendition frames whose differences are averaged per stock frame
DETAIL_K = 2  # reference frames averaged for the fine envelope (more average its detail away)
CONTEXT = 2  # frames each side that take part in matching
UNIT_S = 30.0  # recognised segments are aligned in pieces of at most this (whisper's window)
# Reference aligned in all. Hearing, saying and analysing the words costs about 0.7 s per second of
# reference on a busy 2-core machine; 30 s keeps fast training of a 60 s sample near 30 s, and the
# pairs of 30 s already hold most sounds (similarity +0.02-0.03 over the kNN alone at 38 s, against
# +0.05-0.09 at 6-11 s).
MAX_TOTAL_S = 30.0
_STEPS = 4  # the reference may advance 0..3 encoder frames per rendition frame (up to 3x slower)
_HOP = 4  # WORLD frames (5 ms) per encoder frame (20 ms)
_BLOCK = 1024
# Bounds of the speaking rate taken from the speaker: beyond them a sample's hesitations or a hurried
# reading would set every later sentence's pace.
SPEEDS = (0.8, 1.25)


@dataclass(frozen=True)
class ParallelFrames:
    """Stock-voice frames of the reference's words, each with how the reference's paired frame differs."""

    keys: np.ndarray  # (N, ORDER + 1) mel-cepstra of the stock voice saying the reference's words
    voiced: np.ndarray  # (N,) bool
    delta: np.ndarray  # (N, ORDER + 1) the paired reference frame's mel-cepstrum minus the key's
    # The speaker's speaking rate against the stock voice's on the same words (speech frames of the
    # rendition over the reference's; < 1: slower), 1.0 in models made before it was measured.
    speed: float = 1.0

    def __len__(self) -> int:
        return len(self.keys)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, keys=self.keys.astype(np.float32), voiced=self.voiced,
                            delta=self.delta.astype(np.float32), speed=np.float64(self.speed))

    @classmethod
    def load(cls, path: Path) -> ParallelFrames:
        with np.load(path) as data:
            speed = float(data["speed"]) if "speed" in data.files else 1.0
            return cls(data["keys"].astype(np.float64), data["voiced"].astype(bool),
                       data["delta"].astype(np.float64), speed)


class ParallelIndex:
    """Parallel frames indexed for nearest-frame search (built once per model load)."""

    def __init__(self, frames: ParallelFrames) -> None:
        self.frames = frames
        self._reference = frames.keys + frames.delta  # the reference's own paired frames
        keys = with_context(frames.keys[:, 1:KNN_DIMS], CONTEXT).astype(np.float32)
        self._pools = []
        for voiced in (True, False):
            rows = np.flatnonzero(frames.voiced == voiced)
            self._pools.append((rows, keys[rows], np.einsum("ij,ij->i", keys[rows], keys[rows])))

    def correction(self, source: Frames, own: float = 0.0) -> np.ndarray:
        """Per stock frame, the mean reference-minus-stock change of its ``K`` nearest rendition frames.

        ``own`` > 0 moves the result towards the reference's own paired frames themselves (kNN frame
        replacement): their mean envelope minus the stock frame's, with weight ``own``. Matching stays
        within the stock voice, so the replacing frames are the reference saying the same sound.
        """
        return self.corrections(source, own)[0]

    def corrections(self, source: Frames, own: float = 0.0, detail: bool = False
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`correction`, and with ``detail`` the mean reference frame of the :data:`DETAIL_K` nearest.

        Both come from one search: the closest of the ``K`` nearest rendition frames are the
        reference frames that say the stock frame's sound most nearly.
        """
        query = with_context(source.mcep[:, 1:KNN_DIMS], CONTEXT).astype(np.float32)
        out = np.zeros_like(source.mcep)
        nearest = np.zeros_like(source.mcep) if own > 0 else None
        close = np.zeros_like(source.mcep) if detail else None
        for is_voiced, pool in zip((True, False), self._pools):
            which = np.flatnonzero(source.voiced == is_voiced)
            if not len(pool[0]):  # no such frames in the rendition: fall back on the other pool
                pool = self._pools[0] if len(self._pools[0][0]) else self._pools[1]
            rows, keys, norms = pool
            if not len(which) or not len(rows):
                continue
            k = min(K, len(rows))
            for start in range(0, len(which), _BLOCK):
                part = which[start:start + _BLOCK]
                distance = norms[None, :] - 2.0 * (query[part] @ keys.T)  # + |q|^2, the same for all
                best = np.argpartition(distance, k - 1, axis=1)[:, :k]
                out[part] = self.frames.delta[rows[best]].mean(axis=1)
                if nearest is not None:
                    nearest[part] = self.frames.keys[rows[best]].mean(axis=1)
                if close is not None:
                    order = np.argsort(np.take_along_axis(distance, best, axis=1), axis=1)[:, :DETAIL_K]
                    closest = np.take_along_axis(best, order, axis=1)
                    close[part] = self._reference[rows[closest]].mean(axis=1)
        if nearest is not None:
            # reference frames = keys + delta: the residual between the stock frame and the keys it
            # matched is what separates "the difference" from "the reference's frames"; loudness (c0)
            # stays a difference, bounded by the conversion
            out[:, 1:] += own * (nearest[:, 1:] - source.mcep[:, 1:])
        return out, close


def build(units: list[tuple[np.ndarray, str, Frames | None]], speak: Callable[[str], np.ndarray],
          states: Callable[[np.ndarray], np.ndarray]) -> ParallelFrames | None:
    """Parallel frames from pieces of reference; None when nothing could be paired.

    Each piece is (audio at :data:`RATE`, what it says, its WORLD frames where already analysed).
    ``speak`` says a text with the stock voice (audio at :data:`RATE`); ``states`` gives whisper's
    encoder states (one row per 20 ms) of audio.
    """
    parts = []
    for audio, text, frames in units:
        if not text.strip() or len(audio) < RATE // 2:
            continue
        rendition = speak(text)
        if len(rendition) < RATE // 4:
            continue
        # pairs take envelopes and voicing only: neither side's aperiodicity is needed
        reference = frames if frames is not None else analyse(audio, aperiodicity=False)
        said = analyse(rendition, aperiodicity=False)
        parts.append(_pair(said, states(rendition), reference, states(audio)))
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    said, heard = sum(p[3][0] for p in parts), sum(p[3][1] for p in parts)
    speed = float(np.clip(said / max(heard, 1), *SPEEDS))
    return ParallelFrames(*(np.concatenate([p[i] for p in parts]) for i in range(3)), speed=speed)


def units_of(audio: np.ndarray, text: str | None, segments: list[tuple[float, float, str]] | None,
             budget_s: float) -> list[tuple[np.ndarray, str, int]]:
    """The pieces of one sample to align, each with its first sample's place in ``audio``.

    Whole with a given ``text`` (when the sample fits in ``budget_s``: else nothing), or the
    recognised ``segments`` ((start s, end s, text)) grouped into pieces of at most :data:`UNIT_S`,
    at most ``budget_s`` seconds in all.
    """
    if text and text.strip():
        return [(audio, text, 0)] if len(audio) <= budget_s * RATE else []
    units: list[tuple[np.ndarray, str, int]] = []
    group: list[tuple[float, float, str]] = []
    taken = 0.0

    def flush() -> None:
        nonlocal taken
        if group:
            start, end = max(0.0, group[0][0] - 0.1), group[-1][1] + 0.1
            words = " ".join(t.strip() for _, _, t in group)
            units.append((audio[int(start * RATE): int(end * RATE)], words, int(start * RATE)))
            taken += end - start
            group.clear()

    for segment in segments or []:
        if group and segment[1] - group[0][0] > UNIT_S:
            flush()
        if taken + segment[1] - (group[0][0] if group else segment[0]) > budget_s:
            break
        group.append(segment)
    flush()
    return units


def align(stock: np.ndarray, target: np.ndarray) -> np.ndarray:
    """For each stock row, the target row saying the same thing: a monotone map with both ends pinned.

    Each stock row moves the target on by 0 to ``_STEPS - 1`` rows, so each path has one step per
    stock row and costs of paths compare without any length bias. Cosine distance of unit rows.
    """
    s = stock / np.maximum(np.linalg.norm(stock, axis=1, keepdims=True), 1e-9)
    t = target / np.maximum(np.linalg.norm(target, axis=1, keepdims=True), 1e-9)
    n, m = len(s), len(t)
    cost = 1.0 - s @ t.T
    total = np.full(m, np.inf)
    total[0] = cost[0, 0]
    back = np.zeros((n, m), np.int8)
    options = np.full((_STEPS, m), np.inf)
    for i in range(1, n):
        options[:] = np.inf
        for step in range(_STEPS):
            options[step, step:] = total[: m - step]
        back[i] = np.argmin(options, axis=0)
        total = options[back[i], np.arange(m)] + cost[i]
    j = m - 1 if np.isfinite(total[m - 1]) else int(np.argmin(total))
    path = np.zeros(n, int)
    for i in range(n - 1, -1, -1):
        path[i] = j
        j -= int(back[i, j])
    return np.maximum(path, 0)


def _pair(rendition: Frames, rendition_states: np.ndarray, reference: Frames, reference_states: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]] | None:
    """Speech frames of the rendition paired with the reference frames aligned to them.

    Also the speech frames within each side's span (rendition, reference): their ratio is how much
    faster than the speaker the stock voice says the same words.
    """
    rs, ts = _span(rendition), _span(reference)
    if rs is None or ts is None:
        return None
    (r0, r1), (t0, t1) = rs, ts
    # align on whole encoder frames covering each speech span
    a0, a1 = r0 // _HOP, min(len(rendition_states), -(-r1 // _HOP))
    b0, b1 = t0 // _HOP, min(len(reference_states), -(-t1 // _HOP))
    if a1 - a0 < 2 or b1 - b0 < 2 or (b1 - b0) > (_STEPS - 1) * (a1 - a0):
        return None  # the reference is too long for the rendition to cover: not the same words
    path = align(rendition_states[a0:a1], reference_states[b0:b1])
    frames = np.arange(a0 * _HOP, min(a1 * _HOP, len(rendition)))
    at = np.interp((frames - a0 * _HOP) / _HOP, np.arange(len(path)), path)
    paired = np.clip(np.round(at * _HOP).astype(int) + b0 * _HOP, 0, len(reference) - 1)
    # keep speech frames both sides: a pause paired with speech is a misalignment. Voicing is not
    # required to agree: DIO's voicing differs between voices, and requiring it dropped a third of
    # the pairs and 0.03 similarity (a05, 12 s) for no fewer word errors.
    keep = rendition.speech()[frames] & reference.speech()[paired]
    if keep.sum() < 10:
        return None
    lengths = int(rendition.speech()[r0:r1].sum()), int(reference.speech()[t0:t1].sum())
    frames, paired = frames[keep], paired[keep]
    return (rendition.mcep[frames], rendition.voiced[frames], reference.mcep[paired] - rendition.mcep[frames],
            lengths)


def _span(frames: Frames) -> tuple[int, int] | None:
    speech = np.flatnonzero(frames.speech())
    return (int(speech[0]), int(speech[-1]) + 1) if len(speech) else None
