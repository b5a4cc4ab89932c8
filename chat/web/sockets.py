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

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket

from chat import logs, wire
from chat.crypto import tokens
from chat.errors import ChatError, Code, Conflict, Forbidden, NotFound, Unauthorized
from chat.service import (
    access,
    accounts,
    conversations,
    dispatch,
    events,
    health,
    keys,
    presence,
    queue,
    routing,
    selftest,
    signals,
    transcripts,
)
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.service.presence import Availability, Tracker
from chat.service.visitors import VisitorTracker
from chat.store import conversations as conv_store
from chat.store import staff as staff_store
from chat.store.conversations import MessageRecord
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

TRANSIENT = (SQLAlchemyError, OSError, TimeoutError, ConnectionError)
# Refusals after which the socket is closed, and with what: the credentials or the conversation are gone.
CLOSING_CODES = {
    Code.UNAUTHORIZED: CLOSE_UNAUTHORIZED,
    Code.TOKEN_EXPIRED: CLOSE_UNAUTHORIZED,
    Code.SESSION_EXPIRED: CLOSE_UNAUTHORIZED,
    Code.DELETED_BY_RETENTION: CLOSE_GONE,
    Code.KEY_UNAVAILABLE: CLOSE_GONE,
}


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
                await self.hello(frame)
                self.greeted = True
            elif not self.greeted:
                raise FrameError(Code.HELLO_REQUIRED, "Send hello first.", cmid)
            else:
                await self.handle(frame)
        except FrameError as err:
            self.refuse(err.code, err.message, err.client_msg_id)
        except ChatError as err:
            self.refuse(err.code, err.message, cmid)
            if err.code in CLOSING_CODES:
                self.close(CLOSING_CODES[err.code])
        except TRANSIENT as err:
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

    def ack(self, stored: MessageRecord) -> None:
        assert stored.client_msg_id is not None
        self.outbox.ack(stored.conversation_id, stored.client_msg_id, stored.seq)

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


