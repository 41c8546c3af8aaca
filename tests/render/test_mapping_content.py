"""The mouth mapping's speech content columns (whisper encoder states): fitting, saving, old models,
and the encoder itself (real tiny.en: it must be installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digihuman.render.mapping import (MouthMapping, SpeechFeatures, _blocked_ridge, feature_width,
                                      fit_kernel_mapping, speech_features)
from digihuman.timeline import MouthTrack

BANDS = 2
CONTENT = 24


def _speech(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features whose sound columns are noise and whose content columns carry a slow 'syllable'
    signal that drives the targets (with a 2-frame lag), as whisper's states carry what is said."""
    rng = np.random.default_rng(seed)
    said = np.convolve(rng.normal(size=frames + 8), np.ones(5) / 5, "same")[:frames]
    loading = np.random.default_rng(99).normal(size=CONTENT)  # the same 'encoder' for every clip
    states = np.outer(said, loading) + 0.3 * rng.normal(size=(frames, CONTENT))
    sound = rng.normal(size=(frames, feature_width(BANDS)))
    y = np.zeros((frames, 5))
    y[2:, 0] = said[:-2] / said.std()
    y[:, 1:] = 0.2 * rng.normal(size=(frames, 4))
    return np.concatenate([sound, states], axis=1).astype(np.float32), y.astype(np.float32)


def _r(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_content_columns_carry_what_the_sound_alone_misses(tmp_path: Path) -> None:
    x, y = _speech(500, 0)
    new_x, new_y = _speech(300, 1)
    usable = np.ones(len(x), bool)
    with_content = fit_kernel_mapping(SpeechFeatures(x, 25.0), y, usable, bands=BANDS, content="tiny.en",
                                      content_columns=CONTENT)
    sound_only = fit_kernel_mapping(SpeechFeatures(x[:, :-CONTENT], 25.0), y, usable, bands=BANDS)
    assert with_content.content == "tiny.en" and sound_only.content == ""
    # the kernels see the sound's columns only (after the timeline's four), the linear part all of them
    assert with_content.kernel_columns == feature_width(BANDS) - 4
    assert with_content.kernels[0].anchors.shape[1] == (feature_width(BANDS) - 4) * 7
    pred = with_content.predict(SpeechFeatures(new_x, 25.0))[:, 0]
    assert _r(pred, new_y[:, 0]) > 0.8
    assert _r(sound_only.predict(SpeechFeatures(new_x[:, :-CONTENT], 25.0))[:, 0], new_y[:, 0]) < 0.3
    assert with_content.fitted_r[0] > 0.8  # the training report's r (held out) sees it too
    path = tmp_path / "mapping.npz"
    with_content.save(path)
    loaded = MouthMapping.load(path)
    assert (loaded.content, loaded.kernel_columns) == ("tiny.en", with_content.kernel_columns)
    np.testing.assert_allclose(loaded.predict(SpeechFeatures(new_x, 25.0))[:, 0], pred, atol=1e-4)


def test_models_saved_before_content_load_without_it(tmp_path: Path) -> None:
    x, y = _speech(300, 2)
    mapping = fit_kernel_mapping(SpeechFeatures(x[:, :-CONTENT], 25.0), y, np.ones(300, bool), bands=BANDS)
    mapping.save(tmp_path / "new.npz")
    with np.load(tmp_path / "new.npz") as z:  # the file as versions before content columns wrote it
        old = {k: z[k] for k in z.files if k not in ("content", "kernel_columns")}
    np.savez(tmp_path / "old.npz", **old)
    loaded = MouthMapping.load(tmp_path / "old.npz")
    assert (loaded.content, loaded.kernel_columns) == ("", 0)
    features = SpeechFeatures(x[:, :-CONTENT], 25.0)
    np.testing.assert_allclose(loaded.predict(features), mapping.predict(features), atol=1e-5)


def test_blocked_ridge_is_light_for_a_clean_relation_and_heavy_for_noise() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 40))
    clean = np.zeros((400, 5))
    clean[:, 0] = x[:, :5].sum(axis=1)
    noise = rng.normal(size=(400, 5))
    usable = np.ones(400, bool)
    ridges = (1.0, 100.0, 10000.0)
    assert _blocked_ridge(x, clean, usable, (0,), ridges, 5) == 1.0
    assert _blocked_ridge(x, noise, usable, (0,), ridges, 5) == 10000.0


