"""One journey with the real engines: a portrait photo and a typed script become a video that plays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.shared_media import shared
from tests.studio.journey import STUDIO_KEY, expect_video_plays, open_page, studio_settings
from tests.support.live_server import LiveServer, live_server

pytestmark = [pytest.mark.media, pytest.mark.slow]


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("studio-real") / "data"
    with live_server(lambda url: studio_settings(data, url, engine_factory=None)) as s:
        yield s


def test_photo_and_script_with_the_real_engines(browser: Browser, real_server: LiveServer) -> None:
    # The real engines must be there: a missing one answers 503, which fails this test.
    page = open_page(browser, real_server, key=STUDIO_KEY)
    page.goto(f"{real_server.url}/#create")
    expect(page.locator("#create-voice option[value=en-joe]")).to_have_count(1, timeout=30_000)
    page.set_input_files("#create-face", shared("image/p01_*"))
    page.fill("#create-script", "Hello, and welcome to the course.")
    page.select_option("#create-voice", "en-joe")
    page.select_option("#create-size", "480")  # below p01's 624 px: the same journey for 0.6 of the pixels
    page.click("#create-submit")
    _wait_for_the_result(page)
    duration = expect_video_plays(page, "#create-result video")
    assert 1.5 < duration < 6.0, duration
    assert page.locator("#create-result a[download]").get_attribute("href").endswith(".mp4")
    assert not page.script_errors  # type: ignore[attr-defined]
    page.context.close()


def _wait_for_the_result(page: Page) -> None:
    """Wait (rendering on a shared CPU takes a while) until the result shows a video or an error."""
    page.wait_for_selector("#create-result video, #create-result [role=alert], #create-form-error:not(:empty), "
                           ".field-error:not(:empty)", timeout=300_000)
    errors = page.locator(".field-error:not(:empty), #create-result [role=alert]").all_inner_texts()
    assert not errors, errors
