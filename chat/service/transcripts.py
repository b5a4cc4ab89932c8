"""Transcripts for staff, each read written to the audit log first; internal notes."""

from __future__ import annotations

from typing import Any

from chat import logs
from chat.errors import NotFound
from chat.service import events
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
    messages = await store.after(ctx.engine, conversation_id, 0, limit=100_000)
    notes = await store.notes(ctx.engine, conversation_id)
    logs.event("transcript_read", conversation_id=conversation_id, staff_id=p.id)
    return {
        "conversation_id": conversation_id,
        "state": conv.state,
        "messages": [events.message_event(m) for m in messages],
        "notes": [
            {"staff_id": sid, "text": body, "ts": ts.isoformat().replace("+00:00", "Z")} for sid, body, ts in notes
        ],
    }


async def add_note(ctx: Context, p: Principal, conversation_id: str, text: str) -> None:
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None or not may_read_transcript(p, conv):
        raise NotFound()
    await store.add_note(ctx.engine, conversation_id, p.id, text, ctx.clock())
