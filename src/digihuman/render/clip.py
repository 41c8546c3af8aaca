"""The avatar's background clip: written once with short keyframe intervals, read forwards and
backwards in bounded memory.

Frames come out as RGB, or as the planar YUV 4:2:0 the clip holds (``fmt="yuv420p"``): a render
that changes only the face passes the rest of each frame to the encoder untouched, with no
conversion to RGB and back (at 1080p those two cost as much CPU as compositing the face).

Rendering plays the calm stretch of the training video back and forth (ping-pong), so it never
cuts. H.264 can only be decoded forwards from a keyframe; with a keyframe every ``GOP`` frames a
backward run decodes one GOP at a time and hands its frames out in reverse, holding at most
``GOP`` frames (about 50 MB of YUV at 1080p). A clip copied from the training video's own packets
(:mod:`digihuman.render.background`) keeps that video's keyframes: the reader finds them in the
packets, and decodes a GOP longer than it holds at a time again for each chunk of it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

GOP = 16  # frames between keyframes of the background clip


class ClipWriter:
    """An H.264 video without sound, keyframe every ``GOP`` frames and no B-frames."""

    def __init__(self, path: Path, width: int, height: int, fps: float, crf: int = 15) -> None:
        import av

        self.width, self.height = width - width % 2, height - height % 2
        self._container = av.open(str(path), "w")
        self._rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=self._rate)
        self._stream.width, self._stream.height, self._stream.pix_fmt = self.width, self.height, "yuv420p"
        # the diamond search and one sub-pixel pass cost a quarter less CPU than plain veryfast (the
        # largest part of training at 1080p); one step lower crf keeps the quality (PSNR -0.2 dB).
        # Intra blocks of 16x16 only: 14 % less at 1080p (6 % at 512) for -0.03 dB (-0.08 at 512)
        self._stream.options = {"crf": str(crf), "preset": "veryfast", "g": str(GOP), "keyint_min": str(GOP),
                                "bf": "0", "sc_threshold": "0",
                                "x264-params": "me=dia:subme=1:partitions=none"}
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        from digihuman.render.output import to_yuv

        self.write_yuv(to_yuv(rgb[: self.height, : self.width]))

    def write_yuv(self, yuv: np.ndarray) -> None:
        """Write a frame given as planar YUV 4:2:0 at this clip's (even) size."""
        import av

        if yuv.shape != (self.height * 3 // 2, self.width):
            raise ValueError(f"a {self.width}x{self.height} clip was given a YUV frame of shape {yuv.shape}")
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts, frame.time_base = self.frames, 1 / self._rate
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def __enter__(self) -> ClipWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        self._container.close()


class ClipReader:
    """Frames of a background clip, by index, in any order of runs."""

    def __init__(self, path: Path) -> None:
        import av

        from digihuman.render.background import chunk_frames, packet_index

        self._container = av.open(str(path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._fps = float(self._stream.average_rate or self._stream.guessed_rate or 25)
        # the keyframes and every frame's timestamp, from the packets alone (milliseconds)
        self._packets = packet_index(self._container, self._stream)
        self._index_of = {int(p): i for i, p in enumerate(self._packets.pts)}
        self._chunk = chunk_frames(self._stream.width, self._stream.height)
        self._iter: Iterator[tuple[int, Any]] | None = None
        self._next = -1  # index the running decoder yields next

    def _index(self, frame) -> int:  # noqa: ANN001 - av.VideoFrame
        found = self._index_of.get(frame.pts) if frame.pts is not None else None
        return found if found is not None else int(round(float(frame.pts * frame.time_base) * self._fps))

    def _decode_from(self, index: int) -> Iterator[tuple[int, Any]]:
        """Decode from the keyframe at or before ``index``: (index, av.VideoFrame), still in YUV."""
        key = self._packets.keyframe_before(index)
        pts = int(self._packets.pts[key]) if key < len(self._packets) else 0
        self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)
        for frame in self._container.decode(self._stream):
            yield self._index(frame), frame

    def forward(self, start: int, stop: int, fmt: str = "rgb24") -> Iterator[np.ndarray]:
        """Frames start..stop-1 in order, decoded once each (no seek when continuing a run); ``fmt``:
        "rgb24" (H, W, 3) or "yuv420p" (H * 3 / 2, W), the clip's own planes."""
        for frame in self._decoded(start, stop):
            yield frame.to_ndarray(format=fmt)

    def _decoded(self, start: int, stop: int) -> Iterator[Any]:
        """The decoded frames start..stop-1 (av.VideoFrame), converted to RGB by the caller: frames
        skipped after a seek never are, and a backward chunk is held at half the size of RGB."""
        if self._iter is None or self._next != start:
            # Seek once per run; the frames between the keyframe and ``start`` are decoded and skipped.
            self._iter = self._decode_from(start)
        i = start
        while i < stop:
            got = next(self._iter, None)
            if got is None:  # past the end: stop cleanly
                self._iter = None
                return
            index, frame = got
            self._next = index + 1
            if index < i:
                continue
            yield frame
            i = index + 1

    def backward(self, start: int, stop: int, fmt: str = "rgb24") -> Iterator[np.ndarray]:
        """Frames start, start-1, ..., stop+1 (start > stop), one GOP (at most ``chunk_frames``) in
        memory at a time, in YUV."""
        i = start
        while i > stop:
            lo = max(stop + 1, self._packets.keyframe_before(i), i - self._chunk + 1)
            chunk = list(self._decoded(lo, i + 1))
            self._iter = None  # the next chunk lies before this one: seek again
            while chunk:
                yield chunk.pop().to_ndarray(format=fmt)
            i = lo - 1

    def close(self) -> None:
        self._container.close()


def ping_pong(frames: int, count: int) -> np.ndarray:
    """``count`` indices into a clip of ``frames`` that run forwards then backwards, turning at the
    ends without repeating the turning frame (a repeat reads as a stall)."""
    if frames <= 1:
        return np.zeros(count, np.int64)
    period = 2 * (frames - 1)
    phase = np.arange(count) % period
    return np.where(phase < frames, phase, period - phase).astype(np.int64)


def runs(plan: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """The plan cut into monotone runs: (first index, last index, step ±1)."""
    n = len(plan)
    i = 0
    while i < n:
        j = i
        step = int(plan[i + 1] - plan[i]) if i + 1 < n else 1
        if step not in (1, -1):
            step = 1
            yield int(plan[i]), int(plan[i]), 1
            i += 1
            continue
        while j + 1 < n and plan[j + 1] - plan[j] == step:
            j += 1
        yield int(plan[i]), int(plan[j]), step
        i = j + 1


def read_plan(reader: ClipReader, plan: np.ndarray, fmt: str = "rgb24") -> Iterator[np.ndarray]:
    """The clip's frames in the order of ``plan``, streaming; each one a new array the caller may
    change (``fmt`` as :meth:`ClipReader.forward`)."""
    last: np.ndarray | None = None
    for first, final, step in runs(plan):
        got = (reader.forward(first, final + 1, fmt) if step == 1
               else reader.backward(first, final - 1, fmt))
        count = 0
        for rgb in got:
            last = rgb
            count += 1
            yield rgb
        # a clip shorter than its manifest says: repeat the last frame rather than end early
        for _ in range(abs(final - first) + 1 - count):
            assert last is not None
            yield last.copy()


def read_ahead(frames: Iterator[T], depth: int = 3) -> Iterator[T]:
    """``frames`` (decoded pictures), produced by a thread up to ``depth`` frames ahead of the
    consumer: decoding (PyAV works outside the GIL) overlaps the compositing and the encoders. Close
    the iterator before the clip it reads: closing stops and joins the thread."""
    ahead: queue.Queue[object] = queue.Queue(depth)
    stop = threading.Event()
    end = object()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for frame in frames:
                if not offer(frame):
                    return
            offer(end)
        except BaseException as e:  # noqa: BLE001 - raised again in the consumer
            offer(e)

    thread = threading.Thread(target=run, name="read ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ahead.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
