"""The language-free method: how open the mouth is, and roughly what shape, from the sound alone.

Openness is a linear model of frame features — level relative to the speaker's own range,
voicing, spectral centroid, low-band (first formant) and high-band (hiss) shares, and the shape
of a 20-band log-mel spectrum — taken at five instants around each frame (±80 ms), shipped in
``phone_targets.json``. ``bench/learn_phone_targets.py`` fits it on speech the product's own
voices make: from the sound alone, it learns the coarticulated jaw track (``track.mouth_track``)
of the phones the voice spoke, so nothing recorded or filmed goes into it. It needs no words, so
it serves any language, and it also tells the phone-based methods how open each phone actually
sounded (``Phone.openness``).

The rough shapes come from rules on the same features: hiss is SS, a quiet voiced murmur is nn,
and vowels split by openness and by where their energy sits (front ih/E, back oh/ou, open aa).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digihuman.speech.align.features import BLOCK, HOP, RATE, analyse, frame_blocks, frame_count, speech_levels
from digihuman.timeline import Viseme

N_MELS = 20
CONTEXT = (-8, -4, 0, 4, 8)  # frames (10 ms) around each frame that the model sees
_SEGMENT_MAX = 0.08  # s: long stretches of one class are cut so that openness can move within them
_BREATH_DB = 12.0  # a breath this far above the noise floor parts the lips fully (as far as it sounds open)


@dataclass(frozen=True)
class OpennessModel:
    """A learned linear map from context-stacked frame features to mouth opening (z-scored)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float = 0.0
    smooth_frames: float = 3.0  # gaussian sigma applied to the output, in 10 ms frames

    @classmethod
    def from_dict(cls, data: dict) -> OpennessModel:
        return cls(tuple(data["mean"]), tuple(data["scale"]), tuple(data["weights"]), float(data.get("bias", 0.0)),
                   float(data.get("smooth_frames", 3.0)))

    def to_dict(self) -> dict:
        r = lambda xs: [round(float(x), 6) for x in xs]  # noqa: E731
        return {"mean": r(self.mean), "scale": r(self.scale), "weights": r(self.weights),
                "bias": round(self.bias, 6), "smooth_frames": self.smooth_frames}

    def raw(self, stacked: np.ndarray) -> np.ndarray:
        """Unsmoothed model output for context-stacked features."""
        z = (stacked - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.bias

    def predict(self, samples: np.ndarray) -> np.ndarray:
        """Openness per 10 ms frame on a 0..1 scale (5th..95th percentile of this sound)."""
        from scipy.ndimage import gaussian_filter1d

        features = frame_features(samples)
        # The context-stacked matrix is five times the features: it is made a block at a time.
        out = np.empty(len(features))
        for first in range(0, len(features), BLOCK):
            rows = np.arange(first, min(len(features), first + BLOCK))
            out[rows] = self.raw(stack_context(features, rows=rows))
        if self.smooth_frames > 0:
            out = gaussian_filter1d(out, self.smooth_frames)
        return scale_unit(out)


def scale_unit(values: np.ndarray) -> np.ndarray:
    """Map the 5th..95th percentile of ``values`` to 0..1, clipped."""
    if values.size == 0:
        return values
    lo, hi = np.percentile(values, [5, 95])
    return np.clip((values - lo) / max(hi - lo, 1e-9), 0.0, 1.0)


def _mel_bank(n: int = N_MELS, nfft: int = 512, rate: int = RATE, lo: float = 80.0, hi: float = 7600.0) -> np.ndarray:
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    bins = np.floor((nfft + 1) * hz(np.linspace(mel(lo), mel(hi), n + 2)) / rate).astype(int)
    bank = np.zeros((n, nfft // 2 + 1))
    for i in range(n):
        a, b, c = bins[i], bins[i + 1], bins[i + 2]
        bank[i, a:b] = (np.arange(a, b) - a) / max(b - a, 1)
        bank[i, b:c] = (c - np.arange(b, c)) / max(c - b, 1)
    return bank


def frame_features(samples: np.ndarray) -> np.ndarray:
    """Per-frame features [T, 5 + N_MELS], each normalised to this sound (level, channel)."""
    f = analyse(samples)
    floor, peak = speech_levels(f.energy_db)
    level = np.clip((f.energy_db - floor) / max(peak - floor, 1e-6), -0.5, 1.2)
    logmel = np.empty((frame_count(len(samples)), N_MELS))
    bank = _mel_bank().T
    for first, block in frame_blocks(samples):
        frames = block.astype(np.float64)
        del block
        frames -= frames.mean(axis=1, keepdims=True)
        spec = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), 512, axis=1)) ** 2
        del frames
        logmel[first: first + len(spec)] = np.log(spec @ bank + 1e-8)
        del spec
    speech = level > 0.3
    # Removing the mean spectrum of the speech cancels the microphone and room (cepstral mean
    # normalisation); removing each frame's mean leaves the shape, not the level.
    logmel -= logmel[speech].mean(axis=0) if speech.any() else logmel.mean(axis=0)
    shape = logmel - logmel.mean(axis=1, keepdims=True)
    return np.column_stack([level, f.voicing, np.log(f.centroid + 1.0) - 7.0, f.low_ratio, f.high_ratio, 0.1 * shape])


