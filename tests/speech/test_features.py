"""The frame analysis runs block by block (bounded memory) and gives what one pass over the whole would."""

from __future__ import annotations

import numpy as np
import pytest

from digihuman.speech.align import acoustic, features
from digihuman.speech.align.features import RATE, analyse, energy_db, frame_blocks, frame_count, frame_signal
from digihuman.speech.align.visemes import default_targets


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Voiced bursts with a moving pitch, hiss and pauses: every feature varies."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = 120 + 40 * np.sin(2 * np.pi * 0.3 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(pitch) / RATE) / k for k in range(1, 8))
    gate = (np.sin(2 * np.pi * 0.7 * t) > -0.3).astype(float)
    hiss = rng.normal(0, 0.05, t.size) * (np.sin(2 * np.pi * 1.3 * t) > 0.6)
    return (0.2 * voiced * gate + hiss + rng.normal(0, 1e-3, t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def long_signal() -> np.ndarray:
    return _speechlike(120.0)


def test_blocks_cover_the_frames_exactly(long_signal: np.ndarray) -> None:
    whole = frame_signal(long_signal)
    blocks = list(frame_blocks(long_signal))
    assert len(blocks) == int(np.ceil(len(whole) / features.BLOCK)) > 1
    assert all(len(b) <= features.BLOCK for _, b in blocks)
    assert [first for first, _ in blocks] == list(range(0, len(whole), features.BLOCK))
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), whole)
    # odd lengths, and the empty sound, frame as before
    for n in (0, 1, 159, 160, 161, 400, 12345):
        x = long_signal[:n]
        got = [b for _, b in frame_blocks(x, block=7)]
        np.testing.assert_array_equal(np.concatenate(got), frame_signal(x))
        assert len(frame_signal(x)) == frame_count(n)


def test_block_boundaries_do_not_change_the_features(long_signal: np.ndarray, monkeypatch) -> None:
    chunked = analyse(long_signal)
    level = energy_db(long_signal)
    model = default_targets().openness_model()
    assert model is not None
    stacked = acoustic.frame_features(long_signal)
    openness = model.predict(long_signal)
    monkeypatch.setattr(features, "BLOCK", 10**9)  # one block: the whole sound at once
    monkeypatch.setattr(acoustic, "BLOCK", 10**9)
    whole = analyse(long_signal)
    assert len(chunked) == len(whole) == frame_count(len(long_signal))
    for name in ("energy_db", "voicing", "zcr", "centroid", "low_ratio", "high_ratio", "f1", "f2"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-9, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(level, energy_db(long_signal), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stacked, acoustic.frame_features(long_signal), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(openness, model.predict(long_signal), rtol=1e-9, atol=1e-9)
