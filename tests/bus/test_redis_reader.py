"""The Redis bus's reader task (bus/redis.py) survives every kind of pub/sub reply: a bus that connected with no
channel yet (its first connection is checked with PING) reads the PONG once its first channel is subscribed, and
must go on confirming subscriptions and delivering messages after it."""

from __future__ import annotations

import asyncio
import uuid

from chat.bus.redis import RedisBus
from tests import services


async def test_the_reader_survives_the_pong_of_its_first_connection_and_confirms_a_thousand_subscriptions() -> None:
    services.require_redis()
    connected = asyncio.Event()
    bus = RedisBus(services.REDIS_URL, f"mmtest-{uuid.uuid4().hex[:8]}", on_state=lambda up: up and connected.set())
    await bus.start()
    try:
        async with asyncio.timeout(5):
            await connected.wait()  # connected with no channel: checked with PING, whose PONG waits unread
        got: asyncio.Queue[bytes | None] = asyncio.Queue()
        await bus.subscribe("first", lambda _channel, payload: got.put_nowait(payload))
        # A storm of hellos subscribes a channel each at once: every one is confirmed (none times out).
        await asyncio.gather(*(bus.subscribe(f"c:{n}", lambda _c, _p: None) for n in range(1000)))
        await bus.publish("first", b"hej")
        async with asyncio.timeout(5):
            assert await got.get() == b"hej"
    finally:
        await bus.close()
