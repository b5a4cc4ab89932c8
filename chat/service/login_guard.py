"""How many staff login attempts are checked, and how many at once.

- **Per username** (an HMAC of the normalised name, so a name that is no account is counted exactly like one
  that is): the first ``login_max_failures`` attempts are checked at once; after them each further attempt
  waits 2, 4, 8 … seconds (at most ``login_max_delay_s``) after the one before. The count is taken in the
  database *before* argon2 runs (store/login_attempts.py), so parallel guesses on any number of instances
  cannot outrun it; a right password forgets it, and so does ``login_window_minutes`` without an attempt.
  A growing delay rather than a lock: whoever guesses cannot shut a colleague out for longer than the delay.
- **Globally**: at most ``login_global_failures_per_minute`` attempts a minute are checked over every username
  (a right password gives its place back), against one guess each at many names.
- **At once**: at most ``login_concurrency`` argon2 verifications run in this instance, in threads; the rest
  wait up to ``login_queue_timeout_s`` and then get 503, so a storm of logins cannot starve the chat.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from chat.crypto import tokens
from chat.errors import ChatError, Code
from chat.store import login_attempts as store

if TYPE_CHECKING:
    from chat.service.context import Context

T = TypeVar("T")
PURPOSE = "staff-login"


class Refused(ChatError):
    """429 or 503 with ``Retry-After``; the same answer for every username, account or not."""

    def __init__(self, status: int, code: Code, message: str, retry_after_s: int) -> None:
        super().__init__(code, message)
        self.status = status
        self.retry_after_s = retry_after_s


def _throttled(now: datetime, until: datetime) -> Refused:
    wait = max(1, math.ceil((until - now).total_seconds()))
    return Refused(429, Code.LOCKED_OUT, "Too many login attempts; wait a moment and try again.", wait)


class Gate:
    """This instance's argon2 slots (a semaphore made on first use, in the running loop)."""

    def __init__(self) -> None:
        self._slots: asyncio.Semaphore | None = None

    async def run(self, size: int, timeout_s: float, work: Callable[..., T], *args: object) -> T:
        if self._slots is None:
            self._slots = asyncio.Semaphore(size)
        try:
            async with asyncio.timeout(timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise Refused(503, Code.UNAVAILABLE, "Many people are logging in right now; try again shortly.", 1) from None
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self._slots.release()


@dataclass(frozen=True)
class Attempt:
    """A counted attempt: what to report after the check."""

    key: str
    minute: datetime
    throttled_after: bool  # a wrong password leaves this username waiting
    global_full: bool  # and every username, for the rest of the minute


def key_for(ctx: Context, username: str) -> str:
    return tokens.login_key(ctx.keys.mac_key(PURPOSE), username)


def _blocks(now: datetime, max_delay_s: int) -> list[datetime]:
    """When the next attempt may come after the count reaches the limit, the limit + 1, …: 2, 4, 8 … s."""
    delays: list[int] = []
    while not delays or delays[-1] < max_delay_s:
        delays.append(min(2 ** (len(delays) + 1), max_delay_s))
    return [now + timedelta(seconds=d) for d in delays]


async def take(ctx: Context, key: str) -> Attempt:
    """Count this attempt before any password is checked, or refuse it (``Refused``, nothing counted)."""
    s = ctx.settings
    now = ctx.clock()
    minute = now.replace(second=0, microsecond=0)
    taken = await store.take(
        ctx.engine, key, now, quiet_before=now - timedelta(minutes=s.login_window_minutes),
        free=s.login_max_failures, blocks=_blocks(now, s.login_max_delay_s), minute=minute,
        global_ceiling=s.login_global_failures_per_minute,
    )
    if taken.refused_until is not None:
        raise _throttled(now, taken.refused_until)
    return Attempt(key, minute, taken.blocked_until is not None, taken.global_full)


async def succeeded(ctx: Context, attempt: Attempt) -> None:
    await store.succeeded(ctx.engine, attempt.key, attempt.minute)


async def forget(ctx: Context, username: str) -> None:
    await store.forget(ctx.engine, key_for(ctx, username))


async def waiting(ctx: Context, usernames: list[str]) -> set[str]:
    """Which of these usernames must wait before their next login attempt."""
    keys = {key_for(ctx, u): u for u in usernames}
    return {keys[k] for k in await store.blocked(ctx.engine, list(keys), ctx.clock())}