class VisitorConnection(Connection):
    route = "/ws/visitor"
    side = Sender.VISITOR
    conversation_id = ""
    token_hash = ""  # of the token this socket opened with: a return code may replace it
    _place: tuple[int, int] | None = None

    def __init__(self, ws: WebSocket, ctx: Context, watcher: QueueWatcher, tracker: VisitorTracker) -> None:
        super().__init__(ws, ctx, watcher)
        self.tracker = tracker
        self._present = False

    async def departed(self) -> None:
        if self._present:
            await self.tracker.disconnect(id(self), self.conversation_id)

    async def hello(self, frame: frames.Hello) -> None:
        if not frame.token:
            raise Unauthorized(Code.UNAUTHORIZED, "hello needs the visitor token.")
        conv = await conversations.visitor_conversation(self.ctx, frame.token)
        self.token_hash = tokens.token_hash(frame.token)
        # Unwrap the data key now (it is needed for the replay anyway): a key that cannot be unwrapped
        # is a final answer (key_unavailable, close 4410), not a socket that fails and reconnects forever.
        await keys.dek_for(self.ctx, conv.id)
        if isinstance(frame.last_seq, dict):
            raise FrameError(Code.INVALID, "A visitor's last_seq is one number.")
        last = frame.last_seq or 0
        if last < 0 or last > conv.last_seq:
            raise FrameError(Code.BAD_LAST_SEQ, "last_seq must be between 0 and the last message's seq.")
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
            place = (await queue.snapshot(self.ctx)).place(conv.id) if fresh.state == "queued" else None
            staff_name = await conversations.holder_name(self.ctx, fresh) if fresh.state == State.ACTIVE else None
        except BaseException:
            await self.unfollow_all()
            self.outbox.release()
            raise
        self._place = (place.position, place.estimated_wait_s) if place else None
        now = self.ctx.clock()
        is_open = fresh.state != State.QUEUED or routing.team_open(self.ctx.region, fresh.team, now)
        opens_at = None if is_open else routing.team_opens_at(self.ctx.region, fresh.team, now)
        welcome = wire.VisitorWelcome(
            conv.id, fresh.state, staff_name,
            {"position": place.position, "estimated_wait_s": place.estimated_wait_s} if place else None,
            fresh.last_seq, is_open, wire.iso(opens_at), routing.weekly_hours(self.ctx.region, fresh.team),
            # Shown at once when the chat is closed or the conversation carried a risk signal.
            routing.crisis(self.ctx.region, now, fresh.municipality) if (fresh.health.risk or not is_open) else None,
            selftest.offered(self.ctx, fresh),
        )
        self.outbox.release_with(welcome)
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
                stored, created = await conversations.post(
                    self.ctx, self.conversation_id, text, frame.client_msg_id, on_stored=self.ack
                )
            finally:
                self.outbox.unacked.pop(key, None)
            if created:
                crisis = await signals.on_visitor_text(self.ctx, self.conversation_id, text, stored.seq)
                if crisis is not None:
                    self.outbox.frame(crisis)
        elif isinstance(frame, frames.Typing):
            await conversations.typing(self.ctx, self.conversation_id, Sender.VISITOR, frame.on)
        elif isinstance(frame, frames.Read):
            conv = await conv_store.get(self.ctx.engine, self.conversation_id)
            assert conv is not None
            await conversations.read(self.ctx, conv, Sender.VISITOR, frame.seq)
        elif isinstance(frame, frames.Screening):
            conv = await conv_store.get(self.ctx.engine, self.conversation_id)
            assert conv is not None
            self.outbox.frame(await selftest.submit(self.ctx, conv, frame.instrument, list(frame.answers)))

    async def on_signal(self, event: dict[str, Any] | None, channel: str) -> bool:
        if event is not None and event.get("type") == wire.Left.type:
            # Quick exit (from this page or another of the same token): the token has ended.
            self.send_error(frames.error_frame(Code.TOKEN_EXPIRED, "The visitor token has ended."))
            self.close(CLOSE_UNAUTHORIZED)
            return True
        if event is not None and event.get("type") == wire.TokenReplaced.type:
            # A return code gave the conversation a new token (on this instance or another): a socket
            # opened with the old one ends now. The one that opened with the new token stays.
            if not await conversations.token_opens(self.ctx, self.token_hash, self.conversation_id):
                self.send_error(frames.error_frame(Code.TOKEN_EXPIRED, "The visitor token was replaced by a return code.",
                                                   reason="token_replaced"))
                self.close(CLOSE_UNAUTHORIZED)
            return True
        return False

    def on_snapshot(self, snapshot: queue.Snapshot) -> None:
        place = snapshot.place(self.conversation_id)
        if place is None:
            # Not waiting (taken or closed): forget the last place told, so when it is queued again
            # (transferred back, re-opened) the visitor hears their place even if it is the same one.
            self._place = None
            return
        now = (place.position, place.estimated_wait_s)
        if now != self._place:
            self._place = now
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
        self.session_hash = tokens.token_hash(session)
        self.log_fields["staff_id"] = p.id
        self._queue_ids: list[tuple[Any, ...]] | None = None
        self._alerted: set[tuple[str, str]] = set()
        self._present = False

    async def departed(self) -> None:
        if self._present:
            await self.tracker.disconnect(id(self), self.p.id)

    async def hello(self, frame: frames.Hello) -> None:
        if frame.token is not None or isinstance(frame.last_seq, int):
            raise FrameError(Code.INVALID, "Staff say hello with last_seq as {conversation_id: seq} and no token.")
        wanted = dict(frame.last_seq or {})
        for cid, seq in wanted.items():
            conv = await conv_store.get(self.ctx.engine, cid)
            if conv is None or not access.allowed(self.p, Action.FOLLOW, conv):
                raise FrameError(Code.FORBIDDEN, "last_seq names a conversation you do not hold.")
            if seq < 0 or seq > conv.last_seq:
                raise FrameError(Code.BAD_LAST_SEQ, "last_seq must be between 0 and the last message's seq.")
        await transcripts.audit_replay(self.ctx, self.p, wanted)  # before anything is replayed
        self.outbox.hold()
        try:
            teams = access.teams_for(self.p, Action.QUEUE_READ)
            teams = [t.id for t in self.ctx.region.teams] if teams is None else list(teams)
            for channel in [events.staff_channel(self.p.id), *(events.team_channel(t) for t in teams)]:
                await self.ctx.bus.subscribe(channel, self.outbox.on_bus)
                self.channels.append(channel)
            held = await health.opened_all(self.ctx, await conv_store.held_by(self.ctx.engine, self.p.id))
            for conv in held:  # the part a return code opened; earlier parts are read on purpose (audited)
                await self.follow(conv.id, max(wanted.get(conv.id, 0), conv.part_start_seq))
            for cid, seq in wanted.items():
                await self.follow(cid, seq)
            waiting = await queue.staff_queue(self.ctx, self.p)
        except BaseException:
            await self.unfollow_all()
            self.outbox.release()
            raise
        me = await staff_store.by_id(self.ctx.engine, self.p.id)
        status = Availability(me.availability) if me is not None else Availability.AVAILABLE
        welcome = wire.StaffWelcome(
            {"username": self.p.username, "display_name": self.p.display_name,
             "roles": list(self.p.roles), "teams": list(self.p.teams), "status": str(status)},
            [frames.summary(c) for c in held],
        )
        self.outbox.release_with(welcome)
        self._send_queue(waiting)
        for cid in self.outbox.last_seq:
            self.outbox.catch_up(cid)
            await self._send_notes(cid)
        self.watcher.listeners.add(self)
        await self.tracker.connect(id(self), self.p.id, self.p.display_name, tuple(self.p.teams), status)
        self._present = True

    def check_alive(self) -> None:
        if self.p.session_expires is not None and self.ctx.clock() >= self.p.session_expires:
            raise Unauthorized(Code.SESSION_EXPIRED, "Your session has expired; log in again.")

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
            return
        conv = await conv_store.get(self.ctx.engine, cid)
        if conv is None:
            raise NotFound()
        if conv.state == State.CLOSED:
            raise Conflict(Code.CONVERSATION_CLOSED, "The conversation is closed.")
        access.require(self.p, action, conv, Forbidden(Code.NOT_CLAIMED, "You do not hold this conversation; claim it first."))
        if isinstance(frame, frames.Typing):
            await conversations.typing(self.ctx, cid, Sender.STAFF, frame.on)
        elif isinstance(frame, frames.Read):
            await conversations.read(self.ctx, conv, Sender.STAFF, frame.seq)

    async def on_signal(self, event: dict[str, Any] | None, channel: str) -> bool:
        if event is None:  # the staff channel may have missed a claim: look again
            for conv in await conv_store.held_by(self.ctx.engine, self.p.id):
                await self._adopt(conv.id)
            return True
        kind = event.get("type")
        if kind == "claimed":
            await self._adopt(event["conversation_id"])
            return True
        if kind == "logout" and event.get("session") == self.session_hash:
            self.send_error(frames.error_frame(Code.UNAUTHORIZED, "You have logged out.", reason="logged_out"))
            self.close(CLOSE_UNAUTHORIZED)
            return True
        if kind == "logout" and event.get("all") is True:  # an admin deactivated the account or reset its password
            self.send_error(frames.error_frame(Code.UNAUTHORIZED, "Your session has ended; log in again.",
                                               reason="ended_by_admin"))
            self.close(CLOSE_UNAUTHORIZED)
            return True
        if kind == "access_changed":  # roles, teams or name changed: reconnecting picks them up
            self.close(CLOSE_TRY_AGAIN)
            return True
        if kind == "presence":
            await self.tracker.set_status(id(self), self.p.id, Availability(event["status"]))
            self.outbox.frame(event)
            return True
        if kind in {"offer_withdrawn", "visitor_presence"}:
            self.outbox.frame(event)
            return True
        if kind == "offer":  # the summary is added here: health data does not travel the bus in clear
            offer = await dispatch.offer_frame(self.ctx, event)
            if offer is not None:
                self.outbox.frame(offer)
            return True
        if kind in {"alert", "screening"}:  # sealed on the bus: opened here, for this socket
            shown = await health.open_event(self.ctx, event)
            if shown is None:
                return True
            if kind == "alert":
                key = (shown["conversation_id"], ",".join(shown.get("categories", [])))
                if key in self._alerted:  # the same alert arrives once per team channel this person is in
                    return True
                self._alerted.add(key)
            self.outbox.frame(shown)
            return True
        if kind == "released":
            await self._release(event["conversation_id"])
            self.outbox.frame(event)
            return True
        if kind == "note":
            if events.conversation_channel(event["conversation_id"]) in self.channels:
                await self._send_notes(event["conversation_id"])
            return True
        return False

    async def _release(self, conversation_id: str) -> None:
        """Stop following a conversation this person no longer holds (it was transferred away)."""
        channel = events.conversation_channel(conversation_id)
        if channel in self.channels:
            self.channels.remove(channel)
            with contextlib.suppress(Exception):
                await self.ctx.bus.unsubscribe(channel, self.outbox.on_bus)
        self.outbox.last_seq.pop(conversation_id, None)

    async def _send_notes(self, conversation_id: str) -> None:
        try:
            notes = await transcripts.notes_for_holder(self.ctx, self.p, conversation_id)
        except ChatError:
            return
        if notes:
            self.outbox.frame(wire.Notes(conversation_id, notes))

    async def _adopt(self, conversation_id: str) -> None:
        channel = events.conversation_channel(conversation_id)
        if channel in self.channels:
            return
        conv = await health.get(self.ctx, conversation_id)
        await self.follow(conversation_id, conv.part_start_seq if conv is not None else 0)
        if conv is not None:  # with the summary: a conversation handed over from another queue is new to the page
            self.outbox.frame(wire.StateChanged(conversation_id, conv.state, self.p.display_name, frames.summary(conv)))
        self.outbox.catch_up(conversation_id)
        await self._send_notes(conversation_id)

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
