"""What the browser tests check about a page again and again: progress that moves, a video that plays."""

from __future__ import annotations

from playwright.sync_api import Page, expect

VIDEO_TIMEOUT_MS = 60_000


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
