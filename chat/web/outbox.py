"""The per-socket outbox: one writer task, frames in order, conversation messages strictly by seq.

Everything a socket sends goes through here. Bus events for a conversation are delivered only when
their seq follows the last one sent; a gap (events published out of order by two instances, or missed
while Redis reconnected) is filled from the store first, and anything already sent is skipped. So a
client sees each message once, in order, whatever the bus did. A client too slow to keep up with its
queue is closed (1013) and resumes from its last seq when it reconnects.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from chat import logs
from chat.service import conversations
from chat.service.context import Context
from chat.service.rendering import Rendered
from chat.wire import Ack, Sender, Wire, dumps

CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403  # authenticated, but the access table gives this person no staff socket
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_GONE = 4410  # the conversation was deleted under the retention rules: reconnecting cannot help

Item = tuple[str, Any]
Hook = Callable[[dict[str, Any] | None, str], Awaitable[bool]]
Observer = Callable[[str, dict[str, Any] | None], None]


class Outbox:
    def __init__(self, ws: WebSocket, ctx: Context, size: int) -> None:
        self.ws = ws
        self.ctx = ctx
        self.last_seq: dict[str, int] = {}
        self.closed_with: int | None = None
        # A deque and two futures made only while someone waits, rather than an asyncio.Queue and two Events
        # (four more deques): an idle socket holds a few hundred bytes here instead of several KiB.
        self._items: collections.deque[Item] = collections.deque()
        self._size = size
        self._overflowed = False
        self._held = False
        self._wake: asyncio.Future[None] | None = None  # the writer, waiting for an item (or a release)
        self._first: list[Wire] = []
        self._done = False
        self._room: asyncio.Future[None] | None = None  # the reader, waiting for room
        # Called for bus events that are not conversation frames (queue changes, staff signals);
        # returns True when it handled the event.
        self.hook: Hook | None = None
        # Told of every bus event as it arrives, before it is queued (what the socket knows must not lag
        # behind a frame the reader handles meanwhile): service/live.py's StaffSession.observe.
        self.observer: Observer | None = None
        self.own_side: str | None = None
        # (conversation_id, client_msg_id) this socket sent and has not acked yet: if its own message comes back
        # (from the bus or a catch-up) before the ack was queued, the ack goes out first, since the message is
        # stored. Keyed by conversation too: a client_msg_id is unique only within its conversation.
        # Each with when its frame was received (monotonic): the ack latency is measured when the ack is sent.
        self.unacked: dict[tuple[str, str], float] = {}
        # Acks queued and not yet sent; and acks sent whose message has not come by yet. The socket that sent
        # a message gets no msg frame of it (no echo): its ack carries the seq and the time, which is all the
        # page needs, and the message, when it comes by in seq order, is passed over (after the ack, if that
        # is still queued: an ack is never sent after a later message). Other sockets of the same person
        # (another tab) get the msg frame as usual.
        self._acks: dict[tuple[str, str], tuple[Ack, float]] = {}
        self._acked: dict[tuple[str, str], int] = {}

    # Producers: never block, never raise.

    def frame(self, frame: Wire | dict[str, Any]) -> None:
        self._put(("frame", frame))

    def close(self, code: int) -> None:
        self._put(("close", code), force=True)

    def hold(self) -> None:
        """Queue but do not send, until ``release_with`` puts a frame in front of everything queued."""
        self._held = True

    def release(self) -> None:
        self._held = False
        self._poke()

    def release_with(self, frame: Wire) -> None:
        self._first.append(frame)
        self._held = False
        self._put(("noop", None))

    def ack(self, conversation_id: str, client_msg_id: str, seq: int, ts: str | None) -> None:
        """The message is stored (called right after its commit): its ack goes out next."""
        key = (conversation_id, client_msg_id)
        received = self.unacked.pop(key, None)
        if received is not None:
            self._acks[key] = (self._ack_frame(conversation_id, client_msg_id, seq, ts), received)
            self._put(("ack", key))

    def _ack_frame(self, conversation_id: str, client_msg_id: str, seq: int, ts: str | None) -> Ack:
        # Staff write in several conversations: their ack names which.
        return Ack(client_msg_id, seq, conversation_id if self.own_side == Sender.STAFF else None, ts)

    async def _send_ack(self, key: tuple[str, str]) -> None:
        queued = self._acks.pop(key, None)
        if queued is None:
            return  # already sent, in front of its message
        frame, received = queued
        last = self.last_seq.get(key[0])
        if last is not None and frame.seq > last:
            self._acked[key] = frame.seq  # its message is still to come by: pass it over then
            if len(self._acked) > 64:  # one whose conversation this socket stopped following never comes by
                self._acked = {k: q for k, q in self._acked.items() if q > self.last_seq.get(k[0], q)}
        await self.ws.send_text(dumps(frame))
        self.ctx.metrics.ack_latency.observe(time.monotonic() - received)

    async def _send_msg(self, m: Rendered) -> None:
        if m.client_msg_id is not None and m.sender == self.own_side:
            key = (m.conversation_id, m.client_msg_id)
            if self._acked.pop(key, None) is not None:
                return  # sent from this socket and acked: the ack stood for it
            if key in self._acks:  # acked, the ack still queued: it goes now, before anything later
                await self._send_ack(key)
                self._acked.pop(key, None)
                return
            if key in self.unacked:  # stored, not acked yet (it came by first): this is its ack
                received = self.unacked.pop(key)
                await self.ws.send_text(dumps(self._ack_frame(key[0], m.client_msg_id, m.seq, m.ts)))
                self.ctx.metrics.ack_latency.observe(time.monotonic() - received)
                return
        await self.ws.send_text(m.text)

    def catch_up(self, conversation_id: str) -> None:
        self._put(("catchup", conversation_id))

    def on_bus(self, channel: str, payload: bytes | None) -> None:
        """The bus handler for every channel this socket follows: decoded once per instance (the renderer
        keeps the last payload), shown to the observer, queued for the writer. Never raises: the bus calls
        every local handler in turn."""
        event = None
        if payload is not None:
            try:
                event = self.ctx.renderer.decode(payload)
            except ValueError:
                logs.event("bus_event_unreadable", level=40)
                payload = None  # as if missed: the writer catches up from the store
        if self.observer is not None:
            self.observer(channel, event)
        self._put(("bus", (channel, payload, event)))

    def _put(self, item: Item, force: bool = False) -> None:
        if self._overflowed:
            return
        if len(self._items) >= self._size:
            if not force:
                logs.event("ws_slow_consumer", close_code=CLOSE_TRY_AGAIN)
            self._overflowed = True
            self._items.clear()
            item = ("close", CLOSE_TRY_AGAIN)
        self._items.append(item)
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _make_room(self) -> None:
        if self._room is not None and not self._room.done():
            self._room.set_result(None)
        self._room = None

    async def room(self) -> None:
        """Backpressure for the reader: wait while this socket's own outbox is more than half full.

        A client that sends faster than it reads is slowed down by TCP (we stop reading its frames)
        instead of being closed; only bus events, which cannot wait, can overflow a stuck client.
        """
        if len(self._items) > self._size // 2 and not self._done:
            if self._room is None:
                self._room = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._room)

    # The writer.

    async def run(self) -> None:
        try:
            await self._write()
        except WebSocketDisconnect:
            # The client went away while a frame was on its way (a closed tab, a lost network): normal,
            # and nothing is lost — the store has every message and the client resumes from its seq.
            return
        except Exception as err:
            # Never leave a socket open that no longer sends (a silent drop): close it so the client
            # reconnects and resumes from its last seq, where the store has everything.
            logs.event("ws_writer_failed", level=40, error=type(err).__name__)
            await self._close(CLOSE_INTERNAL)
        finally:
            self._done = True
            self._make_room()  # a reader waiting for room must not wait for a writer that is gone

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._items or self._held:
                self._wake = loop.create_future()
                try:
                    await self._wake
                finally:
                    self._wake = None
            kind, value = self._items.popleft()
            if self._room is not None and len(self._items) <= self._size // 4:
                self._make_room()
            while self._first and self.ws.application_state == WebSocketState.CONNECTED:
                await self.ws.send_text(dumps(self._first.pop(0)))
            if kind == "close":
                await self._close(value)
                return
            if self.ws.application_state != WebSocketState.CONNECTED:
                return
            if kind == "frame":
                await self.ws.send_text(dumps(value))
            elif kind == "ack":
                await self._send_ack(value)
            elif kind == "catchup":
                await self._catch_up(value)
            elif kind == "bus":
                await self._bus(*value)

    async def _close(self, code: int) -> None:
        self._make_room()
        self.closed_with = code
        with contextlib.suppress(Exception):
            await self.ws.close(code)

    async def _bus(self, channel: str, payload: bytes | None, event: dict[str, Any] | None) -> None:
        if payload is None or event is None:
            # The bus may have missed events: catch up every conversation, let the hook refresh the rest.
            if channel.startswith("c:"):
                await self._catch_up(channel[2:])
            elif self.hook is not None:
                await self.hook(None, channel)
            return
        kind = event.get("type")
        if kind == "msg":
            await self._deliver(event)
        elif kind in {"typing", "read"}:
            if event.get("from") != self.own_side:
                await self.ws.send_text(payload.decode())
        elif kind == "state":
            await self.ws.send_text(payload.decode())
        elif self.hook is not None:
            await self.hook(event, channel)

    async def _deliver(self, event: dict[str, Any]) -> None:
        cid, seq = event["conversation_id"], event["seq"]
        last = self.last_seq.get(cid)
        if last is None or seq <= last:
            return  # not followed by this socket, or already sent
        if seq == last + 1:
            self.last_seq[cid] = seq
            await self._send_msg(await conversations.render(self.ctx, event))
        else:
            await self._catch_up(cid)

    async def _catch_up(self, conversation_id: str) -> None:
        last = self.last_seq.get(conversation_id)
        if last is None:
            return
        while True:
            batch = await conversations.rendered_after(self.ctx, conversation_id, last)
            for m in batch:
                await self._send_msg(m)
                last = m.seq
            self.last_seq[conversation_id] = last
            if len(batch) < 1000:
                return


class Throttle:
    """A token bucket per connection: ``rate`` frames a second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
