"""Queues per team over real sockets: order by priority then waiting time, places in line that move, each
person seeing only their own teams' queues, and where a few typical intakes end up and why."""

from __future__ import annotations

from tests.conftest import Running
from tests.triage_e2e.conftest import (
    NORTH,
    RECEPTION,
    RISK_TEXT,
    SOUTH,
    Clinic,
    codes,
    entry,
    error_code,
    http_queue,
    ids,
    queue_where,
    ws,
)

NORTH_NAME = "Ambulanta teamet norr, Mora (exempel)"
RECEPTION_NAME = "Mottagningen, hela länet (exempel)"


async def test_urgent_conversation_started_later_goes_first_and_the_line_moves(clinic: Clinic, day: Running) -> None:
    """Two wait in reception; the second writes a risk sentence and goes ahead: the first is told it is now
    second, the staff queue shows the urgent one on top."""
    anna = await clinic.staff(day, "anna", ("reception",), roles=("reception",))
    first = await clinic.visitor(day, **RECEPTION)
    second = await clinic.visitor(day, **RECEPTION)
    assert (first.started["queue"]["position"], second.started["queue"]["position"]) == (1, 2)
    await queue_where(anna, lambda q: ids(q) == [first.id, second.id])

    await second.say(RISK_TEXT, "r1")

    moved = await ws(first).expect("queue", position=2)
    ahead = await ws(second).expect("queue", position=1)
    assert ahead["estimated_wait_s"] < moved["estimated_wait_s"]
    queue = await queue_where(anna, lambda q: ids(q) == [second.id, first.id])
    assert [c["priority"] for c in queue] == [2, 0]
    assert [c["conversation_id"] for c in await http_queue(anna)] == [second.id, first.id]


async def test_child_6_to_12_is_high_priority_and_ahead_of_an_earlier_normal_one(clinic: Clinic, day: Running) -> None:
    """A counsellor in reception and the children's team sees both queues in one list, the child (high by
    the Dalarna rule) first although the other started earlier."""
    anna = await clinic.staff(day, "anna", ("reception", "children"), roles=("reception",))
    older = await clinic.visitor(day, **RECEPTION)
    child = await clinic.visitor(day, role="young", age_band="6-12", topic="alcohol")

    queue = await queue_where(anna, lambda q: set(ids(q)) == {older.id, child.id})
    assert ids(queue) == [child.id, older.id]
    kid = entry(queue, child.id)
    assert (kid["team"], kid["priority"]) == ("children", 1)
    assert "priority" in codes(kid["reasons"])
    assert entry(queue, older.id)["priority"] == 0


async def test_places_in_line_move_up_when_someone_ahead_is_claimed(clinic: Clinic, day: Running) -> None:
    anna = await clinic.staff(day, "anna", ("reception",), roles=("reception",))
    v1, v2, v3 = [await clinic.visitor(day, **RECEPTION) for _ in range(3)]
    welcome_places = [ws(v).received[0]["queue"] for v in (v1, v2, v3)]
    assert [p["position"] for p in welcome_places] == [1, 2, 3]
    waits = [p["estimated_wait_s"] for p in welcome_places]
    assert 0 < waits[0] < waits[1] < waits[2]

    assert (await anna.claim(v1.id)).status_code == 200

    up2 = await ws(v2).expect("queue", position=1)
    up3 = await ws(v3).expect("queue", position=2)
    assert up2["estimated_wait_s"] < up3["estimated_wait_s"] < waits[2]
    await ws(v1).expect("state", state="active")
    await ws(v1).nothing_more("queue")


async def test_staff_see_only_their_own_teams_queues(clinic: Clinic, day: Running) -> None:
    """North's counsellor sees the Mora visitor, not the Borlänge one, and cannot claim it; south's the reverse."""
    anna = await clinic.staff(day, "anna", ("north",), roles=("ambulant",))
    bo = await clinic.staff(day, "bo", ("south",), roles=("ambulant",))
    mora = await clinic.visitor(day, **NORTH)
    borlange = await clinic.visitor(day, **SOUTH)

    north_queue = await queue_where(anna, lambda q: mora.id in ids(q))
    south_queue = await queue_where(bo, lambda q: borlange.id in ids(q))
    assert ids(north_queue) == [mora.id] and ids(south_queue) == [borlange.id]
    assert ids(await http_queue(anna)) == [mora.id]
    assert ids(await http_queue(bo)) == [borlange.id]
    refused = await anna.claim(borlange.id)
    assert (refused.status_code, error_code(refused)) == (403, "forbidden")


async def test_intakes_are_routed_with_their_reasons_shown_to_staff(clinic: Clinic, day: Running) -> None:
    north = await clinic.staff(day, "nils", ("north",), roles=("ambulant",))
    gambling = await clinic.staff(day, "greta", ("gambling",))
    reception = await clinic.staff(day, "rut", ("reception",), roles=("reception",))
    young = await clinic.visitor(day, role="young", municipality="2039", topic="drugs", age_band="16-17")
    relative = await clinic.visitor(day, role="relative", municipality="2081", topic="gambling")
    unknown = await clinic.visitor(day, role="young", topic="alcohol", age_band="13-15")

    älvdalen = entry(await http_queue(north), young.id)
    assert älvdalen["team"] == "north"
    assert codes(älvdalen["reasons"]) == ["topic", "age", "municipality"]
    assert älvdalen["reasons"][-1]["en"] == f"To {NORTH_NAME}, the team for Älvdalen, because a young person is writing"

    spel = entry(await http_queue(gambling), relative.id)
    assert spel["team"] == "gambling"
    assert codes(spel["reasons"]) == ["topic", "rule"]
    assert spel["reasons"][-1]["en"] == "To Spelteamet, hela länet (exempel), because the topic is gambling"

    default = entry(await http_queue(reception), unknown.id)
    assert default["team"] == "reception"
    assert codes(default["reasons"])[-2:] == ["rule_skipped", "default"]
    assert default["reasons"][-1]["en"] == f"No particular rule matched, so the conversation goes to {RECEPTION_NAME}"
    # And nobody sees the others' conversations.
    assert ids(await http_queue(north)) == [young.id]
    assert ids(await http_queue(reception)) == [unknown.id]
