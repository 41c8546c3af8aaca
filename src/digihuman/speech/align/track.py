"""Timeline → per-frame mouth targets, with coarticulation.

Each phone is a *gesture*: a target mouth shape (from ``PhoneTargets``) held over the phone's
span, with a dominance that decays exponentially outside it (Cohen & Massaro's model). At any
instant the mouth is the dominance-weighted mean of the gestures around it, so neighbours shape
each other: a short consonant between two open vowels opens a little, HH/K/G/NG have so little
dominance that they take the shape of the vowel beside them, and lip consonants (P B M F V) win
over their neighbours. The shipped acoustic openness model is fitted to this track, made from
the phones the product's own voices speak (``bench/learn_phone_targets.py``); because the output
is linear in the targets, the same weights also serve to fit targets to measured mouths.

Pauses are gestures too: the mouth rests (closed, relaxed: the ``SIL`` target) unless a breath
is heard, which parts the lips as far as it sounds open, and it leaves the rest ``BREATH_S``
before speech resumes, as speakers do when they breathe in to speak. In digital silence or at
the noise floor nothing is heard, and the mouth rests fully. Whatever the smoothing did, every
P/B/M then closes the lips fully on at least one frame, however short it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from digihuman.speech.align.visemes import (
    BILABIALS,
    VISEMES,
    VOWELS,
    PhoneTargets,
    arpabet_parts,
    as_arpabet,
    default_targets,
)
from digihuman.timeline import MouthTrack, Timeline, divide

SIL = "SIL"
# Diphthongs move: they are two gestures, the onset held longer than the glide.
DIPHTHONGS: dict[str, tuple[str, str]] = {"AY": ("AY", "AY+"), "AW": ("AW", "AW+"), "OY": ("OY", "OY+")}
_ONSET_SHARE = 0.6
# A pinyin final's glide and coda are short next to its main vowel.
_EDGE_SHARE = 0.3
# Speakers breathe in through a parting mouth just before they speak again after a pause.
BREATH = "BREATH"
BREATH_S = 0.25  # how long before speech resumes the mouth leaves its rest, s
_MIN_PAUSE_FOR_BREATH = 0.3  # shorter pauses are not breaths
TRANSPARENT = frozenset({"HH", "K", "G", "NG"})  # tongue-only sounds: the lips and jaw follow the vowel
_LIPS = BILABIALS | {"F", "V"}


@dataclass(frozen=True)
class Coarticulation:
    """How strongly neighbouring sounds shape each other."""

    tau: float = 0.045  # s: how fast a gesture's dominance decays outside its own span
    vowel: float = 1.0  # dominance of vowels…
    lips: float = 2.5  # …of P B M F V, whose lips must meet…
    transparent: float = 0.15  # …of HH K G NG, which take the vowel's shape…
    consonant: float = 0.8  # …of the other consonants…
    silence: float = 0.5  # …and of pauses, which yield to the speech around them
    oversample: int = 4  # sub-samples averaged into each output frame


@dataclass(frozen=True)
class Gesture:
    """One target shape over a span: ``key`` is a table key (ARPAbet, ``AH0``, ``AY+``) or ``SIL``."""

    key: str
    start: float
    end: float
    openness: float | None = None  # how open the phone sounded, 0..1, when known


def table_key(symbol: str) -> str:
    """The table key of an ARPAbet symbol: the bare phone, except that stress splits AH."""
    parts = arpabet_parts(symbol)
    if parts is None:
        return SIL
    base, stress = parts
    if base == "AH" and stress is not None:
        return "AH0" if stress == 0 else "AH1"
    return base


def gestures(timeline: Timeline) -> list[Gesture]:
    """The gestures of a timeline: its phones (pinyin finals and diphthongs split), pauses as SIL."""
    out: list[Gesture] = []
    cursor = 0.0
    breaths = [v for v in timeline.visemes if v.symbol == "sil" and v.weight > 0]
    for phone in timeline.phones:
        if phone.start > cursor + 1e-3:
            out += _pause(cursor, phone.start, breaths)
        parts = arpabet_parts(phone.symbol)
        keys = [table_key(phone.symbol)] if parts else list(as_arpabet(phone.symbol))
        out += _split(keys, phone.start, phone.end, phone.openness)
        cursor = max(cursor, phone.end)
    if not timeline.phones and timeline.visemes:
        for v in timeline.visemes:
            if v.symbol == "sil":
                continue  # pauses are the gaps between spoken shapes, made below
            if v.start > cursor + 1e-3:
                out += _pause(cursor, v.start, breaths)
            out.append(Gesture(_viseme_key(v.symbol), v.start, v.end, v.weight))
            cursor = max(cursor, v.end)
    if timeline.duration > cursor + 1e-3:
        out += _pause(cursor, timeline.duration, breaths, final=True)
    return out


def _pause(start: float, end: float, breaths: list, final: bool = False) -> list[Gesture]:
    """A pause: rest, parted where breathing is heard (``openness``), and opening before speech."""
    cuts = [start, end]
    if not final and end - start >= _MIN_PAUSE_FOR_BREATH:
        cuts.insert(1, end - BREATH_S)
    for b in breaths:
        cuts += [t for t in (b.start, b.end) if start < t < end]
    cuts = sorted(set(cuts))
    out = []
    for a, z in zip(cuts[:-1], cuts[1:]):
        if z - a < 1e-4:
            continue
        heard = [b.weight for b in breaths if b.start < z and a < b.end]
        key = BREATH if (not final and end - start >= _MIN_PAUSE_FOR_BREATH and a >= end - BREATH_S - 1e-6) else SIL
        out.append(Gesture(key, a, z, max(heard) if heard else 0.0))
    return out


def _split(keys: list[str], start: float, end: float, openness: float | None) -> list[Gesture]:
    expanded: list[tuple[str, float]] = []
    for k in keys:
        if k in DIPHTHONGS:
            a, b = DIPHTHONGS[k]
            expanded += [(a, _ONSET_SHARE), (b, 1 - _ONSET_SHARE)]
        elif k == SIL:
            continue
        else:
            expanded.append((k, 1.0))
    if not expanded:
        return [Gesture(SIL, start, end)]
    if len(keys) > 1:
        # Pinyin finals: the main vowel carries most of the time, glides and codas are short.
        main = max(range(len(expanded)), key=lambda i: expanded[i][0].rstrip("+") in VOWELS)
        expanded = [(k, w if i == main else w * _EDGE_SHARE) for i, (k, w) in enumerate(expanded)]
    spans = divide(start, end, [w for _, w in expanded])
    return [Gesture(k, s, e, openness) for (k, _), (s, e) in zip(expanded, spans, strict=True)]


def _viseme_key(symbol: str) -> str:
    # A viseme-only timeline (acoustic method) stands each viseme for its first listed sound.
    shape = VISEMES.get(symbol)
    return shape.sounds.split()[0] if shape and symbol != "sil" else SIL


def dominance(key: str, c: Coarticulation) -> float:
    base = key.rstrip("+012")
    if key in (SIL, BREATH):
        return c.silence
    if base in VOWELS:
        return c.vowel
    if base in _LIPS:
        return c.lips
    if base in TRANSPARENT:
        return c.transparent
    return c.consonant


def key_weights(
    gs: list[Gesture], times: np.ndarray, c: Coarticulation = Coarticulation(), every_gesture: bool = False,
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Normalised dominance of each table key at ``times``: (weights [T, K], keys, openness [T, 2]).

    ``weights @ targets`` is the coarticulated curve; ``openness`` is the dominance-weighted
    acoustic openness of the spoken gestures (centred on 0.5) and of the pauses (heard breath,
    0 = rest), which ``PhoneTargets.openness_gain`` and ``pause_gain`` scale into extra jaw.
    Of the phones, only vowels count (hiss and bursts sound open but are not), unless
    ``every_gesture`` (the acoustic method, whose classes are guesses from the same sound).
    """
    keys = sorted({g.key for g in gs})
    col = {k: i for i, k in enumerate(keys)}
    num = np.zeros((len(times), len(keys)))
    loud = np.zeros((len(times), 2))
    reach = 6 * c.tau
    for g in gs:
        lo, hi = np.searchsorted(times, [g.start - reach, g.end + reach])
        if hi <= lo:
            continue
        t = times[lo:hi]
        outside = np.maximum(0.0, np.maximum(g.start - t, t - g.end))
        w = dominance(g.key, c) * np.exp(-outside / c.tau)
        num[lo:hi, col[g.key]] += w
        if g.openness is None:
            continue
        if g.key in (SIL, BREATH):
            loud[lo:hi, 1] += w * g.openness
        elif every_gesture or g.key.rstrip("+012") in VOWELS:
            loud[lo:hi, 0] += w * (g.openness - 0.5)
    total = num.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    return num / total, keys, loud / total


