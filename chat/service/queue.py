"""The queue: what staff may take, a visitor's place in line, the atomic claim."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from chat import logs
from chat.errors import Code, Conflict, Forbidden, NotFound
from chat.service import conversations, events
from chat.service.access import Principal, may_claim, queue_teams
from chat.service.context import Context
from chat.store import conversations as store
from chat.store.conversations import ConversationRecord

DEFAULT_WAIT_PER_PLACE_S = 180


@dataclass(frozen=True)
class Place:
    position: int
    estimated_wait_s: int


@dataclass(frozen=True)
class Snapshot:
    """All waiting conversations, read once and shared by every socket of this instance."""

    waiting: list[ConversationRecord]
    wait_per_place_s: int

    def place(self, conversation_id: str) -> Place | None:
        team_line = None
        for conv in self.waiting:
            if conv.id == conversation_id:
                team_line = [c.id for c in self.waiting if c.team == conv.team]
                break
        if team_line is None:
            return None
        position = team_line.index(conversation_id) + 1
        return Place(position, position * self.wait_per_place_s)

    def for_staff(self, p: Principal) -> list[ConversationRecord]:
        teams = queue_teams(p)
        return [c for c in self.waiting if teams is None or c.team in teams]


async def snapshot(ctx: Context) -> Snapshot:
    waiting = await store.waiting(ctx.engine)
    waits = await store.recent_waits(ctx.engine)
    per_place = int(statistics.median(waits)) if len(waits) >= 3 else DEFAULT_WAIT_PER_PLACE_S
    return Snapshot(waiting, max(30, per_place))


async def staff_queue(ctx: Context, p: Principal) -> list[ConversationRecord]:
    return await store.waiting(ctx.engine, queue_teams(p))


async def claim(ctx: Context, p: Principal, conversation_id: str) -> ConversationRecord:
    """Exactly one of any number of racing claims wins; the others get already_claimed."""
    conv = await store.get(ctx.engine, conversation_id)
    if conv is None:
        raise NotFound()
    if not may_claim(p, conv):
        raise Forbidden(Code.FORBIDDEN, "This conversation is in another team's queue.")
    won = await store.claim(ctx.engine, conversation_id, p.id, queue_teams(p), ctx.clock())
    if not won:
        if conv.state == "closed":
            raise Conflict(Code.CONVERSATION_CLOSED, "The conversation is closed.")
        raise Conflict(Code.ALREADY_CLAIMED, "Someone else has already taken this conversation.")
    await conversations.publish_state(ctx, conversation_id, "active", p.display_name)
    await ctx.bus.publish(events.staff_channel(p.id), events.encode({"type": "claimed", "conversation_id": conversation_id}))
    await ctx.bus.publish(events.QUEUE, events.encode({"type": "queue_changed"}))
    logs.event("conversation_claimed", conversation_id=conversation_id, staff_id=p.id)
    claimed = await store.get(ctx.engine, conversation_id)
    assert claimed is not None
    return claimed
