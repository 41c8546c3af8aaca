"""WebRTC (WHEP) delivery of a live session: the feed's timing and sound, and a real aiortc viewer."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from digihuman.errors import NotFound, Unauthorized
from digihuman.live.stream import Broadcast, MediaChunk, Subscription
from digihuman.live.webrtc import AUDIO_FRAME, AUDIO_RATE, VIDEO_CLOCK, Feed, WhepViewers
from tests.conftest import AUTH, make_settings
from tests.live.conftest import LIVE_SIZE, install_avatar
from tests.support.live_server import LiveServer, live_server

FPS = 25
RATE = 16_000


def chunk(start_s: float, n: int = 5, *, tone: float = 440.0, size: tuple[int, int] = (96, 128),
          events: tuple[dict[str, Any], ...] = ()) -> MediaChunk:
    """n frames whose grey level counts them, and a tone over exactly their span."""
    frames = tuple(np.full((*size, 3), (round(start_s * FPS) + i) % 256, np.uint8) for i in range(n))
    t = start_s + np.arange(round(RATE * n / FPS)) / RATE
    audio = (np.sin(2 * np.pi * tone * t) * 8000).astype(np.int16)
    return MediaChunk(start_s, frames, audio, RATE, events)


class Session:
    """A live session reduced to what a viewer needs, fed by the real Broadcast."""

    id = "live-test"
    fps = float(FPS)

    def __init__(self) -> None:
        self.hub = Broadcast()

    def subscribe(self) -> Subscription:
        return self.hub.subscribe()

    async def play(self, seconds: float) -> None:
        """Publish chunks in real time, as the session's clock would."""
        t0, t = time.monotonic(), 0.0
        while t < seconds:
            await asyncio.sleep(max(0.0, t0 + t - time.monotonic()))
            self.hub.publish(chunk(t, events=({"type": "speaking", "text": f"at {t:.1f}"},)))
            t = round(t + 5 / FPS, 6)


def test_feed_times_every_frame_and_cuts_the_sound_into_20_ms_at_48_khz() -> None:
    async def run() -> tuple[list[Any], list[Any]]:
        hub = Broadcast()
        feed = Feed(hub.subscribe(), FPS)
        for c in (chunk(3.0), chunk(3.2)):  # a viewer joining late: its times count from what it first sees
            hub.publish(c)
        hub.end()
        feed.start()
        video = [await feed.next_video() for _ in range(10)]
        audio = []
        with pytest.raises(Exception, match="ended"):
            while True:
                audio.append(await feed.next_audio())
        return video, audio

    video, audio = asyncio.run(run())
    assert [f.pts for f in video] == [i * VIDEO_CLOCK // FPS for i in range(10)]
    assert {(f.width, f.height, f.time_base) for f in video} == {(128, 96, video[0].time_base)}
    assert video[0].time_base.denominator == VIDEO_CLOCK
    grey = [int(f.to_ndarray(format="rgb24")[0, 0, 0]) for f in video]
    assert grey == list(range(75, 85))  # the frames in order, none lost or repeated
    assert {f.samples for f in audio} == {AUDIO_FRAME} and {f.sample_rate for f in audio} == {AUDIO_RATE}
    assert [f.pts for f in audio] == [i * AUDIO_FRAME for i in range(len(audio))]
    assert 0.36 <= len(audio) * AUDIO_FRAME / AUDIO_RATE <= 0.4  # 0.4 s less the resampler's short delay
    # The tone is still 440 Hz after resampling (zero crossings over the whole run).
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in audio]).astype(np.float64)
    crossings = np.count_nonzero(np.diff(np.signbit(pcm[200:])))
    assert crossings / 2 / ((len(pcm) - 200) / AUDIO_RATE) == pytest.approx(440, rel=0.02)


def test_the_feed_plays_in_real_time_even_when_chunks_come_at_once() -> None:
    async def run() -> float:
        hub = Broadcast()
        feed = Feed(hub.subscribe(), FPS)
        feed.start()
        for i in range(3):
            hub.publish(chunk(i * 0.2))
        await feed.next_video()
        begun = time.monotonic()
        for _ in range(14):
            await feed.next_video()
        await feed.stop()
        return time.monotonic() - begun

    elapsed = asyncio.run(run())
    assert 0.5 <= elapsed < 0.9  # 15 frames at 25 fps: the last one is due 0.56 s after the first


