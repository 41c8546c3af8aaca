"""Speech → this person's mouth shapes: features per video frame and a learned ridge regression.

The speech side of a frame is the viseme timeline's mouth targets (:class:`~digihuman.timeline.MouthTrack`:
jaw, width, round, teeth) and a few acoustic numbers (level, voicing, the first two formant
estimates, low/high band shares), taken over a few frames of context on each side: the mouth moves
before the sound it makes (anticipation) and filmed clips carry their own audio/video offsets, so the
regression is given the neighbours and learns the lag itself.

The mouth side is the person's own descriptors (opening, width, rounding, jaw drop, teeth) measured
by face tracking, standardised per person. Fitted on the training video's own soundtrack, the map
turns any new speech into the shapes *this* person makes, in *their* range.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from digihuman.timeline import MouthTrack, Timeline

CONTEXT = 3  # frames on each side given to the regression
DESCRIPTORS = ("opening", "width", "rounding", "jaw", "teeth")  # columns of a descriptor matrix
RIDGE = 30.0  # strong: a 3 s training clip has ~80 frames for ~80 weights
MAX_GAIN = 2.0
# log-mel bands among the features of newly trained models (held-out best-lag r of the predicted
# opening on lv02, lv03, v09, length-weighted: 0.50 without, 0.53 with 20)
BANDS = 20
STRETCH = 1.0  # share of the spread lost to the ridge that is given back
SOUND_COLUMNS = 4  # speech_features' first columns are the timeline's mouth targets; the sound's follow
KERNEL_RIDGE = 0.3  # kernel models (lip-sync bench: 0.1-0.3 and a width of 0.1-0.5 all within 0.01)
MAX_ANCHORS = 2500  # training rows a kernel model keeps (~80 s at 30 fps)
# The two views of the sound a kernel model averages, as (first, last) frame spans, each span's
# features averaged, and the kernel width of each: every frame of ±3 (the fine timing of a closure)
# and five pooled spans over ±6 (the syllable round it: coarticulation). Lip-sync bench, held-out
# asked-for opening r on the long clips: 0.581 the first alone, 0.590 the two averaged.
KERNEL_VIEWS = ((tuple((k, k) for k in range(-CONTEXT, CONTEXT + 1)), 0.25),
                (((-6, -3), (-2, -1), (0, 0), (1, 2), (3, 6)), 0.5))
# Models whose features end with speech content states (digihuman.render.content): the linear part
# reads them at these frames (lip-sync bench, selected opening r on lv02/lv03/v09: 0.623 at -2/0/2,
# 0.631 at -4..4 step 2; with the kernels fitted to held-out residuals 0.644 at -4..4 step 2, 0.635
# at -6..6 step 3), with a ridge chosen per person from these by blocked cross-validation: it picks
# 300 for v09's 9 s and 1000-3000 for the 30 s clips; a fixed 3000 scored the same on the bench
# (0.638 against 0.631) but would suit one length of video only.
CONTENT_OFFSETS = (-4, -2, 0, 2, 4)
CONTENT_RIDGES = (100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0)
CONTENT_FOLDS = 5
# Fewer encoder dimensions the linear part may read instead of all 384: the states' leading principal
# components over the training clip, chosen with the ridge by the same blocked cross-validation. A
# clip of a few seconds has a few hundred frames for 5 x 384 state columns, and the map learned
# noise (lip-sync bench, rendered opening r: v09, 9 s of training, 0.324 with all, 0.412 with the 32
# the CV picks; v03, 3 s, lag-0 r 0.589 -> 0.760 with 8; the 30 s clips keep all 384, as their CV
# prefers, and render as before).
CONTENT_DIMS = (8, 16, 32, 64)
CONTENT_STRETCH = 0.5  # full stretch over-widened the range (selected spread 1.14-1.18x, 1.02-1.10x at 0.5)


@dataclass(frozen=True)
class SpeechFeatures:
    """Per-video-frame speech features of one audio: (T, F) float32, T = frames of the video."""

    values: np.ndarray
    fps: float

    def __len__(self) -> int:
        return len(self.values)


def speech_features(audio: Path | np.ndarray, mouth: MouthTrack, frames: int | None = None,
                    times: np.ndarray | None = None, bands: int = 0, content: str = "",
                    states: np.ndarray | None = None) -> SpeechFeatures:
    """Features of ``audio`` (a file, or mono 16 kHz samples) at ``mouth``'s frame rate.

    ``frames`` fixes the number of rows (default: ``len(mouth)``); rows past the audio's end are silence.
    ``times`` (seconds) instead gives one row per video frame shown at those times: a filmed video's
    frames are not always evenly spaced (phones and screen recorders drop and repeat frames), and
    pairing its mouths with the sound by frame number would drift out of sync.
    ``bands`` > 0 appends that many log-mel band energies (:func:`mel_bands`); ``content`` (an encoder's
    name) then appends that encoder's states (:mod:`digihuman.render.content`) at each frame: ``states``
    when the caller has them (computed beside other work), else computed here.
    """
    from digihuman.speech.align.features import HOP, analyse, load_audio

    samples = load_audio(audio) if isinstance(audio, Path) else np.asarray(audio, np.float32)
    fps = mouth.fps
    if times is None:
        n = len(mouth) if frames is None else frames
        centre = (np.arange(n) + 0.5) / fps
    else:
        n = len(times)
        centre = np.asarray(times, np.float64) + 0.5 / fps
    if len(samples) == 0:
        acoustic = np.zeros((n, 6), np.float32)
    else:
        f = _analyse_in_chunks(samples, analyse, HOP)
        # each video frame takes the analysis frame at its centre time
        at = np.clip(np.round(centre / HOP).astype(int), 0, len(f) - 1)
        level = np.clip((f[at, 0] + 60.0) / 40.0, -0.5, 1.5)  # -60..-20 dBFS -> 0..1
        acoustic = np.concatenate([level[:, None], f[at, 1:4], np.nan_to_num(f[at, 4:5]) / 1000.0,
                                   np.nan_to_num(f[at, 5:6]) / 2000.0], axis=1)
    track = np.stack([mouth.jaw, mouth.width, mouth.round, mouth.teeth], axis=1) if len(mouth) else None
    if track is None:
        visual = np.zeros((n, 4), np.float32)
    else:
        grid = (np.arange(len(track)) + 0.5) / fps  # beyond the track's ends its edge values hold
        visual = np.stack([np.interp(centre, grid, track[:, k]) for k in range(4)], axis=1)
    parts = [visual, acoustic]
    if bands > 0:
        parts.append(mel_bands(samples, centre, bands))
    if content:
        from digihuman.render.content import at_frames, content_states

        parts.append(at_frames(content_states(samples, content) if states is None else states, centre))
    return SpeechFeatures(np.concatenate(parts, axis=1).astype(np.float32), fps)


def feature_width(bands: int) -> int:
    """Columns of :func:`speech_features` before any content states: the timeline's four mouth
    targets, six acoustic numbers and ``bands`` band energies."""
    return SOUND_COLUMNS + 6 + bands


def mel_bands(samples: np.ndarray, centres: np.ndarray, bands: int, chunk: int = 2000) -> np.ndarray:
    """(T, bands) log energies in mel-spaced bands (80 Hz - 7 kHz, 32 ms window) centred at each of
    ``centres`` (seconds), minus their mean over the audio: the spectrum's shape tells open vowels
    from closed consonants better than level and two formants do, and removing the mean leaves the
    microphone and room out of it. Computed only at the video frames, in chunks (bounded memory)."""
    from digihuman.speech.align.features import RATE

    n_fft = 512
    out = np.zeros((len(centres), bands), np.float32)
    if len(samples) == 0 or len(centres) == 0:
        return out
    freqs = np.fft.rfftfreq(n_fft, 1.0 / RATE)
    mel = 2595.0 * np.log10(1.0 + np.array([80.0, 7000.0]) / 700.0)
    edges = 700.0 * (10.0 ** (np.linspace(mel[0], mel[1], bands + 2) / 2595.0) - 1.0)
    bank = np.zeros((bands, len(freqs)), np.float32)
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        bank[b] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    padded = np.pad(np.asarray(samples, np.float32), (n_fft // 2, n_fft // 2))
    window = np.hanning(n_fft).astype(np.float32)
    starts = np.clip(np.round(np.asarray(centres) * RATE).astype(np.int64), 0, len(samples))
    offsets = np.arange(n_fft)
    for lo in range(0, len(starts), chunk):
        frames = padded[starts[lo: lo + chunk, None] + offsets[None, :]] * window
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        out[lo: lo + chunk] = np.log(power @ bank.T + 1e-8)
    return out - out.mean(axis=0)


def _analyse_in_chunks(samples: np.ndarray, analyse, hop: float, chunk_s: float = 20.0,  # noqa: ANN001
                       pad_s: float = 0.5) -> np.ndarray:
    """(frames, 6) level, voicing, low and high band shares, F1, F2 per analysis hop.

    The analysis holds several arrays per hop at once; in 20 s chunks (with half a second of
    context each side) its memory stays the same for a 10-minute audio as for a short one.
    """
    from digihuman.speech.align.features import RATE

    total = int(np.ceil(len(samples) / (hop * RATE)))
    out = np.zeros((total, 6), np.float32)
    step, pad = int(chunk_s / hop), int(pad_s / hop)
    for first in range(0, total, step):
        lo = max(0, first - pad)
        f = analyse(samples[int(lo * hop * RATE): int(min(total, first + step + pad) * hop * RATE)])
        keep = slice(first - lo, first - lo + min(step, total - first))
        part = np.stack([f.energy_db[keep], f.voicing[keep], f.low_ratio[keep], f.high_ratio[keep],
                         f.f1[keep], f.f2[keep]], axis=1)
        out[first: first + len(part)] = part
    return out


def with_context(values: np.ndarray, context: int = CONTEXT, offsets: tuple[int, ...] | None = None) -> np.ndarray:
    """(T, F) -> (T, F * K): each row with its neighbours at ``offsets`` (default ``-context..context``,
    K of them; edges repeated)."""
    t = len(values)
    steps = np.arange(-context, context + 1) if offsets is None else np.asarray(offsets)
    idx = np.clip(np.arange(t)[:, None] + steps[None, :], 0, t - 1)
    return values[idx].reshape(t, -1)


def windowed(values: np.ndarray, spans: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(T, F) -> (T, F * len(spans)): each row's features averaged over each span of frames around it
    (edges repeated); a span (k, k) is the frame k steps away itself."""
    t = len(values)
    parts = []
    for lo, hi in spans:
        idx = np.clip(np.arange(t)[:, None] + np.arange(lo, hi + 1)[None, :], 0, t - 1)
        parts.append(values[idx].mean(axis=1))
    return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class KernelPart:
    """One view of a kernel model: Gaussian-kernel ridge regression on the features over ``spans``."""

    spans: tuple[tuple[int, int], ...]
    x_mean: np.ndarray
    x_std: np.ndarray
    anchors: np.ndarray  # (M, D) standardised training rows
    alpha: np.ndarray  # (M, 5) dual weights
    gamma: float  # kernel width, per input dimension

    def predict(self, values: np.ndarray) -> np.ndarray:
        """(T, 5) around zero, for (T, F) features."""
        x = (windowed(values, self.spans) - self.x_mean) / self.x_std
        out = np.empty((len(x), self.alpha.shape[1]), np.float32)
        for lo in range(0, len(x), 1024):  # (1024, M) kernel rows at a time, whatever the length
            out[lo: lo + 1024] = _rbf(x[lo: lo + 1024], self.anchors, self.gamma) @ self.alpha
        return out


