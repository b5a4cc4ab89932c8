"""The audit trail's rules: which reads are audited (and refused when they cannot be), checking the chain,
exporting it, and the audit log's own retention.

Who, what, which conversation, when — never message text. A read of a conversation's content by someone
who does not hold it is written to the log *before* the content is read, and fails with
``audit_unavailable`` when the entry cannot be written: a read that is not logged never happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from chat import logs
from chat.errors import AuditUnavailable, BadInput, Code
from chat.service.access import Principal
from chat.service.context import Context
from chat.store import audit as store
from chat.store.conversations import ConversationRecord

CHUNK = 2000  # entries per read while verifying or exporting: each read is short, the loop stays free
THREAD_AT = 200  # hash a chunk at least this long in a worker thread


async def record(
    ctx: Context, staff_id: int | None, action: str, conversation_id: str | None = None, target: str | None = None,
    target_name: str | None = None,
) -> None:
    """Append an entry; ``audit_unavailable`` when the database refuses it."""
    try:
        await store.append_entry(ctx.engine, staff_id, action, conversation_id, ctx.clock(), target, target_name)
    except SQLAlchemyError as err:
        logs.event("audit_write_failed", level=40, error=type(err).__name__, conversation_id=conversation_id)
        raise AuditUnavailable() from None


def holds(p: Principal, conv: ConversationRecord) -> bool:
    return conv.assigned_staff_id == p.id


async def record_read(ctx: Context, p: Principal, conv: ConversationRecord, action: str) -> bool:
    """Before someone reads a conversation they do not hold: write ``action`` to the log, or refuse the read.
    The holder working on their own conversation is not audited. Returns whether an entry was written."""
    if holds(p, conv):
        return False
    await record(ctx, p.id, action, conv.id)
    return True


@dataclass(frozen=True)
class Broken:
    seq: int
    problem: str


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int  # entries checked (those kept since the last prune)
    head_seq: int
    first_broken: Broken | None

    def summary(self) -> str:
        if self.first_broken is None:
            return f"audit chain intact: {self.entries} entries, head at seq {self.head_seq}"
        return f"audit chain broken at seq {self.first_broken.seq}: {self.first_broken.problem}"

    def as_json(self) -> dict[str, object]:
        broken = None if self.first_broken is None else {"seq": self.first_broken.seq,
                                                         "problem": self.first_broken.problem}
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq, "first_broken": broken}


def _check(rows: list[store.Entry], seq: int, prev: str) -> tuple[int, str, Broken | None]:
    """Walk one chunk from the link (seq, prev) the last one ended at: the first broken link, if any."""
    for e in rows:
        expected = seq + 1
        if e.seq != expected:
            if e.seq > expected:
                gone = str(expected) if e.seq == expected + 1 else f"{expected}–{e.seq - 1}"
                return seq, prev, Broken(expected, f"entries {gone} are missing (deleted)")
            return seq, prev, Broken(e.seq, "entry is out of sequence")
        if e.prev_hash != prev:
            return seq, prev, Broken(e.seq, f"entry does not follow entry {seq}: its prev_hash differs "
                                            "(deleted, inserted or reordered)")
        if store.recomputed(e) != e.hash:
            return seq, prev, Broken(e.seq, "entry was altered: its hash does not match its contents")
        seq, prev = e.seq, e.hash
    return seq, prev, None


async def verify(engine: AsyncEngine, chunk: int = CHUNK) -> Verdict:
    """Check every link from the genesis (the last pruned entry) to the chain head, in chunks; hashing of a
    long chunk runs in a thread so a large log does not block the event loop."""
    head = await store.head(engine)
    if head is None:
        n = await store.count(engine)
        broken = Broken(1, "the chain head is missing") if n else None
        return Verdict(broken is None, 0, 0, broken)
    seq, prev, checked = head.genesis_seq, head.genesis_hash, 0
    while rows := await store.chunk(engine, seq, chunk):
        if len(rows) >= THREAD_AT:
            seq, prev, broken = await asyncio.to_thread(_check, rows, seq, prev)
        else:
            seq, prev, broken = _check(rows, seq, prev)
        if broken is not None:
            return Verdict(False, max(0, broken.seq - head.genesis_seq - 1), head.seq, broken)
        checked += len(rows)
    if seq != head.seq:
        gone = str(seq + 1) if head.seq == seq + 1 else f"{seq + 1}–{head.seq}"
        problem = (f"the log ends at entry {seq} but its head says {head.seq}: entries {gone} are missing (deleted)"
                   if head.seq > seq else f"the head says {head.seq} but the log goes on to {seq}")
        return Verdict(False, checked, head.seq, Broken(min(seq, head.seq) + 1, problem))
    if prev != head.hash:
        return Verdict(False, checked, head.seq, Broken(seq, "the last entry does not match the chain head"))
    return Verdict(True, checked, head.seq, None)


async def entries(engine: AsyncEngine, since: datetime | None, until: datetime | None) -> AsyncIterator[store.Entry]:
    """The entries with ``since <= at < until``, oldest first, read in chunks (for export)."""
    after = 0
    while rows := await store.between(engine, since, until, after, CHUNK):
        for e in rows:
            yield e
        after = rows[-1].seq


async def anchor(engine: AsyncEngine, reason: str) -> None:
    """Log the chain head as an ``audit_anchor`` line (at start and stop; appends log one every
    ``store.ANCHOR_EVERY`` entries)."""
    head = await store.head(engine)
    if head is not None:
        store.anchor(head.seq, head.hash, reason)


async def prune(ctx: Context, days: int, staff_id: int | None = None) -> int:
    """Delete audit entries older than ``days`` days (the audit log's own retention), keeping the chain
    verifiable: the last deleted entry becomes the genesis in the head. The pruning is itself an entry."""
    if days < 1:
        raise BadInput(Code.INVALID, "The audit log's retention must be at least 1 day.")
    now = ctx.clock()
    deleted = await store.prune(ctx.engine, now - timedelta(days=days), staff_id, now, "audit_pruned")
    logs.event("audit_pruned", count=deleted)
    return deleted
