"""Unit selection of the speaker's own recorded phones: the ``units`` rows of bench/voice_eval.py (English).

The reference is aligned into ARPAbet phones (whisper's words, pocketsphinx's phones); the stock
voice's sentences come with Piper's timed phones. Each stock phone takes a recorded phone of the same
symbol, chosen by Viterbi over a target cost (neighbouring phones that differ, duration ratio, and in
the re-timed row the spectral distance to the fast conversion of the same frames) and a join cost
(none between phones that follow each other in the recording, else the mel-cepstral jump). Phones the
reference lacks keep the fast conversion. Three ways to play the chosen phones:

- ``units``: one after another at their recorded length, with their own F0, envelope and
  aperiodicity: what a concatenative synthesiser built from the reference would say;
- ``units-timed``: stretched onto the stock voice's phone times (the timing lip sync and streaming
  rely on) over the fast conversion, with the stock F0 and aperiodicity and the loudness within
  ±8.7 dB of the conversion's;
- ``units-close``: as ``units-timed``, but only phones whose envelope lies near the conversion's are
  taken (a fallback to conversion wherever the reference's phone sounds unlike the one wanted).

Measured 2026-12-03 (``bench/voice_eval.py --speakers a05 lv03 a03 --sentences 6 --reference-s 12 60
--no-full --methods fast units units-timed units-close``; a05 / lv03 from 9-11 s and 38 s, a03 from 6 s):

| row | similarity (same speaker 0.86-0.98) | WER (stock 0) |
|---|---|---|
| fast conversion | 0.744 / 0.734 / 0.649, 38 s: 0.751 / 0.747 | 0.015-0.044, a03 0.103 |
| units | 0.870 / 0.891 / 0.733, 38 s: 0.878 / 0.896 | 0.79-1.04 |
| units-timed | 0.778 / 0.765 / 0.672, 38 s: 0.803 / 0.801 | 0.38-0.72 |
| units-close (limit 1.3) | 0.762 / 0.759 / 0.668, 38 s: 0.776 / 0.771 | 0.10-0.13 |

The speaker's own phones carry the voice far beyond every target (the ``units`` row), but whisper hears
other words ("the museum owns mine and those are the 4th's"). Whatever share of the phones is taken,
similarity and word errors rise together: with limits of 1.0 / 1.3 / 1.6 (3-10 / 23-41 / 50-69 % of the
frames taken) a05 at 12 s went 0.747 / 0.762 / 0.779 with WER 0.03 / 0.12 / 0.27. Variants measured on
the way, none off that line: only vowels taken (WER 0.64-0.82); the units' loudness and aperiodicity
too (0.77-0.84, WER 0.58-1.0); coefficients 1-12 kept from the conversion (-0.01..+0.03, WER to 0.09);
the units' own F0 shape (+0.004); candidates chosen in the stock voice's own space (the stock voice
saying the reference's words, paired with it on whisper's encoder states) instead of by labels; whole
recorded words where a sentence repeats them (5-15 % of the frames: +0.00..+0.04, WER up to +0.08).
Two causes: phone spectra are weakly consistent at this size (a phone's mean envelope names its own
phone 34 % of the time, leave-one-out, over 40 s of a05; Piper's own phones 30-38 %), so most sounds
are met in another context and a phone lifted out of its context is heard as another; and the
reference's own frames re-timed onto the stock voice saying the very same words (paired on whisper's
encoder states) already lose words ("Joe Biden is asking a gentleman" for "Joe Biden's unmasking of
General Flynn"). Conversion therefore keeps the stock voice's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digihuman.speech.align.english import EnglishAligner
from digihuman.speech.asr.whisper import WhisperRecognizer
from digihuman.speech.voices.features import FRAME_MS, RATE, Frames, vocode
from digihuman.timeline import Phone

HOP_S = FRAME_MS / 1000.0
KEY = slice(1, 25)  # mel-cepstral coefficients compared: envelope shape without loudness
LOUDNESS = 1.0  # natural-log amplitude the re-timed phones may move a frame's loudness (±8.7 dB)


@dataclass(frozen=True)
class Unit:
    """A phone in frames (5 ms), with its neighbours' symbols ("sil" at a pause)."""

    symbol: str
    start: int
    end: int
    left: str
    right: str


