"""Queues and hand-offs in the store: waiting lists, loads, offers, moves, transfers, re-opening, screening.

Every change of who has or may have a conversation is one conditional UPDATE, so two instances (or two
staff members) racing over the same conversation can never both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import BindParameter

from chat.store import parts
from chat.store.conversations import _CONV_COLS, BUMP_VISITOR, INSERT_MESSAGE, C, ConversationRecord, MessageRecord, Seal, _conv
from chat.store.models import Offer, Screening

O = Offer.__table__  # type: ignore[attr-defined]  # noqa: E741
SC = Screening.__table__  # type: ignore[attr-defined]


def gone(before: datetime | BindParameter[datetime], t: Any = C) -> Any:
    """A waiting conversation whose visitor has been away since before ``before`` and wrote nothing (of
    table ``t``: the conversations table or an alias of it)."""
    return and_(
        t.c.state == "queued", t.c.visitor_away_since.is_not(None), t.c.visitor_away_since <= before,
        t.c.last_seq <= t.c.part_start_seq,
    )


async def waiting(
    engine: AsyncEngine, teams: Sequence[str] | None = None, *, gone_before: datetime | None
) -> list[ConversationRecord]:
    """Queued conversations, most urgent first, then longest waiting; ``teams=None`` means all. A visitor
    away (no socket) since before ``gone_before`` who has written nothing (in this part) is gone: out of the
    line until they return, when their unchanged queued_at puts them back in their place. One who left a
    message (out of hours, say) stays: there is something to answer, and the answer waits for them."""
    q = select(*_CONV_COLS).where(C.c.state == "queued")
    if gone_before is not None:
        q = q.where(~gone(gone_before))
    if teams is not None:
        q = q.where(C.c.team.in_(list(teams)))
    async with engine.connect() as conn:
        rows = await conn.execute(q.order_by(C.c.priority.desc(), C.c.queued_at, C.c.id))
    return [_conv(r) for r in rows]


@dataclass(frozen=True)
class Waiting:
    """What the dispatcher needs of a waiting conversation: no sealed fields, no other columns."""

    id: str
    team: str
    priority: int
    offered_to: int | None
    queued_at: datetime | None
    created_at: datetime


_WAITING_COLS = [C.c[f] for f in Waiting.__dataclass_fields__]


async def waiting_light(engine: AsyncEngine, *, gone_before: datetime) -> list[Waiting]:
    """``waiting`` (all teams) with only the columns of ``Waiting``: the dispatcher reads it every round,
    and a long queue costs a fraction of the whole records."""
    q = select(*_WAITING_COLS).where(C.c.state == "queued", ~gone(gone_before))
    async with engine.connect() as conn:
        rows = await conn.execute(q.order_by(C.c.priority.desc(), C.c.queued_at, C.c.id))
    return [Waiting(*r) for r in rows]


def _place_query() -> Any:
    """Built once (aliases and their column collections are costly to build per call)."""
    me, o = C.alias("me"), C.alias("o")
    before: BindParameter[datetime] = bindparam("gone_before")
    ahead = (
        select(func.count())
        .where(
            o.c.state == "queued", o.c.team == me.c.team, ~gone(before, o),
            or_(
                o.c.priority > me.c.priority,
                and_(o.c.priority == me.c.priority, or_(
                    o.c.queued_at < me.c.queued_at, and_(o.c.queued_at == me.c.queued_at, o.c.id < me.c.id),
                )),
            ),
        )
        .scalar_subquery()
    )
    return select(me.c.team, ahead, me.c.queued_at).where(
        me.c.id == bindparam("cid"), me.c.state == "queued", ~gone(before, me)
    )


_PLACE = _place_query()


async def place(
    engine: AsyncEngine, conversation_id: str, *, gone_before: datetime
) -> tuple[str, int, datetime | None] | None:
    """(team, position, queued_at) of one waiting conversation in its team's line, as ``waiting`` orders it:
    one indexed count of those ahead; None when it is not in the line (taken, closed, gone)."""
    async with engine.connect() as conn:
        row = (await conn.execute(_PLACE, {"cid": conversation_id, "gone_before": gone_before})).first()
    return None if row is None else (str(row[0]), int(row[1]) + 1, row[2])


async def depths(engine: AsyncEngine, *, gone_before: datetime) -> dict[str, tuple[int, datetime | None]]:
    """Per team: how many wait (as ``waiting`` counts them) and since when the longest has; one query."""
    q = (
        select(C.c.team, func.count(), func.min(C.c.queued_at))
        .where(C.c.state == "queued", ~gone(gone_before))
        .group_by(C.c.team)
    )
    async with engine.connect() as conn:
        rows = await conn.execute(q)
    return {str(team): (int(n), oldest) for team, n, oldest in rows}


async def loads(engine: AsyncEngine) -> dict[int, int]:
    """Open (active) conversations per staff member."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(C.c.assigned_staff_id, func.count())
            .where(C.c.state == "active", C.c.assigned_staff_id.is_not(None))
            .group_by(C.c.assigned_staff_id)
        )
    return {int(sid): int(n) for sid, n in rows}


