"""Data keys and sealing: a DEK per conversation, wrapped by the primary KEK; every stored text sealed
under it with associated data that pins it to its place. Rotation and rewrap live here too.

Unwrapped DEKs live only in the Context's bounded, expiring cache. A DEK that is gone (retention) makes
the conversation's texts unreadable for good: callers get ``Gone(deleted_by_retention)``.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from typing import Any

from chat import logs
from chat.crypto import envelope
from chat.errors import Code, Gone, NotFound
from chat.service.context import Context
from chat.store import conversations as store
from chat.store.conversations import MessageRecord, Seal


async def new_conversation_key(ctx: Context, conversation_id: str) -> tuple[str, bytes]:
    """A fresh DEK for a new conversation: returns (KEK id, wrapped DEK) to store; the DEK stays cached."""
    dek = envelope.new_dek()
    kek_id, wrapped = ctx.keys.wrap(dek, conversation_id)
    ctx.deks.put(conversation_id, dek)
    return kek_id, wrapped


async def dek_for(ctx: Context, conversation_id: str) -> bytes:
    dek = ctx.deks.get(conversation_id)
    if dek is not None:
        return dek
    found = await store.wrapped_dek(ctx.engine, conversation_id)
    if found is None:
        raise NotFound()
    kek_id, wrapped = found
    if kek_id is None or wrapped is None:
        raise Gone(Code.DELETED_BY_RETENTION, "This conversation was deleted under the retention rules.")
    if kek_id in ctx.keys.ids():
        dek = ctx.keys.unwrap(kek_id, wrapped, conversation_id)  # microseconds: inline
    else:  # rotated elsewhere: the ring re-reads its file, which is I/O
        dek = await asyncio.to_thread(ctx.keys.unwrap, kek_id, wrapped, conversation_id)
    ctx.deks.put(conversation_id, dek)
    return dek


def message_aad(conversation_id: str, seq: int, sender: str) -> bytes:
    return envelope.aad(conversation_id, "message", str(seq), sender)


def note_aad(conversation_id: str, staff_id: int, at: datetime) -> bytes:
    return envelope.aad(conversation_id, "note", at.isoformat(), str(staff_id))


def feedback_aad(conversation_id: str) -> bytes:
    return envelope.aad(conversation_id, "feedback", "0", "visitor")


def message_sealer(dek: bytes, conversation_id: str, sender: str, text: str) -> Seal:
    def seal(seq: int) -> bytes:
        return envelope.seal(dek, text, message_aad(conversation_id, seq, sender))

    return seal


def open_message(dek: bytes, m: MessageRecord) -> str | None:
    """The text, or None (logged) when the stored record fails its integrity check."""
    try:
        return envelope.open_(dek, m.body, message_aad(m.conversation_id, m.seq, m.sender))
    except envelope.Tampered:
        logs.event("decrypt_failed", level=40, conversation_id=m.conversation_id, seq=m.seq, reason="message")
        return None


def bus_event(m: MessageRecord) -> dict[str, Any]:
    """The message as it travels the bus: ciphertext only; each instance decrypts for its sockets."""
    return {
        "type": "msg", "conversation_id": m.conversation_id, "seq": m.seq, "from": m.sender, "author": m.author,
        "ct": base64.b64encode(m.body).decode(), "ts": m.created_at.isoformat().replace("+00:00", "Z"),
        "client_msg_id": m.client_msg_id,
    }


def record_from_bus(event: dict[str, Any]) -> MessageRecord:
    return MessageRecord(
        event["conversation_id"], event["seq"], event["from"], event["author"], event["client_msg_id"],
        base64.b64decode(event["ct"]), datetime.fromisoformat(event["ts"].replace("Z", "+00:00")),
    )


async def message_frames(ctx: Context, records: list[MessageRecord]) -> list[dict[str, Any]]:
    """``msg`` frames for a socket or transcript; an unreadable record says so instead of showing text."""
    if not records:
        return []
    dek = await dek_for(ctx, records[0].conversation_id)
    frames = []
    for m in records:
        text = open_message(dek, m)
        frame: dict[str, Any] = {
            "type": "msg", "conversation_id": m.conversation_id, "seq": m.seq, "from": m.sender, "author": m.author,
            "text": text, "ts": m.created_at.isoformat().replace("+00:00", "Z"), "client_msg_id": m.client_msg_id,
        }
        if text is None:
            frame["unreadable"] = True
        frames.append(frame)
    return frames
