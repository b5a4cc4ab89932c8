"""Per-client and global rate limits for visitor actions, without storing any address.

A client is known only by ``HMAC-SHA256(address, secret)``: the secret is random, rotated every UTC day
and kept in this process's memory (embedded) or in Redis with an expiry (several instances), never in the
database, a log or a file. Once a day's secret has expired nobody, the operator included, can tell which
address a counter belonged to. On Redis every instance takes the same day's secret (``SET NX EX``: the
first writer wins, the others read it), so a client is one client whichever instance answers.

Counters are fixed windows on the bus (``MULTI INCR`` + ``EXPIRE NX`` on Redis, a dict in memory). An
attempt is counted *before* it is judged, atomically, so a burst of parallel requests can never get more
than the limit through. A counter that cannot be reached refuses with 503 (``unavailable``): the limits
are never silently skipped, and never crash the request.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from chat.errors import TooMany, Unavailable

if TYPE_CHECKING:
    from chat.service.context import Context

SECRET_TTL_S = 2 * 86400  # a day's secret outlives its day a little, so a window crossing midnight keeps it
SECRET_CACHE_S = 60.0


class Action(StrEnum):
    RETURN_CODE = "rc"
    START = "start"


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` per ``window_s`` seconds; ``limit`` 0 or less means no limit."""

    limit: int
    window_s: int


@dataclass(frozen=True)
class Rules:
    client: Rule
    everyone: Rule


MESSAGES = {
    Action.RETURN_CODE: "Too many attempts with return codes just now; wait a minute and try again.",
    Action.START: "Too many conversations started just now; wait a while and try again.",
}


def rules(ctx: Context, action: Action) -> Rules:
    s = ctx.settings
    if action is Action.RETURN_CODE:
        return Rules(Rule(s.return_code_attempts_per_client_per_minute, 60), Rule(s.return_code_attempts_per_minute, 60))
    return Rules(Rule(s.starts_per_client_per_hour, 3600), Rule(s.starts_per_minute, 60))


class ClientKeys:
    """The day's secret (cached per process for a minute) and the client key it makes of an address."""

    def __init__(self) -> None:
        self._day = ""
        self._secret = b""
        self._fetched = 0.0

    async def secret(self, ctx: Context, day: str) -> bytes:
        # Read again every minute, not once a day: after a Redis restart lost the secret, the instances
        # agree again on the new one within a minute instead of counting one client twice all day.
        if day != self._day or time.monotonic() - self._fetched > SECRET_CACHE_S:
            # Memory bus: this candidate is the secret. Redis: the first instance's candidate is.
            self._secret = await ctx.bus.shared_secret(f"client-key:{day}", secrets.token_bytes(32), SECRET_TTL_S)
            self._day, self._fetched = day, time.monotonic()
        return self._secret

    async def key(self, ctx: Context, address: str) -> str:
        day = ctx.clock().strftime("%Y-%m-%d")
        secret = await self.secret(ctx, day)
        return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()[:32]


async def _count(ctx: Context, key: str, rule: Rule) -> tuple[int, int]:
    """Count one attempt in the current window of ``rule``; (count so far, seconds until the window ends)."""
    now = time.time()
    window = int(now // rule.window_s)
    retry_after = max(1, math.ceil((window + 1) * rule.window_s - now))
    count = await ctx.bus.hit(f"lim:{key}:{rule.window_s}:{window}", rule.window_s + 1)
    return count, retry_after


async def admit(ctx: Context, action: Action, address: str | None) -> None:
    """Count this attempt for its client and for everyone; raise TooMany (429, Retry-After) past either
    limit, or Unavailable (503) when the counters cannot be reached. ``address`` is the client's address as
    the server sees it (behind trusted proxies: the forwarded one); it is only ever hashed. ``None`` is an
    internal caller (the CLI, the demo), not a visitor: nothing is counted."""
    if address is None:
        return
    r = rules(ctx, action)
    try:
        if r.client.limit > 0:
            client = await ctx.limits.key(ctx, address)
            count, retry_after = await _count(ctx, f"{action}:c:{client}", r.client)
            if count > r.client.limit:
                raise TooMany(MESSAGES[action], retry_after_s=retry_after)
        if r.everyone.limit > 0:
            count, retry_after = await _count(ctx, f"{action}:all", r.everyone)
            if count > r.everyone.limit:
                raise TooMany(MESSAGES[action], retry_after_s=retry_after)
    except (ConnectionError, TimeoutError, OSError):
        raise Unavailable("Rate limits cannot be checked right now; try again in a moment.") from None
