"""Concern reports in the store: the report and its audit entry in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chat.store import audit as audit_store
from chat.store.models import ConcernReport, Staff

R = ConcernReport.__table__  # type: ignore[attr-defined]
S = Staff.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ConcernRecord:
    staff_id: int | None
    reporter: str | None
    note: bytes  # ciphertext
    created_at: datetime


async def add(engine: AsyncEngine, conversation_id: str, staff_id: int, note: bytes, now: datetime) -> None:
    """A report never exists without the audit entry saying who made it."""
    async with engine.begin() as conn:
        await conn.execute(R.insert().values(conversation_id=conversation_id, staff_id=staff_id, note=note, created_at=now))
        entry = await audit_store.append(conn, staff_id, "concern_reported", conversation_id, now)
    audit_store.anchor_if_due(*entry)


async def of(engine: AsyncEngine, conversation_id: str) -> list[ConcernRecord]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(R.c.staff_id, S.c.display_name, R.c.note, R.c.created_at)
            .select_from(R.outerjoin(S, S.c.id == R.c.staff_id))
            .where(R.c.conversation_id == conversation_id)
            .order_by(R.c.id)
        )
    return [ConcernRecord(*r) for r in rows]
