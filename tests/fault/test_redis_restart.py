"""Two instances on PostgreSQL and a private Redis that is killed and restarted mid-conversation."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.protocol import State

from tests import services
from tests.client import Staff, Visitor
from tests.fault.conftest import Clients
from tests.fault.flow import Log, pg_messages, seen, seqs, settle, until_seq
from tests.fault.procs import STAFF_PASSWORD, Procs, add_staff, db_upgrade, service_env, unique_prefix

pytestmark = pytest.mark.slow

RECOVERY_S = 15.0


async def test_messages_sent_while_redis_is_down_arrive_after_it_returns_(
    procs: Procs, pg_url: str, clients: Clients, tmp_path: Path
) -> None:
    """While Redis is down messages are still acked, and once it is back the open sockets catch up on them, once, in order."""
    redis = await procs.redis()
    ports = services.free_port(), services.free_port()
    env = service_env(
        database_url=pg_url, redis_url=redis.url, bus_prefix=unique_prefix(),
        allowed_origins=",".join(f"http://127.0.0.1:{p}" for p in ports),
    )
    await db_upgrade(env, cwd=tmp_path)
    await add_staff(env, "anna", "Anna", cwd=tmp_path)
    a, b = procs.server("a", env, ports[0]), procs.server("b", env, ports[1])
    await procs.start_all(a, b)

    visitor = await Visitor.start(a.base)
    clients.add(visitor)
    await visitor.connect()
    staff = Staff(b.base, "anna", STAFF_PASSWORD)
    clients.add(staff)
    await staff.login()
    await staff.connect()
    assert visitor.ws is not None and staff.ws is not None
    v_ws, s_ws = visitor.ws, staff.ws
    assert (await staff.claim(visitor.id)).status_code == 200
    await v_ws.expect("state", state="active")

    log = Log()

    async def visitor_says(text: str, cmid: str) -> int:
        return log.add(await visitor.say(text, cmid), "visitor", text, cmid)

    async def staff_says(text: str, cmid: str) -> int:
        return log.add(await staff.say(visitor.id, text, cmid), "staff", text, cmid)

    assert await visitor_says("hej", "v1") == 1
    assert await staff_says("Hej, välkommen!", "s2") == 2
    for ws in (v_ws, s_ws):
        await until_seq(ws, 2)

    # Redis dies without a word. Messages are still stored and acked: the durable write is PostgreSQL.
    redis.kill()
    assert await visitor_says("är det någon där?", "v3") == 3
    assert await visitor_says("hallå?", "v4") == 4
    assert await staff_says("Jag är här.", "s5") == 5
    # A real outage, seen by both instances (readiness reports the bus down), not a blip between two sends.
    await a.until_unready()
    await b.until_unready()

    # Redis comes back (empty) on the same port; without reconnecting, both sockets get what they missed.
    await redis.restart()
    await until_seq(s_ws, 5, timeout=RECOVERY_S)
    await until_seq(v_ws, 5, timeout=RECOVERY_S)
    assert visitor.ws is v_ws and staff.ws is s_ws
    assert v_ws.conn.state is State.OPEN and s_ws.conn.state is State.OPEN

    # After the recovery messages flow normally again, through the bus.
    assert await visitor_says("skönt", "v6") == 6
    await until_seq(s_ws, 6)
    assert await staff_says("Vi fortsätter.", "s7") == 7
    for ws in (v_ws, s_ws):
        await until_seq(ws, 7)
        await settle(ws)

    expected = log.expected
    assert seqs(v_ws) == seqs(s_ws) == list(range(1, 8))
    assert seen(v_ws) == seen(s_ws) == expected
    assert await pg_messages(pg_url, visitor.id) == expected
    # Both instances report ready again (the bus is back).
    await a.ready()
    await b.ready()
    print("DEBUGA", a.stderr()); print("DEBUGB", b.stderr())
