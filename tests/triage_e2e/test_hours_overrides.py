"""Opening-hours overrides at work: on a Tuesday at 13:00 every Dalarna team is open; an admin's override
for today closes the chat (or one team) at once, routing follows, removing it reopens; an instance started
later loads it, and on PostgreSQL + Redis a second instance sees a change made on the first."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.client import Staff
from tests.conftest import Running
from tests.triage_e2e.conftest import NORTH, RECEPTION, STOCKHOLM, Clinic, Clock

TODAY = "2026-11-17"  # the clock fixture's Tuesday


async def intake_open(server: Running) -> bool:
    async with httpx.AsyncClient(base_url=server.base) as http:
        return bool((await http.get("/api/v1/intake")).json()["open_now"])


async def teams(staff: Staff, server: Running) -> dict[str, dict[str, Any]]:
    r = await staff.http.get(f"{server.base}/api/v1/staff/teams")
    assert r.status_code == 200, r.text
    return {t["id"]: t for t in r.json()["teams"]}


async def until_open(staff: Staff, server: Running, team: str, expected: bool, timeout: float = 5.0) -> None:
    """Poll the team list of ``server`` until ``team`` is open (or closed) as expected: another instance
    applies a change when the bus tells it, which sends no frame to await."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (await teams(staff, server))[team]["open_now"] is not expected:
        assert loop.time() < deadline, f"{team} never became open_now={expected} on {server.base}"
        await asyncio.sleep(0.05)


async def test_an_every_team_closure_today_closes_the_chat_at_once_and_removing_it_reopens(
    clinic: Clinic, clock: Clock
) -> None:
    server = await clinic.open(clock)
    root = await clinic.staff(server, "root", (), roles=("admin",), connect=False)
    assert await intake_open(server) is True

    made = await root.http.post("/api/v1/admin/hours", json={"date": TODAY, "team": None, "spans": [],
                                                             "label": "Personaldag"})

    assert made.status_code == 201, made.text
    assert await intake_open(server) is False
    assert not any(t["open_now"] for t in (await teams(root, server)).values())
    visitor = await clinic.visitor(server, connect=False, **RECEPTION)
    welcome = await visitor.connect()
    assert welcome["open"] is False
    opens = datetime.fromisoformat(welcome["opens_at"]).astimezone(STOCKHOLM)
    assert (opens.date(), opens.time()) == (date(2026, 11, 18), time(9, 0))  # the reception, tomorrow
    # An instance started now (a restart, a new replica) loads it from the database.
    later = await clinic.open(clock)
    assert await intake_open(later) is False

    removed = await root.http.delete(f"/api/v1/admin/hours/{made.json()['id']}")

    assert removed.status_code == 200
    assert await intake_open(server) is True
    assert all(t["open_now"] for t in (await teams(root, server)).values())


async def test_a_team_closing_early_today_sends_its_visitors_to_the_fallback(clinic: Clinic, clock: Clock) -> None:
    server = await clinic.open(clock)
    root = await clinic.staff(server, "root", (), roles=("admin",), connect=False)

    made = await root.http.post("/api/v1/admin/hours", json={"date": TODAY, "team": "north", "spans": ["08:00-12:00"]})

    assert made.status_code == 201, made.text
    listed = await teams(root, server)
    assert (listed["north"]["open_now"], listed["reception"]["open_now"]) == (False, True)
    assert datetime.fromisoformat(listed["north"]["opens_at"]).astimezone(STOCKHOLM).date() == date(2026, 11, 18)
    visitor = await clinic.visitor(server, connect=False, **NORTH)
    async with server.ctx.engine.connect() as conn:
        team = (await conn.execute(text("SELECT team FROM conversations WHERE id = :c"), {"c": visitor.id})).scalar_one()
    assert team == "reception"  # north is closed: its fallback


