"""Two instances on PostgreSQL and a private Redis that is killed and restarted mid-conversation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.protocol import State

from tests.client import WS, Staff, Visitor
from tests.fault.flow import Clients, Log, matches, pg_messages, seen, seqs, settle, two_instances_in_a_chat, until_seq
from tests.fault.procs import (
    Procs,
    RedisServer,
    Server,
)

pytestmark = pytest.mark.slow

RECOVERY_S = 15.0


@dataclass
class Chat:
    """A visitor on instance ``a`` and staff on instance ``b``, talking through a private Redis."""

    a: Server
    b: Server
    redis: RedisServer
    visitor: Visitor
    staff: Staff
    v_ws: WS
    s_ws: WS
    log: Log

    async def visitor_says(self, text: str, cmid: str) -> int:
        return self.log.add(await self.visitor.say(text, cmid), "visitor", text, cmid)

    async def staff_says(self, text: str, cmid: str) -> int:
        return self.log.add(await self.staff.say(self.visitor.id, text, cmid), "staff", text, cmid)

    async def redis_outage(self) -> None:
        """Wait until both instances have seen Redis go: readiness says so and a reconnect has failed."""
        for server in (self.a, self.b):
            await server.until_unready()
            await server.until_logged("bus_disconnected", attempt=lambda n: (n or 0) >= 2)

    async def redis_back(self) -> None:
        await self.redis.restart()
        for server in (self.a, self.b):
            await server.until_logged("bus_reconnected", deadline_s=RECOVERY_S)


@pytest.fixture
async def chat(procs: Procs, fresh_pg_url: str, clients: Clients, tmp_path: Path) -> Chat:
    redis = await procs.redis()
    pair = await two_instances_in_a_chat(procs, clients, tmp_path, fresh_pg_url, redis.url)
    visitor, staff = pair.visitor, pair.staff
    assert visitor.ws is not None and staff.ws is not None
    return Chat(pair.a, pair.b, redis, visitor, staff, visitor.ws, staff.ws, Log())


async def test_messages_sent_while_redis_is_down_arrive_after_it_returns_(chat: Chat, fresh_pg_url: str) -> None:
    """While Redis is down messages are still acked, and once it is back the open sockets catch up on them, once, in order."""
    v_ws, s_ws = chat.v_ws, chat.s_ws
    assert await chat.visitor_says("hej", "v1") == 1
    assert await chat.staff_says("Hej, välkommen!", "s2") == 2
    for ws in (v_ws, s_ws):
        await until_seq(ws, 2)

    # Redis dies without a word. Messages are still stored and acked: the durable write is PostgreSQL.
    chat.redis.kill()
    assert await chat.visitor_says("är det någon där?", "v3") == 3
    assert await chat.visitor_says("hallå?", "v4") == 4
    assert await chat.staff_says("Jag är här.", "s5") == 5
    # A real outage, not a blip between two sends.
    await chat.redis_outage()

    # Redis comes back (empty) on the same port; without reconnecting, both sockets get what they missed.
    await chat.redis.restart()
    await until_seq(s_ws, 5, timeout=RECOVERY_S)
    await until_seq(v_ws, 5, timeout=RECOVERY_S)
    assert chat.visitor.ws is v_ws and chat.staff.ws is s_ws
    assert v_ws.conn.state is State.OPEN and s_ws.conn.state is State.OPEN

    # After the recovery messages flow normally again, through the bus.
    assert await chat.visitor_says("skönt", "v6") == 6
    await until_seq(s_ws, 6)
    assert await chat.staff_says("Vi fortsätter.", "s7") == 7
    for ws in (v_ws, s_ws):
        await until_seq(ws, 7)
        await settle(ws)

    expected = chat.log.expected
    assert seqs(v_ws) == seqs(s_ws) == list(range(1, 8))
    assert seen(v_ws) == seen(s_ws) == expected
    assert matches(await pg_messages(fresh_pg_url, chat.visitor.id), expected)
    # Both instances report ready again (the bus is back).
    await chat.a.ready()
    await chat.b.ready()


async def test_events_published_just_after_redis_returns_are_delivered_(chat: Chat) -> None:
    """Once the bus has reconnected, each new message reaches the other instance at once, even while the instance is busy."""
    v_ws, s_ws = chat.v_ws, chat.s_ws
    assert await chat.visitor_says("hej", "v1") == 1
    await until_seq(s_ws, 1)
    # Normal traffic: readiness probes and messages at the same time leave several Redis connections in
    # instance a's pool. Then Redis restarts, and the bus reconnects.
    assert set(await chat.a.readyz_burst(12)) == {200}
    chat.redis.kill()
    await chat.redis_outage()
    await chat.redis_back()

    # Business as usual, with probes arriving while the visitor writes: every message is published, so
    # staff on the other instance see each one without waiting for a later one to reveal the gap.
    probes: list[int] = []
    for n in range(2, 6):
        said, statuses = await asyncio.gather(chat.visitor_says(f"meddelande {n}", f"v{n}"), chat.a.readyz_burst(4))
        assert said == n
        probes += statuses
        await until_seq(s_ws, n, timeout=5.0)
    await settle(s_ws)
    assert seqs(s_ws) == list(range(1, 6))
    assert seen(s_ws) == chat.log.expected
    await until_seq(v_ws, 5)
    # With Redis up and the bus connected, the instance is ready: no probe may say otherwise.
    assert set(probes) == {200}, f"readiness answered {probes} with Redis up (stale pooled connections)"
