"""The administration page (/staff/admin) in a real browser against a real server: staff accounts,
canned answers, opening-hours overrides and the audit log, for an admin and for a team lead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect
from sqlalchemy import text

from chat.service import routing
from chat.settings import Settings
from tests.browser.conftest import violations
from tests.browser.staff_pages import (
    DESKTOP,
    PASSWORD,
    PHONE,
    VIEWPORT_IDS,
    VIEWPORTS,
    XSS,
    account,
    api_json,
    logged_in,
    problems,
)
from tests.conftest import Running, StaffFactory, serve

TEAM = "reception"
NEW_PASSWORD = "a brand new passphrase"


async def admin_page(browser: Browser, server: Running, viewport: ViewportSize | None = None) -> Page:
    await account(server, "ada", ("admin",), (), "Ada Admin")
    page = await logged_in(browser, server, "ada", viewport or DESKTOP)
    await page.goto(server.base + "/staff/admin")
    await expect(page.locator("body[data-ready=true]")).to_have_count(1)
    return page


async def login_status(server: Running, username: str, password: str) -> int:
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as http:
        r = await http.post("/api/v1/staff/login", json={"username": username, "password": password})
        return r.status_code


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_every_admin_section_passes_axe_with_data_and_with_a_form_error(
    server: Running, browser: Browser, viewport: ViewportSize
) -> None:
    await account(server, "bo", ("counsellor", "lead"), (TEAM,), "Bo Berg")
    page = await admin_page(browser, server, viewport)
    for body in ({"team": TEAM, "language": "sv", "title": "Hälsning", "body": "Hej! Vad vill du prata om?"},
                 {"team": "gambling", "language": "en", "title": "Greeting", "body": "Hi, what is on your mind?"}):
        assert (await api_json(page, "POST", server, "/api/v1/staff/canned", body))[0] == 201
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    status, _ = await api_json(page, "POST", server, "/api/v1/admin/hours",
                               {"date": tomorrow, "team": None, "spans": ["10:00-12:00"], "label": "Kort dag"})
    assert status == 201
    await page.reload()
    await expect(page.locator("#staff-rows tr")).to_have_count(2)
    await expect(page.locator("#canned-rows tr")).to_have_count(2)
    await expect(page.locator("#hours-rows tr")).to_have_count(1)
    await expect(page.locator("#audit-rows tr").first).to_be_visible()
    assert await violations(page) == []

    # A form error from the server in each form with one: the account exists already.
    await page.fill("#create-username", "bo")
    await page.fill("#create-name", "Bo igen")
    await page.fill("#create-password", "long enough password")
    await page.check("#create-role-counsellor")
    await page.click("#create-submit")
    await expect(page.locator("#create-error")).not_to_be_empty()
    # The hours form: that date already has its own hours for every team.
    await page.fill("#hours-date", tomorrow)
    await page.click("#hours-submit")
    await expect(page.locator("#hours-error")).not_to_be_empty()
    assert await violations(page) == []

    # The canned-answer dialog with its own error (nothing filled in).
    await page.click("#canned-add")
    await expect(page.locator("#canned")).to_be_visible()
    await page.click("#canned-submit")
    await expect(page.locator("#canned-error")).to_have_text("Skriv en rubrik.")
    await expect(page.locator("#canned-form-title")).to_be_focused()
    assert await violations(page) == []
    await page.keyboard.press("Escape")
    await expect(page.locator("#canned-add")).to_be_focused()  # focus comes back to what opened the dialog
    assert problems(page) == []


async def test_admin_creates_an_account_that_logs_in_deactivation_logs_them_out_and_a_reset_works(
    server: Running, browser: Browser
) -> None:
    page = await admin_page(browser, server)
    await page.fill("#create-username", "bea")
    await page.fill("#create-name", "Bea Bengtsson")
    await page.fill("#create-password", "short")
    await page.click("#create-submit")
    await expect(page.locator("#create-error")).to_have_text("Lösenordet måste ha minst 10 tecken.")
    await expect(page.locator("#create-password")).to_have_attribute("aria-invalid", "true")
    await page.click("#create-reveal")
    await expect(page.locator("#create-password")).to_have_attribute("type", "text")
    await expect(page.locator("#create-reveal")).to_have_attribute("aria-pressed", "true")
    await page.fill("#create-password", PASSWORD)
    await page.check("#create-role-counsellor")
    await page.check(f"#create-team-{TEAM}")
    await page.click("#create-submit")
    await expect(page.locator("#staff-status")).to_have_text("Kontot bea är skapat.")
    row = page.locator("#staff-rows tr", has=page.locator("th", has_text="bea"))
    await expect(row).to_contain_text("Bea Bengtsson")
    await expect(row).to_contain_text("Behandlare")

    # Bea logs in at /staff in her own browser.
    bea = await logged_in(browser, server, "")
    await bea.goto(server.base + "/staff")
    await bea.fill("#username", "bea")
    await bea.fill("#password", PASSWORD)
    await bea.click("#login-button")
    await expect(bea.locator("#console")).to_be_visible()

    # The admin deactivates her (after confirming): her open console loses its session.
    await row.get_by_role("button", name="Inaktivera").click()
    await expect(page.locator("#confirm")).to_be_visible()
    await expect(page.locator("#confirm-text")).to_contain_text("bea")
    await page.click("#confirm-yes")
    await expect(page.locator("#staff-status")).to_contain_text("Kontot bea är inaktiverat")
    await expect(row.locator("td").nth(3)).to_have_text("Nej")
    await expect(row.get_by_role("button", name="Aktivera igen")).to_be_focused()
    await expect(bea.locator("#relogin-dialog:visible, #login:visible").first).to_be_visible(timeout=10_000)
    assert await login_status(server, "bea", PASSWORD) == 401

    # Reactivated and given a new password: the new one works, the old one no longer does.
    await row.get_by_role("button", name="Aktivera igen").click()
    await page.click("#confirm-yes")
    await expect(page.locator("#staff-status")).to_have_text("Kontot bea är aktiverat igen.")
    await row.get_by_role("button", name="Nytt lösenord").click()
    await expect(page.locator("#password")).to_be_visible()
    await page.fill("#password-new", NEW_PASSWORD)
    await page.click("#password-submit")
    await expect(page.locator("#staff-status")).to_have_text("Lösenordet för bea är bytt.")
    await expect(row.get_by_role("button", name="Nytt lösenord")).to_be_focused()
    assert await login_status(server, "bea", PASSWORD) == 401
    assert await login_status(server, "bea", NEW_PASSWORD) == 200

    # Editing roles and display name.
    await row.get_by_role("button", name="Ändra").click()
    await page.fill("#edit-name", "Bea B.")
    await page.check("#edit-role-lead")
    await page.click("#edit-submit")
    await expect(page.locator("#staff-status")).to_have_text("Kontot bea är ändrat.")
    await expect(row).to_contain_text("Teamledare")
    await expect(row).to_contain_text("Bea B.")
    assert problems(page) == []


async def test_a_lead_edits_their_teams_canned_answer_and_a_counsellor_of_the_team_gets_it(
    server: Running, browser: Browser, make_staff: StaffFactory
) -> None:
    await account(server, "ada", ("admin",), ())
    admin = await logged_in(browser, server, "ada")
    status, mine = await api_json(admin, "POST", server, "/api/v1/staff/canned",
                                  {"team": TEAM, "language": "sv", "title": "Hälsning", "body": "Hej!"})
    assert status == 201
    status, theirs = await api_json(admin, "POST", server, "/api/v1/staff/canned",
                                    {"team": "gambling", "language": "sv", "title": "Spel", "body": "Om spel."})
    assert status == 201

    await account(server, "lena", ("lead", "counsellor"), (TEAM,), "Lena Lead")
    page = await logged_in(browser, server, "lena")
    await page.goto(server.base + "/staff/admin")
    await expect(page.locator("body[data-ready=true]")).to_have_count(1)
    # A lead sees the canned answers only: no accounts, hours or audit log.
    for hidden in ("#staff-section", "#hours-section", "#audit-section"):
        await expect(page.locator(hidden)).to_be_hidden()
    row = page.locator(f"#canned-rows tr[data-team={TEAM}]")
    await expect(row).to_have_count(1)
    # Another team's answer is not editable here (not listed, or listed without buttons).
    await expect(page.locator("#canned-rows tr[data-team=gambling] button")).to_have_count(0)
    status, _ = await api_json(page, "PUT", server, f"/api/v1/staff/canned/{theirs['id']}",
                               {"title": "x", "body": "y", "language": "sv"})
    assert status == 403

    await row.get_by_role("button", name="Ändra").click()
    await expect(page.locator("#canned-form-title")).to_have_value("Hälsning")
    await page.fill("#canned-form-title", "Välkommen")
    await page.fill("#canned-form-body", "Hej och välkommen! Vad vill du prata om?")
    await page.click("#canned-submit")
    await expect(page.locator("#canned-status")).to_have_text("Snabbsvaret ”Välkommen” är ändrat.")
    await expect(row.locator("th")).to_have_text("Välkommen")

    counsellor = await make_staff("carl", roles=("counsellor",), teams=(TEAM,), connect=False)
    r = await counsellor.http.get("/api/v1/staff/canned")
    assert r.status_code == 200
    found = {c["id"]: c for c in r.json()["canned"]}
    assert found[mine["id"]]["title"] == "Välkommen"
    assert found[mine["id"]]["body"] == "Hej och välkommen! Vad vill du prata om?"
    assert problems(page) == []


@pytest.fixture
async def open_server(settings: Settings) -> AsyncIterator[Running]:
    """A server whose clock is moved to a moment when the team is open (weekday morning, Stockholm)."""
    shift = [timedelta(0)]
    async with serve(settings, clock=lambda: datetime.now(UTC) + shift[0]) as running:
        region = running.ctx.region
        now = datetime.now(UTC)
        local_now = now.astimezone(ZoneInfo(region.timezone))
        for days in range(1, 21):
            moment = (local_now + timedelta(days=days)).replace(hour=10, minute=30, second=0, microsecond=0)
            if routing.team_open(region, TEAM, moment.astimezone(UTC)):
                shift[0] = moment.astimezone(UTC) - now
                break
        else:
            pytest.fail(f"{TEAM} is never open at 10:30 in the coming three weeks")
        yield running


async def team_open(page: Page, server: Running) -> bool:
    status, data = await api_json(page, "GET", server, "/api/v1/staff/teams")
    assert status == 200
    return bool(next(t for t in data["teams"] if t["id"] == TEAM)["open_now"])


async def test_closed_all_day_override_closes_the_team_and_removing_it_reopens_and_the_audit_log_says_so(
    open_server: Running, browser: Browser
) -> None:
    server = open_server
    page = await admin_page(browser, server)
    assert await team_open(page, server)
    today = server.ctx.clock().astimezone(ZoneInfo(server.ctx.region.timezone)).date().isoformat()

    await page.fill("#hours-date", today)
    await page.select_option("#hours-team", TEAM)
    await page.check("#hours-open")
    await page.fill("#hours-spans", "9-12")
    await page.click("#hours-submit")
    await expect(page.locator("#hours-error")).to_contain_text("09:00-12:00")
    await page.check("#hours-closed")
    await page.fill("#hours-label", "Personaldag")
    await page.click("#hours-submit")
    await expect(page.locator("#hours-status")).to_contain_text("är tillagd")
    row = page.locator("#hours-rows tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Stängt hela dagen")
    await expect(row).to_contain_text("Personaldag")
    assert not await team_open(page, server)

    await row.get_by_role("button", name="Ta bort").click()
    await page.click("#confirm-yes")
    await expect(page.locator("#hours-status")).to_contain_text("är borttagen")
    await expect(page.locator("#hours-empty")).to_be_visible()
    assert await team_open(page, server)

    audit = page.locator("#audit-rows")
    await expect(audit.locator("tr[data-action=hours_override_added]")).to_have_count(1)
    await expect(audit.locator("tr[data-action=hours_override_removed]")).to_contain_text("Avvikande öppettid borttagen")
    await expect(audit.locator("tr[data-action=hours_override_added]")).to_contain_text("ada")
    assert problems(page) == []


async def test_closing_all_teams_over_a_teams_own_opening_warns_and_the_visitor_page_then_says_closed(
    open_server: Running, browser: Browser
) -> None:
    """The reported case: reception has its own hours today; the admin then closes all teams all day. The
    page warns that the reception's hours no longer apply (the closure wins), marks that row, and the young
    person's page says closed, not open."""
    server = open_server
    page = await admin_page(browser, server)
    today = server.ctx.clock().astimezone(ZoneInfo(server.ctx.region.timezone)).date().isoformat()
    await expect(page.locator("#hours-rule")).to_contain_text("utom när alla team är stängda hela dagen")
    await page.fill("#hours-date", today)
    await page.select_option("#hours-team", TEAM)
    await page.check("#hours-open")
    await page.fill("#hours-spans", "10:00-14:00")
    await page.click("#hours-submit")
    await expect(page.locator("#hours-status")).to_contain_text("är tillagd")
    await expect(page.locator("#hours-warning")).to_be_hidden()

    await page.fill("#hours-date", today)
    await page.click("#hours-submit")  # all teams, closed all day

    warning = page.locator("#hours-warning")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("har redan en annan avvikelse")
    await expect(warning).to_contain_text("De egna tiderna för Mottagningen")
    await expect(warning).to_contain_text("10:00-14:00")
    await expect(warning).to_contain_text("alla team är stängda hela dagen, och det går före")
    reception_row = page.locator("#hours-rows tr", has_text="10:00-14:00")
    await expect(reception_row).to_contain_text("Gäller inte: alla team är stängda hela dagen.")
    await expect(page.locator("#hours-rows tr .not-applied")).to_have_count(1)
    assert await violations(page) == []
    assert not await team_open(page, server)

    visitor = await page.context.new_page()
    await visitor.goto(server.base + "/")
    await expect(visitor.locator("#start-note")).to_contain_text("Chatten är stängd just nu")
    await expect(visitor.locator("#start-hours")).not_to_contain_text("Vi har öppet nu")
    await visitor.close()
    assert problems(page) == []