async def active(engine: AsyncEngine) -> list[ConversationRecord]:
    """Conversations someone holds now, longest held first (the supervisor's overview)."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(*_CONV_COLS).where(C.c.state == "active").order_by(C.c.claimed_at, C.c.id))
    return [_conv(r) for r in rows]


async def handling_times(engine: AsyncEngine, limit: int = 30) -> list[tuple[str, float]]:
    """(team, seconds from claim to close) of the most recently closed conversations."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(C.c.team, C.c.claimed_at, C.c.closed_at)
            .where(C.c.claimed_at.is_not(None), C.c.closed_at.is_not(None))
            .order_by(C.c.closed_at.desc())
            .limit(limit)
        )
    return [(team, (closed - claimed).total_seconds()) for team, claimed, closed in rows]


def _offer_free(staff_id: int, now: datetime) -> Any:
    """Nobody else holds a live offer on the row (an expired offer no longer binds)."""
    return or_(C.c.offered_to.is_(None), C.c.offered_to == staff_id, C.c.offer_expires_at <= now)


async def claim(
    engine: AsyncEngine, conversation_id: str, staff_id: int, teams: Sequence[str] | None, now: datetime
) -> bool:
    """Conditional UPDATE: of racing claims, on any number of instances, exactly one matches the row.
    A conversation on offer to someone else cannot be claimed until that offer ends."""
    cond = [C.c.id == conversation_id, C.c.state == "queued", _offer_free(staff_id, now)]
    if teams is not None:
        cond.append(C.c.team.in_(list(teams)))
    async with engine.begin() as conn:
        res = await conn.execute(
            update(C).where(and_(*cond)).values(
                state="active", assigned_staff_id=staff_id, claimed_at=now, offered_to=None, offer_expires_at=None,
            )
        )
        if res.rowcount != 1:
            return False
        await _end_offers(conn, conversation_id, now, accepted_by=staff_id)
    return True


async def _end_offers(conn: AsyncConnection, conversation_id: str, now: datetime, accepted_by: int | None) -> None:
    pending = [O.c.conversation_id == conversation_id, O.c.outcome == "pending"]
    if accepted_by is not None:
        await conn.execute(
            update(O).where(*pending, O.c.staff_id == accepted_by).values(outcome="accepted", ended_at=now)
        )
    await conn.execute(update(O).where(*pending).values(outcome="withdrawn", ended_at=now))


async def offer(engine: AsyncEngine, conversation_id: str, team: str, staff_id: int, now: datetime, expires: datetime) -> bool:
    """Offer a waiting conversation to one person, unless it is already on offer, taken, or moved."""
    async with engine.begin() as conn:
        res = await conn.execute(
            update(C)
            .where(C.c.id == conversation_id, C.c.state == "queued", C.c.team == team, C.c.offered_to.is_(None))
            .values(offered_to=staff_id, offer_expires_at=expires)
        )
        if res.rowcount != 1:
            return False
        await conn.execute(O.insert().values(conversation_id=conversation_id, staff_id=staff_id, offered_at=now,
                                             outcome="pending"))
    return True


