"""Which KEK wraps which conversation's data key: counts per KEK, and the conditional rewrap.

A rewrap changes only ``wrapped_dek`` and ``kek_id`` of a conversation, never its messages (the DEK
itself stays the same). Each UPDATE matches only while the row is still under the KEK it was read
under, so a rewrap running beside live traffic, retention or another rewrap never overwrites a newer
value: a row that changed meanwhile is simply left to whoever changed it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chat.store.conversations import C


@dataclass(frozen=True)
class WrappedKey:
    conversation_id: str
    kek_id: str
    wrapped: bytes


@dataclass(frozen=True)
class Rewrapped:
    conversation_id: str
    old_kek_id: str
    new_kek_id: str
    wrapped: bytes


REWRAP = (
    update(C)
    .where(C.c.id == bindparam("cid"), C.c.kek_id == bindparam("old"))
    .values(kek_id=bindparam("new"), wrapped_dek=bindparam("wrapped"))
)


async def count_by_kek(engine: AsyncEngine) -> dict[str, int]:
    """How many conversations' DEKs each KEK wraps (shredded conversations reference none)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(C.c.kek_id, func.count()).where(C.c.kek_id.is_not(None)).group_by(C.c.kek_id)
        )
    return {str(kek_id): int(n) for kek_id, n in rows}


async def count_under(engine: AsyncEngine, kek_id: str) -> int:
    async with engine.connect() as conn:
        n = (await conn.execute(select(func.count()).select_from(C).where(C.c.kek_id == kek_id))).scalar_one()
    return int(n)


async def not_under(engine: AsyncEngine, kek_id: str, after_id: str, limit: int) -> list[WrappedKey]:
    """Up to ``limit`` wrapped DEKs under any KEK but ``kek_id``, in id order after ``after_id``."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(C.c.id, C.c.kek_id, C.c.wrapped_dek)
            .where(C.c.kek_id.is_not(None), C.c.kek_id != kek_id, C.c.id > after_id)
            .order_by(C.c.id)
            .limit(limit)
        )
    return [WrappedKey(r.id, r.kek_id, r.wrapped_dek) for r in rows]


async def rewrap(engine: AsyncEngine, batch: list[Rewrapped]) -> int:
    """Store a batch of rewrapped DEKs in one transaction; returns how many rows still matched."""
    if not batch:
        return 0
    done = 0
    async with engine.begin() as conn:
        for r in batch:
            res = await conn.execute(
                REWRAP, {"cid": r.conversation_id, "old": r.old_kek_id, "new": r.new_kek_id, "wrapped": r.wrapped}
            )
            done += res.rowcount
    return done


async def one_under_each(engine: AsyncEngine) -> list[WrappedKey]:
    """One wrapped DEK under each KEK the database references (the newest conversation's): enough to tell
    whether the ring holds the keys this database was written with."""
    out = []
    async with engine.connect() as conn:
        kek_ids = (await conn.execute(select(C.c.kek_id).where(C.c.kek_id.is_not(None)).distinct())).scalars().all()
        for kek_id in sorted(kek_ids):
            row = (
                await conn.execute(
                    select(C.c.id, C.c.wrapped_dek)
                    .where(C.c.kek_id == kek_id, C.c.wrapped_dek.is_not(None))
                    .order_by(C.c.created_at.desc())
                    .limit(1)
                )
            ).first()
            if row is not None:
                out.append(WrappedKey(row.id, str(kek_id), row.wrapped_dek))
    return out
