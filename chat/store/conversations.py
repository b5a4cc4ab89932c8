"""Conversations and messages: creation, the next sequence number, the conditional claim.

The sequence number is taken with ``UPDATE conversations SET last_seq = last_seq + 1 ... RETURNING`` in
the same transaction as the message insert: the row lock serialises writers of one conversation across
instances, and a failed insert rolls the increment back, so there is never a duplicate or a gap.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, String, and_, bindparam, func, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from chat.store.models import Conversation, Feedback, Message, Note, Staff, UTCDateTime
from chat.wire import Sender, State

C = Conversation.__table__  # type: ignore[attr-defined]
M = Message.__table__  # type: ignore[attr-defined]
F = Feedback.__table__  # type: ignore[attr-defined]
N = Note.__table__  # type: ignore[attr-defined]
S = Staff.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Health:
    """A conversation's health data once opened (service/health.py): never stored like this."""

    reasons: list[dict[str, str]]
    risk: list[str]  # categories, sorted; never the words
    risk_seq: int | None  # the message that last raised a new risk category
    screening: dict[str, Any]  # instrument -> latest result as staff see it


@dataclass(frozen=True)
class ConversationRecord:
    id: str
    state: str
    role: str
    municipality: str | None
    topic: str | None
    age_band: str | None
    gender: str | None
    language: str
    team: str
    priority: int
    token_expires_at: datetime
    assigned_staff_id: int | None
    last_seq: int
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    shredded_at: datetime | None
    queued_at: datetime | None
    reasons_sealed: bytes | None  # the health data, sealed (service/health.py opens it)
    risk_sealed: bytes | None
    screening_sealed: bytes | None
    preferred_staff_id: int | None
    offered_to: int | None
    offer_expires_at: datetime | None
    after_hours: bool
    reopened_count: int
    part_start_seq: int
    part_started_at: datetime | None
    visitor_read_seq: int
    visitor_away_since: datetime | None  # None while the young person has a socket open
    # Filled by service/health.py for the readers that show it (summaries, triage); never a column.
    health: Health | None = None


@dataclass(frozen=True)
class MessageRecord:
    conversation_id: str
    seq: int
    sender: str
    author: str | None
    client_msg_id: str | None
    body: bytes  # ciphertext
    created_at: datetime


_CONV_COLS = [C.c[f] for f in ConversationRecord.__dataclass_fields__ if f != "health"]
_MSG_COLS = [M.c[f] for f in MessageRecord.__dataclass_fields__]


def _conv(row: Any) -> ConversationRecord:
    return ConversationRecord(**row._mapping)


def _msg(row: Any) -> MessageRecord:
    return MessageRecord(**row._mapping)


# The hot path's statements, built once: per message only parameters change. BUMP_* take ``n`` seqs at
# once and return the last one (the group commit in writer.py takes several); the staff variant only
# matches while that staff member holds the conversation.
BUMP_VISITOR = (
    update(C)
    .where(C.c.id == bindparam("cid"), C.c.state != State.CLOSED)
    .values(last_seq=C.c.last_seq + bindparam("n"), last_activity_at=bindparam("now"))
    .returning(C.c.last_seq)
)
BUMP_STAFF = (
    update(C)
    .where(C.c.id == bindparam("cid"), C.c.state == State.ACTIVE, C.c.assigned_staff_id == bindparam("sid"))
    .values(last_seq=C.c.last_seq + bindparam("n"), last_activity_at=bindparam("now"))
    .returning(C.c.last_seq)
)
INSERT_MESSAGE = M.insert()

