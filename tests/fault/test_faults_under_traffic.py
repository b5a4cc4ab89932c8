"""Two instances on one PostgreSQL and one Redis with visitors and staff chatting without pause, and one fault
each: an instance killed (-9), Redis restarted, every database connection dropped, PostgreSQL restarted.

After each, every sender has had its messages acked again (nothing went unanswered: each message got an ack,
an error frame or a closed socket within ``ANSWER_S``), every socket caught up, every acked message is
stored exactly once and reached the other side exactly once in seq order, and ``/readyz`` is 200 again
without anyone's help. The recovery times are printed (``RECOVERY {...}``) for docs/performance.md.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

from tests import services
from tests.fault.procs import Procs
from tests.fault.traffic import Setup, chatting, record

pytestmark = pytest.mark.slow

RESUME_S = 20.0  # every sender acked again, every socket caught up, within this of the fault's end
READY_S = 15.0  # /readyz 200 again within this of the fault's end


def moved(s: Setup, names: list[str]) -> None:
    """These peers lost their socket and connected again."""
    for peer in s.traffic.peers:
        if peer.name in names:
            assert peer.drops and peer.connects >= 2, f"{peer.name} did not reconnect: drops {peer.drops}"


async def test_kill_9_of_one_instance_loses_nothing_under_traffic(procs: Procs, fresh_pg_url: str, tmp_path: Path) -> None:
    """Instance a dies without a word: its clients reconnect to b and resend; b stays ready all along."""
    services.require_redis()
    async with chatting(procs, tmp_path, fresh_pg_url, services.REDIS_URL) as s:
        await s.traffic.warmed()
        on_a = [p.name for p in s.traffic.peers if p.base == s.a.base]
        t0 = time.monotonic()
        s.a.kill()
        resumed = await s.traffic.resumed_after(t0, RESUME_S)
        caught_up = await s.traffic.caught_up_after(t0, RESUME_S)
        # The orchestrator's part: start it again. It becomes ready by itself and takes traffic again.
        relaunched = time.monotonic()
        s.a.launch()
        await s.a.ready()
        ready = time.monotonic() - relaunched
        await s.traffic.resumed_after(time.monotonic(), RESUME_S)
        assert not s.readiness.unready_since("b", t0), "the surviving instance stopped being ready"
        await s.traffic.finish(fresh_pg_url)
        moved(s, on_a)
        record(
            "kill_9",
            all_acked_again_s=round(resumed, 2),
            all_caught_up_s=round(caught_up, 2),
            restarted_instance_ready_s=round(ready, 2),
            answers=dict(s.traffic.answers()),
            closes=s.traffic.closes(),
            messages=len(s.traffic.acked()),
        )


async def test_redis_restart_loses_nothing_under_traffic(procs: Procs, fresh_pg_url: str, tmp_path: Path) -> None:
    """Redis dies and comes back empty: messages are still acked meanwhile (PostgreSQL is the durable write),
    and once it is back every socket catches up without reconnecting."""
    redis = await procs.redis()
    async with chatting(procs, tmp_path, fresh_pg_url, redis.url) as s:
        await s.traffic.warmed()
        t0 = time.monotonic()
        redis.kill()
        for server in (s.a, s.b):
            await server.until_unready()
        await asyncio.sleep(1.0)  # a real outage, with messages acked during it
        healed = time.monotonic()
        await redis.restart()
        caught_up = await s.traffic.caught_up_after(healed, RESUME_S)
        resumed = await s.traffic.resumed_after(healed, RESUME_S)
        ready = max([await s.readiness.ready_after(n, healed, READY_S) for n in ("a", "b")])
        acked_while_down = sum(1 for a in s.traffic.acked() if t0 <= a.at < healed)
        await s.traffic.finish(fresh_pg_url)
        assert acked_while_down > 0, "nothing was acked while Redis was down"
        record(
            "redis_restart",
            outage_s=round(healed - t0, 2),
            acked_while_down=acked_while_down,
            all_caught_up_s=round(caught_up, 2),
            all_acked_again_s=round(resumed, 2),
            ready_again_s=round(ready, 2),
            answers=dict(s.traffic.answers()),
            closes=s.traffic.closes(),
            messages=len(s.traffic.acked()),
        )


async def test_dropping_every_database_connection_loses_nothing_under_traffic(
    procs: Procs, fresh_pg_url: str, tmp_path: Path
) -> None:
    """pg_terminate_backend on every connection of the test's own database: the pools reconnect by themselves."""
    services.require_redis()
    database = fresh_pg_url.rsplit("/", 1)[1]
    # Only ever this test's own database (tests/fault/procs.py pg_database), never the shared one.
    assert database.startswith("minimaria_fault_"), database
    async with chatting(procs, tmp_path, fresh_pg_url, services.REDIS_URL) as s:
        await s.traffic.warmed()
        admin = await asyncpg.connect(services.PG_ADMIN_DSN)
        try:
            t0 = time.monotonic()
            dropped = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await admin.close()
        assert dropped > 0, "the instances held no connection to drop"
        resumed = await s.traffic.resumed_after(t0, RESUME_S)
        caught_up = await s.traffic.caught_up_after(t0, RESUME_S)
        ready = max([await s.readiness.ready_after(n, t0, READY_S) for n in ("a", "b")])
        await s.traffic.finish(fresh_pg_url)
        record(
            "pg_terminate_backend",
            connections_dropped=dropped,
            all_acked_again_s=round(resumed, 2),
            all_caught_up_s=round(caught_up, 2),
            ready_again_s=round(ready, 2),
            answers=dict(s.traffic.answers()),
            closes=s.traffic.closes(),
            messages=len(s.traffic.acked()),
        )


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgresql_restart_loses_nothing_under_traffic(procs: Procs, tmp_path: Path, mode: str) -> None:
    """A private PostgreSQL stopped (``pg_ctl -m fast``: connections closed; ``immediate``: as a crash) and
    started again: senders are told (error frames), resend, and everything acked is there once."""
    services.require_redis()
    pg = await procs.postgres()
    async with chatting(procs, tmp_path, pg.url, services.REDIS_URL) as s:
        await s.traffic.warmed()
        t0 = time.monotonic()
        await pg.stop(mode)
        for server in (s.a, s.b):
            await server.until_unready()
        await asyncio.sleep(1.0)
        healed = time.monotonic()
        await pg.start()
        resumed = await s.traffic.resumed_after(healed, RESUME_S)
        caught_up = await s.traffic.caught_up_after(healed, RESUME_S)
        ready = max([await s.readiness.ready_after(n, healed, READY_S) for n in ("a", "b")])
        await s.traffic.finish(pg.url)
        told = s.traffic.answers()
        assert any(k != "ack" for k in told), f"no sender noticed the outage: {told}"
        record(
            f"postgresql_restart_{mode}",
            outage_s=round(healed - t0, 2),
            all_acked_again_s=round(resumed, 2),
            all_caught_up_s=round(caught_up, 2),
            ready_again_s=round(ready, 2),
            answers=dict(told),
            closes=s.traffic.closes(),
            messages=len(s.traffic.acked()),
        )