@dataclass(frozen=True)
class MouthMapping:
    """A regression from speech features (with context) to standardised mouth descriptors: linear
    (ridge) in models trained before; in new ones, the same plus the average of kernel ridge views
    (``kernels``) fitted to what the linear part leaves."""

    weights: np.ndarray  # (F * (2 CONTEXT + 1) + 1, 5): last row is the bias
    x_mean: np.ndarray
    x_std: np.ndarray
    fitted_r: np.ndarray  # (5,) Pearson r per descriptor (kernel models: held out), for the training report
    gain: np.ndarray | None = None  # (5,) spread restored around the mean (ridge shrinks it)
    bands: int = 0  # log-mel bands among the features (0 in models trained before they were used)
    offsets: tuple[int, ...] = tuple(range(-CONTEXT, CONTEXT + 1))  # frames each row sees (linear models)
    first_column: int = 0  # feature columns used from here on (4: the sound only, not the timeline's track)
    kernels: tuple[KernelPart, ...] = ()
    content: str = ""  # the encoder whose states end the features ("": none, as in models trained before)
    kernel_columns: int = 0  # columns (from first_column) the kernels see; 0: all
    # the encoder states' mean (S,) and leading principal axes (S, k) the linear part reads them
    # through; None: all S states as they are (long clips, and models trained before)
    content_mean: np.ndarray | None = None
    content_basis: np.ndarray | None = None

    @property
    def reads_timeline(self) -> bool:
        """Whether the speech timeline's mouth targets are among the inputs (the generic mapping, and
        models trained before the sound alone was read): only then does a render need the speech's
        words and phones, and not just its pauses."""
        return self.first_column < SOUND_COLUMNS

    def predict(self, features: SpeechFeatures) -> np.ndarray:
        """(T, 5) standardised descriptors."""
        values = features.values[:, self.first_column:]
        if self.content_basis is not None:
            values = _project_states(values, self.content_mean, self.content_basis)
        bias = self.weights[-1]
        x = (with_context(values, offsets=self.offsets) - self.x_mean) / self.x_std
        pred = x @ self.weights[:-1] + bias
        if self.kernels:  # what the linear part misses, learned near the sounds the person was filmed making
            sound = values[:, :self.kernel_columns] if self.kernel_columns else values
            pred = pred + sum(part.predict(sound) for part in self.kernels) / len(self.kernels)
        return pred if self.gain is None else (pred - bias) * self.gain + bias

    def save(self, path: Path) -> None:
        gain = np.ones(self.weights.shape[1], np.float32) if self.gain is None else self.gain
        kernel = {}
        for j, part in enumerate(self.kernels):
            kernel.update({f"k{j}_spans": np.asarray(part.spans, np.int32), f"k{j}_x_mean": part.x_mean,
                           f"k{j}_x_std": part.x_std, f"k{j}_anchors": part.anchors, f"k{j}_alpha": part.alpha,
                           f"k{j}_gamma": np.float32(part.gamma)})
        np.savez(path, weights=self.weights, x_mean=self.x_mean, x_std=self.x_std, fitted_r=self.fitted_r,
                 gain=gain, bands=np.int32(self.bands), offsets=np.asarray(self.offsets, np.int32),
                 first_column=np.int32(self.first_column), content=np.str_(self.content),
                 kernel_columns=np.int32(self.kernel_columns), **kernel,
                 **({} if self.content_basis is None else
                    {"content_mean": self.content_mean, "content_basis": self.content_basis}))

    @classmethod
    def load(cls, path: Path) -> MouthMapping:
        with np.load(path) as z:
            gain = z["gain"] if "gain" in z else None
            bands = int(z["bands"]) if "bands" in z else 0
            offsets = tuple(int(o) for o in z["offsets"]) if "offsets" in z else tuple(range(-CONTEXT, CONTEXT + 1))
            first = int(z["first_column"]) if "first_column" in z else 0
            content = str(z["content"]) if "content" in z else ""
            kernel_columns = int(z["kernel_columns"]) if "kernel_columns" in z else 0
            kernels = []
            while f"k{len(kernels)}_spans" in z:
                j = len(kernels)
                kernels.append(KernelPart(tuple((int(lo), int(hi)) for lo, hi in z[f"k{j}_spans"]), z[f"k{j}_x_mean"],
                                          z[f"k{j}_x_std"], z[f"k{j}_anchors"], z[f"k{j}_alpha"],
                                          float(z[f"k{j}_gamma"])))
            basis = z["content_basis"] if "content_basis" in z else None
            return cls(z["weights"], z["x_mean"], z["x_std"], z["fitted_r"], gain, bands, offsets, first,
                       tuple(kernels), content, kernel_columns,
                       None if basis is None else z["content_mean"], basis)


