"""The self-test on the young person's page: AUDIT or DUDIT one question at a time, by keyboard, scored as
published, stored by the server, accessible at every step, and re-translated in place on a language switch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, WebSocketRoute, expect
from sqlalchemy import text

from chat.service import health, keys
from tests.browser.conftest import phone, violations
from tests.conftest import Running
from triage.screening import ITEM_VALUES

QUESTIONS = Path(__file__).resolve().parents[2] / "chat" / "static" / "selftest"


def _questions(instrument: str) -> dict[str, Any]:
    return dict(json.loads((QUESTIONS / f"{instrument}.json").read_text(encoding="utf-8")))


def _published(instrument: str, chosen: list[int]) -> int:
    """The published score of the options chosen (by position): the n-th option of a 0–4 item scores n,
    of a 0/2/4 item (AUDIT 9–10, DUDIT 10–11) 2n."""
    full = {"audit": 8, "dudit": 9}[instrument]
    return sum(n if item < full else 2 * n for item, n in enumerate(chosen))


async def _stored(server: Running) -> list[tuple[str, int]]:
    """Each stored self-test's instrument and score, opened with its conversation's key (the score is sealed)."""
    async with server.ctx.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT conversation_id, instrument, created_at, result FROM screenings"))).all()
    stored = []
    for cid, instrument, at, result in rows:
        at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        dek = await keys.dek_for(server.ctx, cid)
        opened = health.open_(dek, cid, f"screening_result|{instrument}@{at.isoformat()}", result, None)
        stored.append((instrument, opened["score"]))
    return stored


async def _waiting_visitor(page: Page, server: Running) -> None:
    """A young person who started a chat nobody has claimed: the self-test is offered while they wait."""
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    await page.click("#start-button")
    await expect(page.locator("#selftest-open")).to_be_visible()


async def _answer_by_keyboard(page: Page, choice: int) -> None:
    """From the focused question: Tab into the radio group, Space or arrows to the option, Tab past
    "Tillbaka" to "Nästa" (or "Skicka svaren") and Enter."""
    panel = page.locator("#selftest")
    await expect(panel.locator("legend")).to_be_focused()
    radios = panel.locator("input[type=radio]")
    await page.keyboard.press("Tab")
    await expect(radios.first).to_be_focused()
    if choice == 0:
        await page.keyboard.press("Space")
    for _ in range(choice):
        await page.keyboard.press("ArrowDown")
    await expect(radios.nth(choice)).to_be_checked()
    await page.keyboard.press("Tab")
    await expect(panel.get_by_role("button", name="Tillbaka")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(panel.locator("button[type=submit]")).to_be_focused()
    await page.keyboard.press("Enter")


def test_the_question_files_score_every_item_as_published() -> None:
    """The options' scores are the published ones, item by item, and every text is there in both languages."""
    for instrument, allowed in ITEM_VALUES.items():
        data = _questions(instrument)
        assert data["id"] == instrument
        assert [tuple(o["score"] for o in item["options"]) for item in data["items"]] == list(allowed)
        texts = [data["title"], data["intro"]]
        for item in data["items"]:
            texts += [item["text"], *(o["label"] for o in item["options"]), *([item["help"]] if "help" in item else [])]
        assert all(t["sv"].strip() and t["en"].strip() for t in texts), instrument


