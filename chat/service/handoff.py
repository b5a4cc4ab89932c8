"""Hand-offs: a transfer to another team or a named counsellor with a note, and a returning visitor's
return code re-opening their earlier conversation.
"""

from __future__ import annotations

from datetime import timedelta

from chat import logs
from chat.crypto import envelope, tokens
from chat.errors import BadInput, Code, Conflict, Forbidden, Gone, NotFound
from chat.service import access, audit, conversations, dispatch, events, health, keys, limits, routing
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.store import conversations as store
from chat.store import queue as queue_store
from chat.store import staff as staff_store
from chat.store.conversations import ConversationRecord
from chat.wire import Claimed, NoteAdded, OfferWithdrawn, Released, State, TokenReplaced
from triage.region import Priority
from triage.router import Reason, Signals

JOINED = {"sv": "{name} har anslutit till samtalet.", "en": "{name} has joined the conversation."}
MOVED = {
    "sv": "Samtalet har lämnats över till {team}. Någon därifrån svarar så snart de kan.",
    "en": "The conversation has been handed over to {team}. Someone there will answer as soon as they can.",
}


def _say(template: dict[str, str], language: str, **values: str) -> str:
    return template.get(language, template["sv"]).format(**values)


async def reassign(
    ctx: Context, p: Principal, conversation_id: str, *, team: str | None, staff: str | None, note: str
) -> ConversationRecord:
    """A supervisor moves a waiting or active conversation to a named counsellor or a team (a waiting one
    keeps its place in time; an open offer on it is withdrawn)."""
    access.require(p, Action.REASSIGN, None, Forbidden(Code.FORBIDDEN, "Only a supervisor can reassign conversations."))
    return await _hand_on(ctx, p, Action.REASSIGN, conversation_id, team=team, staff=staff, note=note)


async def transfer(
    ctx: Context, p: Principal, conversation_id: str, *, team: str | None, staff: str | None, note: str
) -> ConversationRecord:
    """Hand an active conversation to a team's queue or straight to a named counsellor. The note is
    stored (encrypted) first, so the receiving side finds it with the history; the visitor sees a line
    saying who joined or where the conversation went."""
    access.require(p, Action.TRANSFER)
    return await _hand_on(ctx, p, Action.TRANSFER, conversation_id, team=team, staff=staff, note=note)


async def _hand_on(
    ctx: Context, p: Principal, action: Action, conversation_id: str, *, team: str | None, staff: str | None,
    note: str,
) -> ConversationRecord:
    """Transfer (the holder's hand-over of an active conversation) and reassign (a waiting one too)."""
    if (team is None) == (staff is None):
        raise BadInput(Code.INVALID, "Give exactly one of team and staff.")
    # Not ``accessible()``: that answers 404 to anyone but the holder, and the protocol promises 409 for a
    # conversation nobody holds and 403 for one someone else holds.
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None:
        raise NotFound()
    if conv.state != State.ACTIVE and not (action is Action.REASSIGN and conv.state == State.QUEUED):
        raise Conflict(Code.NOT_CLAIMED, "Only a conversation someone holds can be transferred; claim it first.")
    access.require(p, action, conv, Forbidden(Code.NOT_CLAIMED, "You do not hold this conversation."))
    target_id: int | None = None
    target_name = ""
    if team is not None:
        found = ctx.region.team(team)
        if found is None:
            raise BadInput(Code.UNKNOWN_TEAM, "There is no team with that id.")
        to_team, to_label = found.id, found.name
    else:
        assert staff is not None
        person = await staff_store.by_username(ctx.engine, staff)
        if person is None or not person.active or not access.may_receive(person.roles):
            raise BadInput(Code.UNKNOWN_STAFF, "There is no active staff member with that username.")
        if person.id == conv.assigned_staff_id:
            raise BadInput(Code.INVALID, "That person already holds the conversation.")
        target_id, target_name = person.id, person.display_name
        to_team = conv.team if conv.team in person.teams or not person.teams else person.teams[0]
        to_label = person.display_name
    now = ctx.clock()
    if note.strip():
        sealed = envelope.seal(await keys.dek_for(ctx, conversation_id), note, keys.note_aad(conversation_id, now))
        await store.add_note(ctx.engine, conversation_id, p.id, sealed, now, kind="transfer")
    reason = Reason(
        "transfer", f"Överlämnat av {p.display_name} till {to_label}", f"Transferred by {p.display_name} to {to_label}"
    )
    # The conditional update checks the holder is still who it was, unless the action reaches any conversation.
    holder = None if access.reaches_any(p, action) else p.id
    ok = await queue_store.transfer(
        ctx.engine, conversation_id, holder, team=to_team, to_staff=target_id,
        reasons=await health.with_reasons(ctx, conv, routing.reason_json(reason)), now=now, from_state=conv.state,
    )
    if not ok:
        raise Conflict(Code.CONFLICT, "The conversation changed hands meanwhile; look again.")
    # To whom: a username or a team id (ids, never the note).
    await audit.record(ctx, p.id, "transferred", conversation_id, target=staff if staff is not None else to_team)
    if conv.state == State.QUEUED and conv.offered_to is not None:
        await events.to_staff(ctx, conv.offered_to, OfferWithdrawn(conversation_id, "reassigned"))
    if conv.assigned_staff_id is not None:
        await events.to_staff(ctx, conv.assigned_staff_id, Released(conversation_id, "transferred"))
    if target_id is not None:
        await conversations.post_system(ctx, conversation_id, _say(JOINED, conv.language, name=target_name))
        await conversations.publish_state(ctx, conversation_id, State.ACTIVE, target_name)
        await events.to_staff(ctx, target_id, Claimed(conversation_id, transferred=True))
    else:
        team_name = to_label
        await conversations.post_system(ctx, conversation_id, _say(MOVED, conv.language, team=team_name))
        await conversations.publish_state(ctx, conversation_id, State.QUEUED, None)
    await events.to_conversation(ctx, conversation_id, NoteAdded(conversation_id))
    await events.queue_changed(ctx)
    logs.event("conversation_transferred", conversation_id=conversation_id, staff_id=p.id, team=conv.team, to_team=to_team)
    fresh = await health.get(ctx, conversation_id)
    assert fresh is not None
    return fresh


