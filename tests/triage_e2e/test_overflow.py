"""Overflow: waiting conversations move to the team's fallback (Dalarna: reception) when nobody in the team
is online and available, or when the oldest has waited longer than max_wait_s; never to a closed fallback."""

from __future__ import annotations

from chat.service import dispatch
from tests.conftest import Running
from tests.triage_e2e.conftest import (
    NORTH,
    TUESDAY_0830,
    Clinic,
    Clock,
    act,
    codes,
    entry,
    http_queue,
    ids,
    queue_where,
    ws,
)

NORTH_NAME = "Ambulanta teamet norr, Mora (exempel)"
RECEPTION_NAME = "Mottagningen, hela länet (exempel)"


async def test_with_nobody_from_north_online_it_moves_to_reception_with_the_reason(clinic: Clinic, day: Running) -> None:
    rut = await clinic.staff(day, "rut", ("reception",), roles=("reception",))
    visitor = await clinic.visitor(day, **NORTH)

    queue = await queue_where(rut, lambda q: visitor.id in ids(q))
    moved = entry(queue, visitor.id)
    assert moved["team"] == "reception"
    assert codes(moved["reasons"])[-1] == "overflow"
    assert moved["reasons"][-1]["en"] == f"Nobody in {NORTH_NAME} is online and available, so it moves to {RECEPTION_NAME}"
    assert moved["reasons"][-1]["sv"] == f"Ingen i {NORTH_NAME} är inloggad och ledig, så samtalet flyttas till {RECEPTION_NAME}"
    assert (await rut.claim(visitor.id)).status_code == 200
    assert (await ws(visitor).expect("state"))["staff"] == "Rut"


async def test_a_conversation_waiting_longer_than_max_wait_moves_to_reception(clinic: Clinic, day: Running, clock: Clock) -> None:
    """North's only counsellor is online but full (capacity 2): the third visitor waits in north until it has
    waited more than north's max_wait_s (600 s), then moves to reception."""
    nils = await clinic.staff(day, "nils", ("north",), roles=("ambulant",))
    rut = await clinic.staff(day, "rut", ("reception",), roles=("reception",))
    for _ in range(2):
        held = await clinic.visitor(day, **NORTH)
        await ws(nils).expect("offer", conversation_id=held.id)
        assert (await act(nils, held.id, "accept")).status_code == 200
    third = await clinic.visitor(day, **NORTH)

    await dispatch.tick(day.ctx)
    waiting = entry(await http_queue(nils), third.id)
    assert (waiting["team"], waiting["offered_to"]) == ("north", None)
    assert third.id not in ids(await http_queue(rut))

    clock.advance(601)
    queue = await queue_where(rut, lambda q: third.id in ids(q))
    moved = entry(queue, third.id)
    assert moved["team"] == "reception"
    said = f"The longest waiting with {NORTH_NAME} has waited more than 10 min, so it moves to {RECEPTION_NAME}"
    assert moved["reasons"][-1]["en"] == said
    assert third.id not in ids(await http_queue(nils))


async def test_a_closed_fallback_does_not_receive_it(clinic: Clinic) -> None:
    """At 08:30 north is open and the reception not yet: with nobody from north online the conversation stays
    in north; at 09:00 the reception opens and it moves there."""
    clock = Clock(TUESDAY_0830)
    server = await clinic.open(clock)
    rut = await clinic.staff(server, "rut", ("reception",), roles=("reception",))
    sven = await clinic.staff(server, "sven", (), roles=("supervisor",))
    visitor = await clinic.visitor(server, **NORTH)

    for _ in range(2):
        await dispatch.tick(server.ctx)
    stays = entry(await http_queue(sven), visitor.id)
    assert stays["team"] == "north" and "overflow" not in codes(stays["reasons"])
    assert await http_queue(rut) == []

    clock.advance(31 * 60)
    queue = await queue_where(rut, lambda q: visitor.id in ids(q))
    assert entry(queue, visitor.id)["team"] == "reception"