async def test_audit_by_keyboard_gives_the_published_score_and_is_stored(server: Running, browser: Browser) -> None:
    """Every AUDIT question answered with Tab, arrows, Space and Enter; the score shown is the published
    one, with the plain-words explanation, and the server stored it. axe finds nothing on the way."""
    page = await phone(browser)
    await _waiting_visitor(page, server)
    await page.locator("#selftest-open").focus()
    await page.keyboard.press("Enter")
    panel = page.locator("#selftest")
    await expect(panel.locator("#selftest-heading")).to_be_focused()
    await expect(panel.get_by_role("button", name="AUDIT – om alkohol")).to_be_visible()
    assert await violations(page) == []

    await page.keyboard.press("Tab")
    await expect(panel.get_by_role("button", name="AUDIT – om alkohol")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(panel.locator("legend")).to_contain_text("Fråga 1 av 10")
    await expect(panel.locator("legend")).to_contain_text("Hur ofta dricker du alkohol?")
    assert await violations(page) == []

    chosen = [1, 2, 3, 4, 0, 1, 2, 3, 1, 2]  # option positions; neither skip rule applies
    for number, choice in enumerate(chosen, start=1):
        await expect(panel.locator("legend")).to_contain_text(f"Fråga {number} av 10")
        await _answer_by_keyboard(page, choice)

    expected = _published("audit", chosen)
    assert expected == 22
    await expect(panel.locator(".selftest__score")).to_contain_text(f"{expected} av 40 poäng")
    await expect(panel.locator(".selftest__explanation")).to_contain_text("Dina svar tyder på")
    await expect(panel.locator("[role=status]")).to_contain_text("Den du chattar med kan se resultatet")
    assert await _stored(server) == [("audit", expected)]
    assert await violations(page) == []


async def test_all_highest_answers_give_40(server: Running, browser: Browser) -> None:
    """The last option everywhere is the published maximum: 40 of 40."""
    page = await phone(browser)
    await _waiting_visitor(page, server)
    await page.click("#selftest-open")
    panel = page.locator("#selftest")
    await panel.get_by_role("button", name="AUDIT – om alkohol").click()
    for _ in range(10):
        await panel.locator(".selftest__option label").last.click()
        await panel.locator("button[type=submit]").click()
    await expect(panel.locator(".selftest__score")).to_contain_text("40 av 40 poäng")
    assert await _stored(server) == [("audit", 40)]


async def test_switching_to_english_mid_test_translates_the_question_and_keeps_the_answer(
    server: Running, browser: Browser
) -> None:
    """DUDIT: the language switch on question 2 changes the question, the options and the progress in
    place; the answer already chosen stays chosen, and the result comes in English."""
    dudit = _questions("dudit")
    page = await phone(browser)
    await _waiting_visitor(page, server)
    await page.click("#selftest-open")
    panel = page.locator("#selftest")
    await panel.get_by_role("button", name="DUDIT – om droger").click()
    await expect(panel.locator("legend")).to_contain_text(dudit["items"][0]["text"]["sv"])
    await panel.locator(".selftest__option label").nth(1).click()
    await panel.get_by_role("button", name="Nästa").click()
    await panel.locator(".selftest__option label").nth(2).click()

    await page.click("#lang")
    legend = panel.locator("legend")
    await expect(legend).to_contain_text(dudit["items"][1]["text"]["en"])
    await expect(legend).to_contain_text("Question 2 of 11")
    await expect(panel.locator(".selftest__option label").nth(2)).to_have_text(dudit["items"][1]["options"][2]["label"]["en"])
    await expect(panel.locator("input[type=radio]").nth(2)).to_be_checked()

    await panel.get_by_role("button", name="Back").click()
    await expect(legend).to_contain_text(dudit["items"][0]["text"]["en"])
    await expect(panel.locator("input[type=radio]").nth(1)).to_be_checked()
    chosen = [1, 2] + [0] * 9
    for choice in chosen:
        await panel.locator(".selftest__option label").nth(choice).click()
        await panel.locator("button[type=submit]").click()
    expected = _published("dudit", chosen)
    await expect(panel.locator(".selftest__score")).to_contain_text(f"{expected} of 44 points")
    await expect(panel.locator(".selftest__explanation")).to_contain_text("Your answers suggest")
    assert await _stored(server) == [("dudit", expected)]


async def test_refused_answers_are_said_plainly_and_can_be_given_again(server: Running, browser: Browser) -> None:
    """The server refuses the first frame (one answer short on the way: invalid_answers); the page says so
    and lets the person answer again with their answers kept. "Aldrig" on question 1 goes on at question 9,
    as the WHO's AUDIT guide says, and the items skipped count 0."""
    spoil = {"on": True}

    def forward(ws: WebSocketRoute) -> None:
        server_side = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "screening" and spoil["on"]:
                spoil["on"] = False
                frame["answers"] = frame["answers"][:-1]
                message = json.dumps(frame)
            server_side.send(message)

        ws.on_message(to_server)

    page = await phone(browser)
    await page.route_web_socket("**/ws/visitor", forward)
    await _waiting_visitor(page, server)
    await page.click("#selftest-open")
    panel = page.locator("#selftest")
    await panel.get_by_role("button", name="AUDIT – om alkohol").click()
    await panel.locator(".selftest__option label").first.click()  # Aldrig
    await panel.locator("button[type=submit]").click()
    await expect(panel.locator("legend")).to_contain_text("Fråga 9 av 10")
    for choice in (1, 2):
        await panel.locator(".selftest__option label").nth(choice).click()
        await panel.locator("button[type=submit]").click()

    await expect(panel.get_by_role("alert")).to_contain_text("Svaren kunde inte tas emot")
    await expect(panel.get_by_role("button", name="Svara igen")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(panel.locator("legend")).to_contain_text("Fråga 1 av 10")
    await expect(panel.locator("input[type=radio]").first).to_be_checked()
    for _ in range(3):
        await panel.locator("button[type=submit]").click()
    await expect(panel.locator(".selftest__score")).to_contain_text("6 av 40 poäng")  # 0 … 0, 2, 4
    assert await _stored(server) == [("audit", 6)]


async def test_stopping_the_test_sends_nothing(server: Running, browser: Browser) -> None:
    """Stopping the test ("Avbryt testet") on a question sends nothing, and the test can be started again."""
    page = await phone(browser)
    await _waiting_visitor(page, server)
    await page.click("#selftest-open")
    panel = page.locator("#selftest")
    await panel.get_by_role("button", name="AUDIT – om alkohol").click()
    await panel.locator(".selftest__option label").first.click()
    await panel.get_by_role("button", name="Avbryt testet").click()
    await expect(panel).to_contain_text("Inget har skickats")
    await panel.get_by_role("button", name="Gör självtestet").click()
    await expect(panel.get_by_role("button", name="DUDIT – om droger")).to_be_visible()
    assert await _stored(server) == []
