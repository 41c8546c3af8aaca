"""The live session itself, without HTTP: what its chunks show and sound like."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digihuman.face.landmarks import LIPS_OUTER
from digihuman.live.fmp4 import FragmentedMp4
from digihuman.live.frames import FramePainter, window_frames
from digihuman.live.session import WARM_UP_TEXT, LiveOptions, LiveSession
from digihuman.live.speech import quick_start, sentences
from digihuman.live.stream import MediaChunk, SessionEnded
from digihuman.render.avatar import AvatarModel
from digihuman.speech.tts.base import SpeechOptions
from tests.live.engines import PhonedTTS

SIZE = (160, 160)


def make_session(folder: Path, answer: Callable | None = None) -> LiveSession:
    tts = PhonedTTS()
    return LiveSession("s" * 32, "token", "owner", AvatarModel.load(folder), LiveOptions(size=SIZE),
                       lambda text: tts.synthesize(text, "fake-en", SpeechOptions()), answer)


async def read_until(subscription, kind: str, limit: int = 150) -> list[MediaChunk]:  # noqa: ANN001
    chunks = []
    for _ in range(limit):
        chunks.append(await subscription.get())
        if any(e["type"] == kind for e in chunks[-1].events):
            return chunks
    raise AssertionError(f"no {kind!r} event in {limit} chunks")


def mouth_box(model: AvatarModel) -> tuple[slice, slice]:
    """The lips' region in stream pixels, over every footage frame, with a margin."""
    start, count = model.background
    lips = model.arrays["landmarks"][start: start + count][:, list(LIPS_OUTER)].reshape(-1, 2)
    scale = SIZE[0] / model.size[0]
    (x0, y0), (x1, y1) = lips.min(axis=0) * scale - 2, lips.max(axis=0) * scale + 2
    return slice(int(y0), int(y1) + 1), slice(int(x0), int(x1) + 1)


@pytest.mark.media
def test_speech_changes_the_mouth_and_nothing_else(avatar_folder: Path) -> None:
    session = make_session(avatar_folder)
    model = session.model
    rest = int(model.arrays["rest"])

    async def run() -> list[MediaChunk]:
        subscription = session.subscribe()
        chunks = [await subscription.get() for _ in range(3)]
        session.say("Hello there. This is the live avatar speaking")
        chunks += await read_until(subscription, "idle")
        chunks += [await subscription.get() for _ in range(5)]
        return chunks

    try:
        chunks = asyncio.run(run())
    finally:
        session.close()
    # the same footage frames with the rest mouth, as silence shows them
    reference = FramePainter(model, SIZE)
    rows, cols = mouth_box(model)
    mouth, elsewhere, speaking, resting = [], [], [], []
    talking = False
    for chunk in chunks:
        talking = talking or any(e["type"] == "speaking" for e in chunk.events)
        talking = talking and not any(e["type"] == "idle" for e in chunk.events)
        for i, frame in enumerate(chunk.frames):
            resting.append(not talking and not chunk.events)  # a chunk with an event is part speech
            n = int(round(chunk.start_s * session.fps)) + i
            still = reference.paint(int(n * model.fps / session.fps + 1e-6), rest).astype(float)
            diff = np.abs(frame.astype(float) - still).mean(axis=2)
            mouth.append(diff[rows, cols].mean())
            elsewhere.append(diff[: max(1, rows.start - 2 * (rows.stop - rows.start))].max())
            speaking.append(talking)
    reference.close()
    mouth_diff, speaking, resting = np.array(mouth), np.array(speaking), np.array(resting)
    assert speaking.sum() >= 25 * 2.5  # ~3.1 s of speech
    assert np.mean(mouth_diff[speaking] > 3.0) > 0.5, mouth_diff  # most speaking frames show another mouth
    assert resting.sum() >= 15 and mouth_diff[resting].max() < 1.0  # silence: the rest mouth, same footage
    assert max(elsewhere) < 1.0  # above the nose (the blended lower face) the footage is untouched
    sound = np.concatenate([c.audio for c in chunks]).astype(float) / 32767
    assert np.abs(sound).max() > 0.1


