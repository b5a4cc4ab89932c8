"""The queue watcher: one per instance, it reads the queue after changes and updates local sockets.

Every waiting visitor on this instance whose place changed gets its new place in line; every staff socket
its queue. One read per instance, however many sockets, and at most one every ``min_interval_s``: a burst
of changes (an evening rush of starts, a reconnect storm) is coalesced into one read a second, so nobody is
told their place more than once a second and the cost does not grow with the rate of changes. The first
change after a quiet second is read at once. Health data is opened only for conversations new to the queue
or whose sealed fields changed since the last read.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol

from chat import logs
from chat.service import events, queue
from chat.service.context import Context
from chat.service.woken import Woken
from chat.store.conversations import ConversationRecord


class Listener(Protocol):
    def on_snapshot(self, snapshot: queue.Snapshot) -> None: ...


class QueueWatcher(Woken):
    channel = events.QUEUE
    name = "queue-watcher"

    def __init__(self, ctx: Context, min_interval_s: float = 1.0) -> None:
        super().__init__(ctx)
        self.listeners: set[Listener] = set()
        self.min_interval_s = min_interval_s
        self._opened: dict[str, ConversationRecord] = {}  # the last snapshot's records, health opened

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = -math.inf
        while True:
            await self._woken()
            wait = last + self.min_interval_s - loop.time()
            if wait > 0:  # the changes that arrive meanwhile are read with this one
                await asyncio.sleep(wait)
                self._dirty.clear()
            if not self.listeners:
                self._opened.clear()
                continue
            last = loop.time()
            try:
                snap = await queue.snapshot(self.ctx, self._opened)
            except Exception as err:  # the database may be briefly away; the next change retries
                logs.event("queue_watch_failed", error=type(err).__name__)
                await asyncio.sleep(1)
                self._dirty.set()
                continue
            for listener in list(self.listeners):
                listener.on_snapshot(snap)
