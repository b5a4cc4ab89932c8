"""Data keys and sealing: a DEK per conversation, wrapped by the primary KEK; every stored text sealed
under it with associated data that pins it to its place. Key management lives here too: list, rotate,
rewrap, retire, and the running server's re-reading of its key file.

Unwrapped DEKs live only in the Context's bounded, expiring cache. A DEK that is gone (retention) makes
the conversation's texts unreadable for good: callers get ``Gone(deleted_by_retention)``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chat import logs
from chat.crypto import envelope
from chat.crypto.keyring import KeyError_, KeyProvider, ManagedRing
from chat.errors import BadInput, Code, Conflict, Gone, KeyUnavailable, NotFound
from chat.service import audit
from chat.service.context import Context
from chat.store import conversations as store
from chat.store import keys as keys_store
from chat.store.conversations import MessageRecord, Seal
from chat.store.keys import Rewrapped, WrappedKey
from chat.wire import Msg, MsgEvent, Sender, iso, parse_iso


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
    try:
        if kek_id in ctx.keys.ids():
            dek = ctx.keys.unwrap(kek_id, wrapped, conversation_id)  # microseconds: inline
        else:  # rotated elsewhere: the ring re-reads its file, which is I/O
            dek = await asyncio.to_thread(ctx.keys.unwrap, kek_id, wrapped, conversation_id)
    except KeyError_:
        logs.event("dek_unavailable", level=40, conversation_id=conversation_id, key_id=kek_id,
                   reason=_why(ctx.keys, kek_id))
        raise KeyUnavailable() from None
    ctx.deks.put(conversation_id, dek)
    return dek


def message_aad(conversation_id: str, seq: int, sender: str) -> bytes:
    return envelope.aad(conversation_id, "message", str(seq), sender)


def note_aad(conversation_id: str, at: datetime) -> bytes:
    # Not the author's id: notes.staff_id becomes NULL if a staff row is ever deleted, and the note
    # must stay readable. The conversation and the time pin it in place.
    return envelope.aad(conversation_id, "note", at.isoformat(), Sender.STAFF)


def screening_aad(conversation_id: str, instrument: str, at: datetime) -> bytes:
    return envelope.aad(conversation_id, "screening", f"{instrument}@{at.isoformat()}", Sender.VISITOR)


def concern_aad(conversation_id: str, at: datetime) -> bytes:
    return envelope.aad(conversation_id, "concern", at.isoformat(), Sender.STAFF)


def feedback_aad(conversation_id: str) -> bytes:
    return envelope.aad(conversation_id, "feedback", "0", Sender.VISITOR)


def message_sealer(dek: bytes, conversation_id: str, sender: str, text: str) -> Seal:
    def seal(seq: int) -> bytes:
        return envelope.seal(dek, text, message_aad(conversation_id, seq, sender))

    return seal


def open_or_none(dek: bytes, body: bytes, aad: bytes, conversation_id: str, reason: str) -> str | None:
    """A staff-side text (note, concern) decrypted, or None (logged) when it fails its integrity check."""
    try:
        return envelope.open_(dek, body, aad)
    except envelope.Tampered:
        logs.event("decrypt_failed", level=40, conversation_id=conversation_id, reason=reason)
        return None


def open_message(dek: bytes, m: MessageRecord) -> str | None:
    """The text, or None (logged) when the stored record fails its integrity check."""
    try:
        return envelope.open_(dek, m.body, message_aad(m.conversation_id, m.seq, m.sender))
    except envelope.Tampered:
        logs.event("decrypt_failed", level=40, conversation_id=m.conversation_id, seq=m.seq, reason="message")
        return None


def bus_event(m: MessageRecord) -> MsgEvent:
    """The message as it travels the bus: ciphertext only; each instance decrypts for its sockets."""
    return MsgEvent(m.conversation_id, m.seq, m.sender, m.author, base64.b64encode(m.body).decode(), iso(m.created_at),
                    m.client_msg_id)


def record_from_bus(event: dict[str, Any]) -> MessageRecord:
    return MessageRecord(
        event["conversation_id"], event["seq"], event["from"], event["author"], event["client_msg_id"],
        base64.b64decode(event["ct"]), parse_iso(event["ts"]),
    )


def message_frame(dek: bytes, m: MessageRecord) -> Msg:
    """The ``msg`` frame of a stored message; an unreadable one says so instead of showing text."""
    text = open_message(dek, m)
    return Msg(m.conversation_id, m.seq, m.sender, m.author, text, iso(m.created_at), m.client_msg_id,
               True if text is None else None)


async def message_frames(ctx: Context, records: list[MessageRecord]) -> list[dict[str, Any]]:
    """``msg`` frames for a socket or transcript (one conversation's records)."""
    if not records:
        return []
    dek = await dek_for(ctx, records[0].conversation_id)
    return [message_frame(dek, m).to_json() for m in records]


# Key management.


@dataclass(frozen=True)
class KeyUse:
    id: str
    primary: bool
    conversations: int  # how many conversations' DEKs this KEK wraps
    in_ring: bool  # False: referenced by the database but missing from the ring (those DEKs cannot be opened)


@dataclass(frozen=True)
class KeyProblem:
    """A KEK the database references that the ring cannot use: ``not_in_ring`` (no key with that id) or
    ``wrong_key`` (a key with that id that does not open the data keys: another key file)."""

    id: str
    reason: str


def _why(ring: KeyProvider, kek_id: str) -> str:
    return "wrong_key" if kek_id in ring.ids() else "not_in_ring"


@dataclass(frozen=True)
class RewrapResult:
    primary: str
    rewrapped: int
    failed: int  # DEKs that could not be unwrapped (KEK missing or damaged row); they stay as they were


async def list_keys(ctx: Context) -> list[KeyUse]:
    counts = await keys_store.count_by_kek(ctx.engine)
    primary, ids = ctx.keys.primary_id(), ctx.keys.ids()
    known = [KeyUse(k, k == primary, counts.get(k, 0), True) for k in ids]
    return known + [KeyUse(k, False, n, False) for k, n in sorted(counts.items()) if k not in ids]


async def check(ctx: Context) -> list[KeyProblem]:
    """Try to unwrap one data key under each KEK the database references: the KEKs the ring cannot use.
    A restore with the wrong key file (or none of its keys) shows here, before anyone asks for a transcript."""

    def probe(samples: list[WrappedKey]) -> list[KeyProblem]:
        problems = []
        for w in samples:
            try:
                ctx.keys.unwrap(w.kek_id, w.wrapped, w.conversation_id)
            except KeyError_:
                problems.append(KeyProblem(w.kek_id, _why(ctx.keys, w.kek_id)))
        return problems

    # An unknown id makes the file ring re-read its file: I/O, so off the event loop.
    return await asyncio.to_thread(probe, await keys_store.one_under_each(ctx.engine))


async def check_at_start(ctx: Context) -> None:
    """Say at start, in the log, when the key ring does not open this database's data keys (and how many
    conversations are unreadable because of it): the operator learns it before staff meet key_unavailable."""
    problems = await check(ctx)
    if not problems:
        return
    counts = await keys_store.count_by_kek(ctx.engine)
    for p in problems:
        logs.event("keys_unusable", level=40, key_id=p.id, reason=p.reason, count=counts.get(p.id, 0))


def _managed(ctx: Context) -> ManagedRing:
    if not isinstance(ctx.keys, ManagedRing):
        raise Conflict(
            Code.KEYS_READ_ONLY,
            "The keys come from MINIMARIA_KEYS, which this command cannot change: add a new key to that value, "
            "make it primary, and restart the servers.",
        )
    return ctx.keys


async def _audit(ctx: Context, action: str, target: str) -> None:
    """Key management is audited, by the system (the CLI has no staff member)."""
    await audit.record(ctx, None, action, target=target)


async def rotate(ctx: Context) -> str:
    """A new KEK in the key file, made primary; returns its id. Existing DEKs stay under their KEK."""
    new = await asyncio.to_thread(_managed(ctx).rotate)
    await _audit(ctx, "key_rotated", new)
    logs.event("keys_rotated", key_id=new)
    return new


async def rewrap(ctx: Context, batch: int = 500, progress: Callable[[RewrapResult], None] | None = None) -> RewrapResult:
    """Rewrap every DEK not under the primary KEK, ``batch`` conversations per transaction.

    Safe beside live traffic (each UPDATE is conditional on the KEK it was read under) and resumable:
    after a crash, running it again simply continues with what is left. Messages are not touched.
    """
    if batch < 1:
        raise BadInput(Code.INVALID, "The batch size must be at least 1.")
    primary = ctx.keys.primary_id()
    after, rewrapped, failed = "", 0, 0
    while rows := await keys_store.not_under(ctx.engine, primary, after, batch):
        after = rows[-1].conversation_id  # keyset paging: a row that fails is not met again in this run
        # Unwrapping may re-read the key file: off the event loop, a batch at a time.
        fresh, bad = await asyncio.to_thread(_rewrap_batch, ctx.keys, rows)
        rewrapped += await keys_store.rewrap(ctx.engine, fresh)
        failed += len(bad)
        for cid in bad:
            logs.event("rewrap_failed", level=40, conversation_id=cid)
        if progress is not None:
            progress(RewrapResult(primary, rewrapped, failed))
    logs.event("keys_rewrapped", key_id=primary, count=rewrapped)
    await _audit(ctx, "keys_rewrapped", f"{primary}:{rewrapped}")
    return RewrapResult(primary, rewrapped, failed)


def _rewrap_batch(ring: KeyProvider, rows: list[WrappedKey]) -> tuple[list[Rewrapped], list[str]]:
    fresh, bad = [], []
    for r in rows:
        try:
            dek = ring.unwrap(r.kek_id, r.wrapped, r.conversation_id)
        except KeyError_:
            bad.append(r.conversation_id)
            continue
        kek_id, wrapped = ring.wrap(dek, r.conversation_id)
        fresh.append(Rewrapped(r.conversation_id, r.kek_id, kek_id, wrapped))
    return fresh, bad


async def retire(ctx: Context, kek_id: str) -> None:
    """Remove a KEK from the key file: only when it is not primary and no conversation references it.

    Running servers re-read the key file every ``keys_reload_s``; until they have, one of them may still
    hold the old primary and wrap a new conversation's DEK under it. So a KEK is retired only once the
    current primary is older than two such intervals, and the references are counted after that check.
    """
    ring = _managed(ctx)
    await asyncio.to_thread(ring.reload)
    primary = ring.primary_id()
    if kek_id == primary:
        raise Conflict(Code.KEY_IN_USE, f"{kek_id} is the primary key: rotate, then rewrap, then retire it.")
    if kek_id not in ring.ids():
        raise NotFound(f"There is no key {kek_id} in the ring.")
    since = ring.primary_since()
    wait = timedelta(seconds=2 * ctx.settings.keys_reload_s)
    if since is not None and ctx.clock() < since + wait:
        left = (since + wait - ctx.clock()).total_seconds()
        raise Conflict(
            Code.KEY_IN_USE,
            f"{primary} became primary only recently; running servers re-read the key file every "
            f"{ctx.settings.keys_reload_s:g} s and may still use {kek_id} for new conversations: "
            f"try again in {left:.0f} s (then rewrap once more if it still wraps any).",
        )
    n = await keys_store.count_under(ctx.engine, kek_id)
    if n:
        raise Conflict(
            Code.KEY_IN_USE, f"{kek_id} still wraps the data keys of {n} conversation(s): run `minimaria keys rewrap` first."
        )
    await asyncio.to_thread(ring.retire, kek_id)
    await _audit(ctx, "key_retired", kek_id)
    logs.event("keys_retired", key_id=kek_id)


async def reload(ctx: Context) -> str | None:
    """Re-read the key file (another process may have rotated); the new primary's id when it changed."""
    if not isinstance(ctx.keys, ManagedRing):
        return None
    before = ctx.keys.primary_id()
    await asyncio.to_thread(ctx.keys.reload)
    after = ctx.keys.primary_id()
    if after == before:
        return None
    logs.event("keys_reloaded", key_id=after)
    return after


async def ring_readable(ctx: Context) -> bool:
    """Readiness: the key file can be read now and still holds the primary key new conversations are wrapped
    with. A ring from the environment is in memory only: always readable."""
    if not isinstance(ctx.keys, ManagedRing):
        return True
    try:
        await asyncio.to_thread(ctx.keys.check)
    except KeyError_:
        return False
    return True