async def end_offer(engine: AsyncEngine, conversation_id: str, staff_id: int, outcome: str, now: datetime) -> bool:
    """End a live offer as declined or expired; False when it was not (or no longer) on offer to them."""
    async with engine.begin() as conn:
        res = await conn.execute(
            update(C)
            .where(C.c.id == conversation_id, C.c.offered_to == staff_id)
            .values(offered_to=None, offer_expires_at=None)
        )
        if res.rowcount != 1:
            return False
        await conn.execute(
            update(O)
            .where(O.c.conversation_id == conversation_id, O.c.staff_id == staff_id, O.c.outcome == "pending")
            .values(outcome=outcome, ended_at=now)
        )
    return True


async def expired_offers(engine: AsyncEngine, now: datetime) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(C.c.id, C.c.offered_to).where(C.c.offered_to.is_not(None), C.c.offer_expires_at <= now)
        )
    return [(cid, int(sid)) for cid, sid in rows]


async def declined_by(engine: AsyncEngine, conversation_ids: Sequence[str], since: datetime) -> dict[str, set[int]]:
    """Who declined or let an offer of each conversation run out since ``since``."""
    if not conversation_ids:
        return {}
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(O.c.conversation_id, O.c.staff_id).where(
                O.c.conversation_id.in_(list(conversation_ids)),
                O.c.outcome.in_(["declined", "expired"]),
                O.c.ended_at >= since,
            )
        )
    out: dict[str, set[int]] = {}
    for cid, sid in rows:
        out.setdefault(cid, set()).add(int(sid))
    return out


async def move(engine: AsyncEngine, conversation_id: str, from_team: str, to_team: str, reasons: bytes) -> bool:
    """Overflow: a waiting conversation not on offer moves to another team's queue, keeping its place in
    time (queued_at), with the reason appended (``reasons``: all of them, sealed)."""
    async with engine.begin() as conn:
        res = await conn.execute(
            update(C)
            .where(C.c.id == conversation_id, C.c.state == "queued", C.c.team == from_team, C.c.offered_to.is_(None))
            .values(team=to_team, reasons_sealed=reasons)
        )
    return bool(res.rowcount == 1)


async def transfer(
    engine: AsyncEngine,
    conversation_id: str,
    holder: int | None,
    *,
    team: str,
    to_staff: int | None,
    reasons: bytes,
    now: datetime,
    from_state: str = "active",
) -> bool:
    """Hand an active conversation on: to a team's queue (``to_staff`` None) or straight to a person.
    ``holder`` None (a supervisor) matches whoever holds it; ``from_state`` "queued" is a supervisor
    reassigning a waiting one (any open offer on it is withdrawn)."""
    cond = [C.c.id == conversation_id, C.c.state == from_state]
    if holder is not None:
        cond.append(C.c.assigned_staff_id == holder)
    if to_staff is None:
        values: dict[str, Any] = {"state": "queued", "team": team, "assigned_staff_id": None, "claimed_at": None,
                                  "queued_at": now, "reasons_sealed": reasons, "offered_to": None, "offer_expires_at": None}
    else:
        values = {"state": "active", "team": team, "assigned_staff_id": to_staff, "claimed_at": now,
                  "reasons_sealed": reasons, "offered_to": None, "offer_expires_at": None}
    if from_state == "queued" and to_staff is None:
        values.pop("queued_at")  # moved by a supervisor, it keeps its place in time
    async with engine.begin() as conn:
        res = await conn.execute(update(C).where(and_(*cond)).values(**values))
        if res.rowcount == 1 and from_state == "queued":
            await _end_offers(conn, conversation_id, now, accepted_by=None)
    return bool(res.rowcount == 1)


