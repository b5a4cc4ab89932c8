"""The staff console's follow-ups in a real browser: transfer to a named colleague, waiting times on the
server's clock, "Läst" after a reload, why a session ended, a returning young person's earlier parts,
canned answers, availability, the header's links and ?next=, and the phone layout of a conversation.

Same server as test_staff_console.py: the bundled Dalarna region on a Tuesday at 13:00 (its clock, not
the machine's), SQLite and the in-memory bus."""

# ruff: noqa: F811 (the fixture `clinic` is imported from test_staff_console.py; each test naming it "redefines" it)
from __future__ import annotations

import re
from datetime import timedelta

import httpx
from playwright.async_api import Page, expect
from sqlalchemy import text

from chat.store import conversations as conv_store
from tests.browser.conftest import violations
from tests.browser.test_staff_console import (  # noqa: F401
    DESKTOP,
    PASSWORD,
    PHONE_SIZE,
    Clinic,
    _staff_msg,
    claim,
    clinic,
    login,
    queue_row,
)
from tests.client import Staff, Visitor


async def api_client(clinic: Clinic, username: str) -> Staff:
    s = Staff(clinic.server.base, username, PASSWORD)
    await s.login()
    return s


async def small_targets(page: Page) -> list[object]:
    """Visible buttons, selects, links and summaries under 44 px high."""
    return list(await page.evaluate(
        "[...document.querySelectorAll('button, select, a[href], summary')].filter(e => e.offsetParent)"
        ".map(e => [e.id || e.textContent.trim(), Math.round(e.getBoundingClientRect().height)])"
        ".filter(([, h]) => h < 44)"
    ))


async def test_reception_transfers_to_a_named_counsellor_of_another_team(clinic: Clinic) -> None:
    # Rita works reception and the relatives' team; Bo only the relatives' team, so the conversation moves
    # from reception to relatives with him. /presence lists the people of one's own teams.
    await clinic.person("rita", teams=("reception", "relatives"))
    await clinic.person("bo", roles=("counsellor",), teams=("relatives",))
    rita = await clinic.console("rita")
    bo = await clinic.console("bo")
    busy = await clinic.visitor("redan hos Bo")
    busy_move = await api_client(clinic, "rita")
    assert (await busy_move.claim(busy.id)).status_code == 200  # Rita takes it, then hands it to Bo: load 1
    r = await busy_move.http.post(f"/api/v1/staff/conversations/{busy.id}/transfer", json={"staff": "bo", "note": ""})
    assert r.status_code == 200, r.text
    await expect(bo.locator(f"#tab-{busy.id}")).to_be_visible()
    await expect(rita.locator(f"#tab-{busy.id}")).to_have_count(0)

    v = await clinic.visitor("min pappa dricker varje kväll")
    await claim(rita, v.id)
    await rita.click("#transfer")
    option = rita.locator("#transfer-target option[value='staff:bo']")
    await expect(option).to_have_text("Bo – Tillgänglig, 1 av 3 samtal")
    await expect(rita.locator("#transfer-target option[value='staff:rita']")).to_have_count(0)  # not oneself
    await rita.select_option("#transfer-target", "staff:bo")
    await rita.fill("#transfer-note", "Pappa dricker, hon vill prata med någon om det.")
    await rita.locator("#transfer-dialog").get_by_role("button", name="Lämna över").click()
    await expect(rita.locator("#transfer-dialog")).to_be_hidden()
    await expect(rita.locator(f"#tab-{v.id}")).to_have_count(0)
    await expect(rita.locator("#notice")).to_have_text("Samtalet är överlämnat till Bo.")

    # Bo's console: the conversation as a tab, the note with it, the history; he answers.
    tab = bo.locator(f"#tab-{v.id}")
    await expect(tab).to_be_visible()
    # It was never in Bo's queue: what is known about it comes with the hand-over.
    await expect(tab).to_contain_text("ung")
    await expect(tab).not_to_contain_text("Inga uppgifter")
    await tab.click()
    await expect(bo.locator("#notes")).to_contain_text("Pappa dricker, hon vill prata med någon om det.")
    await expect(bo.locator("#log")).to_contain_text("min pappa dricker varje kväll")
    await bo.fill("#text", "Hej, Bo här.")
    await bo.press("#text", "Enter")

    # The young person saw who took over, then Bo's answer.
    assert v.ws is not None
    while True:
        frame = await v.ws.expect("msg")
        if frame["from"] == "system":
            break
    assert "Bo" in frame["text"]
    assert (await _staff_msg(v, author="Bo"))["text"] == "Hej, Bo här."
    await busy_move.aclose()


