"""The speech → mouth mapping (kernel model), the lip-colour screening of library mouths and the
mouth shown in pauses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digihuman.render.avatar import pause_frames, rest_frame
from digihuman.render.composite import lip_colour
from digihuman.render.mapping import KERNEL_VIEWS, MouthMapping, SpeechFeatures, fit_kernel_mapping
from digihuman.render.select import SelectOptions, colour_outliers, opening_reliability, select_units
from digihuman.timeline import Timeline


def _speech(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features (4 timeline columns of noise, then 6 'sound' columns) and a mouth that opens with the
    square of the sound's first column two frames later: a relation no linear map of one frame holds."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10)).astype(np.float32)
    y = np.zeros((n, 5), np.float32)
    y[2:, 0] = x[:-2, 4] ** 2
    y[:, 1] = -x[:, 6]
    y[:, 2:] = rng.normal(size=(n, 3))
    return x, (y - y.mean(axis=0)) / y.std(axis=0)


def test_kernel_mapping_generalises_a_lagged_nonlinear_relation() -> None:
    x, y = _speech(600, 0)
    frames = ((KERNEL_VIEWS[0][0], 0.5),)  # the per-frame view alone: white-noise features do not pool
    mapping = fit_kernel_mapping(SpeechFeatures(x, 25.0), y, np.ones(600, bool), views=frames, ridge=0.1)
    new_x, new_y = _speech(300, 1)
    pred = mapping.predict(SpeechFeatures(new_x, 25.0))
    assert pred.shape == (300, 5)
    assert np.corrcoef(pred[:, 0], new_y[:, 0])[0, 1] > 0.6  # held out: the squared, delayed opening
    assert np.corrcoef(pred[:, 1], new_y[:, 1])[0, 1] > 0.8
    # the reported r is the leave-one-out one: high where there is a relation, near 0 on noise
    assert mapping.fitted_r[1] > 0.8 and abs(mapping.fitted_r[3]) < 0.3
    assert mapping.first_column == 4  # the timeline's columns are not among the inputs


def test_kernel_mapping_keeps_at_most_its_anchors_and_round_trips(tmp_path: Path) -> None:
    x, y = _speech(900, 2)
    mapping = fit_kernel_mapping(SpeechFeatures(x, 25.0), y, np.ones(900, bool), max_anchors=300)
    # two views: ±3 frames and five pooled spans, 300 rows each
    assert [part.anchors.shape for part in mapping.kernels] == [(300, 6 * 7), (300, 6 * 5)]
    path = tmp_path / "mapping.npz"
    mapping.save(path)
    loaded = MouthMapping.load(path)
    features = SpeechFeatures(x[:50], 25.0)
    assert np.allclose(loaded.predict(features), mapping.predict(features), atol=1e-5)


def test_lip_colour_measures_the_ring_between_the_lip_contours() -> None:
    picture = np.full((100, 100, 3), 200, np.uint8)  # pale skin
    picture[40:60, 30:70] = (180, 60, 70)  # red lips
    picture[47:53, 38:62] = (20, 10, 10)  # dark mouth opening
    outer = np.array([[30, 40], [70, 40], [70, 60], [30, 60]], np.float64)
    inner = np.array([[38, 47], [62, 47], [62, 53], [38, 53]], np.float64)
    lab = lip_colour(picture, outer, inner)
    assert 35 < lab[0] < 55 and lab[1] > 40  # a mid-light, red colour: neither skin nor the opening
    assert np.isnan(lip_colour(picture, outer[:, :] * 0.05, inner * 0.05)).all()  # too small to measure


def test_colour_outliers_reject_far_lips_only_and_at_most_a_tenth() -> None:
    rng = np.random.default_rng(3)
    lab = np.column_stack([rng.normal(50, 2, 200), rng.normal(30, 1.5, 200), rng.normal(15, 1.5, 200)])
    lab[[5, 77]] = [85, 2, 5]  # a hand in front of the mouth, a flash
    lab[120] = np.nan  # not measured: not judged
    usable = np.ones(200, bool)
    usable[9] = False
    lab[9] = [90, 0, 0]  # already unusable: left alone
    out = colour_outliers(lab, usable)
    assert set(np.flatnonzero(out)) == {5, 77}
    lab[:40] = [85, 2, 5]  # a fifth of the frames differ: only the furthest tenth goes
    assert colour_outliers(lab, usable).sum() <= 20


def test_kernel_mapping_keeps_the_linear_trend_far_from_its_training_sounds() -> None:
    """Silence or a voice unlike the person's lies far from every training row: the kernels fall
    silent there, and the linear part still opens the mouth for loud and closes it for quiet."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(500, 10)).astype(np.float32)
    y = np.zeros((500, 5), np.float32)
    y[:, 0] = x[:, 4]  # opening follows the level
    mapping = fit_kernel_mapping(SpeechFeatures(x, 25.0), y, np.ones(500, bool))
    far = np.zeros((20, 10), np.float32)
    far[:, 4] = np.linspace(-6, 6, 20)  # quieter and louder than anything in training
    pred = mapping.predict(SpeechFeatures(far, 25.0))[:, 0]
    assert pred[0] < -3 and pred[-1] > 3  # a Gaussian kernel alone would answer ~0 (the mean mouth)


