"""The Live page in the browser: a trained avatar streams over WebRTC and speaks what it is told."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from digihuman.config import Settings
from digihuman.engines import Engines
from digihuman.media.probe import probe
from digihuman.speech.asr.base import Transcript
from tests.live.conftest import LIVE_SIZE, avatar_folder, install_avatar  # noqa: F401 - a fixture
from tests.live.engines import build as build_live
from tests.studio.journey import STUDIO_KEY, open_page, studio_settings
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.media
SHOTS = Path("/tmp")


class LengthRecognizer:
    """Hears how long the recording was: proof that the microphone's take reached the server."""

    def transcribe(self, audio: Path, language: str | None = None) -> Transcript:
        seconds = probe(audio).duration_s or 0.0
        return Transcript(f"I spoke for {seconds:.0f} seconds", "en", seconds)


def build(settings: Settings) -> Engines:
    """The live tests' engines (a voice that reports its phones, a chat model that reverses) and ears."""
    return dataclasses.replace(build_live(settings), asr=LengthRecognizer())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("studio-live") / "data"
    with live_server(lambda url: studio_settings(data, url, "tests.studio.test_live_page:build")) as s:
        yield s


@pytest.fixture(scope="module")
def avatar(server: LiveServer, avatar_folder: Path) -> str:  # noqa: F811 - the imported fixture
    return install_avatar(server.services, avatar_folder, key=STUDIO_KEY)


def test_the_live_page_asks_for_a_trained_avatar_first(browser: Browser, server: LiveServer) -> None:
    page = open_page(browser, server, key=STUDIO_KEY)
    none = {"code": 200, "msg": "ok", "data": {"items": []}}
    page.route("**/v1/avatars", lambda route: route.fulfill(json=none))
    page.goto(f"{server.url}/#live")
    expect(page.locator("#live-h")).to_have_text("Live avatar")
    expect(page.locator("#live-avatar option")).to_have_text(["No trained avatar yet"])
    expect(page.locator("#live-send")).to_be_disabled()
    page.click("#live-start")
    expect(page.locator("#live-avatar-error")).to_contain_text("Choose a trained avatar")
    assert not page.script_errors  # type: ignore[attr-defined]
    page.context.close()


def test_start_watch_say_chat_by_voice_interrupt_and_end(page: Page, server: LiveServer, avatar: str) -> None:
    # Small frames keep the shared test machine's encoder fast; the page sends what the user chose.
    page.route("**/v1/live", lambda route: route.continue_(
        post_data={**route.request.post_data_json, "size": LIVE_SIZE}))
    page.goto(f"{server.url}/#live")
    expect(page.locator("#live-avatar option", has_text="live test")).to_have_count(1)
    expect(page.locator("#live-chat-model option[value=fake-rewrite]")).to_have_count(1)
    page.select_option("#live-avatar", avatar)
    page.select_option("#live-chat-model", "fake-rewrite")
    with page.expect_response("**/v1/live") as created:
        page.click("#live-start")
    session_id = created.value.json()["data"]["session_id"]
    # The picture comes over WebRTC and plays.
    page.wait_for_function("() => document.querySelector('#live-video').currentTime > 1", timeout=40_000)
    size = page.evaluate("() => [document.querySelector('#live-video').videoWidth, "
                         "document.querySelector('#live-video').videoHeight]")
    assert max(size) == LIVE_SIZE, size
    expect(page.locator("#live-state")).to_have_text("Listening")
    expect(page.locator("#live-stage")).to_have_attribute("data-transport", "webrtc")
    expect(page.locator("#live-stop")).to_be_visible()

    page.fill("#live-text", "Hello from the studio")
    page.keyboard.press("Enter")
    expect(page.locator("#live-state")).to_have_text("Speaking: Hello from the studio", timeout=20_000)
    page.screenshot(path=str(SHOTS / "studio-live-speaking.png"))
    page.click("#live-interrupt")
    expect(page.locator("#live-state")).to_have_text("Listening", timeout=10_000)

    # The microphone (Chromium's fake one): record, transcribe, and the chat model's answer is spoken.
    page.click("#live-mic")
    expect(page.locator("#live-mic")).to_have_text("Done talking")
    page.wait_for_timeout(2200)
    page.click("#live-mic")
    heard = page.locator("#live-log li.you").last
    expect(heard).to_contain_text(re.compile(r"I spoke for [2-4] seconds"), timeout=20_000)
    seconds = re.search(r"for (\d) seconds", heard.inner_text()).group(1)  # type: ignore[union-attr]
    # FakeChat streams the question's words reversed, one piece each, with no spaces between them
    expect(page.locator("#live-state")).to_have_text(f"Speaking: seconds{seconds}forspokeI", timeout=20_000)

    # Ending the session ends it on the server too.
    with page.expect_response(lambda r: r.request.method == "DELETE") as ended:
        page.click("#live-stop")
    assert ended.value.status == 200
    expect(page.locator("#live-state")).to_have_text("Not started")
    page.wait_for_function("() => !document.querySelector('#live-video').srcObject")
    gone = httpx.post(f"{server.url}/v1/live/{session_id}/say", json={"text": "still there?"},
                      headers={"Authorization": f"Bearer {STUDIO_KEY}"})
    assert gone.status_code == 404


def test_without_webrtc_the_page_plays_the_websocket_stream(browser: Browser, server: LiveServer,
                                                             avatar: str) -> None:
    page = open_page(browser, server, key=STUDIO_KEY)
    page.add_init_script("delete window.RTCPeerConnection")  # a browser without WebRTC
    page.route("**/v1/live", lambda route: route.continue_(
        post_data={**route.request.post_data_json, "size": LIVE_SIZE}))
    page.goto(f"{server.url}/#live")
    page.select_option("#live-avatar", avatar)
    page.click("#live-start")
    page.wait_for_function("() => document.querySelector('#live-video').currentTime > 1", timeout=40_000)
    expect(page.locator("#live-stage")).to_have_attribute("data-transport", "websocket")
    assert max(page.evaluate("() => [document.querySelector('#live-video').videoWidth, "
                             "document.querySelector('#live-video').videoHeight]")) == LIVE_SIZE
    page.fill("#live-text", "Over the socket")
    page.click("#live-send")
    expect(page.locator("#live-state")).to_have_text("Speaking: Over the socket", timeout=20_000)
    page.screenshot(path=str(SHOTS / "studio-live-websocket.png"))
    page.click("#live-stop")
    expect(page.locator("#live-state")).to_have_text("Not started")
    assert not page.script_errors  # type: ignore[attr-defined]
    page.context.close()


def test_the_live_page_speaks_chinese(browser: Browser, server: LiveServer) -> None:
    page = open_page(browser, server, key=STUDIO_KEY, locale="zh-CN")
    page.goto(f"{server.url}/#live")
    expect(page.locator("#live-h")).to_have_text("实时数字人")
    expect(page.locator(".nav a[data-page=live]")).to_have_text("实时数字人")
    expect(page.locator("#live-state")).to_have_text("未开始")
    assert page.evaluate("window.digihumanStudio.missingKeys()") == []
    page.context.close()


def test_the_live_page_fits_a_phone(browser: Browser, server: LiveServer) -> None:
    page = open_page(browser, server, key=STUDIO_KEY, width=390, height=844)
    page.goto(f"{server.url}/#live")
    expect(page.locator("#page-live")).to_be_visible()
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.context.close()
