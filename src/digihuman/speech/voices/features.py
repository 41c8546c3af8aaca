"""WORLD analysis and synthesis of speech: F0, mel-cepstrum and band aperiodicity per frame.

All voice conversion works on these frames at one rate (16 kHz, 5 ms hop). F0 comes
from DIO refined by StoneMask rather than Harvest, which is several times slower and
would keep synthesis from streaming in real time on two cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

RATE = 16000  # Hz: analysis and conversion rate; the target's recordings are often 16 kHz anyway
FRAME_MS = 5.0
ORDER = 39  # mel-cepstrum order (40 coefficients)
ALPHA = 0.42  # all-pass constant approximating the mel scale at 16 kHz
FFT = 1024
F0_FLOOR, F0_CEIL = 60.0, 600.0


@dataclass(frozen=True)
class Frames:
    """WORLD parameters of one utterance, one row per 5 ms frame."""

    f0: np.ndarray  # (T,) Hz, 0 where unvoiced
    mcep: np.ndarray  # (T, ORDER + 1) mel-cepstrum of the spectral envelope
    bap: np.ndarray  # (T, bands) coded aperiodicity

    def __len__(self) -> int:
        return len(self.f0)

    @property
    def voiced(self) -> np.ndarray:
        return self.f0 > 0

    def speech(self, floor_db: float = 35.0) -> np.ndarray:
        """Frames within ``floor_db`` of the loudest ones (c0 is log energy): silence left out."""
        c0 = self.mcep[:, 0]
        if not len(c0):
            return np.zeros(0, bool)
        top = np.percentile(c0, 95)
        return c0 > top - floor_db / 8.686  # c0 is natural-log amplitude: 8.686 dB per unit

    def take(self, keep: np.ndarray) -> Frames:
        return Frames(self.f0[keep], self.mcep[keep], self.bap[keep])


def analyse(samples: np.ndarray, aperiodicity: bool = True) -> Frames:
    """WORLD frames of mono float audio at :data:`RATE`.

    Without ``aperiodicity`` the frames' ``bap`` is NaN, for frames that are only matched and
    never vocoded: D4C is ~40 % of the analysis.
    """
    import pyworld

    x = np.ascontiguousarray(samples, dtype=np.float64)
    if len(x) < FFT:
        x = np.pad(x, (0, FFT - len(x)))
    f0, t = pyworld.dio(x, RATE, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(x, f0, t, RATE)
    f0 = _clean_f0(f0)
    sp = pyworld.cheaptrick(x, f0, t, RATE, fft_size=FFT)
    mcep = np.log(np.maximum(sp, 1e-300)) @ _sp_to_mcep().T
    if aperiodicity:
        bap = pyworld.code_aperiodicity(pyworld.d4c(x, f0, t, RATE, fft_size=FFT), RATE)
    else:
        bap = np.full((len(f0), pyworld.get_num_aperiodicities(RATE)), np.nan)
    return Frames(f0, mcep.astype(np.float64), bap)


def vocode(frames: Frames) -> np.ndarray:
    """Float32 audio at :data:`RATE` from WORLD frames."""
    import pyworld

    if not len(frames):
        return np.zeros(0, np.float32)
    sp = np.ascontiguousarray(np.exp(frames.mcep @ _mcep_to_log_sp().T))
    ap = pyworld.decode_aperiodicity(np.ascontiguousarray(frames.bap), RATE, FFT)
    y = pyworld.synthesize(np.ascontiguousarray(frames.f0), sp, ap, RATE, frame_period=FRAME_MS)
    return y.astype(np.float32)


def warp(mcep: np.ndarray, shift: float) -> np.ndarray:
    """Frequency-warp envelopes by an all-pass change of ``shift``: > 0 moves formants down, < 0 up."""
    if abs(shift) < 1e-6:
        return mcep
    return mcep @ _warp_matrix(round(float(shift), 4)).T


# SPTK's conversions (as pysptk 1.0.1 computes them) are linear in the log spectrum and the cepstrum, so
# each is one matrix, built once; applied to all frames at once this is ~20x faster than frame by frame.
@cache
def _sp_to_mcep() -> np.ndarray:
    """(ORDER + 1, FFT // 2 + 1): log power spectrum -> mel-cepstrum (pysptk.sp2mc)."""
    cepstrum = np.fft.irfft(np.eye(FFT // 2 + 1), axis=1).T  # (FFT, bins): real cepstrum of each bin
    cepstrum[0] /= 2.0
    return _freqt(FFT - 1, ORDER, ALPHA) @ cepstrum


@cache
def _mcep_to_log_sp() -> np.ndarray:
    """(FFT // 2 + 1, ORDER + 1): mel-cepstrum -> log power spectrum (log of pysptk.mc2sp)."""
    cepstrum = _freqt(ORDER, FFT // 2, -ALPHA)  # (FFT // 2 + 1, ORDER + 1)
    cepstrum = cepstrum * np.r_[2.0, np.ones(FFT // 2)][:, None]
    symmetric = np.concatenate([cepstrum, cepstrum[1:FFT // 2][::-1]])  # c(-m) = c(m)
    return np.fft.rfft(symmetric, axis=0).real


@cache
def _warp_matrix(shift: float) -> np.ndarray:
    return _freqt(ORDER, ORDER, shift)


def _freqt(m1: int, m2: int, alpha: float) -> np.ndarray:
    """(m2 + 1, m1 + 1) matrix of SPTK's freqt: cepstrum of order m1 -> all-pass warped cepstrum of order m2.

    SPTK feeds c(m1) ... c(0) one per step through a cascade of first-order all-pass sections and reads
    the sections' state at the end. The cascade is time-invariant, so column k (c(k), fed k steps before
    the end) is the cascade's impulse response k steps after the impulse; each section is one IIR filter.
    """
    impulse = np.zeros(m1 + 1)
    impulse[0] = 1.0
    rows = [_all_pole(impulse, alpha)]
    for j in range(1, m2 + 1):
        delayed = np.concatenate([[0.0], rows[-1][:-1]])
        drive = (1 - alpha * alpha) * delayed if j == 1 else delayed - alpha * rows[-1]
        rows.append(_all_pole(drive, alpha))
    return np.array(rows)


def _all_pole(x: np.ndarray, alpha: float) -> np.ndarray:
    """y[n] = x[n] + alpha y[n - 1]: scipy's lfilter([1], [1, -alpha], x), bit for bit.

    The matrices are built once per process from at most 40 x 1024 steps (~15 ms); importing
    scipy.signal for it cost ~1.5 CPU-s in every process that analyses speech.
    """
    y = np.empty(len(x))
    acc = 0.0
    for n, value in enumerate(x.tolist()):
        acc = value + alpha * acc
        y[n] = acc
    return y


def with_context(x: np.ndarray, width: int) -> np.ndarray:
    """Each row joined with its ``width`` neighbours each side (edges repeated)."""
    if width <= 0:
        return x
    padded = np.pad(x, ((width, width), (0, 0)), mode="edge")
    return np.concatenate([padded[i:i + len(x)] for i in range(2 * width + 1)], axis=1)


def _clean_f0(f0: np.ndarray) -> np.ndarray:
    """DIO's voicing with one-frame blips removed (they sound as clicks once F0 is moved)."""
    f0 = f0.copy()
    voiced = f0 > 0
    blips = voiced & ~np.roll(voiced, 1) & ~np.roll(voiced, -1)
    f0[blips] = 0.0
    return f0
