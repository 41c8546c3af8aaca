"""Writing rendered videos: H.264 + AAC MP4 frame by frame, corner watermark, WebP preview, cover.

Frames arrive one at a time and leave one at a time, so memory does not grow
with the length of the video; the preview keeps only a few small frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from digihuman.timings import stage

PREVIEW_WIDTH = 320
PREVIEW_FPS = 8
PREVIEW_SECONDS = 4.0


@dataclass(frozen=True)
class VideoSpec:
    """The shape of an output video."""

    width: int
    height: int
    fps: Fraction | float
    crf: int = 20  # x264 quality: 18 visually lossless, 23 default; 20 keeps faces crisp
    preset: str = "veryfast"  # speed matters on 2 cores; the quality loss at crf 20 is small


class VideoWriter:
    """An MP4 being written: ``write(rgb)`` per frame; the soundtrack is interleaved as frames arrive.

    The audio is cut or padded with silence to exactly the video's length, so
    duration and sync are exact.
    """

    AUDIO_RATE = 48000

    def __init__(self, path: Path, spec: VideoSpec, audio: Path | None = None) -> None:
        import av

        self.path, self.spec = Path(path), spec
        # Even sizes: yuv420p needs them.
        self.width, self.height = spec.width - spec.width % 2, spec.height - spec.height % 2
        self._container = av.open(str(self.path), "w", options={"movflags": "+faststart"})
        self.rate = Fraction(spec.fps).limit_denominator(1001)
        self._video = self._container.add_stream("libx264", rate=self.rate)
        self._video.width, self._video.height, self._video.pix_fmt = self.width, self.height, "yuv420p"
        self._video.options = {"crf": str(spec.crf), "preset": spec.preset}
        self.frames = 0
        self._audio = None
        self._samples = None
        self._audio_written = 0
        if audio is not None:
            self._audio = self._container.add_stream("aac", rate=self.AUDIO_RATE, layout="mono")
            self._audio.bit_rate = 128000
            self._samples = _samples(Path(audio), self.AUDIO_RATE)
            self._pending = np.zeros(0, np.float32)

    def write(self, rgb: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: self.height, : self.width]), format="rgb24")
        frame.pts = self.frames
        frame.time_base = 1 / self.rate
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        self.frames += 1
        self._feed_audio(self.frames / self.rate)

    def close(self) -> None:
        for packet in self._video.encode(None):
            self._container.mux(packet)
        if self._audio is not None:
            self._feed_audio(self.frames / self.rate, pad=True)
            for packet in self._audio.encode(None):
                self._container.mux(packet)
        self._container.close()

    def _feed_audio(self, until_s: Fraction, pad: bool = False) -> None:
        """Encode the soundtrack up to ``until_s``, keeping it interleaved with the video."""
        if self._audio is None or self._samples is None:
            return
        wanted = int(until_s * self.AUDIO_RATE)
        while self._audio_written + self._pending.size < wanted:
            chunk = next(self._samples, None)
            if chunk is None:
                if not pad:
                    break
                chunk = np.zeros(wanted - self._audio_written - self._pending.size, np.float32)
            self._pending = np.concatenate([self._pending, chunk])
        take = min(self._pending.size, wanted - self._audio_written)
        if take > 0:
            self._encode_audio(self._pending[:take])
            self._pending = self._pending[take:]

    def _encode_audio(self, samples: np.ndarray) -> None:
        import av

        frame = av.AudioFrame.from_ndarray(samples[None, :].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = self.AUDIO_RATE, self._audio_written
        frame.time_base = Fraction(1, self.AUDIO_RATE)
        for packet in self._audio.encode(frame):
            self._container.mux(packet)
        self._audio_written += samples.size

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self._container.close()


def _samples(source: Path, rate: int) -> Iterator[np.ndarray]:
    """Mono float32 samples of any audio (or video soundtrack), decoded lazily."""
    import av

    resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
    with av.open(str(source)) as container:
        for decoded in container.decode(audio=0):
            for frame in resampler.resample(decoded):
                yield frame.to_ndarray()[0]
        for frame in resampler.resample(None):
            yield frame.to_ndarray()[0]


def watermark(rgb: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``rgb`` with ``text`` in the bottom-right corner, white on a soft shadow."""
    import cv2

    out = rgb.copy()
    height, width = out.shape[:2]
    scale = max(0.4, width / 1400)
    thickness = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = width - tw - int(12 * scale) - 4, height - base - int(12 * scale) - 4
    overlay = out.copy()
    cv2.putText(overlay, text, (x + 1, y + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 1, cv2.LINE_AA)
    cv2.putText(overlay, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return cv2.addWeighted(overlay, 0.75, out, 0.25, 0)


class PreviewCollector:
    """Keeps a few small frames from the start of a video for its animated WebP preview."""

    def __init__(self, fps: float) -> None:
        self.step = max(1, round(fps / PREVIEW_FPS))
        self.limit = int(PREVIEW_SECONDS * PREVIEW_FPS)
        self.frames: list[np.ndarray] = []
        self._seen = 0

    def add(self, rgb: np.ndarray) -> None:
        if len(self.frames) < self.limit and self._seen % self.step == 0:
            import cv2

            height, width = rgb.shape[:2]
            size = (PREVIEW_WIDTH, max(2, round(height * PREVIEW_WIDTH / width / 2) * 2))
            self.frames.append(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
        self._seen += 1

    def write(self, path: Path) -> Path:
        import av

        with av.open(str(path), "w", format="webp", options={"loop": "0"}) as container:
            stream = container.add_stream("libwebp_anim", rate=PREVIEW_FPS)
            stream.height, stream.width = self.frames[0].shape[:2]
            stream.pix_fmt = "yuva420p"
            stream.options = {"quality": "70"}
            for rgb in self.frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return path


class RenderWriter:
    """One pass over the frames writes the clean MP4, its watermarked copy (when asked) and the preview.

    Use as a context manager; on an error both videos are abandoned and no preview is written.
    """

    def __init__(self, out_dir: Path, spec: VideoSpec, audio: Path | None, watermark_text: str | None) -> None:
        self.video = out_dir / "video.mp4"
        self.watermarked = out_dir / "video_wm.mp4" if watermark_text else None
        self.preview = out_dir / "preview.webp"
        self._spec, self._audio, self._text = spec, audio, watermark_text or ""
        self._previews = PreviewCollector(float(spec.fps))
        self._writers = ExitStack()

    def __enter__(self) -> RenderWriter:
        with ExitStack() as opened:  # should the second fail to open, the first is abandoned
            self._clean = opened.enter_context(VideoWriter(self.video, self._spec, self._audio))
            self._marked = (opened.enter_context(VideoWriter(self.watermarked, self._spec, self._audio))
                            if self.watermarked else None)
            self._writers = opened.pop_all()
        return self

    def write(self, rgb: np.ndarray) -> None:
        with stage("encoding"):
            self._clean.write(rgb)
            if self._marked is not None:
                self._marked.write(watermark(rgb, self._text))
        with stage("preview"):
            self._previews.add(rgb)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._writers.__exit__(kind, exc, tb)
        if kind is None:
            with stage("preview"):
                self._previews.write(self.preview)


def write_cover(rgb: np.ndarray, path: Path) -> Path:
    """A still frame as JPEG (or PNG, by the path's suffix)."""
    import cv2

    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path
