"""The GE2E speaker encoder of Resemblyzer, run in numpy: same weights, same preprocessing, same numbers.

Resemblyzer (a 3-layer LSTM over 40-band mel frames, 256-d unit embeddings) would pull in PyTorch and
librosa — over a gigabyte — for a 17 MB model. Here its ``pretrained.pt`` is read straight from the
installed ``resemblyzer`` package (installed without its dependencies, never imported) and every step
is redone as Resemblyzer 0.1.4 with librosa 0.11 does it:

- preprocessing: soxr 'HQ' resampling to 16 kHz (librosa.resample's default), volume raised (never
  lowered) to -30 dBFS, silences longer than 6 VAD windows cut with WebRTC VAD (mode 3, 30 ms);
- mel frames: centred 400-point Hann STFT with zero padding, hop 160, power 2, 40 Slaney mel bands;
- partial utterances of 160 frames at ``rate`` per second; the last one kept when it covers
  ``min_coverage`` of its window; the utterance embedding is the normalised mean of the partials.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from digihuman.errors import EngineUnavailable

RATE = 16000
N_FFT = 400  # 25 ms windows
HOP = 160  # 10 ms steps
N_MELS = 40
WINDOW_FRAMES = 160  # one partial utterance: 1.6 s
EMBEDDING_SIZE = 256
VAD_WINDOW = 480  # 30 ms at 16 kHz
VAD_AVERAGE = 8  # VAD decisions smoothed over 8 windows
VAD_MAX_SILENCE = 6  # windows of silence kept around speech
TARGET_DBFS = -30.0
_INT16_MAX = 2**15 - 1


def weights_path() -> Path:
    """Resemblyzer's pretrained.pt, found without importing the package (its __init__ imports torch)."""
    spec = importlib.util.find_spec("resemblyzer")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / "pretrained.pt"
        if path.is_file():
            return path
    raise EngineUnavailable("the speaker encoder (Resemblyzer's weights)",
                            "pip install --no-deps Resemblyzer==0.1.4")


