"""Per-client and global rate limits for visitor actions, without storing any address.

A client is known only by ``HMAC-SHA256(address, secret)``: the secret is random, rotated every UTC day
and kept in this process's memory (embedded) or in Redis with an expiry (several instances), never in the
database, a log or a file. Once a day's secret has expired nobody, the operator included, can tell which
address a counter belonged to. On Redis every instance takes the same day's secret (``SET NX EX``: the
first writer wins, the others read it), so a client is one client whichever instance answers.

Counters are fixed windows on the bus (``MULTI INCR`` + ``EXPIRE NX`` on Redis, a dict in memory). An
attempt is counted *before* it is judged, atomically, so a burst of parallel requests can never get more
than the limit through. When Redis cannot be reached the limits are not skipped and the young person is not
turned away either: this instance counts on its own, in memory, with its own secret, until Redis is back
(each instance then lets through at most the limit, so the whole service at most the limit times the
instances). A person in crisis must be able to start a chat during a Redis restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from chat import logs
from chat.errors import TooMany

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


class Counters(Protocol):
    """Where counts and the day's secret live: the bus (shared by instances) or this process's memory."""

    async def hit(self, key: str, ttl_s: int) -> int: ...

    async def shared_secret(self, name: str, candidate: bytes, ttl_s: int) -> bytes: ...


class LocalCounters:
    """This process's own counters and secret, used while the bus cannot be reached."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._secrets: dict[str, bytes] = {}

    async def hit(self, key: str, ttl_s: int) -> int:
        now = time.monotonic()
        count, expires = self._counts.get(key, (0, now + ttl_s))
        if expires <= now:
            count, expires = 0, now + ttl_s
        self._counts[key] = (count + 1, expires)
        if len(self._counts) > 50_000:
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        return count + 1

    async def shared_secret(self, name: str, candidate: bytes, ttl_s: int) -> bytes:
        if name not in self._secrets:
            self._secrets = {name: candidate}  # only today's: yesterday's is forgotten
        return self._secrets[name]


class ClientKeys:
    """The day's secret (cached per process for a minute) and the client key it makes of an address; and
    this instance's own counters for when the bus is away."""

    def __init__(self) -> None:
        self._day = ""
        self._secret = b""
        self._fetched = 0.0
        self.local = LocalCounters()

    async def secret(self, ctx: Context, day: str) -> bytes:
        # Read again every minute, not once a day: after a Redis restart lost the secret, the instances
        # agree again on the new one within a minute instead of counting one client twice all day.
        if day != self._day or time.monotonic() - self._fetched > SECRET_CACHE_S:
            # Memory bus: this candidate is the secret. Redis: the first instance's candidate is.
            self._secret = await ctx.bus.shared_secret(f"client-key:{day}", secrets.token_bytes(32), SECRET_TTL_S)
            self._day, self._fetched = day, time.monotonic()
        return self._secret

    async def key(self, ctx: Context, address: str, counters: Counters | None = None) -> str:
        day = ctx.clock().strftime("%Y-%m-%d")
        if counters is None:
            secret = await self.secret(ctx, day)
        else:
            secret = await counters.shared_secret(f"client-key:{day}", secrets.token_bytes(32), SECRET_TTL_S)
        return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()[:32]


async def _count(counters: Counters, key: str, rule: Rule) -> tuple[int, int]:
    """Count one attempt in the current window of ``rule``; (count so far, seconds until the window ends)."""
    now = time.time()
    window = int(now // rule.window_s)
    retry_after = max(1, math.ceil((window + 1) * rule.window_s - now))
    count = await counters.hit(f"lim:{key}:{rule.window_s}:{window}", rule.window_s + 1)
    return count, retry_after


async def admit(ctx: Context, action: Action, address: str | None) -> None:
    """Count this attempt for its client and for everyone; raise TooMany (429, Retry-After) past either
    limit. ``address`` is the client's address as the server sees it (behind trusted proxies: the forwarded
    one); it is only ever hashed. ``None`` is an internal caller (the CLI, the demo): nothing is counted.
    While the bus cannot be reached, this instance counts on its own (see the module's docstring)."""
    if address is None:
        return
    r = rules(ctx, action)
    try:
        await _judge(ctx, action, address, r, None)
    except (ConnectionError, TimeoutError, OSError):
        logs.event("limits_local", level=logging.WARNING, reason="bus_unreachable")
        await _judge(ctx, action, address, r, ctx.limits.local)


async def _judge(ctx: Context, action: Action, address: str, r: Rules, local: LocalCounters | None) -> None:
    counters: Counters = local if local is not None else ctx.bus
    if r.client.limit > 0:
        client = await ctx.limits.key(ctx, address, local)
        count, retry_after = await _count(counters, f"{action}:c:{client}", r.client)
        if count > r.client.limit:
            raise TooMany(MESSAGES[action], retry_after_s=retry_after)
    if r.everyone.limit > 0:
        count, retry_after = await _count(counters, f"{action}:all", r.everyone)
        if count > r.everyone.limit:
            raise TooMany(MESSAGES[action], retry_after_s=retry_after)
