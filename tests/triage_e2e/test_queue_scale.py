"""Places in line as the queue grows and churns: a start's and a hello's place (counted in the store, without
reading the queue) agree with the whole-queue snapshot the sockets are updated from, through many starts and
quick exits; a burst of changes tells a waiting visitor its place at most once a second, ending on the right
one; and a hello at the back of thousands gets its place."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict

import httpx

from chat.service import conversations, queue
from tests.client import Visitor
from tests.conftest import Running
from tests.triage_e2e.conftest import NORTH, RECEPTION, SOUTH, Clinic, ws

CHILD = {"role": "young", "age_band": "6-12", "topic": "alcohol"}  # the children's team, high priority


async def quick_exit(day: Running, visitor: Visitor) -> None:
    async with httpx.AsyncClient(base_url=day.base) as http:
        r = await http.post("/api/v1/visitor/forget", headers={"Authorization": f"Bearer {visitor.token}"})
    assert r.status_code == 204


async def test_places_stay_right_through_many_starts_and_quick_exits(clinic: Clinic, day: Running) -> None:
    """Sixty start (a quarter of them children, high priority), every third leaves: each one still waiting
    has the place the snapshot gives it, each team's line is the most urgent first and then in start order,
    and those who left have no place."""
    bodies = [RECEPTION, NORTH, SOUTH, CHILD]
    people = [await clinic.visitor(day, connect=False, **bodies[i % 4]) for i in range(60)]
    left = people[::3]
    for v in left:
        await quick_exit(day, v)
    staying = [v for v in people if v not in left]

    snap = await queue.snapshot(day.ctx)
    waiting = {c.id: c for c in snap.waiting}
    lines: dict[str, list[str]] = defaultdict(list)  # team → ids, most urgent first, then in start order
    for v in sorted(staying, key=lambda v: -waiting[v.id].priority):  # stable: start order within a priority
        lines[waiting[v.id].team].append(v.id)
    assert sum(map(len, lines.values())) == len(staying) == len(snap.waiting)
    for line in lines.values():
        for position, cid in enumerate(line, 1):
            counted = await queue.place(day.ctx, cid)
            assert counted is not None
            assert counted.position == position
            assert counted == snap.place(cid)
    for v in left:
        assert await queue.place(day.ctx, v.id) is None
        assert snap.place(v.id) is None

    late = await clinic.visitor(day, **RECEPTION)
    now = await queue.snapshot(day.ctx)
    team = next(c.team for c in now.waiting if c.id == late.id)
    assert now.waiting[-1].id == late.id or now.waiting[-1].team != team  # the last of its line
    assert late.started["queue"]["position"] == len([c for c in now.waiting if c.team == team])
    assert ws(late).received[0]["queue"]["position"] == late.started["queue"]["position"]


async def test_a_burst_of_changes_tells_a_visitor_its_place_at_most_once_a_second(clinic: Clinic, day: Running) -> None:
    """Twelve ahead leave one after the other as fast as they can: the visitor behind them hears its place
    move up in a few frames at least a second apart (not twelve), the last one saying it is first."""
    ahead = [await clinic.visitor(day, connect=False, **RECEPTION) for _ in range(12)]
    me = await clinic.visitor(day, **RECEPTION)
    assert ws(me).received[0]["queue"]["position"] == 13

    loop = asyncio.get_running_loop()
    told: list[tuple[float, int]] = []  # (when it arrived, position): read as they come, beside the exits

    async def listen() -> None:
        while not told or told[-1][1] != 1:
            frame = await ws(me).expect("queue", timeout=10)
            told.append((loop.time(), frame["position"]))

    listening = asyncio.create_task(listen())
    for v in ahead:
        await quick_exit(day, v)
    await listening
    await ws(me).nothing_more("queue", within=1.5)

    assert len(told) < len(ahead)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(told)]
    assert all(gap >= 0.9 for gap in gaps), gaps  # a second apart at the server, less a little network jitter
    assert [p for _, p in told] == sorted((p for _, p in told), reverse=True)


async def test_a_hello_at_the_back_of_two_thousand_gets_its_place(clinic: Clinic, day: Running) -> None:
    """Two thousand wait in reception; the next to start, and one of the first to come back, are each told
    their place, in the start answer and in the welcome."""
    first = await clinic.visitor(day, connect=False, **RECEPTION)
    for _ in range(1999):
        await conversations.start(day.ctx, conversations.StartRequest(role="young"))
    last = await clinic.visitor(day, connect=False, **RECEPTION)
    assert last.started["queue"]["position"] == 2001

    welcome = await last.connect()
    assert welcome["queue"]["position"] == 2001
    assert (await first.connect())["queue"]["position"] == 1
