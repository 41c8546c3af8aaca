"""Tiny generated media for tests: a few KB each, made in well under a second with PyAV and numpy.

Real recordings live in ../shared/media; these exist so that tests of the plumbing do not
depend on them and can make exactly the shape they need (no audio, a given size, a text file).
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np


def _pattern(index: int, width: int, height: int) -> np.ndarray:
    """An RGB frame with gradients that move with ``index``, so that frames differ."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[..., 0] = (x * 4 + index * 8) % 256
    frame[..., 1] = (y * 4 + index * 5) % 256
    frame[..., 2] = ((x + y) * 2 + index * 12) % 256
    return frame


def _tone(seconds: float, sample_rate: int, freq: float) -> np.ndarray:
    """A sine at ``freq`` with slow amplitude modulation, as float32 in [-0.5, 0.5]."""
    t = np.arange(int(round(seconds * sample_rate)), dtype=np.float64) / sample_rate
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t)
    return (0.5 * envelope * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_video(
    path: Path,
    seconds: float = 1.0,
    size: tuple[int, int] = (64, 64),
    fps: int = 10,
    with_audio: bool = True,
) -> Path:
    """Write an H.264/yuv420p MP4 of a moving pattern, with a mono 16 kHz AAC tone if ``with_audio``."""
    import av

    path = Path(path)
    width, height = size
    sample_rate = 16000
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        # ultrafast keeps encoding of the few frames at a few milliseconds
        video.options = {"preset": "ultrafast", "tune": "zerolatency"}
        audio = None
        if with_audio:
            audio = container.add_stream("aac", rate=sample_rate)
            audio.layout = "mono"
            # the fast coder takes half the CPU of the default one; a test tone needs no better
            audio.codec_context.options = {"aac_coder": "fast"}
        for i in range(int(round(seconds * fps))):
            frame = av.VideoFrame.from_ndarray(_pattern(i, width, height), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            samples = _tone(seconds, sample_rate, 220.0)
            step = audio.codec_context.frame_size or 1024
            for start in range(0, len(samples), step):
                chunk = samples[start : start + step]
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                frame.sample_rate = sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, sample_rate)
                container.mux(audio.encode(frame))
            container.mux(audio.encode(None))
    return path


def make_wav(path: Path, seconds: float = 1.0, sample_rate: int = 16000, freq: float = 220.0) -> Path:
    """Write a 16-bit PCM mono WAV of an amplitude-modulated tone."""
    path = Path(path)
    pcm = (_tone(seconds, sample_rate, freq) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return path


def _still(path: Path, size: tuple[int, int], codec: str, pix_fmt: str) -> Path:
    import av

    path = Path(path)
    width, height = size
    # image2 writes the single encoded frame as the file itself, with no container around it
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        frame = av.VideoFrame.from_ndarray(_pattern(0, width, height), format="rgb24")
        container.mux(stream.encode(frame.reformat(format=pix_fmt)))
        container.mux(stream.encode(None))
    return path


def make_png(path: Path, size: tuple[int, int] = (64, 64)) -> Path:
    """Write an RGB PNG of a colour gradient."""
    return _still(path, size, "png", "rgb24")


def make_jpeg(path: Path, size: tuple[int, int] = (64, 64)) -> Path:
    """Write a baseline JPEG of a colour gradient."""
    return _still(path, size, "mjpeg", "yuvj420p")


def make_text(path: Path, text: str = "hello") -> Path:
    """Write a plain UTF-8 text file, whatever its name suggests."""
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path


def make_gif(path: Path, frames: int = 5, size: tuple[int, int] = (32, 32), fps: int = 10) -> Path:
    """Write a GIF of ``frames`` frames: one frame is a still image, more are an animation."""
    import av

    path = Path(path)
    width, height = size
    with av.open(str(path), "w", format="gif") as container:
        stream = container.add_stream("gif", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb8"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(_pattern(i, width, height), format="rgb24")
            frame = frame.reformat(format="rgb8")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
