"""Health data is sealed like messages: after a crisis message and two self-tests (AUDIT and DUDIT), no risk
category, reason, score or zone can be read in any column of any row, on SQLite (its raw files too) and on
PostgreSQL, nor by a subscriber to every Redis channel; the staff console still shows all of it.

What counts as health data is taken from what staff are shown (the alert, the queue row, the screening
frame), so every word the console shows is looked for, and each test first checks it was shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from chat.service import health, keys
from chat.settings import Settings
from tests import services
from tests.conftest import Running, empty_database, serve
from tests.crypto.test_at_rest import drain, redis_sniffer, sqlite_files
from tests.triage_e2e.conftest import RISK_TEXT, TUESDAY_1300, Clinic, Clock, entry, http_queue, queue_where, ws

AUDIT_HARMFUL = [4, 3, 3, 2, 1, 1, 0, 0, 2, 0]  # 16: "harmful", which raises the priority
DUDIT_PROBLEMS = [4, 4, 4, 1, 0, 0, 0, 0, 0, 0, 0]  # 13: "problems"
HEALTH_KEYS = {"categories", "reasons", "risk", "screening", "score", "zone", "max_score", "cutoff", "flagged"}


@pytest.fixture
async def day(settings: Settings) -> AsyncIterator[tuple[Running, Clinic]]:
    """A server on a Tuesday at 13:00 (every team open), on an empty database."""
    await empty_database(settings)
    async with contextlib.AsyncExitStack() as stack:
        clinic = Clinic(settings, stack)
        running = await stack.enter_async_context(serve(settings, None, Clock(TUESDAY_1300)))
        yield running, clinic


async def every_value(running: Running) -> list[tuple[str, str, Any]]:
    """(table, column, value) of every column of every row of every table the database has."""
    if running.settings.is_sqlite:
        listing = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        listing = ("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                   "AND table_schema = current_schema()")
    out: list[tuple[str, str, Any]] = []
    async with running.ctx.engine.connect() as conn:
        tables = [r[0] for r in await conn.execute(text(listing))]
        for table in tables:
            # Names come from the database's own catalogue, quoted: nothing from outside reaches this statement.
            for row in await conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                out.extend((table, column, value) for column, value in row._mapping.items())
    assert {"conversations", "screenings", "messages"} <= set(tables)
    return out


def readable(value: Any, words: set[str], numbers: set[int]) -> list[str]:
    """Which health words (anywhere in it) or scores (as its whole value) this stored value shows."""
    blob = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
    found = [w for w in words if w.encode() in blob]
    if isinstance(value, int) and not isinstance(value, bool) and value in numbers:
        found.append(str(value))
    if isinstance(value, str) and value.strip() in {str(n) for n in numbers}:
        found.append(value)
    return found


def health_keys(value: Any) -> set[str]:
    """Keys naming health data anywhere in a decoded JSON value."""
    if isinstance(value, dict):
        return (set(value) & HEALTH_KEYS) | {k for v in value.values() for k in health_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in health_keys(v)}
    return set()


@dataclass
class Scene:
    """One conversation's health data as the console showed it, and what to look for elsewhere."""

    conversation_id: str
    risk_seq: int
    words: set[str] = field(default_factory=set)
    numbers: set[int] = field(default_factory=set)


