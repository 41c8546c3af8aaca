"""Audio in, frame-wise acoustic features out: the shared ground of silence detection and of
the language-free acoustic method.

All analysis runs on mono 16 kHz float32 samples in 25 ms windows every 10 ms (``HOP``), the
frame rate pocketsphinx also uses, so that frame ``k`` covers about ``[k*HOP, k*HOP + 0.025)``.

Each frame depends on its own window only, so the analysis runs over blocks of ``BLOCK`` frames
(20 s) at a time: the windowed frames, spectra and autocorrelations of one block are all that is
held at once, and memory stays the same for a ten-minute audio as for a short one. The per-frame
results are the same as analysing the whole sound at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000  # every analysis here works at this rate; pocketsphinx's acoustic model wants it
HOP = 0.01  # seconds between frames
WINDOW = 0.025  # analysis window, seconds
_FLOOR_DB = -100.0  # digital silence is clamped here rather than -inf
BLOCK = 2000  # frames analysed at once (20 s): bounds the memory the per-frame arrays take


def load_audio(path: Path, rate: int = RATE, *, required: bool = True) -> np.ndarray:
    """Mono float32 samples at ``rate`` of any audio or video file (see
    :func:`digihuman.media.audio.decode_audio`, the one decoder)."""
    from digihuman.media.audio import decode_audio

    return decode_audio(path, rate, required=required)[0]


@dataclass(frozen=True)
class Features:
    """Frame-wise description of a sound, one value per ``HOP`` for each field."""

    energy_db: np.ndarray  # RMS level in dBFS (clamped at -100)
    voicing: np.ndarray  # peak of the normalised autocorrelation in the 60-400 Hz pitch range, 0..1
    zcr: np.ndarray  # zero crossings per sample, 0..1 (high for hiss: s, f, sh)
    centroid: np.ndarray  # spectral centroid, Hz
    low_ratio: np.ndarray  # share of energy in 250-1000 Hz (open vowels: high F1)
    high_ratio: np.ndarray  # share of energy above 3 kHz (fricatives)
    f1: np.ndarray  # centroid of the 200-1100 Hz band, a rough first formant (jaw opening), Hz
    f2: np.ndarray  # centroid of the 900-2800 Hz band, a rough second formant (front/back), Hz

    def __len__(self) -> int:
        return len(self.energy_db)


def frame_count(n_samples: int, rate: int = RATE) -> int:
    """Number of frames ``frame_signal`` makes of ``n_samples`` samples (at least one)."""
    return max(1, int(np.ceil(n_samples / int(round(HOP * rate)))))


def frame_signal(samples: np.ndarray, rate: int = RATE, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Overlapping windows, one row per ``HOP``; the last window is zero-padded.

    ``start``/``stop`` pick frames ``[start, stop)`` only (the same rows the whole would have),
    without framing the rest of the sound.
    """
    hop, win = int(round(HOP * rate)), int(round(WINDOW * rate))
    n = frame_count(len(samples), rate)
    stop = n if stop is None else min(stop, n)
    start = min(max(0, start), stop)
    count = stop - start
    padded = np.zeros(max(0, count - 1) * hop + win, np.float32)
    seg = samples[start * hop: start * hop + len(padded)]
    padded[: len(seg)] = seg
    idx = np.arange(win)[None, :] + hop * np.arange(count)[:, None]
    return padded[idx]


def frame_blocks(samples: np.ndarray, rate: int = RATE, block: int | None = None):  # noqa: ANN201
    """``(first, frames)`` for consecutive blocks of at most ``block`` (``BLOCK``) rows of ``frame_signal``."""
    n = frame_count(len(samples), rate)
    block = BLOCK if block is None else block
    for first in range(0, n, block):
        yield first, frame_signal(samples, rate, first, first + block)


def energy_db(samples: np.ndarray, rate: int = RATE) -> np.ndarray:
    """RMS level of each frame in dBFS."""
    out = np.empty(frame_count(len(samples), rate))
    for first, frames in frame_blocks(samples, rate):
        rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
        out[first: first + len(rms)] = np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), _FLOOR_DB)
    return out


_FIELDS = ("energy_db", "voicing", "zcr", "centroid", "low_ratio", "high_ratio", "f1", "f2")


def analyse(samples: np.ndarray, rate: int = RATE) -> Features:
    """All features of ``samples`` (mono, at ``rate``, best 16 kHz), analysed block by block."""
    n = frame_count(len(samples), rate)
    out = {name: np.empty(n) for name in _FIELDS}
    for first, frames in frame_blocks(samples, rate):
        part = _analyse_frames(frames, rate)
        del frames
        for name in _FIELDS:
            out[name][first: first + len(part[name])] = part[name]
    return Features(**out)


def _analyse_frames(frames: np.ndarray, rate: int) -> dict[str, np.ndarray]:
    """The features of a block of framed windows (one row each)."""
    frames = frames.astype(np.float64)
    n, win = frames.shape
    rms = np.sqrt(np.mean(frames**2, axis=1))
    level = np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), _FLOOR_DB)
    centred = frames - frames.mean(axis=1, keepdims=True)
    del frames
    signs = np.signbit(centred)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    del signs

    nfft = 512
    spec = np.abs(np.fft.rfft(centred * np.hanning(win), nfft, axis=1)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1.0 / rate)
    total = spec.sum(axis=1) + 1e-12
    centroid = (spec * freqs).sum(axis=1) / total

    def band(lo: float, hi: float) -> np.ndarray:
        return spec[:, (freqs >= lo) & (freqs < hi)]

    def band_centroid(lo: float, hi: float) -> np.ndarray:
        b = band(lo, hi)
        f = freqs[(freqs >= lo) & (freqs < hi)]
        return (b * f).sum(axis=1) / (b.sum(axis=1) + 1e-12)

    low_ratio = band(250, 1000).sum(axis=1) / total
    high_ratio = band(3000, rate / 2 + 1).sum(axis=1) / total
    f1, f2 = band_centroid(200, 1100), band_centroid(900, 2800)
    del spec

    # Autocorrelation via the power spectrum (Wiener-Khinchin); a strong peak at a pitch lag means voicing.
    ac = np.fft.irfft(np.abs(np.fft.rfft(centred, 2 * nfft, axis=1)) ** 2, axis=1)[:, :nfft]
    lo_lag, hi_lag = int(rate / 400), min(int(rate / 60), nfft - 1)
    voicing = np.clip(ac[:, lo_lag:hi_lag].max(axis=1) / (ac[:, 0] + 1e-12), 0.0, 1.0)
    del ac
    voicing[rms < 1e-5] = 0.0
    return {"energy_db": level, "voicing": voicing, "zcr": zcr, "centroid": centroid,
            "low_ratio": low_ratio, "high_ratio": high_ratio, "f1": f1, "f2": f2}


def speech_levels(level_db: np.ndarray) -> tuple[float, float]:
    """A sound's noise floor and speech level in dB: robust low and high percentiles.

    Digital silence (padding, hard cuts) is left out of the floor, or one second of zeros would
    put the floor at -100 dB and turn every quiet breath into speech.
    """
    live = level_db[level_db > _FLOOR_DB + 20]
    if live.size < 10:
        return _FLOOR_DB, _FLOOR_DB
    return float(np.percentile(live, 10)), float(np.percentile(live, 95))