def test_speech_features_append_the_encoder_states_at_the_video_frames() -> None:
    from digihuman.render.content import content_states

    rate = 16000
    t = np.arange(int(2.5 * rate)) / rate
    # a voiced vowel-like sound in the middle second, silence round it
    samples = (0.3 * np.sin(2 * np.pi * 140 * t) * ((t > 0.75) & (t < 1.75))).astype(np.float32)
    states = content_states(samples)  # the real tiny.en encoder: it must be installed
    assert states.shape == (125, 384)
    mouth = MouthTrack(25.0, (), (), (), ())  # the features need only its frame rate
    features = speech_features(samples, mouth, frames=62, bands=BANDS, content="tiny.en")
    assert features.values.shape == (62, feature_width(BANDS) + 384)
    # frame 30 (1.22 s) is row 61 of the states, give or take the interpolation
    speaking, silent = features.values[30, feature_width(BANDS):], features.values[5, feature_width(BANDS):]
    np.testing.assert_allclose(speaking, states[60:62].mean(axis=0), atol=0.5)
    assert np.linalg.norm(speaking - silent) > 1.0  # the encoder hears the difference



def _spoken(frames: int, seed: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`_speech`, with 192 state columns whose own noise is ``noise`` (the signal's is ~0.45)."""
    rng = np.random.default_rng(seed)
    said = np.convolve(rng.normal(size=frames + 8), np.ones(5) / 5, "same")[:frames]
    direction = np.random.default_rng(99).normal(size=192)
    states = np.outer(said, direction) + noise * rng.normal(size=(frames, 192))
    y = np.zeros((frames, 5))
    y[2:, 0] = said[:-2] / said.std()
    y[:, 1:] = 0.2 * rng.normal(size=(frames, 4))
    sound = rng.normal(size=(frames, feature_width(BANDS)))
    return np.concatenate([sound, states], axis=1).astype(np.float32), y.astype(np.float32)


def test_noisy_states_are_read_through_their_leading_axes_which_are_saved(
        tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from digihuman.render import mapping as module

    x, y = _spoken(600, 4, 2.0)
    new_x, new_y = _spoken(300, 5, 2.0)
    usable = np.ones(len(x), bool)
    mapping = fit_kernel_mapping(SpeechFeatures(x, 25.0), y, usable, bands=BANDS, content="tiny.en",
                                 content_columns=192)
    assert mapping.content_basis is not None and mapping.content_basis.shape[0] == 192
    assert mapping.content_basis.shape[1] < 192 and mapping.content_mean.shape == (192,)
    pred = mapping.predict(SpeechFeatures(new_x, 25.0))[:, 0]
    monkeypatch.setattr(module, "CONTENT_DIMS", ())
    whole = fit_kernel_mapping(SpeechFeatures(x, 25.0), y, usable, bands=BANDS, content="tiny.en",
                               content_columns=192)
    assert whole.content_basis is None
    # the cross-validation chose the reduced states because new speech is predicted better from them
    assert _r(pred, new_y[:, 0]) > _r(whole.predict(SpeechFeatures(new_x, 25.0))[:, 0], new_y[:, 0]) > 0.85
    path = tmp_path / "mapping.npz"
    mapping.save(path)
    loaded = MouthMapping.load(path)
    assert loaded.content_basis.shape == mapping.content_basis.shape
    np.testing.assert_allclose(loaded.predict(SpeechFeatures(new_x, 25.0))[:, 0], pred, atol=1e-4)


def test_clean_states_are_read_whole() -> None:
    x, y = _spoken(150, 0, 0.3)
    mapping = fit_kernel_mapping(SpeechFeatures(x, 25.0), y, np.ones(len(x), bool), bands=BANDS,
                                 content="tiny.en", content_columns=192)
    assert mapping.content_basis is None and mapping.content_mean is None
