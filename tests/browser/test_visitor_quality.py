"""The visitor page's quality bar: every width from 320 px, keyboard alone, the browser's language, closed
hours, nothing third-party, nothing cached, accessible crisis view."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from chat.settings import Settings
from tests.browser.conftest import EXIT_ORIGIN, phone, violations
from tests.conftest import Running, serve


@pytest.mark.parametrize("width", [320, 360, 414, 1280])
async def test_no_sideways_scrolling_from_320_px_to_desktop(server: Running, browser: Browser, width: int) -> None:
    context = await browser.new_context(viewport={"width": width, "height": 700}, locale="sv-SE")
    page = await context.new_page()
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    await page.click("#start-button")
    await page.wait_for_selector("#chat:not([hidden])")
    assert await page.evaluate("document.documentElement.scrollWidth") <= width


async def test_a_chat_can_be_started_and_used_with_the_keyboard_alone(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    # Tab from the top until the start button has focus, then Enter; then type and send with Enter.
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == "start-button":
            break
    else:
        pytest.fail("the start button cannot be reached with Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#chat:not([hidden])")
    assert await page.evaluate("document.activeElement.id") == "text"
    await page.keyboard.type("hej från tangentbordet")
    await page.keyboard.press("Enter")
    await expect(page.locator(".msg--mine[data-state=sent]")).to_have_count(1)


async def test_the_browsers_language_is_used_and_can_be_switched(server: Running, browser: Browser) -> None:
    page = await phone(browser, locale="en-GB")
    await page.goto(server.base + "/")
    await expect(page.locator("#start-heading")).to_have_text("Start a chat")
    assert await page.title() == "Chat"
    await page.click("#lang")
    await expect(page.locator("#start-heading")).to_have_text("Starta en chatt")
    assert await violations(page) == []


async def test_out_of_hours_the_page_says_when_it_opens_and_a_message_can_still_be_left(
    settings: Settings, browser: Browser
) -> None:
    stockholm = ZoneInfo("Europe/Stockholm")
    tuesday_night = datetime(2026, 11, 17, 23, 30, tzinfo=stockholm)
    offset = tuesday_night - datetime.now(UTC)
    async with serve(settings, clock=lambda: datetime.now(UTC) + offset) as night:
        page = await phone(browser)
        await page.goto(night.base + "/")
        await expect(page.locator("#start-note")).to_contain_text("stängd")
        assert await violations(page) == []
        await page.click("#start-button")
        await expect(page.locator("#state")).to_contain_text("stängda")
        await expect(page.locator("#crisis-box")).to_have_attribute("open", "")
        await page.fill("#text", "Kan ni höra av er i morgon?")
        await page.press("#text", "Enter")
        await expect(page.locator(".msg--mine[data-state=sent]")).to_have_count(1)  # stored and acked


async def test_nothing_third_party_and_nothing_cached(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    responses = []
    page.on("response", lambda r: responses.append(r))
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    await page.click("#start-button")
    await page.wait_for_selector("#chat:not([hidden])")
    assert [u for u in seen if not u.startswith(server.base)] == []
    page_and_api = [r for r in responses if r.url == server.base + "/" or "/api/" in r.url]
    assert page_and_api
    for r in page_and_api:
        assert "no-store" in (await r.all_headers()).get("cache-control", ""), r.url
    assert await page.context.cookies() == []
    assert not [u for u in seen if u.startswith(EXIT_ORIGIN)]


async def test_the_crisis_view_after_a_risk_signal_is_accessible(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    await page.click("#start-button")
    await page.wait_for_selector("#chat:not([hidden])")
    await page.fill("#text", "jag vill inte leva längre")
    await page.press("#text", "Enter")
    await expect(page.locator("#crisis-alert")).to_be_visible()
    await expect(page.locator("#crisis-alert [role=alert]")).to_contain_text("Ring 112")
    assert (await page.inner_text("#crisis-brief")).startswith("112")
    assert await violations(page) == []