def frame_times(n_frames: int, fps: float, oversample: int) -> np.ndarray:
    """Sub-sample times spread evenly inside each frame ``[i/fps, (i+1)/fps)``."""
    offsets = (np.arange(oversample) + 0.5) / oversample
    return ((np.arange(n_frames)[:, None] + offsets[None, :]) / fps).ravel()


def n_frames(duration: float, fps: float) -> int:
    """Frames a video of ``duration`` seconds has at ``fps``: rounded, at least one."""
    return max(1, int(round(duration * fps)))


def mouth_track(
    timeline: Timeline, fps: float, *, targets: PhoneTargets | None = None,
    coarticulation: Coarticulation = Coarticulation(),
) -> MouthTrack:
    """Continuous jaw, width, round and teeth targets for every frame of ``timeline`` at ``fps``."""
    if fps <= 0:
        raise ValueError("fps must be positive")
    targets = targets or default_targets()
    c = coarticulation
    n = n_frames(timeline.duration, fps)
    gs = gestures(timeline)
    w, keys, loud = key_weights(gs, frame_times(n, fps, c.oversample), c, every_gesture=not timeline.phones)
    table = np.array([targets.target(k) for k in keys]).reshape(len(keys), 4)
    gain, pause_gain = targets.openness_gain, targets.pause_gain
    if not timeline.phones:
        # Visemes of the acoustic method: the jaw follows how open the sound is, not the class,
        # in speech and in pauses alike (the weights share one scale).
        table[:, 0] = [targets.target(SIL)[0] if k in (SIL, BREATH) else 0.5 for k in keys]
        gain = pause_gain = 1.0
    curves = w @ table
    curves[:, 0] += gain * loud[:, 0] + pause_gain * loud[:, 1]
    curves = curves.reshape(n, c.oversample, 4).mean(axis=1)
    _close_lips(curves, gs, fps, np.array(targets.target("M")))
    curves = np.clip(curves, 0.0, 1.0)
    return MouthTrack(
        fps=fps, jaw=_rounded(curves[:, 0]), width=_rounded(curves[:, 1]),
        round=_rounded(curves[:, 2]), teeth=_rounded(curves[:, 3]),
    )


def _close_lips(curves: np.ndarray, gs: list[Gesture], fps: float, closed: np.ndarray) -> None:
    n = len(curves)
    for g in gs:
        if g.key not in BILABIALS:
            continue
        # The frame that overlaps the closure most; a closure shorter than a frame still gets one.
        first = max(0, min(n - 1, int(math.floor(g.start * fps))))
        last = max(first, min(n - 1, int(math.ceil(g.end * fps)) - 1))
        overlaps = [min(g.end, (i + 1) / fps) - max(g.start, i / fps) for i in range(first, last + 1)]
        i = first + int(np.argmax(overlaps))
        curves[i, 0] = 0.0
        curves[i, 1] = closed[1]
        curves[i, 3] = closed[3]


def _rounded(values: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(v), 4) for v in values)
