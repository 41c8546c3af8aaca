"""The stock voices' calibration frames are analysed once and then read back, exactly, from disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digihuman.speech.voices.features import Frames
from digihuman.speech.voices.stock_frames import cached_frames

SENTENCES = ("One sentence.", "Another one.")


def _frames(seed: int) -> list[Frames]:
    rng = np.random.default_rng(seed)
    return [Frames(rng.uniform(0, 200, n), rng.normal(size=(n, 25)), rng.normal(size=(n, 2)))
            for n in (40, 55)]


def test_frames_are_made_once_then_read_back_exactly(tmp_path: Path) -> None:
    made: list[int] = []

    def make() -> list[Frames]:
        made.append(1)
        return _frames(len(made))

    first = cached_frames(tmp_path, "en", "en-joe", SENTENCES, make)
    again = cached_frames(tmp_path, "en", "en-joe", SENTENCES, make)
    assert len(made) == 1
    for a, b in zip(first, again, strict=True):
        for name in ("f0", "mcep", "bap"):
            assert getattr(a, name).dtype == getattr(b, name).dtype
            assert np.array_equal(getattr(a, name), getattr(b, name))
    # another voice, language or calibration text is analysed anew
    cached_frames(tmp_path, "en", "en-other", SENTENCES, make)
    cached_frames(tmp_path, "zh", "en-joe", SENTENCES, make)
    cached_frames(tmp_path, "en", "en-joe", SENTENCES[:1], make)
    assert len(made) == 4
    # each made file replaces the language's older ones, which no version reads any more
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["en", "zh"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial files left


def test_a_damaged_file_is_made_again_and_no_folder_means_no_disk(tmp_path: Path) -> None:
    calls: list[int] = []

    def make() -> list[Frames]:
        calls.append(1)
        return _frames(7)

    cached_frames(tmp_path, "en", "en-joe", SENTENCES, make)
    (kept,) = tmp_path.iterdir()
    kept.write_bytes(kept.read_bytes()[:100])
    cached_frames(tmp_path, "en", "en-joe", SENTENCES, make)
    assert len(calls) == 2 and np.load(kept)["f00"].shape == (40,)
    cached_frames(None, "en", "en-joe", SENTENCES, make)
    cached_frames(None, "en", "en-joe", SENTENCES, make)
    assert len(calls) == 4
