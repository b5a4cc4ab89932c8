"""The open conversation in the staff console with a long history, in a real browser: the layout gives the
messages the room at 360×640, 768×1024 and 1280×800 (checked by bounding boxes), the newest message is in view
on opening, after a reload, in another tab and after logging in again, new messages follow the reader at the
end or show a "Nya meddelanden ↓" button with a count, a risk-signal message is brought into view and marked,
and the routing reasons read as plain words.

Same server as test_staff_console.py: the bundled Dalarna region on a Tuesday at 13:00, SQLite, in-memory bus."""

# ruff: noqa: F811 (the fixture `clinic` is imported from test_staff_console.py; each test naming it "redefines" it)
from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from chat.settings import Settings
from tests.browser.conftest import violations
from tests.browser.test_staff_console import PASSWORD, Clinic, claim, clinic, login  # noqa: F401
from tests.client import Staff, Visitor
from tests.conftest import serve
from tests.triage_e2e.conftest import RISK_TEXT, TUESDAY_1300, Clock

PHONE = ViewportSize(width=360, height=640)
TABLET = ViewportSize(width=768, height=1024)
DESKTOP = ViewportSize(width=1280, height=800)
SIZES = [PHONE, TABLET, DESKTOP]
SIZE_IDS = ["phone", "tablet", "desktop"]
# How many messages at least are wholly in view in the log, per width.
ENOUGH = {360: 3, 768: 5, 1280: 4}

# Boxes of the parts of the open conversation, and which messages of the log are wholly in view.
BOXES = """() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right};
  };
  const log = document.getElementById('log');
  const l = log.getBoundingClientRect();
  const msgs = [...log.querySelectorAll('.msg')];
  const inView = msgs.map((m) => { const r = m.getBoundingClientRect(); return r.top >= l.top - 1 && r.bottom <= l.bottom + 1; });
  return {
    heading: box(document.getElementById('conv-heading')),
    actions: box(document.querySelector('.conv__actions')),
    log: box(log),
    composer: box(document.getElementById('send-form')),
    send: box(document.querySelector('#send-form button[type=submit]')),
    inView, count: msgs.length, last: inView[inView.length - 1],
    viewport: {width: innerWidth, height: innerHeight},
    sideways: document.documentElement.scrollWidth > document.documentElement.clientWidth,
  };
}"""


async def boxes(page: Page) -> dict[str, Any]:
    return dict(await page.evaluate(BOXES))


async def newest_in_view(page: Page) -> bool:
    return bool((await boxes(page))["last"])


