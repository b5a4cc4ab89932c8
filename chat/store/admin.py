"""The admin side of staff accounts in the store: listing and changing accounts, ending a person's sessions,
deactivating someone together with what they held, and the audit log read back.

Deactivation is one transaction: the account, its sessions, the conversations the person held and the
offers made to them change together, so no instance can hand the person a conversation in between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chat.store.conversations import C
from chat.store.models import AuditEntry, Offer, Staff, StaffSession
from chat.wire import State

S = Staff.__table__  # type: ignore[attr-defined]
SS = StaffSession.__table__  # type: ignore[attr-defined]
A = AuditEntry.__table__  # type: ignore[attr-defined]
O = Offer.__table__  # type: ignore[attr-defined]  # noqa: E741


@dataclass(frozen=True)
class Account:
    """A staff account as the admin pages list it (no password hash)."""

    id: int
    username: str
    display_name: str
    roles: list[str]
    teams: list[str]
    active: bool
    locked_until: datetime | None
    availability: str
    created_at: datetime


_ACCOUNT_COLS = [S.c[f] for f in Account.__dataclass_fields__]


@dataclass(frozen=True)
class Released:
    """What a deactivated person left: conversations back in a queue, offers withdrawn."""

    requeued: list[tuple[str, str]]  # (conversation id, the visitor's language)
    unoffered: list[str]


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    username: str | None
    action: str
    conversation_id: str | None
    target: str | None
    target_name: str | None


async def accounts(engine: AsyncEngine) -> list[Account]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(*_ACCOUNT_COLS).order_by(S.c.username))
    return [Account(**r._mapping) for r in rows]


async def account(engine: AsyncEngine, username: str) -> Account | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_ACCOUNT_COLS).where(S.c.username == username))).first()
    return Account(**row._mapping) if row else None


async def change(engine: AsyncEngine, staff_id: int, values: dict[str, Any]) -> None:
    """Set display_name, roles, teams or active (re-activating); deactivating goes through ``deactivate``."""
    async with engine.begin() as conn:
        await conn.execute(update(S).where(S.c.id == staff_id).values(**values))


async def end_sessions(engine: AsyncEngine, staff_id: int) -> int:
    async with engine.begin() as conn:
        res = await conn.execute(delete(SS).where(SS.c.staff_id == staff_id))
    return int(res.rowcount or 0)


async def deactivate(
    engine: AsyncEngine, staff_id: int, now: datetime, append_reason: Callable[[str, bytes | None], bytes | None]
) -> Released:
    """Deactivate, end every session, put each conversation the person held back in its team's queue (at the
    front of its time: queued now, the reason appended by ``append_reason``, which reseals a conversation's
    sealed reasons or gives None to leave them) and withdraw what was on offer to them."""
    async with engine.begin() as conn:
        await conn.execute(update(S).where(S.c.id == staff_id).values(active=False))
        await conn.execute(delete(SS).where(SS.c.staff_id == staff_id))
        held = (await conn.execute(
            select(C.c.id, C.c.language, C.c.reasons_sealed).where(C.c.state == State.ACTIVE, C.c.assigned_staff_id == staff_id)
        )).all()
        requeued = []
        for cid, language, sealed in held:
            values: dict[str, Any] = {"state": State.QUEUED, "assigned_staff_id": None, "claimed_at": None,
                                      "queued_at": now, "offered_to": None, "offer_expires_at": None}
            reasons = append_reason(str(cid), sealed)
            if reasons is not None:
                values["reasons_sealed"] = reasons
            res = await conn.execute(
                update(C).where(C.c.id == cid, C.c.state == State.ACTIVE, C.c.assigned_staff_id == staff_id).values(**values)
            )
            if res.rowcount == 1:
                requeued.append((str(cid), str(language)))
        offered = (await conn.execute(select(C.c.id).where(C.c.offered_to == staff_id))).scalars().all()
        await conn.execute(update(C).where(C.c.offered_to == staff_id).values(offered_to=None, offer_expires_at=None))
        await conn.execute(
            update(O).where(O.c.staff_id == staff_id, O.c.outcome == "pending").values(outcome="withdrawn", ended_at=now)
        )
    return Released(requeued, [str(c) for c in offered])


async def audit_entries(engine: AsyncEngine, limit: int) -> list[AuditRow]:
    """The newest ``limit`` entries, newest first, each with the actor's username (None once deleted)."""
    q = (
        select(A.c.at, S.c.username, A.c.action, A.c.conversation_id, A.c.target, A.c.target_name)
        .select_from(A.outerjoin(S, S.c.id == A.c.staff_id))
        .order_by(A.c.at.desc(), A.c.id.desc())
        .limit(limit)
    )
    async with engine.connect() as conn:
        rows = await conn.execute(q)
    return [AuditRow(**r._mapping) for r in rows]
