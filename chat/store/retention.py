"""Crypto-shredding statements: which closed conversations are due, and shredding a batch of them.

Shredding deletes a conversation's wrapped DEK (so any copy of its ciphertexts, in a backup too, can
never be read again) and its ciphertexts: messages, notes, the feedback comment, the sealed health data (reasons, risk, latest
self-test results) and the self-tests' rows. It keeps the row and its content-free metadata (role,
municipality, topic, age band, gender, team, priority, times, outcome, and ``last_seq`` as the message
count) for statistics, and the feedback rating.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from chat.store.conversations import C, F, M, N
from chat.store.models import Screening
from chat.wire import State

SC = Screening.__table__  # type: ignore[attr-defined]


def _due(closed_before: datetime) -> tuple[ColumnElement[bool], ...]:
    return (C.c.state == State.CLOSED, C.c.closed_at < closed_before, C.c.shredded_at.is_(None))


async def due(engine: AsyncEngine, closed_before: datetime, limit: int) -> list[str]:
    """Ids of up to ``limit`` conversations closed before ``closed_before`` and not yet shredded."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(C.c.id).where(*_due(closed_before)).order_by(C.c.closed_at, C.c.id).limit(limit)
        )
    return [r.id for r in rows]


async def shred(engine: AsyncEngine, ids: list[str], closed_before: datetime, now: datetime) -> list[str]:
    """Shred these conversations in one transaction; returns the ids that were (still) due.

    The conversation rows are marked first, with the same conditions ``due`` used, so only what is
    still due is shredded even if something changed since it was selected.
    """
    if not ids:
        return []
    async with engine.begin() as conn:
        marked = await conn.execute(
            update(C)
            .where(C.c.id.in_(ids), *_due(closed_before))
            .values(wrapped_dek=None, kek_id=None, shredded_at=now, reasons_sealed=None, risk_sealed=None,
                    screening_sealed=None)
            .returning(C.c.id)
        )
        done = [r.id for r in marked]
        if done:
            await conn.execute(delete(M).where(M.c.conversation_id.in_(done)))
            await conn.execute(delete(N).where(N.c.conversation_id.in_(done)))
            await conn.execute(delete(SC).where(SC.c.conversation_id.in_(done)))
            await conn.execute(update(F).where(F.c.conversation_id.in_(done)).values(comment=None))
    return done
