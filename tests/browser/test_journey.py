"""The young person's whole journey at phone size against a real server, with the network cut mid-chat."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser.conftest import phone, violations
from tests.conftest import Running, StaffFactory


async def test_the_whole_journey_with_a_network_cut_loses_and_doubles_nothing(
    server: Running, browser: Browser, make_staff: StaffFactory
) -> None:
    page = await phone(browser)
    await page.goto(server.base + "/")
    await page.wait_for_selector("#start-button:not([disabled])")
    await page.select_option("#municipality", "2080")
    await page.select_option("#topic", "alcohol")
    await page.click("#start-button")

    # Waiting: the place in line.
    await expect(page.locator("#state")).to_contain_text("nummer 1 i kön")
    session = await page.evaluate("JSON.parse(sessionStorage.getItem('mm.visitor'))")
    cid = session["conversation_id"]

    # Reception claims (over the WebSocket) and answers; the visitor sees who joined and the answer.
    anna = await make_staff("anna")
    assert (await anna.claim(cid)).status_code == 200
    await expect(page.locator("#state")).to_contain_text("Anna")
    await anna.say(cid, "Hej! Vad vill du prata om?", "s1")
    await expect(page.locator("#log")).to_contain_text("Hej! Vad vill du prata om?")
    assert anna.ws is not None
    await anna.ws.nothing_more("msg", seq=1)  # her own: the ack stood for it on this socket (no echo)
    await page.fill("#text", "Jag dricker för mycket på helgerna")
    await page.press("#text", "Enter")
    assert (await anna.ws.expect("msg", seq=2))["text"] == "Jag dricker för mycket på helgerna"
    assert await violations(page) == []

    # The network goes while the person writes and sends; what they typed is kept.
    await page.context.set_offline(True)
    for text in ("första när nätet var borta", "andra när nätet var borta"):
        await page.fill("#text", text)
        await page.press("#text", "Enter")
    await page.fill("#text", "ett utkast")
    # Within seconds the page says the connection is gone, and each message that it goes when it is back.
    await expect(page.locator("#conn")).to_have_text("Ingen anslutning – dina meddelanden skickas när den är tillbaka.")
    await expect(page.locator(".msg--mine[data-state=unsent]")).to_have_count(2)
    await expect(page.locator(".msg--mine[data-state=unsent] .msg__status").first).to_contain_text("skickas när")

    await page.context.set_offline(False)

    # Back online: both arrive once, in order, and are acked; the draft is still there.
    assert (await anna.ws.expect("msg", seq=3, timeout=15))["text"] == "första när nätet var borta"
    assert (await anna.ws.expect("msg", seq=4, timeout=5))["text"] == "andra när nätet var borta"
    await anna.ws.nothing_more("msg", within=1.0)
    await expect(page.locator(".msg--mine[data-state=sending], .msg--mine[data-state=unsent]")).to_have_count(0, timeout=10_000)
    await expect(page.locator("#conn")).to_be_empty()
    mine = await page.locator(".msg--mine .msg__text").all_inner_texts()
    assert mine == ["Jag dricker för mycket på helgerna", "första när nätet var borta", "andra när nätet var borta"]
    assert await page.input_value("#text") == "ett utkast"
