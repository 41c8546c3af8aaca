"""A live session: one avatar, speaking in real time to whoever subscribes.

Two threads per session. The *producer* makes one :class:`~digihuman.live.stream.MediaChunk` per
chunk period (≤ 200 ms), paced by the wall clock: it plays the queued speech sample-exactly, shows
each frame's planned mouth on the footage, and idles (footage with the rest mouth) when nothing is
queued. It renders only while someone subscribes; with nobody watching it waits, and the stream
each new subscriber sees starts at that moment. The *speech worker* turns requests (say, chat, streamed
audio) into :class:`~digihuman.live.speech.Utterance` s, one sentence or block at a time, so the
face starts moving once the first sentence (or its first clause) is ready. Before its first request it
warms up: it speaks and plans a word (the voice's model loads, the planner's modules import) and runs
the session's ``prepare`` (the chat model's server starts), so the first request is as quick as the rest.

An interrupt bumps the session's *generation*: queued speech is dropped at once, the worker drops
whatever it was making, and the next chunk (≤ 200 ms later) is silent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from digihuman.errors import Conflict, DigihumanError, InvalidInput
from digihuman.live.blocks import LOOKAHEAD_S, AudioBlock, BlockCutter, BlockOptions
from digihuman.live.speech import RATE, MouthPlanner, Utterance, quick_start, sentences
from digihuman.live.stream import MAX_QUEUED_S, Broadcast, MediaChunk, Subscription
from digihuman.render.avatar import AvatarModel
from digihuman.speech.tts.base import AudioChunk

log = logging.getLogger(__name__)

Speak = Callable[[str], Iterable[AudioChunk]]  # a sentence -> its synthesised speech
Answer = Callable[[list[tuple[str, str]]], Iterable[str]]  # (role, text) turns -> the answer, in pieces
Prepare = Callable[[], None]  # loads what the session's requests will need (run once, before the first)

# A producer this far behind the clock skips ahead (a stall) instead of racing: also the most a starved
# producer adds to the time before speech is heard.
MAX_LATE_S = 0.5
WARM_UP_TEXT = "Hello."
HISTORY_TURNS = 10  # chat turns remembered (user + assistant each)
# A closing session's threads finish the chunk or sentence they are making: a long sentence's speech
# may take a few seconds; past this close() returns and the threads end on their own.
CLOSE_WAIT_S = 10.0


@dataclass(frozen=True)
class LiveOptions:
    """How a live session streams."""

    fps: float = 25.0  # frames per second of the stream
    size: tuple[int, int] = (512, 512)  # width, height of the stream (even)
    chunk_s: float = 0.2  # media per chunk: also the longest an interrupt takes to be heard
    system_prompt: str = ""  # chat: how the avatar should answer (empty: the model's own manner)
    # streamed audio: sound after each block planned with it (the mouth matches an offline render's
    # better), which each block waits for (heard that much later)
    audio_lookahead_s: float = LOOKAHEAD_S


class LiveSession:
    """A running live avatar; see the module docstring of :mod:`digihuman.live.stream` for its use."""

    def __init__(self, session_id: str, token: str, owner: str, model: AvatarModel, options: LiveOptions,
                 speak: Speak, answer: Answer | None = None, prepare: Prepare | None = None) -> None:
        self.id, self.token, self.owner, self.options = session_id, token, owner, options
        self.model = model
        self.fps = float(options.fps)
        self.size = options.size
        self.sample_rate = RATE
        self.chunk_frames = max(1, int(options.chunk_s * self.fps + 1e-6))
        self._speak, self._answer, self._prepare = speak, answer, prepare
        self._planner = MouthPlanner(model)
        self._broadcast = Broadcast()
        self._lock = threading.Lock()
        self._wake = threading.Event()  # a subscriber came, or the session closed
        self._speech: deque[Utterance] = deque()
        self._played = 0  # samples of the head utterance already played
        self._speaking = False
        self._generation = 0
        self._jobs: queue.Queue[tuple[int, str, Any]] = queue.Queue()
        self._busy = 0  # requests queued or being worked on
        self._events: list[dict[str, Any]] = []  # to ride on the next chunk
        self._history: list[tuple[str, str]] = []
        self._stream: _AudioStream | None = None
        self._frame = 0  # output frames made so far
        self.started = time.time()
        self.last_watched = time.monotonic()
        self.closed = False
        self.stats = {"chunks": 0, "stalls": 0, "late_s_max": 0.0}
        self._producer = threading.Thread(target=self._produce, name=f"live-{session_id[:8]}", daemon=True)
        self._worker = threading.Thread(target=self._work, name=f"live-speech-{session_id[:8]}", daemon=True)
        self._producer.start()
        self._worker.start()

    # --- what clients ask ---------------------------------------------------------------------
    def subscribe(self, max_queued_s: float = MAX_QUEUED_S) -> Subscription:
        """Chunks from the next one on; call from the event loop that will read them. A reader more
        than ``max_queued_s`` behind loses the oldest (not their events)."""
        subscription = self._broadcast.subscribe(max_queued_s)
        self.last_watched = time.monotonic()
        self._wake.set()
        return subscription

    def watchers(self) -> int:
        return self._broadcast.count()

    @property
    def position_s(self) -> float:
        """Stream time of the next chunk to be made (or the one being made now)."""
        return self._frame / self.fps

    def say(self, text: str) -> None:
        """Speak ``text``, sentence by sentence, after whatever is already queued."""
        self._submit("say", _words(text))

    def chat(self, text: str) -> None:
        """Answer ``text`` through the session's chat model and speak the answer as it streams."""
        if self._answer is None:
            raise Conflict("this live session has no chat_model; create one with chat_model set to chat.")
        self._submit("chat", _words(text))

    def interrupt(self) -> None:
        """Stop speaking now and drop everything queued."""
        with self._lock:
            self._generation += 1
            self._speech.clear()
            self._played = 0
            self._stream = None
        self._drain_jobs()
        with self._lock:
            self._busy = 0  # a request still being worked on belongs to the old generation: it is dropped

    def audio_start(self, sample_rate: int) -> None:
        """Mouth the 16-bit mono PCM that follows (:meth:`audio_feed`) until :meth:`audio_end`."""
        if not 8000 <= int(sample_rate) <= 48000:
            raise InvalidInput(f"sample_rate {sample_rate} is out of range: send 8000-48000 Hz PCM.")
        with self._lock:
            self._stream = _AudioStream(int(sample_rate), self._generation,
                                        BlockCutter(self.model.fps, BlockOptions(
                                            lookahead_s=self.options.audio_lookahead_s)))
            self._busy += 1  # the stream counts as work until it ends: no "idle" in between

    def audio_feed(self, pcm: bytes) -> None:
        with self._lock:
            stream = self._stream
        if stream is None:
            raise Conflict("audio arrived without audio_start: send {\"type\":\"audio_start\"} first.")
        for block in stream.feed(pcm, final=False):
            with self._lock:
                self._busy += 1
            self._jobs.put((stream.generation, "block", block))

    def audio_end(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is None:
            return
        for block in stream.feed(b"", final=True):
            with self._lock:
                self._busy += 1
            self._jobs.put((stream.generation, "block", block))
        self._jobs.put((stream.generation, "end", None))

    def close(self) -> None:
        """End the session: subscribers' streams end, threads stop (waited for up to CLOSE_WAIT_S, so
        that none is left decoding footage while the process shuts down)."""
        if not self.closed:
            self.closed = True
            self.interrupt()
            self._jobs.put((-1, "stop", None))
            self._wake.set()
            self._broadcast.end()
        deadline = time.monotonic() + CLOSE_WAIT_S
        for thread in (self._producer, self._worker):
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    # --- requests ---------------------------------------------------------------------------------
    def _submit(self, kind: str, text: str) -> None:
        if self.closed:
            raise Conflict("the live session has ended; create a new one.")
        with self._lock:
            self._busy += 1
            generation = self._generation
        self._jobs.put((generation, kind, text))

    def _drain_jobs(self) -> None:
        while True:
            try:
                _, kind, _ = self._jobs.get_nowait()
            except queue.Empty:
                return
            if kind == "stop":
                self._jobs.put((-1, "stop", None))
                return

    def _current(self, generation: int) -> bool:
        return generation == self._generation and not self.closed

    def _warm_up(self) -> None:
        """Load the voice and the planner (and whatever ``prepare`` loads) before the first request."""
        try:
            chunks = list(self._speak(WARM_UP_TEXT))
            if chunks:
                self._planner.sentence(chunks, WARM_UP_TEXT, 0, -1)
            if self._prepare is not None:
                self._prepare()
        except Exception:  # noqa: BLE001 - a request that needs the broken part reports it to the client
            log.warning("live session %s: warming up failed", self.id, exc_info=True)

    def _work(self) -> None:
        self._warm_up()
        while True:
            generation, kind, payload = self._jobs.get()
            if kind == "stop":
                return
            try:
                if self._current(generation):
                    if kind == "say":
                        self._say(generation, sentences([payload]))
                    elif kind == "chat":
                        self._chat(generation, payload)
                    elif kind == "block":
                        self._block(generation, payload)
            except DigihumanError as e:
                self._error(e.message)
            except Exception as e:  # noqa: BLE001 - the session outlives one failed request
                log.exception("live session %s: %s failed", self.id, kind)
                self._error(f"could not {kind}: {e}")
            finally:
                with self._lock:
                    if kind != "end":
                        self._busy = max(0, self._busy - 1)
                    elif generation == self._generation:
                        self._busy = max(0, self._busy - 1)  # the stream's own share (audio_start)

    def _say(self, generation: int, parts: Iterable[str]) -> None:
        for sentence in quick_start(parts):
            if not self._current(generation):
                return
            chunks = list(self._speak(sentence))
            if not chunks or not self._current(generation):
                continue
            utterance = self._planner.sentence(chunks, sentence, self._next_frame(), generation)
            self._enqueue(utterance)

    def _chat(self, generation: int, text: str) -> None:
        assert self._answer is not None
        turns = ([("system", self.options.system_prompt)] if self.options.system_prompt else [])
        turns += self._history + [("user", text)]
        spoken: list[str] = []

        def tracked() -> Iterator[str]:
            for sentence in sentences(self._answer(turns)):  # type: ignore[misc]
                spoken.append(sentence)
                yield sentence

        self._say(generation, tracked())
        self._history = (self._history + [("user", text), ("assistant", " ".join(spoken))])[-2 * HISTORY_TURNS:]

    def _block(self, generation: int, block: AudioBlock) -> None:
        if not self._current(generation):
            return
        self._enqueue(self._planner.block(block, self._next_frame(), generation))

    def _enqueue(self, utterance: Utterance) -> None:
        with self._lock:
            if utterance.generation == self._generation:
                self._speech.append(utterance)

    def _error(self, msg: str) -> None:
        with self._lock:
            self._events.append({"type": "error", "msg": msg})

    def _next_frame(self) -> int:
        """The footage frame (model frame) where speech queued now would start: for pose matching."""
        with self._lock:
            queued = sum(u.duration_s for u in self._speech) - self._played / RATE
            frame = self._frame
        return int((frame / self.fps + max(0.0, queued) + self.options.chunk_s) * self.model.fps)

    # --- the producer -----------------------------------------------------------------------------
    def _produce(self) -> None:
        from digihuman.live.frames import FramePainter

        painter = FramePainter(self.model, self.size)
        try:
            # the first frame imports, opens the decoder and fills the caches: not on the stream's clock
            painter.paint(0, int(self.model.arrays["rest"]))
            while not self.closed:
                if self._broadcast.count() == 0:
                    self._wake.clear()
                    self._wake.wait(0.1)
                    continue
                self._stream_while_watched(painter)
        except Exception:  # noqa: BLE001 - a broken session ends rather than hanging its clients
            log.exception("live session %s stopped", self.id)
            self._broadcast.end()
            self.closed = True
        finally:
            painter.close()

    def _stream_while_watched(self, painter) -> None:  # noqa: ANN001 - FramePainter
        start_frame, t0 = self._frame, time.monotonic()
        while not self.closed and self._broadcast.count() > 0:
            due = t0 + (self._frame - start_frame) / self.fps
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif -wait > MAX_LATE_S:  # too far behind to catch up: start the clock again from now
                self.stats["stalls"] += 1
                start_frame, t0 = self._frame, time.monotonic()
            self.stats["late_s_max"] = max(self.stats["late_s_max"], -wait)
            chunk = self._chunk(painter)
            self.last_watched = time.monotonic()
            self._broadcast.publish(chunk)
            self.stats["chunks"] += 1

    def _chunk(self, painter) -> MediaChunk:  # noqa: ANN001 - FramePainter
        n0 = self._frame
        frames: list[np.ndarray] = []
        sound: list[np.ndarray] = []
        events: list[dict[str, Any]] = []
        rest = int(self.model.arrays["rest"])
        for n in range(n0, n0 + self.chunk_frames):
            need = _sample(n + 1, self.fps) - _sample(n, self.fps)
            samples, mouth = self._take(need, events)
            sound.append(samples)
            k = int(n * self.model.fps / self.fps + 1e-6)  # the footage's own clock
            frames.append(painter.paint(k, rest if mouth is None else mouth))
        self._frame = n0 + self.chunk_frames
        with self._lock:
            events = self._events + events
            self._events = []
        audio = (np.clip(np.concatenate(sound), -1.0, 1.0) * 32767).astype(np.int16)
        return MediaChunk(n0 / self.fps, tuple(frames), audio, RATE, tuple(events))

    def _take(self, need: int, events: list[dict[str, Any]]) -> tuple[np.ndarray, int | None]:
        """The next ``need`` samples of queued speech (silence where there is none) and the mouth of
        the frame they play under (None: at rest)."""
        out = np.zeros(need, np.float32)
        mouth: int | None = None
        filled = 0
        with self._lock:
            while filled < need and self._speech:
                u = self._speech[0]
                if self._played == 0 and (u.announce or not self._speaking):
                    events.append({"type": "speaking", "text": u.text})
                self._speaking = True
                if mouth is None:
                    mouth = u.mouth_at(self._played / RATE)
                take = min(need - filled, len(u.samples) - self._played)
                out[filled: filled + take] = u.samples[self._played: self._played + take]
                filled += take
                self._played += take
                if self._played >= len(u.samples):
                    self._speech.popleft()
                    self._played = 0
            if filled == 0 and self._speaking and self._busy == 0:
                self._speaking = False
                events.append({"type": "idle"})
        return out, mouth


class _AudioStream:
    """A client's PCM between audio_start and audio_end, resampled and cut into blocks."""

    def __init__(self, sample_rate: int, generation: int, cutter: BlockCutter) -> None:
        import av

        self.sample_rate, self.generation = sample_rate, generation
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        self._cutter = cutter
        self._odd = b""  # half a sample left over from the last message
        self._pts = 0

    def feed(self, pcm: bytes, final: bool) -> list[AudioBlock]:
        import av

        data = self._odd + pcm
        whole = len(data) - len(data) % 2
        self._odd = data[whole:]
        frames = []
        if whole:
            samples = np.frombuffer(data[:whole], "<i2")[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate, frame.pts = self.sample_rate, self._pts
            self._pts += samples.shape[1]
            frames = self._resampler.resample(frame)
        if final:
            frames += self._resampler.resample(None)
        samples = np.concatenate([f.to_ndarray()[0] for f in frames]) if frames else np.zeros(0, np.float32)
        return self._cutter.push(samples, final)


def _sample(frame: int, fps: float) -> int:
    """The first sample of output frame ``frame``: frames cut the sound without drift at any fps."""
    return int(round(frame * RATE / fps))


def _words(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text is empty: give the words to say.")
    return text.strip()
