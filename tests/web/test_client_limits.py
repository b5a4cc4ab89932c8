"""Per-client visitor limits (service/limits.py) over real HTTP: one client's wrong return codes or starts
never block another's, the global ceilings hold, parallel bursts get exactly the limit through, and while
Redis is away each instance counts on its own: a young person still gets in, and the limits still hold.
Two clients are simulated with X-Forwarded-For from
127.0.0.1, which MINIMARIA_TRUSTED_PROXIES trusts; on SQLite + memory bus and PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from chat.settings import Settings
from tests.client import Visitor
from tests.conftest import serve
from tests.fault.procs import RedisServer, require_redis_server

ALICE, MALLORY, BOB = "198.51.100.9", "203.0.113.7", "192.0.2.44"  # documentation ranges: headers only


def limited(settings: Settings, **changes: Any) -> Settings:
    """The production limits back on (the suite's conftest lifts them), trusting the loopback proxy."""
    production = Settings()
    base = settings.replace(
        return_code_attempts_per_client_per_minute=production.return_code_attempts_per_client_per_minute,
        return_code_attempts_per_minute=production.return_code_attempts_per_minute,
        starts_per_client_per_hour=production.starts_per_client_per_hour,
        starts_per_minute=production.starts_per_minute,
        trusted_proxies="127.0.0.1",
    )
    return base.replace(**changes)


async def inside_window(window_s: int, room_s: float = 5.0) -> None:
    """Fixed windows: start a burst only with ``room_s`` left in the current one, so it is counted in one."""
    left = window_s - time.time() % window_s
    if left < room_s:
        await asyncio.sleep(left + 0.05)


async def start(http: httpx.AsyncClient, client: str, **body: Any) -> httpx.Response:
    return await http.post("/api/v1/conversations", json={"role": "young", **body},
                           headers={"X-Forwarded-For": client})


async def test_wrong_codes_from_one_client_leave_another_clients_genuine_code_working(settings: Settings) -> None:
    async with serve(limited(settings)) as server, httpx.AsyncClient(base_url=server.base) as http:
        r = await start(http, ALICE)
        assert r.status_code == 201, r.text
        code = r.json()["return_code"]
        await inside_window(60)
        answers = [await start(http, MALLORY, return_code=f"WRONG-{i:04d}") for i in range(31)]
        assert [a.status_code for a in answers[:10]] == [400] * 10
        assert {a.json()["error"]["code"] for a in answers[:10]} == {"return_code_invalid"}
        assert [a.status_code for a in answers[10:]] == [429] * 21
        assert answers[-1].json()["error"]["code"] == "rate_limited"
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
        genuine = await start(http, BOB, return_code=code)
        assert genuine.status_code == 201, genuine.text
        assert genuine.json()["conversation_id"] == r.json()["conversation_id"]


async def test_the_global_return_code_ceiling_holds_across_clients(settings: Settings) -> None:
    async with serve(limited(settings, return_code_attempts_per_minute=5)) as server, \
            httpx.AsyncClient(base_url=server.base) as http:
        await inside_window(60)
        answers = [await start(http, f"192.0.2.{i}", return_code="WRONG-0000") for i in range(1, 8)]
        assert [a.status_code for a in answers] == [400] * 5 + [429] * 2


async def test_parallel_starts_from_one_client_let_exactly_the_limit_through(settings: Settings) -> None:
    async with serve(limited(settings)) as server, \
            httpx.AsyncClient(base_url=server.base, limits=httpx.Limits(max_connections=100), timeout=60) as http:
        await inside_window(3600, room_s=30)
        answers = await asyncio.gather(*(start(http, MALLORY) for _ in range(100)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * 30 + [429] * 70
        refused = next(a for a in answers if a.status_code == 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert (await start(http, BOB)).status_code == 201  # someone else still gets in


async def test_the_global_start_ceiling_holds_across_clients(settings: Settings) -> None:
    async with serve(limited(settings, starts_per_minute=4)) as server, \
            httpx.AsyncClient(base_url=server.base) as http:
        await inside_window(60)
        answers = [await start(http, f"192.0.2.{i}") for i in range(1, 7)]
        assert [a.status_code for a in answers] == [201] * 4 + [429] * 2


async def test_an_untrusted_proxy_cannot_choose_its_client_address(settings: Settings) -> None:
    """Without the loopback proxy trusted, X-Forwarded-For is ignored: every attempt is one client's."""
    async with serve(limited(settings, trusted_proxies="10.9.9.9")) as server, \
            httpx.AsyncClient(base_url=server.base) as http:
        await inside_window(60)
        answers = [await start(http, f"192.0.2.{i}", return_code="WRONG-0000") for i in range(1, 13)]
        assert [a.status_code for a in answers] == [400] * 10 + [429] * 2


@pytest.mark.parametrize("backend", ["postgres"])
async def test_instances_share_the_days_secret_and_the_counts(settings: Settings) -> None:
    """Two instances on one Redis: the first one's secret wins (SET NX), so one client is one client on both;
    Redis holds no address, only keyed hashes that expire."""
    shared = limited(settings)
    async with serve(shared) as one, serve(shared) as two, \
            httpx.AsyncClient(base_url=one.base) as http_one, httpx.AsyncClient(base_url=two.base) as http_two:
        await inside_window(60)
        first = [await start(http_one, MALLORY, return_code="WRONG-0000") for _ in range(5)]
        second = [await start(http_two, MALLORY, return_code="WRONG-0000") for _ in range(6)]
        assert [a.status_code for a in first + second] == [400] * 10 + [429]
        assert settings.redis_url is not None
        r = aioredis.Redis.from_url(settings.redis_url)
        try:
            keys = [k async for k in r.scan_iter(match=f"{settings.bus_prefix}:*")]
            for key in keys:
                assert MALLORY.encode() not in key
                assert await r.ttl(key) > 0, key  # nothing about clients is kept for good
                if await r.type(key) == b"string":
                    assert MALLORY.encode() not in (await r.get(key) or b"")
        finally:
            await r.aclose()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_with_redis_away_a_young_person_still_gets_in_and_the_limits_still_hold(
    settings: Settings, tmp_path: Path
) -> None:
    """A Redis restart must not turn away a young person in crisis: starts and return codes are counted by
    the instance itself meanwhile, so they still work and are still limited."""
    require_redis_server()
    private = await RedisServer(tmp_path).start()
    try:
        async with serve(limited(settings, redis_url=private.url, starts_per_client_per_hour=3)) as server, \
                httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            first = await start(http, ALICE)
            assert first.status_code == 201, first.text
            private.kill()
            wrong = await start(http, BOB, return_code="WRONG-0000")
            assert wrong.json()["error"]["code"] == "return_code_invalid", wrong.text
            answers = [await start(http, ALICE) for _ in range(4)]
            assert [a.status_code for a in answers] == [201, 201, 201, 429], [a.text for a in answers]
            assert (await start(http, MALLORY)).status_code == 201  # another client is not held back
            async with server.ctx.engine.connect() as conn:
                ids = {a.json()["conversation_id"] for a in answers[:3]}
                rows = (await conn.execute(text("SELECT id, state FROM conversations"))).all()
            assert {r[0] for r in rows if r[1] == "queued"} >= ids  # in the queue, which lives in the database
            young = Visitor(server.base, answers[0].json())
            await young.connect()  # and can write: the words are stored and acked while Redis is away
            assert (await young.say("hej, är det någon där?", "m1"))["seq"] == 1
            await young.ws.close()
    finally:
        private.kill()