async def raise_priority(
    engine: AsyncEngine, conversation_id: str, priority: int, reasons: bytes, risk: bytes | None = None
) -> bool:
    """Set a higher priority (never lower: the condition), the reasons and, unless ``risk`` is None, the risk
    categories with the message that raised them (both sealed)."""
    values: dict[str, Any] = {"priority": priority, "reasons_sealed": reasons}
    if risk is not None:
        values["risk_sealed"] = risk
    async with engine.begin() as conn:
        res = await conn.execute(
            update(C).where(C.c.id == conversation_id, C.c.priority <= priority).values(**values)
        )
    return bool(res.rowcount == 1)


async def add_screening(
    engine: AsyncEngine, conversation_id: str, instrument: str, result: bytes, answers: bytes, screening: bytes,
    now: datetime,
) -> None:
    """A self-test's row (its answers and result sealed) and the conversation's latest results (sealed)."""
    async with engine.begin() as conn:
        await conn.execute(SC.insert().values(conversation_id=conversation_id, instrument=instrument, result=result,
                                              answers=answers, created_at=now))
        await conn.execute(update(C).where(C.c.id == conversation_id).values(screening_sealed=screening))


async def by_return_code_hash(engine: AsyncEngine, code_hash: str) -> ConversationRecord | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_CONV_COLS).where(C.c.return_code_hash == code_hash))).first()
    return _conv(row) if row else None


async def reopen(engine: AsyncEngine, conversation_id: str, *, token_hash: str, token_expires_at: datetime,
                 now: datetime, requeue: dict[str, Any] | None) -> bool:
    """A returning visitor: a fresh token for the conversation; ``requeue`` (team, priority, reasons,
    preferred/offer) puts a closed one back in a queue, counted as re-opened."""
    values: dict[str, Any] = {"visitor_token_hash": token_hash, "token_expires_at": token_expires_at}
    cond = [C.c.id == conversation_id, C.c.shredded_at.is_(None)]
    if requeue is not None:
        cond.append(C.c.state == "closed")
        values.update(state="queued", queued_at=now, assigned_staff_id=None, claimed_at=None, closed_at=None,
                      outcome=None, reopened_count=C.c.reopened_count + 1, last_activity_at=now,
                      part_start_seq=C.c.last_seq, part_started_at=now, visitor_away_since=now, **requeue)
    try:
        async with engine.begin() as conn:
            if requeue is not None:
                # The closed stretch is kept as a part, in the same transaction that re-opens the conversation.
                before = (await conn.execute(select(*_CONV_COLS).where(and_(*cond)).with_for_update())).first()
                if before is None:
                    return False
                await parts.record(conn, _conv(before))
            res = await conn.execute(update(C).where(and_(*cond)).values(**values))
            if res.rowcount != 1:
                raise _Changed
            # The person is back (the page's socket follows): a gone conversation is in its place again for
            # another grace period; a connected one stays connected.
            await conn.execute(update(C).where(C.c.id == conversation_id, C.c.visitor_away_since.is_not(None))
                               .values(visitor_away_since=now))
            if requeue is not None and requeue.get("offered_to") is not None:
                await conn.execute(O.insert().values(conversation_id=conversation_id, staff_id=requeue["offered_to"],
                                                     offered_at=now, outcome="pending"))
    except _Changed:  # rolled back: someone else re-opened it meanwhile
        return False
    return True


class _Changed(Exception):
    pass


