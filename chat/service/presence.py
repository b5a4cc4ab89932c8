"""Presence: which staff members are online now, in which teams, and whether they take new conversations.

Each instance writes one short-lived entry per staff member it has a socket for (``staff_id:instance``)
through the bus's ephemeral store — Redis with expiry across instances, memory in the single-process
default — and refreshes it every ``REFRESH_S``. An instance that dies stops refreshing, so its entries
expire within ``TTL_S``. Load (open conversations) is read from the store, where it is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from chat import logs
from chat.service import events
from chat.service.context import Context
from chat.store import queue as queue_store
from chat.store import staff as staff_store
from chat.wire import Presence as PresenceEvent
from chat.wire import PresenceChanged
from triage.router import Counsellor

NAMESPACE = "presence"
TTL_S = 30
REFRESH_S = 10


class Availability(StrEnum):
    AVAILABLE = "available"  # offered and shown conversations
    BUSY = "busy"  # online, keeps their conversations, offered nothing new
    AWAY = "away"


_RANK = {Availability.AVAILABLE: 2, Availability.BUSY: 1, Availability.AWAY: 0}


@dataclass(frozen=True)
class Online:
    staff_id: int
    display_name: str
    teams: tuple[str, ...]
    status: Availability


async def online(ctx: Context) -> list[Online]:
    """Everyone online on any instance; one person on several devices counts once, at their most
    available status."""
    try:
        entries = await ctx.bus.scan_ephemeral(NAMESPACE)
    except (ConnectionError, TimeoutError, OSError):
        # The bus is away (a Redis restart): who is online cannot be known for a moment. Answer "nobody known"
        # rather than fail the caller — a young person starting a chat must still get into the queue, which
        # lives in the database; /readyz and the logs say the bus is down.
        logs.event("presence_unknown", level=logging.WARNING, reason="bus_unreachable")
        return []
    best: dict[int, Online] = {}
    for raw in entries.values():
        try:
            d = json.loads(raw)
            o = Online(int(d["id"]), str(d["name"]), tuple(d["teams"]), Availability(d["status"]))
        except (ValueError, KeyError, TypeError):
            continue
        if o.staff_id not in best or _RANK[o.status] > _RANK[best[o.staff_id].status]:
            best[o.staff_id] = o
    return sorted(best.values(), key=lambda o: o.staff_id)


async def counsellors(ctx: Context) -> list[Counsellor]:
    """Online staff as routing sees them: teams, open conversations, available or not."""
    people = await online(ctx)
    if not people:
        return []
    load = await queue_store.loads(ctx.engine)
    return [
        Counsellor(staff_id=o.staff_id, teams=frozenset(o.teams), open_chats=load.get(o.staff_id, 0),
                   available=o.status == Availability.AVAILABLE)
        for o in people
    ]


async def set_availability(ctx: Context, staff_id: int, status: Availability) -> None:
    """A person's availability, kept in the store (a reload or another device keeps it) and told to all
    their sockets on every instance, whose trackers then write it to presence."""
    await staff_store.set_availability(ctx.engine, staff_id, str(status))
    await events.to_staff(ctx, staff_id, PresenceEvent(str(status)))


class Tracker:
    """This instance's staff sockets and their statuses; writes and refreshes the shared entries."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.instance = uuid.uuid4().hex[:12]
        self._sockets: dict[int, dict[int, Availability]] = defaultdict(dict)
        self._people: dict[int, tuple[str, tuple[str, ...]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._refresh(), name="presence-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for staff_id in list(self._sockets):
            with contextlib.suppress(Exception):
                await self.ctx.bus.drop_ephemeral(NAMESPACE, self._key(staff_id))

    async def connect(
        self, socket_id: int, staff_id: int, name: str, teams: tuple[str, ...], status: Availability
    ) -> None:
        self._people[staff_id] = (name, teams)
        self._sockets[staff_id][socket_id] = status
        await self._write(staff_id)

    async def set_status(self, socket_id: int, staff_id: int, status: Availability) -> None:
        """A person's status is the same on all their sockets on this instance: the last one set wins."""
        sockets = self._sockets.get(staff_id)
        if not sockets or socket_id not in sockets:
            return
        for sid in sockets:
            sockets[sid] = status
        await self._write(staff_id)

    async def disconnect(self, socket_id: int, staff_id: int) -> None:
        sockets = self._sockets.get(staff_id)
        if sockets is None:
            return
        sockets.pop(socket_id, None)
        if sockets:
            return
        del self._sockets[staff_id]
        self._people.pop(staff_id, None)
        with contextlib.suppress(Exception):
            await self.ctx.bus.drop_ephemeral(NAMESPACE, self._key(staff_id))
        await self._changed()

    def status(self, staff_id: int) -> Availability | None:
        sockets = self._sockets.get(staff_id)
        return next(iter(sockets.values())) if sockets else None

    def _key(self, staff_id: int) -> str:
        return f"{staff_id}:{self.instance}"

    async def _write(self, staff_id: int) -> None:
        sockets = self._sockets.get(staff_id)
        if not sockets:
            return
        name, teams = self._people[staff_id]
        status = next(iter(sockets.values()))
        value = json.dumps({"id": staff_id, "name": name, "teams": list(teams), "status": str(status)}).encode()
        try:
            await self.ctx.bus.put_ephemeral(NAMESPACE, self._key(staff_id), value, TTL_S)
        except (ConnectionError, TimeoutError) as err:  # the bus is away: the refresher writes it again
            logs.event("presence_write_failed", error=type(err).__name__)
            return
        await self._changed()

    async def _changed(self) -> None:
        # Who can take conversations changed: places in line, offers and overflow are worth a new look.
        await events.publish(self.ctx, events.QUEUE, PresenceChanged())

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            for staff_id in list(self._sockets):
                try:
                    name, teams = self._people[staff_id]
                    status = self.status(staff_id) or Availability.AWAY
                    value = json.dumps({"id": staff_id, "name": name, "teams": list(teams), "status": str(status)})
                    await self.ctx.bus.put_ephemeral(NAMESPACE, self._key(staff_id), value.encode(), TTL_S)
                except Exception as err:  # the bus may be briefly away; the next round writes again
                    logs.event("presence_refresh_failed", error=type(err).__name__)
                    break
