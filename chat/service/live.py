"""The live sockets' rules: what a visitor's or a staff member's hello, frames and bus signals do.

``chat/web/sockets.py`` parses a frame and calls one function here (or ``conversations.post``), then does
what the answer says: the frames to send, whether to close, which conversations to follow or stop
following (a ``Reaction``). Each socket keeps one session object from here (``VisitorSession``,
``StaffSession``) with what the rules need to remember about it: the token it opened with, the alerts
already shown, and what it knows of the conversations it follows, so that a typing or read frame does not
read the database (``StaffSession.observe``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chat.crypto import tokens
from chat.errors import BadInput, ChatError, Code, Conflict, Forbidden, NotFound, Unauthorized
from chat.service import (
    access,
    conversations,
    dispatch,
    events,
    health,
    keys,
    queue,
    routing,
    selftest,
    transcripts,
)
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.service.presence import Availability
from chat.service.summaries import summary
from chat.store import conversations as conv_store
from chat.store import staff as staff_store
from chat.store.conversations import ConversationRecord
from chat.store.conversations import MessageRecord as MessageRecord  # the acks' callbacks take it
from chat.wire import (
    Alert,
    Claimed,
    Error,
    Left,
    Logout,
    Notes,
    Presence,
    Released,
    ScreeningEvent,
    ScreeningResult,
    Sender,
    StaffWelcome,
    State,
    StateChanged,
    TokenReplaced,
    VisitorWelcome,
    Wire,
    iso,
)


class Close(StrEnum):
    """Why a socket is closed after a signal: its credentials ended, or it must reconnect to see a change."""

    UNAUTHORIZED = "unauthorized"
    TRY_AGAIN = "try_again"


@dataclass
class Reaction:
    """What a socket does about a bus signal, in this order: set its status, stop following ``release``,
    follow ``adopt``, send ``send``, send the notes of ``notes``, close with ``close``."""

    send: list[Wire | dict[str, Any]] = field(default_factory=list)
    close: Close | None = None
    adopt: list[str] = field(default_factory=list)
    release: str | None = None
    notes: str | None = None
    status: Availability | None = None


IGNORED = Reaction()
# Events that change nothing a socket's rules remember about a conversation.
_ROUTINE = frozenset({"msg", "typing", "read"})


# Visitor.


@dataclass(frozen=True)
class VisitorSession:
    """A visitor socket after its hello: the conversation its token opens, and that token's hash (a return
    code may replace the token; the socket opened with the old one then ends)."""

    conversation_id: str
    token_hash: str

    async def typing(self, ctx: Context, on: bool) -> None:
        await conversations.typing(ctx, self.conversation_id, Sender.VISITOR, on)

    async def read(self, ctx: Context, seq: int, seen: int) -> None:
        """``seen``: the highest seq this socket was sent (no database read unless ``seq`` is past it)."""
        await conversations.read(ctx, self.conversation_id, Sender.VISITOR, seq, seen)

    async def screening(self, ctx: Context, instrument: str, answers: list[int]) -> ScreeningResult:
        conv = await conv_store.get(ctx.engine, self.conversation_id)
        if conv is None:
            raise NotFound()
        return await selftest.submit(ctx, conv, instrument, answers)

    async def on_event(self, ctx: Context, event: dict[str, Any] | None) -> Reaction | None:
        kind = event.get("type") if event is not None else None
        if kind == Left.type:  # quick exit (from this page or another of the same token): the token has ended
            return Reaction([Error(Code.TOKEN_EXPIRED, "The visitor token has ended.")], Close.UNAUTHORIZED)
        if kind == TokenReplaced.type:
            # A return code gave the conversation a new token (on this instance or another): a socket opened
            # with the old one ends now. The one that opened with the new token stays.
            if await conversations.token_opens(ctx, self.token_hash, self.conversation_id):
                return IGNORED
            frame = Error(Code.TOKEN_EXPIRED, "The visitor token was replaced by a return code.", reason="token_replaced")
            return Reaction([frame], Close.UNAUTHORIZED)
        return None


async def open_visitor(ctx: Context, token: str | None, last_seq: int) -> tuple[VisitorSession, ConversationRecord]:
    """The visitor's hello: the session and the conversation, when the token opens it and ``last_seq`` fits."""
    if not token:
        raise Unauthorized(Code.UNAUTHORIZED, "hello needs the visitor token.")
    conv = await conversations.visitor_conversation(ctx, token)
    # Unwrap the data key now (it is needed for the replay anyway): a key that cannot be unwrapped
    # is a final answer (key_unavailable, close 4410), not a socket that fails and reconnects forever.
    await keys.dek_for(ctx, conv.id)
    if last_seq < 0 or last_seq > conv.last_seq:
        raise BadInput(Code.BAD_LAST_SEQ, "last_seq must be between 0 and the last message's seq.")
    return VisitorSession(conv.id, tokens.token_hash(token)), conv


