"""Screenshots of the young person's page at phone size (360×640), for docs/screenshots/ and the README.

    .venv/bin/python -m tests.browser.screenshots

Runs a real server on SQLite in a temporary directory, a staff client over the WebSocket, and Debian's
Chromium; writes docs/screenshots/visitor-*.png. Not a test: run it after changing the page.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright, expect

from chat.service import accounts
from chat.settings import Settings
from chat.store.migrate import upgrade
from tests.browser.conftest import ARGS, CHROMIUM, EXIT_ORIGIN, PHONE
from tests.client import Staff
from tests.conftest import serve
from tests.triage_e2e.conftest import TUESDAY_1300, Clock

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def main(tmp: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if True:
        url = f"sqlite+aiosqlite:///{tmp}/chat.db"
        settings = Settings(database_url=url, allowed_origins=())
        # On a Tuesday at 13:00 (every team open), whatever the hour the screenshots are made at.
        async with serve(settings, clock=Clock(TUESDAY_1300)) as server, async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            context = await browser.new_context(viewport=PHONE, locale="sv-SE", device_scale_factor=2)
            page = await context.new_page()
            await page.route(f"{EXIT_ORIGIN}/**", lambda route: route.fulfill(status=200, body="ok"))

            async def shot(name: str, full: bool = False) -> None:
                await page.screenshot(path=str(OUT / f"visitor-{name}.png"), full_page=full)
                print("wrote", OUT / f"visitor-{name}.png")

            await page.goto(server.base + "/")
            await page.wait_for_selector("#start-button:not([disabled])")
            await shot("start")
            await page.select_option("#municipality", "2062")
            await page.select_option("#age", "16-17")
            await page.select_option("#topic", "drugs")
            await page.click("#start-button")
            await expect(page.locator("#state")).to_contain_text("kön")
            await shot("waiting")
            panel = page.locator("#selftest")
            await page.click("#selftest-open")
            await panel.get_by_role("button", name="AUDIT – om alkohol").click()
            for _ in range(2):
                await panel.locator(".selftest__option label").nth(1).click()
                await panel.locator("button[type=submit]").click()
            await expect(panel.locator("legend")).to_contain_text("Fråga 3 av 10")
            await panel.locator(".selftest__option label").nth(1).click()
            await panel.scroll_into_view_if_needed()
            await shot("selftest")
            await panel.get_by_role("button", name="Avbryt testet").click()

            await accounts.add_staff(server.ctx, "anna", "correct horse battery", ["reception"], ["reception"], "Anna")
            anna = Staff(server.base, "anna", "correct horse battery")
            await anna.login()
            await anna.connect()
            cid = (await page.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor'))"))["conversation_id"]
            # Mora, 16–17, drugs goes to the ambulant team north; reception takes it over for the picture.
            async with server.ctx.engine.begin() as conn:
                await conn.exec_driver_sql("UPDATE conversations SET team = 'reception' WHERE id = ?", (cid,))
            assert (await anna.claim(cid)).status_code == 200
            await anna.say(cid, "Hej, jag heter Anna. Vad vill du prata om?", "s1")
            await expect(page.locator("#log")).to_contain_text("Anna")
            await page.fill("#text", "Jag röker på nästan varje dag och vill sluta")
            await page.press("#text", "Enter")
            await anna.say(cid, "Vad bra att du hör av dig. Hur länge har det varit så?", "s2")
            await expect(page.locator("#log")).to_contain_text("Hur länge")
            await shot("chat")
            # A conversation longer than the screen: the crisis help appears where the person is looking.
            for n, (theirs, mine) in enumerate([
                ("Hur mår du när du inte röker?", "Stressad. Jag sover dåligt."),
                ("Har du någon du kan prata med hemma?", "Inte riktigt."),
            ]):
                await anna.say(cid, theirs, f"s{3 + n}")
                await expect(page.locator("#log")).to_contain_text(theirs)
                await page.fill("#text", mine)
                await page.press("#text", "Enter")
            await page.fill("#text", "ibland vill jag inte leva längre")
            await page.press("#text", "Enter")
            await expect(page.locator("#crisis-alert")).to_be_in_viewport()
            await shot("crisis")
            # The same conversation on a desktop: the newest message and the crisis help both in view.
            await page.set_viewport_size({"width": 1280, "height": 800})
            await expect(page.locator("#crisis-alert")).to_be_in_viewport()
            await shot("crisis-desktop")
            await page.set_viewport_size(PHONE)
            await anna.http.post(f"/api/v1/staff/conversations/{cid}/close", json={"outcome": "advice_given"})
            await expect(page.locator("#end")).to_be_visible()
            await page.locator("#end").scroll_into_view_if_needed()
            await shot("end")
            await anna.aclose()
            await browser.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        upgrade(f"sqlite+aiosqlite:///{tmp}/chat.db")  # Alembic runs its own event loop: before ours
        asyncio.run(main(tmp))
