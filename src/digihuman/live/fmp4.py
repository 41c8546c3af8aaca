"""The fragmented MP4 a live WebSocket carries: H.264 + AAC, an init segment, then ≤ 200 ms fragments.

The MP4 muxer writes a fragment when the next video keyframe reaches it (``frag_keyframe``), and its
interleaving queue holds the latest packet it was given until a later one comes. By default it also
holds every packet later than the other track's last one: a chunk's frames waited for the next chunk's
sound (AAC comes out 64 ms or more behind), and with the keyframe forced on each chunk's last frame
every frame reached the client one chunk and a frame late (240 ms). So the queue holds only the latest
packet (``max_interleave_delta`` 1 µs) and the keyframe is forced on each chunk's *second-to-last*
frame: the chunk's last frame comes after it, so the keyframe passes the queue, and feeding a chunk
flushes everything before it; only the chunk's last two frames wait for the next chunk (80 ms).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from digihuman.live.stream import MediaChunk

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


class _Sink:
    """A write-only file for PyAV: the bytes written since the last :meth:`take`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


class FragmentedMp4:
    """Encodes a session's chunks into one fragmented MP4, returned piece by piece.

    ``init`` holds the init segment (ftyp + moov); each :meth:`feed` returns the fragments completed
    by that chunk (possibly empty). Not thread-safe: one muxer per reader.
    """

    def __init__(self, width: int, height: int, fps: float, sample_rate: int, crf: int = 23) -> None:
        import av

        self._sink = _Sink()
        self._container = av.open(self._sink, "w", format="mp4",
                                  options={"movflags": MOVFLAGS, "max_interleave_delta": "1"})
        self._rate = Fraction(fps).limit_denominator(1001)
        video = self._container.add_stream("libx264", rate=self._rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        # zerolatency: no lookahead or frame threads, so each frame's packet comes out at once; the
        # long GOP is cut by the forced keyframes (one per chunk), never by x264 itself
        video.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": str(crf), "bf": "0",
                         "g": "250", "sc_threshold": "0", "threads": "1"}
        audio = self._container.add_stream("aac", rate=sample_rate, layout="mono")
        audio.bit_rate = 48000
        self._video, self._audio, self._sample_rate = video, audio, sample_rate
        self._container.start_encoding()
        self.init = self._sink.take()
        self._frames = 0
        self._samples = 0
        self._closed = False

    def feed(self, chunk: MediaChunk) -> bytes:
        """The bytes this chunk completes (fragments start at keyframes and last ≤ one chunk)."""
        import av

        mux = self._container.mux
        key = max(0, len(chunk.frames) - 2)
        for i, rgb in enumerate(chunk.frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = self._frames, 1 / self._rate
            if i == key:
                frame.pict_type = av.video.frame.PictureType.I
            self._frames += 1
            for packet in self._video.encode(frame):
                mux(packet)
        if len(chunk.audio):
            pcm = np.ascontiguousarray(np.asarray(chunk.audio, np.int16)[None, :])
            sound = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            sound.sample_rate, sound.pts = self._sample_rate, self._samples
            sound.time_base = Fraction(1, self._sample_rate)
            self._samples += pcm.shape[1]
            for packet in self._audio.encode(sound):
                mux(packet)
        return self._sink.take()

    def close(self) -> bytes:
        """The last fragments (the encoders' buffered frames)."""
        if self._closed:
            return b""
        self._closed = True
        try:
            for stream in (self._video, self._audio):
                for packet in stream.encode(None):
                    self._container.mux(packet)
        finally:
            self._container.close()
        return self._sink.take()


def video_samples(fragments: bytes, video_track: int = 1) -> int:
    """Video frames in ``fragments`` (whole moof + mdat boxes, as :meth:`FragmentedMp4.feed` returns
    them): what a client received, for measuring a stream without decoding it."""
    import struct

    def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
        out, i = [], 0
        while i + 8 <= len(data):
            size, kind = struct.unpack(">I4s", data[i: i + 8])
            if size < 8:
                break
            out.append((kind, data[i + 8: i + size]))
            i += size
        return out

    count = 0
    for kind, moof in boxes(fragments):
        if kind != b"moof":
            continue
        for sub, traf in boxes(moof):
            inner = dict(boxes(traf)) if sub == b"traf" else {}
            if b"tfhd" in inner and b"trun" in inner and struct.unpack(">I", inner[b"tfhd"][4:8])[0] == video_track:
                count += struct.unpack(">I", inner[b"trun"][4:8])[0]
    return count