def fit_mapping(features: SpeechFeatures, targets: np.ndarray, usable: np.ndarray,
                ridge: float = RIDGE, bands: int = 0, offsets: tuple[int, ...] | None = None,
                context: int = CONTEXT) -> MouthMapping:
    """Fit on the rows where ``usable``; ``targets`` (T, 5) are standardised descriptors; ``features``
    hold ``bands`` log-mel bands (as :func:`speech_features` makes them); each row sees the frames at
    ``offsets`` (default ``-context..context``)."""
    offsets = tuple(range(-context, context + 1)) if offsets is None else tuple(int(o) for o in offsets)
    x = with_context(features.values, offsets=offsets)
    x_mean, x_std = x[usable].mean(axis=0), x[usable].std(axis=0) + 1e-3
    xs = (x[usable] - x_mean) / x_std
    y = targets[usable]
    # the bias is not penalised: fit it as the target mean of the standardised inputs
    centred = y - y.mean(axis=0)
    n, p = xs.shape
    if n < p:  # the same ridge solution from the frames' n x n system: with the encoder states a
        # 10 s training clip has ~250 frames for ~2000 columns, and this costs a tenth
        w = xs.T @ np.linalg.solve(xs @ xs.T + ridge * np.eye(n), centred)
    else:
        w = np.linalg.solve(xs.T @ xs + ridge * np.eye(p), xs.T @ centred)
    weights = np.vstack([w, y.mean(axis=0)[None, :]]).astype(np.float32)
    pred = xs @ w + y.mean(axis=0)
    r = np.array([_pearson(pred[:, k], y[:, k]) for k in range(y.shape[1])], np.float32)
    # A ridge prediction is pulled towards the mean: every mouth would be a half-open average one,
    # and selection would never pick the person's wide or closed mouths. Stretch it back to the
    # filmed spread (on the four test clips: best-lag r 0.636 -> 0.653 against a half stretch, LMD
    # unchanged).
    spread = y.std(axis=0) / np.maximum(pred.std(axis=0), 1e-3)
    gain = np.clip(1.0 + STRETCH * (spread - 1.0), 1.0, MAX_GAIN).astype(np.float32)
    return MouthMapping(weights, x_mean.astype(np.float32), x_std.astype(np.float32), r, gain, bands, offsets)


