"""Conversations: start, authenticate a visitor, post (seq, idempotency), replay, typing, read, close.

The message path: validate → store with the next seq in one transaction → return (the caller acks) →
publish on the conversation's channel. Nothing is published that is not stored.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chat import logs
from chat.crypto import envelope, tokens
from chat.errors import BadInput, ChatError, Code, Conflict, Forbidden, Gone, NotFound, Unauthorized
from chat.service import access, audit, events, health, keys, limits, routing, signals
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.service.rendering import Rendered
from chat.store import conversations as store
from chat.store import queue as queue_store
from chat.store import staff as staff_store
from chat.store.conversations import ConversationRecord, MessageRecord, PostRefused
from chat.wire import Crisis, Left, OfferWithdrawn, Read, Sender, State, StateChanged, Typing, dumps
from triage.router import Decision, Intake


@dataclass(frozen=True)
class StartRequest:
    role: str | None
    municipality: str | None = None
    topic: str | None = None
    age_band: str | None = None
    gender: str | None = None
    language: str = "sv"


@dataclass(frozen=True)
class Started:
    conversation: ConversationRecord
    visitor_token: str
    return_code: str
    reopened: bool = False


def intake_of(c: ConversationRecord) -> Intake:
    return Intake(c.role, c.municipality, c.topic, c.age_band, c.gender)


async def start(ctx: Context, req: StartRequest, client: str | None = None) -> Started:
    """A new conversation in the queue triage chose. Out of hours it still starts: the visitor may leave
    a message, which the team sees when it opens (``after_hours``). Every start is counted first, for its
    client (``client``: the address, only ever hashed; None for the CLI and the demo, which are not counted)
    and for everyone (service/limits.py)."""
    await limits.admit(ctx, limits.Action.START, client)
    if req.role is None:
        raise BadInput(Code.INVALID, "Missing or invalid fields: role")
    if req.municipality is not None and ctx.region.municipality(req.municipality) is None:
        raise BadInput(Code.INVALID, "The municipality is not one this service covers.")
    if req.language not in ctx.region.languages:
        raise BadInput(Code.INVALID, "That language is not offered.")
    decision: Decision = await routing.route(
        ctx, Intake(str(req.role), req.municipality, req.topic, req.age_band, req.gender)
    )
    now = ctx.clock()
    token, code = tokens.new_token(), tokens.new_return_code()
    cid = str(uuid.uuid4())
    kek_id, wrapped = await keys.new_conversation_key(ctx, cid)
    sealed = health.initial(await keys.dek_for(ctx, cid), cid, routing.reasons_json(decision.reasons))
    await store.create(
        ctx.engine, id=cid, state=State.QUEUED, role=req.role, municipality=req.municipality, topic=req.topic,
        age_band=req.age_band, gender=req.gender, language=req.language, team=decision.team,
        priority=int(decision.priority), visitor_token_hash=tokens.token_hash(token),
        token_expires_at=now + timedelta(hours=ctx.settings.visitor_token_hours),
        return_code_hash=tokens.return_code_hash(code), last_seq=0, visitor_read_seq=0, staff_read_seq=0,
        created_at=now, wrapped_dek=wrapped, kek_id=kek_id, queued_at=now, last_activity_at=now,
        after_hours=not decision.open, **sealed,
        visitor_away_since=now,  # until the page's socket says hello: the grace runs from the start
    )
    await events.queue_changed(ctx)
    record = await store.get(ctx.engine, cid)
    assert record is not None
    logs.event("conversation_started", conversation_id=cid, team=decision.team, priority=int(decision.priority))
    return Started(record, token, code)


async def visitor_conversation(ctx: Context, token: str) -> ConversationRecord:
    """The conversation a visitor token opens; raises when the token is wrong or expired, or the
    conversation was deleted under the retention rules (that answer is final, so it comes first)."""
    record = await store.by_token_hash(ctx.engine, tokens.token_hash(token))
    if record is None:
        raise Unauthorized(Code.UNAUTHORIZED, "The visitor token is not valid.")
    if record.shredded_at is not None:
        raise Gone(Code.DELETED_BY_RETENTION, "This conversation was deleted under the retention rules.")
    if record.token_expires_at <= ctx.clock():
        raise Unauthorized(Code.TOKEN_EXPIRED, "The visitor token has expired; start a new conversation.")
    return record


async def token_opens(ctx: Context, token_hash: str, conversation_id: str) -> bool:
    """Whether the token with this hash still opens ``conversation_id`` (a return code replaces a
    conversation's token)."""
    record = await store.by_token_hash(ctx.engine, token_hash)
    return record is not None and record.id == conversation_id and record.token_expires_at > ctx.clock()


# The system line staff see when the young person leaves with quick exit.
LEFT = {"sv": "Personen har lämnat chatten.", "en": "The person has left the chat."}


async def forget(ctx: Context, token: str | None) -> None:
    """Quick exit: the visitor token stops working at once and, in the same transaction, an open
    conversation is closed with outcome ``left`` (out of the queue, any offer withdrawn, its metadata kept
    for statistics; the return code still re-opens it later). Whoever holds it is told at once (a system
    line and the ``closed`` state), every queue updates, and the visitor's own sockets are closed.
    Unknown, expired or missing tokens are fine: the answer must not tell anyone anything."""
    if not token:
        return
    token_hash = tokens.token_hash(token)
    record = await store.by_token_hash(ctx.engine, token_hash)
    now = ctx.clock()
    if record is None or record.token_expires_at <= now:
        return
    seal = None
    if record.state != State.CLOSED:
        with contextlib.suppress(ChatError):  # a shredded key: closed without the line
            dek = await keys.dek_for(ctx, record.id)
            text = LEFT.get(record.language, LEFT["sv"])
            seal = keys.message_sealer(dek, record.id, Sender.SYSTEM, text)
    left = await queue_store.leave(ctx.engine, record.id, token_hash, now, seal)
    if left is None:
        return
    logs.event("visitor_token_forgotten", conversation_id=record.id)
    if left.state != State.CLOSED:
        if left.message is not None:
            await events.to_conversation(ctx, record.id, keys.bus_event(left.message))
        await publish_state(ctx, record.id, State.CLOSED, None)
        if left.offered_to is not None:
            await events.to_staff(ctx, left.offered_to, OfferWithdrawn(record.id, "left"))
        await events.queue_changed(ctx)
        logs.event("conversation_closed", conversation_id=record.id, reason="left")
    await events.to_conversation(ctx, record.id, Left(record.id))


async def accessible(ctx: Context, p: Principal, action: Action, conversation_id: str) -> ConversationRecord:
    """The conversation, when this person may do ``action`` to it; else not_found (as if it did not exist)."""
    record = await store.get(ctx.engine, conversation_id)
    if record is None:
        raise NotFound()
    access.require(p, action, record, NotFound())
    return record


async def post(
    ctx: Context,
    conversation_id: str,
    text: str,
    client_msg_id: str,
    staff: Principal | None = None,
    on_stored: Callable[[MessageRecord], None] | None = None,
) -> tuple[MessageRecord, bool]:
    """Store a message durably, call ``on_stored`` (the sender's ack), then publish it.

    Returns (message, created); a resend returns the first copy and publishes nothing.
    """
    sender = Sender.STAFF if staff else Sender.VISITOR
    dek = await keys.dek_for(ctx, conversation_id)
    try:
        record, created = await ctx.writer.append(
            conversation_id=conversation_id, sender=sender, seal=keys.message_sealer(dek, conversation_id, sender, text),
            client_msg_id=client_msg_id, now=ctx.clock(), staff_id=staff.id if staff else None,
            author=staff.display_name if staff else None,
        )
    except PostRefused:
        raise await _refusal(ctx, conversation_id, staff) from None
    if on_stored is not None:
        on_stored(record)
    if created:
        await events.to_conversation(ctx, conversation_id, keys.bus_event(record))
    return record, created


async def visitor_post(
    ctx: Context, conversation_id: str, text: str, client_msg_id: str, on_stored: Callable[[MessageRecord], None]
) -> Crisis | None:
    """A visitor's message: ``post``, then the risk scan (after the ack: it never delays it). Returns the
    ``crisis`` frame for the visitor when the text carries a risk signal (service/signals.py)."""
    stored, created = await post(ctx, conversation_id, text, client_msg_id, on_stored=on_stored)
    if not created:
        return None
    return await signals.on_visitor_text(ctx, conversation_id, text, stored.seq)


async def post_system(ctx: Context, conversation_id: str, text: str) -> MessageRecord | None:
    """A line from the service itself (someone joined, the conversation moved), stored in the transcript
    like any message so both sides see it in order; None when the conversation is closed."""
    dek = await keys.dek_for(ctx, conversation_id)
    try:
        record, _ = await ctx.writer.append(
            conversation_id=conversation_id, sender=Sender.SYSTEM, client_msg_id=None, now=ctx.clock(),
            seal=keys.message_sealer(dek, conversation_id, Sender.SYSTEM, text), staff_id=None, author=None,
        )
    except PostRefused:
        return None
    await events.to_conversation(ctx, conversation_id, keys.bus_event(record))
    return record


async def _refusal(ctx: Context, conversation_id: str, staff: Principal | None) -> Exception:
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None:
        return NotFound()
    if conv.state == State.CLOSED:
        return Conflict(Code.CONVERSATION_CLOSED, "The conversation is closed.")
    if staff is not None and not access.allowed(staff, Action.WRITE, conv):
        return Forbidden(Code.NOT_CLAIMED, "You do not hold this conversation; claim it first.")
    return Conflict(Code.CONFLICT, "The message could not be stored; send it again.")


async def replay(ctx: Context, conversation_id: str, after_seq: int) -> list[dict[str, Any]]:
    """``msg`` frames after ``after_seq`` (decrypted; at most one batch: call again from the last seq)."""
    return await keys.message_frames(ctx, await store.after(ctx.engine, conversation_id, after_seq))


# The messages as this instance's sockets are sent them: ready-written frames (service/rendering.py).


def _rendered(frame: dict[str, Any]) -> Rendered:
    return Rendered(frame["conversation_id"], frame["seq"], frame["from"], frame["client_msg_id"], frame["ts"],
                    dumps(frame))


async def render(ctx: Context, event: dict[str, Any]) -> Rendered:
    """A ``msg`` event from the bus as its frame: decrypted and written once per instance, not per socket."""
    found = ctx.renderer.get(event["conversation_id"], event["seq"])
    if found is not None:
        return found
    dek = await keys.dek_for(ctx, event["conversation_id"])
    return ctx.renderer.keep(_rendered(keys.message_frame(dek, keys.record_from_bus(event)).to_json()))


async def rendered_after(ctx: Context, conversation_id: str, after_seq: int) -> list[Rendered]:
    """``replay`` as frames ready to send (a socket's catch-up)."""
    return [_rendered(f) for f in await replay(ctx, conversation_id, after_seq)]


async def typing(ctx: Context, conversation_id: str, side: str, on: bool) -> None:
    await events.to_conversation(ctx, conversation_id, Typing(conversation_id, side, on))


async def read(ctx: Context, conversation_id: str, side: str, seq: int, seen: int) -> None:
    """A read receipt up to ``seq``. ``seen``: a seq known to exist (the last one the reader's socket was
    sent), so only a receipt past it needs the store to say whether that message exists yet."""
    if seq > seen:
        current = await store.get(ctx.engine, conversation_id)
        if current is None or seq > current.last_seq:
            raise BadInput(Code.BAD_LAST_SEQ, "That sequence number has not been sent yet.")
    if not await store.mark_read(ctx.engine, conversation_id, side, seq):
        return  # not newer than the mark already given: nothing to tell
    await events.to_conversation(ctx, conversation_id, Read(conversation_id, side, seq))


async def holder_name(ctx: Context, conversation: ConversationRecord) -> str | None:
    """The display name of the staff member holding the conversation, as the visitor sees it."""
    if conversation.assigned_staff_id is None:
        return None
    rec = await staff_store.by_id(ctx.engine, conversation.assigned_staff_id)
    return rec.display_name if rec else None


async def close(ctx: Context, p: Principal, conversation_id: str, outcome: str) -> None:
    await accessible(ctx, p, Action.CLOSE, conversation_id)
    if not await store.close(ctx.engine, conversation_id, outcome, ctx.clock(), None):
        raise Conflict(Code.CONVERSATION_CLOSED, "The conversation is already closed.")
    await audit.record(ctx, p.id, "closed", conversation_id, target=outcome)
    await publish_state(ctx, conversation_id, State.CLOSED, None)
    await events.queue_changed(ctx)
    logs.event("conversation_closed", conversation_id=conversation_id, staff_id=p.id)


async def visitor_close(ctx: Context, token: str, conversation_id: str) -> None:
    """The young person ends the conversation themselves (outcome ``ended_by_visitor``)."""
    conv = await visitor_conversation(ctx, token)
    if conv.id != conversation_id:
        raise Forbidden(Code.FORBIDDEN, "That token belongs to another conversation.")
    if not await store.close(ctx.engine, conversation_id, "ended_by_visitor", ctx.clock(), None):
        raise Conflict(Code.CONVERSATION_CLOSED, "The conversation is already closed.")
    await audit.record(ctx, None, "closed", conversation_id, target="ended_by_visitor")
    await publish_state(ctx, conversation_id, State.CLOSED, None)
    await events.queue_changed(ctx)
    logs.event("conversation_closed", conversation_id=conversation_id, reason="visitor")


async def publish_state(ctx: Context, conversation_id: str, state: str, staff_name: str | None) -> None:
    await events.to_conversation(ctx, conversation_id, StateChanged(conversation_id, state, staff_name))


async def feedback(ctx: Context, token: str, conversation_id: str, rating: int, comment: str | None) -> None:
    conv = await visitor_conversation(ctx, token)
    if conv.id != conversation_id:
        raise Forbidden(Code.FORBIDDEN, "That token belongs to another conversation.")
    sealed = None
    if comment:
        sealed = envelope.seal(await keys.dek_for(ctx, conv.id), comment, keys.feedback_aad(conv.id))
    if not await store.add_feedback(ctx.engine, conv.id, rating, sealed, ctx.clock()):
        raise Conflict(Code.CONFLICT, "Feedback for this conversation has already been given.")
