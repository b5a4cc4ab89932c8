"""GET /readyz names the dependency that is down — the bus (a private redis-server the test kills, never the
machine's), the key file (readable by others, or gone) — with a 503, and is ready again when it is back.
On SQLite and on PostgreSQL; the bus is the private Redis in both."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from chat.crypto.keyring import FileKeyRing
from chat.settings import Settings
from tests.conftest import serve
from tests.fault.procs import RedisServer, require_redis_server

TOKEN = "readyz-test-metrics-token"


async def until_status(http: httpx.AsyncClient, status: int, timeout: float = 10.0) -> dict[str, Any]:
    """Poll /readyz until it answers ``status``; its body."""
    async with asyncio.timeout(timeout):
        while True:
            r = await http.get("/readyz")
            if r.status_code == status:
                return dict(r.json())
            await asyncio.sleep(0.05)


async def bus_gauges(http: httpx.AsyncClient) -> tuple[float, float]:
    text = (await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return float(lines["minimaria_bus_connected"]), float(lines["minimaria_bus_reconnects_total"])


async def until_gauges(http: httpx.AsyncClient, check: Callable[[float, float], bool], timeout: float = 10.0) -> None:
    """Scrape until (bus connected, bus reconnects) satisfies ``check``."""
    async with asyncio.timeout(timeout):
        while True:
            if check(*await bus_gauges(http)):
                return
            await asyncio.sleep(0.05)


async def test_a_dead_bus_is_named_and_its_return_counted(settings: Settings, tmp_path: Path) -> None:
    require_redis_server()
    redis = await RedisServer(tmp_path).start()
    try:
        bus_settings = settings.replace(redis_url=redis.url, metrics_token=TOKEN)
        async with serve(bus_settings) as running, httpx.AsyncClient(base_url=running.base, timeout=10) as http:
            assert (await until_status(http, 200))["bus"] is True
            redis.kill()
            down = await until_status(http, 503)
            assert down == {"status": "unavailable", "database": True, "bus": False, "keys": True, "draining": False}
            await until_gauges(http, lambda connected, _: connected == 0)
            await redis.start()
            assert (await until_status(http, 200))["bus"] is True
            await until_gauges(http, lambda connected, reconnects: (connected, reconnects) == (1, 1))  # one reconnect
    finally:
        redis.kill()


async def test_an_unreadable_or_missing_key_file_is_named(settings: Settings) -> None:
    async with serve(settings) as running, httpx.AsyncClient(base_url=running.base, timeout=10) as http:
        ring = running.ctx.keys
        assert isinstance(ring, FileKeyRing)
        assert (await http.get("/readyz")).json()["keys"] is True
        ring.path.chmod(0o644)  # readable by others: the ring refuses such a file
        refused = await until_status(http, 503)
        assert refused == {"status": "unavailable", "database": True, "bus": True, "keys": False, "draining": False}
        ring.path.chmod(0o600)
        assert (await until_status(http, 200))["keys"] is True
        moved = ring.path.with_name("moved-away.json")
        ring.path.rename(moved)  # lost: a deleted secret, an unmounted volume
        try:
            assert (await until_status(http, 503))["keys"] is False
        finally:
            moved.rename(ring.path)
        assert (await until_status(http, 200))["keys"] is True