def fit_kernel_mapping(features: SpeechFeatures, targets: np.ndarray, usable: np.ndarray,
                       bands: int = 0, first_column: int = SOUND_COLUMNS,
                       views: tuple = KERNEL_VIEWS, ridge: float = KERNEL_RIDGE,
                       max_anchors: int = MAX_ANCHORS, content: str = "",
                       content_columns: int = 0) -> MouthMapping:
    """A linear ridge map from the sound's features over ±3 frames to the standardised descriptors
    ``targets`` (T, 5), plus kernel ridge regressions (Gaussian kernel) of what it leaves, one per view
    of the sound (``views``: frame spans and kernel width), averaged; fitted on the rows where ``usable``.

    Why kernels: how far a mouth opens is not a weighted sum of band energies — a loud fricative
    and a loud vowel differ in shape, not level — and a person's video holds only a few hundred
    seconds, too little for many hand-made cross-terms. The kernels compare whole stretches of sound
    with the stretches the person was filmed saying (bench/lipsync_ablation.py, held-out asked-for
    opening r on the long clips: 0.555 linear, 0.590 with the kernels). Why the linear part stays:
    far from all of them (silence, a voice unlike the person's) kernels answer the average mouth
    (Mandarin on the bench avatars: spread 0.86x the person's range, loudness r 0.30 without it;
    1.07x and 0.38 with). Features start at ``first_column``: the timeline's mouth targets are left
    out (no better than the sound itself, bench: 0.548 with, 0.555 without). At most ``max_anchors``
    training rows are kept (evenly spread), which bounds the fit's memory (anchors²) and each
    rendered frame's cost (anchors × features).

    With ``content_columns`` > 0 the features end with that many columns of ``content``'s encoder
    states (:mod:`digihuman.render.content`): the linear part reads them too, at ``CONTENT_OFFSETS``
    with a ridge chosen by blocked cross-validation (they are many: 384 a frame), the kernels still
    see only the sound's own columns, and they learn what the linear part leaves on frames it did
    not see (its cross-validated predictions): its in-sample fit with that many inputs is too good,
    and kernels fitted to its in-sample residual learned nothing (lip-sync bench, selected opening r
    0.631 → 0.650). On a short clip the linear part may read the states' leading principal axes
    instead of all of them (:func:`_content_view`, :data:`CONTENT_DIMS`).
    """
    values = features.values[:, first_column:]
    sound = values[:, :values.shape[1] - content_columns]
    rows = np.flatnonzero(usable)
    if len(rows) > max_anchors:
        rows = rows[np.linspace(0, len(rows) - 1, max_anchors).round().astype(int)]
    # The linear part first: far from every sound the person was filmed making (digital silence, a
    # voice unlike theirs) a Gaussian kernel answers nothing, and the linear map still closes the
    # mouth for quiet and opens it for loud; the kernels learn only what it leaves.
    chosen = np.zeros(len(values), bool)
    chosen[rows] = True
    y = targets[rows].astype(np.float64)
    stretch = STRETCH
    states_mean = states_basis = None
    if content_columns:
        states_mean, states_basis, linear_ridge = _content_view(values, targets, chosen, content_columns)
        if states_basis is not None:
            values = _project_states(values, states_mean, states_basis)
        linear = replace(fit_mapping(SpeechFeatures(values, features.fps), targets, chosen,
                                     ridge=linear_ridge, bands=bands, offsets=CONTENT_OFFSETS), gain=None)
        base = _held_out(values, targets, chosen, CONTENT_OFFSETS, linear_ridge, CONTENT_FOLDS)[rows]
        stretch = CONTENT_STRETCH
    else:
        linear = replace(fit_mapping(SpeechFeatures(values, features.fps), targets, chosen, bands=bands),
                         gain=None)
        base = linear.predict(SpeechFeatures(values, features.fps))[rows].astype(np.float64)
    residual = y - base
    parts, loo = [], base.copy()
    for spans, gamma in views:
        x = windowed(sound, spans)[rows]
        x_mean, x_std = x.mean(axis=0), x.std(axis=0) + 1e-3
        xs = ((x - x_mean) / x_std).astype(np.float32)
        inverse = np.linalg.inv(_rbf(xs, xs, gamma).astype(np.float64) + ridge * np.eye(len(xs)))
        alpha = inverse @ residual
        # Leave-one-out predictions come free with the inverse (a kernel ridge identity): the in-sample
        # fit of a kernel model is nearly perfect, the held-out one is what a new sentence gets, so both
        # the reported r and the spread given back are measured on it.
        loo += (residual - alpha / np.maximum(np.diag(inverse), 1e-12)[:, None]) / len(views)
        parts.append(KernelPart(tuple(spans), x_mean.astype(np.float32), x_std.astype(np.float32), xs,
                                alpha.astype(np.float32), float(gamma)))
    r = np.array([_pearson(loo[:, j], y[:, j]) for j in range(y.shape[1])], np.float32)
    bias = linear.weights[-1].astype(np.float64)
    spread = y.std(axis=0) / np.maximum((loo - bias).std(axis=0), 1e-3)
    gain = np.clip(1.0 + stretch * (spread - 1.0), 1.0, MAX_GAIN).astype(np.float32)
    return MouthMapping(linear.weights, linear.x_mean, linear.x_std, r, gain, bands, linear.offsets, first_column,
                        tuple(parts), content if content_columns else "",
                        sound.shape[1] if content_columns else 0, states_mean, states_basis)


