"""The client key of service/limits.py: a keyed hash of the address that changes every UTC day, the same
on every instance of one Redis, and never the address itself."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from chat.service.limits import ClientKeys
from tests.conftest import Running

ADDRESS = "203.0.113.7"


async def test_the_client_key_is_the_same_all_day_and_new_the_next(server: Running) -> None:
    monday = dataclasses.replace(server.ctx, clock=lambda: datetime(2026, 12, 7, 0, 1, tzinfo=UTC))
    later = dataclasses.replace(server.ctx, clock=lambda: datetime(2026, 12, 7, 23, 59, tzinfo=UTC))
    tuesday = dataclasses.replace(server.ctx, clock=lambda: datetime(2026, 12, 8, 0, 1, tzinfo=UTC))
    keys = ClientKeys()
    first = await keys.key(monday, ADDRESS)
    assert ADDRESS not in first and len(first) == 32
    assert await keys.key(later, ADDRESS) == first
    assert await ClientKeys().key(later, ADDRESS) == first  # another instance (or process on one Redis) agrees
    assert await keys.key(monday, "203.0.113.8") != first
    assert await keys.key(tuesday, ADDRESS) != first  # rotated: yesterday's counters cannot be linked
