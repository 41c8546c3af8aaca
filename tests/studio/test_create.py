"""Create video in the browser: photo + script, audio file, errors next to the field they concern."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.studio.journey import VIDEO_TIMEOUT_MS, expect_progress_moves, expect_video_plays
from tests.support.live_server import LiveServer


def test_photo_and_script_make_a_video_that_plays(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#create")
    page.set_input_files("#create-face", media / "face.png")
    expect(page.locator("#create-face-preview img")).to_be_visible()
    page.fill("#create-script", "Hello there. Welcome to the course.")
    expect(page.locator("#create-voice option[value=fake-en]")).to_have_count(1)
    page.select_option("#create-voice", "fake-en")
    page.click("#create-submit")
    expect_progress_moves(page, "#create-result")
    expect(page.locator("#create-result .stage")).not_to_have_text("", timeout=VIDEO_TIMEOUT_MS)
    duration = expect_video_plays(page, "#create-result video")
    assert duration > 1.0
    download = page.locator("#create-result a[download]")
    assert download.get_attribute("href").endswith(".mp4")
    expect(page.locator("#create-result figure img")).to_have_count(2)  # animated preview and cover


def test_audio_file_without_watermark_at_a_chosen_size(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#create")
    page.set_input_files("#create-face", media / "face.png")
    page.click("label[for=create-speech-file]")
    page.set_input_files("#create-audio", media / "speech.wav")
    page.uncheck("#create-watermark")
    page.select_option("#create-size", "720")
    with page.expect_request(lambda r: r.url.endswith("/avatar/generation")) as sent:
        page.click("#create-submit")
    body = sent.value.post_data_json
    assert body["no_watermark"] is True and body["resolution"] == 720 and body["audio_url"].endswith(".wav")
    expect_video_plays(page, "#create-result video")
    assert "_wm" not in page.locator("#create-result video").get_attribute("src")


def test_no_face_in_the_photo_is_shown_beside_the_photo(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#create")
    page.set_input_files("#create-face", media / "black.png")
    page.fill("#create-script", "Hello.")
    page.click("#create-submit")
    error = page.locator("#create-face-error")
    expect(error).to_contain_text(re.compile("no face found", re.I), timeout=VIDEO_TIMEOUT_MS)
    assert error.get_attribute("role") == "alert"
    expect(page.locator("#create-result [role=alert]")).to_contain_text("could not be used")


def test_a_text_file_as_audio_is_refused_beside_the_audio(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#create")
    page.set_input_files("#create-face", media / "face.png")
    page.click("label[for=create-speech-file]")
    page.set_input_files("#create-audio", media / "notes.wav")
    page.click("#create-submit")
    error = page.locator("#create-audio-error")
    expect(error).not_to_be_empty(timeout=20_000)
    assert error.get_attribute("role") == "alert"
    expect(page.locator("#create-face-error")).to_be_empty()


def test_missing_choices_are_named_before_anything_is_sent(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/#create")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    page.click("#create-submit")
    expect(page.locator("#create-face-error")).to_have_text("Choose a photo or a video of the person.")
    expect(page.locator("#create-script-error")).to_have_text("Type what the person should say.")
    assert requests == []


def test_recorded_speech_drives_the_video(page: Page, server: LiveServer, media: Path) -> None:
    page.goto(f"{server.url}/#create")
    page.set_input_files("#create-face", media / "face.png")
    page.click("label[for=create-speech-record]")
    record = page.locator("#create-recorder .rec-button")
    record.click()
    expect(record).to_have_text("Stop recording")
    page.wait_for_timeout(1500)
    record.click()
    expect(page.locator("#create-recorder audio")).to_be_visible()
    page.click("#create-submit")
    expect_video_plays(page, "#create-result video")
