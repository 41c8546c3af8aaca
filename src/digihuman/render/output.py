"""Writing rendered videos: H.264 + AAC MP4 frame by frame, corner watermark, WebP preview, cover.

Frames arrive one at a time and leave one at a time, so memory does not grow
with the length of the video; the preview keeps only a few small frames.

Encoding is most of a render's cost, so each frame is converted to YUV 4:2:0 once (OpenCV's
conversion costs a third of the encoder's own), a watermark is drawn into the converted frame's
corner only, and the MP4 is encoded in its own thread (x264 and PyAV release the GIL) fed through
a short queue: the frame loop goes on decoding and compositing meanwhile, and memory stays flat
whatever the length. A render writes one video, marked or clean: a clean copy beside every marked
one doubled x264's work (the larger part of a 720p or 1080p render) for a file the request did not
ask for. A caller that changes only part of each frame hands over YUV frames
(:meth:`RenderWriter.write_yuv`) and converts just that part (:func:`yuv_part`, :func:`paste_yuv`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from digihuman.timings import stage

if TYPE_CHECKING:
    import av

    from digihuman.speech.utterance import Speech

PREVIEW_WIDTH = 320
PREVIEW_FPS = 8
PREVIEW_SECONDS = 4.0
QUEUE_FRAMES = 4  # frames waiting for each encoder thread: enough to ride out jitter, 12 MB at 1080p


@dataclass(frozen=True)
class VideoSpec:
    """The shape of an output video."""

    width: int
    height: int
    fps: Fraction | float
    crf: int = 20  # x264 quality: 18 visually lossless, 23 default; 20 keeps faces crisp
    preset: str = "veryfast"  # speed matters on 2 cores; the quality loss at crf 20 is small
    # on top of the preset: a diamond motion search and one sub-pixel pass take a third off x264's
    # CPU time for a talking head at 1080p, for -0.2 dB PSNR and -0.001 SSIM (+10 % size); intra
    # blocks of 16x16 only (no 8x8 or 4x4 search) another 12-14 % at 512 to 1080p, for -0.08 to
    # -0.14 dB and +1 % size (bench/encoder_options.py): x264 is most of a 720p or 1080p render
    x264_params: str = "me=dia:subme=1:partitions=none"


class Soundtrack:
    """A video's sound encoded as AAC as the video advances, cut or padded with silence to exactly the
    video's length, so duration and sync are exact."""

    RATE = 48000
    BIT_RATE = 128000

    def __init__(self, audio: Path | Speech) -> None:
        import av

        self._encoder = av.CodecContext.create("aac", "w")
        self._encoder.sample_rate, self._encoder.layout, self._encoder.format = self.RATE, "mono", "fltp"
        self._encoder.bit_rate = self.BIT_RATE
        self._encoder.time_base = Fraction(1, self.RATE)
        self._samples = _samples(audio, self.RATE)
        self._pending = np.zeros(0, np.float32)
        self._encoded = 0  # samples handed to the encoder
        self._flushed = False
        self._packets: list[av.Packet] = []

    def packets(self, until_s: Fraction | float, final: bool = False) -> list[av.Packet]:
        """The packets not taken yet, with the sound encoded up to ``until_s`` (and to its end, padded
        to ``until_s``, when ``final``)."""
        self._encode_until(int(until_s * self.RATE), final)
        made, self._packets = self._packets, []
        return made

    def _encode_until(self, wanted: int, final: bool) -> None:
        if self._flushed:
            return
        while self._encoded + self._pending.size < wanted:
            chunk = next(self._samples, None)
            if chunk is None:
                if not final:
                    break
                chunk = np.zeros(wanted - self._encoded - self._pending.size, np.float32)
            self._pending = np.concatenate([self._pending, chunk])
        take = min(self._pending.size, wanted - self._encoded)
        if take > 0:
            self._encode(self._pending[:take])
            self._pending = self._pending[take:]
        if final:
            self._keep(self._encoder.encode(None))
            self._flushed = True

    def _encode(self, samples: np.ndarray) -> None:
        import av

        frame = av.AudioFrame.from_ndarray(samples[None, :].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = self.RATE, self._encoded
        frame.time_base = Fraction(1, self.RATE)
        self._keep(self._encoder.encode(frame))
        self._encoded += samples.size

    def _keep(self, packets: list[av.Packet]) -> None:
        self._packets.extend(packets)


class VideoWriter:
    """An MP4 being written: ``write(rgb)`` per frame; the soundtrack is interleaved as frames arrive."""

    def __init__(self, path: Path, spec: VideoSpec, audio: Path | Speech | None = None) -> None:
        import av

        self.path, self.spec = Path(path), spec
        # Even sizes: yuv420p needs them.
        self.width, self.height = spec.width - spec.width % 2, spec.height - spec.height % 2
        self._container = av.open(str(self.path), "w", options={"movflags": "+faststart"})
        self.rate = Fraction(spec.fps).limit_denominator(1001)
        self._video = self._container.add_stream("libx264", rate=self.rate)
        self._video.width, self._video.height, self._video.pix_fmt = self.width, self.height, "yuv420p"
        self._video.options = {"crf": str(spec.crf), "preset": spec.preset}
        if spec.x264_params:
            self._video.options = {**self._video.options, "x264-params": spec.x264_params}
        self.frames = 0
        self._audio = None
        if audio is not None:
            self._soundtrack = Soundtrack(audio)
            self._audio = self._container.add_stream("aac", rate=Soundtrack.RATE, layout="mono")
            self._audio.bit_rate = Soundtrack.BIT_RATE

    def write(self, rgb: np.ndarray) -> None:
        self.write_yuv(to_yuv(rgb[: self.height, : self.width]))

    def write_yuv(self, yuv: np.ndarray) -> None:
        """Write a frame already converted by :func:`to_yuv` (at this writer's even size)."""
        import av

        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self.frames
        frame.time_base = 1 / self.rate
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        self.frames += 1
        self._feed_audio(self.frames / self.rate)

    def close(self) -> None:
        for packet in self._video.encode(None):
            self._container.mux(packet)
        self._feed_audio(self.frames / self.rate, final=True)
        self._container.close()

    def _feed_audio(self, until_s: Fraction, final: bool = False) -> None:
        """Mux the soundtrack up to ``until_s``, keeping it interleaved with the video."""
        if self._audio is None:
            return
        for packet in self._soundtrack.packets(until_s, final):
            packet.stream = self._audio
            self._container.mux(packet)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self._container.close()


def _samples(source: Path | Speech, rate: int) -> Iterator[np.ndarray]:
    """Mono float32 samples of a job's speech (decoded already), or of any audio file (or video
    soundtrack), decoded lazily.

    The speech is resampled piece by piece as the video advances, never whole: ten minutes at
    48 kHz would hold 115 MB for the whole render, and resampling them at once peaked at 880 MB."""
    if not isinstance(source, (str, Path)):
        if source.sample_rate != rate:
            from digihuman.media.audio import resampled

            yield from resampled(source.samples, source.sample_rate, rate)
            return
        for k in range(0, len(source.samples), rate):
            yield source.samples[k: k + rate]
        return
    import av

    resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
    with av.open(str(source)) as container:
        for decoded in container.decode(audio=0):
            for frame in resampler.resample(decoded):
                yield frame.to_ndarray()[0]
        for frame in resampler.resample(None):
            yield frame.to_ndarray()[0]


def to_yuv(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` (even height and width) as planar YUV 4:2:0, BT.601 limited range (as swscale makes
    it), shape (height * 3 / 2, width)."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)


def to_rgb(yuv: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_yuv`: (height, width, 3) RGB of planar YUV 4:2:0."""
    import cv2

    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)


Box = tuple[int, int, int, int]  # x0, y0, x1, y1


def even_box(box: Box, width: int, height: int) -> Box:
    """``box`` grown to even edges (whole 2x2 chroma blocks) inside an even ``width`` x ``height``."""
    x0, y0, x1, y1 = box
    return x0 & ~1, y0 & ~1, min(width, (x1 + 1) & ~1), min(height, (y1 + 1) & ~1)


def _planes(width: int, height: int, box: Box) -> Iterator[tuple[int, int, int, int, int]]:
    """Per plane of a ``width`` x ``height`` YUV 4:2:0 frame and of its even-aligned ``box`` cut out
    as a frame of its own: (offset in the frame, plane width, offset in the part, part plane width,
    subsampling)."""
    x0, y0, x1, y1 = box
    cw, ch = x1 - x0, y1 - y0
    yield 0, width, 0, cw, 1
    yield width * height, width // 2, cw * ch, cw // 2, 2
    yield width * height * 5 // 4, width // 2, cw * ch * 5 // 4, cw // 2, 2


def yuv_part(yuv: np.ndarray, box: Box) -> np.ndarray:
    """The even-aligned ``box`` of the YUV 4:2:0 frame ``yuv`` as a YUV 4:2:0 frame of its own
    (exactly what :func:`to_yuv` makes of that part of the picture)."""
    height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
    x0, y0, x1, y1 = box
    cw, ch = x1 - x0, y1 - y0
    flat, part = yuv.reshape(-1), np.empty(cw * ch * 3 // 2, np.uint8)
    for start, pw, cstart, cpw, sub in _planes(width, height, box):
        ph, cph = height // sub, ch // sub
        plane = flat[start: start + pw * ph].reshape(ph, pw)
        part[cstart: cstart + cpw * cph].reshape(cph, cpw)[:] = \
            plane[y0 // sub: y0 // sub + cph, x0 // sub: x0 // sub + cpw]
    return part.reshape(ch * 3 // 2, cw)


def paste_yuv(yuv: np.ndarray, part: np.ndarray, box: Box) -> None:
    """Write ``part`` (YUV 4:2:0 of the even-aligned ``box``) into the frame ``yuv``, in place."""
    height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
    x0, y0, x1, y1 = box
    ch = y1 - y0
    flat, part = yuv.reshape(-1), part.reshape(-1)
    for start, pw, cstart, cpw, sub in _planes(width, height, box):
        ph, cph = height // sub, ch // sub
        plane = flat[start: start + pw * ph].reshape(ph, pw)
        plane[y0 // sub: y0 // sub + cph, x0 // sub: x0 // sub + cpw] = \
            part[cstart: cstart + cpw * cph].reshape(cph, cpw)


def _mark_layout(width: int, height: int, text: str) -> tuple[float, int, tuple[int, int], Box]:
    """Scale, thickness, text origin and the even-aligned box (x0, y0, x1, y1) the mark can touch."""
    import cv2

    scale = max(0.4, width / 1400)
    thickness = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = width - tw - int(12 * scale) - 4, height - base - int(12 * scale) - 4
    reach = thickness + 4  # the shadow's offset and width, and anti-aliasing
    x0, y0 = max(0, x - reach) & ~1, max(0, y - th - reach) & ~1
    x1, y1 = min(width, x + tw + reach + 2) & ~1, min(height, y + base + reach + 2) & ~1
    return scale, thickness, (x, y), (x0, y0, x1, y1)


def _marked_corner(rgb: np.ndarray, text: str) -> tuple[np.ndarray, Box]:
    """The corner box of ``rgb`` with ``text`` drawn in, and the box."""
    height, width = rgb.shape[:2]
    box = _mark_layout(width, height, text)[3]
    x0, y0, x1, y1 = box
    return _mark(np.ascontiguousarray(rgb[y0:y1, x0:x1]), width, height, text), box


def _mark(corner: np.ndarray, width: int, height: int, text: str) -> np.ndarray:
    """``corner`` (the mark's box of a ``width`` x ``height`` frame, RGB) with ``text`` drawn in."""
    import cv2

    scale, thickness, (x, y), (x0, y0, _, _) = _mark_layout(width, height, text)
    overlay = corner.copy()
    at = (x - x0, y - y0)
    shadow = (at[0] + 1, at[1] + 1)
    cv2.putText(overlay, text, shadow, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 1, cv2.LINE_AA)
    cv2.putText(overlay, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return cv2.addWeighted(overlay, 0.75, corner, 0.25, 0)


def watermark(rgb: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``rgb`` with ``text`` in the bottom-right corner, white on a soft shadow."""
    corner, (x0, y0, x1, y1) = _marked_corner(rgb, text)
    out = rgb.copy()
    out[y0:y1, x0:x1] = corner
    return out


def watermark_yuv(yuv: np.ndarray, rgb: np.ndarray | None, text: str) -> None:
    """Make ``yuv = to_yuv(rgb)`` into ``to_yuv(watermark(rgb, text))`` in place: only the corner is
    converted again (the box is even-aligned, so its 2x2 chroma blocks are the whole frame's).
    Without ``rgb`` the corner's picture is converted from ``yuv``."""
    height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
    box = _mark_layout(width, height, text)[3]
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    corner = to_rgb(yuv_part(yuv, box)) if rgb is None else np.ascontiguousarray(rgb[y0:y1, x0:x1])
    paste_yuv(yuv, to_yuv(_mark(corner, width, height, text)), box)


class PreviewCollector:
    """Keeps a few small frames from the start of a video for its animated WebP preview."""

    def __init__(self, fps: float) -> None:
        self.step = max(1, round(fps / PREVIEW_FPS))
        self.limit = int(PREVIEW_SECONDS * PREVIEW_FPS)
        self.frames: list[np.ndarray] = []
        self._seen = 0

    @property
    def full(self) -> bool:
        return len(self.frames) >= self.limit

    def _wants(self) -> bool:
        return not self.full and self._seen % self.step == 0

    @staticmethod
    def _size(width: int, height: int) -> tuple[int, int]:
        return PREVIEW_WIDTH, max(2, round(height * PREVIEW_WIDTH / width / 2) * 2)

    def add_yuv(self, yuv: np.ndarray) -> None:
        """:meth:`add` for a frame in YUV 4:2:0: only the frames kept are scaled, plane by plane, and
        converted at the preview's size (converting a 1080p frame first cost ten times as much)."""
        if self._wants():
            import cv2

            height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
            size = pw, ph = self._size(width, height)
            small = np.empty((ph * 3 // 2, pw), np.uint8)
            small[:ph] = cv2.resize(yuv[:height], size, interpolation=cv2.INTER_AREA)
            chroma = yuv[height:].reshape(2, height // 2, width // 2)  # U then V
            small[ph:] = np.stack([cv2.resize(plane, (pw // 2, ph // 2), interpolation=cv2.INTER_AREA)
                                   for plane in chroma]).reshape(ph // 2, pw)
            self.frames.append(to_rgb(small))
        self._seen += 1

    def add(self, rgb: np.ndarray) -> None:
        if self._wants():
            import cv2

            height, width = rgb.shape[:2]
            self.frames.append(cv2.resize(rgb, self._size(width, height), interpolation=cv2.INTER_AREA))
        self._seen += 1

    def write(self, path: Path) -> Path:
        import av

        with av.open(str(path), "w", format="webp", options={"loop": "0"}) as container:
            stream = container.add_stream("libwebp_anim", rate=PREVIEW_FPS)
            stream.height, stream.width = self.frames[0].shape[:2]
            stream.pix_fmt = "yuva420p"
            # effort 2 of 6: 0.27 instead of 0.42 CPU-s for a 320² preview, 8 % larger (~135 kB)
            stream.options = {"quality": "70", "compression_level": "2"}
            for rgb in self.frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return path


class EncoderThread:
    """One :class:`VideoWriter` (or anything with ``write_yuv``) fed from a short queue by its own thread."""

    _END = None

    def __init__(self, writer: VideoWriter, name: str) -> None:
        self.writer = writer
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(QUEUE_FRAMES)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            yuv = self._queue.get()
            if yuv is self._END:
                return
            if self.error is None:  # after a failure, keep draining so the frame loop never blocks
                try:
                    self.writer.write_yuv(yuv)
                except BaseException as e:  # noqa: BLE001 - handed to the frame loop, which raises it
                    self.error = e

    def put(self, yuv: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(yuv)

    def finish(self) -> None:
        """Wait for the queued frames; raise what the thread met."""
        self._queue.put(self._END)
        self._thread.join()
        if self.error is not None:
            raise self.error


class RenderWriter:
    """One pass over the frames writes the MP4 (with ``watermark_text`` in its corner when given) and
    the preview (always clean). The preview is written as soon as its frames are in, while the
    encoder thread still has work: at the end of the render it would be waited for.

    Use as a context manager; on an error the video is abandoned and no preview is left. The
    "encoding" stage is the frame loop's share: converting each frame, and waiting when the encoder
    thread falls behind (the thread's own CPU time shows in whichever stage runs meanwhile).
    """

    def __init__(self, out_dir: Path, spec: VideoSpec, audio: Path | Speech | None, watermark_text: str | None) -> None:
        self.video = out_dir / "video.mp4"
        self.preview = out_dir / "preview.webp"
        self._spec, self._audio, self._text = spec, audio, watermark_text
        self._previews = PreviewCollector(float(spec.fps))
        self._preview_written = False

    def __enter__(self) -> RenderWriter:
        self._writer = VideoWriter(self.video, self._spec, self._audio)
        self._size = self._writer.width, self._writer.height
        self._thread = EncoderThread(self._writer, f"encode {self.video.name}")
        return self

    def write(self, rgb: np.ndarray) -> None:
        width, height = self._size
        rgb = rgb[:height, :width]
        with stage("encoding"):
            yuv = to_yuv(rgb)
            if self._text:
                watermark_yuv(yuv, rgb, self._text)
            self._thread.put(yuv)
        with stage("preview"):
            self._previews.add(rgb)
            self._preview_when_full()

    def write_yuv(self, yuv: np.ndarray) -> None:
        """Write a frame given as :func:`to_yuv` makes it, at the video's (even) size; the writer
        owns the array from here on."""
        width, height = self._size
        if yuv.shape != (height * 3 // 2, width):
            raise ValueError(f"a {width}x{height} video was given a YUV frame of shape {yuv.shape}")
        with stage("preview"):  # before the mark: the preview is clean
            self._previews.add_yuv(yuv)
            self._preview_when_full()
        with stage("encoding"):
            if self._text:
                watermark_yuv(yuv, None, self._text)
            self._thread.put(yuv)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        with stage("encoding"):
            try:
                self._thread.finish()
            except BaseException as failed:  # the encoder failed: the video is abandoned
                self._writer.__exit__(type(failed), failed, failed.__traceback__)
                if kind is None:
                    raise
            else:
                self._writer.__exit__(kind, exc, tb)
        if kind is not None:
            self.preview.unlink(missing_ok=True)
        elif not self._preview_written:
            with stage("preview"):
                self._previews.write(self.preview)

    def _preview_when_full(self) -> None:
        if self._previews.full and not self._preview_written:
            self._previews.write(self.preview)
            self._preview_written = True


def write_cover(rgb: np.ndarray, path: Path) -> Path:
    """A still frame as JPEG (or PNG, by the path's suffix)."""
    import cv2

    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path