async def resume(ctx: Context, code: str, client: str | None = None) -> conversations.Started:
    """A returning visitor's code: a fresh visitor token for the same conversation. A closed one is
    re-opened (counted), back in a queue, and offered first to the counsellor who had it if they are
    online and free. Every attempt is counted first, for its client (``client``: the address, only ever
    hashed) and for everyone (service/limits.py)."""
    await limits.admit(ctx, limits.Action.RETURN_CODE, client)
    conv = await queue_store.by_return_code_hash(ctx.engine, tokens.return_code_hash(code))
    if conv is None:
        raise BadInput(Code.RETURN_CODE_INVALID, "That return code is not valid. Check it and try again.")
    if conv.shredded_at is not None:
        raise Gone(Code.DELETED_BY_RETENTION, "This conversation was deleted under the retention rules.")
    now = ctx.clock()
    token = tokens.new_token()
    expires = now + timedelta(hours=ctx.settings.visitor_token_hours)
    requeue = None
    offered_to: int | None = None
    offer_expires = None
    if conv.state == State.CLOSED:
        conv = await health.opened(ctx, conv)
        assert conv.health is not None
        risk = frozenset(conv.health.risk)
        decision = await routing.route(
            ctx, conversations.intake_of(conv), signals=Signals(risk=risk), previous_staff=conv.assigned_staff_id,
            previous_team=conv.team,
        )
        count = conv.reopened_count + 1
        times_sv, times_en = ("gång", "time") if count == 1 else ("gånger", "times")  # 1 gång, 2 gånger
        back = Reason("returning", f"Återkommande med kod (öppnat igen {count} {times_sv})",
                      f"Returning with a code (re-opened {count} {times_en})")
        offered_to = decision.preferred_staff
        team = ctx.region.team(decision.team)
        if offered_to is not None and team is not None:
            offer_expires = now + timedelta(seconds=team.offer_timeout_s)
        requeue = {
            "team": decision.team, "priority": int(max(decision.priority, Priority(conv.priority))),
            # Decided afresh (risk signals included): the earlier path is in the closed conversation's history.
            "reasons_sealed": health.seal_reasons(await keys.dek_for(ctx, conv.id), conv.id,
                                                  [*routing.reasons_json(decision.reasons), routing.reason_json(back)]),
            "preferred_staff_id": decision.preferred_staff, "offered_to": offered_to,
            "offer_expires_at": offer_expires, "after_hours": not decision.open,
        }
    if not await queue_store.reopen(ctx.engine, conv.id, token_hash=tokens.token_hash(token), token_expires_at=expires,
                                    now=now, requeue=requeue):
        raise Conflict(Code.CONFLICT, "The conversation changed meanwhile; try the code again.")
    fresh = await store.get(ctx.engine, conv.id)
    assert fresh is not None
    # The old token no longer opens it: sockets opened with it close, on whichever instance holds them.
    await events.to_conversation(ctx, conv.id, TokenReplaced(conv.id))
    if requeue is not None:
        if conv.assigned_staff_id is not None:  # whoever had it stops following: the new part is read afresh
            await events.to_staff(ctx, conv.assigned_staff_id, Released(conv.id, "reopened"))
        await conversations.publish_state(ctx, conv.id, State.QUEUED, None)
        await events.queue_changed(ctx)
        if offered_to is not None and offer_expires is not None:
            await dispatch.announce_offer(ctx, fresh, offered_to, offer_expires)
        logs.event("conversation_reopened", conversation_id=conv.id, team=fresh.team)
    else:
        logs.event("conversation_resumed", conversation_id=conv.id)
    return conversations.Started(fresh, token, tokens.normalize_return_code(code), reopened=requeue is not None)
