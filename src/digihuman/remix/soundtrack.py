"""The remix's sound: decoding, speed change with the pitch kept (WSOLA), music ducked under speech.

A soundtrack is held whole as mono float32 at 48 kHz (11.5 MB a minute): unlike frames, sound is
small, and time-stretching and ducking look at the whole of it.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 48000
SPEECH_RMS = 10 ** (-16 / 20)  # speech level (see media.audio): music_volume 1.0 plays music this loud
FRAME_S = 0.02  # loudness is measured over 20 ms frames
HOLD_S = 0.25  # ducking holds this long after speech stops, so music does not pump between words
ATTACK_S, RELEASE_S = 0.06, 0.35  # how fast the music dips under speech and comes back


def load(path: Path, rate: int = RATE) -> np.ndarray:
    """Mono float32 samples of any file's sound track (empty when it has none)."""
    from digihuman.speech.align.features import load_audio

    return load_audio(path, rate, required=False)


def fit(samples: np.ndarray, length: int, loop: bool = False) -> np.ndarray:
    """``samples`` cut or padded (with silence, or by looping) to exactly ``length``."""
    if samples.size >= length:
        return samples[:length]
    if loop and samples.size:
        return np.tile(samples, length // samples.size + 1)[:length]
    return np.concatenate([samples, np.zeros(length - samples.size, np.float32)])


def stretch(samples: np.ndarray, speed: float, rate: int = RATE) -> np.ndarray:
    """``samples`` played ``speed`` times as fast with the pitch kept (WSOLA: waveform-similarity
    overlap-add, which picks each next grain where it continues the previous one best)."""
    if speed == 1.0 or samples.size == 0:
        return samples
    n = int(0.04 * rate) // 2 * 2  # 40 ms grains: longer than a low voice's period
    hop_out = n // 2
    hop_in = hop_out * speed
    tolerance = int(0.012 * rate)
    window = np.hanning(n + 1)[:n].astype(np.float32)  # periodic Hann: sums to 1 at 50 % overlap
    pad = tolerance + n
    x = np.concatenate([np.zeros(pad, np.float32), samples.astype(np.float32), np.zeros(pad + n, np.float32)])
    frames = int(samples.size / speed / hop_out) + 1
    out = np.zeros(frames * hop_out + n, np.float32)
    previous = pad  # where the last grain was taken from
    step = 4  # the similarity search listens to every 4th sample: plenty at 48 kHz, 4x less work
    for k in range(frames):
        ideal = pad + int(k * hop_in)
        if k == 0:
            pos = ideal
        else:
            template = x[previous + hop_out : previous + hop_out + n : step]
            lo = max(0, ideal - tolerance)
            region = x[lo : ideal + tolerance + n : step]
            if region.size >= template.size and np.any(template):
                score = np.correlate(region, template, "valid")
                pos = lo + int(np.argmax(score)) * step
            else:
                pos = ideal
        out[k * hop_out : k * hop_out + n] += x[pos : pos + n] * window
        previous = pos
    return out[: int(round(samples.size / speed))]


def speech_activity(speech: np.ndarray, rate: int = RATE) -> np.ndarray:
    """A per-sample 0..1 curve: 1 while someone speaks (loud frames, held a little), 0 elsewhere."""
    frame = int(FRAME_S * rate)
    count = speech.size // frame
    if count == 0:
        return np.zeros(speech.size, np.float32)
    rms = np.sqrt(np.mean(speech[: count * frame].reshape(count, frame) ** 2, axis=1) + 1e-12)
    loud = float(np.percentile(rms, 95))
    active = rms > max(0.008, 0.12 * loud)
    hold = int(HOLD_S / FRAME_S)
    if hold:
        kernel = np.ones(2 * hold + 1)
        active = np.convolve(active.astype(np.float32), kernel, "same") > 0
    # one-pole smoothing with separate attack and release: a dip, not a click
    curve = np.zeros(count, np.float32)
    a_up, a_down = FRAME_S / ATTACK_S, FRAME_S / RELEASE_S
    level = 0.0
    for i, on in enumerate(active):
        level += (float(on) - level) * (a_up if on else a_down)
        curve[i] = level
    per_sample = np.repeat(curve, frame)
    return fit(per_sample, speech.size)


def mix_music(speech: np.ndarray, music: np.ndarray, volume: float, ducking: float,
              rate: int = RATE) -> np.ndarray:
    """``speech`` with ``music`` looped under it at ``volume``, dipped to ``ducking`` × volume while
    someone speaks, faded in and out over a second."""
    if music.size == 0 or speech.size == 0 or volume <= 0:
        return speech
    bed = fit(music, speech.size, loop=True)
    rms = float(np.sqrt(np.mean(bed**2)))
    if rms > 1e-5:
        bed = bed * (SPEECH_RMS / rms)
    gain = volume * (1 - (1 - ducking) * speech_activity(speech, rate))
    fade = min(rate, speech.size // 4)
    if fade:
        ramp = np.linspace(0, 1, fade, dtype=np.float32)
        gain[:fade] *= ramp
        gain[-fade:] *= ramp[::-1]
    return limit(speech + bed * gain)


def limit(samples: np.ndarray) -> np.ndarray:
    """Scaled down as a whole when it would clip."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples * (0.98 / peak) if peak > 0.98 else samples


def write(samples: np.ndarray, path: Path, rate: int = RATE) -> Path:
    """A 16-bit mono WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path