async def test_waits_tick_on_the_servers_clock_and_availability_is_the_servers(clinic: Clinic) -> None:
    await clinic.person("anna")
    page = await clinic.page()
    # This browser's clock is six days ahead of the server's: waits must not read "144 h".
    await page.clock.install(time=clinic.clock() + timedelta(days=6))
    await clinic.console("anna", page=page)
    v = await clinic.visitor("hej")
    wait = queue_row(page, v.id).locator(".tick")
    await expect(wait).to_have_text(re.compile(r"^(\d{1,2} s|[0-4] min)$"))
    await page.wait_for_timeout(1200)  # it ticks, still on the server's clock
    await expect(wait).to_have_text(re.compile(r"^(\d{1,2} s|[0-4] min)$"))

    # Availability: the choice goes to the server, which answers on every socket; the list says so.
    await page.select_option("#status", "busy")
    await expect(page.locator("#notice")).to_have_text("Din status: Upptagen.")
    anna = await api_client(clinic, "anna")
    online = (await anna.http.get("/api/v1/staff/presence")).json()["online"]
    assert [(o["username"], o["status"]) for o in online] == [("anna", "busy")]
    await page.reload()
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    await expect(page.locator("#status")).to_have_value("busy")
    # Changed on another device: the server's presence frame sets the select here.
    await anna.connect()
    assert anna.ws is not None
    await anna.ws.send(type="presence", status="away")
    await expect(page.locator("#status")).to_have_value("away")
    await expect(page.locator("#notice")).to_have_text("Din status: Borta.")
    await anna.aclose()


async def test_read_marks_come_back_after_a_reload_and_an_admin_ending_the_session_is_named(clinic: Clinic) -> None:
    await clinic.person("anna")
    await clinic.person("root", roles=("admin",), teams=())
    page = await clinic.console("anna")
    v = await clinic.visitor("hej")
    await claim(page, v.id)
    await page.fill("#text", "Hej, jag heter Anna.")
    await page.press("#text", "Enter")
    sent = await _staff_msg(v)
    assert v.ws is not None
    await v.ws.send(type="read", seq=sent["seq"])
    await expect(page.locator(".msg--mine .msg__status")).to_have_text("Läst")

    await page.reload()  # no receipt comes now: the mark is the server's visitor_read_seq
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    await expect(page.locator(".msg--mine")).to_have_count(1)
    await expect(page.locator(".msg--mine .msg__status")).to_have_text("Läst")

    # An admin resets Anna's password: her console says who ended the session (the frame's reason).
    root = await api_client(clinic, "root")
    r = await root.http.post("/api/v1/admin/staff/anna/password", json={"password": "ett nytt långt lösenord"})
    assert r.status_code == 200, r.text
    await expect(page.locator("#relogin-dialog")).to_be_visible()
    await expect(page.locator("#relogin-reason")).to_have_text(
        "En administratör har avslutat din inloggning. Logga in igen för att fortsätta.")
    await root.aclose()