def _project_states(values: np.ndarray, mean: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``values`` whose last ``len(mean)`` columns (encoder states) are replaced by their
    coordinates on ``basis``'s axes."""
    states = len(mean)
    head = values[:, :values.shape[1] - states]
    return np.concatenate([head, (values[:, -states:] - mean) @ basis], axis=1).astype(np.float32)


def _content_view(values: np.ndarray, targets: np.ndarray, usable: np.ndarray, states: int,
                  ) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """(states' mean, principal axes, ridge) of the linear part: all ``states`` encoder columns
    (mean and axes None) or their leading :data:`CONTENT_DIMS` principal components, with one of
    :data:`CONTENT_RIDGES`, whichever blocked cross-validation (:func:`_blocked_errors`) predicts the
    opening best from. The axes come from the training clip's own states (no targets involved)."""
    rows = np.flatnonzero(usable)
    best = _blocked_errors(values, targets, usable, CONTENT_OFFSETS, CONTENT_RIDGES, CONTENT_FOLDS)
    choice: tuple[np.ndarray | None, np.ndarray | None, float] = (
        None, None, CONTENT_RIDGES[int(np.argmin(best))])
    best_error = float(best.min())
    if len(rows) < 2 * CONTENT_FOLDS:
        return choice
    mean = values[rows, -states:].astype(np.float64).mean(axis=0)
    _, _, axes = np.linalg.svd(values[rows, -states:] - mean, full_matrices=False)
    for dims in CONTENT_DIMS:
        if dims >= min(states, len(rows)):
            break
        basis = axes[:dims].T.astype(np.float32)
        errors = _blocked_errors(_project_states(values, mean.astype(np.float32), basis), targets, usable,
                                 CONTENT_OFFSETS, CONTENT_RIDGES, CONTENT_FOLDS)
        if float(errors.min()) < best_error:
            best_error = float(errors.min())
            choice = (mean.astype(np.float32), basis, CONTENT_RIDGES[int(np.argmin(errors))])
    return choice


def _folds(rows: np.ndarray, folds: int) -> list[np.ndarray]:
    """``rows`` cut into ``folds`` runs of neighbouring frames: held-out frames next to training
    ones (a frame and its neighbour look alike) would make every ridge look good."""
    edges = np.linspace(0, len(rows), folds + 1).round().astype(int)
    return [rows[edges[k]:edges[k + 1]] for k in range(folds) if edges[k + 1] > edges[k]]


def _blocked_ridge(values: np.ndarray, targets: np.ndarray, usable: np.ndarray, offsets: tuple[int, ...],
                   ridges: tuple[float, ...], folds: int) -> float:
    """The ridge of ``ridges`` whose linear map predicts the opening best on held-out runs of frames."""
    return float(ridges[int(np.argmin(_blocked_errors(values, targets, usable, offsets, ridges, folds)))])


def _blocked_errors(values: np.ndarray, targets: np.ndarray, usable: np.ndarray, offsets: tuple[int, ...],
                    ridges: tuple[float, ...], folds: int) -> np.ndarray:
    """(len(ridges),) squared error of the opening on held-out runs of frames (:func:`_folds`) of
    the linear map with each of ``ridges``; the middle ridge alone scores 0 when the frames are too few."""
    x = with_context(values, offsets=offsets).astype(np.float64)
    rows = np.flatnonzero(usable)
    errors = np.zeros(len(ridges))
    if len(rows) < 2 * folds:
        errors[:] = 1.0
        errors[len(ridges) // 2] = 0.0
        return errors
    for held in _folds(rows, folds):
        fit = np.setdiff1d(rows, held)
        mean, std = x[fit].mean(axis=0), x[fit].std(axis=0) + 1e-3
        xs, xh = (x[fit] - mean) / std, (x[held] - mean) / std
        y_mean = targets[fit, 0].mean()
        if xs.shape[1] < len(fit):  # fewer inputs than frames (the states' leading axes): the inputs' form
            eig, vectors = np.linalg.eigh(xs.T @ xs)
            projected = vectors.T @ (xs.T @ (targets[fit, 0] - y_mean))
            cross = xh @ vectors
        else:  # the dual form: with all states a frame has ~2000 inputs and a fold a few hundred frames
            eig, vectors = np.linalg.eigh(xs @ xs.T)
            projected = vectors.T @ (targets[fit, 0] - y_mean)
            cross = xh @ xs.T @ vectors
        for j, ridge in enumerate(ridges):
            errors[j] += float(((cross @ (projected / (eig + ridge)) + y_mean - targets[held, 0]) ** 2).sum())
    return errors


def _held_out(values: np.ndarray, targets: np.ndarray, usable: np.ndarray, offsets: tuple[int, ...],
              ridge: float, folds: int) -> np.ndarray:
    """(T, 5) the linear map's predictions, each run of frames (:func:`_folds`) from a map fitted
    without it; rows outside ``usable`` are zero."""
    out = np.zeros(targets.shape, np.float64)
    features = SpeechFeatures(values, 0.0)
    for held in _folds(np.flatnonzero(usable), folds):
        rest = usable.copy()
        rest[held] = False
        linear = replace(fit_mapping(features, targets, rest, ridge=ridge, offsets=offsets), gain=None)
        out[held] = linear.predict(features)[held]
    return out


def _rbf(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """exp(-gamma · squared distance / dimensions) between the rows of ``a`` and ``b``."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.exp(-gamma / a.shape[1] * np.maximum(d2, 0.0))


def prior_mapping(features_dim: int) -> MouthMapping:
    """The map used when the training video has no usable soundtrack: opening and jaw follow the
    timeline's jaw target, width and rounding its width and round targets (standardised units)."""
    f = features_dim * (2 * CONTEXT + 1)
    w = np.zeros((f + 1, len(DESCRIPTORS)), np.float32)
    centre = CONTEXT * features_dim  # columns of the frame itself
    w[centre + 0, 0] = w[centre + 0, 3] = 1.0  # jaw -> opening, jaw drop
    w[centre + 1, 1] = 0.8  # width
    w[centre + 2, 2] = 0.8  # round
    w[centre + 3, 4] = 0.5  # teeth
    return MouthMapping(w, np.zeros(f, np.float32), np.full(f, 0.25, np.float32), np.zeros(5, np.float32))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / d) if d > 0 else 0.0


def silent_frames(timeline: Timeline, frames: int, fps: float, margin_s: float = 0.04,
                  min_s: float = 0.0) -> np.ndarray:
    """(T,) bool: frames inside the timeline's silences of at least ``min_s`` (shrunk by ``margin_s``
    at each end, so the mouth is still closing or already opening at a pause's edges)."""
    silent = np.zeros(frames, bool)
    t = (np.arange(frames) + 0.5) / fps
    for start, end in timeline.silences:
        if end - start >= min_s:
            silent |= (t >= start + margin_s) & (t <= end - margin_s)
    return silent
