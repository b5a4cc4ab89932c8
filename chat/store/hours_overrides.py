"""Opening-hours overrides in the store: dates with their own hours, set by an admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chat.store.models import HoursOverride

H = HoursOverride.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OverrideRecord:
    id: int
    date: date
    team: str | None  # None: every team
    spans: list[str]  # "HH:MM-HH:MM"; [] = closed all day
    label: str


_COLS = [H.c[f] for f in OverrideRecord.__dataclass_fields__]


async def listed(engine: AsyncEngine) -> list[OverrideRecord]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(*_COLS).order_by(H.c.date, H.c.team, H.c.id))
    return [OverrideRecord(**r._mapping) for r in rows]


async def get(engine: AsyncEngine, override_id: int) -> OverrideRecord | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_COLS).where(H.c.id == override_id))).first()
    return OverrideRecord(**row._mapping) if row else None


async def add(engine: AsyncEngine, day: date, team: str | None, spans: list[str], label: str, staff_id: int,
              now: datetime) -> int:
    async with engine.begin() as conn:
        res = await conn.execute(H.insert().values(date=day, team=team, spans=spans, label=label, created_at=now,
                                                   created_by=staff_id).returning(H.c.id))
        return int(res.scalar_one())


async def remove(engine: AsyncEngine, override_id: int) -> bool:
    async with engine.begin() as conn:
        res = await conn.execute(delete(H).where(H.c.id == override_id))
    return bool(res.rowcount == 1)
