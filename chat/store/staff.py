"""Staff accounts and their sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from chat.store import audit as audit_store
from chat.store.models import Staff, StaffSession

S = Staff.__table__  # type: ignore[attr-defined]
SS = StaffSession.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StaffRecord:
    id: int
    username: str
    display_name: str
    password_hash: str
    roles: list[str]
    teams: list[str]
    active: bool
    failed_logins: int
    locked_until: datetime | None
    availability: str


_COLS = [S.c[f] for f in StaffRecord.__dataclass_fields__]


def _rec(row: Any) -> StaffRecord:
    return StaffRecord(**row._mapping)


class UsernameTaken(Exception):
    pass


async def add(
    engine: AsyncEngine, username: str, display_name: str, password_hash: str, roles: list[str], teams: list[str],
    now: datetime,
) -> int:
    try:
        async with engine.begin() as conn:
            res = await conn.execute(
                S.insert().values(
                    username=username, display_name=display_name, password_hash=password_hash, roles=roles,
                    teams=teams, active=True, failed_logins=0, created_at=now,
                ).returning(S.c.id)
            )
            return int(res.scalar_one())
    except IntegrityError:
        raise UsernameTaken(username) from None


async def set_password(engine: AsyncEngine, username: str, password_hash: str) -> bool:
    async with engine.begin() as conn:
        res = await conn.execute(
            update(S).where(S.c.username == username).values(password_hash=password_hash, failed_logins=0, locked_until=None)
        )
    return bool(res.rowcount == 1)


async def by_username(engine: AsyncEngine, username: str) -> StaffRecord | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_COLS).where(S.c.username == username))).first()
    return _rec(row) if row else None


async def by_id(engine: AsyncEngine, staff_id: int) -> StaffRecord | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_COLS).where(S.c.id == staff_id))).first()
    return _rec(row) if row else None


async def open_session(engine: AsyncEngine, staff_id: int, token_hash: str, now: datetime, expires: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(S).where(S.c.id == staff_id).values(failed_logins=0, locked_until=None))
        await conn.execute(SS.insert().values(staff_id=staff_id, token_hash=token_hash, created_at=now, expires_at=expires))


async def session(engine: AsyncEngine, token_hash: str) -> tuple[StaffRecord, datetime] | None:
    """The staff member behind a session token hash and when the session expires."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(*_COLS, SS.c.expires_at).join(SS, SS.c.staff_id == S.c.id).where(SS.c.token_hash == token_hash)
            )
        ).first()
    if row is None:
        return None
    values = dict(row._mapping)
    expires: datetime = values.pop("expires_at")
    return StaffRecord(**values), expires


async def close_session(engine: AsyncEngine, token_hash: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(SS).where(SS.c.token_hash == token_hash))


async def audit(
    engine: AsyncEngine, staff_id: int | None, action: str, conversation_id: str | None, now: datetime,
    target: str | None = None, target_name: str | None = None,
) -> None:
    """Append to the hash-chained audit log (store/audit.py). ``target``: what an admin change was about (a
    username, a canned answer's id, a date), never free text; ``target_name``: its name when that is not
    sensitive (a canned answer's title)."""
    await audit_store.append_entry(engine, staff_id, action, conversation_id, now, target, target_name)


async def set_availability(engine: AsyncEngine, staff_id: int, availability: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(S).where(S.c.id == staff_id).values(availability=availability))


async def usernames(engine: AsyncEngine, staff_ids: list[int]) -> dict[int, str]:
    """Usernames by id, for lists that name people to pick (transfer, reassign)."""
    return await _by_id(engine, staff_ids, S.c.username)


async def display_names(engine: AsyncEngine, staff_ids: list[int]) -> dict[int, str]:
    return await _by_id(engine, staff_ids, S.c.display_name)


async def _by_id(engine: AsyncEngine, staff_ids: list[int], column: Any) -> dict[int, str]:
    if not staff_ids:
        return {}
    async with engine.connect() as conn:
        rows = await conn.execute(select(S.c.id, column).where(S.c.id.in_(staff_ids)))
    return {int(r[0]): str(r[1]) for r in rows}
