"""Visitor presence: whether the young person has the page open now (a socket on any instance), since
when not, and the queue's ghosts: a waiting visitor away longer than ``MINIMARIA_VISITOR_GRACE_S`` is
gone, out of the line (not offered, not counted in places or waits, not shown to staff), until they come
back, when their unchanged ``queued_at`` puts them back in their place. One who wrote something (left a
message out of hours, say) stays in the line, shown as away: there is something to answer.

The truth has two halves. Each instance writes a short-lived entry per conversation it has a visitor
socket for (``conversation_id:instance``) through the bus's ephemeral store, like staff presence
(presence.py), and refreshes it; the conversation row holds ``visitor_away_since`` (NULL while connected),
which staff see and the queue filters on. A socket's hello clears the mark and its last close sets it at
once; a sweep on every instance reconciles the two (an instance that died leaves entries that expire, so
its visitors are marked away within ``TTL_S``) and tells everyone when a conversation crosses the grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from chat import logs
from chat.service import events
from chat.service.context import Context
from chat.service.summaries import iso
from chat.store import queue as queue_store

NAMESPACE = "visitors"
TTL_S = 30
REFRESH_S = 10


def gone_before(ctx: Context, now: datetime | None = None) -> datetime:
    """A waiting visitor away since before this is gone from the queue."""
    return (now or ctx.clock()) - timedelta(seconds=ctx.settings.visitor_grace_s)


async def _told(ctx: Context, conversation_id: str, away_since: datetime | None) -> None:
    """Staff holding the conversation see it change; every queue shows it."""
    event = {"type": "visitor_presence", "conversation_id": conversation_id, "connected": away_since is None,
             "away_since": iso(away_since)}
    await ctx.bus.publish(events.conversation_channel(conversation_id), events.encode(event))
    await ctx.bus.publish(events.QUEUE, events.encode({"type": "queue_changed"}))


class VisitorTracker:
    """This instance's visitor sockets per conversation; writes, refreshes and drops the shared entries,
    and runs the sweep."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.instance = uuid.uuid4().hex[:12]
        self._sockets: dict[str, set[int]] = defaultdict(set)
        self._gone: set[str] = set()  # as this instance last saw them: a change is worth a queue update
        self._task: asyncio.Task[None] | None = None
        # Conversations whose last socket here closed, to be marked away unless a socket is open elsewhere.
        # Checked in batches (one scan of every instance's entries per batch, not one per closed socket):
        # a reconnect storm closes thousands at once.
        self._leaving: set[str] = set()
        self._left = asyncio.Event()
        self._leaver: asyncio.Task[None] | None = None

    @property
    def sweep_s(self) -> float:
        """Often enough that a ghost leaves the queue within a fraction of the grace after it ends."""
        return max(0.2, min(5.0, self.ctx.settings.visitor_grace_s / 4))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="visitor-presence")
        self._leaver = asyncio.create_task(self._leave_loop(), name="visitor-departures")

    async def stop(self) -> None:
        for task in (self._task, self._leaver):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):  # the last departures, told before this instance goes
            await self._mark_left()
        for cid in list(self._sockets):
            with contextlib.suppress(Exception):
                await self.ctx.bus.drop_ephemeral(NAMESPACE, self._key(cid))

    async def connect(self, socket_id: int, conversation_id: str) -> None:
        self._sockets[conversation_id].add(socket_id)
        try:
            await self.ctx.bus.put_ephemeral(NAMESPACE, self._key(conversation_id), b"1", TTL_S)
        except (ConnectionError, TimeoutError) as err:  # the bus is away: the sweep writes it again later
            logs.event("presence_write_failed", error=type(err).__name__)
        if await queue_store.visitor_back(self.ctx.engine, conversation_id):
            self._gone.discard(conversation_id)
            logs.event("visitor_back", conversation_id=conversation_id)
            await _told(self.ctx, conversation_id, None)

    async def disconnect(self, socket_id: int, conversation_id: str) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is None:
            return
        sockets.discard(socket_id)
        if sockets:
            return
        del self._sockets[conversation_id]
        try:
            await self.ctx.bus.drop_ephemeral(NAMESPACE, self._key(conversation_id))
        except (ConnectionError, TimeoutError) as err:
            # The bus is away: whether the visitor is on another instance cannot be known. Do not mark them
            # away; the entry expires and the sweep decides once the bus is back.
            logs.event("presence_write_failed", error=type(err).__name__)
            return
        self._leaving.add(conversation_id)
        self._left.set()

    async def _leave_loop(self) -> None:
        while True:
            await self._left.wait()
            self._left.clear()
            try:
                await self._mark_left()
            except Exception as err:  # the database or bus may be briefly away: the sweep reconciles later
                logs.event("visitor_sweep_failed", error=type(err).__name__)

    async def _mark_left(self) -> None:
        """Mark away the conversations whose last socket here closed, except those with a socket open on
        another instance (a reconnect that landed elsewhere first) or here again."""
        if not self._leaving:
            return
        leaving, self._leaving = self._leaving, set()
        present = await self._present()
        gone = sorted(cid for cid in leaving if cid not in present and cid not in self._sockets)
        now = self.ctx.clock()
        for cid in await queue_store.visitor_away(self.ctx.engine, gone, now):
            await _told(self.ctx, cid, now)

    def _key(self, conversation_id: str) -> str:
        return f"{conversation_id}:{self.instance}"

    async def _present(self) -> set[str]:
        return {key.rsplit(":", 1)[0] for key in await self.ctx.bus.scan_ephemeral(NAMESPACE)}

    async def _run(self) -> None:
        refreshed = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.sweep_s)
            try:
                if loop.time() - refreshed >= REFRESH_S:
                    for cid in list(self._sockets):
                        await self.ctx.bus.put_ephemeral(NAMESPACE, self._key(cid), b"1", TTL_S)
                    refreshed = loop.time()
                await self.sweep()
            except Exception as err:  # the database or bus may be briefly away: the next round tries again
                logs.event("visitor_sweep_failed", error=type(err).__name__)

    async def sweep(self) -> None:
        """Reconcile the away marks with the sockets open on every instance, and tell everyone when waiting
        conversations became gone (their offers are withdrawn) or came back."""
        now = self.ctx.clock()
        hint = await self._present() | set(self._sockets)
        marks = await queue_store.presence_marks(self.ctx.engine, gone_before(self.ctx, now), sorted(hint))
        # Read after the marks: a hello between the two reads is then seen as present, never as lost.
        present = await self._present() | set(self._sockets)
        lost = [cid for cid, away, _, _ in marks if away is None and cid not in present]
        for cid in await queue_store.visitor_away(self.ctx.engine, lost, now):
            logs.event("visitor_lost", conversation_id=cid)  # its instance stopped without saying goodbye
            await _told(self.ctx, cid, now)
        found = [cid for cid, away, _, _ in marks if away is not None and cid in present]
        for cid in await queue_store.visitors_back(self.ctx.engine, found):
            await _told(self.ctx, cid, None)
        gone = {cid for cid, _, _, is_gone in marks if is_gone and cid not in present}
        for cid, _, offered_to, _ in marks:
            if cid not in gone or offered_to is None:
                continue
            if await queue_store.end_offer(self.ctx.engine, cid, offered_to, "withdrawn", now):
                event = {"type": "offer_withdrawn", "conversation_id": cid, "reason": "gone"}
                await self.ctx.bus.publish(events.staff_channel(offered_to), events.encode(event))
        if gone != self._gone:
            for cid in gone - self._gone:
                logs.event("visitor_gone", conversation_id=cid)
            self._gone = gone
            await self.ctx.bus.publish(events.QUEUE, events.encode({"type": "queue_changed"}))