async def test_the_audit_page_names_what_was_changed(server: Running, browser: Browser) -> None:
    """Not "Snabbsvar skapat 3": the canned answer's title and team, the person's name and username, the
    override's date and team; a deleted canned answer keeps its title."""
    page = await admin_page(browser, server)
    status, kept = await api_json(page, "POST", server, "/api/v1/staff/canned",
                                  {"team": TEAM, "language": "sv", "title": "Hälsning", "body": "Hej! Vad vill du prata om?"})
    assert status == 201
    status, gone = await api_json(page, "POST", server, "/api/v1/staff/canned",
                                  {"team": TEAM, "language": "sv", "title": "Gammalt svar", "body": "Text"})
    assert status == 201
    assert (await api_json(page, "DELETE", server, f"/api/v1/staff/canned/{gone['id']}"))[0] == 200
    assert (await api_json(page, "POST", server, "/api/v1/admin/staff",
                           {"username": "cleo", "display_name": "Cleo Carlsson", "password": "a long enough one",
                            "roles": ["counsellor"], "teams": ["south"]}))[0] == 201
    assert (await api_json(page, "POST", server, "/api/v1/admin/hours",
                           {"date": "2099-12-24", "team": None, "spans": [], "label": "Julafton"}))[0] == 201
    assert (await api_json(page, "POST", server, "/api/v1/admin/hours",
                           {"date": "2099-12-23", "team": "north", "spans": ["10:00-12:00"]}))[0] == 201

    await page.click("#audit-refresh")

    rows = page.locator("#audit-rows")
    created = rows.locator("tr[data-action=canned_created]")
    await expect(created.filter(has_text="”Hälsning” – Mottagningen, hela länet (exempel)")).to_have_count(1)
    await expect(rows.locator("tr[data-action=canned_deleted] td").last).to_have_text("”Gammalt svar”")
    await expect(rows.locator("tr[data-action=staff_created]")).to_contain_text("Cleo Carlsson (cleo)")
    hours = rows.locator("tr[data-action=hours_override_added]")
    await expect(hours.filter(has_text="24 december 2099 – Alla team")).to_have_count(1)
    await expect(hours.filter(has_text="23 december 2099 – Ambulanta teamet norr, Mora (exempel)")).to_have_count(1)
    await expect(created.filter(has_text="Hälsning").locator("td").last).not_to_contain_text(str(kept["id"]))
    assert await violations(page) == []
    assert problems(page) == []


