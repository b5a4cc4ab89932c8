"""Per-client visitor limits (service/limits.py) over real HTTP: one client's wrong return codes or starts
never block another's, the global ceilings hold, parallel bursts get exactly the limit through, and a Redis
that cannot count answers 503, never a silent pass. Two clients are simulated with X-Forwarded-For from
127.0.0.1, which MINIMARIA_TRUSTED_PROXIES trusts; on SQLite + memory bus and PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from chat.settings import Settings
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
async def test_a_redis_that_cannot_count_answers_503_not_a_pass(settings: Settings, tmp_path: Path) -> None:
    require_redis_server()
    private = await RedisServer(tmp_path).start()
    try:
        async with serve(limited(settings, redis_url=private.url)) as server, \
                httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            assert (await start(http, ALICE)).status_code == 201
            private.kill()
            for body in ({}, {"return_code": "WRONG-0000"}):
                r = await start(http, ALICE, **body)
                assert r.status_code == 503, r.text
                assert r.json()["error"] == {
                    "code": "unavailable", "message": "Rate limits cannot be checked right now; try again in a moment."
                }
    finally:
        private.kill()