def visitor_welcome(ctx: Context, c: ConversationRecord, place: queue.Place | None, staff_name: str | None) -> VisitorWelcome:
    """The visitor's ``welcome``: state, place in line, opening hours, crisis lines, self-tests."""
    assert c.health is not None
    now = ctx.clock()
    is_open = c.state != State.QUEUED or routing.team_open(ctx.region, c.team, now)
    opens_at = None if is_open else routing.team_opens_at(ctx.region, c.team, now)
    return VisitorWelcome(
        c.id, c.state, staff_name,
        {"position": place.position, "estimated_wait_s": place.estimated_wait_s} if place else None,
        c.last_seq, is_open, iso(opens_at), routing.weekly_hours(ctx.region, c.team),
        # Shown at once when the chat is closed or the conversation carried a risk signal.
        routing.crisis(ctx.region, now, c.municipality) if (c.health.risk or not is_open) else None,
        selftest.offered(ctx, c),
    )


# Staff.


class StaffSession:
    """A staff socket: who, which session (a logout of that session ends it), the alerts it has shown, and
    what it knows of the conversations it follows."""

    def __init__(self, p: Principal, session_token: str) -> None:
        self.p = p
        self.session_hash = tokens.token_hash(session_token)
        self.alerted: set[tuple[str, str]] = set()
        # The conversations this socket follows as last read from the store: who holds them and whether they
        # are closed is all a typing or read frame needs. Every event about one other than a message, a typing
        # or a read mark (its state changed, it was claimed, released, ...) forgets it, and so does a gap in the
        # bus; the next frame reads it again. ``_epoch`` counts the forgettings, so a read that was under way
        # while one happened is not kept.
        self.known: dict[str, ConversationRecord] = {}
        self._epoch = 0

    def observe(self, channel: str, event: dict[str, Any] | None) -> None:
        """Every bus event of this socket, as it arrives (before the frames the reader handles next)."""
        if event is None:
            self._epoch += 1
            if channel.startswith("c:"):
                self.known.pop(channel[2:], None)
            else:  # the staff or a team channel: a claim or a release may have been missed
                self.known.clear()
            return
        if event.get("type") in _ROUTINE:
            return
        cid = event.get("conversation_id")
        if isinstance(cid, str):
            self._epoch += 1
            self.known.pop(cid, None)

    def channels(self, ctx: Context) -> list[str]:
        """The staff member's own channel and the channels of the teams whose queues they see."""
        teams = access.teams_for(self.p, Action.QUEUE_READ)
        teams = [t.id for t in ctx.region.teams] if teams is None else list(teams)
        return [events.staff_channel(self.p.id), *(events.team_channel(t) for t in teams)]

    async def check_hello(self, ctx: Context, wanted: dict[str, int]) -> None:
        """Each conversation the hello's ``last_seq`` names may be followed by this person, from that seq; a
        supervisor's reading of one they do not hold is audited before anything is replayed."""
        for cid, seq in wanted.items():
            conv = await conv_store.get(ctx.engine, cid)
            if conv is None or not access.allowed(self.p, Action.FOLLOW, conv):
                raise Forbidden(Code.FORBIDDEN, "last_seq names a conversation you do not hold.")
            if seq < 0 or seq > conv.last_seq:
                raise BadInput(Code.BAD_LAST_SEQ, "last_seq must be between 0 and the last message's seq.")
        await transcripts.audit_replay(ctx, self.p, wanted)

    async def held(self, ctx: Context) -> list[ConversationRecord]:
        """The conversations this person holds, with their health data opened (for the welcome)."""
        return await health.opened_all(ctx, await conv_store.held_by(ctx.engine, self.p.id))

    async def welcome(self, ctx: Context, held: list[ConversationRecord]) -> tuple[StaffWelcome, Availability]:
        me = await staff_store.by_id(ctx.engine, self.p.id)
        status = Availability(me.availability) if me is not None else Availability.AVAILABLE
        frame = StaffWelcome(
            {"username": self.p.username, "display_name": self.p.display_name,
             "roles": list(self.p.roles), "teams": list(self.p.teams), "status": str(status)},
            [summary(c) for c in held],
        )
        return frame, status

    async def _conversation(self, ctx: Context, conversation_id: str, action: Action, following: bool) -> ConversationRecord:
        """``following``: this socket follows the conversation's channel, so ``observe`` sees its changes."""
        conv = self.known.get(conversation_id)
        if conv is None:
            epoch = self._epoch
            conv = await conv_store.get(ctx.engine, conversation_id)
            if conv is None:
                raise NotFound()
            if following and epoch == self._epoch:
                self.known[conversation_id] = conv
        if conv.state == State.CLOSED:
            raise Conflict(Code.CONVERSATION_CLOSED, "The conversation is closed.")
        access.require(self.p, action, conv, Forbidden(Code.NOT_CLAIMED, "You do not hold this conversation; claim it first."))
        return conv

    async def typing(self, ctx: Context, conversation_id: str, on: bool, following: bool) -> None:
        await self._conversation(ctx, conversation_id, Action.TYPING, following)
        await conversations.typing(ctx, conversation_id, Sender.STAFF, on)

    async def read(self, ctx: Context, conversation_id: str, seq: int, seen: int, following: bool) -> None:
        """``seen``: the highest seq of this conversation the socket was sent."""
        await self._conversation(ctx, conversation_id, Action.READ_RECEIPT, following)
        await conversations.read(ctx, conversation_id, Sender.STAFF, seq, seen)

    async def adoption(self, ctx: Context, conversation_id: str) -> tuple[int, StateChanged | None]:
        """A conversation handed to this person: the seq to follow it from, and the ``state`` frame (with its
        summary: a conversation handed over from another queue is new to the page)."""
        conv = await health.get(ctx, conversation_id)
        if conv is None:
            return 0, None
        return conv.part_start_seq, StateChanged(conversation_id, conv.state, self.p.display_name, summary(conv))

    async def notes(self, ctx: Context, conversation_id: str) -> Notes | None:
        try:
            found = await transcripts.notes_for_holder(ctx, self.p, conversation_id)
        except ChatError:
            return None
        return Notes(conversation_id, found) if found else None

    async def on_event(self, ctx: Context, event: dict[str, Any] | None, following: Iterable[str]) -> Reaction | None:
        """What a signal on this person's channels means for this socket; None: not one for the hook."""
        if event is None:  # the staff channel may have missed a claim: look again
            return Reaction(adopt=[c.id for c in await conv_store.held_by(ctx.engine, self.p.id)])
        kind = event.get("type")
        if kind == Claimed.type:
            return Reaction(adopt=[event["conversation_id"]])
        if kind == Logout.type and event.get("session") == self.session_hash:
            return Reaction([Error(Code.UNAUTHORIZED, "You have logged out.", reason="logged_out")], Close.UNAUTHORIZED)
        if kind == Logout.type and event.get("all") is True:  # an admin deactivated the account or reset its password
            frame = Error(Code.UNAUTHORIZED, "Your session has ended; log in again.", reason="ended_by_admin")
            return Reaction([frame], Close.UNAUTHORIZED)
        if kind == "access_changed":  # roles, teams or name changed: reconnecting picks them up
            return Reaction(close=Close.TRY_AGAIN)
        if kind == Presence.type:
            return Reaction([event], status=Availability(event["status"]))
        if kind in {"offer_withdrawn", "visitor_presence"}:
            return Reaction([event])
        if kind == "offer":  # the summary is added here: health data does not travel the bus in clear
            offer = await dispatch.offer_frame(ctx, event)
            return Reaction([offer] if offer is not None else [])
        if kind in {Alert.type, ScreeningEvent.type}:  # sealed on the bus: opened here, for this socket
            shown = await health.open_event(ctx, event)
            if shown is None:
                return IGNORED
            if kind == Alert.type:
                key = (shown["conversation_id"], ",".join(shown.get("categories", [])))
                if key in self.alerted:  # the same alert arrives once per team channel this person is in
                    return IGNORED
                self.alerted.add(key)
            return Reaction([shown])
        if kind == Released.type:
            return Reaction([event], release=event["conversation_id"])
        if kind == "note":
            return Reaction(notes=event["conversation_id"] if event["conversation_id"] in following else None)
        return None