async def long_conversation(clinic: Clinic, page: Page, n: int = 30) -> tuple[Visitor, Staff]:
    """A conversation the console's person holds with n messages, half from each side (the staff half from the
    same person's second session, as from another tab)."""
    v = await clinic.visitor()
    await claim(page, v.id)
    me = Staff(clinic.server.base, "anna", PASSWORD)
    clinic.staff.append(me)  # closed by the fixture even when the test fails
    await me.login()
    await me.connect()
    for i in range(n // 2):
        await v.say(f"Meddelande {i + 1} från den unga. " + "Så här känns det för mig just nu. " * (i % 3), f"v{i}")
        await me.say(v.id, f"Svar {i + 1} från Anna.", f"s{i}")
    await expect(page.locator("#log .msg").filter(has_text=f"Svar {n // 2} från Anna.")).to_have_count(1)
    return v, me


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_a_long_conversation_gets_the_room_and_opens_at_its_newest_message(clinic: Clinic, size: ViewportSize) -> None:
    await clinic.person("anna", teams=("reception",))
    page = await clinic.console("anna", viewport=size)
    _, me = await long_conversation(clinic, page)

    async def check() -> None:
        b = await boxes(page)
        height = b["viewport"]["height"]
        # Heading, actions, the log and the composer are all on screen, one below the other, none covering another.
        for part in ("heading", "actions", "log", "composer", "send"):
            assert 0 <= b[part]["top"] and b[part]["bottom"] <= height + 1, (part, b)
            assert b[part]["right"] <= b["viewport"]["width"] + 1, (part, b)
        assert b["heading"]["bottom"] <= b["actions"]["top"] + 1, b
        assert b["actions"]["bottom"] <= b["log"]["top"] + 1, b
        assert b["log"]["bottom"] <= b["composer"]["top"] + 1, b
        # Several messages in view, the newest among them; no sideways scrolling.
        assert sum(b["inView"]) >= ENOUGH[size["width"]], b
        assert b["last"], b
        assert not b["sideways"]

    await check()
    await page.reload()  # opened again: at the newest message, not the oldest
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    if size is PHONE:
        await page.click("#view-conv")
    await expect(page.locator("#log .msg").filter(has_text="Svar 15 från Anna.")).to_have_count(1)
    await check()
    assert await violations(page) == []
    await me.aclose()


async def test_new_messages_follow_the_reader_or_wait_behind_a_button_and_a_risk_signal_is_brought_into_view(
    clinic: Clinic,
) -> None:
    await clinic.person("anna", teams=("reception",))
    page = await clinic.console("anna", viewport=DESKTOP)
    v, me = await long_conversation(clinic, page)
    log = page.locator("#log")
    below = page.locator("#new-below")

    # At the end: a new message scrolls into view by itself, no button.
    await v.say("Är du kvar?", "x1")
    await expect(log.locator(".msg").last).to_contain_text("Är du kvar?")
    assert await newest_in_view(page)
    await expect(below).to_be_hidden()

    # Reading further up: nothing moves; a button says how many are below, and is said politely once.
    await log.evaluate("el => { el.scrollTop = 0; }")
    await v.say("Hallå?", "x2")
    await expect(below).to_be_visible()
    await expect(below).to_have_text("Nya meddelanden (1) ↓")
    await expect(page.locator("#new-live")).to_have_text("Nya meddelanden har kommit längre ner.")
    await expect(page.locator("#new-live")).to_have_attribute("aria-live", "polite")
    assert not await newest_in_view(page)
    assert await log.evaluate("el => el.scrollTop") == 0  # the reader's place is kept
    await v.say("Jag väntar.", "x3")
    await expect(below).to_have_text("Nya meddelanden (2) ↓")
    assert await violations(page) == []
    await below.click()  # a real button: to the newest, and the messages keep the focus
    await expect(below).to_be_hidden()
    assert await newest_in_view(page)
    await expect(log).to_be_focused()

    # Scrolling down by oneself clears it too.
    await log.evaluate("el => { el.scrollTop = 0; }")
    await v.say("En till.", "x4")
    await expect(below).to_be_visible()
    await log.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    await expect(below).to_be_hidden()

    # A risk signal while reading further up: that message is brought into view and marked in words and shape.
    await log.evaluate("el => { el.scrollTop = 0; }")
    await v.say(RISK_TEXT, "x5")
    risky = log.locator(".msg--risk")
    await expect(risky).to_have_count(1)
    await expect(risky).to_contain_text(RISK_TEXT)
    await expect(risky.locator(".msg__flag")).to_have_text("BRÅDSKANDE – risksignal i det här meddelandet")
    await expect(risky).to_be_in_viewport(ratio=1)
    in_log = await risky.evaluate("m => { const r = m.getBoundingClientRect(), l = document.getElementById('log')"
                                  ".getBoundingClientRect(); return r.top >= l.top - 1 && r.bottom <= l.bottom + 1; }")
    assert in_log
    border = await risky.evaluate("m => getComputedStyle(m).borderLeftWidth")
    assert float(border.removesuffix("px")) >= 6  # shape, not colour alone

    # In English: the button and the mark in English.
    await page.click("#lang")
    await expect(risky.locator(".msg__flag")).to_have_text("URGENT – risk signal in this message")
    await log.evaluate("el => { el.scrollTop = 0; }")
    await v.say("Hello?", "x6")
    await expect(below).to_have_text("New messages (1) ↓")

    # Logged in again (a reload): the message that raised the signal is still marked (the server kept its seq),
    # and the conversation opens at its newest message.
    await page.click("#lang")
    await expect(below).to_have_text("Nya meddelanden (1) ↓")
    await page.reload()
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    await expect(log.locator(".msg").last).to_contain_text("Hello?")
    await expect(risky).to_have_count(1)
    await expect(risky).to_contain_text(RISK_TEXT)
    await expect(risky.locator(".msg__flag")).to_have_text("BRÅDSKANDE – risksignal i det här meddelandet")
    assert await newest_in_view(page)
    await me.aclose()


async def test_a_tab_opens_at_its_first_unread_and_another_tab_or_a_new_login_at_the_newest(clinic: Clinic) -> None:
    await clinic.person("anna", teams=("reception",))
    page = await clinic.console("anna", viewport=DESKTOP)
    first, me = await long_conversation(clinic, page)
    second = await clinic.visitor("en annan person")
    await claim(page, second.id)
    await expect(page.locator("#log")).to_contain_text("en annan person")

    # While the second is open, the first gets three new messages: opening it shows the first of them.
    for i in range(3):
        await first.say(f"Ny rad {i + 1}. " + "Mer text för att fylla ut. " * 12, f"n{i}")
    await expect(page.locator(f"#tab-{first.id} .tab__unread")).to_have_text("3")
    await page.click(f"#tab-{first.id}")
    fresh = page.locator("#log .msg").filter(has_text="Ny rad 1.")
    await expect(fresh).to_be_in_viewport()
    older = page.locator("#log .msg").filter(has_text="Meddelande 15 från den unga.")
    await expect(older).to_have_count(1)

    # Another browser tab of the same person: the conversations open at their newest message.
    other = await page.context.new_page()  # a second tab of the same browser: the same session
    await other.goto(clinic.server.base + "/staff")
    await expect(other.locator("#console")).to_have_attribute("data-conn", "open")
    await other.click(f"#tab-{first.id}")
    await expect(other.locator("#log .msg").filter(has_text="Ny rad 3.")).to_have_count(1)
    assert await newest_in_view(other)

    # Logging out and in again: at the newest message, not the oldest.
    await page.click("#logout")
    await expect(page.locator("#login")).to_be_visible()
    await login(page, "anna")
    await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
    await page.click(f"#tab-{first.id}")
    await expect(page.locator("#log .msg").filter(has_text="Ny rad 3.")).to_have_count(1)
    await expect(page.locator("#log .msg").last).to_be_in_viewport(ratio=1)
    assert await newest_in_view(page)
    await me.aclose()


async def test_routing_reasons_read_as_plain_words_in_swedish_and_english(clinic: Clinic) -> None:
    await clinic.person("rut", teams=("relatives",))
    page = await clinic.console("rut", viewport=DESKTOP)
    v = await Visitor.start(clinic.server.base, role="relative", municipality="2081", topic="alcohol", age_band="adult")
    await v.connect()
    clinic.visitors.append(v)
    await claim(page, v.id)
    reasons = page.locator("#reasons li")
    await expect(reasons).to_have_text(["Ämne: alkohol", "Ålder: vuxen",
                                        "Till Närståendestödet (exempel), eftersom det är en närstående som skriver"])
    await page.click("#lang")
    await expect(reasons).to_have_text(["Topic: alcohol", "Age: adult",
                                        "To Närståendestödet (exempel), because a relative is writing"])
    text = " ".join(await reasons.all_inner_texts())
    for word in ("relatives", "regel", "rule:", "→", "2081"):
        assert word not in text


async def test_a_long_conversation_opened_again_is_read_within_the_production_rate_limit(
    settings: Settings, browser: Browser
) -> None:
    """At the production rate limit (5 frames a second, 20 at once), the console opening 30 messages again (a
    reload) sends one read receipt for the burst, not one a message: none is refused as "För många meddelanden",
    and the young person sees the newest marked read (the screenshots showed the refusal on every long chat)."""
    production = Settings()
    limited = settings.replace(frames_per_second=production.frames_per_second, frame_burst=production.frame_burst)
    clock = Clock(TUESDAY_1300)
    async with serve(limited, clock=clock) as server:
        c = Clinic(server, clock, browser)
        await c.person("anna", teams=("reception",))
        page = await c.console("anna")
        v, me = await long_conversation(c, page)
        await page.reload()
        await expect(page.locator("#console")).to_have_attribute("data-conn", "open")
        await expect(page.locator("#log .msg").filter(has_text="Svar 15 från Anna.")).to_have_count(1)
        newest = next(m["seq"] for m in me.ws.messages() if m["client_msg_id"] == "s14")  # its own: from the ack
        await v.ws.expect("read", seq=newest)
        await page.wait_for_timeout(1000)  # a refused receipt would have come back by now
        assert "För många" not in (await page.locator("#notice").text_content() or "")
        await me.aclose()
        await v.ws.close()
        await page.context.close()
