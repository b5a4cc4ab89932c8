"""Login attempts, counted in the database before a password is checked.

Each attempt is one transaction: make sure the username's row exists (``INSERT … ON CONFLICT DO NOTHING``),
then a conditional ``UPDATE … WHERE blocked_until has passed … RETURNING``, then the same for the one
``global`` row. The row lock of that UPDATE is what serialises parallel attempts, on one instance and on
every instance sharing the database: of 200 attempts at once exactly as many win as the schedule allows,
whatever order they arrive in. A refused attempt writes nothing. The schedule itself (how long a username
waits after how many attempts) is the service's: it hands in the ``blocks`` to set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, delete, null, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat.store.models import LoginAttempt, UTCDateTime

L = LoginAttempt.__table__  # type: ignore[attr-defined]
GLOBAL = "global"  # never an HMAC (those are 64 hex digits)

_ENSURE = text(
    "INSERT INTO login_attempts (key_hash, started_at, last_at, attempts) VALUES (:k, :now, :now, 0) "
    "ON CONFLICT (key_hash) DO NOTHING"
).bindparams(bindparam("now", type_=UTCDateTime()))


@dataclass(frozen=True)
class Taken:
    """An attempt counted (``attempts``: the username's count with it, ``blocked_until``: when the next one may
    come, None: at once; ``global_full``: it used the global ceiling's last place this minute), or refused
    (``refused_until``: when to try again; ``global_refused``: by the global ceiling)."""

    attempts: int = 0
    blocked_until: datetime | None = None
    global_full: bool = False
    refused_until: datetime | None = None
    global_refused: bool = False

    @property
    def refused(self) -> bool:
        return self.refused_until is not None


class _GlobalFull(Exception):
    pass


async def take(
    engine: AsyncEngine, key: str, now: datetime, *, quiet_before: datetime, free: int, blocks: Sequence[datetime],
    minute: datetime, global_ceiling: int,
) -> Taken:
    """Count an attempt at ``key`` unless it is blocked or the minute's global ceiling is reached.

    The count starts again at 1 when the last attempt was at or before ``quiet_before``. When the new count
    reaches ``free``, ``blocked_until`` becomes ``blocks[count - free]`` (the last one beyond the list)."""
    try:
        async with engine.begin() as conn:
            await conn.execute(_ENSURE, {"k": key, "now": now})
            fresh = L.c.last_at <= quiet_before
            count = case((fresh, 1), else_=L.c.attempts + 1)
            until = case(
                (count < free, null()),
                *((count == free + i, bindparam(None, b, type_=UTCDateTime())) for i, b in enumerate(blocks[:-1])),
                else_=bindparam(None, blocks[-1], type_=UTCDateTime()),
            )
            row = (await conn.execute(
                update(L)
                .where(L.c.key_hash == key, or_(L.c.blocked_until.is_(None), L.c.blocked_until <= now))
                .values(attempts=count, started_at=case((fresh, now), else_=L.c.started_at), last_at=now,
                        blocked_until=until)
                .returning(L.c.attempts, L.c.blocked_until)
            )).first()
            if row is None:
                blocked = (await conn.execute(select(L.c.blocked_until).where(L.c.key_hash == key))).scalar_one()
                return Taken(refused_until=blocked or now)
            in_minute = await _take_global(conn, now, minute, global_ceiling)
            if in_minute is None:
                raise _GlobalFull  # rolls the username's count back: this attempt is not checked
    except _GlobalFull:
        return Taken(refused_until=minute + timedelta(minutes=1), global_refused=True)
    if in_minute == 1:
        # The first attempt of a minute (on one instance only), in a transaction of its own so it never holds
        # the global row while it waits for another username's: forget usernames quiet for a whole window.
        async with engine.begin() as conn:
            await conn.execute(delete(L).where(
                L.c.key_hash != GLOBAL, L.c.last_at <= quiet_before,
                or_(L.c.blocked_until.is_(None), L.c.blocked_until <= now),
            ))
    return Taken(attempts=int(row[0]), blocked_until=row[1], global_full=in_minute >= global_ceiling)


async def _take_global(conn: AsyncConnection, now: datetime, minute: datetime, ceiling: int) -> int | None:
    """One place in this minute's global count (``minute``: when the minute began), or None when it is full.
    Always taken after the username's row, so two attempts never wait for each other's rows in turn."""
    await conn.execute(_ENSURE, {"k": GLOBAL, "now": now})
    same = L.c.started_at == minute
    taken = (await conn.execute(
        update(L)
        .where(L.c.key_hash == GLOBAL, or_(~same, L.c.attempts < ceiling))
        .values(attempts=case((same, L.c.attempts + 1), else_=1), started_at=minute, last_at=now)
        .returning(L.c.attempts)
    )).scalar_one_or_none()
    return None if taken is None else int(taken)


async def succeeded(engine: AsyncEngine, key: str, minute: datetime) -> None:
    """The password was right: the username's count is forgotten and its global place given back."""
    async with engine.begin() as conn:
        await conn.execute(delete(L).where(L.c.key_hash == key))
        await conn.execute(
            update(L).where(L.c.key_hash == GLOBAL, L.c.started_at == minute, L.c.attempts > 0)
            .values(attempts=L.c.attempts - 1)
        )


async def forget(engine: AsyncEngine, key: str) -> None:
    """A new password (set by an admin or the CLI): earlier attempts at this username no longer count."""
    async with engine.begin() as conn:
        await conn.execute(delete(L).where(L.c.key_hash == key))


async def blocked(engine: AsyncEngine, keys: Sequence[str], now: datetime) -> set[str]:
    """Which of these usernames must wait before their next attempt (for the admin list)."""
    if not keys:
        return set()
    async with engine.connect() as conn:
        rows = await conn.execute(select(L.c.key_hash).where(and_(L.c.key_hash.in_(keys), L.c.blocked_until > now)))
    return {str(r[0]) for r in rows}
