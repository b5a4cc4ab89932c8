"""Transcripts for staff, each read written to the audit log first; internal notes."""

from __future__ import annotations

from typing import Any

from chat import logs
from chat.crypto import envelope
from chat.errors import Code, Gone, NotFound
from chat.service import keys
from chat.service.access import Principal, may_read_transcript
from chat.service.context import Context
from chat.store import conversations as store
from chat.store import staff as staff_store


async def read(ctx: Context, p: Principal, conversation_id: str) -> dict[str, Any]:
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None or not may_read_transcript(p, conv):
        raise NotFound()
    # Audit before reading: a read that is not logged never happens.
    await staff_store.audit(ctx.engine, p.id, "transcript_read", conversation_id, ctx.clock())
    if conv.shredded_at is not None:
        raise Gone(Code.DELETED_BY_RETENTION, "This conversation was deleted under the retention rules.")
    messages = await keys.message_frames(ctx, await store.after(ctx.engine, conversation_id, 0, limit=100_000))
    dek = await keys.dek_for(ctx, conversation_id)
    notes = []
    for sid, body, ts in await store.notes(ctx.engine, conversation_id):
        try:
            text: str | None = envelope.open_(dek, body, keys.note_aad(conversation_id, ts))
        except envelope.Tampered:
            logs.event("decrypt_failed", level=40, conversation_id=conversation_id, reason="note")
            text = None
        notes.append({"staff_id": sid, "text": text, "ts": ts.isoformat().replace("+00:00", "Z")})
    logs.event("transcript_read", conversation_id=conversation_id, staff_id=p.id)
    return {"conversation_id": conversation_id, "state": conv.state, "messages": messages, "notes": notes}


async def add_note(ctx: Context, p: Principal, conversation_id: str, text: str) -> None:
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None or not may_read_transcript(p, conv):
        raise NotFound()
    if conv.shredded_at is not None:
        raise Gone(Code.DELETED_BY_RETENTION, "This conversation was deleted under the retention rules.")
    now = ctx.clock()
    sealed = envelope.seal(await keys.dek_for(ctx, conversation_id), text, keys.note_aad(conversation_id, now))
    await store.add_note(ctx.engine, conversation_id, p.id, sealed, now)
