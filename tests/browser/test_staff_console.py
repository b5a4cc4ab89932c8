"""The staff console (/staff) in a real browser against a real server: claiming races, transfer to an
ambulant colleague on a phone, reload, text that stays text, accessibility, session expiry, login and logout.

The server runs the bundled Dalarna region with its clock on a Tuesday at 13:00, when every team is open,
so the ambulant team's offers go out; the clock only moves forward (session expiry)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, Route, ViewportSize, expect

from chat.service import accounts
from chat.settings import Settings
from chat.store import conversations as conv_store
from tests.browser.conftest import PHONE, violations
from tests.client import Staff, Visitor
from tests.conftest import Running, serve
from tests.triage_e2e.conftest import RECEPTION, RISK_TEXT, TUESDAY_1300, Clock

PASSWORD = "correct horse battery"
DESKTOP = ViewportSize(width=1280, height=860)
PHONE_SIZE = ViewportSize(width=PHONE["width"], height=PHONE["height"])


@dataclass
class Clinic:
    server: Running
    clock: Clock
    browser: Browser
    pages: list[Page] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    visitors: list[Visitor] = field(default_factory=list)
    staff: list[Staff] = field(default_factory=list)  # staff clients a test opened beside the browsers

    async def person(self, username: str, roles: tuple[str, ...] = ("reception",),
                     teams: tuple[str, ...] = ("reception",), name: str | None = None) -> int:
        return await accounts.add_staff(self.server.ctx, username, PASSWORD, list(roles), list(teams),
                                        name or username.title())

    async def page(self, viewport: ViewportSize = DESKTOP) -> Page:
        context = await self.browser.new_context(viewport=viewport, locale="sv-SE")
        page = await context.new_page()
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.pages.append(page)
        return page

    async def console(self, username: str, viewport: ViewportSize = DESKTOP, page: Page | None = None) -> Page:
        """A logged-in console whose socket has said welcome."""
        page = page or await self.page(viewport)
        await page.goto(self.server.base + "/staff")
        await login(page, username)
        await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
        return page

    async def visitor(self, say: str | None = None) -> Visitor:
        v = await Visitor.start(self.server.base, **RECEPTION)
        await v.connect()
        self.visitors.append(v)
        if say:
            await v.say(say, f"v-{len(self.visitors)}-1")
        return v


async def login(page: Page, username: str, password: str = PASSWORD) -> None:
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-button")


def real_errors(errors: list[str]) -> list[str]:
    # The browser logs every 4xx it is answered (a wrong password, a lost claim): those are expected.
    return [e for e in errors if "Failed to load resource" not in e]


@pytest.fixture
async def clinic(settings: Settings, browser: Browser) -> AsyncIterator[Clinic]:
    clock = Clock(TUESDAY_1300)
    async with serve(settings, clock=clock) as server:
        c = Clinic(server, clock, browser)
        try:
            yield c
        finally:
            for v in c.visitors:
                if v.ws is not None:
                    with contextlib.suppress(Exception):
                        await v.ws.close()
            for s in c.staff:
                with contextlib.suppress(Exception):
                    await s.aclose()
            for p in c.pages:
                with contextlib.suppress(Exception):
                    await p.context.close()
    assert real_errors(c.errors) == []


def queue_row(page: Page, conversation_id: str) -> Locator:
    return page.locator(f'#queue li[data-id="{conversation_id}"]')


async def claim(page: Page, conversation_id: str) -> None:
    await queue_row(page, conversation_id).get_by_role("button", name="Ta samtalet").click()
    await expect(page.locator(f"#tab-{conversation_id}")).to_have_attribute("aria-selected", "true")


async def test_two_staff_race_for_one_conversation_and_exactly_one_holds_it(clinic: Clinic) -> None:
    anna_id = await clinic.person("anna")
    bert_id = await clinic.person("bert")
    anna = await clinic.console("anna")
    bert = await clinic.console("bert")
    v = await clinic.visitor("hej")
    for page in (anna, bert):
        await expect(queue_row(page, v.id)).to_be_visible()

        # Both requests leave before either is answered, so the server decides the race.
        async def held_back(route: Route) -> None:
            await asyncio.sleep(0.3)
            await route.continue_()

        await page.route("**/claim", held_back)

    buttons = [queue_row(p, v.id).get_by_role("button", name="Ta samtalet") for p in (anna, bert)]
    await asyncio.gather(*(b.click() for b in buttons))

    async def holder() -> int | None:
        for _ in range(100):
            conv = await conv_store.get(clinic.server.ctx.engine, v.id)
            if conv is not None and conv.assigned_staff_id is not None:
                return conv.assigned_staff_id
            await asyncio.sleep(0.05)
        return None

    held_by = await holder()
    assert held_by in (anna_id, bert_id)
    winner, loser = (anna, bert) if held_by == anna_id else (bert, anna)
    await expect(winner.locator(f"#tab-{v.id}")).to_be_visible()
    await expect(loser.locator("#notice")).to_have_text("Någon annan tog samtalet precis.")
    await expect(queue_row(loser, v.id)).to_have_count(0)
    await expect(loser.locator("#tabs [role=tab]")).to_have_count(0)
    # The visitor is with the winner.
    assert v.ws is not None
    state = await v.ws.expect("state", state="active")
    assert state["staff"] == ("Anna" if winner is anna else "Bert")


async def test_reception_transfers_to_the_ambulant_team_and_a_member_on_a_phone_answers(clinic: Clinic) -> None:
    await clinic.person("rita")
    await clinic.person("amir", roles=("ambulant",), teams=("south",))
    rita = await clinic.console("rita")
    amir = await clinic.console("amir", viewport=PHONE_SIZE)
    v = await clinic.visitor("jag bor i Borlänge och vill träffa någon")

    await claim(rita, v.id)
    await rita.fill("#text", "Hej! Jag kopplar dig till teamet som kan träffa dig.")
    await rita.press("#text", "Enter")
    assert (await _staff_msg(v))["text"].startswith("Hej!")

    # The transfer dialog: an ambulant team needs a note; focus comes back to the button after.
    await rita.click("#transfer")
    dialog = rita.locator("#transfer-dialog")
    await expect(dialog).to_be_visible()
    await expect(rita.locator("#transfer-target option[value='team:south']")).to_have_count(1)
    await rita.select_option("#transfer-target", "team:south")
    await dialog.get_by_role("button", name="Lämna över").click()
    await expect(rita.locator("#transfer-error")).to_have_text("Skriv en anteckning till det ambulanta teamet.")
    await rita.fill("#transfer-note", "Vill träffas i Borlänge efter skolan, 16 år.")
    await dialog.get_by_role("button", name="Lämna över").click()
    await expect(dialog).to_be_hidden()
    await expect(rita.locator(f"#tab-{v.id}")).to_have_count(0)  # released: the tab closes

    # The ambulant member, on a phone: the offer, accepted; the note and the history are there.
    offer = amir.locator(f'#offers li[data-id="{v.id}"]')
    await expect(offer).to_be_visible(timeout=10_000)
    await offer.get_by_role("button", name="Ta samtalet").click()
    await expect(amir.locator("#conv")).to_be_visible()
    await expect(amir.locator("#notes")).to_contain_text("Vill träffas i Borlänge efter skolan, 16 år.")
    await expect(amir.locator("#notes")).to_contain_text("syns inte för besökaren")
    await expect(amir.locator("#log")).to_contain_text("jag bor i Borlänge och vill träffa någon")
    await expect(amir.locator("#log")).to_contain_text("Jag kopplar dig till teamet")
    await amir.fill("#text", "Hej, Amir här från ambulanta teamet.")
    await amir.press("#text", "Enter")
    answer = await _staff_msg(v, author="Amir")
    assert answer["text"] == "Hej, Amir här från ambulanta teamet."
    await expect(amir.locator(".msg--mine[data-state=sent]").last).to_contain_text("Amir här")

    # Phone size: nothing scrolls sideways, every visible button is a touch target.
    assert await amir.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    small = await amir.evaluate(
        "[...document.querySelectorAll('button, select, a[href]')].filter(e => e.offsetParent)"
        ".map(e => [e.id || e.textContent.trim(), Math.round(e.getBoundingClientRect().height)])"
        ".filter(([, h]) => h < 44)"
    )
    assert small == []

    # ...and hands it back to reception from the phone, with a note that reception gets.
    await amir.click("#transfer")
    await expect(amir.locator("#transfer-dialog")).to_be_visible()
    await amir.select_option("#transfer-target", "team:reception")
    await amir.fill("#transfer-note", "Bokade träff torsdag; hon vill ha kvar chatten med mottagningen.")
    await amir.locator("#transfer-dialog").get_by_role("button", name="Lämna över").click()
    await expect(amir.locator(f"#tab-{v.id}")).to_have_count(0)
    back = rita.locator(f'#queue li[data-id="{v.id}"]')
    await expect(back).to_be_visible()
    await back.get_by_role("button", name="Ta samtalet").click()
    await expect(rita.locator("#notes")).to_contain_text("Bokade träff torsdag")


async def _staff_msg(v: Visitor, author: str | None = None) -> dict[str, Any]:
    """The next message from staff (by that author) the visitor receives."""
    assert v.ws is not None
    while True:
        frame = await v.ws.expect("msg")
        if frame["from"] == "staff" and (author is None or frame["author"] == author):
            return frame


async def test_a_reload_restores_every_tab_message_and_draft(clinic: Clinic) -> None:
    await clinic.person("anna")
    anna = await clinic.console("anna")
    first = await clinic.visitor("första frågan")
    second = await clinic.visitor("andra frågan")
    await claim(anna, first.id)
    await anna.fill("#text", "svar på första")
    await anna.press("#text", "Enter")
    await expect(anna.locator(".msg--mine[data-state=sent]")).to_have_count(1)
    await claim(anna, second.id)
    await second.say("mer från andra", "v2-2")
    await expect(anna.locator("#log")).to_contain_text("mer från andra")
    await anna.fill("#text", "ett utkast som inte är skickat")

    await anna.reload()
    await expect(anna.locator("#console")).to_have_attribute("data-conn", "open")
    await expect(anna.locator("#tabs [role=tab]")).to_have_count(2)
    await expect(anna.locator(f"#tab-{second.id}")).to_have_attribute("aria-selected", "true")
    await expect(anna.locator("#text")).to_have_value("ett utkast som inte är skickat")
    await expect(anna.locator("#log .msg__text")).to_have_text(["andra frågan", "mer från andra"])

    # Arrow keys move between the tabs (WAI-ARIA tabs) and open the other conversation.
    await anna.focus(f"#tab-{second.id}")
    await anna.keyboard.press("ArrowLeft")
    await expect(anna.locator(f"#tab-{first.id}")).to_be_focused()
    await expect(anna.locator(f"#tab-{first.id}")).to_have_attribute("aria-selected", "true")
    await expect(anna.locator("#log .msg__text")).to_have_text(["första frågan", "svar på första"])
    await expect(anna.locator("#text")).to_have_value("")
    await anna.keyboard.press("End")
    await expect(anna.locator("#text")).to_have_value("ett utkast som inte är skickat")

    # Unread messages in the other tab are counted in its name; the visitor's read mark shows as "Läst".
    await first.say("är du kvar?", "v1-2")
    await expect(anna.locator(f"#tab-{first.id}")).to_have_attribute("aria-label", re.compile("1 ny$"))
    assert first.ws is not None
    await first.ws.send(type="read", seq=2)
    await anna.keyboard.press("Home")
    await expect(anna.locator(".msg--mine .msg__status")).to_have_text("Läst")
    await expect(anna.locator(f"#tab-{first.id}")).not_to_have_attribute("aria-label", re.compile("nya"))


XSS = ['<img src=x onerror="window.__pwned=1">', "<script>window.__pwned=2</script>", '"><svg onload="window.__pwned=3">']


async def test_markup_from_visitors_colleagues_and_notes_stays_text(clinic: Clinic) -> None:
    await clinic.person("xena", name=XSS[2])
    await clinic.person("yrsa", name=XSS[0])
    colleague = Staff(clinic.server.base, "yrsa", PASSWORD)  # online: listed in the transfer dialog
    await colleague.login()
    await colleague.connect()
    page = await clinic.console("xena")
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    v = await clinic.visitor(XSS[0])
    await v.say(XSS[1], "x2")
    await claim(page, v.id)
    await page.fill("#text", XSS[2])
    await page.press("#text", "Enter")
    await page.fill("#note-text", XSS[1] + XSS[2])
    await page.click("#note-form button[type=submit]")

    log = page.locator("#log")
    for text in XSS:
        await expect(log).to_contain_text(text)
    await expect(page.locator("#notes")).to_contain_text(XSS[1] + XSS[2])
    await expect(page.locator("#notes")).to_contain_text(XSS[2])  # the author's name
    await expect(page.locator("#who")).to_have_text(XSS[2])
    await page.click("#transfer")
    await expect(page.locator("#transfer-target")).to_contain_text(XSS[0])
    await page.keyboard.press("Escape")
    await expect(page.locator("#transfer-dialog")).to_be_hidden()
    await expect(page.locator("#transfer")).to_be_focused()  # focus back where it was

    await page.click("#concern")
    await page.fill("#concern-note", XSS[0])
    await page.locator("#concern-dialog").get_by_role("button", name="Registrera anmälan").click()
    await expect(page.locator("#notice")).to_have_text("Anmälan om oro är registrerad.")
    await page.click("#concern")
    await expect(page.locator("#concern-list")).to_contain_text(XSS[0])
    await expect(page.locator("#concern-list")).to_contain_text(XSS[2])  # who reported it
    await page.keyboard.press("Escape")

    assert await page.locator("body img, body svg, body iframe").count() == 0
    assert await page.locator("script").count() == 1  # the page's own module
    assert await page.evaluate("window.__pwned") is None
    assert dialogs == []
    await colleague.aclose()


async def test_login_queue_and_conversation_views_have_no_wcag_violations(clinic: Clinic) -> None:
    await clinic.person("anna")
    page = await clinic.page()
    await page.goto(clinic.server.base + "/staff")
    await login(page, "anna", "wrong password")
    await expect(page.locator("#login-error")).to_have_text("Fel användarnamn eller lösenord.")
    assert await violations(page) == []

    calm = await clinic.visitor("en fråga om alkohol")
    await login(page, "anna")
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    await expect(queue_row(page, calm.id)).to_be_visible()
    # A new urgent conversation: highlighted, in words too, and announced assertively.
    worried = await clinic.visitor()
    await worried.say(RISK_TEXT, "risk-1")
    urgent = queue_row(page, worried.id)
    await expect(urgent).to_have_class("qrow qrow--urgent")
    await expect(urgent).to_contain_text("BRÅDSKANDE")
    await expect(page.locator("#urgent-live")).to_contain_text("Brådskande samtal i kön")
    await expect(page.locator("#queue li").first).to_have_attribute("data-id", worried.id)  # most urgent first
    assert await violations(page) == []

    await claim(page, worried.id)
    assert worried.ws is not None
    await worried.ws.send(type="screening", instrument="audit", answers=[2, 2, 1, 1, 0, 0, 0, 0, 0, 0])
    await worried.ws.expect("screening_result")
    await expect(page.locator("#screening")).to_contain_text("AUDIT: 6 av 40 poäng, låg risk")
    await page.fill("#text", "Hej, jag finns här. Är du säker just nu?")
    await page.press("#text", "Enter")
    await page.fill("#note-text", "Risksignal, har frågat om säkerhet.")
    await page.click("#note-form button[type=submit]")
    await expect(page.locator("#notes li")).to_have_count(1)
    await page.click("#crisis-toggle")
    await expect(page.locator("#crisis-list a[href='tel:112']")).to_be_visible()
    assert await violations(page) == []

    await page.click("#transfer")
    await expect(page.locator("#transfer-target option[value='team:south']")).to_have_count(1)
    assert await violations(page) == []
    await page.keyboard.press("Escape")
    await page.click("#close")
    await expect(page.locator("#outcomes input[type=radio]")).to_have_count(7)
    assert await violations(page) == []
    await page.keyboard.press("Escape")

    await page.set_viewport_size(PHONE_SIZE)
    assert await violations(page) == []
    await page.click("#view-queue")
    await expect(queue_row(page, calm.id)).to_be_visible()
    assert await violations(page) == []


async def test_an_expired_session_keeps_the_console_and_the_draft_and_continues_after_login(clinic: Clinic) -> None:
    await clinic.person("anna")
    page = await clinic.console("anna")
    v = await clinic.visitor("hej")
    await claim(page, v.id)
    await page.fill("#note-text", "en anteckning")
    await page.fill("#text", "ett utkast före utgången")
    assert v.ws is not None
    await v.ws.expect("typing", on=True)  # every frame the page sent so far was handled before the clock moves

    # Over HTTP: the session has run out when the note is saved (before the composer's "stopped typing").
    clinic.clock.advance(11 * 3600)
    # Submitted by script, not a click: on a slow run the composer's "stopped typing" frame can meet the expiry
    # first and open the dialog, which would then cover the button. Either way the same dialog must follow.
    await page.locator("#note-form").evaluate("form => form.requestSubmit()")
    dialog = page.locator("#relogin-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#relogin-reason")).to_have_text("Din inloggning har gått ut. Logga in igen.")
    await expect(page.locator("#relogin-username")).to_have_value("anna")
    await expect(page.locator("#relogin-password")).to_be_focused()
    await page.fill("#relogin-password", PASSWORD)
    await page.press("#relogin-password", "Enter")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    await expect(page.locator("#text")).to_have_value("ett utkast före utgången")
    await expect(page.locator("#note-text")).to_have_value("en anteckning")
    await page.press("#text", "Enter")
    assert (await _staff_msg(v))["text"] == "ett utkast före utgången"
    # The page has its ack (it gets no echo of its own message, so it sends no read mark for it either): every
    # frame about this message was handled before the clock moves.
    await expect(page.locator(".msg--mine[data-state=sent]")).to_have_count(1)

    # Over the socket: the first frame after expiry (typing) is refused and closed with 4401.
    clinic.clock.advance(11 * 3600)
    await page.fill("#text", "skrivet efter utgången")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#relogin-reason")).to_have_text("Din inloggning har gått ut. Logga in igen.")
    await expect(page.locator("#console")).to_have_attribute("data-conn", "ended")
    await page.fill("#relogin-password", PASSWORD)
    await page.press("#relogin-password", "Enter")
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    await expect(page.locator("#text")).to_be_focused()
    await page.press("#text", "Enter")
    assert (await _staff_msg(v))["text"] == "skrivet efter utgången"
    await expect(page.locator(".msg--mine[data-state=sent]")).to_have_count(2)
    await expect(page.locator(f"#tab-{v.id}")).to_have_attribute("aria-selected", "true")


async def test_login_errors_are_plain_and_logout_ends_the_other_tab_too(clinic: Clinic) -> None:
    await clinic.person("anna")
    await clinic.person("lasse")
    page = await clinic.page()
    await page.goto(clinic.server.base + "/staff")
    await login(page, "anna", "fel")
    await expect(page.locator("#login-error")).to_have_text("Fel användarnamn eller lösenord.")
    await page.fill("#username", "")
    await page.click("#login-button")
    await expect(page.locator("#login-error")).to_have_text("Fyll i både användarnamn och lösenord.")
    async with httpx.AsyncClient(base_url=clinic.server.base, headers={"Origin": clinic.server.base}) as http:
        for _ in range(5):
            await http.post("/api/v1/staff/login", json={"username": "lasse", "password": "fel"})
    await login(page, "lasse")
    await expect(page.locator("#login-error")).to_have_text("För många misslyckade försök. Vänta en stund och försök igen.")

    await login(page, "anna")
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    other = await page.context.new_page()  # a second tab of the same session
    clinic.pages.append(other)
    await other.goto(clinic.server.base + "/staff")
    await expect(other.locator("#console")).to_have_attribute("data-conn", "open")
    await page.evaluate("sessionStorage.setItem('mm.staff.draft.x', 'utkast')")

    await page.click("#logout")
    await expect(page.locator("#login-error")).to_have_text("Du har loggats ut.")
    await expect(page.locator("#console")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('mm.staff.draft.x')") is None
    await expect(other.locator("#relogin-dialog")).to_be_visible()
    await expect(other.locator("#relogin-reason")).to_contain_text("loggats ut")
    await expect(other.locator("#console")).to_have_attribute("data-conn", "ended")
