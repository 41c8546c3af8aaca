"""The remix's sound: speed change with the pitch kept, music ducked under speech."""

from __future__ import annotations

import numpy as np
import pytest

from digihuman.remix import soundtrack
from tests.remix.conftest import f0, harmonic

RATE = soundtrack.RATE


@pytest.mark.parametrize("speed", [0.75, 1.5, 2.0])
def test_speed_changes_the_length_and_keeps_the_pitch(speed: float) -> None:
    voice = harmonic(2.0, f0=150.0)
    out = soundtrack.stretch(voice, speed)
    assert abs(out.size - voice.size / speed) <= 1
    assert abs(f0(out[RATE // 4 :]) - 150.0) < 4  # resampling would give 150 * speed
    # no clicks: grains join where the waveform continues
    assert np.abs(np.diff(out[RATE // 4 : -RATE // 4])).max() < 2 * np.abs(np.diff(voice)).max()


def test_music_dips_under_speech_and_comes_back_between() -> None:
    speech = np.zeros(6 * RATE, np.float32)
    speech[RATE : 2 * RATE] = harmonic(1.0)  # someone speaks from 1 to 2 s and from 4 to 5 s
    speech[4 * RATE : 5 * RATE] = harmonic(1.0)
    t = np.arange(3 * RATE) / RATE
    music = (0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)  # looped to the speech's length
    mixed = soundtrack.mix_music(speech, music, volume=0.5, ducking=0.25)
    bed = mixed - speech

    def level(a: float, b: float) -> float:
        return float(np.sqrt(np.mean(bed[int(a * RATE) : int(b * RATE)] ** 2)))

    during, between = level(1.3, 1.7), level(2.9, 3.5)
    assert 0.18 < during / between < 0.4  # ducked to a quarter
    assert level(4.3, 4.7) < 0.4 * between
    assert abs(between - 0.5 * soundtrack.SPEECH_RMS) < 0.1 * soundtrack.SPEECH_RMS


def test_fit_loops_or_pads() -> None:
    x = np.arange(3, dtype=np.float32)
    assert soundtrack.fit(x, 7, loop=True).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert soundtrack.fit(x, 5).tolist() == [0, 1, 2, 0, 0]
    assert soundtrack.fit(x, 2).tolist() == [0, 1]
