"""Reporting a concern for a child (socialtjänstlagen 14 kap. 1 §): staff who must act record that a report
was made, by whom and when, with a note. The record is the documented path; it does not identify the child
(the chat is anonymous) and is written to the audit log in the same transaction.
"""

from __future__ import annotations

from typing import Any

from chat import logs
from chat.crypto import envelope
from chat.errors import Code, Gone, NotFound
from chat.service import keys
from chat.service.access import Principal, may_read_transcript
from chat.service.context import Context
from chat.store import concerns as store
from chat.store import conversations as conv_store


async def _conversation(ctx: Context, p: Principal, conversation_id: str) -> None:
    conv = await conv_store.get(ctx.engine, conversation_id)
    if conv is None or not may_read_transcript(p, conv):
        raise NotFound()
    if conv.shredded_at is not None:
        raise Gone(Code.DELETED_BY_RETENTION, "This conversation was deleted under the retention rules.")


async def report(ctx: Context, p: Principal, conversation_id: str, note: str) -> dict[str, Any]:
    """Record a concern report by the person holding the conversation (or a supervisor)."""
    await _conversation(ctx, p, conversation_id)
    now = ctx.clock()
    sealed = envelope.seal(await keys.dek_for(ctx, conversation_id), note, keys.concern_aad(conversation_id, now))
    await store.add(ctx.engine, conversation_id, p.id, sealed, now)
    logs.event("concern_reported", conversation_id=conversation_id, staff_id=p.id)
    return {"reported_by": p.display_name, "ts": now.isoformat().replace("+00:00", "Z")}


async def list_for(ctx: Context, p: Principal, conversation_id: str) -> list[dict[str, Any]]:
    await _conversation(ctx, p, conversation_id)
    dek = await keys.dek_for(ctx, conversation_id)
    out = []
    for r in await store.of(ctx.engine, conversation_id):
        try:
            note: str | None = envelope.open_(dek, r.note, keys.concern_aad(conversation_id, r.created_at))
        except envelope.Tampered:
            logs.event("decrypt_failed", level=40, conversation_id=conversation_id, reason="concern")
            note = None
        out.append({"staff_id": r.staff_id, "reported_by": r.reporter, "note": note,
                    "ts": r.created_at.isoformat().replace("+00:00", "Z")})
    return out
