"""Screenshots of the staff pages (login, queue, conversation, supervisor overview, administration) at
desktop size and on a phone (360×640), for docs/screenshots/ and the README.

    .venv/bin/python -m tests.browser.staff_screenshots [--out DIR]

Runs a real server on SQLite in a temporary directory with its clock on a Tuesday at 13:00 (every team
open), visitors over the WebSocket, and Debian's Chromium; writes docs/screenshots/staff-*.png (or into DIR,
e.g. /tmp, to look before committing). Not a test: run it after changing the pages.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from chat.service import accounts
from chat.settings import Settings
from chat.store.migrate import upgrade
from tests.browser.conftest import ARGS, CHROMIUM
from tests.client import Staff, Visitor
from tests.conftest import Running, serve
from tests.triage_e2e.conftest import TUESDAY_1300, Clock

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery"
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=360, height=640)
# The conversation view (a long history) at the three sizes its layout is checked at.
LONG = {"phone": PHONE, "tablet": ViewportSize(width=768, height=1024), "desktop": DESKTOP}
LINES = [
    ("Hej, jag heter Anna. Vad bra att du skriver.", "Hej. Jag röker på nästan varje helg och vill sluta"),
    ("Vad fint att du vill göra något åt det. Hur ofta blir det?", "Typ fredag och lördag. Ibland på vardagar också"),
    ("Hur mår du dagen efter?", "Trött. Och jag har svårt att koncentrera mig i skolan"),
    ("Har du pratat med någon om det?", "Nej, bara med dig nu"),
    ("Det var modigt att skriva. Vad skulle vara bra för dig just nu?", "Jag vet inte riktigt. Kanske att säga nej"),
]


async def _page(browser: Browser, viewport: ViewportSize) -> Page:
    context = await browser.new_context(viewport=viewport, locale="sv-SE", device_scale_factor=1 if viewport is DESKTOP else 2)
    return await context.new_page()


async def _shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(OUT / f"staff-{name}.png"))
    print("wrote", OUT / f"staff-{name}.png")


async def _login(page: Page, server: Running, username: str, path: str = "/staff") -> None:
    await page.goto(server.base + "/staff")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-button")
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    if path != "/staff":
        await page.goto(server.base + path)


async def _visitor(server: Running, say: str, **body: str) -> Visitor:
    v = await Visitor.start(server.base, **body)
    await v.connect()
    await v.say(say, "v1")
    return v


async def main(tmp: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/chat.db", allowed_origins=())
    clock = Clock(TUESDAY_1300)
    async with serve(settings, clock=clock) as server, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        ctx = server.ctx
        await accounts.add_staff(ctx, "anna", PASSWORD, ["reception"], ["reception", "relatives", "gambling", "south"],
                                 "Anna Receptionen")
        await accounts.add_staff(ctx, "sara", PASSWORD, ["supervisor", "reception"], ["reception"], "Sara Arbetsledare")
        await accounts.add_staff(ctx, "ada", PASSWORD, ["admin"], [], "Ada Admin")
        await accounts.add_staff(ctx, "erik", PASSWORD, ["ambulant"], ["south"], "Erik Ambulanta söder")
        erik = Staff(server.base, "erik", PASSWORD)
        await erik.login()
        await erik.connect()

        for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page = await _page(browser, viewport)
            await page.goto(server.base + "/staff")
            await page.fill("#username", "anna")
            await page.fill("#password", "fel lösenord")
            await page.click("#login-button")
            await expect(page.locator("#login-error")).not_to_be_empty()
            await _shot(page, f"login-{size}")
            await page.context.close()

        waiting = [
            await _visitor(server, "Hej, jag undrar över min brors drickande", role="relative", municipality="2080",
                           topic="alcohol", age_band="18-21"),
            await _visitor(server, "jag har tagit för många tabletter", role="young", municipality="2081",
                           topic="medicines", age_band="16-17"),
            await _visitor(server, "Jag spelar för mycket på nätet", role="young", municipality="2085",
                           topic="gambling", age_band="18-21"),
        ]
        for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page = await _page(browser, viewport)
            await _login(page, server, "anna")
            await expect(page.locator("#queue li").first).to_be_visible()
            await _shot(page, f"queue-{size}")
            await page.context.close()

        # A conversation in progress: the young person from Borlänge, with a note and a self-test.
        young = await _visitor(server, "Hej. Jag röker på nästan varje helg och vill sluta", role="young",
                               municipality="2081", topic="drugs", age_band="16-17")
        # Borlänge, 16–17, drugs goes to the ambulant team south; reception takes it over for the picture.
        async with ctx.engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE conversations SET team = 'reception' WHERE id = ?", (young.id,))
        anna = Staff(server.base, "anna", PASSWORD)
        await anna.login()
        await anna.connect()
        assert (await anna.claim(young.id)).status_code == 200
        # A long conversation (30 messages): the layout must give the messages the room at every size.
        for i in range(14):
            await anna.say(young.id, LINES[i % len(LINES)][0], f"e{i}")
            await young.say(LINES[i % len(LINES)][1], f"ev{i}")
        await anna.say(young.id, "Hej igen. Hur länge har det varit så?", "s1")
        await young.say("Sedan i somras ungefär. Mina kompisar gör det också", "v2")
        await anna.http.post(f"/api/v1/staff/conversations/{young.id}/notes",
                             json={"text": "Verkar motiverad. Föreslå ett första samtal med ambulanta teamet söder."})
        for size, viewport in LONG.items():
            page = await _page(browser, viewport)
            await _login(page, server, "anna")
            tab = page.get_by_role("tab").first
            if await page.locator("#view-conv").is_visible():
                await page.click("#view-conv")
            await tab.click()
            await expect(page.locator("#log")).to_contain_text("Mina kompisar")
            await page.fill("#text", "Det är vanligt att känna så. Vill du att vi bokar en tid")
            if size == "phone":  # fill scrolled the page to the box; the console had it at the pane's top
                await page.locator("#conv-pane").evaluate("el => el.scrollIntoView({block: 'start'})")
            await _shot(page, f"conversation-{size}")
            if size == "tablet":
                await page.context.close()
                continue
            await page.click("#transfer")
            await expect(page.locator("#transfer-dialog")).to_be_visible()
            await _shot(page, f"transfer-{size}")
            await page.context.close()

        # Six minutes on, the reception's waiting conversations are past its five-minute target: the overview
        # raises it.
        clock.advance(6 * 60)
        for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page = await _page(browser, viewport)
            await _login(page, server, "sara", "/staff/supervisor")
            await expect(page.locator("#queue tr").first).to_be_visible()
            await expect(page.locator("#attention")).to_be_visible()
            await _shot(page, f"supervisor-{size}")
            await page.context.close()

        for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page = await _page(browser, viewport)
            await _login(page, server, "ada", "/staff/admin")
            await expect(page.locator("#staff-rows tr").first).to_be_visible()
            await _shot(page, f"admin-{size}")
            await page.context.close()

        for v in [*waiting, young]:
            if v.ws is not None:
                await v.ws.close()
        await anna.aclose()
        await erik.aclose()
        await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Screenshots of the staff pages.")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the PNGs (default: docs/screenshots)")
    OUT = parser.parse_args().out
    with tempfile.TemporaryDirectory() as tmp:
        upgrade(f"sqlite+aiosqlite:///{tmp}/chat.db")  # Alembic runs its own event loop: before ours
        asyncio.run(main(tmp))
