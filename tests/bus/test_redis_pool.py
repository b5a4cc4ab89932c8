"""The Redis bus's commands share a bounded pool (bus/redis.py, POOL_SIZE): a flood of concurrent
commands waits for a connection instead of opening one each, so a burst of requests cannot exhaust Redis's
or the process's connections. On a private redis-server, whose client count is this bus's alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from chat.bus.redis import POOL_SIZE, RedisBus
from tests.fault.procs import RedisServer, require_redis_server


async def test_a_flood_of_counter_hits_stays_within_the_pool(tmp_path: Path) -> None:
    require_redis_server()
    private = await RedisServer(tmp_path).start()
    bus = RedisBus(private.url, "pooltest")
    watcher = aioredis.Redis.from_url(private.url)
    await bus.start()
    try:
        peak = 0
        flooding = True

        async def sample() -> None:
            nonlocal peak
            while flooding:
                peak = max(peak, int((await watcher.info("clients"))["connected_clients"]))
                await asyncio.sleep(0.005)

        sampler = asyncio.create_task(sample())
        counts = await asyncio.gather(*(bus.hit("flood", 60) for _ in range(1000)))
        flooding = False
        await sampler
        assert sorted(counts) == list(range(1, 1001))  # every hit counted once, none refused
        assert POOL_SIZE == 64
        assert peak <= 64 + 1, peak  # the pool (pub/sub reader included) and the watcher
    finally:
        await bus.close()
        await watcher.aclose()
        private.kill()