async def idle(engine: AsyncEngine, before: datetime, limit: int = 500) -> list[str]:
    """Open conversations with no message and no start since ``before``."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(C.c.id)
            .where(C.c.state != "closed", func.coalesce(C.c.last_activity_at, C.c.created_at) < before)
            .limit(limit)
        )
    return [r[0] for r in rows]


@dataclass(frozen=True)
class Left:
    """What a quick exit ended: who held the conversation or had it on offer, to be told."""

    conversation_id: str
    state: str  # before the exit
    holder: int | None
    offered_to: int | None
    message: MessageRecord | None  # the system line, when one was written


async def leave(engine: AsyncEngine, conversation_id: str, token_hash: str, now: datetime, seal: Seal | None) -> Left | None:
    """Quick exit, in one transaction: the token ends, and an open conversation is closed with outcome
    ``left`` (out of the queue, any offer withdrawn, its metadata kept), with ``seal``'s system line as
    its last message. None when the token had already ended (a second exit changes nothing)."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                update(C)
                .where(C.c.id == conversation_id, C.c.visitor_token_hash == token_hash, C.c.token_expires_at > now)
                .values(token_expires_at=now)
                .returning(C.c.state, C.c.assigned_staff_id, C.c.offered_to)
            )
        ).first()
        if row is None:
            return None
        if row.state == "closed":
            return Left(conversation_id, row.state, row.assigned_staff_id, row.offered_to, None)
        message = None
        if seal is not None:
            seq = (await conn.execute(BUMP_VISITOR, {"cid": conversation_id, "n": 1, "now": now})).scalar_one()
            message = MessageRecord(conversation_id, seq, "system", None, None, seal(seq), now)
            await conn.execute(INSERT_MESSAGE, {
                "conversation_id": conversation_id, "seq": seq, "sender": "system", "staff_id": None, "author": None,
                "client_msg_id": None, "body": message.body, "created_at": now,
            })
        await conn.execute(
            update(C).where(C.c.id == conversation_id).values(
                state="closed", outcome="left", closed_at=now, offered_to=None, offer_expires_at=None,
                visitor_away_since=now,
            )
        )
        await _end_offers(conn, conversation_id, now, accepted_by=None)
    return Left(conversation_id, row.state, row.assigned_staff_id, row.offered_to, message)


async def visitor_back(engine: AsyncEngine, conversation_id: str) -> bool:
    """The visitor has a socket again: no longer away (a gone conversation is back in its place)."""
    async with engine.begin() as conn:
        res = await conn.execute(
            update(C).where(C.c.id == conversation_id, C.c.visitor_away_since.is_not(None)).values(visitor_away_since=None)
        )
    return bool(res.rowcount == 1)


async def visitor_away(engine: AsyncEngine, conversation_ids: Sequence[str], now: datetime) -> list[str]:
    """Mark these open conversations' visitors away since ``now`` (those not already away); returns which."""
    if not conversation_ids:
        return []
    async with engine.begin() as conn:
        rows = await conn.execute(
            update(C)
            .where(C.c.id.in_(list(conversation_ids)), C.c.state != "closed", C.c.visitor_away_since.is_(None))
            .values(visitor_away_since=now)
            .returning(C.c.id)
        )
        return [r[0] for r in rows]


async def visitors_back(engine: AsyncEngine, conversation_ids: Sequence[str]) -> list[str]:
    """Clear the away mark of these conversations (their visitors have sockets); returns which changed."""
    if not conversation_ids:
        return []
    async with engine.begin() as conn:
        rows = await conn.execute(
            update(C)
            .where(C.c.id.in_(list(conversation_ids)), C.c.visitor_away_since.is_not(None))
            .values(visitor_away_since=None)
            .returning(C.c.id)
        )
        return [r[0] for r in rows]


async def presence_marks(
    engine: AsyncEngine, gone_before: datetime, present: Sequence[str]
) -> list[tuple[str, datetime | None, int | None, bool]]:
    """(id, away since, offered to, gone) of the open conversations the presence sweep compares with the
    sockets that are open: those marked connected, the waiting ones, and those with a socket now (an active
    conversation whose young person has been away for days is not read every round)."""
    interesting = or_(C.c.visitor_away_since.is_(None), C.c.state == "queued")
    if present:
        interesting = or_(interesting, C.c.id.in_(list(present)))
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(C.c.id, C.c.visitor_away_since, C.c.offered_to, gone(gone_before))
            .where(C.c.state != "closed", interesting)
        )
    return [(r[0], r[1], r[2], bool(r[3])) for r in rows]
