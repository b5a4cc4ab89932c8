"""The queues: one per team, ordered by priority then waiting time; places in line with estimated waits;
the atomic claim; accepting and declining offers.
"""

from __future__ import annotations

import math
import statistics
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chat import logs
from chat.errors import Code, Conflict, Forbidden, NotFound
from chat.service import access, audit, conversations, events, health, presence, routing, visitors
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.store import conversations as store
from chat.store import queue as queue_store
from chat.store.conversations import ConversationRecord

DEFAULT_HANDLING_S = 600  # until the team has closed a few conversations
MIN_PER_PLACE_S = 30


@dataclass(frozen=True)
class Place:
    position: int
    estimated_wait_s: int
    # When this stay in the queue began: a visitor taken and put back (or re-opened) within one watcher
    # round is in a new place even at the same position and wait, and is told so.
    since: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    """All waiting conversations with what the estimates need, read at most once a second per instance
    (web/watch.py) and shared by every socket of this instance."""

    waiting: list[ConversationRecord]
    per_place_s: dict[str, float] = field(default_factory=dict)  # team → seconds each place ahead costs
    opens_in_s: dict[str, float] = field(default_factory=dict)  # team → seconds until it opens (0: open)
    # conversation id → (team, position in the team's line): built once, so each socket's place is a lookup
    # (the watcher asks for every waiting visitor's place on every snapshot).
    _places: dict[str, tuple[str, int, datetime | None]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts: dict[str, int] = {}
        for c in self.waiting:
            counts[c.team] = counts.get(c.team, 0) + 1
            self._places[c.id] = (c.team, counts[c.team], c.queued_at)

    def place(self, conversation_id: str) -> Place | None:
        found = self._places.get(conversation_id)
        if found is None:
            return None
        team, position, since = found
        return _place(team, position, since, self.per_place_s, self.opens_in_s)

    def for_staff(self, p: Principal) -> list[ConversationRecord]:
        teams = access.teams_for(p, Action.QUEUE_READ)
        return [c for c in self.waiting if teams is None or c.team in teams]


def _place(
    team: str, position: int, since: datetime | None, per_place_s: dict[str, float], opens_in_s: dict[str, float]
) -> Place:
    wait = opens_in_s.get(team, 0) + position * per_place_s.get(team, DEFAULT_HANDLING_S)
    return Place(position, int(math.ceil(wait / 30) * 30), since)


# The records of the last snapshot with their health data opened, by conversation id (kept by its reader).
Opened = dict[str, ConversationRecord]


async def snapshot(ctx: Context, opened: Opened | None = None) -> Snapshot:
    """Read for every socket of this instance, with the health data opened here. ``opened``, kept by the
    caller from one snapshot to the next, holds the records opened last time: a conversation whose sealed
    fields have not changed is not decrypted again (it is updated to this snapshot's records)."""
    raw = await queue_store.waiting(ctx.engine, gone_before=visitors.gone_before(ctx))
    if opened is None:
        waiting = await health.opened_all(ctx, raw)
    else:
        waiting = [await _reopened(ctx, c, opened.get(c.id)) for c in raw]
        opened.clear()
        opened.update((c.id, c) for c in waiting)
    if not waiting:
        return Snapshot(waiting)
    per_place, opens_in = await _estimates(ctx, {c.team for c in waiting})
    return Snapshot(waiting, per_place, opens_in)


async def _reopened(ctx: Context, c: ConversationRecord, before: ConversationRecord | None) -> ConversationRecord:
    if (
        before is not None
        and before.health is not None
        and before.reasons_sealed == c.reasons_sealed
        and before.risk_sealed == c.risk_sealed
        and before.screening_sealed == c.screening_sealed
    ):
        # ``c`` was just read and is seen by nobody else yet: set its health in place, without the copy that
        # ``dataclasses.replace`` makes (thousands of records a second with a long queue).
        object.__setattr__(c, "health", before.health)
        return c
    return await health.opened(ctx, c)


# What the estimates are made of (recent handling times, who is online), per database, read at most once a
# second by ``place``: a burst of starts or hellos does not read them once each. (The watcher's snapshots
# read them fresh, and refresh this.)
INPUTS_S = 1.0
_inputs: weakref.WeakKeyDictionary[Any, tuple[float, list[tuple[str, float]], list[presence.Online]]] = (
    weakref.WeakKeyDictionary()
)


async def _estimates(ctx: Context, teams: set[str], fresh: bool = True) -> tuple[dict[str, float], dict[str, float]]:
    """Per team: seconds each place ahead costs, and seconds until the team opens (0: open now)."""
    now = ctx.clock()
    cached = None if fresh else _inputs.get(ctx.engine)
    if cached is not None and time.monotonic() - cached[0] < INPUTS_S:
        _, handled, people = cached
    else:
        handled = await queue_store.handling_times(ctx.engine)
        people = await presence.online(ctx)
        _inputs[ctx.engine] = (time.monotonic(), handled, people)
    per_place = {t: _per_place(ctx, t, handled, people) for t in teams}
    opens_in = {t: _opens_in(ctx, t, now) for t in teams}
    return per_place, opens_in


async def place(ctx: Context, conversation_id: str) -> Place | None:
    """One waiting conversation's place in its team's line and its estimated wait, without reading the
    whole queue (a start and a hello ask this; the cost does not grow with the line). None when it is not
    waiting."""
    found = await queue_store.place(ctx.engine, conversation_id, gone_before=visitors.gone_before(ctx))
    if found is None:
        return None
    team, position, since = found
    per_place, opens_in = await _estimates(ctx, {team}, fresh=False)
    return _place(team, position, since, per_place, opens_in)


def _per_place(ctx: Context, team_id: str, handled: list[tuple[str, float]], people: list[presence.Online]) -> float:
    """Recent handling time (the team's own when it has closed three, else everyone's) over how many
    conversations the team's available members can hold at once."""
    own = [s for t, s in handled if t == team_id]
    sample = own if len(own) >= 3 else [s for _, s in handled]
    handling = statistics.median(sample) if len(sample) >= 3 else DEFAULT_HANDLING_S
    team = ctx.region.team(team_id)
    capacity = team.capacity if team else 1
    slots = sum(capacity for o in people if team_id in o.teams and o.status == presence.Availability.AVAILABLE)
    return max(MIN_PER_PLACE_S, handling / max(1, slots))


def _opens_in(ctx: Context, team_id: str, now: datetime) -> float:
    if routing.team_open(ctx.region, team_id, now):
        return 0
    opens = routing.team_opens_at(ctx.region, team_id, now)
    return max(0.0, (opens - now).total_seconds()) if opens else 0


async def staff_queue(ctx: Context, p: Principal) -> list[ConversationRecord]:
    access.require(p, Action.QUEUE_READ)
    teams = access.teams_for(p, Action.QUEUE_READ)
    waiting = await queue_store.waiting(ctx.engine, teams, gone_before=visitors.gone_before(ctx))
    return await health.opened_all(ctx, waiting)


async def claim(ctx: Context, p: Principal, conversation_id: str) -> ConversationRecord:
    """Exactly one of any number of racing claims wins; the others get already_claimed. A conversation
    on offer to someone else can be claimed only when that offer has ended."""
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None:
        raise NotFound()
    access.require(p, Action.CLAIM, conv, Forbidden(Code.FORBIDDEN, "This conversation is in another team's queue."))
    offered_elsewhere = conv.offered_to is not None and conv.offered_to != p.id
    won = await queue_store.claim(ctx.engine, conversation_id, p.id, access.teams_for(p, Action.CLAIM), ctx.clock())
    if not won:
        if conv.state == "closed":
            raise Conflict(Code.CONVERSATION_CLOSED, "The conversation is closed.")
        ctx.metrics.claim_conflicts.inc()  # lost the conditional UPDATE to someone (or an offer) first
        fresh = await store.get(ctx.engine, conversation_id)
        if fresh is not None and fresh.state == "queued" and offered_elsewhere:
            raise Conflict(Code.OFFERED_ELSEWHERE, "This conversation is being offered to someone else right now.")
        raise Conflict(Code.ALREADY_CLAIMED, "Someone else has already taken this conversation.")
    await _announce_claim(ctx, p, conversation_id, conv.offered_to)
    claimed = await health.get(ctx, conversation_id)
    assert claimed is not None
    return claimed


async def _announce_claim(ctx: Context, p: Principal, conversation_id: str, offered_to: int | None) -> None:
    ctx.metrics.claims.inc()
    await audit.record(ctx, p.id, "claimed", conversation_id)
    await conversations.publish_state(ctx, conversation_id, "active", p.display_name)
    await ctx.bus.publish(events.staff_channel(p.id), events.encode({"type": "claimed", "conversation_id": conversation_id}))
    if offered_to is not None and offered_to != p.id:
        withdrawn = {"type": "offer_withdrawn", "conversation_id": conversation_id, "reason": "taken"}
        await ctx.bus.publish(events.staff_channel(offered_to), events.encode(withdrawn))
    await ctx.bus.publish(events.QUEUE, events.encode({"type": "queue_changed"}))
    logs.event("conversation_claimed", conversation_id=conversation_id, staff_id=p.id)


async def accept(ctx: Context, p: Principal, conversation_id: str) -> ConversationRecord:
    """Take a conversation offered to this person: a claim that the offer makes theirs."""
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None:
        raise NotFound()
    access.require(p, Action.ACCEPT)
    if not access.allowed(p, Action.ACCEPT, conv) or conv.state != "queued":
        raise Conflict(Code.OFFER_ENDED, "This offer has ended; the conversation is back in the queue or taken.")
    if not await queue_store.claim(ctx.engine, conversation_id, p.id, None, ctx.clock()):
        ctx.metrics.claim_conflicts.inc()
        raise Conflict(Code.OFFER_ENDED, "This offer has ended; the conversation is back in the queue or taken.")
    await _announce_claim(ctx, p, conversation_id, None)
    logs.event("offer_accepted", conversation_id=conversation_id, staff_id=p.id)
    claimed = await health.get(ctx, conversation_id)
    assert claimed is not None
    return claimed


async def decline(ctx: Context, p: Principal, conversation_id: str) -> None:
    """Say no to an offer: the conversation stays in the queue and is offered to the next person."""
    access.require(p, Action.DECLINE)
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None:
        raise NotFound()
    if not access.allowed(p, Action.DECLINE, conv):
        raise Conflict(Code.OFFER_ENDED, "This offer has already ended.")
    if not await queue_store.end_offer(ctx.engine, conversation_id, p.id, "declined", ctx.clock()):
        raise Conflict(Code.OFFER_ENDED, "This offer has already ended.")
    event = {"type": "offer_withdrawn", "conversation_id": conversation_id, "reason": "declined"}
    await ctx.bus.publish(events.staff_channel(p.id), events.encode(event))
    await ctx.bus.publish(events.QUEUE, events.encode({"type": "queue_changed"}))
    logs.event("offer_declined", conversation_id=conversation_id, staff_id=p.id)
