"""Transcripts for staff, each read written to the audit log first; earlier parts of a re-opened
conversation (read only audited); internal notes; the replay a staff socket asks for. Whoever reads a
conversation they do not hold is audited before anything is read (service/audit.py), and refused with
``audit_unavailable`` when the entry cannot be written."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chat import logs
from chat.crypto import envelope
from chat.errors import Code, Gone, NotFound
from chat.service import access, audit, events, keys
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.store import conversations as store
from chat.store import parts as parts_store
from chat.store.conversations import ConversationRecord
from chat.wire import NoteAdded, iso


async def read(ctx: Context, p: Principal, conversation_id: str) -> dict[str, Any]:
    conv = await _get(ctx, p, Action.TRANSCRIPT_READ, conversation_id)
    # Audit before reading (the holder too, as the contract says): a read that is not logged never happens.
    await audit.record(ctx, p.id, "transcript_read", conversation_id)
    if conv.shredded_at is not None:
        raise Gone(Code.DELETED_BY_RETENTION, "This conversation was deleted under the retention rules.")
    messages = await keys.message_frames(ctx, await store.after(ctx.engine, conversation_id, 0, limit=100_000))
    notes = await decrypted_notes(ctx, conversation_id)
    logs.event("transcript_read", conversation_id=conversation_id, staff_id=p.id)
    return {"conversation_id": conversation_id, "state": conv.state, "messages": messages, "notes": notes}


async def decrypted_notes(
    ctx: Context, conversation_id: str, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Internal notes (and transfer notes) in order, optionally those written in [since, until]; the
    caller has checked access."""
    dek = await keys.dek_for(ctx, conversation_id)
    out = []
    for n in await store.notes(ctx.engine, conversation_id):
        if (since is not None and n.created_at < since) or (until is not None and n.created_at > until):
            continue
        text = keys.open_or_none(dek, n.body, keys.note_aad(conversation_id, n.created_at), conversation_id, "note")
        out.append({"staff_id": n.staff_id, "author": n.author, "kind": n.kind, "text": text,
                    "ts": iso(n.created_at)})
    return out


async def notes_for_holder(ctx: Context, p: Principal, conversation_id: str) -> list[dict[str, Any]]:
    """The notes of the current part of a conversation the person holds (part of working on it, like its
    messages, so not audited) or, audited, one a supervisor reads without holding it."""
    conv = await check_holder(ctx, p, Action.NOTES_READ, conversation_id)
    await audit.record_read(ctx, p, conv, "notes_read")
    return await decrypted_notes(ctx, conversation_id, since=conv.part_started_at)


async def _get(ctx: Context, p: Principal, action: Action, conversation_id: str) -> ConversationRecord:
    """The conversation when ``action`` reaches it for this person; else not_found (as if it did not exist)."""
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None:
        raise NotFound()
    access.require(p, action, conv, NotFound())
    return conv


async def check_holder(ctx: Context, p: Principal, action: Action, conversation_id: str) -> ConversationRecord:
    """The table lets this person do ``action`` to the conversation and it still exists; else not_found / gone."""
    conv = await _get(ctx, p, action, conversation_id)
    if conv.shredded_at is not None:
        raise Gone(Code.DELETED_BY_RETENTION, "This conversation was deleted under the retention rules.")
    return conv


async def earlier_parts(ctx: Context, p: Principal, conversation_id: str) -> list[dict[str, Any]]:
    """What a returning young person's earlier parts were (when, where, who, how it ended): no texts, so
    for the holder not a transcript read; audited when someone else lists them."""
    conv = await check_holder(ctx, p, Action.EARLIER_LIST, conversation_id)
    await audit.record_read(ctx, p, conv, "earlier_listed")
    return [
        {"part": r.part, "from_seq": r.from_seq, "to_seq": r.to_seq, "started_at": iso(r.started_at),
         "closed_at": iso(r.closed_at), "outcome": r.outcome, "team": r.team, "staff": r.staff}
        for r in await parts_store.earlier(ctx.engine, conversation_id)
    ]


async def read_part(ctx: Context, p: Principal, conversation_id: str, part: int) -> dict[str, Any]:
    """One earlier part's messages and notes, written to the audit log before it is read."""
    await check_holder(ctx, p, Action.EARLIER_READ, conversation_id)
    found = next((r for r in await parts_store.earlier(ctx.engine, conversation_id) if r.part == part), None)
    if found is None:
        raise NotFound()
    await audit.record(ctx, p.id, "earlier_part_read", conversation_id)
    rows = await store.after(ctx.engine, conversation_id, found.from_seq - 1, limit=found.to_seq - found.from_seq + 1)
    messages = await keys.message_frames(ctx, rows)
    notes = await decrypted_notes(ctx, conversation_id, since=found.started_at, until=found.closed_at)
    logs.event("earlier_part_read", conversation_id=conversation_id, staff_id=p.id, part=part)
    return {"conversation_id": conversation_id, "part": part, "messages": messages, "notes": notes, "audited": True}


async def audit_replay(ctx: Context, p: Principal, conversation_ids: Iterable[str]) -> None:
    """Before a staff socket replays the conversations its hello names: each one this person does not hold
    (a supervisor following someone else's chat) is audited as ``replay_read``, or the hello is refused."""
    for cid in conversation_ids:
        conv = await store.get(ctx.engine, cid)
        if conv is not None:
            await audit.record_read(ctx, p, conv, "replay_read")


async def add_note(ctx: Context, p: Principal, conversation_id: str, text: str) -> None:
    await check_holder(ctx, p, Action.NOTE_ADD, conversation_id)
    now = ctx.clock()
    sealed = envelope.seal(await keys.dek_for(ctx, conversation_id), text, keys.note_aad(conversation_id, now))
    await store.add_note(ctx.engine, conversation_id, p.id, sealed, now)
    await events.to_conversation(ctx, conversation_id, NoteAdded(conversation_id))