def test_after_a_stall_the_feed_plays_at_its_pace_again_rather_than_in_bursts() -> None:
    async def run() -> float:
        hub = Broadcast()
        feed = Feed(hub.subscribe(), FPS)
        feed.start()
        hub.publish(chunk(0.0))
        for _ in range(5):
            await feed.next_video()
        await asyncio.sleep(1.0)  # the session stalls; its stream time goes on where it was
        hub.publish(chunk(0.2))
        hub.publish(chunk(0.4))
        begun = time.monotonic()
        for _ in range(10):
            await feed.next_video()
        await feed.stop()
        return time.monotonic() - begun

    assert 0.3 <= asyncio.run(run()) < 0.6  # 10 frames at 25 fps, not all at once


def test_a_viewer_too_far_behind_skips_old_frames_but_not_their_events() -> None:
    async def run() -> tuple[int, list[dict[str, Any]]]:
        hub = Broadcast()
        feed = Feed(hub.subscribe(), FPS)
        heard: list[dict[str, Any]] = []
        feed.on_events = lambda events: heard.extend(events)
        for i in range(15):  # 3 s at once: more than the 2 s a viewer may lag
            hub.publish(chunk(i * 0.2, events=({"type": "speaking", "text": str(i)},)))
        feed.start()
        await asyncio.sleep(0.1)
        first = (await feed.next_video()).pts
        await feed.stop()
        return first, heard

    first, heard = asyncio.run(run())
    assert first == VIDEO_CLOCK  # the first second was dropped: 2 s are left
    assert [e["text"] for e in heard] == [str(i) for i in range(6)]  # what was said then is still told


def test_when_chunks_are_lost_the_sound_keeps_to_the_picture() -> None:
    async def run() -> tuple[list[int], list[int]]:
        hub = Broadcast()
        feed = Feed(hub.subscribe(), FPS)
        hub.publish(chunk(0.0))
        hub.publish(chunk(1.0))  # 0.2–1.0 s never reached this viewer
        hub.end()
        feed.start()
        video = [(await feed.next_video()).pts for _ in range(10)]
        audio = []
        with pytest.raises(Exception, match="ended"):
            while True:
                audio.append((await feed.next_audio()).pts)
        return video, audio

    video, audio = asyncio.run(run())
    assert video[5] == VIDEO_CLOCK  # the sixth frame is the one at 1.0 s
    assert AUDIO_RATE in audio  # and the sound starts again at 1.0 s
    assert all(b - a == AUDIO_FRAME for a, b in zip(audio, audio[1:]) if b != AUDIO_RATE)