# The seqs of a whole batch in one statement (writer.py): ``n`` more for each conversation, under the same
# conditions as BUMP_VISITOR (not closed) and BUMP_STAFF (active and held by that staff member). The batch comes
# as one JSON parameter, so the statement has one shape whatever the batch size (compiled and prepared once);
# a conversation that does not qualify is simply missing from the result.
_BATCH_CONDITION = (
    "((v.staff = 0 AND c.state <> 'closed') OR (v.staff = 1 AND c.state = 'active' AND c.assigned_staff_id = v.sid))"
)
_BUMP_MANY_SQLITE = f"""
UPDATE conversations AS c SET last_seq = c.last_seq + v.n, last_activity_at = :now
FROM (SELECT json_extract(value, '$.cid') AS cid, json_extract(value, '$.n') AS n,
             json_extract(value, '$.staff') AS staff, json_extract(value, '$.sid') AS sid
      FROM json_each(:batch)) AS v
WHERE c.id = v.cid AND {_BATCH_CONDITION}
RETURNING id, last_seq"""  # noqa: S608 (only constants are put in)
# PostgreSQL: an UPDATE … FROM locks rows in whatever order its plan visits them, so the rows are first locked in
# id order by ``locked`` (ORDER BY … FOR NO KEY UPDATE: the lock is taken above the sort) and the UPDATE only
# touches rows joined to ``locked``, i.e. rows this transaction already holds. Two instances' batches therefore
# take their locks in the same order and cannot deadlock. FOR NO KEY UPDATE is the lock the UPDATE takes anyway,
# so inserts that reference a conversation (a foreign key takes KEY SHARE) are not held up by it.
_BUMP_MANY_PG = f"""
WITH v AS (
    SELECT * FROM json_to_recordset(CAST(CAST(:batch AS text) AS json))
        AS v(cid varchar, n integer, staff integer, sid integer)
), locked AS (
    SELECT id FROM conversations WHERE id = ANY(ARRAY(SELECT cid FROM v)) ORDER BY id FOR NO KEY UPDATE
)
UPDATE conversations AS c SET last_seq = c.last_seq + v.n, last_activity_at = :now
FROM v JOIN locked ON locked.id = v.cid
WHERE c.id = v.cid AND {_BATCH_CONDITION}
RETURNING c.id, c.last_seq"""  # noqa: S608 (only constants are put in)
BUMP_MANY = {
    dialect: text(sql.strip())
    .bindparams(bindparam("batch", type_=String()), bindparam("now", type_=UTCDateTime()))
    .columns(id=String(), last_seq=Integer())
    for dialect, sql in (("sqlite", _BUMP_MANY_SQLITE), ("postgresql", _BUMP_MANY_PG))
}


@dataclass(frozen=True)
class SeqWant:
    """``n`` seqs of one conversation for one batch; ``staff_id`` when they include staff messages."""

    conversation_id: str
    n: int
    staff_id: int | None


def bump_many(conn: Connection, wants: Sequence[SeqWant], now: datetime) -> dict[str, int]:
    """Take the seqs of a batch in one statement, inside the caller's transaction (a synchronous connection:
    writer.py runs the whole transaction in one call). Returns the new last seq of each conversation that
    qualified; the batch's seqs of one conversation are the ``n`` up to it."""
    batch = json.dumps([
        {"cid": w.conversation_id, "n": w.n, "staff": int(w.staff_id is not None), "sid": w.staff_id} for w in wants
    ])
    rows = conn.execute(BUMP_MANY[conn.dialect.name], {"batch": batch, "now": now})
    return {cid: last for cid, last in rows}


ClientKey = tuple[str, str, str]  # (conversation_id, sender, client_msg_id): unique among stored messages


def stored_by_client_id(conn: Connection, keys: Sequence[ClientKey]) -> dict[ClientKey, MessageRecord]:
    """The messages already stored under these keys, in one statement (a batch's resends, writer.py)."""
    if not keys:
        return {}
    rows = conn.execute(select(*_MSG_COLS).where(tuple_(M.c.conversation_id, M.c.sender, M.c.client_msg_id).in_(keys)))
    return {(r.conversation_id, r.sender, r.client_msg_id): _msg(r) for r in rows}


class PostRefused(Exception):
    """The conversation is missing, closed, or not held by the sending staff member."""


async def create(engine: AsyncEngine, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(C.insert().values(**values))


async def get(engine: AsyncEngine, conversation_id: str) -> ConversationRecord | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_CONV_COLS).where(C.c.id == conversation_id))).first()
    return _conv(row) if row else None


async def by_token_hash(engine: AsyncEngine, token_hash: str) -> ConversationRecord | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_CONV_COLS).where(C.c.visitor_token_hash == token_hash))).first()
    return _conv(row) if row else None


async def held_by(engine: AsyncEngine, staff_id: int) -> list[ConversationRecord]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(*_CONV_COLS)
            .where(C.c.assigned_staff_id == staff_id, C.c.state == State.ACTIVE)
            .order_by(C.c.claimed_at)
        )
    return [_conv(r) for r in rows]






Seal = Callable[[int], bytes]  # the text, encrypted for the seq it is given (the seq is part of its AAD)


async def append(
    engine: AsyncEngine,
    *,
    conversation_id: str,
    sender: str,
    seal: Seal,
    client_msg_id: str | None,
    now: datetime,
    staff_id: int | None = None,
    author: str | None = None,
) -> tuple[MessageRecord, bool]:
    """Store a message with the next seq; returns (record, created). Idempotent on client_msg_id.

    A staff message is only accepted while that staff member holds the conversation, checked in the
    same UPDATE that takes the sequence number.
    """
    if sender == Sender.STAFF:
        next_seq, params = BUMP_STAFF, {"cid": conversation_id, "sid": staff_id, "n": 1, "now": now}
    else:
        next_seq, params = BUMP_VISITOR, {"cid": conversation_id, "n": 1, "now": now}
    try:
        async with engine.begin() as conn:
            seq = (await conn.execute(next_seq, params)).scalar_one_or_none()
            if seq is None:
                raise PostRefused
            body = seal(seq)
            values = {
                "conversation_id": conversation_id, "seq": seq, "sender": sender, "staff_id": staff_id,
                "author": author, "client_msg_id": client_msg_id, "body": body, "created_at": now,
            }
            await conn.execute(INSERT_MESSAGE, values)
    except (IntegrityError, PostRefused):
        # A resend (after reconnect, or racing itself) returns what was stored the first time.
        existing = await find_by_client_id(engine, conversation_id, sender, client_msg_id)
        if existing is None:
            raise
        return existing, False
    return MessageRecord(conversation_id, seq, sender, author, client_msg_id, body, now), True


