"""The render's parts on synthetic data: background plan, unit selection, mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digihuman.render.clip import ClipReader, ClipWriter, ping_pong, read_plan, runs
from digihuman.render.mapping import MouthMapping, SpeechFeatures, fit_mapping, mel_bands
from digihuman.render.select import jumps, select_units


def test_ping_pong_never_jumps() -> None:
    plan = ping_pong(5, 20)
    assert plan.tolist()[:10] == [0, 1, 2, 3, 4, 3, 2, 1, 0, 1]
    assert np.all(np.abs(np.diff(plan)) == 1)
    assert list(runs(plan))[:2] == [(0, 4, 1), (3, 0, -1)]


def test_clip_reads_back_and_forth(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    frames = 40
    with ClipWriter(path, 64, 48, 25.0) as writer:
        for i in range(frames):
            writer.write(np.full((48, 64, 3), i * 6, np.uint8))
    plan = ping_pong(frames, 100)
    reader = ClipReader(path)
    got = [int(np.round(rgb.mean())) for rgb in read_plan(reader, plan)]
    reader.close()
    assert len(got) == 100
    assert np.max(np.abs(np.array(got) - plan * 6)) <= 2


def test_clip_takes_the_decoders_yuv_as_it_is(tmp_path: Path) -> None:
    """Training hands the background clip the video's own YUV 4:2:0 frames: what the decoder made,
    the same picture as its RGB frames, written with no conversion."""
    import pytest

    from digihuman.face import read_frames
    from digihuman.render.output import to_rgb

    path = tmp_path / "clip.mp4"
    with ClipWriter(path, 64, 48, 25.0) as writer:
        for i in range(8):
            writer.write(np.full((48, 64, 3), (i * 20, 100, 200 - i * 20), np.uint8))
    decoded = list(read_frames(path, yuv=True))
    assert [f.index for f in decoded] == list(range(8))
    copy = tmp_path / "copy.mp4"
    with ClipWriter(copy, 64, 48, 25.0) as writer:
        for frame in decoded:
            assert frame.yuv is not None and frame.yuv.shape == (72, 64)
            assert np.abs(to_rgb(frame.yuv).astype(int) - frame.rgb).mean() < 2
            writer.write_yuv(frame.yuv)
        with pytest.raises(ValueError, match="YUV frame of shape"):
            writer.write_yuv(np.zeros((48, 64), np.uint8))
    again = [f.yuv for f in read_frames(copy, yuv=True)]
    assert all(np.abs(a.astype(int) - f.yuv).max() <= 3 for a, f in zip(again, decoded))
    assert all(f.yuv is None for f in read_frames(path))  # only when asked for


def test_selection_prefers_filmed_runs_and_rests_in_silence() -> None:
    rng = np.random.default_rng(0)
    n, t = 200, 80
    # a person's mouth descriptors wander round their rest shape: a stationary AR(1) walk
    library = np.zeros((n, 5), np.float32)
    for i in range(1, n):
        library[i] = 0.95 * library[i - 1] + rng.normal(0, 0.3, 5)
    targets = library[50:50 + t] + rng.normal(0, 0.05, (t, 5)).astype(np.float32)
    silent = np.zeros(t, bool)
    silent[60:70] = True
    pose = np.zeros((n, 2), np.float32)
    background_pose = np.zeros((t, 2), np.float32)
    path = select_units(targets, library, np.ones(n, bool), pose, background_pose, silent, rest=7)
    assert np.all(path[60:70] == 7)
    assert jumps(path[:58]).sum() <= 3  # the filmed run 50.. is followed, not pieced together
    assert np.abs(path[:58] - np.arange(50, 108)).mean() < 3


def test_mapping_learns_a_lagged_relation() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 10)).astype(np.float32)
    y = np.zeros((400, 5), np.float32)
    y[2:, 0] = x[:-2, 0]  # the mouth follows the sound two frames later
    y[:, 1] = -x[:, 3]
    mapping = fit_mapping(SpeechFeatures(x, 25.0), y, np.ones(400, bool), ridge=1.0)
    pred = mapping.predict(SpeechFeatures(x, 25.0))
    assert np.corrcoef(pred[:, 0], y[:, 0])[0, 1] > 0.95
    assert np.corrcoef(pred[:, 1], y[:, 1])[0, 1] > 0.95


def test_clip_runs_may_start_anywhere(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Runs that begin mid-GOP (after a jump in the plan) decode once, not forever."""
    import numpy as np

    from digihuman.render.clip import GOP, ClipReader, ClipWriter, read_plan

    frames = 3 * GOP + 5
    with ClipWriter(tmp_path / "c.mp4", 64, 48, 25) as writer:
        for i in range(frames):
            writer.write(np.full((48, 64, 3), i * 4, np.uint8))
    plan = np.array([5, 6, 7, 30, 29, 28, 40, 41, 3, 2, 1, 0, 1, 2, 19, 20])
    reader = ClipReader(tmp_path / "c.mp4")
    got = [int(round(f.mean() / 4)) for f in read_plan(reader, plan)]
    reader.close()
    assert got == plan.tolist()


def test_mel_bands_follow_the_spectrum() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    low, high = np.sin(2 * np.pi * 300 * t), 0.5 * np.sin(2 * np.pi * 4000 * t)
    sound = np.concatenate([low, high]).astype(np.float32)  # one second each
    bands = mel_bands(sound, np.array([0.5, 1.5]), 20)
    assert bands.shape == (2, 20)
    assert int(np.argmax(bands[0])) < 5 < 14 < int(np.argmax(bands[1]))  # the tone's band is the loudest


def test_models_trained_without_bands_still_load(tmp_path: Path) -> None:
    x = np.random.default_rng(2).normal(size=(50, 10)).astype(np.float32)
    mapping = fit_mapping(SpeechFeatures(x, 25.0), x[:, :5], np.ones(50, bool))
    path = tmp_path / "mapping.npz"
    np.savez(path, weights=mapping.weights, x_mean=mapping.x_mean, x_std=mapping.x_std,
             fitted_r=mapping.fitted_r, gain=mapping.gain)  # as saved before bands existed
    loaded = MouthMapping.load(path)
    assert loaded.bands == 0
    assert loaded.predict(SpeechFeatures(x, 25.0)).shape == (50, 5)
