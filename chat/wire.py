"""What goes out on the wire and on the bus: every server→client frame and every bus event, typed once.

One frozen dataclass per ``type``, each written by the one ``to_json`` (``type`` first, then its fields in
the order declared; a field declared with ``OMIT`` is left out while it is None) and sent by ``encode``/
``dumps``. The conversation states and the senders are ``StrEnum``s, so the wire and the database keep
the very strings they always had. ``iso`` is the one way a time is written (UTC, ``…Z``).

Conversation events (``msg``, ``typing``, ``read``, ``state``) are shaped like the frames of the same name,
so a socket forwards them as they are; a ``msg`` on the bus carries ciphertext (``ct``), never text.
Incoming frames are parsed in ``chat/web/frames.py``; the channels are in ``chat/service/events.py``.
This module imports nothing of the project: the store, the services and the web layer all use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar


class State(StrEnum):
    """Where a conversation is: waiting in a queue, held by one staff member, or ended."""

    QUEUED = "queued"
    ACTIVE = "active"
    CLOSED = "closed"


class Sender(StrEnum):
    """Who wrote a message (also a socket's side: ``visitor`` or ``staff``)."""

    VISITOR = "visitor"
    STAFF = "staff"
    SYSTEM = "system"


def iso(t: datetime | None) -> str | None:
    """A UTC time as every frame writes it: ``2026-11-23T10:51:06.270681Z``."""
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def dumps(obj: Wire | dict[str, Any]) -> str:
    """Compact JSON text, UTF-8 as is (a frame is sent exactly like this)."""
    return json.dumps(obj.to_json() if isinstance(obj, Wire) else obj, ensure_ascii=False, separators=(",", ":"))


def encode(obj: Wire | dict[str, Any]) -> bytes:
    """The bytes published on the bus."""
    return dumps(obj).encode()


def decode(payload: bytes | str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(payload)
    return event


OMIT: dict[str, bool] = {"omit": True}  # field metadata: left out of the JSON while None


class Wire:
    """A frame or event: ``type`` first, then the fields; a trailing ``_`` in a name is dropped (``from_``)."""

    type: ClassVar[str]
    _names: ClassVar[tuple[tuple[str, str, bool], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._names = ()  # filled on first use: the dataclass decorator runs after this hook

    def to_json(self) -> dict[str, Any]:
        names = type(self)._names
        if not names:
            names = tuple((f.name, f.name.rstrip("_"), bool(f.metadata.get("omit"))) for f in fields(self))  # type: ignore[arg-type]
            type(self)._names = names
        out: dict[str, Any] = {"type": self.type}
        for attr, key, omit in names:
            value = getattr(self, attr)
            if omit and value is None:
                continue
            out[key] = value
        return out


# Conversation events: on the conversation's channel, forwarded to its sockets as they are.


@dataclass(frozen=True, slots=True)
class MsgEvent(Wire):
    """A stored message on the bus: ciphertext only (base64); each instance decrypts for its own sockets."""

    type: ClassVar[str] = "msg"
    conversation_id: str
    seq: int
    from_: str
    author: str | None
    ct: str
    ts: str | None
    client_msg_id: str | None


@dataclass(frozen=True, slots=True)
class Msg(Wire):
    """A message as a socket or a transcript shows it; ``unreadable`` when it failed its integrity check."""

    type: ClassVar[str] = "msg"
    conversation_id: str
    seq: int
    from_: str
    author: str | None
    text: str | None
    ts: str | None
    client_msg_id: str | None
    unreadable: bool | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class Typing(Wire):
    type: ClassVar[str] = "typing"
    conversation_id: str
    from_: str
    on: bool


@dataclass(frozen=True, slots=True)
class Read(Wire):
    type: ClassVar[str] = "read"
    conversation_id: str
    from_: str
    seq: int


@dataclass(frozen=True, slots=True)
class StateChanged(Wire):
    """``state``: the conversation was claimed, handed on, queued again or closed (``staff``: the holder's name)."""

    type: ClassVar[str] = "state"
    conversation_id: str
    state: str
    staff: str | None
    # Only to a staff socket that has just been handed the conversation: the page has not seen it yet.
    summary: dict[str, Any] | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class Left(Wire):
    """Quick exit: the visitor's token has ended; its sockets close."""

    type: ClassVar[str] = "left"
    conversation_id: str


@dataclass(frozen=True, slots=True)
class TokenReplaced(Wire):
    """A return code gave the conversation a new token; sockets opened with the old one close."""

    type: ClassVar[str] = "token_replaced"
    conversation_id: str


@dataclass(frozen=True, slots=True)
class ScreeningEvent(Wire):
    """A self-test result, sealed (health data): opened by each instance for the holder's sockets."""

    type: ClassVar[str] = "screening"
    conversation_id: str
    sealed: str


# Signals on the queue channel (each instance's queue watcher reads the queue again) and the hours channel.


@dataclass(frozen=True, slots=True)
class QueueChanged(Wire):
    type: ClassVar[str] = "queue_changed"


@dataclass(frozen=True, slots=True)
class PresenceChanged(Wire):
    type: ClassVar[str] = "presence_changed"


@dataclass(frozen=True, slots=True)
class HoursChanged(Wire):
    type: ClassVar[str] = "hours_changed"


# Signals on a staff member's channel (``s:<id>``) or a team's (``t:<team>``).


@dataclass(frozen=True, slots=True)
class Claimed(Wire):
    """This person now holds the conversation: their sockets follow it."""

    type: ClassVar[str] = "claimed"
    conversation_id: str
    transferred: bool | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class Released(Wire):
    """This person no longer holds the conversation (``transferred``, ``reopened``, ``deactivated``)."""

    type: ClassVar[str] = "released"
    conversation_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Offer(Wire):
    type: ClassVar[str] = "offer"
    conversation_id: str
    expires_at: str | None


@dataclass(frozen=True, slots=True)
class OfferWithdrawn(Wire):
    type: ClassVar[str] = "offer_withdrawn"
    conversation_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class NoteAdded(Wire):
    type: ClassVar[str] = "note"
    conversation_id: str


@dataclass(frozen=True, slots=True)
class Logout(Wire):
    """One session ended (``session``: its hash), or every session of the person (``all``)."""

    type: ClassVar[str] = "logout"
    session: str | None = field(default=None, metadata=OMIT)
    all: bool | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class AccessChanged(Wire):
    type: ClassVar[str] = "access_changed"


@dataclass(frozen=True, slots=True)
class Presence(Wire):
    """This person's availability changed (on any of their devices)."""

    type: ClassVar[str] = "presence"
    status: str


@dataclass(frozen=True, slots=True)
class VisitorPresence(Wire):
    type: ClassVar[str] = "visitor_presence"
    conversation_id: str
    connected: bool
    away_since: str | None


@dataclass(frozen=True, slots=True)
class Alert(Wire):
    """A risk signal; the categories travel sealed (health data)."""

    type: ClassVar[str] = "alert"
    conversation_id: str
    team: str
    state: str
    priority: int
    seq: int | None
    sealed: str


# Frames only a socket is sent (never on the bus).


@dataclass(frozen=True, slots=True)
class Ack(Wire):
    """The message is stored (sent only after its commit). ``ts``: when it was stored, so the sender shows its
    own message from the ack (it gets no echo). Staff acks name the conversation."""

    type: ClassVar[str] = "ack"
    client_msg_id: str
    seq: int
    conversation_id: str | None = field(default=None, metadata=OMIT)
    ts: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class Pong(Wire):
    type: ClassVar[str] = "pong"


@dataclass(frozen=True, slots=True)
class Error(Wire):
    type: ClassVar[str] = "error"
    code: str
    message: str
    client_msg_id: str | None = field(default=None, metadata=OMIT)
    reason: str | None = field(default=None, metadata=OMIT)  # why a socket is being closed (``logged_out``, ``token_replaced`` …)
    retry_after: int | None = field(default=None, metadata=OMIT)  # seconds, when the refusal is "not now" (a hello storm)


@dataclass(frozen=True, slots=True)
class QueuePlace(Wire):
    """``queue``: a waiting visitor's place in line."""

    type: ClassVar[str] = "queue"
    position: int
    estimated_wait_s: int


@dataclass(frozen=True, slots=True)
class QueueUpdate(Wire):
    """A staff member's queue."""

    type: ClassVar[str] = "queue_update"
    queue: list[dict[str, Any]]
    now: str | None


@dataclass(frozen=True, slots=True)
class Notes(Wire):
    type: ClassVar[str] = "notes"
    conversation_id: str
    notes: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Crisis(Wire):
    type: ClassVar[str] = "crisis"
    reason: str
    resources: Any


@dataclass(frozen=True, slots=True)
class ScreeningResult(Wire):
    type: ClassVar[str] = "screening_result"
    instrument: str
    score: int
    max_score: int
    zone: str
    explanation: dict[str, Any]


@dataclass(frozen=True, slots=True)
class VisitorWelcome(Wire):
    type: ClassVar[str] = "welcome"
    conversation_id: str
    state: str
    staff: str | None
    queue: dict[str, int] | None
    last_seq: int
    open: bool
    opens_at: str | None
    hours: Any
    crisis: Any
    self_tests: list[str]


@dataclass(frozen=True, slots=True)
class StaffWelcome(Wire):
    type: ClassVar[str] = "welcome"
    staff: dict[str, Any]
    conversations: list[dict[str, Any]]
