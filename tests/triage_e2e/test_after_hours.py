"""Out of hours: on a Tuesday at 23:30 every Dalarna team is closed. The start page says so and when it
opens, a visitor still starts and leaves a message, the reception finds it in the morning, and the visitor
comes back with the return code to the same conversation; a closed one re-opens, offered to the earlier
counsellor. Wrong codes are refused, floods of them limited."""

from __future__ import annotations

from datetime import date, datetime, time

import httpx

from chat.service import conversations
from tests.client import Visitor
from tests.triage_e2e.conftest import (
    RECEPTION,
    STOCKHOLM,
    TUESDAY_2330,
    WEDNESDAY_0930,
    Clinic,
    Clock,
    act,
    codes,
    entry,
    error_code,
    http_queue,
    ids,
    queue_where,
    ws,
)

NIGHT_TEXT = "Hej, jag dricker varje helg och vill prata med någon."
ANSWER = "Hej! Tack för att du skrev. Vill du berätta mer?"


def _local(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(STOCKHOLM)


async def test_at_night_the_intake_says_closed_and_opens_at_eight(clinic: Clinic) -> None:
    server = await clinic.open(Clock(TUESDAY_2330))
    async with httpx.AsyncClient(base_url=server.base) as http:
        intake = (await http.get("/api/v1/intake")).json()

    assert intake["open_now"] is False
    opens = _local(intake["next_opening"])
    assert (opens.date(), opens.time()) == (date(2026, 11, 18), time(8, 0))  # the ambulant teams, Wednesday
    assert intake["hours"]["tue"] == ["09:00–21:00"]
    crisis = intake["crisis"]
    assert crisis[0]["number"] == "112" and crisis[0]["open_now"] is True
    gambling_line = next(c for c in crisis if c["number"] == "020-81 91 00")
    assert gambling_line["open_now"] is False


async def test_a_message_left_at_night_is_answered_in_the_morning_and_found_with_the_return_code(clinic: Clinic) -> None:
    clock = Clock(TUESDAY_2330)
    server = await clinic.open(clock)
    night = await clinic.visitor(server, connect=False, **RECEPTION)
    welcome = await night.connect()
    assert (welcome["state"], welcome["open"]) == ("queued", False)
    opens = _local(welcome["opens_at"])
    assert (opens.date(), opens.time()) == (date(2026, 11, 18), time(9, 0))  # the reception, Wednesday
    assert welcome["crisis"][0]["number"] == "112"
    # The estimate counts the night: at least the 9.5 hours until the reception opens.
    assert welcome["queue"]["position"] == 1 and welcome["queue"]["estimated_wait_s"] >= 9.5 * 3600
    ack = await night.say(NIGHT_TEXT, "n1")
    assert ack["seq"] == 1
    assert [m["text"] for m in await conversations.replay(server.ctx, night.id, 0)] == [NIGHT_TEXT]
    await ws(night).close()

    clock.set(WEDNESDAY_0930)
    rut = await clinic.staff(server, "rut", ("reception",), roles=("reception",))
    left = entry(await queue_where(rut, lambda q: night.id in ids(q)), night.id)
    assert left["after_hours"] is True and left["last_seq"] == 1
    closed = left["reasons"][-1]
    assert closed["code"] == "closed" and "Mottagningen, hela länet (exempel) opens first (2026-11-18 09:00)" in closed["en"]
    assert (await rut.claim(night.id)).status_code == 200
    assert (await ws(rut).expect("msg", seq=1))["text"] == NIGHT_TEXT
    await rut.say(night.id, ANSWER, "s1")

    back = await clinic.visitor(server, connect=False, return_code=night.started["return_code"])
    assert back.id == night.id and back.token != night.token
    assert (back.started["state"], back.started["reopened"]) == ("active", False)
    welcome = await back.connect(last_seq=0)
    assert (welcome["state"], welcome["staff"], welcome["open"]) == ("active", "Rut", True)
    replayed = [await ws(back).expect("msg", seq=n) for n in (1, 2)]
    assert [(m["from"], m["text"]) for m in replayed] == [("visitor", NIGHT_TEXT), ("staff", ANSWER)]


async def test_returning_to_a_closed_conversation_reopens_it_and_offers_it_to_the_earlier_counsellor(
    clinic: Clinic, clock: Clock
) -> None:
    server = await clinic.open(clock)
    rut = await clinic.staff(server, "rut", ("reception",), roles=("reception",))
    bo = await clinic.staff(server, "bo", ("reception",), roles=("reception",))
    first = await clinic.visitor(server, **RECEPTION)
    assert (await rut.claim(first.id)).status_code == 200
    await first.say("tack, det hjälpte", "v1")
    assert (await act(rut, first.id, "close", {"outcome": "advice_given"})).status_code == 200
    await ws(first).expect("state", state="closed")

    back = await clinic.visitor(server, return_code=first.started["return_code"])
    assert back.id == first.id
    assert (back.started["state"], back.started["reopened"]) == ("queued", True)
    offer = await ws(rut).expect("offer", conversation_id=first.id)
    assert offer["conversation"]["reopened"] == 1
    assert codes(offer["conversation"]["reasons"])[-2:] == ["returning", "returning"]
    said = [(r["sv"], r["en"]) for r in offer["conversation"]["reasons"] if "med kod" in r["sv"]]
    assert said == [("Återkommande med kod (öppnat igen 1 gång)", "Returning with a code (re-opened 1 time)")]
    await ws(bo).nothing_more("offer")
    refused = await bo.claim(first.id)
    assert (refused.status_code, error_code(refused)) == (409, "offered_elsewhere")
    assert (await act(rut, first.id, "accept")).status_code == 200
    assert (await ws(back).expect("state", state="active"))["staff"] == "Rut"
    assert [m["text"] for m in ws(back).messages()] == ["tack, det hjälpte"]

    # Closed and re-opened once more: counted again. Rut is away now, so nobody is offered it first.
    assert (await act(rut, first.id, "close", {"outcome": "advice_given"})).status_code == 200
    await ws(rut).send(type="presence", status="away")
    await ws(rut).expect("presence", status="away")
    again = await Visitor.start(server.base, return_code=first.started["return_code"])
    assert again.started["reopened"] is True
    waiting = entry(await http_queue(bo), first.id)
    assert (waiting["reopened"], waiting["offered_to"], waiting["state"]) == (2, None, "queued")
    assert any(r["sv"] == "Återkommande med kod (öppnat igen 2 gånger)" for r in waiting["reasons"])
    await ws(rut).nothing_more("offer")


async def test_a_wrong_return_code_is_refused(clinic: Clinic, clock: Clock) -> None:
    server = await clinic.open(clock)
    real = await clinic.visitor(server, connect=False, **RECEPTION)
    wrong = "AAAA-AAAA-AAAA" if real.started["return_code"] != "AAAA-AAAA-AAAA" else "BBBB-BBBB-BBBB"
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post("/api/v1/conversations", json={"role": "young", "return_code": wrong})
    assert (r.status_code, error_code(r)) == (400, "return_code_invalid")
    # Case and dashes do not matter for the right one.
    messy = real.started["return_code"].lower().replace("-", " ")
    again = await Visitor.start(server.base, return_code=messy)
    assert again.id == real.id


async def test_a_flood_of_wrong_return_codes_is_limited(clinic: Clinic, clock: Clock) -> None:
    server = await clinic.open(clock, settings=clinic.settings.replace(return_code_attempts_per_minute=5))
    async with httpx.AsyncClient(base_url=server.base) as http:
        answers = [
            await http.post("/api/v1/conversations", json={"role": "young", "return_code": f"WRNG-{n:04d}-CODE"})
            for n in range(8)
        ]
    assert [(r.status_code, error_code(r)) for r in answers] == [(400, "return_code_invalid")] * 5 + [(429, "rate_limited")] * 3