async def _watch(viewers: WhepViewers, session: Session, frames: int, post_offer: Any = None
                 ) -> tuple[list[Any], list[Any], list[dict[str, Any]], Any]:
    """An aiortc viewer: recvonly video and audio plus an events channel; returns what it received."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    channel = pc.createDataChannel("events")
    events: list[dict[str, Any]] = []
    channel.on("message", lambda m: events.append(json.loads(m)))
    got: dict[str, list[Any]] = {"video": [], "audio": []}
    enough = asyncio.Event()

    @pc.on("track")
    def _track(track: Any) -> None:
        async def read() -> None:
            while True:
                try:
                    frame = await track.recv()
                except Exception:
                    return
                got[track.kind].append(frame)
                if len(got["video"]) >= frames and len(got["audio"]) >= frames:
                    enough.set()

        asyncio.ensure_future(read())

    await pc.setLocalDescription(await pc.createOffer())
    if post_offer is None:
        _, answer = await viewers.answer(session, pc.localDescription.sdp)
    else:
        answer = await post_offer(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await asyncio.wait_for(enough.wait(), 30)
    return got["video"], got["audio"], events, pc


def test_a_viewer_receives_the_session_and_goes_when_it_ends() -> None:
    async def run() -> None:
        session, viewers = Session(), WhepViewers()
        playing = asyncio.ensure_future(session.play(30))
        video, audio, events, pc = await _watch(viewers, session, 12)
        assert {(f.width, f.height) for f in video} == {(128, 96)}
        assert {f.sample_rate for f in audio} == {AUDIO_RATE}
        assert any(e["type"] == "speaking" for e in events)
        assert viewers.count(session.id) == 1 and session.hub.count() == 1
        session.hub.end()  # the session ends: its viewers are closed
        for _ in range(100):
            if pc.connectionState == "closed" and not viewers.count(session.id):
                break
            await asyncio.sleep(0.05)
        assert viewers.count(session.id) == 0
        assert pc.connectionState == "closed"
        playing.cancel()

    asyncio.run(run())


def test_an_offer_that_is_not_sdp_is_refused() -> None:
    async def run() -> None:
        session, viewers = Session(), WhepViewers()
        with pytest.raises(ValueError):
            await viewers.answer(session, "hello")
        assert viewers.count(session.id) == 0 and session.hub.count() == 0  # nothing left subscribed

    asyncio.run(run())


@pytest.fixture
def no_stun(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if any peer connection would ask a STUN server (the server works offline)."""
    from aiortc import rtcicetransport

    def refuse() -> list[Any]:
        raise AssertionError("a STUN server was asked for")

    monkeypatch.setattr(rtcicetransport.RTCIceGatherer, "getDefaultIceServers", staticmethod(refuse))
    yield


def test_ice_uses_host_candidates_only(no_stun: None) -> None:
    async def run() -> str:
        from aiortc import RTCConfiguration, RTCPeerConnection

        session, viewers = Session(), WhepViewers()
        client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        client.addTransceiver("video", direction="recvonly")
        await client.setLocalDescription(await client.createOffer())
        _, answer = await viewers.answer(session, client.localDescription.sdp)
        await viewers.close_all()
        await client.close()
        return answer

    candidates = [line for line in asyncio.run(run()).splitlines() if line.startswith("a=candidate")]
    assert candidates and all(" typ host" in c for c in candidates)


# --- the WHEP route, on a real server ------------------------------------------------------------

TOKEN = "session-token-0123"


class PlayingSession(Session):
    """A session that publishes from its own thread in real time, as LiveSession does."""

    token = TOKEN
    closed = False

    def __init__(self) -> None:
        super().__init__()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        t0, t = time.monotonic(), 0.0
        while not self._stop.wait(max(0.0, t0 + t - time.monotonic())):
            if self.hub.count():
                self.hub.publish(chunk(t, events=({"type": "idle"},)))
            t = round(t + 5 / FPS, 6)

    def end(self) -> None:
        self._stop.set()
        self.closed = True
        self.hub.end()


@pytest.fixture
def whep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, PlayingSession]]:
    session = PlayingSession()

    def get_session(app: Any, session_id: str, token: str) -> PlayingSession:
        if session_id != session.id or session.closed:
            raise NotFound(f"live session {session_id!r} does not exist or has ended.")
        if token != session.token:
            raise Unauthorized("wrong or missing session token: use the whep_url POST /v1/live returned.")
        return session

    monkeypatch.setattr("digihuman.api.routes.live_webrtc.get_session", get_session)
    with live_server(lambda url: make_settings(tmp_path / "data", public_url=url), work=False) as server:
        yield server, session
    session.end()


