"""Intonation style: how a speaker's pitch moves within a phrase, beyond its mean and spread.

Mapping log-F0 mean and spread (see :class:`~digihuman.speech.voices.conversion.Pitch`) gives
the target's pitch level and range, but keeps the stock voice's way of moving through a phrase.
Three things of that way are measured here on every phrase (voiced stretches between pauses):

- declination: the slope of a straight line through the phrase's log-F0 (most speakers fall
  through a statement; some fall steeply, some hardly at all);
- spread about that line, smoothed over 50 ms: how much the pitch swings on stressed words;
- micro-variation: what is left within 50 ms (quick wobble, creak, a tense or relaxed voice).

Restyling measures each stock phrase as it comes and moves it towards the target's style: its
line's slope half way to the target's declination (half of its own is kept, so a question still
rises), its swings and wobble scaled to the target's spreads (bounded, so one odd phrase cannot
make a voice sing or shake). Measuring the stock phrase itself, rather than the stock voice's style
over its calibration sentences, matters: five sentences, one of them a question, put the stock
voice's declination at +0.05 per second where the bench's ten sentences measure -0.11, and
restyling by that difference made a05's clone fall three times as steeply as a05 does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from digihuman.speech.voices.features import FRAME_MS

PAUSE_FRAMES = 40  # unvoiced frames (200 ms) that end a phrase
MIN_PHRASE = 40  # voiced frames a phrase needs to have a slope worth measuring
SMOOTH = 10  # frames (50 ms) that separate swings from micro-variation
MAX_SLOPE = 1.0  # natural-log F0 per second a measured declination is clipped to
SCALES = (0.5, 2.0)  # bounds of the ratios applied to swings and wobble
KEEP_SLOPE = 0.5  # share of each stock phrase's own slope kept (questions rise, lists fall)


@dataclass(frozen=True)
class Intonation:
    """A speaker's phrase-level pitch style, in natural-log F0."""

    slope: float  # per second within a phrase (< 0: falling)
    swing: float  # standard deviation about the phrase's line, smoothed over 50 ms
    micro: float  # standard deviation of what is left within 50 ms

    @classmethod
    def of(cls, tracks: list[np.ndarray]) -> Intonation | None:
        """The style of F0 tracks (Hz, 0 where unvoiced, pauses kept); None with under two phrases."""
        slopes, weights, swings, micros = [], [], [], []
        for f0 in tracks:
            for phrase in phrases(f0):
                line, smooth, micro = _parts(f0[phrase])
                slopes.append(line[0])
                weights.append(int((f0[phrase] > 0).sum()))
                swings.append(smooth)
                micros.append(micro)
        if len(slopes) < 2:
            return None
        slope = float(np.clip(np.average(slopes, weights=weights), -MAX_SLOPE, MAX_SLOPE))
        return cls(slope, float(np.sqrt(np.average(np.square(swings), weights=weights))),
                   float(np.sqrt(np.average(np.square(micros), weights=weights))))

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 5) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict | None) -> Intonation | None:
        return cls(**{k: float(data[k]) for k in ("slope", "swing", "micro")}) if data else None


def phrases(f0: np.ndarray) -> list[slice]:
    """Stretches of ``f0`` from a voiced frame to the last one before a pause, with enough voiced frames."""
    voiced = np.flatnonzero(f0 > 0)
    if not len(voiced):
        return []
    breaks = np.flatnonzero(np.diff(voiced) > PAUSE_FRAMES)
    starts = np.r_[voiced[0], voiced[breaks + 1]]
    ends = np.r_[voiced[breaks], voiced[-1]] + 1
    return [slice(int(a), int(b)) for a, b in zip(starts, ends) if (f0[a:b] > 0).sum() >= MIN_PHRASE]


def restyle(f0: np.ndarray, target: Intonation, amount: float = 1.0) -> np.ndarray:
    """``f0`` (already at the target's level and range) with each phrase moved to the target's style.

    ``amount`` 0 leaves ``f0`` as it is, 1 goes the whole way described above.
    """
    out = f0.copy()
    if amount <= 0:
        return out
    for phrase in phrases(f0):
        part = f0[phrase]
        voiced = part > 0
        t = np.arange(len(part))[voiced] * FRAME_MS / 1000.0
        (slope, level), smooth, rest = _fit(t, np.log(part[voiced]))
        wanted = KEEP_SLOPE * slope + (1.0 - KEEP_SLOPE) * target.slope
        line = level + slope * t + amount * (wanted - slope) * (t - t.mean())
        swing = _ratio(target.swing, float(smooth.std())) ** amount
        micro = _ratio(target.micro, float(rest.std())) ** amount
        restyled = part.copy()
        restyled[voiced] = np.exp(line + swing * smooth + micro * rest)
        out[phrase] = restyled
    return out


def _parts(f0: np.ndarray) -> tuple[tuple[float, float], float, float]:
    """((slope per second, level), swing std, micro std) of one phrase's voiced frames."""
    voiced = f0 > 0
    t = np.arange(len(f0))[voiced] * FRAME_MS / 1000.0
    line, smooth, rest = _fit(t, np.log(f0[voiced]))
    return line, float(smooth.std()), float(rest.std())


def _fit(t: np.ndarray, log: np.ndarray) -> tuple[tuple[float, float], np.ndarray, np.ndarray]:
    """A least-squares line through ``log`` over ``t``, and what is left split into smooth and quick parts."""
    slope, level = np.polyfit(t, log, 1)
    residual = log - (level + slope * t)
    smooth = _moving_average(residual, SMOOTH)
    return (float(slope), float(level)), smooth, residual - smooth


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    if len(x) < 2:
        return x.copy()
    half = width // 2
    padded = np.pad(x, (half, width - 1 - half), mode="edge")
    total = np.cumsum(np.r_[0.0, padded])
    return (total[width:] - total[:-width]) / width


def _ratio(target: float, source: float) -> float:
    if source <= 1e-6 or target <= 1e-6:
        return 1.0
    return float(np.clip(target / source, *SCALES))
