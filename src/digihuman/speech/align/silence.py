"""Where nobody speaks: energy-based silence spans, during which the mouth rests closed.

A frame is speech when it is louder than a threshold set between the sound's own noise floor and
its speech level, so the same rule works for a quiet studio read and a noisy news clip. Short dips
are stop closures and breaths inside speech, not pauses, and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digihuman.speech.align.features import HOP, speech_levels


@dataclass(frozen=True)
class SilenceOptions:
    """How silence is told from speech."""

    min_pause: float = 0.15  # shortest pause marked inside speech, s; stop closures last < 0.1 s
    min_edge: float = 0.05  # shortest leading or trailing silence marked, s
    below_peak_db: float = 35.0  # quieter than the speech level by this much is silence…
    above_floor_db: float = 8.0  # …unless that is within this much of the noise floor
    min_speech: float = 0.05  # shorter bursts (clicks) between silences are not speech, s


def speech_mask(level_db: np.ndarray, options: SilenceOptions = SilenceOptions()) -> np.ndarray:
    """Per-frame True where there is speech."""
    floor, peak = speech_levels(level_db)
    if peak - floor < 6.0:
        # No dynamics at all: all noise, or all digital silence, or a constant tone.
        return np.full(level_db.shape, peak > -60.0)
    threshold = max(peak - options.below_peak_db, floor + options.above_floor_db)
    threshold = min(threshold, peak - 6.0)
    mask = level_db > threshold
    return _drop_short(mask, True, int(round(options.min_speech / HOP)))


def silence_spans(level_db: np.ndarray, options: SilenceOptions = SilenceOptions(),
                  duration: float | None = None) -> tuple[tuple[float, float], ...]:
    """(start, end) spans in seconds with no speech, sorted and disjoint, ending by ``duration``."""
    mask = speech_mask(level_db, options)
    n = len(mask)
    spans = []
    for a, b in _runs(~mask):
        edge = a == 0 or b == n
        if (b - a) * HOP >= (options.min_edge if edge else options.min_pause):
            end = b * HOP if duration is None else min(b * HOP, duration)
            spans.append((round(a * HOP, 3), round(end, 3)))
    return tuple(spans)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where ``mask`` is True."""
    if mask.size == 0:
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _drop_short(mask: np.ndarray, value: bool, min_len: int) -> np.ndarray:
    out = mask.copy()
    for a, b in _runs(mask == value):
        if b - a < min_len:
            out[a:b] = not value
    return out
