"""A staff member in no team, in a real browser: the console says why their queue is empty, and the admin
page refuses to make such an account for a role that works a team's queue."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from chat.store import admin as admin_store
from tests.browser.conftest import violations
from tests.browser.staff_pages import DESKTOP, PHONE, account, logged_in, problems
from tests.conftest import Running


async def test_a_counsellor_in_no_team_is_told_why_the_queue_is_empty(server: Running, browser: Browser) -> None:
    """An account made before a team was required (here: its teams emptied in the store) logs in: the queue
    panel says to ask an administrator, in Swedish and in English; someone in a team does not see it."""
    await account(server, "nils", ("counsellor",), ("south",), "Nils N")
    await account(server, "sara", ("counsellor",), ("south",), "Sara S")
    found = await admin_store.account(server.ctx.engine, "nils")
    assert found is not None
    await admin_store.change(server.ctx.engine, found.id, {"teams": []})

    page = await logged_in(browser, server, "nils", PHONE)
    await page.goto(server.base + "/staff")
    notice = page.locator("#no-team")
    await expect(notice).to_have_text("Du tillhör inget team – be en administratör lägga till dig.")
    await expect(notice).to_be_visible()
    assert await violations(page) == []
    await page.locator("#lang").click()
    await expect(notice).to_have_text("You are not in any team – ask an administrator to add you.")
    assert problems(page) == []

    other = await logged_in(browser, server, "sara", DESKTOP)
    await other.goto(server.base + "/staff")
    await expect(other.locator("#queue-empty")).to_be_visible()
    await expect(other.locator("#no-team")).to_be_hidden()


async def test_the_admin_page_refuses_a_counsellor_without_a_team_and_says_why(server: Running, browser: Browser) -> None:
    await account(server, "ada", ("admin",), (), "Ada Admin")
    page = await logged_in(browser, server, "ada", DESKTOP)
    await page.goto(server.base + "/staff/admin")
    await expect(page.locator("body[data-ready=true]")).to_have_count(1)

    await page.fill("#create-username", "nils")
    await page.fill("#create-name", "Nils N")
    await page.fill("#create-password", "long enough password")
    await page.check("#create-role-counsellor")
    await page.click("#create-submit")

    await expect(page.locator("#create-error")).to_have_text(
        "Den rollen behöver minst ett team. Bara arbetsledare och administratörer kan vara utan team.")
    await expect(page.locator("#staff-rows tr")).to_have_count(1)
    assert await violations(page) == []
