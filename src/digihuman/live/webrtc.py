"""WebRTC delivery of a live session (WHEP): each viewer gets one peer connection with a video and an audio
track, fed by its own subscription to the session's media.

The session makes :class:`~digihuman.live.stream.MediaChunk` values in real time; a :class:`Feed` cuts them
into timed video frames (90 kHz clock) and 20 ms audio frames at 48 kHz (what Opus packs), and the two
tracks hand them to aiortc at the pace their timestamps say, so a chunk that arrives all at once still
plays smoothly. ICE uses host candidates only: the server is meant for offline LANs, so no STUN server is
asked (aiortc would otherwise ask Google's).

aiortc and PyAV are imported inside the functions that need them: importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from digihuman.live.stream import SessionEnded

if TYPE_CHECKING:
    from digihuman.live.stream import MediaChunk

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_FRAME = 960  # samples in 20 ms at 48 kHz: one Opus packet
# How far the frames waiting for a slow encoder may pile up before the oldest are dropped (seconds): a
# live picture should stay live rather than play everything late.
MAX_BACKLOG_S = 2.0
MAX_LATE_S = 0.5  # frames due this long ago start the clock again: the session stalled


class MediaSubscription(Protocol):
    """What the feed needs of a session subscription: the next chunk (SessionEnded once it is over)."""

    async def get(self) -> MediaChunk: ...

    def close(self) -> None: ...


class Feed:
    """One subscription cut into paced video and audio frames for one peer connection."""

    def __init__(self, subscription: MediaSubscription, fps: float) -> None:
        self._sub = subscription
        self._fps = fps
        # (pts, RGB frame, the events of the chunk it starts) and (pts, 960 samples); None ends each queue
        self._video: asyncio.Queue[tuple[int, np.ndarray, tuple[dict[str, Any], ...]] | None] = \
            asyncio.Queue()
        self._audio: asyncio.Queue[tuple[int, np.ndarray] | None] = asyncio.Queue()
        self._origin_s: float | None = None  # the first chunk's start: pts count from there
        self._clock0: float | None = None  # monotonic time at which pts 0 plays
        self._resampler: Any = None
        self._resampler_rate = 0
        self._pcm = np.zeros(0, np.int16)  # resampled audio not yet cut into a whole frame
        self._audio_pts = 0
        self._task: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()
        # Called with each chunk's events as its first frame goes out, so that they match the picture.
        self.on_events: Callable[[tuple[dict[str, Any], ...]], None] | None = None

    def start(self, on_end: Callable[[], None] | None = None) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump(on_end))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._finish()

    async def _pump(self, on_end: Callable[[], None] | None) -> None:
        try:
            while True:
                self.add(await self._sub.get())
        except (asyncio.CancelledError, SessionEnded):
            pass
        except Exception:  # the session broke: the viewer sees the end, the server log says why
            log.exception("live WebRTC feed stopped")
        finally:
            self._finish()
            if on_end is not None:
                on_end()

    def _finish(self) -> None:
        if not self.ended.is_set():
            self.ended.set()
            with contextlib.suppress(Exception):
                self._sub.close()
            self._video.put_nowait(None)
            self._audio.put_nowait(None)

    def add(self, chunk: MediaChunk) -> None:
        """Queue one chunk's frames and audio, timed from the first chunk this feed saw."""
        if self._origin_s is None:
            self._origin_s = chunk.start_s
            self._clock0 = time.monotonic()
        offset_s = chunk.start_s - self._origin_s
        for i, rgb in enumerate(chunk.frames):
            pts = round((offset_s + i / self._fps) * VIDEO_CLOCK)
            self._video.put_nowait((pts, rgb, chunk.events if i == 0 else ()))
        self._trim_video()
        expected = round(offset_s * AUDIO_RATE)
        if abs(expected - (self._audio_pts + len(self._pcm))) > AUDIO_FRAME:
            # Chunks were lost (this viewer fell behind): restart the sound at the chunk's own time, so that
            # it stays with the picture.
            self._pcm, self._audio_pts = np.zeros(0, np.int16), expected
        if len(chunk.audio):
            self._pcm = np.concatenate([self._pcm, self._resample(np.asarray(chunk.audio, np.int16),
                                                                  chunk.sample_rate)])
        while len(self._pcm) >= AUDIO_FRAME:
            self._audio.put_nowait((self._audio_pts, self._pcm[:AUDIO_FRAME]))
            self._pcm = self._pcm[AUDIO_FRAME:]
            self._audio_pts += AUDIO_FRAME
        _trim(self._audio, MAX_BACKLOG_S * AUDIO_RATE / AUDIO_FRAME)

    def _trim_video(self) -> None:
        """Drop the oldest frames beyond the backlog; their events ride on the first frame kept."""
        carried: tuple[dict[str, Any], ...] = ()
        while self._video.qsize() > MAX_BACKLOG_S * self._fps:
            item = self._video.get_nowait()
            if item is not None:
                carried += item[2]
        if carried:
            # asyncio.Queue has no way to change its head: take every frame out and put them back
            items = [self._video.get_nowait() for _ in range(self._video.qsize())]
            pts, rgb, events = items[0]  # type: ignore[misc]
            items[0] = (pts, rgb, carried + events)
            for item in items:
                self._video.put_nowait(item)

    def _resample(self, pcm: np.ndarray, rate: int) -> np.ndarray:
        if rate == AUDIO_RATE:
            return pcm
        import av

        if self._resampler is None or rate != self._resampler_rate:
            # One resampler for the whole feed keeps its filter state across chunks: no clicks at joins.
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE)
            self._resampler_rate = rate
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.int16, copy=False) if out else np.zeros(0, np.int16)

    async def _next(self, queue: asyncio.Queue[Any], clock: int) -> tuple[Any, ...]:
        item = await queue.get()
        if item is None:
            queue.put_nowait(None)  # the other reader of the end, if any, sees it too
            from aiortc.mediastreams import MediaStreamError

            raise MediaStreamError("the live session has ended")
        assert self._clock0 is not None
        wait = self._clock0 + item[0] / clock - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -MAX_LATE_S:
            # The session stalled (its stream time went on while the wall clock ran ahead): play from here
            # at the normal pace rather than in bursts, for both tracks alike.
            self._clock0 -= wait
        return item

    async def next_video(self) -> Any:
        import av

        pts, rgb, events = await self._next(self._video, VIDEO_CLOCK)
        if events and self.on_events is not None:
            self.on_events(events)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame

    async def next_audio(self) -> Any:
        import av

        pts, pcm = await self._next(self._audio, AUDIO_RATE)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


