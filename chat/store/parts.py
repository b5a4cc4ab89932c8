"""Earlier parts of conversations: when a return code re-opens a closed conversation, the closed stretch
(its seq range, times, team, holder and outcome) becomes a numbered part. No content lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat.store.conversations import ConversationRecord
from chat.store.models import ConversationPart, Staff

P = ConversationPart.__table__  # type: ignore[attr-defined]
S = Staff.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PartRecord:
    part: int
    from_seq: int
    to_seq: int
    started_at: datetime
    closed_at: datetime | None
    outcome: str | None
    team: str
    staff_id: int | None
    staff: str | None  # the holder's display name, None if the account is gone


async def record(conn: AsyncConnection, conv: ConversationRecord) -> None:
    """Keep the conversation's current (closed) stretch as its next part; inside the re-opening transaction."""
    count = (await conn.execute(select(func.count()).select_from(P).where(P.c.conversation_id == conv.id))).scalar_one()
    await conn.execute(P.insert().values(
        conversation_id=conv.id, part=int(count) + 1, from_seq=conv.part_start_seq + 1, to_seq=conv.last_seq,
        started_at=conv.part_started_at or conv.created_at, closed_at=conv.closed_at, outcome=conv.outcome,
        team=conv.team, staff_id=conv.assigned_staff_id,
    ))


async def earlier(engine: AsyncEngine, conversation_id: str) -> list[PartRecord]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(P.c.part, P.c.from_seq, P.c.to_seq, P.c.started_at, P.c.closed_at, P.c.outcome, P.c.team,
                   P.c.staff_id, S.c.display_name)
            .select_from(P.outerjoin(S, S.c.id == P.c.staff_id))
            .where(P.c.conversation_id == conversation_id)
            .order_by(P.c.part)
        )
    return [PartRecord(*r) for r in rows]
