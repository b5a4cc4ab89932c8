"""The young person's page where it matters most (issue 13): crisis help seen in a long chat, the way to start
on a phone's first screen, a lost connection said at once, over-long text refused in words, ending asked first,
Escape inside a field, right-to-left text, and counts in proper singular and plural."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from chat.service import health
from chat.settings import Settings
from tests.browser.conftest import EXIT_ORIGIN, PHONE, violations
from tests.client import Staff
from tests.conftest import Running, StaffFactory, serve

DESKTOP = {"width": 1280, "height": 800}
LOST = "Ingen anslutning – dina meddelanden skickas när den är tillbaka."


async def page_at(browser: Browser, viewport: dict[str, int], locale: str = "sv-SE") -> Page:
    context = await browser.new_context(viewport=viewport, locale=locale)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.route(f"{EXIT_ORIGIN}/**", lambda route: route.fulfill(status=200, body="ok", content_type="text/html"))
    return page


async def start(page: Page, server: Running) -> str:
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    await page.select_option("#municipality", "2080")
    await page.click("#start-button")
    await page.wait_for_selector("#chat:not([hidden])")
    return str((await page.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor'))"))["conversation_id"])


async def chatting(page: Page, server: Running, make_staff: StaffFactory, turns: int) -> tuple[str, Staff]:
    cid = await start(page, server)
    anna = await make_staff("anna")
    assert (await anna.claim(cid)).status_code == 200
    for i in range(turns):
        await anna.say(cid, f"Fråga {i} från Anna, en rad som tar lite plats på skärmen.", f"s{i}")
        await page.fill("#text", f"Svar {i}")
        await page.press("#text", "Enter")
    await expect(page.locator(".msg--mine[data-state=sent]")).to_have_count(turns)
    return cid, anna


# 1. A crisis message must be seen ---------------------------------------------------------------------------

@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_in_a_long_chat_the_crisis_help_appears_where_the_person_is_looking(
    server: Running, browser: Browser, make_staff: StaffFactory, viewport: dict[str, int]
) -> None:
    page = await page_at(browser, viewport)
    await chatting(page, server, make_staff, turns=10)
    assert await page.evaluate("document.documentElement.scrollHeight") > viewport["height"] * 1.5  # longer than a screen

    await page.fill("#text", "jag vill inte leva längre")
    await page.press("#text", "Enter")

    banner = page.locator("#crisis-alert")
    await expect(banner).to_be_in_viewport()
    await expect(banner.locator("a[href='tel:112']")).to_be_in_viewport()
    await expect(banner.locator("[role=alert]")).to_contain_text("Ring 112")
    await expect(page.locator(".msg").last).to_contain_text("jag vill inte leva längre")
    await expect(page.locator(".msg").last).to_be_in_viewport()  # the newest message is not covered
    await expect(page.locator("#text")).to_be_focused()  # typing goes on
    assert await violations(page) == []

    # "Fler nummer" brings the whole list into view, focused.
    await banner.get_by_role("button", name="Fler nummer").click()
    await expect(page.locator("#crisis-box")).to_have_attribute("open", "")
    await expect(page.locator("#crisis-box summary")).to_be_focused()
    await expect(page.locator("#crisis a[href='tel:116111']")).to_be_in_viewport()


async def test_in_a_short_chat_and_in_english_the_crisis_help_is_there_too(server: Running, browser: Browser) -> None:
    page = await page_at(browser, PHONE, locale="en-GB")
    await start(page, server)
    await page.fill("#text", "I don't want to live anymore")
    await page.press("#text", "Enter")
    await expect(page.locator("#crisis-alert")).to_be_in_viewport()
    await expect(page.locator("#crisis-alert [role=alert]")).to_contain_text("Call 112")
    await page.get_by_role("button", name="Hide").click()
    await expect(page.locator("#crisis-alert")).to_be_hidden()
    await expect(page.locator("#text")).to_be_focused()

    # Hidden stays hidden across a reconnect (whose welcome recalls the earlier signal) …
    await page.context.set_offline(True)
    await expect(page.locator("#conn")).not_to_be_empty()
    await page.context.set_offline(False)
    await expect(page.locator("#conn")).to_be_empty(timeout=15_000)
    await expect(page.locator("#crisis-alert")).to_be_hidden()
    # … and a new worrying message brings it back.
    await page.fill("#text", "I want to die")
    await page.press("#text", "Enter")
    await expect(page.locator("#crisis-alert")).to_be_in_viewport()


# 2. The way to start on the first screen ---------------------------------------------------------------------

async def test_on_a_phone_the_first_screen_has_112_the_crisis_line_and_the_start_of_the_form(
    server: Running, browser: Browser
) -> None:
    page = await page_at(browser, PHONE)
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    for target in ("#crisis-brief a[href='tel:112']", "#crisis-brief a[href='tel:90101']", "#roles legend",
                   "#role-young"):
        box = await page.locator(target).bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], target
    # The other numbers are one tap away, each number said once ("1177 Vårdguiden", not "1177 1177 Vårdguiden").
    await page.click("#crisis-box summary")
    await expect(page.locator("#crisis")).to_contain_text("116 111")
    assert (await page.inner_text("#crisis-panel")).count("1177") == 1
    assert await violations(page) == []


# 3. A lost connection, said within seconds ---------------------------------------------------------------------

async def test_offline_is_said_at_once_and_each_message_says_what_happens_to_it(
    server: Running, browser: Browser, make_staff: StaffFactory
) -> None:
    page = await page_at(browser, PHONE)
    cid, anna = await chatting(page, server, make_staff, turns=1)
    await expect(page.locator(".msg--mine .msg__status")).to_have_text("Skickat")

    await page.context.set_offline(True)
    await expect(page.locator("#conn")).to_have_text(LOST)  # expect's 5 s: "within a few seconds"
    await page.fill("#text", "utan nät")
    await page.press("#text", "Enter")
    unsent = page.locator(".msg--mine[data-state=unsent]")
    await expect(unsent).to_contain_text("Inte skickat ännu – skickas när anslutningen är tillbaka.")
    await unsent.get_by_role("button", name="Skicka igen").click()  # still no network: still waiting
    await expect(unsent).to_have_count(1)
    await expect(page.locator("#conn")).to_be_in_viewport()
    assert await violations(page) == []

    await page.context.set_offline(False)
    assert anna.ws is not None
    assert (await anna.ws.expect("msg", text="utan nät", timeout=15))["conversation_id"] == cid
    await expect(page.locator(".msg--mine").last).to_have_attribute("data-state", "sent")
    await expect(page.locator("#conn")).to_be_empty()


async def test_a_line_that_goes_silent_is_noticed_without_waiting_a_minute(server: Running, browser: Browser) -> None:
    """The network is 'up' but nothing comes back (a dead proxy, a sleeping server): the unanswered message
    shows the lost connection within seconds, and is delivered once the line works again."""
    page = await page_at(browser, PHONE, locale="en-GB")
    silent = {"on": False}

    def relay(ws: object) -> None:
        server_side = ws.connect_to_server()  # type: ignore[attr-defined]
        server_side.on_message(lambda m: None if silent["on"] else ws.send(m))  # type: ignore[attr-defined]
        ws.on_message(lambda m: server_side.send(m))  # type: ignore[attr-defined]

    await page.route_web_socket("**/ws/visitor", relay)
    await start(page, server)
    await expect(page.locator("#conn")).to_be_empty()  # welcomed
    silent["on"] = True
    await page.fill("#text", "hello?")
    await page.press("#text", "Enter")
    await expect(page.locator("#conn")).to_have_text("No connection – your messages will be sent when it is back.",
                                                     timeout=9_000)
    silent["on"] = False
    await expect(page.locator(".msg--mine[data-state=sent]")).to_have_count(1, timeout=20_000)
    await expect(page.locator(".msg--mine")).to_have_count(1)


# 4. Long text: counted, refused in words, never cut --------------------------------------------------------------

async def test_a_paste_over_the_limit_is_refused_in_words_and_kept_whole(server: Running, browser: Browser) -> None:
    page = await page_at(browser, PHONE)
    await start(page, server)
    intake = await page.evaluate("fetch('/api/v1/intake').then(r => r.json())")
    assert intake["max_text_chars"] == 4000

    await page.fill("#text", "a" * 3700)
    await expect(page.locator("#text-count")).to_have_text("3 700 av 4 000 tecken")
    await page.fill("#text", "b" * 10_000)
    await expect(page.locator("#text-count")).to_have_text("10 000 av 4 000 tecken")
    await expect(page.locator("#text-error")).to_have_text(
        "Meddelandet är för långt. Högst 4 000 tecken får plats – korta det eller dela upp det i flera meddelanden.")
    await page.press("#text", "Enter")
    assert len(await page.input_value("#text")) == 10_000  # nothing cut, nothing sent
    assert await page.locator(".msg--mine").count() == 0
    assert await violations(page) == []
    await page.fill("#text", "kort")
    await expect(page.locator("#text-error")).to_be_empty()
    await page.press("#text", "Enter")
    await expect(page.locator(".msg--mine[data-state=sent]")).to_have_count(1)


async def test_the_servers_refusal_of_a_long_text_is_shown_plainly(server: Running, browser: Browser) -> None:
    """A page that believes in a higher limit (an old page, a changed setting): the server's text_too_long
    is said in words on the message, with no pointless "try again"."""
    page = await page_at(browser, PHONE)

    async def higher_limit(route: object) -> None:
        response = await route.fetch()  # type: ignore[attr-defined]
        body = await response.json()
        await route.fulfill(response=response, json={**body, "max_text_chars": 20_000})  # type: ignore[attr-defined]

    await page.route("**/api/v1/intake", higher_limit)
    await start(page, server)
    await page.fill("#text", "c" * 5000)
    await page.press("#text", "Enter")
    failed = page.locator(".msg--mine[data-state=failed]")
    said = "Kunde inte skickas. Meddelandet är för långt. Korta det och skicka igen."
    await expect(failed.locator(".msg__status")).to_have_text(said)
    assert await failed.get_by_role("button").count() == 0


# 5. Ending asks first; Escape inside a field ---------------------------------------------------------------------

async def test_ending_the_chat_asks_first_in_an_accessible_dialog(
    server: Running, browser: Browser, make_staff: StaffFactory
) -> None:
    page = await page_at(browser, PHONE)
    cid, anna = await chatting(page, server, make_staff, turns=0)
    await page.click("#end-chat")
    dialog = page.get_by_role("dialog", name="Vill du avsluta samtalet?")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#end-confirm-no")).to_be_focused()
    assert await violations(page) == []
    await page.keyboard.press("Enter")  # "Nej, fortsätt chatta"
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#send-form")).to_be_visible()

    # Escape once closes the dialog, and does not leave the page.
    await page.click("#end-chat")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    assert page.url.startswith(server.base)

    await page.click("#end-chat")
    await dialog.get_by_role("button", name="Ja, avsluta").click()
    await expect(page.locator("#end")).to_be_visible()
    assert anna.ws is not None
    await anna.ws.expect("state", conversation_id=cid, state="closed")


async def test_one_escape_while_typing_stays_two_leave_and_the_page_says_so(server: Running, browser: Browser) -> None:
    page = await page_at(browser, PHONE)
    await start(page, server)
    await expect(page.locator("#exit-hint")).to_have_text("Tryck Esc två gånger för att lämna snabbt.")
    await page.fill("#text", "ett halvt meddelande")
    await page.focus("#text")
    await page.keyboard.press("Escape")
    assert page.url.startswith(server.base)
    assert await page.input_value("#text") == "ett halvt meddelande"

    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{EXIT_ORIGIN}/**")


async def test_escape_outside_a_field_still_leaves_at_once(server: Running, browser: Browser) -> None:
    page = await page_at(browser, PHONE)
    await start(page, server)
    await page.locator("#text").blur()
    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{EXIT_ORIGIN}/**")


# 6. A child worried about their family; self-tests only where they fit ------------------------------------------

async def _start_as(page: Page, server: Running, role_label: str, age: str | None) -> str:
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    await page.get_by_label(role_label).check()
    if age:
        await page.select_option("#age", age)
    await page.click("#start-button")
    await expect(page.locator("#state")).to_contain_text("nummer 1 i kön")  # welcomed, the team open
    return str((await page.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor'))"))["conversation_id"])


async def _team(server: Running, cid: str) -> str:
    """The team the rules chose (with nobody online there, the queue watcher may move it on to the reception)."""
    conv = await health.get(server.ctx, cid)  # the reasons are sealed: opened with the conversation's key
    assert conv is not None and conv.health is not None
    ruled = [r["en"] for r in conv.health.reasons if r["code"] in {"rule", "default"}]
    # "To <team name>, because …" (a rule) or "… so the conversation goes to <team name>" (the default)
    named = [t.id for t in server.ctx.region.teams
             if ruled and (ruled[0].startswith(f"To {t.name},") or ruled[0].endswith(f"goes to {t.name}"))]
    return named[0] if named else "?"


@pytest.fixture
async def weekday(settings: Settings) -> AsyncIterator[Running]:
    """A server whose clock says Tuesday 10:00 in Sweden: every Dalarna team is open."""
    offset = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm")) - datetime.now(UTC)
    async with serve(settings, clock=lambda: datetime.now(UTC) + offset) as running:
        yield running


async def test_a_child_of_ten_worried_about_a_parent_has_a_choice_reaches_the_childrens_team_and_no_self_test(
    weekday: Running, browser: Browser
) -> None:
    page = await page_at(browser, PHONE)
    cid = await _start_as(page, weekday, "Jag är orolig för någon i min familj", "6-12")
    assert await _team(weekday, cid) == "children"
    await expect(page.locator("#selftest-open")).to_be_hidden()
    assert await violations(page) == []


@pytest.mark.parametrize(
    ("role_label", "age", "team", "self_test"),
    [
        ("Jag är orolig för någon i min familj", None, "children", False),
        ("Jag är orolig för någon i min familj", "16-17", "relatives", False),
        ("Jag är närstående (förälder, syskon, vän)", None, "relatives", False),
        ("Jag är ung och vill prata om mig själv", "6-12", "children", False),
        ("Jag är ung och vill prata om mig själv", "13-15", "reception", True),
    ],
)
async def test_the_self_test_is_offered_only_to_young_people_13_and_older_about_themselves(
    weekday: Running, browser: Browser, role_label: str, age: str | None, team: str, self_test: bool
) -> None:
    page = await page_at(browser, PHONE)
    cid = await _start_as(page, weekday, role_label, age)
    assert await _team(weekday, cid) == team
    if self_test:
        await expect(page.locator("#selftest-open")).to_be_visible()
    else:
        await expect(page.locator("#selftest-open")).to_be_hidden()


# 7. Right-to-left text -------------------------------------------------------------------------------------------

async def test_arabic_is_laid_out_right_to_left(server: Running, browser: Browser, make_staff: StaffFactory) -> None:
    page = await page_at(browser, PHONE)
    cid, anna = await chatting(page, server, make_staff, turns=0)
    await anna.say(cid, "مرحبا، كيف حالك؟", "ar1")
    await page.fill("#text", "أنا بخير، شكرا")
    await page.press("#text", "Enter")
    await expect(page.locator(".msg--mine[data-state=sent]")).to_have_count(1)
    directions = await page.eval_on_selector_all(".msg__text", "els => els.map(e => getComputedStyle(e).direction)")
    assert directions == ["rtl", "rtl"]
    await page.fill("#text", "أنا")
    assert await page.eval_on_selector("#text", "e => e.matches(':dir(rtl)')")
    await page.fill("#text", "hej")
    assert await page.eval_on_selector("#text", "e => e.matches(':dir(ltr)')")


# 8. Counts in singular and plural --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("lang", "key", "counts", "expected"),
    [
        ("sv", "staff.unread", {"count": 1}, "1 ny"),
        ("sv", "staff.unread", {"count": 3}, "3 nya"),
        ("sv", "super.summary", {"waiting": 2, "online": 1}, "Just nu: 2 väntar, 1 inloggad."),
        ("sv", "staff.teamOpen", {"online": 2, "available": 1}, "öppet, 2 online, 1 tillgänglig"),
        ("en", "staff.loadOpen", {"open": 1}, "1 conversation"),
        ("en", "staff.loadOpen", {"open": 0}, "0 conversations"),
        ("en", "staff.load", {"open": 0, "capacity": 1}, "0 of 1 conversation"),
    ],
)
async def test_counts_take_the_singular_or_plural_of_the_language(
    server: Running, browser: Browser, lang: str, key: str, counts: dict[str, int], expected: str
) -> None:
    page = await page_at(browser, PHONE)
    await page.goto(server.base + "/")
    said = await page.evaluate(
        "async ([lang, key, counts]) => { const i18n = await import('/static/js/i18n.js'); await i18n.use(lang);"
        " return i18n.t(key, counts); }", [lang, key, counts])
    assert said == expected
