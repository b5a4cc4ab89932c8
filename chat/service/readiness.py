"""Readiness: which of the service's dependencies answer now — the database, the bus, the key file.

``GET /readyz`` renders it (503 naming what is down), and the database ping is timed into
``minimaria_db_latency_seconds``, here and every ``PING_INTERVAL_S`` from a background job.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from chat.service import keys
from chat.service.context import Context
from chat.store import db

PING_INTERVAL_S = 30.0
PING_TIMEOUT_S = 5.0  # a database that does not answer within this is down, as far as readiness goes


@dataclass(frozen=True)
class Readiness:
    database: bool
    bus: bool
    keys: bool

    @property
    def ok(self) -> bool:
        return self.database and self.bus and self.keys


async def database(ctx: Context) -> bool:
    """One timed round trip to the database."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(PING_TIMEOUT_S):
            ok = await db.ping(ctx.engine)
    except TimeoutError:
        ok = False
    ctx.metrics.db_latency.observe(time.perf_counter() - started)
    return ok


async def check(ctx: Context) -> Readiness:
    """The three at once: a slow one does not make the others wait."""
    database_ok, bus_ok, keys_ok = await asyncio.gather(database(ctx), ctx.bus.ping(), keys.ring_readable(ctx))
    return Readiness(database=database_ok, bus=bus_ok, keys=keys_ok)
