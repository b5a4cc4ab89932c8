"""How many socket hellos this instance serves at once; the rest wait their turn.

A hello reads the conversation, subscribes to its channel and replays what was missed: a few database
round trips and a bus subscription. After a restart or a network blip every socket of an instance says hello
within the same second. Served all at once, each hello waits behind all the others for the database pool and
the bus, overruns its own timeouts and is refused, the page retries, and the instance spends itself on work
it throws away (tests/fault/test_reconnect_storm.py: 135 of 2,000 resumed in 30 s). Served a few at a time,
each takes milliseconds and the queue drains at the instance's full rate.

A hello that has waited longer than ``wait_s`` is answered ``unavailable`` with a retry delay instead of
being served late: by then the page has given up on it (it waits 10 s for its welcome) and reconnected.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from chat.errors import ChatError, Code


class Busy(ChatError):
    """Too many hellos are waiting: come back after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(Code.UNAVAILABLE, "Many people are reconnecting right now; try again in a moment.")
        self.retry_after_s = retry_after_s


class Admission:
    """This instance's hello slots (a semaphore made on first use, in the running loop)."""

    def __init__(self) -> None:
        self._slots: asyncio.Semaphore | None = None

    @asynccontextmanager
    async def hello(self, size: int, wait_s: float) -> AsyncIterator[None]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(size)
        try:
            async with asyncio.timeout(wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise Busy(max(1, round(wait_s / 2))) from None
        try:
            yield
        finally:
            self._slots.release()