@pytest.mark.media
def test_interrupt_silences_the_stream_within_one_chunk(avatar_folder: Path) -> None:
    session = make_session(avatar_folder)

    async def run() -> tuple[float, list[MediaChunk]]:
        subscription = session.subscribe()
        session.say("A long sentence " * 8)
        await read_until(subscription, "speaking")
        for _ in range(3):
            await subscription.get()
        position = session.position_s  # the chunk being made now may still carry speech
        session.interrupt()
        return position, [await subscription.get() for _ in range(6)]

    try:
        position, chunks = asyncio.run(run())
    finally:
        session.close()
    after = [c for c in chunks if c.start_s >= position + session.options.chunk_s - 1e-6]
    assert after and all(np.abs(c.audio).max() == 0 for c in after)  # ≤ 200 ms of speech after the interrupt
    idle = [c.start_s for c in chunks if any(e["type"] == "idle" for e in c.events)]
    assert idle and idle[0] <= position + session.options.chunk_s + 1e-6


@pytest.mark.media
def test_the_muxer_makes_one_playable_mp4_of_the_chunks(avatar_folder: Path) -> None:
    import av

    session = make_session(avatar_folder)

    async def run() -> list[MediaChunk]:
        subscription = session.subscribe()
        session.say("Hello there.")
        chunks = await read_until(subscription, "idle")
        session.close()
        with pytest.raises(SessionEnded):
            while True:
                await subscription.get()
        return chunks

    chunks = asyncio.run(run())
    muxer = FragmentedMp4(*SIZE, session.fps, session.sample_rate)
    blob = muxer.init + b"".join(muxer.feed(c) for c in chunks) + muxer.close()
    frames = sum(len(c.frames) for c in chunks)
    with av.open(io.BytesIO(blob)) as c:
        decoded = [f for f in c.decode(video=0)]
    assert len(decoded) == frames and (decoded[0].width, decoded[0].height) == SIZE
    # evenly timed (the first frame's time is shifted by the AAC encoder's 64 ms priming delay)
    assert decoded[-1].time - decoded[1].time == pytest.approx((frames - 2) / 25, abs=1e-3)
    with av.open(io.BytesIO(blob)) as c:
        heard = sum(f.samples for f in c.decode(audio=0)) / c.streams.audio[0].rate
    assert heard == pytest.approx(frames / 25, abs=0.13)  # AAC frames are 64 ms at 16 kHz


def test_sentences_are_spoken_as_soon_as_they_are_complete() -> None:
    pulled = []

    def answer():  # noqa: ANN202 - a streaming chat answer
        for piece in ["Hello wor", "ld. How ", "are you? I am", " fine"]:
            pulled.append(piece)
            yield piece

    seen = [(sentence, len(pulled)) for sentence in sentences(answer())]
    # each sentence is handed on once the piece after its end arrived, not at the end of the answer
    assert seen == [("Hello world.", 2), ("How are you?", 3), ("I am fine", 4)]
    assert list(sentences(["你好。今天", "天气很好！谢谢"])) == ["你好。", "今天天气很好！", "谢谢"]


def test_a_long_first_sentence_is_spoken_from_its_first_clause_on() -> None:
    text = "Hello there my friend, and welcome to the live avatar of our company. Bye."
    assert list(quick_start(sentences([text]))) == [
        "Hello there my friend,", "and welcome to the live avatar of our company.", "Bye."]
    assert list(quick_start(["Short, first.", "Later, long sentences stay whole whatever their length."])) == [
        "Short, first.", "Later, long sentences stay whole whatever their length."]
    # a first piece too short to cover the synthesis of the rest is not cut off
    hello = "Hello, and welcome to the live avatar."
    assert list(quick_start([hello])) == [hello]
    assert list(quick_start(["你好，欢迎来到我们公司的实时数字人直播间，今天我们来介绍新产品。"])) == [
        "你好，欢迎来到我们公司的实时数字人直播间，", "今天我们来介绍新产品。"]


def test_a_long_first_sentence_without_a_clause_mark_is_cut_between_words() -> None:
    text = "Every sentence is spoken as soon as it is ready and nothing waits for the end of the whole answer."
    first, rest = quick_start([text])
    assert text.startswith(first) and 12 <= len(first) <= 32 and f"{first} {rest}" == text
    # before a preposition or conjunction where there is one
    assert list(quick_start(["Let me tell you a little about today's weather."])) == [
        "Let me tell you a little", "about today's weather."]


