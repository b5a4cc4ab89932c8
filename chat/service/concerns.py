"""Reporting a concern for a child (socialtjänstlagen 14 kap. 1 §): staff who must act record that a report
was made, by whom and when, with a note. The record is the documented path; it does not identify the child
(the chat is anonymous) and is written to the audit log in the same transaction.
"""

from __future__ import annotations

from typing import Any

from chat import logs
from chat.crypto import envelope
from chat.service import audit, keys, transcripts
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.store import concerns as store


async def report(ctx: Context, p: Principal, conversation_id: str, note: str) -> dict[str, Any]:
    """Record a concern report by the person holding the conversation (or a supervisor)."""
    await transcripts.check_holder(ctx, p, Action.CONCERN_REPORT, conversation_id)
    now = ctx.clock()
    sealed = envelope.seal(await keys.dek_for(ctx, conversation_id), note, keys.concern_aad(conversation_id, now))
    await store.add(ctx.engine, conversation_id, p.id, sealed, now)
    logs.event("concern_reported", conversation_id=conversation_id, staff_id=p.id)
    return {"reported_by": p.display_name, "ts": now.isoformat().replace("+00:00", "Z")}


async def list_for(ctx: Context, p: Principal, conversation_id: str) -> list[dict[str, Any]]:
    """The concern reports, audited (before they are read) when the reader does not hold the conversation."""
    conv = await transcripts.check_holder(ctx, p, Action.CONCERN_LIST, conversation_id)
    await audit.record_read(ctx, p, conv, "concerns_read")
    dek = await keys.dek_for(ctx, conversation_id)
    out = []
    for r in await store.of(ctx.engine, conversation_id):
        note = keys.open_or_none(dek, r.note, keys.concern_aad(conversation_id, r.created_at), conversation_id, "concern")
        out.append({"staff_id": r.staff_id, "reported_by": r.reporter, "note": note,
                    "ts": r.created_at.isoformat().replace("+00:00", "Z")})
    return out
