"""The dispatcher: ends offers that ran out, offers waiting conversations in "offer" teams, and moves
waiting conversations on when their team has nobody online or has kept them waiting too long.

One runs on every instance, after queue or presence changes and at least every ``interval_s``; a burst of
changes (many starts at once) is one round, and rounds are at least ``interval_s`` apart, so the waiting
list is not read again for every start. Each
step is a conditional UPDATE in the store, so instances racing over one conversation cannot both act:
one offer at a time, one move. A declined or timed-out offer puts the conversation back in the queue,
where it stays visible and is offered to the next person; nothing is ever dropped.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import Any

from chat import logs
from chat.service import events, health, presence, routing, visitors
from chat.service.context import Context
from chat.service.summaries import summary
from chat.service.woken import Woken
from chat.store import conversations as conv_store
from chat.store import queue as queue_store
from chat.store.conversations import ConversationRecord
from chat.store.queue import Waiting
from triage.region import Pickup
from triage.router import Counsellor, choose_counsellor, overflow

# A counsellor who declined (or let run out) an offer of a conversation is not offered it again for this
# long, unless nobody else is there.
DECLINE_MEMORY = timedelta(minutes=10)


class Dispatcher(Woken):
    channel = events.QUEUE
    name = "dispatcher"

    def __init__(self, ctx: Context, interval_s: float = 1.0) -> None:
        super().__init__(ctx)
        self.interval_s = interval_s

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last, took = -math.inf, 0.0
        while True:
            await self._woken(self.interval_s)  # and at least once a round: offers run out by the clock
            # A long round (thousands waiting) spaces the next ones so they take at most a fifth of the time.
            wait = last + max(self.interval_s, took * 5) - loop.time()
            if wait > 0:  # the first change after a quiet round is acted on at once; a burst waits for one round
                await asyncio.sleep(wait)
                self._dirty.clear()
            last = loop.time()
            try:
                await tick(self.ctx)
                took = loop.time() - last
            except Exception as err:  # the database or bus may be briefly away: the next round retries
                logs.event("dispatch_failed", error=type(err).__name__)
                await asyncio.sleep(self.interval_s)


async def tick(ctx: Context) -> None:
    now = ctx.clock()
    changed = await _expire_offers(ctx, now)
    waiting = await queue_store.waiting_light(ctx.engine, gone_before=visitors.gone_before(ctx, now))
    if not waiting:
        if changed:
            await _queue_changed(ctx)
        return
    online = await presence.counsellors(ctx)
    changed = await _withdraw_from_absent(ctx, waiting, online, now) or changed
    changed = await _overflow(ctx, waiting, online, now) or changed
    if changed:
        waiting = await queue_store.waiting_light(ctx.engine, gone_before=visitors.gone_before(ctx, now))
    changed = await _offer(ctx, waiting, online, now) or changed
    if changed:
        await _queue_changed(ctx)


async def _queue_changed(ctx: Context) -> None:
    await ctx.bus.publish(events.QUEUE, events.encode({"type": "queue_changed"}))


async def _expire_offers(ctx: Context, now: datetime) -> bool:
    changed = False
    for cid, staff_id in await queue_store.expired_offers(ctx.engine, now):
        if await queue_store.end_offer(ctx.engine, cid, staff_id, "expired", now):
            changed = True
            event = {"type": "offer_withdrawn", "conversation_id": cid, "reason": "expired"}
            await ctx.bus.publish(events.staff_channel(staff_id), events.encode(event))
            logs.event("offer_expired", conversation_id=cid, staff_id=staff_id)
    return changed


async def _withdraw_from_absent(
    ctx: Context, waiting: list[Waiting], online: list[Counsellor], now: datetime
) -> bool:
    """An offer to someone who went offline (closed the console, lost the network) ends at once instead
    of holding the conversation until it runs out."""
    here = {o.staff_id for o in online}
    changed = False
    for conv in waiting:
        if conv.offered_to is not None and conv.offered_to not in here:
            if await queue_store.end_offer(ctx.engine, conv.id, conv.offered_to, "withdrawn", now):
                changed = True
                logs.event("offer_withdrawn", conversation_id=conv.id, staff_id=conv.offered_to, reason="offline")
    return changed


async def _overflow(ctx: Context, waiting: list[Waiting], online: list[Counsellor], now: datetime) -> bool:
    changed = False
    for team_id in dict.fromkeys(c.team for c in waiting):
        line = [c for c in waiting if c.team == team_id and c.offered_to is None]
        if not line:
            continue
        oldest = min(c.queued_at or c.created_at for c in line)
        verdict = overflow(ctx.region, team_id, now, online=online, oldest_wait_s=(now - oldest).total_seconds())
        if verdict is None:
            continue
        to_team, reason = verdict
        for conv in line:
            record = await conv_store.get(ctx.engine, conv.id)  # the whole row: its sealed reasons
            if record is None:
                continue
            reasons = await health.with_reasons(ctx, record, routing.reason_json(reason))
            if await queue_store.move(ctx.engine, conv.id, team_id, to_team, reasons):
                changed = True
                logs.event("conversation_overflowed", conversation_id=conv.id, team=team_id, to_team=to_team)
    return changed


async def _offer(ctx: Context, waiting: list[Waiting], online: list[Counsellor], now: datetime) -> bool:
    """Offer each waiting conversation of an offer team, most urgent first, to one person at a time;
    nobody gets a second offer while one is open."""
    busy = {c.offered_to for c in waiting if c.offered_to is not None}
    # A closed team's queue waits for it to open: nobody is offered work at night because they are logged in.
    open_teams = {t.id for t in ctx.region.teams if routing.team_open(ctx.region, t.id, now)}
    candidates = [c for c in waiting if c.offered_to is None and c.team in open_teams and _offers(ctx, c.team)]
    if not candidates or not online:
        return False
    declined = await queue_store.declined_by(ctx.engine, [c.id for c in candidates], now - DECLINE_MEMORY)
    changed = False
    load = {o.staff_id: o.open_chats for o in online}
    for conv in candidates:
        team = ctx.region.team(conv.team)
        assert team is not None
        people = [
            Counsellor(o.staff_id, o.teams, load[o.staff_id], o.available, o.capacity) for o in online
        ]
        exclude = frozenset(busy | declined.get(conv.id, set()))
        staff_id = choose_counsellor(ctx.region, conv.team, people, exclude)
        if staff_id is None and declined.get(conv.id):
            # Everyone has said no recently: ask again rather than let it wait unseen.
            staff_id = choose_counsellor(ctx.region, conv.team, people, frozenset(busy))
        if staff_id is None:
            continue
        expires = now + timedelta(seconds=team.offer_timeout_s)
        if await queue_store.offer(ctx.engine, conv.id, conv.team, staff_id, now, expires):
            busy.add(staff_id)
            changed = True
            await announce_offer(ctx, conv, staff_id, expires)
    return changed


def _offers(ctx: Context, team_id: str) -> bool:
    team = ctx.region.team(team_id)
    return team is not None and team.pickup == Pickup.OFFER


async def announce_offer(ctx: Context, conv: ConversationRecord | Waiting, staff_id: int, expires: datetime) -> None:
    # Without the conversation's summary (its reasons, risk and results are health data): the instance that
    # serves the person's socket adds it (``offer_frame``).
    event = {"type": "offer", "conversation_id": conv.id, "expires_at": routing.iso(expires)}
    await ctx.bus.publish(events.staff_channel(staff_id), events.encode(event))
    logs.event("offer_made", conversation_id=conv.id, staff_id=staff_id)


async def offer_frame(ctx: Context, event: dict[str, Any]) -> dict[str, Any] | None:
    """The ``offer`` frame for a staff socket: the event with the conversation's summary, opened here."""
    conv = await health.get(ctx, event["conversation_id"])
    return {**event, "conversation": summary(conv)} if conv is not None else None
