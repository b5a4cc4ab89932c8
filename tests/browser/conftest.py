"""A real browser for the page tests: Debian's Chromium driven by Playwright (never `playwright install`).

Without /usr/bin/chromium the tests skip with the reason, unless CI is set: then it is a failure
(`.ci/run` installs the package). The pages are tested on SQLite + the in-memory bus only: what the
browser checks is the page, and the protocol suite covers PostgreSQL + Redis.

The default ``server`` here runs while the clinic is open (its clock on a Tuesday at 13:00 in Stockholm, moving
on in real time), so what a page test sees does not depend on the hour or the weekday CI happens to run at;
tests of the closed page start their own server with a night clock.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from chat.settings import Settings
from tests.conftest import Running, serve
from tests.triage_e2e.conftest import TUESDAY_1300, Clock

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PHONE = {"width": 360, "height": 640}
# Where quick exit goes; answered locally, since tests have no internet and the page must leave anyway.
EXIT_ORIGIN = "https://www.google.com"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Running]:
    async with serve(settings, clock=Clock(TUESDAY_1300)) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        reason = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            await b.close()


async def phone(browser: Browser, locale: str = "sv-SE") -> Page:
    """A new phone-sized page in its own context, with the exit site answered locally."""
    context = await browser.new_context(viewport=PHONE, locale=locale)
    page = await context.new_page()
    await page.route(f"{EXIT_ORIGIN}/**", lambda route: route.fulfill(status=200, body="<title>Väder</title>ok",
                                                                       content_type="text/html"))
    return page


async def violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now: rule id and the first offending node."""
    result = await Axe().run(page, options=WCAG_21_AA)
    return [f"{v['id']}: {v['nodes'][0]['target'] if v['nodes'] else ''}" for v in result.response["violations"]]