def stack_context(features: np.ndarray, context: tuple[int, ...] = CONTEXT,
                  rows: np.ndarray | None = None) -> np.ndarray:
    """Features of the frames at ``context`` offsets side by side (edges repeat the end frames).

    ``rows`` picks the rows wanted (default: all), the same as the whole stack's.
    """
    n = len(features)
    rows = np.arange(n) if rows is None else np.asarray(rows)
    idx = np.clip(rows[:, None] + np.asarray(context)[None, :], 0, n - 1)
    return features[idx].reshape(len(rows), -1)


def stacked_features(samples: np.ndarray) -> np.ndarray:
    return stack_context(frame_features(samples))


def classify(samples: np.ndarray, openness: np.ndarray, speech: np.ndarray) -> list[str]:
    """A rough viseme per 10 ms frame from acoustic cues alone."""
    f = analyse(samples)
    n = min(len(f), len(openness), len(speech))
    floor, peak = speech_levels(f.energy_db)
    level = (f.energy_db - floor) / max(peak - floor, 1e-6)
    f2_mid = np.median(f.f2[:n][speech[:n]]) if speech[:n].any() else 1500.0
    out = []
    for i in range(n):
        if not speech[i]:
            out.append("sil")
        elif f.high_ratio[i] > 0.35 and f.voicing[i] < 0.5:
            out.append("SS")  # hiss without voice: s, sh, f, t bursts
        elif level[i] < 0.45 and f.voicing[i] > 0.5 and f.low_ratio[i] < 0.35:
            out.append("nn")  # quiet voiced murmur: nasals, l, closures
        elif openness[i] > 0.65:
            out.append("aa")
        elif f.f2[i] > f2_mid * 1.1:
            out.append("ih" if openness[i] < 0.4 else "E")
        elif f.f2[i] < f2_mid * 0.9:
            out.append("ou" if openness[i] < 0.4 else "oh")
        else:
            out.append("E" if openness[i] > 0.4 else "ih")
    return out


def breath_visemes(samples: np.ndarray, openness: np.ndarray, speech: np.ndarray) -> tuple[Viseme, ...]:
    """``sil`` spans covering the silences, ``weight`` = how far an audible breath parts the lips.

    Speakers breathe in through the mouth in pauses, and the inhale is heard: the weight is the
    acoustic openness, scaled down to nothing as the sound sinks to the noise floor (or to
    digital silence), where the mouth rests fully.
    """
    f_level = analyse(samples).energy_db
    floor, peak = speech_levels(f_level)
    audible = np.clip((f_level - floor) / _BREATH_DB, 0.0, 1.0)
    n = min(len(openness), len(speech), len(audible))
    weight = openness[:n] * audible[:n]
    return _segments(["sil" if not speech[i] else "" for i in range(n)], weight)


def acoustic_visemes(samples: np.ndarray, model: OpennessModel, speech: np.ndarray) -> tuple[Viseme, ...]:
    """Viseme spans with ``weight`` = openness, from the sound alone; silences are left out."""
    openness = model.predict(samples)
    return _segments([c if c != "sil" else "" for c in classify(samples, openness, speech)], openness)


def _segments(classes: list[str], weight: np.ndarray) -> tuple[Viseme, ...]:
    """Runs of one class ("" for none), cut at ``_SEGMENT_MAX``, each with its mean weight."""
    out: list[Viseme] = []
    i, n = 0, len(classes)
    step = max(1, int(round(_SEGMENT_MAX / HOP)))
    while i < n:
        j = i + 1
        while j < n and classes[j] == classes[i] and j - i < step:
            j += 1
        if classes[i]:
            out.append(Viseme(classes[i], round(i * HOP, 3), round(j * HOP, 3), round(float(weight[i:j].mean()), 3)))
        i = j
    return tuple(out)