def test_whep_answers_an_offer_with_the_session_as_tracks(whep: tuple[LiveServer, PlayingSession]) -> None:
    server, session = whep
    url = f"{server.url}/v1/live/{session.id}/whep?token={TOKEN}"
    answered: dict[str, httpx.Response] = {}

    async def post(offer: str) -> str:
        async with httpx.AsyncClient() as http:
            response = await http.post(url, content=offer, headers={"Content-Type": "application/sdp"})
        answered["response"] = response
        assert response.status_code == 201, response.text
        return response.text

    async def run() -> None:
        video, audio, events, pc = await _watch(WhepViewers(), session, 10, post)
        assert {(f.width, f.height) for f in video} == {(128, 96)}
        assert {f.sample_rate for f in audio} == {AUDIO_RATE}
        assert {"type": "idle"} in events
        response = answered["response"]
        assert response.headers["content-type"] == "application/sdp"
        location = response.headers["location"]
        assert location.startswith(f"/v1/live/{session.id}/whep/")
        async with httpx.AsyncClient(base_url=server.url) as http:  # the viewer leaves
            assert (await http.delete(location)).status_code == 200
            assert (await http.delete(location)).status_code == 404
        for _ in range(100):
            if pc.connectionState == "closed" and session.hub.count() == 0:
                break
            await asyncio.sleep(0.05)
        assert pc.connectionState == "closed" and session.hub.count() == 0
        await pc.close()

    asyncio.run(run())


def test_whep_refuses_a_wrong_token_and_a_body_that_is_not_sdp(
        whep: tuple[LiveServer, PlayingSession]) -> None:
    server, session = whep
    base = f"{server.url}/v1/live/{session.id}/whep"
    sdp = {"Content-Type": "application/sdp"}
    wrong = httpx.post(f"{base}?token=nope", content="v=0\r\n", headers=sdp)
    assert wrong.status_code == 401 and "token" in wrong.json()["msg"]
    unknown = httpx.post(f"{server.url}/v1/live/gone/whep?token={TOKEN}", content="v=0\r\n", headers=sdp)
    assert unknown.status_code == 404
    as_json = httpx.post(f"{base}?token={TOKEN}", json={"sdp": "v=0"})
    assert as_json.status_code == 400 and "application/sdp" in as_json.json()["msg"]
    garbage = httpx.post(f"{base}?token={TOKEN}", content="hello", headers=sdp)
    assert garbage.status_code == 400 and "offer" in garbage.json()["msg"]
    assert session.hub.count() == 0  # nothing was left subscribed


@pytest.mark.media
def test_a_real_session_plays_over_webrtc_speaks_and_ends(tmp_path: Path, avatar_folder: Path) -> None:
    settings = lambda url: make_settings(tmp_path / "data", public_url=url,  # noqa: E731
                                         engine_factory="tests.live.engines:build")
    with live_server(settings, work=False) as server:
        avatar_id = install_avatar(server.services, avatar_folder)
        http = httpx.Client(base_url=server.url, headers=AUTH, timeout=60)
        created = http.post("/v1/live", json={"avatar_id": avatar_id, "size": LIVE_SIZE})
        assert created.status_code == 200, created.text
        live = created.json()["data"]
        assert live["whep_url"].startswith(f"{server.url}/v1/live/{live['session_id']}/whep?token=")

        async def post(offer: str) -> str:
            async with httpx.AsyncClient() as client:  # the URL's token is the only credential
                response = await client.post(live["whep_url"], content=offer,
                                             headers={"Content-Type": "application/sdp"})
            assert response.status_code == 201, response.text
            return response.text

        async def run() -> None:
            video, audio, events, pc = await _watch(WhepViewers(), Session(), 10, post)
            assert {(f.width, f.height) for f in video} == {(live["width"], live["height"])}
            assert max(live["width"], live["height"]) == LIVE_SIZE
            assert {f.sample_rate for f in audio} == {AUDIO_RATE}
            said = await asyncio.to_thread(http.post, f"/v1/live/{live['session_id']}/say",
                                           json={"text": "Hello over WebRTC"})
            assert said.status_code == 200, said.text
            for _ in range(200):  # the session's events come on the data channel
                if any(e["type"] == "speaking" for e in events):
                    break
                await asyncio.sleep(0.05)
            assert {"type": "speaking", "text": "Hello over WebRTC"} in events
            ended = await asyncio.to_thread(http.delete, f"/v1/live/{live['session_id']}")
            assert ended.status_code == 200
            for _ in range(100):  # the session's end closes its peer connections
                if pc.connectionState == "closed":
                    break
                await asyncio.sleep(0.05)
            assert pc.connectionState == "closed"
            await pc.close()

        asyncio.run(run())
        http.close()
