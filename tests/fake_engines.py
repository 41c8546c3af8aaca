"""Small, fast engines behind the real protocols, for tests and the load benchmark.

They do real media work (tones, MP4 encoding, WebP previews) so that storage,
downloads and the task lifecycle are exercised end to end, only without models.
Select them with DIGIHUMAN_ENGINE_FACTORY=tests.fake_engines:build.
``DIGIHUMAN_FAKE_DELAY_S`` makes each job step sleep, to test long tasks.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from digihuman.config import Settings
from digihuman.engines import Engines
from digihuman.errors import MediaRejected
from digihuman.progress import Progress
from digihuman.remix.base import RemixRequest, RemixResult, SpeakFn
from digihuman.render.base import AvatarInfo, RenderOptions, RenderResult
from digihuman.speech.tts.base import AudioChunk, SpeechOptions, Voice
from digihuman.speech.utterance import Speech
from digihuman.speech.voices.base import VoiceModelInfo, VoiceTrainOptions
from digihuman.text.base import ChatRequest, ChatResult

RATE = 16000
SIZE = 64
FPS = 10


def _delay(progress: Progress, stage: str) -> None:
    """Sleep DIGIHUMAN_FAKE_DELAY_S in small steps, reporting progress (and so honouring cancels)."""
    total = float(os.environ.get("DIGIHUMAN_FAKE_DELAY_S", "0"))
    steps = max(1, int(total / 0.1))
    for i in range(steps):
        progress(100.0 * i / steps, stage)
        time.sleep(total / steps)


def tone(text: str, freq: float = 180.0, speed: float = 1.0) -> np.ndarray:
    seconds = max(0.3, 0.06 * len(text)) / speed
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


class FakeTTS:
    def voices(self) -> list[Voice]:
        return [Voice("fake-en", "Fake English", "en-US", "male", RATE),
                Voice("fake-zh", "Fake Mandarin", "zh-CN", "female", RATE)]

    def synthesize(self, text: str, voice_id: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        for sentence in [s for s in text.replace("。", ".").split(".") if s.strip()] or [text]:
            yield AudioChunk(tone(sentence, speed=options.speed), RATE, sentence)


class FakeVoiceCloner:
    def train(self, samples: list[Path], texts: list[str] | None, options: VoiceTrainOptions,
              model_dir: Path, progress: Progress) -> VoiceModelInfo:
        _delay(progress, "analysing the voice")
        seconds = 0.0
        for sample in samples:
            with av.open(str(sample)) as c:
                seconds += float(c.duration or 0) / 1e6
        (model_dir / "voice.json").write_text(json.dumps({"freq": 140.0, "seconds": seconds}))
        return VoiceModelInfo(("en",), seconds)

    def synthesize(self, model_dir: Path, text: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        freq = json.loads((model_dir / "voice.json").read_text())["freq"]
        yield AudioChunk(tone(text, freq, options.speed), RATE, text)


def _first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return frame.to_ndarray(format="rgb24", width=SIZE, height=SIZE)


def write_video(out: Path, audio: np.ndarray, base: np.ndarray, mark: bool = False) -> float:
    """An MP4 as long as ``audio``: ``base`` with a bar that moves with loudness."""
    seconds = len(audio) / RATE
    with av.open(str(out), "w") as c:
        v = c.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = SIZE, SIZE, "yuv420p"
        a = c.add_stream("aac", rate=RATE, layout="mono")
        for i in range(max(1, round(seconds * FPS))):
            img = base.copy()
            chunk = audio[int(i * RATE / FPS): int((i + 1) * RATE / FPS)].astype(np.float32)
            height = int(min(1.0, np.sqrt(np.mean(chunk**2) if chunk.size else 0) / 8000) * 20)
            img[40: 40 + height, 24:40] = 20
            if mark:
                img[-6:, -12:] = 255
            for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in v.encode(None):
            c.mux(packet)
        frame = av.AudioFrame.from_ndarray(audio[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, 0, Fraction(1, RATE)
        for packet in list(a.encode(frame)) + list(a.encode(None)):
            c.mux(packet)
    return seconds


def write_stills(out_dir: Path, base: np.ndarray) -> tuple[Path, Path]:
    cover, preview = out_dir / "cover.png", out_dir / "preview.webp"
    for path, codec in ((cover, "png"), (preview, "libwebp")):
        with av.open(str(path), "w", format="image2" if codec == "png" else "webp") as c:
            s = c.add_stream(codec, rate=1)
            s.width, s.height, s.pix_fmt = SIZE, SIZE, "rgb24" if codec == "png" else "yuv420p"
            for packet in list(s.encode(av.VideoFrame.from_ndarray(base, format="rgb24"))) + list(s.encode(None)):
                c.mux(packet)
    return cover, preview


class FakeTalkingHead:
    def train(self, video: Path, model_dir: Path, progress: Progress) -> AvatarInfo:
        _delay(progress, "tracking the face")
        base = _first_frame(video)
        np.save(model_dir / "base.npy", base)
        cover, _ = write_stills(model_dir, base)
        return AvatarInfo(cover, 1, 1.0)

    def render(self, avatar: Path, speech: Speech, out_dir: Path, options: RenderOptions,
               progress: Progress) -> RenderResult:
        base = np.load(avatar / "base.npy") if avatar.is_dir() else _first_frame(avatar)
        if base.mean() < 3:
            raise MediaRejected("no face found in the avatar: the picture is black.")
        _delay(progress, "rendering")
        samples = (np.clip(speech.at(RATE), -1, 1) * 32767).astype(np.int16)
        video = out_dir / "video.mp4"
        seconds = write_video(video, samples, base, mark=bool(options.watermark))
        cover, preview = write_stills(out_dir, base)
        return RenderResult(video, cover, preview, seconds)


class FakeChat:
    def models(self) -> list[str]:
        return ["fake-rewrite"]

    def complete(self, request: ChatRequest) -> ChatResult:
        text = " ".join(self.stream(request))
        return ChatResult(text, len(request.messages[-1].content.split()), len(text.split()))

    def stream(self, request: ChatRequest) -> Iterator[str]:
        yield from reversed(request.messages[-1].content.split())


class FakeRemixer:
    def remix(self, request: RemixRequest, out_dir: Path, progress: Progress,
              speak: SpeakFn | None = None) -> RemixResult:
        _delay(progress, "remixing")
        base = _first_frame(request.video)[:, ::-1].copy()  # mirrored, to show the work happened
        text = request.script or "remixed"
        samples = (np.concatenate([c.samples for c in speak(text)]) if speak else tone(text))
        out = out_dir / "remix.mp4"
        seconds = write_video(out, (samples * 32767).astype(np.int16), base)
        return RemixResult(out, seconds)


def build(settings: Settings) -> Engines:
    return Engines(tts=FakeTTS(), voice_cloner=FakeVoiceCloner(), talking_head=FakeTalkingHead(),
                   chat=FakeChat(), remixer=FakeRemixer())


def build_none(settings: Settings) -> Engines:
    """No engines at all, as on a server where none is installed."""
    return Engines()