async def test_a_returning_young_persons_earlier_part_is_listed_opened_and_logged(clinic: Clinic) -> None:
    await clinic.person("anna")
    bert_id = await clinic.person("bert")
    anna = await api_client(clinic, "anna")
    await anna.connect()
    v = await clinic.visitor("det här sa jag första gången")
    assert (await anna.claim(v.id)).status_code == 200
    await anna.say(v.id, "Hej, Anna här.", "a-1")
    r = await anna.http.post(f"/api/v1/staff/conversations/{v.id}/close", json={"outcome": "advice_given"})
    assert r.status_code == 200, r.text

    # The young person comes back with the code; it is offered to Anna first, who declines.
    async with httpx.AsyncClient(base_url=clinic.server.base) as http:
        back = await http.post("/api/v1/conversations", json={"return_code": v.started["return_code"]})
    assert back.status_code == 201, back.text
    again = Visitor(clinic.server.base, back.json())
    await again.connect(last_seq=0)
    clinic.visitors.append(again)
    assert anna.ws is not None
    await anna.ws.expect("offer", conversation_id=v.id)
    assert (await anna.http.post(f"/api/v1/staff/conversations/{v.id}/decline")).status_code == 200
    await again.say("nu är jag tillbaka", "b-1")

    page = await clinic.console("bert")
    await expect(queue_row(page, v.id)).to_contain_text("återkommande")
    await claim(page, v.id)
    await expect(page.locator("#about-returning")).to_have_text("Återkommande")
    await expect(page.locator("#reopened")).to_contain_text("Återkommande – har varit här förut")
    await expect(page.locator("#log")).to_contain_text("nu är jag tillbaka")
    await page.click("#earlier-toggle")
    part = page.locator("#earlier li")
    await expect(part).to_have_count(1)
    await expect(part).to_contain_text(re.compile(r"Del 1 · .+ · Mottagning.* · Anna · Råd och stöd gavs"))
    assert await _audited(clinic, bert_id) == 0  # listing the parts is not a transcript read

    await part.get_by_role("button", name="Öppna").click()
    dialog = page.locator("#earlier-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#earlier-logged")).to_have_text("Öppnandet av den här tidigare konversationen har loggats.")
    await expect(page.locator("#earlier-messages")).to_contain_text("det här sa jag första gången")
    await expect(page.locator("#earlier-messages")).to_contain_text("Hej, Anna här.")
    assert await _audited(clinic, bert_id) == 1
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    # The live log is the new part only.
    await expect(page.locator("#log .msg__text")).to_have_text(["nu är jag tillbaka"])
    await anna.aclose()


async def test_the_same_console_taking_a_returning_conversation_again_shows_only_the_new_part(clinic: Clinic) -> None:
    await clinic.person("anna")
    page = await clinic.console("anna")
    v = await clinic.visitor("det här sa jag första gången")
    await claim(page, v.id)
    await expect(page.locator("#log")).to_contain_text("det här sa jag första gången")
    await page.click("#close")
    await page.get_by_label("Råd och stöd gavs").check()
    await page.locator("#close-form").get_by_role("button", name="Avsluta", exact=True).click()
    await expect(page.locator("#conv-state")).to_have_text("Avslutat")

    # Back with the code while Anna's page still shows the closed tab: offered to her first; she takes it.
    async with httpx.AsyncClient(base_url=clinic.server.base) as http:
        back = await http.post("/api/v1/conversations", json={"return_code": v.started["return_code"]})
    again = Visitor(clinic.server.base, back.json())
    await again.connect(last_seq=0)
    clinic.visitors.append(again)
    await again.say("nu är jag tillbaka", "b-1")
    offer = page.locator(f'#offers li[data-id="{v.id}"]')
    await offer.get_by_role("button", name="Ta samtalet").click()
    await expect(page.locator("#log .msg__text")).to_have_text(["nu är jag tillbaka"])
    await expect(page.locator("#reopened")).to_contain_text("Återkommande")


async def _audited(clinic: Clinic, staff_id: int) -> int:
    async with clinic.server.ctx.engine.connect() as conn:
        rows = await conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'earlier_part_read' AND staff_id = :s"),
                                  {"s": staff_id})
        return int(rows.scalar_one())


