"""Typed frames (WebSocket) and bodies (HTTP), and the checks every incoming frame passes.

Strict types: a number sent as a string is an error, not coerced. Unknown fields are refused.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from chat.errors import BadInput, Code
from chat.service.access import Action
from chat.service.summaries import summary as summary  # handlers render conversations with it
from chat.wire import Error

ClientMsgId = Annotated[StrictStr, Field(min_length=1, max_length=64)]
ConversationId = Annotated[StrictStr, Field(min_length=1, max_length=64)]
Seq = Annotated[StrictInt, Field(ge=0)]


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hello(Frame):
    type: Literal["hello"]
    token: StrictStr | None = None
    last_seq: StrictInt | dict[str, StrictInt] | None = None


class Msg(Frame):
    type: Literal["msg"]
    conversation_id: ConversationId | None = None
    client_msg_id: ClientMsgId
    text: StrictStr


class Typing(Frame):
    type: Literal["typing"]
    conversation_id: ConversationId | None = None
    on: StrictBool


class Read(Frame):
    type: Literal["read"]
    conversation_id: ConversationId | None = None
    seq: Seq


class Screening(Frame):
    type: Literal["screening"]
    instrument: Literal["audit", "dudit"]
    answers: Annotated[list[StrictInt], Field(max_length=20)]


class Ping(Frame):
    type: Literal["ping"]


class Presence(Frame):
    """Staff only: whether this person takes new conversations now."""

    type: Literal["presence"]
    status: Literal["available", "busy", "away"]


ClientFrame = Annotated[Hello | Msg | Typing | Read | Screening | Ping | Presence, Field(discriminator="type")]
_client = TypeAdapter(ClientFrame)
KNOWN_TYPES = frozenset({"hello", "msg", "typing", "read", "screening", "ping", "presence"})

# What each frame type a staff socket accepts asks of the access table (hello: following each conversation
# its last_seq names); a type not here is refused on the staff socket. Opening the socket itself is CONSOLE.
STAFF_FRAMES: dict[str, Action] = {
    "hello": Action.FOLLOW,
    "ping": Action.CONSOLE,
    "msg": Action.WRITE,
    "typing": Action.TYPING,
    "read": Action.READ_RECEIPT,
    "presence": Action.SET_PRESENCE,
}
# The visitor's frames, each about the one conversation the visitor token opens (no role, no table: the
# token is the whole of a visitor's access); a type not here is refused on the visitor socket.
VISITOR_FRAMES: dict[str, str] = {
    "hello": "open or resume the token's conversation",
    "ping": "keep-alive",
    "msg": "write in the token's conversation",
    "typing": "typing indicator in the token's conversation",
    "read": "read receipt in the token's conversation",
    "screening": "answer a self-test (AUDIT/DUDIT)",
}


class FrameError(BadInput):
    """A refused frame; ``client_msg_id`` is echoed when the frame was a msg that carried one."""

    def __init__(self, code: Code, message: str, client_msg_id: str | None = None) -> None:
        super().__init__(code, message)
        self.client_msg_id = client_msg_id


def parse(raw: str) -> Hello | Msg | Typing | Read | Screening | Ping | Presence:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # ValueError: also an integer past the 4,300-digit conversion limit
        raise FrameError(Code.BAD_JSON, "The frame is not valid JSON.") from None
    if not isinstance(data, dict):
        raise FrameError(Code.NOT_OBJECT, "A frame must be a JSON object.")
    cmid = data.get("client_msg_id") if isinstance(data.get("client_msg_id"), str) else None
    cmid = cmid if cmid is not None and len(cmid) <= 64 and not _not_unicode(cmid) else None
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in KNOWN_TYPES:  # a list or an object is no type either
        raise FrameError(Code.UNKNOWN_TYPE, "Unknown frame type.", cmid)
    if _too_deep(data):
        raise FrameError(Code.INVALID, TOO_DEEP, cmid)
    if _not_unicode(data):
        raise FrameError(Code.INVALID, NOT_UNICODE, cmid)
    try:
        return _client.validate_python(data)
    except ValidationError as err:
        raise FrameError(Code.INVALID, "Missing or wrongly typed fields: " + _fields(err, skip=1), cmid) from None


def check_text(frame: Msg, max_chars: int) -> str:
    if not frame.text.strip():
        raise FrameError(Code.EMPTY_TEXT, "The message is empty.", frame.client_msg_id)
    if len(frame.text) > max_chars:
        raise FrameError(Code.TEXT_TOO_LONG, f"A message may be at most {max_chars} characters.", frame.client_msg_id)
    return frame.text


def error_frame(code: str, message: str, client_msg_id: str | None = None, reason: str | None = None) -> Error:
    return Error(code, message, client_msg_id, reason)


# HTTP bodies.


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class StartBody(Body):
    role: Literal["young", "relative", "family"] | None = None  # required unless return_code is given
    municipality: Annotated[str, Field(pattern=r"^\d{4}$")] | None = None
    topic: Literal["alcohol", "drugs", "medicines", "doping", "gambling", "mental_health", "other"] | None = None
    age_band: Literal["6-12", "13-15", "16-17", "18-21", "22-25", "adult"] | None = None
    gender: Literal["girl", "boy", "other", "unsaid"] | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "sv"  # one the region offers (checked by the service)
    return_code: Annotated[str, Field(max_length=32)] | None = None


class QueueInfo(BaseModel):
    position: int
    estimated_wait_s: int


class StartedBody(BaseModel):
    conversation_id: str
    visitor_token: str
    return_code: str
    queue: QueueInfo
    state: str = "queued"  # "active" or "closed" too when a return code opened an earlier conversation
    reopened: bool = False  # a return code re-opened a closed conversation


class FeedbackBody(Body):
    rating: Annotated[StrictInt, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=2000)] | None = None


class LoginBody(Body):
    username: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=1024)]


class TransferBody(Body):
    team: Annotated[str, Field(max_length=64)] | None = None
    staff: Annotated[str, Field(max_length=64)] | None = None
    note: Annotated[str, Field(max_length=4000)] = ""


class CloseBody(Body):
    outcome: Literal[
        "advice_given", "booked_visit", "referred_bup", "referred_emergency", "referred_other", "no_contact", "other"
    ]


class ConcernBody(Body):
    note: Annotated[str, Field(min_length=1, max_length=4000)]


class NoteBody(Body):
    text: Annotated[str, Field(min_length=1, max_length=4000)]


# Administration (role admin) and canned answers (a lead of the team or an admin).

Username = Annotated[StrictStr, Field(min_length=1, max_length=64)]
DisplayName = Annotated[StrictStr, Field(min_length=1, max_length=100)]
Password = Annotated[StrictStr, Field(min_length=1, max_length=1024)]  # the length rule is the service's
Roles = Annotated[list[Annotated[StrictStr, Field(max_length=32)]], Field(max_length=10)]
Teams = Annotated[list[Annotated[StrictStr, Field(max_length=64)]], Field(max_length=50)]


class StaffCreateBody(Body):
    username: Username
    display_name: DisplayName | None = None
    password: Password
    roles: Roles
    teams: Teams = []


class StaffChangeBody(Body):
    display_name: DisplayName | None = None
    roles: Roles | None = None
    teams: Teams | None = None
    active: StrictBool | None = None


class PasswordBody(Body):
    password: Password


class CannedChangeBody(Body):
    language: Literal["sv", "en"]
    title: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    body: Annotated[StrictStr, Field(min_length=1, max_length=4000)]


class CannedBody(CannedChangeBody):
    team: Annotated[StrictStr, Field(min_length=1, max_length=64)]


class HoursOverrideBody(Body):
    date: Annotated[StrictStr, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    team: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None  # None: every team
    spans: Annotated[list[Annotated[StrictStr, Field(max_length=16)]], Field(max_length=12)]  # [] = closed
    label: Annotated[StrictStr, Field(max_length=100)] = ""


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


MAX_BODY_BYTES = 64 * 1024
B = TypeVar("B", bound=BaseModel)


def parse_body(raw: bytes, model: type[B]) -> B:
    if len(raw) > MAX_BODY_BYTES:
        raise BadInput(Code.FRAME_TOO_LARGE, "The request body is too large.")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):  # bad JSON or UTF-8, or an integer past the 4,300-digit limit
        raise BadInput(Code.BAD_JSON, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadInput(Code.NOT_OBJECT, "The request body must be a JSON object.")
    if _too_deep(data):
        raise BadInput(Code.INVALID, TOO_DEEP)
    if _not_unicode(data):
        raise BadInput(Code.INVALID, NOT_UNICODE)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise BadInput(Code.INVALID, "Missing or invalid fields: " + _fields(err, skip=0)) from None


NOT_UNICODE = "The text holds a character that is not valid Unicode (a lone surrogate such as \\ud800)."


MAX_DEPTH = 32  # no frame or body of ours nests deeper than a few levels
TOO_DEEP = "The JSON is nested too deeply."


def _not_unicode(value: object) -> bool:
    """Whether a string anywhere in a parsed JSON value holds a lone surrogate: JSON may spell one ("\\ud800"),
    but it cannot be stored or encrypted as UTF-8, so it is refused here, at the edge, and never reaches the
    group commit where it would fail the other messages of its batch. Walked with a stack, not recursion:
    a value nested a few hundred levels deep (still within the JSON parser's limit) must not overflow it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _too_deep(value: object) -> bool:
    """Whether a parsed JSON value nests deeper than MAX_DEPTH (walked with a stack, for the same reason)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def _fields(err: ValidationError, skip: int) -> str:
    """The fields at fault, named only when they are ours: a client's unknown key is never echoed."""
    names = set()
    for e in err.errors():
        if e["type"] == "extra_forbidden":
            names.add("(unknown field)")
        else:
            names.add(".".join(str(p) for p in e["loc"][skip:]) or "(the frame itself)")
    return ", ".join(sorted(names))

