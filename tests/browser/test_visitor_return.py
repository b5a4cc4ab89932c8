"""The young person's page always shows the state the server holds, for every state × way back: a reload of
the same tab (the session token) while waiting, chatting or closed; the return code in a new tab while
waiting, while chatting and after the end (re-opened: waiting again, with place and wait, though the
replayed history has the counsellor's messages); and after the token ran out. Each checks the page against
the store. The server's clock is a Tuesday at 13:00, when the reception is open."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from chat.service import accounts
from chat.settings import Settings
from chat.store import conversations as conv_store
from tests.browser.conftest import phone, violations
from tests.client import Staff
from tests.conftest import Running, serve
from tests.triage_e2e.conftest import TUESDAY_1300, Clock

PASSWORD = "correct horse battery"
QUEUED = re.compile(r"Du är nummer \d+ i kön\. Ungefärlig väntetid: \d+ min\.")
WITH_ANNA = "Du chattar nu med Anna."
CLOSED = "Samtalet är avslutat. Tack för att du hörde av dig!"


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Running]:
    async with serve(settings, clock=Clock(TUESDAY_1300)) as running:
        yield running


@pytest.fixture
async def anna(server: Running) -> AsyncIterator[Staff]:
    await accounts.add_staff(server.ctx, "anna", PASSWORD, ["reception"], ["reception"], "Anna")
    s = Staff(server.base, "anna", PASSWORD)
    await s.login()
    yield s
    await s.aclose()


async def start(page: Page, server: Running) -> tuple[str, str]:
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    await page.click("#start-button")
    await expect(page.locator("#state")).to_have_text(QUEUED)
    session = await page.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor'))")
    return str(session["conversation_id"]), str(session["return_code"])


async def with_code(browser: Browser, server: Running, code: str) -> Page:
    page = await phone(browser)
    await page.goto(server.base + "/")
    await page.fill("#return-input", code)
    await page.click("#return-button")
    await expect(page.locator("#chat")).to_be_visible()
    return page


async def state_of(server: Running, conversation_id: str) -> str:
    conv = await conv_store.get(server.ctx.engine, conversation_id)
    assert conv is not None
    return conv.state


async def chatting(anna: Staff, page: Page, conversation_id: str) -> None:
    assert (await anna.claim(conversation_id)).status_code == 200
    await expect(page.locator("#state")).to_have_text(WITH_ANNA)
    await anna.connect()
    await anna.say(conversation_id, "Hej, jag heter Anna.", "s1")
    await expect(page.locator("#log")).to_contain_text("Hej, jag heter Anna.")


async def close(anna: Staff, conversation_id: str) -> None:
    r = await anna.http.post(f"/api/v1/staff/conversations/{conversation_id}/close", json={"outcome": "advice_given"})
    assert r.status_code == 200


async def assert_waiting(page: Page, server: Running, conversation_id: str) -> None:
    await expect(page.locator("#state")).to_have_text(QUEUED)
    await expect(page.locator("#send-form")).to_be_visible()
    await expect(page.locator("#end")).to_be_hidden()
    assert await state_of(server, conversation_id) == "queued"


async def test_reload_while_waiting_shows_the_place_in_line(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    cid, _ = await start(page, server)
    await page.reload()
    await assert_waiting(page, server, cid)


async def test_reload_while_chatting_shows_who_with(server: Running, browser: Browser, anna: Staff) -> None:
    page = await phone(browser)
    cid, _ = await start(page, server)
    await chatting(anna, page, cid)
    await page.reload()
    await expect(page.locator("#state")).to_have_text(WITH_ANNA)
    await expect(page.locator("#send-form")).to_be_visible()
    assert await state_of(server, cid) == "active"


async def test_reload_after_the_end_shows_the_end(server: Running, browser: Browser, anna: Staff) -> None:
    page = await phone(browser)
    cid, code = await start(page, server)
    await chatting(anna, page, cid)
    await close(anna, cid)
    await expect(page.locator("#end")).to_be_visible()
    await page.reload()
    await expect(page.locator("#state")).to_have_text(CLOSED)
    await expect(page.locator("#end")).to_be_visible()
    await expect(page.locator("#send-form")).to_be_hidden()
    assert await page.inner_text("#end-code") == code
    assert await state_of(server, cid) == "closed"


async def test_the_code_after_the_end_reopens_it_waiting_in_line_not_chatting(
    server: Running, browser: Browser, anna: Staff
) -> None:
    """The reported bug: the replayed "Hej, jag heter Anna." made the page say "Du chattar nu med Anna"
    while the server had the conversation waiting in the queue."""
    page = await phone(browser)
    cid, code = await start(page, server)
    await chatting(anna, page, cid)
    await close(anna, cid)
    await expect(page.locator("#end")).to_be_visible()

    later = await with_code(browser, server, code)
    await expect(later.locator("#log")).to_contain_text("Hej, jag heter Anna.")
    await assert_waiting(later, server, cid)
    await expect(later.locator("#state")).to_have_text(re.compile(r"^Du är nummer 1 i kön\."))
    assert await violations(later) == []
    # Taken again: now the page says so.
    assert (await anna.claim(cid)).status_code == 200
    await expect(later.locator("#state")).to_have_text(WITH_ANNA)


async def test_the_code_while_waiting_shows_the_place_in_line(server: Running, browser: Browser) -> None:
    page = await phone(browser)
    cid, code = await start(page, server)
    other = await with_code(browser, server, code)
    await assert_waiting(other, server, cid)


async def test_the_code_while_chatting_shows_who_with(server: Running, browser: Browser, anna: Staff) -> None:
    page = await phone(browser)
    cid, code = await start(page, server)
    await chatting(anna, page, cid)
    other = await with_code(browser, server, code)
    await expect(other.locator("#state")).to_have_text(WITH_ANNA)
    await expect(other.locator("#log")).to_contain_text("Hej, jag heter Anna.")
    assert await state_of(server, cid) == "active"


async def test_an_expired_token_goes_back_to_the_start_and_the_code_shows_the_servers_state(
    server: Running, browser: Browser, anna: Staff
) -> None:
    page = await phone(browser)
    cid, code = await start(page, server)
    await chatting(anna, page, cid)
    async with server.ctx.engine.begin() as conn:
        await conn.execute(update(conv_store.C).where(conv_store.C.c.id == cid)
                           .values(token_expires_at=server.ctx.clock().replace(year=2000)))
    await page.reload()
    await expect(page.locator("#start-error")).to_have_text("Ditt förra samtal har gått ut. Du kan starta ett nytt.")
    await expect(page.locator("#chat")).to_be_hidden()
    await page.fill("#return-input", code)
    await page.click("#return-button")
    await expect(page.locator("#state")).to_have_text(WITH_ANNA)
    assert await state_of(server, cid) == "active"