async def test_a_canned_answer_fills_the_composer_and_a_phone_folds_the_facts_away(clinic: Clinic) -> None:
    await clinic.person("lena", roles=("counsellor", "lead"), teams=("reception",))
    await clinic.person("anna")
    lena = await api_client(clinic, "lena")
    for language, title, body in [("en", "Greeting", "Hi! Glad you wrote."),
                                  ("sv", "Hälsning", "Hej! Vad roligt att du skriver.")]:
        r = await lena.http.post("/api/v1/staff/canned", json={"team": "reception", "language": language,
                                                               "title": title, "body": body})
        assert r.status_code == 201, r.text
    await lena.aclose()

    page = await clinic.console("anna")
    v = await clinic.visitor("hej")
    await claim(page, v.id)
    before = await conv_store.get(clinic.server.ctx.engine, v.id)
    await expect(page.locator("#about")).to_have_attribute("open", "")  # desktop: the facts are out
    toggle = page.get_by_role("button", name="Färdiga svar")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await toggle.click()
    answers = page.locator("#canned li button")
    await expect(answers).to_have_count(2)
    await expect(answers.first).to_contain_text("Hälsning")  # Swedish first
    await expect(answers.nth(1)).to_contain_text("Greeting (en)")
    await page.fill("#text", "Tack för att du skriver.")
    await answers.first.click()
    await expect(page.locator("#text")).to_have_value("Tack för att du skriver.\n\nHej! Vad roligt att du skriver.")
    await expect(page.locator("#text")).to_be_focused()
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await page.wait_for_timeout(300)
    after = await conv_store.get(clinic.server.ctx.engine, v.id)
    assert before is not None and after is not None and after.last_seq == before.last_seq  # nothing was sent
    await expect(page.locator("#log .msg--mine")).to_have_count(0)

    # A phone: "Om samtalet" folds away so the messages and the composer come first; it opens on a tap.
    await page.set_viewport_size(PHONE_SIZE)
    about = page.locator("#about")
    await expect(about).not_to_have_attribute("open", "")
    await expect(page.locator("#facts")).to_be_hidden()
    await expect(page.locator("#log")).to_be_visible()
    await expect(page.locator("#text")).to_be_in_viewport()
    await toggle.click()
    assert await violations(page) == []
    assert await small_targets(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    await page.click("#about-summary")
    await expect(page.locator("#facts")).to_be_visible()
    await expect(page.locator("#crisis-toggle")).to_be_visible()
    assert await violations(page) == []
    assert await small_targets(page) == []
    await page.reload()
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    await expect(page.locator("#log")).to_contain_text("hej")
    await expect(about).not_to_have_attribute("open", "")
    await page.set_viewport_size(DESKTOP)
    await expect(about).to_have_attribute("open", "")


async def test_header_links_follow_the_roles_and_next_goes_only_to_the_two_pages(clinic: Clinic) -> None:
    await clinic.person("sara", roles=("supervisor",))
    await clinic.person("lena", roles=("counsellor", "lead"))
    links = {"sara": (True, False), "lena": (False, True)}
    for who, (overview, admin) in links.items():
        page = await clinic.console(who)
        await (expect(page.get_by_role("link", name="Översikt")).to_be_visible() if overview
               else expect(page.locator("#link-supervisor")).to_be_hidden())
        await (expect(page.get_by_role("link", name="Administration")).to_be_visible() if admin
               else expect(page.locator("#link-admin")).to_be_hidden())
        if overview:
            await expect(page.get_by_role("link", name="Översikt")).to_have_attribute("href", "/staff/supervisor")
        if admin:
            await expect(page.get_by_role("link", name="Administration")).to_have_attribute("href", "/staff/admin")
        await page.context.close()

    base = clinic.server.base
    for who, target in [("lena", "/staff/admin"), ("sara", "/staff/supervisor")]:
        page = await clinic.page()
        await page.goto(f"{base}/staff?next={target}")
        await login(page, who)
        await expect(page).to_have_url(base + target)
        await page.context.close()

    # Anything else stays on the console.
    page = await clinic.page()
    for bad in ["https://evil.example/staff/admin", "//evil.example/staff/admin", "/staff/admin/../x"]:
        url = f"{base}/staff?{httpx.QueryParams({'next': bad})}"
        await page.goto(url)
        await login(page, "lena")
        await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
        assert page.url == url
        await page.click("#logout")
        await expect(page.locator("#login-error")).to_have_text("Du har loggats ut.")
