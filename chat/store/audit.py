"""The hash-chained audit log in the store: append (serialised on the chain head), read in chunks, prune.

Each entry carries ``seq`` (1, 2, 3 … without gaps), ``prev_hash`` (the previous entry's hash) and ``hash``:
sha256 over a canonical encoding of the entry and ``prev_hash``. An edited field changes the hash, a deleted
entry leaves a gap in ``seq`` and a broken link, a reordering breaks both; see service/audit.py for the check.

Appends are serialised by the one row of ``audit_chain``: the append starts with ``UPDATE audit_chain SET
seq = seq + 1 … RETURNING``, which takes that row's lock on PostgreSQL (a second appender, on any instance,
waits there and then sees the committed head, READ COMMITTED re-reads the row) and SQLite's write lock on
SQLite (taken at the first write, so no deferred-lock upgrade can deadlock). Entry and head are written in the
same transaction: there is never an entry the head does not know, nor two entries with one predecessor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat import logs
from chat.store.models import AuditChain, AuditEntry

A = AuditEntry.__table__  # type: ignore[attr-defined]
H = AuditChain.__table__  # type: ignore[attr-defined]

GENESIS = "0" * 64
# One ``audit_anchor`` log line every this many entries (and at start and stop): the log output keeps copies
# of the chain's head elsewhere, so cutting entries off the end of the table (and fixing the head) shows.
ANCHOR_EVERY = 1000


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime
    staff_id: int | None
    action: str
    conversation_id: str | None
    target: str | None
    target_name: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    genesis_seq: int
    genesis_hash: str


def canonical_at(at: datetime) -> str:
    """The one text form of a time in the hash: UTC, microseconds (what both databases keep)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    seq: int, at: datetime, staff_id: int | None, action: str, conversation_id: str | None, target: str | None,
    target_name: str | None, prev_hash: str,
) -> str:
    """sha256 over a JSON array of the fields in a fixed order (no separators to argue about, no key order)."""
    body = json.dumps(
        [seq, canonical_at(at), staff_id, action, conversation_id, target, target_name, prev_hash],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def recomputed(e: Entry) -> str:
    return entry_hash(e.seq, e.at, e.staff_id, e.action, e.conversation_id, e.target, e.target_name, e.prev_hash)


async def _ensure_head(conn: AsyncConnection) -> None:
    """The head row exists (migration 0012 creates it; a truncated test database may not have it)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(
        insert(H).values(id=1, seq=0, hash=GENESIS, genesis_seq=0, genesis_hash=GENESIS).on_conflict_do_nothing()
    )


async def _lock_head(conn: AsyncConnection, step: int) -> tuple[int, str, int, str]:
    """Take the head's lock (by writing it) and return (seq after ``step``, hash, genesis seq, genesis hash)."""
    stmt = (
        update(H).where(H.c.id == 1).values(seq=H.c.seq + step)
        .returning(H.c.seq, H.c.hash, H.c.genesis_seq, H.c.genesis_hash)
    )
    row = (await conn.execute(stmt)).first()
    if row is None:
        await _ensure_head(conn)
        row = (await conn.execute(stmt)).one()
    return int(row[0]), str(row[1]), int(row[2]), str(row[3])


async def append(
    conn: AsyncConnection, staff_id: int | None, action: str, conversation_id: str | None, at: datetime,
    target: str | None = None, target_name: str | None = None,
) -> tuple[int, str]:
    """Append one entry inside the caller's transaction; returns its (seq, hash). Call ``anchor_if_due``
    after the commit."""
    target_name = target_name[:100] if target_name else target_name
    seq, prev, _, _ = await _lock_head(conn, 1)
    digest = entry_hash(seq, at, staff_id, action, conversation_id, target, target_name, prev)
    await conn.execute(A.insert().values(
        seq=seq, at=at, staff_id=staff_id, action=action, conversation_id=conversation_id, target=target,
        target_name=target_name, prev_hash=prev, hash=digest,
    ))
    await conn.execute(update(H).where(H.c.id == 1).values(hash=digest))
    return seq, digest


def anchor_if_due(seq: int, digest: str) -> None:
    if seq % ANCHOR_EVERY == 0:
        anchor(seq, digest, "every")


def anchor(seq: int, digest: str, reason: str) -> None:
    logs.event("audit_anchor", seq=seq, hash=digest, reason=reason)


async def append_entry(
    engine: AsyncEngine, staff_id: int | None, action: str, conversation_id: str | None, at: datetime,
    target: str | None = None, target_name: str | None = None,
) -> tuple[int, str]:
    async with engine.begin() as conn:
        seq, digest = await append(conn, staff_id, action, conversation_id, at, target, target_name)
    anchor_if_due(seq, digest)
    return seq, digest


async def head(engine: AsyncEngine) -> Head | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(H.c.seq, H.c.hash, H.c.genesis_seq, H.c.genesis_hash).where(H.c.id == 1))).first()
    return Head(int(row[0]), str(row[1]), int(row[2]), str(row[3])) if row else None


_ENTRY_COLS = [A.c[f] for f in Entry.__dataclass_fields__]


def _entry(row: Any) -> Entry:
    return Entry(**row._mapping)


async def chunk(engine: AsyncEngine, after_seq: int, size: int) -> list[Entry]:
    """Up to ``size`` entries after ``after_seq``, by seq (keyset paging: each chunk is one short read)."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(*_ENTRY_COLS).where(A.c.seq > after_seq).order_by(A.c.seq).limit(size))
    return [_entry(r) for r in rows]


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(A))).scalar_one())


async def between(engine: AsyncEngine, since: datetime | None, until: datetime | None, after_seq: int,
                  size: int) -> list[Entry]:
    """Entries with ``since <= at < until`` after ``after_seq``, by seq, for export."""
    q = select(*_ENTRY_COLS).where(A.c.seq > after_seq)
    if since is not None:
        q = q.where(A.c.at >= since)
    if until is not None:
        q = q.where(A.c.at < until)
    async with engine.connect() as conn:
        rows = await conn.execute(q.order_by(A.c.seq).limit(size))
    return [_entry(r) for r in rows]


async def prune(
    engine: AsyncEngine, before: datetime, staff_id: int | None, now: datetime, action: str,
) -> int:
    """Delete the oldest entries (a prefix of the chain: every entry before the first one at or after
    ``before``), make the last deleted entry the new genesis in the head, and append ``action`` saying how
    many went (when any did), all in one transaction. Returns how many were deleted."""
    async with engine.begin() as conn:
        await _lock_head(conn, 0)  # hold the chain still while the prefix is cut
        first_kept = (await conn.execute(select(func.min(A.c.seq)).where(A.c.at >= before))).scalar_one_or_none()
        q = select(A.c.seq, A.c.hash).order_by(A.c.seq.desc()).limit(1)
        if first_kept is not None:
            q = q.where(A.c.seq < first_kept)
        last = (await conn.execute(q)).first()
        deleted = 0
        if last is not None:
            res = await conn.execute(delete(A).where(A.c.seq <= last[0]))
            deleted = int(res.rowcount)
            await conn.execute(update(H).where(H.c.id == 1).values(genesis_seq=int(last[0]), genesis_hash=str(last[1])))
            appended = await append(conn, staff_id, action, None, now, target=str(deleted))
    if deleted:
        anchor_if_due(*appended)
    return deleted
