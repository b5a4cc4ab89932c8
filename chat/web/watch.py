"""The queue watcher: one per instance, it reads the queue after changes and updates local sockets.

Every waiting visitor on this instance whose place changed gets its new place in line; every staff socket
its queue. One read per instance, however many sockets, and at most one every ``min_interval_s``: a burst
of changes (an evening rush of starts, a reconnect storm) is coalesced into one read a second, so nobody is
told their place more than once a second and the cost does not grow with the rate of changes. The first
change after a quiet second is read at once. A read that takes long (thousands waiting) spaces the next
ones further (``BUSY_SHARE``), so the watcher never takes more than a fifth of the instance. Health data
is opened only for conversations new to the queue or whose sealed fields changed since the last read.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol

from chat import logs
from chat.service import events, queue
from chat.service.context import Context
from chat.service.woken import Woken

# At most this share of the instance's time goes to queue reads: after a read that took d seconds, the next
# waits at least d / BUSY_SHARE.
BUSY_SHARE = 0.2


class Listener(Protocol):
    def on_snapshot(self, snapshot: queue.Snapshot) -> None: ...


class QueueWatcher(Woken):
    channel = events.QUEUE
    name = "queue-watcher"

    def __init__(self, ctx: Context, min_interval_s: float = 1.0) -> None:
        super().__init__(ctx)
        self.listeners: set[Listener] = set()
        self.min_interval_s = min_interval_s
        self._opened: queue.Opened = {}  # the last snapshot's records, health opened

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last, took = -math.inf, 0.0
        while True:
            await self._woken()
            wait = last + max(self.min_interval_s, took / BUSY_SHARE) - loop.time()
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
            took = loop.time() - last
