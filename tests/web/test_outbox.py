"""The per-socket outbox over a real Starlette WebSocket on an in-memory ASGI channel whose client can stop
reading: frames in order with the welcome first, a client that stops reading closed with 1013 once its queue
is full, and a reader that waits for room until the writer has caught up."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.websockets import WebSocket

from chat.metrics import Metrics
from chat.web.outbox import CLOSE_TRY_AGAIN, Outbox


class Channel:
    """The client side of an ASGI WebSocket: connects, never sends, and reads only while ``reading`` is set."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.reading = asyncio.Event()
        self.reading.set()
        self.changed = asyncio.Event()  # set on every message sent
        self._connected = False

    async def receive(self) -> dict[str, Any]:
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        await self.reading.wait()
        self.sent.append(message)
        self.changed.set()

    def texts(self) -> list[Any]:
        return [json.loads(m["text"]) for m in self.sent if m["type"] == "websocket.send"]


@contextlib.asynccontextmanager
async def outbox(size: int) -> AsyncIterator[tuple[Outbox, Channel]]:
    channel = Channel()
    ws = WebSocket(
        {"type": "websocket", "path": "/ws/visitor", "headers": [], "query_string": b""}, channel.receive, channel.send
    )
    await ws.accept()
    box = Outbox(ws, SimpleNamespace(metrics=Metrics()), size)  # type: ignore[arg-type]  # frames need no more
    writer = asyncio.create_task(box.run())
    try:
        yield box, channel
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


async def until(channel: Channel, condition: Any) -> None:
    async with asyncio.timeout(2):
        while not condition():
            channel.changed.clear()
            await channel.changed.wait()


async def test_held_frames_go_out_after_the_welcome_in_order() -> None:
    async with outbox(16) as (box, channel):
        box.hold()
        box.frame({"type": "a"})
        box.frame({"type": "b"})
        await asyncio.sleep(0.05)
        assert channel.texts() == []  # nothing before the welcome
        box.release_with({"type": "welcome"})
        await until(channel, lambda: len(channel.texts()) == 3)
        assert [f["type"] for f in channel.texts()] == ["welcome", "a", "b"]


async def test_a_client_that_stops_reading_is_closed_with_1013_once_its_queue_is_full() -> None:
    async with outbox(8) as (box, channel):
        channel.reading.clear()
        box.frame({"type": "n", "i": 0})
        await asyncio.sleep(0.02)  # the writer has taken it and is stuck sending it
        for i in range(1, 20):
            box.frame({"type": "n", "i": i})
        channel.reading.set()
        await until(channel, lambda: any(m["type"] == "websocket.close" for m in channel.sent))
        close = next(m for m in channel.sent if m["type"] == "websocket.close")
        assert close["code"] == CLOSE_TRY_AGAIN
        assert box.closed_with == CLOSE_TRY_AGAIN
        assert [f["i"] for f in channel.texts()] == [0]  # the one on its way; the rest were dropped with the close


@pytest.mark.parametrize("queued", [6, 9])
async def test_the_reader_waits_for_room_until_the_writer_catches_up(queued: int) -> None:
    async with outbox(10) as (box, channel):
        channel.reading.clear()
        for i in range(queued + 1):  # one is taken by the writer, stuck sending it
            box.frame({"type": "n", "i": i})
        await asyncio.sleep(0.02)
        waiting = asyncio.create_task(box.room())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        channel.reading.set()
        async with asyncio.timeout(2):
            await waiting
        await until(channel, lambda: len(channel.texts()) == queued + 1)
