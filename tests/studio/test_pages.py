"""The other pages in the browser: avatars, voices, rewrite, remix, tasks."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.studio.conftest import FAKE_DELAY_S
from tests.studio.journey import VIDEO_TIMEOUT_MS, expect_progress_moves, expect_video_plays
from tests.support.live_server import LiveServer


def test_train_an_avatar_then_make_a_video_with_it(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#avatars")
    page.fill("#avatar-name", "Teacher")
    page.set_input_files("#avatar-video", media / "talk5.mp4")
    page.click("#avatar-train-submit")
    expect(page.locator("#avatar-video-warning")).to_contain_text("5 s long", timeout=20_000)  # short: a warning
    expect_progress_moves(page, "#avatar-train-progress")
    form = page.locator("#avatar-render-form")
    expect(form).to_be_visible(timeout=VIDEO_TIMEOUT_MS)
    expect(page.locator("#avatar-render-h")).to_have_text("Make a video with Teacher")
    expect(page.locator("#avatar-list .tile", has_text="Teacher").locator("img")).to_be_visible()
    page.fill("#avatar-script", "This avatar speaks quickly.")
    page.click("#avatar-render-submit")
    expect_video_plays(page, "#avatar-render-result video")
    # The trained avatar is offered on the Create video page too.
    page.goto(f"{server.url}/#create")
    page.click("label[for=create-face-avatar]")
    expect(page.locator("#create-avatar option", has_text="Teacher")).to_have_count(1)


def test_a_too_short_training_video_is_refused_beside_the_video(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#avatars")
    page.fill("#avatar-name", "Blink")
    page.set_input_files("#avatar-video", media / "clip.mp4")
    page.click("#avatar-train-submit")
    expect(page.locator("#avatar-video-error")).to_contain_text("at least 3 s", timeout=20_000)


def test_clone_a_voice_try_it_and_delete_it(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#voices")
    page.fill("#voice-title", "My narrator")
    page.set_input_files("#voice-samples", media / "voice.wav")
    expect(page.locator("#voice-sample-list li")).to_have_count(1)
    page.click("#voice-clone-submit")
    expect(page.locator("#voice-clone-progress .notice")).to_contain_text("“My narrator” is ready",
                                                                          timeout=VIDEO_TIMEOUT_MS)
    row = page.locator("#voice-list .voice-row", has_text="My narrator")
    expect(row.locator(".badge")).to_have_text("Ready")
    # The new voice is chosen for trying; it says the text.
    page.fill("#voice-try-text", "Testing my new voice.")
    page.click("#voice-try-submit")
    audio = page.locator("#voice-try-audio")
    expect(audio).to_be_visible(timeout=20_000)
    page.wait_for_function("() => document.querySelector('#voice-try-audio').duration > 0.5")
    # Stock voices play their sample (fetched with the key).
    page.locator("#stock-list .voice-row", has_text="Fake English").get_by_role("button", name="Play a sample").click()
    page.wait_for_function("() => [...document.querySelectorAll('#stock-list audio')].some(a => a.duration > 0)",
                           timeout=20_000)
    row.get_by_role("button", name="Delete My narrator").click()
    row.get_by_role("button", name="Yes, delete").click()
    expect(page.locator("#voice-list .voice-row", has_text="My narrator")).to_have_count(0)


def test_rewrite_streams_in_and_goes_to_create_video(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/#rewrite")
    expect(page.locator("#rewrite-model option[value=fake-rewrite]")).to_have_count(1)
    page.fill("#rewrite-input", "one two three four")
    page.click("#rewrite-submit")
    expect(page.locator("#rewrite-status")).to_contain_text("Done", timeout=20_000)
    rewritten = page.input_value("#rewrite-output")
    assert rewritten == "fourthreetwoone"  # the fake model streams the words backwards, one piece each
    page.click("#rewrite-send")
    expect(page).to_have_url(re.compile("#create$"))
    expect(page.locator("#create-script")).to_have_value(rewritten)


def test_remix_a_video_with_captions_and_a_mirror(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#remix")
    page.set_input_files("#remix-video", media / "clip.mp4")
    page.click("label[for=remix-subs-script]")
    page.fill("#remix-script", "Three tips for better sleep.")
    page.fill("#remix-floating", "Only {today}\nLink in bio")
    page.check("#remix-mirror")
    page.locator("#remix-speed").fill("1.25")
    with page.expect_request(lambda r: r.url.endswith("/generate_video")) as sent:
        page.click("#remix-submit")
    body = sent.value.post_data_json
    assert body["custom_floating_text"] == ["Only {today}", "Link in bio"]
    assert body["transforms"] == {"mirror": True, "speed": 1.25}
    assert body["text_content"] == "Three tips for better sleep."
    expect_progress_moves(page, "#remix-result")
    expect_video_plays(page, "#remix-result video")


def test_a_bad_remix_option_is_shown_beside_it(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#remix")
    page.set_input_files("#remix-video", media / "clip.mp4")
    page.fill("#remix-floating", "an {unclosed brace")
    page.click("#remix-submit")
    expect(page.locator("#remix-floating-error")).not_to_be_empty(timeout=20_000)


def test_tasks_lists_results_and_cancels(page: Page, server: LiveServer, media: Path) -> None:
    # A long task to cancel: the fake engines sleep this long in each step.
    os.environ["DIGIHUMAN_FAKE_DELAY_S"] = "30"
    try:
        page.goto(f"{server.url}/#remix")
        page.set_input_files("#remix-video", media / "clip.mp4")
        page.click("#remix-submit")
        expect_progress_moves(page, "#remix-result")
        page.goto(f"{server.url}/#tasks")
        running = page.locator("#task-list .task", has=page.locator(".badge.running"))
        expect(running.first).to_be_visible(timeout=20_000)
        running.first.get_by_role("button", name=re.compile("Cancel")).click()
        expect(page.locator("#task-list .task .badge.cancelled").first).to_be_visible(timeout=20_000)
    finally:
        os.environ["DIGIHUMAN_FAKE_DELAY_S"] = FAKE_DELAY_S
    page.select_option("#tasks-status", "succeeded")
    done = page.locator("#task-list .task")
    expect(done.first).to_be_visible()
    expect(page.locator("#task-list .badge:not(.succeeded)")).to_have_count(0)
    expect(done.first.locator("a.chip").first).to_have_attribute("href", re.compile(r"^http://127\.0\.0\.1:\d+/files/"))
