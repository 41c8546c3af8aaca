"""Short, low-resolution clips cut from the real test media, and one avatar model trained on them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from digihuman.render.avatar import AvatarModel, train_avatar
from tests.shared_media import shared

WIDTH = 256  # small frames keep every test to seconds; the face stays > 100 px across


def cut_video(source: Path, target: Path, seconds: float, width: int = WIDTH, height: int | None = None) -> Path:
    """The first ``seconds`` of ``source``, scaled to ``width``, with its soundtrack (H.264 + AAC).

    With ``height`` too, the picture is scaled to cover ``width`` × ``height`` and its middle kept.
    """
    import av
    import cv2

    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        vin = src.streams.video[0]
        rate = Fraction(vin.average_rate).limit_denominator(1001)
        vout = out.add_stream("libx264", rate=rate)
        aout = out.add_stream("aac", rate=48000, layout="mono")
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
        count = 0
        for frame in src.decode(vin):
            if frame.time >= seconds:
                break
            rgb = frame.to_ndarray(format="rgb24")
            scale = max(width / rgb.shape[1], (height or 0) / rgb.shape[0])
            scaled_h = round(rgb.shape[0] * scale / 2) * 2
            rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), scaled_h), interpolation=cv2.INTER_AREA)
            top, left = (scaled_h - (height or scaled_h)) // 2, (rgb.shape[1] - width) // 2
            rgb = np.ascontiguousarray(rgb[top: top + (height or scaled_h), left: left + width])
            if count == 0:
                vout.width, vout.height, vout.pix_fmt = rgb.shape[1], rgb.shape[0], "yuv420p"
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = count, 1 / rate
            for p in vout.encode(f):
                out.mux(p)
            count += 1
        for p in vout.encode(None):
            out.mux(p)
        src.seek(0)
        written, limit = 0, int(seconds * 48000)
        for frame in src.decode(audio=0):
            for g in resampler.resample(frame):
                keep = min(g.samples, limit - written)
                if keep <= 0:
                    break
                a = av.AudioFrame.from_ndarray(np.ascontiguousarray(g.to_ndarray()[:, :keep]), format="fltp",
                                               layout="mono")
                a.sample_rate, a.pts = 48000, written
                written += keep
                for p in aout.encode(a):
                    out.mux(p)
        for p in aout.encode(None):
            out.mux(p)
    return target


def write_speech(target: Path, seconds: float, silence_s: float = 1.0) -> Path:
    """``seconds`` of a01 (English speech) followed by ``silence_s`` of digital silence, 16 kHz WAV."""
    from digihuman.media.audio import write_wav
    from digihuman.speech.align.features import load_audio
    from digihuman.speech.tts.base import AudioChunk

    speech = load_audio(shared("audio/a01*.wav"))[: int(seconds * 16000)]
    samples = np.concatenate([speech, np.zeros(int(silence_s * 16000), np.float32)])
    write_wav([AudioChunk(samples, 16000)], target)
    return target


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clip")
    return cut_video(shared("video/v01*.mp4"), folder / "v01_3s5.mp4", 3.5)


@pytest.fixture(scope="session")
def model(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> AvatarModel:
    folder = tmp_path_factory.mktemp("model")
    train_avatar(clip, folder)
    return AvatarModel.load(folder)


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of speech, then 1 s of silence."""
    return write_speech(tmp_path_factory.mktemp("audio") / "speech.wav", 2.0, 1.0)