async def crisis_and_self_tests(running: Running, clinic: Clinic) -> Scene:
    """A young person does the AUDIT while waiting (it raises the priority, with a reason), then writes a
    crisis sentence, then, once claimed, does the DUDIT; the console shows every part of it as it happens
    and again after a reload."""
    rut = await clinic.staff(running, "rut", ("reception",), roles=("reception",))
    visitor = await clinic.visitor(running, role="young", age_band="16-17")
    await ws(visitor).send(type="screening", instrument="audit", answers=AUDIT_HARMFUL)
    assert (await ws(visitor).expect("screening_result"))["zone"] == "harmful"
    ack = await visitor.say(RISK_TEXT, "r1")
    alert = await ws(rut).expect("alert", conversation_id=visitor.id)
    assert (alert["categories"], alert["priority"], alert["seq"]) == (["suicide"], 2, ack["seq"])
    queue = await queue_where(rut, lambda q: any(
        c["conversation_id"] == visitor.id and c["screening"] and c["risk"] for c in q))
    row = entry(queue, visitor.id)
    assert (row["risk"], row["risk_seq"]) == (["suicide"], ack["seq"])
    assert (row["screening"]["audit"]["score"], row["screening"]["audit"]["zone"]) == (16, "harmful")
    assert entry(await http_queue(rut), visitor.id)["reasons"] == row["reasons"]
    assert (await rut.claim(visitor.id)).status_code == 200
    await ws(rut).expect("state", conversation_id=visitor.id)
    await ws(visitor).send(type="screening", instrument="dudit", answers=DUDIT_PROBLEMS)
    shown = await ws(rut).expect("screening", conversation_id=visitor.id)
    assert (shown["instrument"], shown["score"], shown["zone"]) == ("dudit", 13, "problems")
    assert "sealed" not in shown and "sealed" not in alert
    await ws(rut).close()  # a console opened later still has all of it
    welcome = await rut.connect()
    held = next(c for c in welcome["conversations"] if c["conversation_id"] == visitor.id)
    assert (held["risk"], held["risk_seq"]) == (["suicide"], ack["seq"])
    assert {k: (v["score"], v["zone"]) for k, v in held["screening"].items()} == {
        "audit": (16, "harmful"), "dudit": (13, "problems")}
    reasons = held["reasons"]
    assert {"risk", "screening"} <= {r["code"] for r in reasons}
    words = {"suicide", "harmful", "problems", *(r["sv"] for r in reasons), *(r["en"] for r in reasons),
             '"categories"', '"score"', '"zone"'}
    return Scene(visitor.id, ack["seq"], words, {16, 13})


async def test_risk_reasons_scores_and_zones_are_in_no_column_of_any_row(day: tuple[Running, Clinic]) -> None:
    """Every column of every row of every table, and on SQLite also the raw file and its WAL."""
    running, clinic = day
    scene = await crisis_and_self_tests(running, clinic)
    stored = await every_value(running)
    assert not [(t, c, found) for t, c, v in stored if (found := readable(v, scene.words, scene.numbers))]
    if running.settings.is_sqlite:
        files = sqlite_files(running.settings)
        assert scene.conversation_id.encode() in b"".join(files.values())
        assert not {name: [w for w in scene.words if w.encode() in data] for name, data in files.items()
                    if any(w.encode() in data for w in scene.words)}
    # What is stored opens to what staff were shown (so we looked at the right bytes).
    cid = scene.conversation_id
    async with running.ctx.engine.connect() as conn:
        sealed = (await conn.execute(text("SELECT * FROM conversations WHERE id = :c"), {"c": cid})).one()
        results = (await conn.execute(text("SELECT result FROM screenings WHERE conversation_id = :c"),
                                      {"c": cid})).scalars().all()
    dek = await keys.dek_for(running.ctx, cid)
    assert health.open_(dek, cid, "risk", bytes(sealed.risk_sealed), {}) == {"categories": ["suicide"],
                                                                              "seq": scene.risk_seq}
    assert len(results) == 2
    assert all(results)
    assert not {"risk", "reasons", "screening", "risk_seq"} & set(sealed._mapping)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_alerts_and_screenings_cross_the_bus_sealed(day: tuple[Running, Clinic]) -> None:
    """A subscriber to every Redis channel (as an eavesdropper would be) reads no health word or key; the
    alert and the screening did travel, each with its ``sealed`` blob."""
    running, clinic = day
    prefix = running.settings.bus_prefix
    async with redis_sniffer(services.REDIS_URL) as (sniffed, client):
        scene = await crisis_and_self_tests(running, clinic)
        await drain(sniffed, client, prefix)
    everything = b"\n".join(data for _, data in sniffed.messages)
    assert not [w for w in scene.words if w.encode() in everything]
    mine = [e for _, e in sniffed.on(prefix) if e.get("conversation_id") == scene.conversation_id]
    assert not [e for e in mine if health_keys(e)]
    assert {"alert", "screening"} <= {e["type"] for e in mine if "sealed" in e}
