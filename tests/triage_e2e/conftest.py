"""Triage end to end: real servers with the bundled Dalarna region (or a variant of it) and a clock set to a
known Swedish wall-clock time, real staff and visitor sockets, on SQLite + memory bus and PostgreSQL + Redis.

The clock is the real one shifted, so time still passes (offers run out, waits grow); a test may move it on
(a night becomes a morning) but never back. The ``clinic`` fixture starts servers and people and stops them
all at the end, people first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chat.service import accounts
from chat.settings import Settings
from tests.client import WS, Staff, Visitor
from tests.conftest import Running, empty_database, serve
from triage import Region, load_region
from triage.config import bundled_region_text

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# A Tuesday that is no holiday in dalarna.toml. At 13:00 every Dalarna team is open; at 08:30 the
# ambulant teams are (08:00) but the reception is not yet (09:00); at 23:30 everything is closed.
TUESDAY_1300 = datetime(2026, 11, 17, 13, 0, tzinfo=STOCKHOLM)
TUESDAY_0830 = datetime(2026, 11, 17, 8, 30, tzinfo=STOCKHOLM)
TUESDAY_2330 = datetime(2026, 11, 17, 23, 30, tzinfo=STOCKHOLM)
WEDNESDAY_0930 = datetime(2026, 11, 18, 9, 30, tzinfo=STOCKHOLM)

PASSWORD = "correct horse battery"
RISK_TEXT = "jag vill inte leva längre"

# Start-form bodies that the Dalarna rules send to one team each.
NORTH = {"role": "young", "municipality": "2062", "topic": "drugs", "age_band": "16-17"}  # Mora
SOUTH = {"role": "young", "municipality": "2081", "topic": "alcohol", "age_band": "16-17"}  # Borlänge
RECEPTION = {"role": "young"}  # no municipality: no home team, so the default team


class Clock:
    """The real clock shifted to a chosen instant: it keeps running from there; ``set`` moves it on."""

    def __init__(self, at: datetime) -> None:
        self._offset = at.astimezone(UTC) - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def set(self, at: datetime) -> None:
        offset = at.astimezone(UTC) - datetime.now(UTC)
        assert offset >= self._offset - timedelta(seconds=1), "the clock only moves forward"
        self._offset = offset

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)

    def local(self) -> datetime:
        return self().astimezone(STOCKHOLM)


def dalarna_with(tmp_path: Path, *changes: tuple[str, str]) -> Region:
    """The bundled Dalarna file with (old, new) text replaced everywhere (each old text must be there), loaded
    from tmp_path through the real parser, as an operator's edited copy would be."""
    toml = bundled_region_text()
    for old, new in changes:
        assert old in toml, f"dalarna.toml no longer has {old!r}"
        toml = toml.replace(old, new)
    path = tmp_path / "region.toml"
    path.write_text(toml, encoding="utf-8")
    return load_region(path)


def ws(who: Visitor | Staff) -> WS:
    assert who.ws is not None, "not connected"
    return who.ws


async def present(staff: Staff, status: str) -> None:
    """Set this person's status; the answer comes after it is written where every dispatcher reads it
    (and, sent right after hello, after the socket counts as online)."""
    await ws(staff).send(type="presence", status=status)
    await ws(staff).expect("presence", status=status)


class Clinic:
    """Servers, staff members and visitors of one test; everything it started is stopped at the end."""

    def __init__(self, settings: Settings, stack: contextlib.AsyncExitStack) -> None:
        self.settings = settings
        self._stack = stack

    async def open(
        self, clock: Callable[[], datetime], region: Region | None = None, settings: Settings | None = None
    ) -> Running:
        return await self._stack.enter_async_context(serve(settings or self.settings, region, clock))

    async def staff(
        self, server: Running, username: str, teams: tuple[str, ...], roles: tuple[str, ...] = ("counsellor",),
        connect: bool = True, via: Running | None = None,
    ) -> Staff:
        """A staff member added to the database, logged in and (by default) connected, on ``via`` if given."""
        await accounts.add_staff(server.ctx, username, PASSWORD, list(roles), list(teams), username.title())
        person = Staff((via or server).base, username, PASSWORD)
        self._stack.push_async_callback(person.aclose)
        await person.login()
        if connect:
            await person.connect()
            await present(person, "available")
        return person

    async def visitor(self, server: Running, connect: bool = True, **body: Any) -> Visitor:
        v = await Visitor.start(server.base, **body)
        self._stack.push_async_callback(lambda: v.ws.close() if v.ws is not None else asyncio.sleep(0))
        if connect:
            await v.connect()
        return v


@pytest.fixture
async def clinic(settings: Settings) -> AsyncIterator[Clinic]:
    await empty_database(settings)
    async with contextlib.AsyncExitStack() as stack:
        yield Clinic(settings, stack)


@pytest.fixture
def clock() -> Clock:
    """Tuesday 13:00 in Stockholm: every Dalarna team is open."""
    return Clock(TUESDAY_1300)


@pytest.fixture
async def day(clinic: Clinic, clock: Clock) -> Running:
    """A server with the bundled Dalarna region on a Tuesday at 13:00."""
    return await clinic.open(clock)


# Reading what the staff side shows.


async def queue_where(staff: Staff, holds: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0) -> list[dict[str, Any]]:
    """The first ``queue_update`` on this staff socket whose list satisfies ``holds`` (earlier ones are read past)."""
    sock = ws(staff)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: list[Any] = []
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no queue_update as expected within {timeout} s; last seen: {seen[-1:] or 'none'}")
        try:
            frame = await sock.expect("queue_update", timeout=remaining)
        except TimeoutError:
            continue
        seen.append(frame["queue"])
        if holds(frame["queue"]):
            return list(frame["queue"])


async def first_offer(*people: Staff, timeout: float = 5.0) -> tuple[Staff, dict[str, Any]]:
    """Whoever of these gets an ``offer`` first, and the frame."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for person in people:
            with contextlib.suppress(TimeoutError):
                return person, await ws(person).expect("offer", timeout=0.05)
    raise AssertionError(f"nobody of {[p.username for p in people]} was offered anything within {timeout} s")


def ids(queue: list[dict[str, Any]]) -> list[str]:
    return [c["conversation_id"] for c in queue]


def entry(queue: list[dict[str, Any]], conversation_id: str) -> dict[str, Any]:
    found = [c for c in queue if c["conversation_id"] == conversation_id]
    assert found, f"{conversation_id} is not in the queue {ids(queue)}"
    return found[0]


async def http_queue(staff: Staff) -> list[dict[str, Any]]:
    r = await staff.http.get("/api/v1/staff/queue")
    assert r.status_code == 200, r.text
    return list(r.json()["queue"])


async def act(staff: Staff, conversation_id: str, action: str, body: dict[str, Any] | None = None) -> httpx.Response:
    """POST /api/v1/staff/conversations/{id}/{action} as this staff member (with their CSRF token)."""
    return await staff.http.post(f"/api/v1/staff/conversations/{conversation_id}/{action}", json=body or {})


def error_code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


def codes(reasons: list[dict[str, str]]) -> list[str]:
    return [r["code"] for r in reasons]