async def test_markup_in_a_display_name_and_a_canned_title_is_shown_as_text(server: Running, browser: Browser) -> None:
    await account(server, "eve", ("counsellor",), (TEAM,), XSS)
    page = await admin_page(browser, server, PHONE)
    assert (await api_json(page, "POST", server, "/api/v1/staff/canned",
                           {"team": TEAM, "language": "sv", "title": XSS, "body": XSS}))[0] == 201
    await page.reload()
    await expect(page.locator("#staff-rows tr", has_text="eve")).to_contain_text(XSS)
    await expect(page.locator("#canned-rows th")).to_have_text(XSS)
    await expect(page.locator("main img")).to_have_count(0)
    await expect(page.locator("body[data-pwned]")).to_have_count(0)


async def test_people_without_the_role_or_a_session_are_sent_on(server: Running, browser: Browser) -> None:
    page = await logged_in(browser, server, "")
    await page.goto(server.base + "/staff/admin")
    link = page.locator("#gate-link")
    await expect(link).to_have_attribute("href", "/staff?next=/staff/admin")
    await account(server, "rita", ("reception",), (TEAM,))
    other = await logged_in(browser, server, "rita")
    await other.goto(server.base + "/staff/admin")
    await expect(other.locator("#gate-text")).to_have_text("Du behöver rollen administratör, teamledare eller granskare.")
    await expect(other.locator("#content")).to_be_hidden()


async def test_the_audit_page_says_whether_the_log_chain_is_intact(server: Running, browser: Browser) -> None:
    """Intact: a quiet note with how many entries were checked. After someone edits an entry in the
    database: an error naming the entry where the chain breaks."""
    page = await admin_page(browser, server)
    assert (await api_json(page, "POST", server, "/api/v1/admin/staff",
                           {"username": "cleo", "display_name": "Cleo Carlsson", "password": "a long enough one",
                            "roles": ["counsellor"], "teams": ["south"]}))[0] == 201
    await page.click("#audit-refresh")
    chain = page.locator("#audit-chain")
    # Two entries: the admin's login, then the new account.
    await expect(chain).to_have_text("Loggkedjan är obruten: 2 poster kontrollerade, inga fel.")
    await expect(chain).to_have_attribute("data-ok", "true")

    async with server.ctx.engine.begin() as conn:
        await conn.execute(text("UPDATE audit_log SET target = 'mallory' WHERE seq = 2"))
    await page.click("#audit-refresh")

    await expect(chain).to_have_attribute("data-ok", "false")
    await expect(chain).to_contain_text("Loggkedjan är bruten vid post 2")
    assert await violations(page) == []
    assert problems(page) == []