@pytest.mark.parametrize("backend", ["postgres"])
async def test_an_override_made_on_one_instance_is_used_on_the_other(clinic: Clinic, clock: Clock) -> None:
    a = await clinic.open(clock)
    b = await clinic.open(clock)
    root = await clinic.staff(a, "root", (), roles=("admin",), connect=False)
    assert (await teams(root, b))["north"]["open_now"] is True

    made = await root.http.post(f"{a.base}/api/v1/admin/hours",
                                json={"date": TODAY, "team": "north", "spans": ["08:00-12:00"]})
    assert made.status_code == 201, made.text

    await until_open(root, b, "north", expected=False)
    assert (await teams(root, b))["reception"]["open_now"] is True
    # Removed through B: A reopens.
    assert (await root.http.delete(f"{b.base}/api/v1/admin/hours/{made.json()['id']}")).status_code == 200
    await until_open(root, a, "north", expected=True)


# Tuesday 13:00. Each case: the overrides for today, added in this order (a team's first, as in the report:
# the every-team closure came later); then what the start page, the team list (the queues' view) and a
# visitor routed like north's (Mora) see, and where that visitor waits.
COMBINATIONS = [
    pytest.param([("north", ["12:00-14:00"]), (None, [])], False, {"north": False, "reception": False},
                 ("north", False), id="all-closed+north-open"),
    pytest.param([("north", []), (None, ["10:00-14:00"])], True, {"north": False, "reception": True},
                 ("reception", True), id="north-closed+all-open"),
    pytest.param([("north", ["12:00-14:00"]), (None, ["10:00-12:00"])], True, {"north": True, "reception": False},
                 ("north", True), id="north-own-hours+all-shorter"),
    pytest.param([("north", []), (None, [])], False, {"north": False, "reception": False},
                 ("north", False), id="north-closed+all-closed"),
    pytest.param([(None, [])], False, {"north": False, "reception": False}, ("north", False), id="all-closed"),
    pytest.param([("north", ["12:00-14:00"])], True, {"north": True, "reception": True}, ("north", True),
                 id="north-own-hours"),
]


@pytest.mark.parametrize(("made", "page_open", "team_open", "north_visitor"), COMBINATIONS)
async def test_the_start_page_routing_and_the_queue_agree_whatever_overrides_a_date_has(
    clinic: Clinic, clock: Clock, made: list[tuple[str | None, list[str]]], page_open: bool,
    team_open: dict[str, bool], north_visitor: tuple[str, bool],
) -> None:
    """One rule (an every-team whole-day closure wins; otherwise a team's own hours win) seen the same way
    by the start page (open_now), the team list, routing (where a visitor lands) and that visitor's queue
    (open, opens_at, the wait): when the page says closed, nobody is queued to a team that counts as open."""
    server = await clinic.open(clock)
    root = await clinic.staff(server, "root", (), roles=("admin",), connect=False)
    await clinic.staff(server, "nora", ("north",), roles=("ambulant",))  # online: north does not overflow
    for team, spans in made:
        r = await root.http.post("/api/v1/admin/hours", json={"date": TODAY, "team": team, "spans": spans})
        assert r.status_code == 201, r.text

    assert await intake_open(server) is page_open
    listed = await teams(root, server)
    assert {t: listed[t]["open_now"] for t in team_open} == team_open
    assert any(t["open_now"] for t in listed.values()) is page_open
    visitor = await clinic.visitor(server, connect=False, **NORTH)
    welcome = await visitor.connect()
    async with server.ctx.engine.connect() as conn:
        team = (await conn.execute(text("SELECT team FROM conversations WHERE id = :c"), {"c": visitor.id})).scalar_one()
    assert (team, welcome["open"]) == north_visitor
    assert listed[team]["open_now"] is welcome["open"]
    if welcome["open"]:
        assert welcome["opens_at"] is None
        assert welcome["queue"]["estimated_wait_s"] < 3600
    else:
        opens = datetime.fromisoformat(welcome["opens_at"])
        assert opens == datetime.fromisoformat(listed[team]["opens_at"])
        assert opens.astimezone(STOCKHOLM).date() == date(2026, 11, 18)  # nothing opens again today
        assert welcome["queue"]["estimated_wait_s"] >= (opens - clock()).total_seconds() - 60
