"""The young person's page in a real browser at phone size: accessible views, quick exit, text stays text."""

from __future__ import annotations

import asyncio
import contextlib

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import EXIT_ORIGIN, phone, violations
from tests.client import WS, Staff
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

    # Outside a field one Escape leaves (inside the message box it takes two: test_visitor_safety.py).
    await page.locator("#text").blur()
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


async def test_the_end_shows_the_code_takes_feedback_and_the_code_brings_the_history_back(
    server: Running, browser: Browser, make_staff: StaffFactory
) -> None:
    page = await phone(browser)
    conversation_id = await _start_chat(page, server)
    code = (await page.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor'))"))["return_code"]
    anna = await make_staff("anna")
    assert (await anna.claim(conversation_id)).status_code == 200
    await anna.say(conversation_id, "Hej, jag heter Anna.", "s1")
    await expect(page.locator("#log")).to_contain_text("Hej, jag heter Anna.")
    closed = await anna.http.post(f"/api/v1/staff/conversations/{conversation_id}/close", json={"outcome": "advice_given"})
    assert closed.status_code == 200

    await expect(page.locator("#end")).to_be_visible()
    assert await page.inner_text("#end-code") == code
    assert await violations(page) == []
    await page.check("#rating-4")
    await page.fill("#feedback-comment", "Bra")
    await page.click("#feedback-form button[type=submit]")
    await expect(page.locator("#feedback-note")).to_have_text("Tack för ditt omdöme!")
    async with server.ctx.engine.connect() as conn:
        rating = (await conn.exec_driver_sql("SELECT rating FROM feedback")).scalar_one()
    assert rating == 4

    # Later, in a new tab: "I have a code" opens the same conversation with its history.
    later = await phone(browser)
    await later.goto(server.base + "/")
    await later.fill("#return-input", code.lower().replace("-", " "))
    await later.click("#return-button")
    await expect(later.locator("#log")).to_contain_text("Hej, jag heter Anna.")
    session = await later.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor'))")
    assert session["conversation_id"] == conversation_id


async def test_a_wrong_code_says_so(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    await page.goto(server.base + "/")
    await page.fill("#return-input", "AAAA-BBBB-CCCC")
    await page.click("#return-button")
    await expect(page.locator("#return-error")).to_have_text("Koden stämmer inte. Kontrollera den och försök igen.")
    assert await page.is_hidden("#chat")


async def test_quick_exit_ends_the_token_on_the_server_too(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    await _start_chat(page, server)
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor')).token")

    await page.locator("#text").blur()
    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{EXIT_ORIGIN}/**")

    # The keepalive request outlives the page; within a few seconds the token opens nothing any more.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    code = None
    while code != "token_expired" and loop.time() < deadline:
        ws = await WS.open(server.ws + "/ws/visitor")
        try:
            await ws.send(type="hello", token=token, last_seq=0)
            with contextlib.suppress(TimeoutError):
                code = (await ws.expect("error", timeout=0.5))["code"]
        finally:
            await ws.close()
    assert code == "token_expired"


async def test_the_young_person_can_end_the_conversation_and_staff_see_it_end(
    server: Running, browser: Browser, make_staff: StaffFactory
) -> None:
    page = await phone(browser)
    conversation_id = await _start_chat(page, server)
    anna = await make_staff("anna")
    assert (await anna.claim(conversation_id)).status_code == 200
    assert anna.ws is not None
    await anna.ws.expect("state", conversation_id=conversation_id, state="active")

    await page.click("#end-chat")
    await page.click("#end-confirm-yes")

    await expect(page.locator("#end")).to_be_visible()
    assert await page.is_hidden("#send-form")
    await anna.ws.expect("state", conversation_id=conversation_id, state="closed")
