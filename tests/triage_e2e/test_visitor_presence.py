"""Visitor presence and ghosts: staff see whether the young person has the page open now; a waiting visitor
away longer than the grace (1 s here, MINIMARIA_VISITOR_GRACE_S) who wrote nothing leaves the queue, the
people behind move up, and a return (socket or return code) puts them back in their place. Offers follow:
never to a ghost, withdrawn when the visitor goes or leaves, and each queue row says whether it is on offer
to the one reading it. On SQLite + memory bus and PostgreSQL + Redis; two instances on the latter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.client import Visitor
from tests.conftest import Running
from tests.triage_e2e.conftest import NORTH, RECEPTION, Clinic, Clock, act, entry, http_queue, ids, queue_where, ws

GRACE_S = 1.0


async def quick(clinic: Clinic, clock: Clock) -> Running:
    return await clinic.open(clock, settings=clinic.settings.replace(visitor_grace_s=GRACE_S))


def away(queue: list[dict[str, Any]], conversation_id: str) -> bool:
    c = entry(queue, conversation_id)
    return c["visitor_connected"] is False and c["visitor_away_since"] is not None


async def test_a_ghost_leaves_the_queue_after_the_grace_and_comes_back_to_its_place(clinic: Clinic, clock: Clock) -> None:
    server = await quick(clinic, clock)
    rut = await clinic.staff(server, "rut", ("reception",), roles=("reception",))
    first, second, third = [await clinic.visitor(server, **RECEPTION) for _ in range(3)]
    await queue_where(rut, lambda q: ids(q) == [first.id, second.id, third.id] and all(c["visitor_connected"] for c in q))

    await ws(first).close()  # the tab closed: no quick exit
    await queue_where(rut, lambda q: first.id in ids(q) and away(q, first.id))
    await queue_where(rut, lambda q: ids(q) == [second.id, third.id])
    assert (await ws(second).expect("queue", position=1))["position"] == 1
    assert (await ws(third).expect("queue", position=2))["position"] == 2
    assert [c["conversation_id"] for c in await http_queue(rut)] == [second.id, third.id]

    welcome = await first.connect()  # back within the day: first in line again, ahead of the others
    assert (welcome["state"], welcome["queue"]["position"]) == ("queued", 1)
    q = await queue_where(rut, lambda q: ids(q) == [first.id, second.id, third.id])
    assert entry(q, first.id)["visitor_connected"] is True
    assert (await ws(second).expect("queue", position=2))["position"] == 2


async def test_the_return_code_brings_a_ghost_back_to_its_place(clinic: Clinic, clock: Clock) -> None:
    server = await quick(clinic, clock)
    rut = await clinic.staff(server, "rut", ("reception",), roles=("reception",))
    ghost = await clinic.visitor(server, **RECEPTION)
    other = await clinic.visitor(server, **RECEPTION)
    await ws(ghost).close()
    await queue_where(rut, lambda q: ids(q) == [other.id])

    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post("/api/v1/conversations", json={"return_code": ghost.started["return_code"]})
    assert r.status_code == 201
    assert (r.json()["state"], r.json()["queue"]["position"], r.json()["reopened"]) == ("queued", 1, False)
    await queue_where(rut, lambda q: ids(q) == [ghost.id, other.id])


async def test_a_visitor_who_left_a_message_stays_in_the_queue_shown_as_away(clinic: Clinic, clock: Clock) -> None:
    server = await quick(clinic, clock)
    rut = await clinic.staff(server, "rut", ("reception",), roles=("reception",))
    wrote = await clinic.visitor(server, **RECEPTION)
    silent = await clinic.visitor(server, **RECEPTION)
    await wrote.say("jag hör av mig sen", "w1")
    await ws(wrote).close()
    await ws(silent).close()
    q = await queue_where(rut, lambda q: ids(q) == [wrote.id])
    assert away(q, wrote.id)
    assert (await rut.claim(wrote.id)).status_code == 200


async def test_the_holder_sees_the_young_person_go_and_come_back_and_keeps_the_conversation(
    clinic: Clinic, clock: Clock
) -> None:
    server = await quick(clinic, clock)
    rut = await clinic.staff(server, "rut", ("reception",), roles=("reception",))
    v = await clinic.visitor(server, **RECEPTION)
    assert (await rut.claim(v.id)).status_code == 200
    await ws(rut).expect("state", conversation_id=v.id, state="active")

    await ws(v).close()
    gone = await ws(rut).expect("visitor_presence", conversation_id=v.id, connected=False)
    assert gone["away_since"] is not None
    await ws(rut).nothing_more("state", within=3 * GRACE_S, state="closed")  # nothing closes it
    await v.connect()
    assert (await ws(rut).expect("visitor_presence", conversation_id=v.id, connected=True))["away_since"] is None
    await rut.say(v.id, "Hej igen", "s1")
    assert (await ws(v).expect("msg", seq=1))["text"] == "Hej igen"
    # A reload of the console sees the same in its welcome.
    again = await rut.connect()
    held = [c for c in again["conversations"] if c["conversation_id"] == v.id]
    assert held and held[0]["visitor_connected"] is True


async def test_an_offer_is_withdrawn_when_its_visitor_goes_and_made_again_on_return(clinic: Clinic, clock: Clock) -> None:
    server = await quick(clinic, clock)
    nils = await clinic.staff(server, "nils", ("north",), roles=("ambulant",))
    v = await clinic.visitor(server, **NORTH)
    await ws(nils).expect("offer", conversation_id=v.id)
    await ws(v).close()
    withdrawn = await ws(nils).expect("offer_withdrawn", conversation_id=v.id)
    assert withdrawn["reason"] == "gone"
    await ws(nils).nothing_more("offer", within=3 * GRACE_S, conversation_id=v.id)  # never offered a ghost
    await v.connect()
    assert (await ws(nils).expect("offer", conversation_id=v.id))["conversation_id"] == v.id


async def test_quick_exit_withdraws_an_open_offer(clinic: Clinic, clock: Clock) -> None:
    server = await clinic.open(clock)
    nils = await clinic.staff(server, "nils", ("north",), roles=("ambulant",))
    v = await clinic.visitor(server, **NORTH)
    await ws(nils).expect("offer", conversation_id=v.id)
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post("/api/v1/visitor/forget", headers={"Authorization": f"Bearer {v.token}"})
    assert r.status_code == 204
    assert (await ws(nils).expect("offer_withdrawn", conversation_id=v.id))["reason"] == "left"
    await queue_where(nils, lambda q: v.id not in ids(q))
    assert (await act(nils, v.id, "accept")).status_code == 409


async def test_each_queue_row_says_whether_it_is_offered_to_the_reader(clinic: Clinic, clock: Clock) -> None:
    """The row of a conversation offered to Nils says so to Nils (and when the offer ends); to Nora, in the
    same team, it is offered to someone else. Each conversation is listed once."""
    server = await clinic.open(clock)
    nils = await clinic.staff(server, "nils", ("north",), roles=("ambulant",))
    v = await clinic.visitor(server, **NORTH)
    offer = await ws(nils).expect("offer", conversation_id=v.id)
    nora = await clinic.staff(server, "nora", ("north",), roles=("ambulant",))
    mine = entry(await queue_where(nils, lambda q: v.id in ids(q) and entry(q, v.id)["offered_to_me"]), v.id)
    assert datetime.fromisoformat(mine["offer_expires_at"]) == datetime.fromisoformat(offer["expires_at"])
    theirs = entry(await queue_where(nora, lambda q: v.id in ids(q)), v.id)
    assert (theirs["offered_to_me"], theirs["offered_to"] is not None) == (False, True)
    assert ids(await http_queue(nils)).count(v.id) == 1
    assert entry(await http_queue(nils), v.id)["offered_to_me"] is True


@pytest.mark.parametrize("backend", ["postgres"])
async def test_presence_and_ghosts_cross_instances(clinic: Clinic, clock: Clock) -> None:
    """Rut on A; the young person on B goes, and comes back on A: A's queue follows each step."""
    a = await quick(clinic, clock)
    b = await quick(clinic, clock)
    rut = await clinic.staff(a, "rut", ("reception",), roles=("reception",))
    v = await Visitor.start(b.base)
    await v.connect(b.base)
    other = await clinic.visitor(a, **RECEPTION)
    q = await queue_where(rut, lambda q: ids(q) == [v.id, other.id] and entry(q, v.id)["visitor_connected"])
    await ws(v).close()
    await queue_where(rut, lambda q: v.id in ids(q) and away(q, v.id))
    await queue_where(rut, lambda q: ids(q) == [other.id])
    assert (await ws(other).expect("queue", position=1))["position"] == 1
    welcome = await v.connect(a.base)
    assert welcome["queue"]["position"] == 1
    q = await queue_where(rut, lambda q: ids(q) == [v.id, other.id])
    assert entry(q, v.id)["visitor_connected"] is True
    await ws(v).close()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_quick_exit_crosses_instances(clinic: Clinic, clock: Clock) -> None:
    """The young person's socket is on B, Rut holds the conversation on A, the quick exit reaches A: Rut is told
    at once and the socket on B is closed; Bo's queue on B no longer has the other one who left."""
    a = await clinic.open(clock)
    b = await clinic.open(clock)
    rut = await clinic.staff(a, "rut", ("reception",), roles=("reception",))
    bo = await clinic.staff(b, "bo", ("reception",), roles=("reception",))
    held = await Visitor.start(b.base)
    await held.connect(b.base)
    waiting = await clinic.visitor(b, **RECEPTION)
    assert (await rut.claim(held.id)).status_code == 200
    await queue_where(bo, lambda q: ids(q) == [waiting.id])

    async with httpx.AsyncClient(base_url=a.base) as http:
        for v in (held, waiting):
            r = await http.post("/api/v1/visitor/forget", headers={"Authorization": f"Bearer {v.token}"})
            assert r.status_code == 204
    line = await ws(rut).expect("msg", conversation_id=held.id, **{"from": "system"})
    assert line["text"] == "Personen har lämnat chatten."
    assert await ws(rut).expect("state", conversation_id=held.id, state="closed")
    assert await ws(held).closed() == 4401
    assert await ws(waiting).closed() == 4401
    await queue_where(bo, lambda q: ids(q) == [])
