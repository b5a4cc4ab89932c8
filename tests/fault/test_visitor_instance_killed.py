"""Visitor presence when an instance dies: its visitors' entries run out (30 s), the other instance's sweep
marks them away and, past the grace, out of the queue; back on the survivor, they are in their place again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chat.crypto.keyring import FileKeyRing
from tests import services
from tests.client import Staff, Visitor
from tests.fault.flow import STAFF_PASSWORD, Clients
from tests.fault.procs import Procs, add_staff, db_upgrade, free_ports, service_env, unique_prefix

pytestmark = pytest.mark.slow


async def queue_where(staff: Staff, holds: Any, timeout: float) -> list[dict[str, Any]]:
    assert staff.ws is not None
    while True:
        frame = await staff.ws.expect("queue_update", timeout=timeout)
        if holds(frame["queue"]):
            return list(frame["queue"])


async def test_the_visitors_of_a_killed_instance_are_marked_away_then_gone(
    procs: Procs, fresh_pg_url: str, clients: Clients, tmp_path: Path
) -> None:
    services.require_redis()
    ports = free_ports(2)
    keys = tmp_path / "keys.json"
    FileKeyRing.create(keys)
    env = service_env(
        database_url=fresh_pg_url, redis_url=services.REDIS_URL, bus_prefix=unique_prefix(), keys_file=str(keys),
        allowed_origins=",".join(f"http://127.0.0.1:{p}" for p in ports), visitor_grace_s="1",
    )
    await db_upgrade(env, cwd=tmp_path)
    await add_staff(env, "anna", "Anna", cwd=tmp_path)
    a, b = procs.server("a", env, ports[0]), procs.server("b", env, ports[1])
    await procs.start_all(a, b)
    visitor = await Visitor.start(a.base)
    clients.add(visitor)
    await visitor.connect()
    anna = Staff(b.base, "anna", STAFF_PASSWORD)
    clients.add(anna)
    await anna.login()
    await anna.connect()
    await queue_where(anna, lambda q: [c["visitor_connected"] for c in q] == [True], timeout=10)

    a.kill()  # no goodbye: its entry in Redis runs out by itself
    rows = await queue_where(anna, lambda q: q == [] or not q[0]["visitor_connected"], timeout=45)
    assert rows == [] or rows[0]["visitor_away_since"] is not None
    await queue_where(anna, lambda q: q == [], timeout=10)

    welcome = await visitor.connect(b.base)
    assert (welcome["state"], welcome["queue"]["position"]) == ("queued", 1)
    rows = await queue_where(anna, lambda q: len(q) == 1 and q[0]["visitor_connected"], timeout=10)
    assert rows[0]["conversation_id"] == visitor.id
