"""The avatar's background clip copied from the training video's own compressed pictures.

Encoding the background window again is the largest cost of training at 1080p (about 30 ms of CPU
a frame) and adds one more generation of loss before the render encodes it yet again. When the
window is a run of the video's packets that decode on their own, the packets are copied into
background.mp4 instead (no decoding, no encoding: milliseconds), and decode to the very pictures the
training saw. They do when:

- the stream is H.264 or HEVC in 8-bit YUV 4:2:0 of even size, not rotated for display (the render
  passes the clip's planes to its encoder as they are, and reads them unrotated);
- its frames are evenly spaced (the renders index frames by time);
- the window starts at a keyframe that nothing after it refers back across (a closed GOP), and the
  packets from there on, in decoding order, show exactly the window's frames;
- its keyframes are close enough together that playing it backwards stays cheap: a backward run
  decodes from the keyframe before it (:class:`digihuman.render.clip.ClipReader`), and a long GOP
  is decoded again for every chunk the reader can hold.

Otherwise the window is encoded as before (:class:`digihuman.render.clip.ClipWriter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

COPYABLE_CODECS = ("h264", "hevc")
# A backward run through a GOP of g frames, holding c of them, decodes about g / (2 c) + 1 frames per
# frame shown. Up to 4 c, the source's own decoding (about half the re-encoded clip's, whose crf 15
# keeps more bits) still costs no more: 1080p, a 250-frame GOP, c = 64, ping-pong: 14.2 ms of CPU a
# frame against the re-encoded clip's 14.3 (c = 32: 21.5)
MAX_GOP_CHUNKS = 4


@dataclass(frozen=True)
class PacketIndex:
    """A video stream's frames as its packets give them, without decoding any picture."""

    pts: np.ndarray  # (N,) presentation timestamps of the frames in display order
    decode_order: np.ndarray  # (N,) display index of each packet, in the order they are decoded
    keyframes: np.ndarray  # display indices of the keyframes, ascending
    time_base: float  # seconds per timestamp unit

    def __len__(self) -> int:
        return len(self.pts)

    def keyframe_before(self, index: int) -> int:
        """The display index of the keyframe at or before frame ``index`` (0 when none is)."""
        at = int(np.searchsorted(self.keyframes, index, side="right")) - 1
        return int(self.keyframes[at]) if at >= 0 else 0


def packet_index(container, stream) -> PacketIndex:  # noqa: ANN001 - av containers
    """Demultiplex ``stream`` of an open ``container`` to the end (it is left there: seek before decoding)."""
    pts: list[int] = []
    keys: list[int] = []
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue  # the flush packet at the end, or one the container cannot place
        pts.append(int(packet.pts))
        keys.append(bool(packet.is_keyframe))
    order = np.argsort(np.array(pts, np.int64), kind="stable")
    display = np.empty(len(pts), np.int64)
    display[order] = np.arange(len(pts))
    keyframes = np.sort(display[np.array(keys, bool)]) if pts else np.zeros(0, np.int64)
    return PacketIndex(np.array(pts, np.int64)[order], display, keyframes,
                       float(stream.time_base) if stream.time_base else 1.0)


