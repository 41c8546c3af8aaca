"""One-Euro filtering of landmark tracks: steady at rest, quick when the face moves.

The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) is a low-pass filter whose cutoff rises with
speed: a still landmark gets a low cutoff, so FaceMesh's frame-to-frame noise (a pixel or two of
trembling) is averaged away, while a moving one gets a high cutoff and little lag. Each landmark has
its own cutoff, so lips that open fast stay responsive while the eye corners of the same face, which
hardly move, stay still.

Speeds are measured in face units per second (pixels divided by the face scale), so one set of
parameters fits any resolution and distance from the camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """Filter parameters; the defaults were tuned on the test videos (see bench/face_track.py)."""

    # Hz, cutoff at rest: lower = steadier, but slow drifts lag behind
    min_cutoff: float = 0.5
    # Hz of cutoff added per face unit/s of speed. Lips open and close 4-5 times a second by ~0.1
    # face units: at 15 they keep ~92% of a 4 Hz movement with ~15 ms of lag (a 1 would keep 30%)
    beta: float = 15.0
    # Hz, cutoff of the speed estimate: high enough that it sees a syllable's movement in time
    d_cutoff: float = 4.0


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """A One-Euro filter over arrays of points (N, D): one cutoff per point (row).

    Call it once per frame with the frame's time; :meth:`reset` before a gap, so the filter does not
    drag the face across frames where it was not seen.
    """

    def __init__(self, params: OneEuroParams = OneEuroParams()) -> None:
        self.params = params
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next value passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filtered ``x`` (N, D) at time ``t`` seconds; ``scale`` is pixels per face unit."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.astype(np.float32)
        p = self.params
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(p.d_cutoff, dt) * (dx - self._dx)
        # in the image plane only: FaceMesh's depth is noisier and would raise the cutoff at rest
        speed = np.linalg.norm(self._dx[..., :2], axis=-1, keepdims=True) / max(scale, 1e-6)
        a = _alpha(p.min_cutoff + p.beta * speed, dt)
        self._x = self._x + a * (x - self._x)
        self._t = t
        return self._x.astype(np.float32)


def smooth_track(points: np.ndarray, times: np.ndarray, scale: np.ndarray | float = 1.0,
                 params: OneEuroParams = OneEuroParams()) -> np.ndarray:
    """A whole track (T, N, D) filtered frame by frame; ``scale`` per frame or one for all."""
    scales = np.broadcast_to(np.asarray(scale, dtype=np.float64), (len(points),))
    smoother = OneEuroFilter(params)
    return np.stack([smoother(p, float(t), float(s)) for p, t, s in zip(points, times, scales)])


def jitter(points: np.ndarray, scale: float = 1.0) -> float:
    """Frame-to-frame trembling of a track (T, N, D): RMS of the second difference over the points'
    x and y, divided by ``scale``. Smooth motion has a small second difference; noise a large one.
    """
    xy = np.asarray(points, np.float64)[..., :2]
    if len(xy) < 3:
        return 0.0
    second = xy[2:] - 2 * xy[1:-1] + xy[:-2]
    return float(np.sqrt(np.mean(np.sum(second**2, axis=-1)))) / scale
