"""The studio as a whole: served without a key, the key dialog, Chinese, keyboard, /docs offline."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.studio.journey import STUDIO_KEY, open_page
from tests.support.live_server import LiveServer


def test_page_and_assets_are_served_without_a_key(server: LiveServer) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    for path, kind in (("/studio/studio.css", "text/css"), ("/studio/js/main.js", "text/javascript"),
                       ("/studio/icon.svg", "image/svg+xml")):
        asset = httpx.get(server.url + path)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind), path
    missing = httpx.get(f"{server.url}/studio/../config.py")
    assert missing.status_code == 404
    assert httpx.get(f"{server.url}/studio/js/nothing.js").json()["code"] == 404


def test_a_missing_key_is_asked_for_and_a_wrong_one_refused(browser: Browser, server: LiveServer) -> None:
    page = open_page(browser, server)
    page.goto(f"{server.url}/#voices")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    page.fill("#key-input", "not-a-real-key")
    page.click("#key-save")
    expect(page.locator("#key-error")).to_contain_text("invalid API key")
    assert page.locator("#key-error").get_attribute("role") == "alert"
    page.fill("#key-input", STUDIO_KEY)
    page.click("#key-save")
    expect(dialog).to_be_hidden()
    expect(page.locator("#stock-list .voice-row").first).to_be_visible()  # the refused request was repeated
    page.reload()
    expect(page.locator("#stock-list .voice-row").first).to_be_visible()
    expect(dialog).to_be_hidden()  # the key was kept
    page.context.close()


def test_chinese_interface(browser: Browser, server: LiveServer) -> None:
    page = open_page(browser, server, key=STUDIO_KEY)
    page.goto(f"{server.url}/#create")
    expect(page.locator("#create-submit")).to_have_text("Create video")
    page.click("#lang-toggle")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#create-submit")).to_have_text("生成视频")
    expect(page.locator(".nav a[data-page=voices]")).to_have_text("声音")
    expect(page.locator("#create-voice optgroup").first).to_have_attribute("label", "内置声音")
    page.click("#create-submit")
    expect(page.locator("#create-face-error")).to_have_text("请选择人物的照片或视频。")
    for name in ("avatars", "voices", "rewrite", "remix", "tasks"):
        page.goto(f"{server.url}/#{name}")
        expect(page.locator(f"#page-{name}")).to_be_visible()
    expect(page.locator("#tasks-h")).to_have_text("任务")
    page.reload()
    expect(page.locator("#tasks-h")).to_have_text("任务")  # the choice is kept
    assert page.evaluate("window.digihumanStudio.missingKeys()") == []
    page.context.close()
    # A browser that prefers Chinese starts in Chinese.
    zh = open_page(browser, server, key=STUDIO_KEY, locale="zh-CN")
    zh.goto(f"{server.url}/")
    expect(zh.locator("#create-h")).to_have_text("制作口播视频")
    zh.context.close()


def test_every_page_is_reached_by_keyboard(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/#create")
    for name in ("avatars", "voices", "rewrite", "remix", "tasks"):
        link = page.locator(f".nav a[data-page={name}]")
        link.focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(f"#{name}$"))
        expect(page.locator(f"#page-{name}")).to_be_visible()
        expect(link).to_have_attribute("aria-current", "page")
    # every form control has a label
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.id)""")
    assert unlabelled == []


def test_phone_width_has_no_sideways_scrolling(browser: Browser, server: LiveServer) -> None:
    page = open_page(browser, server, key=STUDIO_KEY, width=390, height=844)
    for name in ("create", "avatars", "voices", "rewrite", "remix", "tasks"):
        page.goto(f"{server.url}/#{name}")
        expect(page.locator(f"#page-{name}")).to_be_visible()
        page.wait_for_timeout(200)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, (name, wide)
    page.context.close()


def test_docs_list_the_operations_offline(browser: Browser, server: LiveServer) -> None:
    page = open_page(browser, server)
    outside: list[str] = []
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: (outside.append(route.request.url), route.abort()))
    page.goto(f"{server.url}/docs")
    expect(page.get_by_text("/avatar/generation").first).to_be_visible(timeout=20_000)
    for path in ("/v1/tts", "/generate_video", "/v1/tasks/{task_id}"):
        expect(page.get_by_text(path, exact=True).first).to_be_attached()
    assert outside == []
    page.context.close()