def chunk_frames(width: int, height: int) -> int:
    """Frames a backward run may hold at a time (their YUV, at most about 200 MB: 64 at 1080p): at
    least one GOP of a clip the server encoded (16 frames); a copied clip's run holds one of its
    GOPs, or this many frames of a longer one."""
    from digihuman.render.clip import GOP

    return max(GOP, int(200e6 // max(1, width * height * 3 // 2)))


class PacketSource:
    """A training video whose background window may be copied: its stream passed the checks that
    do not depend on the window (codec, pixel format, size, rotation), and its packets are indexed."""

    def __init__(self, video: Path, index: PacketIndex, chunk: int) -> None:
        self.video, self.index, self._chunk = Path(video), index, chunk

    @classmethod
    def open(cls, video: Path) -> PacketSource | None:
        """The video's packets, or None when its stream cannot be copied for any window."""
        import av

        try:
            with av.open(str(video)) as source:
                if not source.streams.video:
                    return None
                stream = source.streams.video[0]
                if not _copyable_stream(source, stream):
                    return None
                source.seek(0)
                return cls(video, packet_index(source, stream), chunk_frames(stream.width, stream.height))
        except (av.FFmpegError, OSError, ValueError):
            return None

    def copyable(self, start: int, frames: int) -> bool:
        """Whether frames ``start`` .. ``start + frames - 1`` can be copied."""
        return _window_packets(self.index, start, frames, self._chunk) is not None

    def copy(self, target: Path, start: int, frames: int) -> bool:
        """Write the window to ``target`` by copying its packets; False, and nothing written, when
        it cannot be."""
        import av

        packets = _window_packets(self.index, start, frames, self._chunk)
        if packets is None:
            return False
        try:
            with av.open(str(self.video)) as source:
                _write(source, source.streams.video[0], target, packets, int(self.index.pts[start]))
        except (av.FFmpegError, OSError, ValueError):
            target.unlink(missing_ok=True)
            return False
        return _check(target, frames)


def copy_window(video: Path, target: Path, start: int, frames: int) -> bool:
    """Write frames ``start`` .. ``start + frames - 1`` of ``video`` to ``target`` by copying their
    packets, when they can be (see the module's docstring); False, and nothing written, when not."""
    source = PacketSource.open(video)
    return source is not None and source.copy(target, start, frames)


def _copyable_stream(container, stream) -> bool:  # noqa: ANN001 - av objects
    context = stream.codec_context
    if context.name not in COPYABLE_CODECS or context.pix_fmt != "yuv420p":
        return False
    if stream.width % 2 or stream.height % 2:
        return False
    frame = next(container.decode(stream), None)  # the display rotation is the first frame's
    return frame is not None and not round((frame.rotation or 0) / 90) % 4


def _window_packets(index: PacketIndex, start: int, frames: int, chunk: int) -> set[int] | None:
    """The decode-order positions of the window's packets, or None when they cannot be copied."""
    n, end = len(index), start + frames
    if frames < 2 or end > n or start not in set(index.keyframes.tolist()):
        return None
    steps = np.diff(index.pts[start:end])
    if steps.min() <= 0 or steps.max() != steps.min():
        return None  # not evenly spaced
    inside = index.keyframes[(index.keyframes >= start) & (index.keyframes < end)]
    gops = np.diff(np.concatenate([inside, [end]]))
    if gops.max() > MAX_GOP_CHUNKS * chunk:
        return None
    first = int(np.flatnonzero(index.decode_order == start)[0])
    shown = index.decode_order[first:]
    last = first + int(np.flatnonzero((shown >= start) & (shown < end)).max())  # completes the window
    taken = index.decode_order[first: last + 1]
    # exactly the window: nothing shown before the keyframe (an open GOP), nothing after the end
    if len(taken) != frames or taken.min() != start or taken.max() != end - 1:
        return None
    return set(range(first, last + 1))


def _write(source, stream, target: Path, packets: set[int], zero: int) -> None:  # noqa: ANN001
    import av

    with av.open(str(target), "w", format="mp4") as out:
        copy = out.add_stream_from_template(stream)
        position = -1
        for packet in source.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            position += 1
            if position not in packets:
                if position > max(packets):
                    break
                continue
            packet.pts -= zero  # the window's first frame at time 0, as the renders count
            if packet.dts is not None:
                packet.dts -= zero
            packet.stream = copy
            out.mux(packet)


def _check(target: Path, frames: int) -> bool:
    """The copy shows ``frames`` frames, evenly spaced from time 0 (else it is removed)."""
    import av

    try:
        with av.open(str(target)) as clip:
            stream = clip.streams.video[0]
            index = packet_index(clip, stream)
            fps = float(stream.average_rate or 0)
        ok = len(index) == frames and fps > 0 and len(index.keyframes) and index.keyframes[0] == 0
        if ok:
            times = (index.pts - index.pts[0]) * index.time_base * fps
            ok = bool(np.abs(times - np.arange(frames)).max() < 0.25)
    except (av.FFmpegError, OSError):
        ok = False
    if not ok:
        target.unlink(missing_ok=True)
    return bool(ok)
