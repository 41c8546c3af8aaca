"""Re-dubbing helpers: the window of footage the face is learned from."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digihuman.media.probe import probe
from digihuman.remix import soundtrack
from digihuman.remix.redub import first_seconds
from tests.remix.conftest import BACKGROUND, f0, frame_at, harmonic, write_clip


def test_a_long_video_is_cut_to_its_first_seconds_with_picture_and_sound(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "long.mp4", harmonic(10.0, f0=180.0))
    cut = first_seconds(clip, 4.0, tmp_path / "cut.mp4")
    assert cut != clip
    info = probe(cut)
    assert info.has_audio and 3.8 <= info.duration_s <= 4.3
    assert np.abs(frame_at(cut, 3.5)[100, 200].astype(int) - BACKGROUND).max() < 12  # decodes to the end
    sound = soundtrack.load(cut)
    assert abs(sound.size / soundtrack.RATE - 4.0) < 0.2
    assert abs(f0(sound[soundtrack.RATE:]) - 180.0) < 5  # the same voice, not re-encoded silence


def test_a_video_not_much_longer_than_the_window_is_used_as_it_is(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "short.mp4", harmonic(4.5))
    assert first_seconds(clip, 4.0, tmp_path / "cut.mp4") == clip
    assert not (tmp_path / "cut.mp4").exists()
