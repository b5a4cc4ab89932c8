"""Canned answers in the store: a team's ready-made answers, by team."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chat.store.models import CannedAnswer, Staff

CA = CannedAnswer.__table__  # type: ignore[attr-defined]
S = Staff.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Canned:
    id: int
    team: str
    language: str
    title: str
    body: str
    updated_at: datetime
    updated_by: str | None  # the username of whoever changed it last


def _select() -> Any:
    return select(CA.c.id, CA.c.team, CA.c.language, CA.c.title, CA.c.body, CA.c.updated_at,
                  S.c.username.label("updated_by")).select_from(CA.outerjoin(S, S.c.id == CA.c.updated_by))


async def listed(engine: AsyncEngine, teams: Sequence[str] | None) -> list[Canned]:
    """The answers of these teams (None: every team), by team, language and title."""
    q = _select()
    if teams is not None:
        q = q.where(CA.c.team.in_(list(teams)))
    async with engine.connect() as conn:
        rows = await conn.execute(q.order_by(CA.c.team, CA.c.language, CA.c.title, CA.c.id))
    return [Canned(**r._mapping) for r in rows]


async def get(engine: AsyncEngine, canned_id: int) -> Canned | None:
    async with engine.connect() as conn:
        row = (await conn.execute(_select().where(CA.c.id == canned_id))).first()
    return Canned(**row._mapping) if row else None


async def add(engine: AsyncEngine, team: str, language: str, title: str, body: str, staff_id: int | None,
              now: datetime) -> int:
    async with engine.begin() as conn:
        res = await conn.execute(CA.insert().values(team=team, language=language, title=title, body=body,
                                                    created_at=now, updated_at=now, updated_by=staff_id)
                                 .returning(CA.c.id))
        return int(res.scalar_one())


async def change(engine: AsyncEngine, canned_id: int, language: str, title: str, body: str, staff_id: int,
                 now: datetime) -> bool:
    async with engine.begin() as conn:
        res = await conn.execute(update(CA).where(CA.c.id == canned_id).values(
            language=language, title=title, body=body, updated_at=now, updated_by=staff_id))
    return bool(res.rowcount == 1)


async def remove(engine: AsyncEngine, canned_id: int) -> bool:
    async with engine.begin() as conn:
        res = await conn.execute(delete(CA).where(CA.c.id == canned_id))
    return bool(res.rowcount == 1)
