"""What the browser tests check about a page again and again: progress that moves, a video that plays."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from digihuman.config import Settings
from tests.support.live_server import LiveServer

VIDEO_TIMEOUT_MS = 60_000
STUDIO_KEY = "studio-key-0123456789"


def studio_settings(data_dir: Path, url: str, engine_factory: str | None = "tests.fake_engines:build") -> Settings:
    """Settings of a studio test server at ``url``; ``engine_factory`` None means the real engines."""
    return Settings(data_dir=data_dir, public_url=url, api_keys=[STUDIO_KEY], allowed_hosts=["127.0.0.1"],
                    engine_factory=engine_factory)


def expect_progress_moves(page: Page, panel: str) -> None:
    """The panel's progress bar shows a value above 0 before the task ends."""
    page.wait_for_function(
        """sel => { const bar = document.querySelector(sel + ' [role=progressbar]');
                    return bar && Number(bar.getAttribute('aria-valuenow')) > 0; }""",
        arg=panel, timeout=VIDEO_TIMEOUT_MS)


def expect_video_plays(page: Page, selector: str) -> float:
    """The <video> loads with a duration above 0 and its time advances once played; returns the duration."""
    video = page.locator(selector)
    expect(video).to_be_visible(timeout=VIDEO_TIMEOUT_MS)
    page.wait_for_function("sel => { const v = document.querySelector(sel); return v && v.readyState >= 1; }",
                           arg=selector, timeout=20_000)
    duration = video.evaluate("v => v.duration")
    assert duration > 0, duration
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("sel => document.querySelector(sel).currentTime > 0.2", arg=selector, timeout=20_000)
    return float(duration)


def open_page(browser: Browser, server: LiveServer, *, key: str | None = None, locale: str = "en-US",
              width: int = 1366, height: int = 768) -> Page:
    """A fresh browser context on the studio's server, with ``key`` stored unless the page changes it."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    if key is not None:
        context.add_init_script(f"localStorage.getItem('digihuman.key') || localStorage.setItem('digihuman.key', {key!r})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.script_errors = errors  # type: ignore[attr-defined]
    return page
