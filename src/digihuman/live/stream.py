"""What a live session hands its transports: timed chunks of picture and sound, fanned out.

A live session (:class:`digihuman.live.session.LiveSession`) makes the avatar's picture and sound
in real time, one :class:`MediaChunk` (≤ 200 ms) at a time, and publishes each chunk to every
:class:`Subscription`. The transports are subscribers: the fragmented-MP4 WebSocket
(:mod:`digihuman.live.fmp4`) and the WebRTC/WHEP route each encode the same chunks their own way.

The names a transport uses, exactly::

    from digihuman.live.registry import get_session      # get_session(app, session_id, token) -> LiveSession
    session.subscribe(max_queued_s=10.0) -> Subscription  # call from the event loop that will read it
    await subscription.get() -> MediaChunk                # raises SessionEnded once the session is over
    subscription.close()                                  # stop receiving (idempotent)
    session.say(text)  session.chat(text)  session.interrupt()  session.close()
    session.audio_start(sample_rate)  session.audio_feed(pcm16_bytes)  session.audio_end()
    session.id, session.fps, session.size (width, height), session.sample_rate, session.closed
    session.watchers()                                    # subscriptions open now (none: the idle clock runs)

A session renders only while at least one subscription is open, so a transport subscribes when its
client connects and closes the subscription when the client leaves; a session nobody watches for
``live.idle_timeout_s`` (300 s) ends. ``get_session`` takes the FastAPI application (``request.app``,
``websocket.app``) and raises :class:`digihuman.errors.NotFound` for an unknown or ended session and
:class:`digihuman.errors.Unauthorized` for a wrong token. Every chunk's frames are consecutive at
``session.fps`` and its audio covers exactly the same span (``len(frames) / fps`` seconds), so a
transport can timestamp both from ``start_s`` alone (a late subscriber's first chunk does not start
at 0: subtract it). Events (``{"type": "speaking", "text": ...}``,
``{"type": "idle"}``, ``{"type": "error", "msg": ...}``) ride on the chunk whose media they describe.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

# A subscriber that falls more than this far behind (seconds of media waiting for it) loses its oldest
# chunks rather than holding the session's memory hostage: a live picture that is late is worth less
# than a current one. Their events still reach it. A transport that plays what it gets at once (the
# WebSocket) asks for less: whatever waits here is added to the time before its client hears an answer.
MAX_QUEUED_S = 10.0


@dataclass(frozen=True)
class MediaChunk:
    """One slice of the live stream: consecutive frames and the sound played over them."""

    start_s: float  # stream time of the first frame (0 at the session's first chunk)
    frames: tuple[np.ndarray, ...]  # H x W x 3 uint8 RGB, at the session's fps; shared: never write to them
    audio: np.ndarray  # int16 mono, len(frames) / fps seconds at sample_rate
    sample_rate: int
    events: tuple[dict[str, Any], ...] = field(default=())  # JSON events about this chunk's media

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


class SessionEnded(Exception):
    """The live session is over: no more chunks will come."""


class Subscription:
    """Chunks of one session for one reader, queued in the reader's event loop."""

    def __init__(self, hub: Broadcast, loop: asyncio.AbstractEventLoop,
                 max_queued_s: float = MAX_QUEUED_S) -> None:
        self._hub, self._loop = hub, loop
        self.max_queued_s = max_queued_s
        self._queue: collections.deque[MediaChunk] = collections.deque()
        self._queued_s = 0.0
        self._ready = asyncio.Event()
        self._ended = False
        self.dropped = 0  # chunks lost because this reader fell more than max_queued_s behind

    async def get(self) -> MediaChunk:
        """The next chunk, waiting for it; :class:`SessionEnded` when the session has ended."""
        while not self._queue:
            if self._ended:
                raise SessionEnded("the live session has ended.")
            self._ready.clear()
            await self._ready.wait()
        chunk = self._queue.popleft()
        self._queued_s -= chunk.duration_s
        return chunk

    def close(self) -> None:
        """Stop receiving; a waiting :meth:`get` ends with :class:`SessionEnded`."""
        self._hub.remove(self)
        self._deliver_threadsafe(None)

    # called by the session's producer thread
    def _deliver_threadsafe(self, chunk: MediaChunk | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._deliver, chunk)
        except RuntimeError:  # the reader's loop is closed: nobody is listening any more
            self._hub.remove(self)

    def _deliver(self, chunk: MediaChunk | None) -> None:
        if chunk is None:
            self._ended = True
        else:
            self._queue.append(chunk)
            self._queued_s += chunk.duration_s
            while self._queued_s > self.max_queued_s + 1e-6 and len(self._queue) > 1:
                old = self._queue.popleft()
                self._queued_s -= old.duration_s
                self.dropped += 1
                if old.events:  # the next chunk tells of them: "speaking" and "idle" must not be lost
                    self._queue[0] = replace(self._queue[0], events=old.events + self._queue[0].events)
        self._ready.set()


class Broadcast:
    """Hands every published chunk to every current subscriber (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscription] = []
        self._ended = False

    def subscribe(self, max_queued_s: float = MAX_QUEUED_S) -> Subscription:
        """A new subscription, fed in the running event loop from the next chunk on, that keeps at most
        ``max_queued_s`` seconds of media waiting."""
        subscription = Subscription(self, asyncio.get_running_loop(), max_queued_s)
        with self._lock:
            if not self._ended:
                self._subscribers.append(subscription)
                return subscription
        subscription._deliver(None)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

    def count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, chunk: MediaChunk) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription._deliver_threadsafe(chunk)

    def end(self) -> None:
        """No more chunks: every subscriber's reader learns it once its queue is drained."""
        with self._lock:
            subscribers, self._subscribers, self._ended = self._subscribers, [], True
        for subscription in subscribers:
            subscription._deliver_threadsafe(None)
