"""The One-Euro filter removes trembling from still points and follows moving lips."""

from __future__ import annotations

import numpy as np

from digihuman.face import OneEuroFilter, jitter, smooth_track


def _noisy_track(motion: np.ndarray, noise: float, points: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    times = np.arange(len(motion)) / 30.0
    base = rng.uniform(0, 1, (points, 3))
    track = base + motion[:, None, None] * [0, 1, 0] + rng.normal(0, noise, (len(motion), points, 3))
    return track, times


def test_still_points_stop_trembling():
    track, times = _noisy_track(np.zeros(90), noise=0.004)
    smoothed = smooth_track(track, times)
    assert jitter(smoothed[30:]) < 0.3 * jitter(track[30:])
    # and they stay where they are: no drift away from the true position
    assert np.abs(smoothed[30:].mean(axis=0) - track.mean(axis=0)).max() < 0.003


def test_lips_moving_at_speech_rate_keep_their_amplitude():
    t = np.arange(90) / 30.0
    motion = 0.05 * np.sin(2 * np.pi * 4.0 * t)  # a 4 Hz opening and closing, 0.1 face units wide
    track, times = _noisy_track(motion, noise=0.002)
    smoothed = smooth_track(track, times)
    seen = smoothed[30:, :, 1].mean(axis=1)
    assert np.ptp(seen) > 0.85 * np.ptp(motion[30:])


def test_reset_and_scale():
    f = OneEuroFilter()
    first = f(np.ones((2, 2)), 0.0)
    assert np.array_equal(first, np.ones((2, 2)))
    moved = f(np.ones((2, 2)) * 100, 1 / 30, scale=100.0)  # 99 px at 100 px per face unit: fast
    assert moved[0, 0] > 50
    f.reset()
    assert np.array_equal(f(np.zeros((2, 2)), 2 / 30), np.zeros((2, 2)))
