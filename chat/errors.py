"""Error codes and the ChatError family: the one place that names what can go wrong.

Services raise these; ``web/errors.py`` alone turns them into JSON bodies or ``error`` frames.
Messages are fixed sentences and never echo what the client sent.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    # Frame and body shape.
    BAD_JSON = "bad_json"
    NOT_OBJECT = "not_object"
    UNKNOWN_TYPE = "unknown_type"
    INVALID = "invalid"
    EMPTY_TEXT = "empty_text"
    TEXT_TOO_LONG = "text_too_long"
    FRAME_TOO_LARGE = "frame_too_large"
    # Protocol order.
    HELLO_REQUIRED = "hello_required"
    ALREADY_HELLO = "already_hello"
    HELLO_TIMEOUT = "hello_timeout"
    BAD_LAST_SEQ = "bad_last_seq"
    # Who you are and what you may do.
    UNAUTHORIZED = "unauthorized"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 (an error code, not a secret)
    SESSION_EXPIRED = "session_expired"
    FORBIDDEN = "forbidden"
    ORIGIN_FORBIDDEN = "origin_forbidden"
    CSRF_FAILED = "csrf_failed"
    LOGIN_FAILED = "login_failed"
    LOCKED_OUT = "locked_out"
    NOT_CLAIMED = "not_claimed"
    # State.
    NOT_FOUND = "not_found"
    ALREADY_CLAIMED = "already_claimed"
    CONVERSATION_CLOSED = "conversation_closed"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    UNSUPPORTED = "unsupported"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    DELETED_BY_RETENTION = "deleted_by_retention"
    KEY_UNAVAILABLE = "key_unavailable"
    AUDIT_UNAVAILABLE = "audit_unavailable"
    # Triage: offers, transfers, self-tests, return codes.
    OFFERED_ELSEWHERE = "offered_elsewhere"
    OFFER_ENDED = "offer_ended"
    UNKNOWN_TEAM = "unknown_team"
    TEAM_REQUIRED = "team_required"
    UNKNOWN_STAFF = "unknown_staff"
    INVALID_ANSWERS = "invalid_answers"
    SELF_TEST_NOT_FOR_YOU = "self_test_not_for_you"
    RETURN_CODE_INVALID = "return_code_invalid"
    # Key management (the CLI).
    KEYS_READ_ONLY = "keys_read_only"
    KEY_IN_USE = "key_in_use"
    INTERNAL = "internal"


class ChatError(Exception):
    """A refusal the client should understand; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BadInput(ChatError):
    status = 400


class Unauthorized(ChatError):
    status = 401


class Forbidden(ChatError):
    status = 403


class NotFound(ChatError):
    status = 404

    def __init__(self, message: str = "No such thing exists, or it is not yours to see.") -> None:
        super().__init__(Code.NOT_FOUND, message)


class Conflict(ChatError):
    status = 409


class Gone(ChatError):
    status = 410


class KeyUnavailable(ChatError):
    """A conversation's data key cannot be unwrapped (its KEK is missing, or the row was changed)."""

    status = 500

    def __init__(self) -> None:
        super().__init__(Code.KEY_UNAVAILABLE, "This conversation cannot be read: its key is unavailable.")


class TooMany(ChatError):
    status = 429

    def __init__(self, message: str = "Too many requests; slow down and try again.") -> None:
        super().__init__(Code.RATE_LIMITED, message)


class Unavailable(ChatError):
    status = 503

    def __init__(self, message: str = "The service is unavailable right now; try again shortly.") -> None:
        super().__init__(Code.UNAVAILABLE, message)


class AuditUnavailable(ChatError):
    """A read that must be audited could not be: its audit entry was not written, so nothing is read."""

    status = 503

    def __init__(self) -> None:
        super().__init__(Code.AUDIT_UNAVAILABLE, "This cannot be read now: the audit log cannot be written.")