@dataclass(frozen=True)
class Encoder:
    """GE2E weights: per LSTM layer (input weights, recurrent weights, summed bias), then the projection."""

    layers: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    linear_w: np.ndarray  # (256, 256)
    linear_b: np.ndarray  # (256,)

    @classmethod
    def load(cls, path: Path | None = None) -> Encoder:
        from digihuman.speech.voices.checkpoint import load

        state = load(path or weights_path())["model_state"]
        layers = tuple(
            (np.ascontiguousarray(state[f"lstm.weight_ih_l{k}"].T), np.ascontiguousarray(state[f"lstm.weight_hh_l{k}"].T),
             state[f"lstm.bias_ih_l{k}"] + state[f"lstm.bias_hh_l{k}"])
            for k in range(3))
        return cls(layers, np.ascontiguousarray(state["linear.weight"].T), state["linear.bias"])

    def embed_windows(self, mels: np.ndarray) -> np.ndarray:
        """Unit embeddings of a batch of mel windows (B, frames, 40): the last hidden state of the top layer,
        projected, ReLU'd and normalised."""
        x = np.asarray(mels, np.float32)
        batch, steps = x.shape[:2]
        for w_ih, w_hh, bias in self.layers:
            hidden = w_hh.shape[0]
            # Gates in PyTorch's order i, f, g, o. numpy's exp is about three times as fast as its tanh, so
            # sigmoid(z) = 1 / (1 + exp(-z)) and tanh(z) = 2 sigmoid(2z) - 1: the weights are scaled by -1
            # (by -2 for g) once, exactly, and each step makes one exp over all four gates.
            scale = np.full(4 * hidden, -1.0, np.float32)
            scale[2 * hidden: 3 * hidden] = -2.0
            recurrent = w_hh * scale
            # The input side of every step in one product; only the recurrence stays in the loop.
            inputs = ((x.reshape(batch * steps, -1) @ w_ih + bias) * scale).reshape(batch, steps, 4 * hidden)
            h = np.zeros((batch, hidden), np.float32)
            c = np.zeros((batch, hidden), np.float32)
            out = np.empty((batch, steps, hidden), np.float32)
            gates = np.empty((batch, 4 * hidden), np.float32)
            scratch = np.empty((batch, hidden), np.float32)
            i, f, g, o = (gates[:, k * hidden: (k + 1) * hidden] for k in range(4))
            with np.errstate(over="ignore"):  # exp(-z) of a very negative z is inf, and 1 / (1 + inf) is 0
                for t in range(steps):
                    np.matmul(h, recurrent, out=gates)
                    gates += inputs[:, t]
                    _sigmoid_of_negated(gates)
                    g *= 2.0
                    g -= 1.0  # i, f and o hold their sigmoids, g its tanh
                    c *= f
                    np.multiply(i, g, out=scratch)
                    c += scratch
                    np.multiply(c, -2.0, out=scratch)
                    _sigmoid_of_negated(scratch)
                    scratch *= 2.0
                    scratch -= 1.0  # tanh(c)
                    np.multiply(o, scratch, out=h)
                    out[:, t] = h
            x = out
        raw = np.maximum(x[:, -1] @ self.linear_w + self.linear_b, 0.0)
        return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)

    def embed_utterance(self, wav: np.ndarray, rate: float = 1.3,
                        min_coverage: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
        """(utterance embedding, partial embeddings) of preprocessed 16 kHz speech."""
        starts = partial_starts(len(wav), rate, min_coverage)
        end = (starts[-1] + WINDOW_FRAMES) * HOP
        if end >= len(wav):
            wav = np.pad(wav, (0, end - len(wav)))
        mel = mel_frames(wav)
        partials = self.embed_windows(np.stack([mel[s: s + WINDOW_FRAMES] for s in starts]))
        mean = partials.mean(axis=0)
        return mean / np.linalg.norm(mean), partials


def _sigmoid_of_negated(x: np.ndarray) -> None:
    """``x`` holds -z; replaced, in place, by sigmoid(z) = 1 / (1 + exp(-z))."""
    np.exp(x, out=x)
    x += 1.0
    np.reciprocal(x, out=x)


def partial_starts(n_samples: int, rate: float, min_coverage: float) -> list[int]:
    """First mel frame of each partial utterance, as Resemblyzer's compute_partial_slices places them."""
    if not 0 < min_coverage <= 1:
        raise ValueError("min_coverage must lie in (0, 1]")
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((RATE / rate) / HOP))
    if not 0 < step <= WINDOW_FRAMES:
        raise ValueError(f"rate must lie between {RATE / (HOP * WINDOW_FRAMES)} and {RATE / HOP} windows a second")
    starts = list(range(0, max(1, n_frames - WINDOW_FRAMES + step + 1), step))
    coverage = (n_samples - starts[-1] * HOP) / (WINDOW_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts = starts[:-1]
    return starts


# -- preprocessing --------------------------------------------------------------------------------


def preprocess(samples: np.ndarray, rate: int) -> np.ndarray:
    """Speech at 16 kHz, raised to -30 dBFS, with long silences cut: Resemblyzer's preprocess_wav."""
    wav = np.asarray(samples, np.float32)
    if rate != RATE:
        wav = resample(wav, rate)
    wav = _raise_volume(wav)
    return _trim_long_silences(wav)


def resample(wav: np.ndarray, rate: int) -> np.ndarray:
    """``wav`` at 16 kHz, exactly as librosa.resample (soxr HQ, length fixed to ceil(n × 16000 / rate)) gives it."""
    import soxr

    out = soxr.resample(wav, rate, RATE, quality="soxr_hq")
    size = int(np.ceil(len(wav) * RATE / rate))  # librosa fixes the length to exactly this
    out = out[:size] if len(out) >= size else np.pad(out, (0, size - len(out)))
    return np.asarray(out, wav.dtype)


def _raise_volume(wav: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean((wav * _INT16_MAX) ** 2)) if len(wav) else 0.0
    if not rms > 0:  # digital silence: Resemblyzer would multiply it by infinity and return NaNs
        return wav
    change = TARGET_DBFS - 20 * np.log10(rms / _INT16_MAX)
    if change < 0:
        return wav
    return wav * (10 ** (change / 20))


def _trim_long_silences(wav: np.ndarray) -> np.ndarray:
    import webrtcvad
    from scipy.ndimage import binary_dilation

    wav = wav[:len(wav) - len(wav) % VAD_WINDOW]
    pcm = np.round(wav * _INT16_MAX).astype("<i2").tobytes()
    vad = webrtcvad.Vad(3)
    flags = np.array([vad.is_speech(pcm[i * 2:(i + VAD_WINDOW) * 2], sample_rate=RATE)
                      for i in range(0, len(wav), VAD_WINDOW)])
    # Moving average over VAD_AVERAGE windows, centred as Resemblyzer pads it.
    width = VAD_AVERAGE
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    sums = np.cumsum(padded, dtype=float)
    sums[width:] = sums[width:] - sums[:-width]
    mask = np.round(sums[width - 1:] / width).astype(bool)
    mask = binary_dilation(mask, np.ones(VAD_MAX_SILENCE + 1))
    return wav[np.repeat(mask, VAD_WINDOW)]


# -- mel spectrogram ------------------------------------------------------------------------------


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram (not log) as librosa.feature.melspectrogram gives it."""
    padded = np.pad(np.asarray(wav, np.float64), N_FFT // 2)  # librosa 0.11 centres with zeros
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:count]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    return (power @ _mel_filters().T).astype(np.float32)


@cache
def _hann() -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic, as for an STFT


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, np.float64)
    mel = hz / (200.0 / 3)
    log = hz >= 1000.0
    return np.where(log, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    hz = mel * (200.0 / 3)
    return np.where(mel >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0)), hz)


@cache
def _mel_filters() -> np.ndarray:
    """(40, 201) Slaney-normalised triangular filters from 0 Hz to 8 kHz."""
    fft_freqs = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    lower = -ramps[:N_MELS] / fdiff[:N_MELS, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_f[2:] - mel_f[:N_MELS]))[:, None]