def test_a_streamed_answer_is_spoken_from_its_first_clause_before_the_sentence_ends() -> None:
    pulled = []

    def answer():  # noqa: ANN202 - a streaming chat answer
        for word in "Sure thing my friend, I can tell you all about the weather today. It is sunny.".split():
            pulled.append(word)
            yield word + " "

    seen = [(piece, len(pulled)) for piece in quick_start(sentences(answer()))]
    assert [piece for piece, _ in seen] == [
        "Sure thing my friend,", "I can tell you all about the weather today.", "It is sunny."]
    assert seen[0][1] < pulled.index("today.")  # handed on while the model was still writing the sentence


def test_the_footage_plays_back_and_forth_without_end() -> None:
    assert list(window_frames(4, 0, 10)) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert list(window_frames(4, 1000, 3)) == list(window_frames(4, 1000 % 6, 3))
    assert list(window_frames(1, 5, 3)) == [0, 0, 0]


def test_a_reader_too_far_behind_loses_the_oldest_chunks_but_not_their_events() -> None:
    from digihuman.live.stream import Broadcast

    def chunk(i: int) -> MediaChunk:  # 200 ms, the i-th
        return MediaChunk(i * 0.2, (np.zeros((4, 4, 3), np.uint8),) * 5, np.zeros(3200, np.int16), 16000,
                          ({"type": "speaking", "text": str(i)},))

    async def run() -> tuple[list[MediaChunk], int, list[MediaChunk]]:
        hub = Broadcast()
        tight, roomy = hub.subscribe(max_queued_s=1.0), hub.subscribe()
        for i in range(12):
            hub.publish(chunk(i))
        await asyncio.sleep(0.05)  # deliveries are scheduled on this loop
        hub.end()
        got = []
        with pytest.raises(SessionEnded):
            while True:
                got.append(await tight.get())
        return got, tight.dropped, [await roomy.get() for _ in range(12)]

    got, dropped, all_of_them = asyncio.run(run())
    assert [c.start_s for c in got] == pytest.approx([1.4, 1.6, 1.8, 2.0, 2.2]) and dropped == 7
    assert [e["text"] for c in got for e in c.events] == [str(i) for i in range(12)]  # every event still told
    assert len(all_of_them) == 12  # the default keeps seconds of media


@pytest.mark.media
def test_the_session_warms_up_before_its_first_request(avatar_folder: Path) -> None:
    tts = PhonedTTS()
    spoken: list[str] = []
    prepared = threading.Event()

    def speak(text: str):  # noqa: ANN202 - Iterable[AudioChunk]
        spoken.append(text)
        return tts.synthesize(text, "fake-en", SpeechOptions())

    session = LiveSession("w" * 32, "token", "owner", AvatarModel.load(avatar_folder), LiveOptions(size=SIZE),
                          speak, None, prepared.set)

    async def run() -> list[MediaChunk]:
        assert await asyncio.to_thread(prepared.wait, 30)
        subscription = session.subscribe()
        chunks = [await subscription.get() for _ in range(3)]
        session.say("Hello there.")
        return chunks + await read_until(subscription, "idle")

    try:
        chunks = asyncio.run(run())
    finally:
        session.close()
    assert spoken == [WARM_UP_TEXT, "Hello there."]
    # the warm-up word is never heard or announced
    assert [e["text"] for c in chunks for e in c.events if e["type"] == "speaking"] == ["Hello there."]
    assert all(np.abs(c.audio).max() == 0 for c in chunks[:3])


def test_a_chunk_fed_to_the_muxer_comes_out_at_once_but_for_its_last_two_frames() -> None:
    import av

    from digihuman.live.fmp4 import video_samples

    muxer = FragmentedMp4(64, 64, 25.0, 16000)
    blob, out = muxer.init, []
    for i in range(6):
        frames = tuple(np.full((64, 64, 3), 40 * i + k, np.uint8) for k in range(5))
        data = muxer.feed(MediaChunk(i * 0.2, frames, np.zeros(3200, np.int16), 16000))
        out.append(video_samples(data))
        blob += data
    # not held until the sound of the next chunk has come (it lags the picture by the AAC delay)
    assert np.cumsum(out).tolist() == [5 * (i + 1) - 2 for i in range(6)]
    blob += muxer.close()
    with av.open(io.BytesIO(blob)) as c:
        assert len([f for f in c.decode(video=0)]) == 30
