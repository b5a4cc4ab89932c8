"""The young person's page in a real browser at phone size: accessible views, quick exit, text stays text."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import EXIT_ORIGIN, phone, violations
from tests.client import Staff
from tests.conftest import Running, StaffFactory


async def _start_chat(page: Page, server: Running) -> str:
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    await page.select_option("#municipality", "2080")
    await page.click("#start-button")
    await page.wait_for_selector("#chat:not([hidden])")
    session = await page.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor'))")
    return str(session["conversation_id"])


async def test_start_and_chat_views_have_no_wcag_violations(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    assert await violations(page) == []
    await _start_chat(page, server)
    assert await violations(page) == []


async def test_escape_leaves_at_once_and_the_chat_cannot_be_brought_back(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    await _start_chat(page, server)
    entries = await page.evaluate("history.length")

    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{EXIT_ORIGIN}/**")

    # location.replace: the neutral site took the chat's place in the history instead of adding to it,
    # and going back does not bring the chat (or its session) back.
    assert await page.evaluate("history.length") == entries
    await page.go_back()
    if page.url.startswith(server.base):
        assert await page.evaluate("sessionStorage.length") == 0
        assert await page.is_hidden("#chat")


async def test_quick_exit_button_forgets_the_session(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    await _start_chat(page, server)
    assert await page.evaluate("sessionStorage.length") == 1

    await page.click("#exit")
    await page.wait_for_url(f"{EXIT_ORIGIN}/**")
    await page.goto(server.base + "/")
    assert await page.evaluate("sessionStorage.length") == 0
    assert await page.is_hidden("#chat")


async def test_a_staff_message_with_markup_shows_as_text(
    server: Running, browser: Browser, make_staff: StaffFactory
) -> None:
    page = await phone(browser)
    conversation_id = await _start_chat(page, server)
    anna: Staff = await make_staff("anna")
    assert (await anna.claim(conversation_id)).status_code == 200
    payload = '<img src=x onerror="window.__pwned = 1"><b>fet</b>'
    await anna.say(conversation_id, payload, "s1")

    await expect(page.locator("#log")).to_contain_text(payload)
    assert await page.locator("#log img, #log b").count() == 0
    assert await page.evaluate("window.__pwned") is None
