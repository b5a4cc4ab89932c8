"""The queue watcher: one per instance, it reads the queue once per change and updates local sockets.

Every waiting visitor on this instance gets its new place in line; every staff socket its queue. One
query per change per instance, however many sockets; changes arriving during a read are coalesced.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from chat import logs
from chat.service import events, queue
from chat.service.context import Context
from chat.service.woken import Woken


class Listener(Protocol):
    def on_snapshot(self, snapshot: queue.Snapshot) -> None: ...


class QueueWatcher(Woken):
    channel = events.QUEUE
    name = "queue-watcher"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.listeners: set[Listener] = set()

    async def _run(self) -> None:
        while True:
            await self._woken()
            if not self.listeners:
                continue
            try:
                snap = await queue.snapshot(self.ctx)
            except Exception as err:  # the database may be briefly away; the next change retries
                logs.event("queue_watch_failed", error=type(err).__name__)
                await asyncio.sleep(1)
                self._dirty.set()
                continue
            for listener in list(self.listeners):
                listener.on_snapshot(snap)
