"""The queue watcher: one per instance, it reads the queue once per change and updates local sockets.

Every waiting visitor on this instance gets its new place in line; every staff socket its queue. One
query per change per instance, however many sockets; changes arriving during a read are coalesced.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from chat import logs
from chat.service import events, queue
from chat.service.context import Context


class Listener(Protocol):
    def on_snapshot(self, snapshot: queue.Snapshot) -> None: ...


class QueueWatcher:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.listeners: set[Listener] = set()
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.ctx.bus.subscribe(events.QUEUE, self._on_event)
        self._task = asyncio.create_task(self._run(), name="queue-watcher")

    async def stop(self) -> None:
        await self.ctx.bus.unsubscribe(events.QUEUE, self._on_event)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_event(self, _channel: str, _payload: bytes | None) -> None:
        # A change or a possible gap: either way, read the queue again.
        self._dirty.set()

    def poke(self) -> None:
        self._dirty.set()

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
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
