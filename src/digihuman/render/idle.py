"""Idle life for a still portrait: blinks, slight head motion and breathing, deterministic per seed.

Everything is a pure function of the frame time, so frames can be rendered in any order and a
render repeats exactly. Amplitudes are small on purpose: a photo that sways visibly looks like a
puppet, one that never moves looks like a photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IdleMotion:
    """How alive a still portrait looks while it talks."""

    seed: int = 7  # the same seed gives the same blinks and sway
    blinks: bool = True
    blink_interval_s: tuple[float, float] = (2.0, 6.0)  # gap between blinks, drawn uniformly
    blink_duration_s: float = 0.16  # lid down and up again
    head_motion: bool = True
    max_roll_deg: float = 1.0  # head tilt, the largest part of the sway
    max_shift: float = 0.012  # head translation, as a share of the face size (~3 px on a 250 px face)
    breathing: float = 0.004  # vertical rise with each breath, share of the face size
    breath_period_s: float = 4.2

    @classmethod
    def still(cls) -> IdleMotion:
        """No blinks and no motion: only the mouth moves (tests, previews of the mouth alone)."""
        return cls(blinks=False, head_motion=False, breathing=0.0)


@dataclass(frozen=True)
class IdlePose:
    """The idle state of one frame."""

    blink: float  # 0 open .. 1 closed
    roll_deg: float  # head tilt about a pivot in the neck, clockwise on screen
    shift: tuple[float, float]  # head translation, share of the face size (x right, y down)


class IdlePlan:
    """Blink times and sway curves for a render of ``duration_s`` seconds."""

    def __init__(self, motion: IdleMotion, duration_s: float) -> None:
        self.motion = motion
        rng = np.random.default_rng(motion.seed)
        lo, hi = motion.blink_interval_s
        centres: list[float] = []
        t = float(rng.uniform(0.6, min(hi, 2.5)))  # the first blink soon, so short clips show one
        while motion.blinks and t < duration_s + hi:
            centres.append(t)
            t += float(rng.uniform(lo, hi))
        self.blink_centres = np.array(centres)
        # Sway: a few incommensurate sines per axis (0.05-0.3 Hz) with random phases: smooth,
        # aperiodic over a clip and cheap to evaluate.
        self._freqs = rng.uniform(0.05, 0.3, size=(3, 3))
        self._phases = rng.uniform(0, 2 * np.pi, size=(3, 3))
        self._weights = np.array([0.5, 0.3, 0.2])
        self._breath_phase = float(rng.uniform(0, 2 * np.pi))

    def at(self, t: float) -> IdlePose:
        m = self.motion
        blink = 0.0
        if self.blink_centres.size:
            offset = float(np.min(np.abs(self.blink_centres - t)))
            half = m.blink_duration_s / 2
            if offset < half:
                blink = float(np.cos(0.5 * np.pi * offset / half) ** 0.8)
        roll = sx = sy = 0.0
        if m.head_motion:
            waves = np.sin(2 * np.pi * self._freqs * t + self._phases) @ self._weights  # each in [-1, 1]
            roll, sx, sy = m.max_roll_deg * waves[0], m.max_shift * waves[1], 0.6 * m.max_shift * waves[2]
        sy += m.breathing * np.sin(2 * np.pi * t / m.breath_period_s + self._breath_phase)
        return IdlePose(blink, float(roll), (float(sx), float(sy)))
