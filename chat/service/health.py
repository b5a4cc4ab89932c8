"""A conversation's health data, sealed: why it was routed as it was (the reasons), the risk categories found
in what was written (and which message last raised one), the latest self-test results, each self-test's
score and zone, and the ``alert`` and ``screening`` events that carry them between instances.

They are special-category data (health), so they are kept exactly like messages: AES-256-GCM under the
conversation's data key, with associated data that pins each value to its conversation and field, and the
same crypto-shredding. Each value is JSON padded with spaces to a multiple of ``PAD`` bytes, so the length
of a ciphertext does not tell one risk category or zone from another. Only what the queue's order needs
stays in clear (``conversations.priority``). Each instance opens what its own sockets show.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from chat import logs
from chat.crypto import envelope
from chat.errors import ChatError
from chat.service import keys
from chat.service.context import Context
from chat.store import conversations as store
from chat.store.conversations import ConversationRecord, Health
from chat.wire import Sender

PAD = 128
EMPTY = Health([], [], None, {})


def aad(conversation_id: str, field: str) -> bytes:
    return envelope.aad(conversation_id, "health", field, Sender.SYSTEM)


def seal(dek: bytes, conversation_id: str, field: str, value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text += " " * (-len(text.encode()) % PAD)
    return envelope.seal(dek, text, aad(conversation_id, field))


def open_(dek: bytes, conversation_id: str, field: str, blob: bytes | None, default: Any) -> Any:
    """The value, or ``default`` when there is none (shredded) or it fails its integrity check (logged)."""
    if blob is None:
        return default
    try:
        return json.loads(envelope.open_(dek, blob, aad(conversation_id, field)))
    except (envelope.Tampered, ValueError):
        logs.event("decrypt_failed", level=40, conversation_id=conversation_id, reason="health")
        return default


def seal_reasons(dek: bytes, conversation_id: str, reasons: list[dict[str, str]]) -> bytes:
    return seal(dek, conversation_id, "reasons", reasons)


def seal_risk(dek: bytes, conversation_id: str, categories: Sequence[str], seq: int | None) -> bytes:
    return seal(dek, conversation_id, "risk", {"categories": sorted(categories), "seq": seq})


def seal_screening(dek: bytes, conversation_id: str, screening: dict[str, Any]) -> bytes:
    return seal(dek, conversation_id, "screening", screening)


def seal_result(dek: bytes, conversation_id: str, instrument: str, at: datetime, result: dict[str, Any]) -> bytes:
    """One self-test's score and zone, for its row in ``screenings`` (pinned to it like its answers)."""
    return seal(dek, conversation_id, f"screening_result|{instrument}@{at.isoformat()}", result)


def initial(dek: bytes, conversation_id: str, reasons: list[dict[str, str]]) -> dict[str, bytes]:
    """The sealed columns of a new conversation: every one set, so a NULL does not say "no risk"."""
    return {
        "reasons_sealed": seal_reasons(dek, conversation_id, reasons),
        "risk_sealed": seal_risk(dek, conversation_id, [], None),
        "screening_sealed": seal_screening(dek, conversation_id, {}),
    }


def read(dek: bytes, c: ConversationRecord) -> Health:
    risk = open_(dek, c.id, "risk", c.risk_sealed, {})
    return Health(
        reasons=open_(dek, c.id, "reasons", c.reasons_sealed, []),
        risk=list(risk.get("categories", [])), risk_seq=risk.get("seq"),
        screening=open_(dek, c.id, "screening", c.screening_sealed, {}),
    )


async def opened(ctx: Context, c: ConversationRecord) -> ConversationRecord:
    """The record with its health data opened; empty once shredded or when its key cannot be had (logged),
    so one unreadable conversation never takes a whole queue down."""
    if c.health is not None:
        return c
    try:
        dek = await keys.dek_for(ctx, c.id)
    except ChatError:
        return replace(c, health=EMPTY)
    return replace(c, health=read(dek, c))


async def opened_all(ctx: Context, records: Sequence[ConversationRecord]) -> list[ConversationRecord]:
    return [await opened(ctx, c) for c in records]


async def get(ctx: Context, conversation_id: str) -> ConversationRecord | None:
    """A conversation from the store with its health data opened."""
    c = await store.get(ctx.engine, conversation_id)
    return await opened(ctx, c) if c is not None else None


async def with_reasons(ctx: Context, c: ConversationRecord, *more: dict[str, str]) -> bytes:
    """The conversation's reasons with ``more`` appended, sealed again."""
    dek = await keys.dek_for(ctx, c.id)
    reasons = (c.health or read(dek, c)).reasons
    return seal_reasons(dek, c.id, [*reasons, *more])


def reasons_appender(deks: dict[str, bytes], reason: dict[str, str]) -> Callable[[str, bytes | None], bytes | None]:
    """For a store transaction that appends one reason to several conversations whose keys were fetched
    first: the new sealed reasons, or None (left as they are) for one whose key is not at hand."""

    def append(conversation_id: str, sealed: bytes | None) -> bytes | None:
        dek = deks.get(conversation_id)
        if dek is None:
            return None
        return seal_reasons(dek, conversation_id, [*open_(dek, conversation_id, "reasons", sealed, []), reason])

    return append


# Events: an ``alert`` or ``screening`` event carries its health data sealed in ``sealed``; the instance
# that serves a staff socket opens it.


def seal_event(dek: bytes, conversation_id: str, kind: str, payload: dict[str, Any]) -> str:
    return base64.b64encode(seal(dek, conversation_id, f"event|{kind}", payload)).decode()


async def open_event(ctx: Context, event: dict[str, Any]) -> dict[str, Any] | None:
    """The frame a staff socket is sent for a sealed event, or None when it cannot be opened (logged)."""
    cid, kind = event["conversation_id"], event["type"]
    try:
        dek = await keys.dek_for(ctx, cid)
    except ChatError:
        return None
    payload = open_(dek, cid, f"event|{kind}", base64.b64decode(event["sealed"]), None)
    if not isinstance(payload, dict):
        return None
    return {**{k: v for k, v in event.items() if k != "sealed"}, **payload}
