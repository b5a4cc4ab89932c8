"""Helpers for the supervisor and administration page tests: accounts put straight into the store, a
browser context logged in through the API (the cookie lands in the context), and a watch on the page's
console for CSP violations and script errors."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page, ViewportSize

from chat.service import accounts
from tests.conftest import Running

PASSWORD = "correct horse battery"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 360, "height": 640}
VIEWPORTS = [DESKTOP, PHONE]
VIEWPORT_IDS = ["desktop", "phone"]
XSS = '<img src=x onerror="document.body.dataset.pwned=1">'


async def account(server: Running, username: str, roles: tuple[str, ...], teams: tuple[str, ...],
                  display_name: str | None = None) -> None:
    await accounts.add_staff(server.ctx, username, PASSWORD, list(roles), list(teams), display_name or username.title())


async def logged_in(browser: Browser, server: Running, username: str, viewport: ViewportSize = DESKTOP,
                    password: str = PASSWORD) -> Page:
    """A fresh context (its own cookies) logged in as `username`, with problems collected in page.problems."""
    context = await browser.new_context(viewport=viewport, locale="sv-SE")
    page = await context.new_page()
    watch(page)
    if username:
        r = await page.request.post(server.base + "/api/v1/staff/login", data={"username": username, "password": password},
                                    headers={"Origin": server.base})
        assert r.ok, await r.text()
    return page


_seen: dict[Page, list[str]] = {}


def watch(page: Page) -> None:
    found = _seen.setdefault(page, [])
    page.on("pageerror", lambda e: found.append(f"pageerror: {e}"))
    page.on("console", lambda m: found.append(f"console: {m.text}") if m.type == "error" else None)


def problems(page: Page) -> list[str]:
    """Script errors and CSP reports, less the 4xx answers the pages expect and show (they log as console errors)."""
    return [p for p in _seen.get(page, []) if "Failed to load resource" not in p]


async def api_json(page: Page, method: str, server: Running, path: str, body: object | None = None) -> tuple[int, dict[str, Any]]:
    """A staff API call from the page's context (its cookie), with the CSRF token from /staff/me."""
    me = await page.request.get(server.base + "/api/v1/staff/me")
    headers = {"Origin": server.base, "X-CSRF-Token": (await me.json())["csrf_token"]}
    r = await page.request.fetch(server.base + path, method=method, data=body, headers=headers)
    try:
        data = await r.json()
    except ValueError:  # not JSON: the status says enough
        data = {}
    return r.status, data
