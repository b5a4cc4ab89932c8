"""/ws/visitor and /ws/staff: hello, the read loop, fan-out, resume.

Each connection has a reader (this module: parse, throttle, call one service, answer) and a writer
(``outbox.py``). A refused frame gets an ``error`` frame and the connection stays open, except where the
close code table in docs/protocol.md says otherwise (auth failures, hello timeout, slow consumer).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from starlette.websockets import WebSocket

from chat import logs, wire
from chat.errors import ChatError, Code, Forbidden
from chat.service import access, accounts, admission, conversations, events, faults, health, live, presence, queue
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.service.live import Close, Reaction
from chat.service.presence import Availability, Tracker
from chat.service.visitors import VisitorTracker
from chat.web import frames
from chat.web.auth import COOKIE
from chat.web.frames import FrameError
from chat.web.outbox import (
    CLOSE_FORBIDDEN,
    CLOSE_GONE,
    CLOSE_HELLO_TIMEOUT,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    Outbox,
    Throttle,
)
from chat.web.watch import QueueWatcher
from chat.wire import Sender, State

# Refusals after which the socket is closed, and with what: the credentials or the conversation are gone.
CLOSING_CODES = {
    Code.UNAUTHORIZED: CLOSE_UNAUTHORIZED,
    Code.TOKEN_EXPIRED: CLOSE_UNAUTHORIZED,
    Code.SESSION_EXPIRED: CLOSE_UNAUTHORIZED,
    Code.DELETED_BY_RETENTION: CLOSE_GONE,
    Code.KEY_UNAVAILABLE: CLOSE_GONE,
}
CLOSE_CODES = {Close.UNAUTHORIZED: CLOSE_UNAUTHORIZED, Close.TRY_AGAIN: CLOSE_TRY_AGAIN}


class Connection:
    """What both sockets share: the read loop, throttling, error frames, subscriptions, the log line."""

    route = ""
    side = ""

    def __init__(self, ws: WebSocket, ctx: Context, watcher: QueueWatcher) -> None:
        self.ws, self.ctx, self.watcher = ws, ctx, watcher
        self.outbox = Outbox(ws, ctx, ctx.settings.send_queue_size)
        self.outbox.own_side = self.side
        self.outbox.hook = self.on_signal
        self.throttle = Throttle(ctx.settings.frames_per_second, ctx.settings.frame_burst)
        self.channels: list[str] = []
        self.greeted = False
        self.closing = False
        self.frames = 0
        self.received_at = 0.0  # when the frame being handled arrived (monotonic): the ack latency starts here
        self.log_fields: dict[str, Any] = {}

    async def run(self) -> None:
        try:
            await self._serve()
        finally:
            with contextlib.suppress(Exception):
                await self.departed()

    async def departed(self) -> None:
        """After the socket is done, whatever ended it: the person's presence on this instance is updated."""

    async def _serve(self) -> None:
        started = time.monotonic()
        sockets = self.ctx.metrics.open_sockets.labels(self.side)
        sockets.inc()
        writer = asyncio.create_task(self.outbox.run(), name="ws-writer")
        try:
            await self.read_loop()
        finally:
            sockets.dec()
            self.watcher.listeners.discard(self)
            await self.unfollow_all()
            if self.closing:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    async with asyncio.timeout(5):
                        await asyncio.shield(writer)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            logs.event(
                "ws_closed", route=self.route, frames=self.frames, close_code=self.outbox.closed_with,
                duration_ms=round((time.monotonic() - started) * 1000), **self.log_fields,
            )

    async def read_loop(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.ctx.settings.hello_timeout_s
        while not self.closing:
            try:
                if self.greeted:
                    message = await self.ws.receive()
                else:
                    async with asyncio.timeout_at(deadline):
                        message = await self.ws.receive()
            except TimeoutError:
                self.refuse(Code.HELLO_TIMEOUT, "No hello arrived in time.")
                self.close(CLOSE_HELLO_TIMEOUT)
                return
            if message["type"] == "websocket.disconnect":
                if self.outbox.closed_with is None:
                    self.outbox.closed_with = message.get("code")
                return
            self.frames += 1
            self.received_at = time.monotonic()
            await self.on_frame(message.get("text"))
            await self.outbox.room()

    async def on_frame(self, raw: str | None) -> None:
        if raw is None:
            code = Code.INVALID if self.throttle.allow() else Code.RATE_LIMITED
            self.refuse(code, "Only text frames are accepted." if code == Code.INVALID else "Too many frames; slow down.")
            return
        cmid: str | None = None
        try:
            frame = frames.parse(raw)
            cmid = frame.client_msg_id if isinstance(frame, frames.Msg) else None
            if not self.throttle.allow():
                self.refuse(Code.RATE_LIMITED, "Too many frames; slow down and send again.", cmid)
                return
            self.check_alive()
            if isinstance(frame, frames.Ping):
                self.outbox.frame(wire.Pong())
            elif isinstance(frame, frames.Hello):
                if self.greeted:
                    raise FrameError(Code.ALREADY_HELLO, "This connection has already said hello.")
                async with self.ctx.admission.hello(self.ctx.settings.hello_concurrency, self.ctx.settings.hello_wait_s):
                    await self.hello(frame)
                self.greeted = True
            elif not self.greeted:
                raise FrameError(Code.HELLO_REQUIRED, "Send hello first.", cmid)
            else:
                await self.handle(frame)
        except FrameError as err:
            self.refuse(err.code, err.message, err.client_msg_id)
        except admission.Busy as err:  # too many hellos waiting: come back shortly (the page backs off)
            self.send_error(wire.Error(err.code, err.message, reason="busy", retry_after=err.retry_after_s))
            self.close(CLOSE_TRY_AGAIN)
        except ChatError as err:
            self.refuse(err.code, err.message, cmid)
            if err.code in CLOSING_CODES:
                self.close(CLOSING_CODES[err.code])
        except faults.TRANSIENT as err:
            logs.event("ws_frame_unavailable", route=self.route, error=type(err).__name__)
            self.refuse(Code.UNAVAILABLE, "The service could not store that right now; send it again.", cmid)
        except Exception as err:
            logs.event("internal_error", level=40, route=self.route, error=type(err).__name__)
            self.refuse(Code.INTERNAL, "Something went wrong on our side; send it again.", cmid)

    def refuse(self, code: str, message: str, client_msg_id: str | None = None) -> None:
        self.send_error(frames.error_frame(code, message, client_msg_id))

    def send_error(self, frame: wire.Error) -> None:
        """Every error frame of an open socket goes out here, counted by its code."""
        self.ctx.metrics.error_frame(frame.code)
        self.outbox.frame(frame)

    def close(self, code: int) -> None:
        self.closing = True
        self.outbox.close(code)

    async def follow(self, conversation_id: str, after_seq: int) -> None:
        channel = events.conversation_channel(conversation_id)
        if channel in self.channels:
            return
        await self.ctx.bus.subscribe(channel, self.outbox.on_bus)
        self.channels.append(channel)
        self.outbox.last_seq.setdefault(conversation_id, after_seq)

    def ack(self, stored: live.MessageRecord) -> None:
        assert stored.client_msg_id is not None
        self.outbox.ack(stored.conversation_id, stored.client_msg_id, stored.seq, wire.iso(stored.created_at))

    def check_alive(self) -> None:
        """Raise when the credentials this socket was opened with have run out."""

    async def unfollow_all(self) -> None:
        for channel in self.channels:
            with contextlib.suppress(Exception):
                await self.ctx.bus.unsubscribe(channel, self.outbox.on_bus)
        self.channels.clear()
        self.outbox.last_seq.clear()

    async def hello(self, frame: frames.Hello) -> None:
        raise NotImplementedError

    async def handle(self, frame: Any) -> None:
        raise NotImplementedError

    async def on_signal(self, event: dict[str, Any] | None, channel: str) -> bool:
        return False

    async def act(self, r: Reaction) -> None:
        """Do what the service said about a signal, in the order ``Reaction`` names."""
        if r.status is not None:
            await self.set_status(r.status)
        if r.release is not None:
            await self.release(r.release)
        for cid in r.adopt:
            await self.adopt(cid)
        for frame in r.send:
            if isinstance(frame, wire.Error):
                self.send_error(frame)
            else:
                self.outbox.frame(frame)
        if r.notes is not None:
            await self.send_notes(r.notes)
        if r.close is not None:
            self.close(CLOSE_CODES[r.close])

    async def set_status(self, status: Availability) -> None:
        raise NotImplementedError

    def follows(self, conversation_id: str) -> bool:
        return events.conversation_channel(conversation_id) in self.channels

    async def release(self, conversation_id: str) -> None:
        """Stop following a conversation this person no longer holds (it was transferred away)."""
        channel = events.conversation_channel(conversation_id)
        if channel in self.channels:
            self.channels.remove(channel)
            with contextlib.suppress(Exception):
                await self.ctx.bus.unsubscribe(channel, self.outbox.on_bus)
        self.outbox.last_seq.pop(conversation_id, None)

    async def adopt(self, conversation_id: str) -> None:
        raise NotImplementedError

    async def send_notes(self, conversation_id: str) -> None:
        raise NotImplementedError


class VisitorConnection(Connection):
    route = "/ws/visitor"
    side = Sender.VISITOR
    conversation_id = ""
    session: live.VisitorSession
    _place: queue.Place | None = None  # the last place this visitor was told

    def __init__(self, ws: WebSocket, ctx: Context, watcher: QueueWatcher, tracker: VisitorTracker) -> None:
        super().__init__(ws, ctx, watcher)
        self.tracker = tracker
        self._present = False

    async def departed(self) -> None:
        if self._present:
            await self.tracker.disconnect(id(self), self.conversation_id)

    async def hello(self, frame: frames.Hello) -> None:
        if isinstance(frame.last_seq, dict):
            raise FrameError(Code.INVALID, "A visitor's last_seq is one number.")
        last = frame.last_seq or 0
        self.session, conv = await live.open_visitor(self.ctx, frame.token, last)
        self.conversation_id = conv.id
        self.log_fields["conversation_id"] = conv.id
        self.outbox.hold()
        try:
            await self.follow(conv.id, last)
            # Present from here on: a conversation that had left the queue (gone) is back in its place
            # before its place is read.
            self._present = True
            await self.tracker.connect(id(self), conv.id)
            fresh = await health.get(self.ctx, conv.id)
            assert fresh is not None
            assert fresh.health is not None
            place = await queue.place(self.ctx, conv.id) if fresh.state == State.QUEUED else None
            staff_name = await conversations.holder_name(self.ctx, fresh) if fresh.state == State.ACTIVE else None
        except BaseException:
            await self.unfollow_all()
            self.outbox.release()
            raise
        self._place = place
        self.outbox.release_with(live.visitor_welcome(self.ctx, fresh, place, staff_name))
        self.outbox.catch_up(conv.id)
        self.watcher.listeners.add(self)

    async def handle(self, frame: Any) -> None:
        if frame.type not in frames.VISITOR_FRAMES:
            raise FrameError(Code.INVALID, "A visitor does not send this frame.")
        if getattr(frame, "conversation_id", None) not in (None, self.conversation_id):
            raise Forbidden(Code.FORBIDDEN, "This token does not open that conversation.")
        if isinstance(frame, frames.Msg):
            text = frames.check_text(frame, self.ctx.settings.max_text_chars)
            key = (self.conversation_id, frame.client_msg_id)
            self.outbox.unacked[key] = self.received_at
            try:
                crisis = await conversations.visitor_post(self.ctx, self.conversation_id, text, frame.client_msg_id, self.ack)
            finally:
                self.outbox.unacked.pop(key, None)
            if crisis is not None:
                self.outbox.frame(crisis)
        elif isinstance(frame, frames.Typing):
            await self.session.typing(self.ctx, frame.on)
        elif isinstance(frame, frames.Read):
            await self.session.read(self.ctx, frame.seq, self.outbox.last_seq.get(self.conversation_id, 0))
        elif isinstance(frame, frames.Screening):
            self.outbox.frame(await self.session.screening(self.ctx, frame.instrument, list(frame.answers)))

    async def on_signal(self, event: dict[str, Any] | None, channel: str) -> bool:
        reaction = await self.session.on_event(self.ctx, event)
        if reaction is None:
            return False
        await self.act(reaction)
        return True

    def on_snapshot(self, snapshot: queue.Snapshot) -> None:
        place = snapshot.place(self.conversation_id)
        if place is None:
            # Not waiting (taken or closed): forget the last place told, so when it is queued again
            # (transferred back, re-opened) the visitor hears their place even if it is the same one.
            self._place = None
            return
        if place != self._place:
            self._place = place
            self.outbox.frame(wire.QueuePlace(place.position, place.estimated_wait_s))


class StaffConnection(Connection):
    route = "/ws/staff"
    side = Sender.STAFF

    def __init__(
        self, ws: WebSocket, ctx: Context, watcher: QueueWatcher, tracker: Tracker, p: Principal, session: str
    ) -> None:
        super().__init__(ws, ctx, watcher)
        self.p = p
        self.tracker = tracker
        self.session = live.StaffSession(p, session)
        self.outbox.observer = self.session.observe
        self.log_fields["staff_id"] = p.id
        self._queue_ids: list[tuple[Any, ...]] | None = None
        self._present = False

    async def departed(self) -> None:
        if self._present:
            await self.tracker.disconnect(id(self), self.p.id)

    async def hello(self, frame: frames.Hello) -> None:
        if frame.token is not None or isinstance(frame.last_seq, int):
            raise FrameError(Code.INVALID, "Staff say hello with last_seq as {conversation_id: seq} and no token.")
        wanted = dict(frame.last_seq or {})
        await self.session.check_hello(self.ctx, wanted)  # before anything is replayed
        self.outbox.hold()
        try:
            for channel in self.session.channels(self.ctx):
                await self.ctx.bus.subscribe(channel, self.outbox.on_bus)
                self.channels.append(channel)
            held = await self.session.held(self.ctx)
            for conv in held:  # the part a return code opened; earlier parts are read on purpose (audited)
                await self.follow(conv.id, max(wanted.get(conv.id, 0), conv.part_start_seq))
            for cid, seq in wanted.items():
                await self.follow(cid, seq)
            waiting = await queue.staff_queue(self.ctx, self.p)
        except BaseException:
            await self.unfollow_all()
            self.outbox.release()
            raise
        welcome, status = await self.session.welcome(self.ctx, held)
        self.outbox.release_with(welcome)
        self._send_queue(waiting)
        for cid in self.outbox.last_seq:
            self.outbox.catch_up(cid)
            await self.send_notes(cid)
        self.watcher.listeners.add(self)
        await self.tracker.connect(id(self), self.p.id, self.p.display_name, tuple(self.p.teams), status)
        self._present = True

    def check_alive(self) -> None:
        accounts.check_alive(self.ctx, self.p)

    async def handle(self, frame: Any) -> None:
        cid = getattr(frame, "conversation_id", None)
        action = frames.STAFF_FRAMES.get(frame.type)
        if action is None:
            raise FrameError(Code.INVALID, "Staff do not send this frame.")
        access.require(self.p, action)
        if isinstance(frame, frames.Presence):
            # Answered (on every socket of this person) by the "presence" event on their staff channel.
            await presence.set_availability(self.ctx, self.p.id, Availability(frame.status))
            return
        if cid is None:
            raise FrameError(Code.INVALID, "Staff frames name their conversation_id.", getattr(frame, "client_msg_id", None))
        if isinstance(frame, frames.Msg):
            text = frames.check_text(frame, self.ctx.settings.max_text_chars)
            self.outbox.unacked[(cid, frame.client_msg_id)] = self.received_at
            try:
                await conversations.post(self.ctx, cid, text, frame.client_msg_id, staff=self.p, on_stored=self.ack)
            finally:
                self.outbox.unacked.pop((cid, frame.client_msg_id), None)
        elif isinstance(frame, frames.Typing):
            await self.session.typing(self.ctx, cid, frame.on, self.follows(cid))
        elif isinstance(frame, frames.Read):
            await self.session.read(self.ctx, cid, frame.seq, self.outbox.last_seq.get(cid, 0), self.follows(cid))

    async def on_signal(self, event: dict[str, Any] | None, channel: str) -> bool:
        following = {c[2:] for c in self.channels if c.startswith("c:")}
        reaction = await self.session.on_event(self.ctx, event, following)
        if reaction is None:
            return False
        await self.act(reaction)
        return True

    async def set_status(self, status: Availability) -> None:
        await self.tracker.set_status(id(self), self.p.id, status)

    async def send_notes(self, conversation_id: str) -> None:
        notes = await self.session.notes(self.ctx, conversation_id)
        if notes is not None:
            self.outbox.frame(notes)

    async def adopt(self, conversation_id: str) -> None:
        if events.conversation_channel(conversation_id) in self.channels:
            return
        from_seq, state = await self.session.adoption(self.ctx, conversation_id)
        await self.follow(conversation_id, from_seq)
        if state is not None:
            self.outbox.frame(state)
        self.outbox.catch_up(conversation_id)
        await self.send_notes(conversation_id)

    def on_snapshot(self, snapshot: queue.Snapshot) -> None:
        self._send_queue(snapshot.for_staff(self.p))

    def _send_queue(self, waiting: list[Any]) -> None:
        ids = [(c.id, c.priority, c.team, c.offered_to, c.reasons_sealed, c.risk_sealed, c.screening_sealed,
                c.visitor_away_since) for c in waiting]
        if ids != self._queue_ids:
            self._queue_ids = ids
            self.outbox.frame(wire.QueueUpdate([frames.summary(c, self.p.id) for c in waiting], wire.iso(self.ctx.clock())))


async def visitor_endpoint(ws: WebSocket) -> None:
    ctx: Context = ws.app.state.ctx
    await ws.accept()
    await VisitorConnection(ws, ctx, ws.app.state.watcher, ws.app.state.visitor_tracker).run()


async def staff_endpoint(ws: WebSocket) -> None:
    ctx: Context = ws.app.state.ctx
    if not ctx.settings.origin_allowed(ws.headers.get("origin"), ws.headers.get("host")):
        logs.event("ws_refused", route="/ws/staff", code=Code.ORIGIN_FORBIDDEN)
        await ws.close(code=1008)  # before accept: the handshake is answered 403
        return
    await ws.accept()
    session = ws.cookies.get(COOKIE)
    try:
        p = await accounts.authenticate(ctx, session)
    except ChatError as err:
        ctx.metrics.error_frame(err.code)
        await ws.send_text(wire.dumps(frames.error_frame(err.code, err.message)))
        await ws.close(CLOSE_UNAUTHORIZED)
        logs.event("ws_refused", route="/ws/staff", code=err.code)
        return
    if not access.allowed(p, Action.CONSOLE):  # an auditor: no conversations, so no console
        ctx.metrics.error_frame(Code.FORBIDDEN)
        await ws.send_text(wire.dumps(frames.error_frame(Code.FORBIDDEN, "This account does not work conversations.")))
        await ws.close(CLOSE_FORBIDDEN, reason=Code.FORBIDDEN)
        logs.event("ws_refused", route="/ws/staff", code=Code.FORBIDDEN)
        return
    assert session is not None
    await StaffConnection(ws, ctx, ws.app.state.watcher, ws.app.state.tracker, p, session).run()


__all__ = ["staff_endpoint", "visitor_endpoint"]
