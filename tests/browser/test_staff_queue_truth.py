"""The staff console tells the truth about the queue: an offer to me is one row saying it is mine (take or
decline), counted once in "Kö (N)", also after a reload, and to a colleague it is offered to someone else;
every row and held conversation says whether the young person is there now ("Ansluten" / "Borta sedan
hh:mm"); a quick exit shows at once in the console of the one holding it.

Same server as test_staff_console.py: the bundled Dalarna region on a Tuesday at 13:00, SQLite and the
in-memory bus."""

# ruff: noqa: F811 (the fixture `clinic` is imported from test_staff_console.py; each test naming it "redefines" it)
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import httpx
from playwright.async_api import expect

from tests.browser.conftest import phone, violations
from tests.browser.test_staff_console import PHONE_SIZE, Clinic, claim, clinic, queue_row  # noqa: F401
from tests.client import Visitor
from tests.triage_e2e.conftest import NORTH

SHOTS = Path(tempfile.gettempdir())  # looked at by hand; nothing asserts on them
AWAY = re.compile(r"Borta sedan \d\d:\d\d")


async def test_an_offer_to_an_ambulant_member_on_a_phone_is_one_row_that_is_theirs(clinic: Clinic) -> None:
    await clinic.person("nils", roles=("ambulant",), teams=("north",))
    await clinic.person("nora", roles=("ambulant",), teams=("north",))
    nils = await clinic.console("nils", viewport=PHONE_SIZE)
    v = await Visitor.start(clinic.server.base, **NORTH)
    await v.connect()
    clinic.visitors.append(v)

    offer = nils.locator(f'#offers li[data-id="{v.id}"]')
    await expect(offer).to_be_visible(timeout=10_000)
    await expect(offer.get_by_role("button", name="Ta samtalet")).to_be_visible()
    await expect(offer.get_by_role("button", name="Avböj")).to_be_visible()
    await expect(queue_row(nils, v.id)).to_have_count(0)  # not a second row for the same conversation
    await expect(nils.locator("#view-queue-count")).to_have_text("(1)")
    await expect(nils.locator("body")).not_to_contain_text("erbjuds någon annan")
    await expect(offer).to_contain_text("Ansluten")  # kept current after the offer frame's summary
    await nils.screenshot(path=str(SHOTS / "i13-offer-phone.png"))

    # The same person opens the console on another device meanwhile (no offer frame is sent again): the
    # queue row itself says the offer is Nils's, so it is shown among the offers there too.
    desk = await clinic.console("nils")
    mine = desk.locator(f'#offers li[data-id="{v.id}"]')
    await expect(mine.get_by_role("button", name="Ta samtalet")).to_be_visible()
    await expect(queue_row(desk, v.id)).to_have_count(0)
    await expect(desk.locator("#view-queue-count")).to_have_text("(1)")
    await expect(desk.locator("body")).not_to_contain_text("erbjuds någon annan")
    assert await violations(nils) == []

    # To Nora, in the same team, it is offered to someone else; she cannot take it meanwhile.
    nora = await clinic.console("nora")
    await expect(queue_row(nora, v.id)).to_contain_text("erbjuds någon annan just nu")
    await expect(nora.locator("#view-queue-count")).to_have_text("(1)")

    await offer.get_by_role("button", name="Ta samtalet").click()
    await expect(nils.locator(f"#tab-{v.id}")).to_be_visible()
    await expect(nils.locator("#view-queue-count")).to_have_text("")
    await expect(queue_row(nora, v.id)).to_have_count(0)


async def test_staff_see_whether_the_young_person_is_there(clinic: Clinic) -> None:
    await clinic.person("rut")
    rut = await clinic.console("rut")
    v = await clinic.visitor()
    await expect(queue_row(rut, v.id)).to_contain_text("Ansluten")
    assert v.ws is not None
    await v.ws.close()
    await expect(queue_row(rut, v.id)).to_contain_text(AWAY)
    await v.connect()
    await expect(queue_row(rut, v.id)).to_contain_text("Ansluten")

    await claim(rut, v.id)
    await expect(rut.locator("#conv-state")).to_have_text("Pågående · Ansluten")
    await v.ws.close()
    await expect(rut.locator("#conv-state")).to_have_text(re.compile(r"^Pågående · Borta sedan \d\d:\d\d$"))
    await rut.screenshot(path=str(SHOTS / "i13-away-desktop.png"))
    await v.connect()
    await expect(rut.locator("#conv-state")).to_have_text("Pågående · Ansluten")


async def test_quick_exit_on_the_page_ends_the_conversation_in_the_console_at_once(clinic: Clinic) -> None:
    await clinic.person("rut")
    rut = await clinic.console("rut")
    page = await phone(clinic.browser)
    clinic.pages.append(page)
    await page.goto(clinic.server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    await page.click("#start-button")
    await page.wait_for_selector("#chat:not([hidden])")
    cid = (await page.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor'))"))["conversation_id"]
    await claim(rut, cid)

    await page.click("#exit")
    await expect(rut.locator("#log")).to_contain_text("Personen har lämnat chatten.")
    await expect(rut.locator("#conv-state")).to_have_text("Avslutat")
    await expect(rut.locator("#send-form")).to_be_hidden()
    # The console's read receipt for the last line crosses the close: that race is not news to the counsellor,
    # who did nothing ("Samtalet är redan avslutat." was shown). A second after, the status line still says only
    # that the conversation ended.
    await rut.wait_for_timeout(1000)
    assert "redan avslutat" not in (await rut.locator("#notice").text_content() or "")
    async with httpx.AsyncClient(base_url=clinic.server.base) as http:
        r = await http.get("/healthz")
    assert r.status_code == 200