def test_pause_frames_number_the_long_pauses_well_inside_them() -> None:
    timeline = Timeline(10.0, "en", silences=((1.0, 2.0), (4.0, 4.3), (6.0, 7.0)))
    times = np.arange(250) / 25.0  # 25 fps
    labels = pause_frames(timeline, times, 25.0)
    centre = times + 0.02
    assert set(np.unique(labels)) == {0, 1, 2}  # the 0.3 s gap between words is no pause
    assert np.all(labels[(centre >= 1.2) & (centre <= 1.8)] == 1)
    assert np.all(labels[(centre >= 6.2) & (centre <= 6.8)] == 2)
    assert labels[(centre < 1.2) | ((centre > 1.8) & (centre < 6.2)) | (centre > 6.8)].sum() == 0


def _person(rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Descriptors of a person who speaks with openings 0-0.12, still head (angles, motion)."""
    d = np.zeros((n, 5), np.float32)
    d[:, 0] = rng.uniform(0.0, 0.12, n)
    d[:, 1] = 0.6 + rng.normal(0, 0.01, n)
    return d, np.zeros((n, 3), np.float32), np.full(n, 0.001, np.float32)


def test_the_rest_mouth_is_opened_as_the_persons_pauses_are() -> None:
    rng = np.random.default_rng(5)
    d, angles, motion = _person(rng)
    usable = np.ones(len(d), bool)
    pauses = np.zeros(len(d), np.int64)
    for k, (lo, opening) in enumerate(((40, 0.05), (120, 0.045), (200, 0.06)), 1):
        pauses[lo: lo + 12] = k
        d[lo: lo + 12, 0] = opening + rng.normal(0, 0.002, 12)  # lips a little apart in every pause
    rest = rest_frame(d, usable, motion, angles, pauses)
    assert pauses[rest] > 0
    assert abs(d[rest, 0] - 0.05) < 0.004  # the median pause, not the closed extreme
    closed = rest_frame(d, usable, motion, angles)  # no soundtrack: lips closed
    assert d[closed, 0] <= np.percentile(d[:, 0], 15)


def test_one_pause_does_not_set_the_rest_mouth() -> None:
    """A single pause may be a breath taken through the mouth: the lips stay closed at rest."""
    rng = np.random.default_rng(6)
    d, angles, motion = _person(rng)
    pauses = np.zeros(len(d), np.int64)
    pauses[40:60] = 1
    d[40:60, 0] = 0.08
    rest = rest_frame(d, np.ones(len(d), bool), motion, angles, pauses)
    assert d[rest, 0] <= np.percentile(d[:, 0], 15)


def test_opening_reliability_tells_tracker_noise_from_mouth_motion() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(3000) / 30.0
    mouth = 0.05 + 0.03 * np.sin(2 * np.pi * 1.3 * t) * np.sin(2 * np.pi * 0.31 * t)  # syllables, phrases
    usable = np.ones(len(t), bool)
    assert opening_reliability(mouth, usable) > 0.98
    noisy = mouth + rng.normal(0, 0.01, len(t))
    truth = mouth.var() / noisy.var()  # ~0.82
    assert abs(opening_reliability(noisy, usable) - truth) < 0.04


def test_selection_asks_further_out_when_the_library_is_noisy() -> None:
    """The frames measured nearest a wide target are, on average, over-read: selection reaches past
    it so that the mouths it picks are as wide as asked, not just measured so."""
    rng = np.random.default_rng(8)
    n, t = 3000, 60
    true = np.sin(np.arange(n) / 4.0)
    library = np.zeros((n, 5), np.float32)
    library[:, 0] = true + rng.normal(0, 0.3, n)
    library[:, 0] /= library[:, 0].std()
    targets = np.zeros((t, 5), np.float32)
    targets[:, 0] = rng.permutation(np.linspace(-1.3, 1.3, t))
    args = (library, np.ones(n, bool), np.zeros((n, 2)), np.zeros((t, 2)), np.zeros(t, bool), 0)
    plain = select_units(targets, *args, options=SelectOptions(undo_noise=False))
    undone = select_units(targets, *args)
    slope = lambda chosen: np.polyfit(targets[:, 0], true[chosen], 1)[0]  # noqa: E731
    assert slope(undone) > 1.08 * slope(plain)