def _trim(queue: asyncio.Queue[Any], most: float) -> None:
    while queue.qsize() > most:
        queue.get_nowait()


def _tracks(feed: Feed) -> tuple[Any, Any]:
    """A video and an audio track reading the feed (classes made here so aiortc loads only when used)."""
    from aiortc import AudioStreamTrack, VideoStreamTrack

    class SessionVideoTrack(VideoStreamTrack):
        async def recv(self) -> Any:
            return await feed.next_video()

    class SessionAudioTrack(AudioStreamTrack):
        async def recv(self) -> Any:
            return await feed.next_audio()

    return SessionVideoTrack(), SessionAudioTrack()


class LiveSource(Protocol):
    """What a viewer needs of a live session."""

    id: str
    fps: float

    def subscribe(self) -> MediaSubscription: ...


@dataclass
class Viewer:
    """One WebRTC viewer of a session."""

    id: str
    session: LiveSource
    pc: Any  # aiortc.RTCPeerConnection
    feed: Feed
    channel: Any = None  # the viewer's data channel, when its offer opened one: the session's events go there
    closed: bool = False
    # Events from before the channel opened: sent when it does, so that the first "idle" is not lost.
    waiting: list[dict[str, Any]] = field(default_factory=list)

    def send_events(self, events: tuple[dict[str, Any], ...]) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            for event in (*self.waiting, *events):
                self.channel.send(json.dumps(event, ensure_ascii=False))
            self.waiting.clear()
        else:
            self.waiting = [*self.waiting, *events][-20:]

    def open_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.on("open", lambda: self.send_events(()))
        if channel.readyState == "open":
            self.send_events(())


@dataclass
class WhepViewers:
    """Every WebRTC viewer of every live session; a viewer goes when its session ends or its peer leaves."""

    by_session: dict[str, dict[str, Viewer]] = field(default_factory=dict)

    async def answer(self, session: LiveSource, offer_sdp: str) -> tuple[str, str]:
        """Answer a WHEP offer with a peer connection sending the session; returns (viewer id, SDP answer).

        Raises ValueError when the offer is not one we can answer (not SDP, or neither video nor audio)."""
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # host candidates only
        subscription = session.subscribe()
        feed = Feed(subscription, session.fps)
        viewer = Viewer(uuid.uuid4().hex, session, pc, feed)
        try:
            video, audio = _tracks(feed)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            except Exception as e:  # aiortc's SDP parser raises whatever it meets first
                raise ValueError(f"the SDP offer could not be read ({e})") from e
            kinds = {t.kind for t in pc.getTransceivers()}
            if not kinds & {"video", "audio"}:
                raise ValueError("the offer asks for neither video nor audio")
            # Answer on the offer's own transceivers (recvonly on the viewer's side): addTrack reuses them.
            if "video" in kinds:
                pc.addTrack(video)
            if "audio" in kinds:
                pc.addTrack(audio)
            await pc.setLocalDescription(await pc.createAnswer())  # gathers candidates: no trickle needed
        except BaseException:
            await pc.close()
            subscription.close()
            raise

        @pc.on("datachannel")
        def _channel(channel: Any) -> None:
            viewer.open_channel(channel)

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(session.id, viewer.id)

        self.by_session.setdefault(session.id, {})[viewer.id] = viewer
        feed.on_events = viewer.send_events
        loop = asyncio.get_running_loop()
        feed.start(on_end=lambda: loop.create_task(self.close(session.id, viewer.id)))
        return viewer.id, pc.localDescription.sdp

    async def close(self, session_id: str, viewer_id: str) -> bool:
        """End one viewer; False when it is not there (already gone)."""
        viewers = self.by_session.get(session_id, {})
        viewer = viewers.pop(viewer_id, None)
        if not viewers:
            self.by_session.pop(session_id, None)
        if viewer is None or viewer.closed:
            return False
        viewer.closed = True
        await viewer.feed.stop()
        await viewer.pc.close()
        return True

    async def close_session(self, session_id: str) -> None:
        """End every viewer of a session (the session has ended)."""
        for viewer_id in list(self.by_session.get(session_id, {})):
            await self.close(session_id, viewer_id)

    async def close_all(self) -> None:
        for session_id in list(self.by_session):
            await self.close_session(session_id)

    def count(self, session_id: str) -> int:
        return len(self.by_session.get(session_id, {}))