def recorded_units(audio: np.ndarray, asr: WhisperRecognizer, aligner: EnglishAligner) -> list[Unit]:
    """The reference's phones: whisper's timed words aligned into phones by pocketsphinx."""
    _, phones = aligner.align(audio, asr.transcribe(audio, language="en").words)
    return phone_units(phones, len(audio) // round(RATE * HOP_S))


def phone_units(phones: Sequence[Phone], frames: int) -> list[Unit]:
    """Timed phones (Piper's, or aligned) as units within ``frames`` frames, stress marks dropped."""
    spans = []
    for p in phones:
        start = round(p.start / HOP_S)
        if start < frames - 1:
            spans.append((p.symbol.rstrip("012"), start, min(max(round(p.end / HOP_S), start + 1), frames)))
    out = []
    for i, (symbol, start, end) in enumerate(spans):
        left = spans[i - 1][0] if i and spans[i - 1][2] >= start - 2 else "sil"
        right = spans[i + 1][0] if i + 1 < len(spans) and spans[i + 1][1] <= end + 2 else "sil"
        out.append(Unit(symbol, start, end, left, right))
    return out


def concatenated(targets: list[Unit], units: list[Unit], reference: Frames) -> np.ndarray:
    """The chosen recorded phones one after another at their own length, F0 and envelope (``units``)."""
    chosen = _select(targets, units, reference)
    rows = [np.arange(units[j].start, units[j].end) for j in chosen if j is not None]
    if not rows:
        return np.zeros(0, np.float32)
    order = np.concatenate(rows)
    envelope = _joined(reference.mcep[order], order)
    return vocode(Frames(reference.f0[order], envelope, reference.bap[order]))


def retimed(targets: list[Unit], units: list[Unit], reference: Frames, converted: Frames, level: float,
            limit: float | None = None) -> np.ndarray:
    """The chosen phones stretched over the stock phones' frames of ``converted`` (``units-timed``).

    ``level``: what to add to the reference's loudness (c0) to meet the stock voice's; ``limit``: phones
    whose envelope is further than this from the conversion's (mean distance over coefficients 1-24)
    keep the conversion (``units-close``).
    """
    chosen = _select(targets, units, reference, converted)
    envelope = converted.mcep.copy()
    order = np.full(len(envelope), -1)
    for target, j in zip(targets, chosen):
        if j is None:
            continue
        rows = _stretched(units[j], target.end - target.start)
        if limit is not None and _distance(reference.mcep[rows], converted.mcep[target.start:target.end]) > limit:
            continue
        own = reference.mcep[rows].copy()
        stock_c0 = converted.mcep[target.start:target.end, 0]
        own[:, 0] = stock_c0 + np.clip(own[:, 0] + level - stock_c0, -LOUDNESS, LOUDNESS)
        envelope[target.start:target.end] = own
        order[target.start:target.end] = rows
    # frames of the conversion count as one run; joins are where the source of frames jumps
    order = np.where(order < 0, np.arange(len(order)) - 2 * len(order) - 10, order)
    return vocode(Frames(converted.f0, _joined(envelope, order), converted.bap))


def _select(targets: list[Unit], units: list[Unit], reference: Frames, converted: Frames | None = None
            ) -> list[int | None]:
    """Per target, the recorded unit (index) that a Viterbi search over target and join costs picks."""
    candidates = [[j for j, u in enumerate(units) if u.symbol == t.symbol] or [None] for t in targets]
    total: np.ndarray | None = None
    back = []
    for i, target in enumerate(targets):
        cost = np.array([_target_cost(target, units[j], reference, converted) if j is not None else 5.0
                         for j in candidates[i]])
        if total is None:
            total, step = cost, np.zeros(len(cost), int)
        else:
            join = np.array([[_join_cost(p, j, units, reference) for j in candidates[i]] for p in candidates[i - 1]])
            paths = total[:, None] + join
            step = np.argmin(paths, axis=0)
            total = paths[step, np.arange(len(candidates[i]))] + cost
        back.append(step)
    if total is None:
        return []
    pick = [int(np.argmin(total))]
    for i in range(len(targets) - 1, 0, -1):
        pick.append(int(back[i][pick[-1]]))
    return [candidates[i][k] for i, k in enumerate(reversed(pick))]


def _target_cost(target: Unit, unit: Unit, reference: Frames, converted: Frames | None) -> float:
    length = target.end - target.start
    cost = (unit.left != target.left) + (unit.right != target.right)
    cost += 0.5 * abs(np.log((unit.end - unit.start) / max(length, 1)))
    if converted is not None:
        cost += _distance(reference.mcep[_stretched(unit, length)], converted.mcep[target.start:target.end])
    return float(cost)


def _distance(recorded: np.ndarray, converted: np.ndarray) -> float:
    return float(np.mean(np.linalg.norm(recorded[:, KEY] - converted[:, KEY], axis=1)))


def _join_cost(previous: int | None, current: int | None, units: list[Unit], reference: Frames) -> float:
    if previous is None or current is None:
        return 1.0
    if current == previous + 1 and units[current].start - units[previous].end <= 2:
        return 0.0  # they follow each other in the recording
    jump = reference.mcep[units[previous].end - 1, KEY] - reference.mcep[units[current].start, KEY]
    return 0.3 * float(np.linalg.norm(jump))


def _stretched(unit: Unit, length: int) -> np.ndarray:
    """Frame indices of ``unit`` spread linearly over ``length`` frames."""
    return unit.start + np.floor((np.arange(length) + 0.5) * (unit.end - unit.start) / length).astype(int)


def _joined(envelope: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``envelope`` averaged over 5 frames around each place its frames stop following each other."""
    out = envelope.copy()
    for join in np.flatnonzero(np.diff(order) != 1) + 1:
        for t in range(max(0, join - 2), min(len(envelope), join + 2)):
            out[t] = envelope[max(0, t - 2): t + 3].mean(axis=0)
    return out
