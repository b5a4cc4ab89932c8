"""The supervisor overview (/staff/supervisor) in a real browser against a real server: every queue,
who is online with what load, the whole queue, and reassigning a waiting conversation to a person."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.browser.conftest import violations
from tests.browser.staff_pages import DESKTOP, PASSWORD, PHONE, VIEWPORT_IDS, VIEWPORTS, XSS, account, logged_in, problems
from tests.browser.test_staff_console import Clinic, clinic  # noqa: F401 (the fixture)
from tests.client import Staff, Visitor
from tests.conftest import Running, StaffFactory


async def supervisor_page(browser: Browser, server: Running, viewport: ViewportSize | None = None) -> Page:
    await account(server, "siv", ("supervisor",), ("reception",), "Siv Supervisor")
    page = await logged_in(browser, server, "siv", viewport or DESKTOP)
    await page.goto(server.base + "/staff/supervisor")
    await expect(page.locator("#content")).to_be_visible()
    return page


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_the_overview_with_waiting_conversations_and_online_staff_passes_axe(
    server: Running, browser: Browser, make_staff: StaffFactory, viewport: ViewportSize
) -> None:
    carl = await make_staff("carl", roles=("counsellor",), teams=("reception",))
    held = await Visitor.start(server.base, municipality="2080", topic="alcohol")
    assert (await carl.claim(held.id)).status_code == 200
    waiting = [await Visitor.start(server.base, municipality="2080", topic=topic) for topic in ("alcohol", "gambling")]
    await make_staff("dina", roles=("counsellor",), teams=("gambling",))

    page = await supervisor_page(browser, server, viewport)
    await expect(page.locator("#queue tr")).to_have_count(2)
    await expect(page.locator("#staff tr")).to_have_count(2)
    assert await violations(page) == []

    # The reassign dialog, with the server's refusal shown in it: the visitor left meanwhile.
    row = page.locator("#queue tr", has=page.locator("th", has_text=waiting[0].id[:8]))
    await row.get_by_role("button", name="Flytta").click()
    await expect(page.locator("#reassign")).to_be_visible()
    await expect(page.locator("#to-staff")).to_be_focused()
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post(f"/api/v1/conversations/{waiting[0].id}/close",
                            headers={"Authorization": f"Bearer {waiting[0].token}"})
        assert r.status_code == 200, r.text
    await page.check("#to-team")
    await page.click("#reassign-submit")
    await expect(page.locator("#reassign-error")).not_to_be_empty()
    assert await violations(page) == []
    assert problems(page) == []


async def test_supervisor_sees_the_queue_and_load_and_reassigns_a_conversation_to_a_counsellor(
    server: Running, browser: Browser, make_staff: StaffFactory
) -> None:
    carl = await make_staff("carl", roles=("counsellor",), teams=("reception",))
    first = await Visitor.start(server.base, municipality="2080", topic="alcohol")
    assert (await carl.claim(first.id)).status_code == 200
    waiting = await Visitor.start(server.base, municipality="2080", topic="alcohol")
    page = await supervisor_page(browser, server)

    # The team's queue: one waiting, its longest wait ticking; Carl online, available, with one chat.
    team = page.locator("#teams tr", has=page.locator("th", has_text="Mottagningen"))
    await expect(team.locator("td").nth(1)).to_have_text("1")
    wait_cell = team.locator("td").nth(2)
    first_wait = await wait_cell.inner_text()
    await expect(wait_cell).not_to_have_text(first_wait, timeout=3000)
    person = page.locator("#staff tr", has=page.locator("th", has_text="Carl"))
    await expect(person).to_contain_text("Ledig")
    await expect(person.locator("td").nth(2)).to_have_text("1 av 4")
    row = page.locator("#queue tr", has=page.locator("th", has_text=waiting.id[:8]))
    await expect(row).to_contain_text("Mottagningen")

    # Reassign it to Carl, with a note.
    await row.get_by_role("button", name="Flytta").click()
    await expect(page.locator("#reassign")).to_be_visible()
    await expect(page.locator("#reassign-staff")).to_contain_text("Carl (Ledig, 1 av 4)")
    await page.select_option("#reassign-staff", "carl")
    await page.fill("#reassign-note", "Ung person, vill prata om alkohol. Carl har plats.")
    await page.click("#reassign-submit")
    await expect(page.locator("#reassign")).to_be_hidden()
    await expect(page.locator("#live")).to_contain_text(f"Samtal {waiting.id[:8]} är flyttat till Carl")
    await expect(page.locator("#queue-empty")).to_be_visible()
    await expect(page.locator("#queue-heading")).to_be_focused()  # its row (and button) went with it
    await expect(person.locator("td").nth(2)).to_have_text("2 av 4", timeout=7000)

    # Carl holds it now: his socket follows it and the server says it is his.
    assert carl.ws is not None
    state = await carl.ws.expect("state", conversation_id=waiting.id)
    assert state["state"] == "active"
    r = await carl.http.get(f"/api/v1/staff/conversations/{waiting.id}/notes")
    assert r.status_code == 200
    assert any("Carl har plats" in (n.get("text") or "") for n in r.json()["notes"])
    assert problems(page) == []


async def test_the_overview_follows_the_queue_and_says_so_politely(
    server: Running, browser: Browser, make_staff: StaffFactory
) -> None:
    page = await supervisor_page(browser, server)
    await expect(page.locator("#queue-empty")).to_be_visible()
    await Visitor.start(server.base, municipality="2080", topic="alcohol")
    await expect(page.locator("#queue tr")).to_have_count(1, timeout=8000)
    await expect(page.locator("#live")).to_have_text("Just nu: 1 väntar, 0 inloggade.")
    await expect(page.locator("#live")).to_have_attribute("role", "status")

    # In English, everything drawn from data is redrawn in English too.
    await page.click("#lang")
    await expect(page.locator("h1")).to_have_text("Supervisor overview")
    await expect(page.locator("#queue td[data-label=Waited]")).to_have_count(1)
    await expect(page.locator("#queue button")).to_have_text("Reassign")


async def test_markup_in_a_display_name_is_shown_as_text(server: Running, browser: Browser) -> None:
    await account(server, "eve", ("counsellor",), ("reception",), XSS)
    online = Staff(server.base, "eve", PASSWORD)
    await online.login()
    await online.connect()
    try:
        page = await supervisor_page(browser, server)
        await expect(page.locator("#staff th")).to_have_text(XSS)
        await expect(page.locator("main img")).to_have_count(0)
        await expect(page.locator("body[data-pwned]")).to_have_count(0)
    finally:
        await online.aclose()


async def test_people_without_the_role_or_a_session_are_sent_on(server: Running, browser: Browser) -> None:
    page = await logged_in(browser, server, "")
    await page.goto(server.base + "/staff/supervisor")
    await expect(page.locator("#gate-link")).to_have_attribute("href", "/staff?next=/staff/supervisor")
    await expect(page.locator("#gate-link")).to_have_text("Logga in")
    await account(server, "rita", ("reception",), ("reception",))
    other = await logged_in(browser, server, "rita")
    await other.goto(server.base + "/staff/supervisor")
    await expect(other.locator("#gate-text")).to_have_text("Du behöver rollen arbetsledare.")
    await expect(other.locator("#gate-link")).to_have_attribute("href", "/staff")
    await expect(other.locator("#content")).to_be_hidden()


async def test_a_team_with_someone_waiting_and_nobody_online_or_past_its_target_is_raised(
    clinic: Clinic,  # noqa: F811 (the fixture imported above)
) -> None:
    # Tuesday 13:00, every team open. Nobody of the reception is online (the supervisor's page has no socket).
    await clinic.person("siv", roles=("supervisor",), teams=("reception",), name="Siv Supervisor")
    page = await logged_in(clinic.browser, clinic.server, "siv")
    await page.goto(clinic.server.base + "/staff/supervisor")
    await expect(page.locator("#content")).to_be_visible()
    await expect(page.locator("#attention")).to_be_hidden()  # nobody waits: nothing to raise

    await clinic.visitor("hej")
    banner = page.locator("#attention")
    await expect(banner).to_be_visible(timeout=8000)
    await expect(banner.locator("li")).to_have_text(
        ["Mottagningen, hela länet (exempel): 1 väntar och ingen i teamet är inloggad"])
    # The row says it in words and shape (a tag and a border), not colour alone; the other teams are not raised.
    reception = page.locator("#teams tr", has=page.locator("th", has_text="Mottagningen"))
    await expect(reception).to_have_class(re.compile(r"\brow--attention\b"))
    await expect(reception.locator("th")).to_contain_text("Behöver uppmärksamhet")
    await expect(page.locator("#teams tr.row--attention")).to_have_count(1)
    # Said at once to a screen reader, in the assertive region.
    await expect(page.locator("#attention-live")).to_have_attribute("aria-live", "assertive")
    await expect(page.locator("#attention-live")).to_contain_text("Behöver uppmärksamhet: Mottagningen")
    assert await violations(page) == []
    small = await logged_in(clinic.browser, clinic.server, "siv", PHONE)
    await small.goto(clinic.server.base + "/staff/supervisor")
    await expect(small.locator("#attention li")).to_have_count(1)
    assert await violations(small) == []

    # A reception counsellor logs in: nobody waits unseen any more, and the banner goes.
    await clinic.person("rut", teams=("reception",))
    rut = Staff(clinic.server.base, "rut", PASSWORD)
    await rut.login()
    await rut.connect()
    await expect(banner).to_be_hidden(timeout=8000)
    await expect(page.locator("#teams tr.row--attention")).to_have_count(0)

    # Past the reception's target (target_wait_min = 5 in dalarna.toml): raised again, for that reason.
    clinic.clock.advance(6 * 60)
    await expect(banner.locator("li")).to_have_text(
        [re.compile(r"^Mottagningen, hela länet \(exempel\): den som väntat längst har väntat \d+ min, mer än målet 5 min$")],
        timeout=8000)
    await expect(page.locator("#attention-live")).to_contain_text("mer än målet 5 min")

    # In English, and after a reload (the server decides, the page only shows it).
    await page.click("#lang")
    await expect(banner.locator("h2")).to_have_text("Needs attention")
    await expect(banner.locator("li")).to_have_text(
        [re.compile(r"^Mottagningen, hela länet \(exempel\): the longest wait is \d+ min, more than the target of 5 min$")])
    await page.reload()
    await expect(page.locator("#attention li")).to_have_count(1)
    await expect(reception.locator("th")).to_contain_text("Needs attention")
    await rut.aclose()
    assert problems(page) == []
