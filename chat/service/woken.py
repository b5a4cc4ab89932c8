"""A per-instance background task woken by a bus channel: the shared start/stop of the dispatcher, the
queue watcher and the hours-overrides watcher. Events (and the bus's "you may have missed some" signal)
only mark the task dirty, so a burst of them is one round; what a round does is the subclass's."""

from __future__ import annotations

import asyncio
import contextlib

from chat.service.context import Context


class Woken:
    channel: str  # the bus channel whose events wake the task
    name: str  # the asyncio task's name

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.ctx.bus.subscribe(self.channel, self._on_event)
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await self.ctx.bus.unsubscribe(self.channel, self._on_event)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_event(self, _channel: str, _payload: bytes | None) -> None:
        self._dirty.set()  # a change, or a possible gap: either way, look again

    def poke(self) -> None:
        self._dirty.set()

    async def _woken(self, timeout_s: float | None = None) -> None:
        """Until the next event (or ``timeout_s``), then clear the mark: events from here on count again."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._dirty.wait()
        self._dirty.clear()

    async def _run(self) -> None:
        raise NotImplementedError