async def find_by_client_id(
    engine: AsyncEngine, conversation_id: str, sender: str, client_msg_id: str | None
) -> MessageRecord | None:
    if client_msg_id is None:
        return None
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(*_MSG_COLS).where(
                    M.c.conversation_id == conversation_id, M.c.sender == sender, M.c.client_msg_id == client_msg_id
                )
            )
        ).first()
    return _msg(row) if row else None


async def after(engine: AsyncEngine, conversation_id: str, after_seq: int, limit: int = 1000) -> list[MessageRecord]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(*_MSG_COLS)
            .where(M.c.conversation_id == conversation_id, M.c.seq > after_seq)
            .order_by(M.c.seq)
            .limit(limit)
        )
    return [_msg(r) for r in rows]




async def close(
    engine: AsyncEngine, conversation_id: str, outcome: str, now: datetime, staff_id: int | None
) -> bool:
    cond = [C.c.id == conversation_id, C.c.state != State.CLOSED]
    if staff_id is not None:
        cond.append(C.c.assigned_staff_id == staff_id)
    async with engine.begin() as conn:
        res = await conn.execute(update(C).where(and_(*cond)).values(state=State.CLOSED, outcome=outcome, closed_at=now))
    return bool(res.rowcount == 1)


async def mark_read(engine: AsyncEngine, conversation_id: str, side: str, seq: int) -> bool:
    """Move the side's read mark forward; False when it was already at or past ``seq``."""
    col = C.c.visitor_read_seq if side == Sender.VISITOR else C.c.staff_read_seq
    async with engine.begin() as conn:
        res = await conn.execute(
            update(C)
            .where(C.c.id == conversation_id, col < seq, C.c.last_seq >= seq)
            .values({col.name: seq})
        )
    return bool(res.rowcount == 1)


async def count_by_state(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(C.c.state, func.count()).group_by(C.c.state))
    return {state: int(n) for state, n in rows}


async def add_feedback(engine: AsyncEngine, conversation_id: str, rating: int, comment: bytes | None, now: datetime) -> bool:
    """False when this conversation already has feedback (one per conversation)."""
    try:
        async with engine.begin() as conn:
            await conn.execute(F.insert().values(conversation_id=conversation_id, rating=rating, comment=comment, created_at=now))
    except IntegrityError:
        return False
    return True


async def add_note(
    engine: AsyncEngine, conversation_id: str, staff_id: int, body: bytes, now: datetime, kind: str = "note"
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            N.insert().values(conversation_id=conversation_id, staff_id=staff_id, body=body, created_at=now, kind=kind)
        )


@dataclass(frozen=True)
class NoteRecord:
    staff_id: int | None
    author: str | None
    kind: str  # "note" or "transfer"
    body: bytes  # ciphertext
    created_at: datetime


async def notes(engine: AsyncEngine, conversation_id: str) -> list[NoteRecord]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(N.c.staff_id, S.c.display_name, N.c.kind, N.c.body, N.c.created_at)
            .select_from(N.outerjoin(S, S.c.id == N.c.staff_id))
            .where(N.c.conversation_id == conversation_id)
            .order_by(N.c.id)
        )
    return [NoteRecord(*r) for r in rows]


async def wrapped_dek(engine: AsyncEngine, conversation_id: str) -> tuple[str | None, bytes | None] | None:
    """(KEK id, wrapped DEK) of a conversation; (None, None) once shredded; None if there is no such one."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(C.c.kek_id, C.c.wrapped_dek).where(C.c.id == conversation_id))).first()
    return (row.kek_id, row.wrapped_dek) if row else None


async def expire_token(engine: AsyncEngine, token_hash: str, now: datetime) -> bool:
    """End a visitor token now (quick exit); the return code still opens the conversation."""
    async with engine.begin() as conn:
        res = await conn.execute(
            update(C).where(C.c.visitor_token_hash == token_hash, C.c.token_expires_at > now).values(token_expires_at=now)
        )
    return bool(res.rowcount == 1)
