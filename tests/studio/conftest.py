"""Fixtures of the browser tests: a live server with fake engines, Chromium, a page with the key, media."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.api.exchange import make_black_png
from tests.mediagen import make_png, make_text, make_video, make_wav
from tests.support.browser import chromium
from tests.studio.journey import STUDIO_KEY, open_page, studio_settings
from tests.support.live_server import LiveServer, live_server

# Each fake job step sleeps this long, reporting progress, so the page can show it moving: the worker
# writes progress every 0.5 s and the task's event stream reads it within 0.1 s of a change.
FAKE_DELAY_S = "0.8"


# Package scope: Playwright's sync API keeps an event loop running in this thread while the browser
# lives, and tests of other packages run by the same process use asyncio.run.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    before = os.environ.get("DIGIHUMAN_FAKE_DELAY_S")
    os.environ["DIGIHUMAN_FAKE_DELAY_S"] = FAKE_DELAY_S
    try:
        data = tmp_path_factory.mktemp("studio") / "data"
        with live_server(lambda url: studio_settings(data, url)) as s:
            yield s
    finally:
        if before is None:
            os.environ.pop("DIGIHUMAN_FAKE_DELAY_S", None)
        else:
            os.environ["DIGIHUMAN_FAKE_DELAY_S"] = before


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    """The studio in English, with the server's key already given."""
    p = open_page(browser, server, key=STUDIO_KEY)
    yield p
    assert not p.script_errors, p.script_errors  # type: ignore[attr-defined]
    assert p.evaluate("window.digihumanStudio ? window.digihumanStudio.missingKeys() : []") == []
    p.context.close()


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studio-media")
    make_png(root / "face.png", size=(96, 96))
    make_black_png(root / "black.png")
    make_wav(root / "speech.wav", seconds=1.5)
    make_wav(root / "voice.wav", seconds=3.5, freq=150.0)
    make_video(root / "talk5.mp4", seconds=5.0)
    make_video(root / "clip.mp4", seconds=1.5)
    make_text(root / "notes.wav", "this is not audio\n" * 20)
    return root
