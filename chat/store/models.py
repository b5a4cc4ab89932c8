"""SQLModel tables: the only ``table=True`` classes. Never sent out; services map them to dataclasses."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as date_
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every dialect (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class Staff(SQLModel, table=True):
    __tablename__ = "staff"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    display_name: str = Field(sa_column=Column(String(100), nullable=False))
    password_hash: str = Field(sa_column=Column(String(200), nullable=False))
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    teams: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    # available / busy / away: what routing respects; kept here so a reload or a second device keeps it.
    availability: str = Field(default="available", sa_column=Column(String(16), nullable=False,
                                                                   server_default="available"))


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_sessions"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    staff_id: int = Field(sa_column=Column(Integer, ForeignKey("staff.id", ondelete="CASCADE"), nullable=False))
    created_at: datetime = _ts()
    expires_at: datetime = _ts()


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_state_team", "state", "team"),)
    id: str = Field(sa_column=Column(String(36), primary_key=True))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    municipality: str | None = Field(default=None, sa_column=Column(String(8)))
    topic: str | None = Field(default=None, sa_column=Column(String(32)))
    age_band: str | None = Field(default=None, sa_column=Column(String(16)))
    gender: str | None = Field(default=None, sa_column=Column(String(16)))
    language: str = Field(default="sv", sa_column=Column(String(8), nullable=False))
    team: str = Field(sa_column=Column(String(64), nullable=False))
    priority: int = Field(default=0)
    visitor_token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    token_expires_at: datetime = _ts()
    return_code_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    assigned_staff_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("staff.id", ondelete="SET NULL"))
    )
    last_seq: int = Field(default=0)
    visitor_read_seq: int = Field(default=0)
    staff_read_seq: int = Field(default=0)
    created_at: datetime = _ts()
    claimed_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    outcome: str | None = Field(default=None, sa_column=Column(String(32)))
    # The conversation's data key, only ever wrapped by a KEK (id beside it). NULL after retention:
    # everything encrypted under it is unreadable for good (crypto-shredding).
    wrapped_dek: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    kek_id: str | None = Field(default=None, sa_column=Column(String(64), index=True))
    shredded_at: datetime | None = _ts(nullable=True)
    # Triage (migration 0003). The queue is ordered by priority, then queued_at (set on entering a queue).
    queued_at: datetime | None = _ts(nullable=True)
    # Health data (migration 0013): why it was routed as it was, the risk categories found (and the message
    # that last raised one), the latest self-test results. Special-category data, so each is sealed under
    # the conversation's DEK like a message (service/health.py); only ``priority`` stays in clear, for the
    # queue's order. NULL only after retention.
    reasons_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    risk_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    screening_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    preferred_staff_id: int | None = Field(default=None, sa_column=Column(Integer))
    offered_to: int | None = Field(default=None, sa_column=Column(Integer))
    offer_expires_at: datetime | None = _ts(nullable=True)
    after_hours: bool = Field(default=False)
    reopened_count: int = Field(default=0)
    last_activity_at: datetime | None = _ts(nullable=True)
    # The part a return code opened: messages after part_start_seq; earlier parts are ConversationParts.
    part_start_seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    part_started_at: datetime | None = _ts(nullable=True)
    # Visitor presence (migration 0008): since when the young person has had no socket open; NULL while one
    # is. A queued conversation away longer than MINIMARIA_VISITOR_GRACE_S is out of the queue (gone), and
    # back in its place (queued_at is untouched) when the person returns.
    visitor_away_since: datetime | None = _ts(nullable=True)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_seq"),
        UniqueConstraint("conversation_id", "sender", "client_msg_id", name="uq_messages_client_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    )
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    sender: str = Field(sa_column=Column(String(8), nullable=False))
    staff_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("staff.id", ondelete="SET NULL")))
    author: str | None = Field(default=None, sa_column=Column(String(100)))
    client_msg_id: str | None = Field(default=None, sa_column=Column(String(64)))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # ciphertext (crypto/envelope.py)
    created_at: datetime = _ts()


class Note(SQLModel, table=True):
    """An internal staff note on a conversation; never shown to the visitor."""

    __tablename__ = "notes"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    staff_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("staff.id", ondelete="SET NULL")))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # ciphertext
    created_at: datetime = _ts()
    kind: str = Field(default="note", sa_column=Column(String(16), nullable=False, server_default="note"))


class Screening(SQLModel, table=True):
    """A self-test: which one and when in clear; the answers, and the score and zone (migration 0013), sealed."""

    __tablename__ = "screenings"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    instrument: str = Field(sa_column=Column(String(16), nullable=False))
    answers: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # ciphertext
    result: bytes | None = Field(default=None, sa_column=Column(LargeBinary))  # ciphertext: score and zone
    created_at: datetime = _ts()


class Offer(SQLModel, table=True):
    """Each automatic offer of a conversation to a counsellor and how it ended."""

    __tablename__ = "offers"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    staff_id: int = Field(sa_column=Column(Integer, ForeignKey("staff.id", ondelete="CASCADE"), nullable=False))
    offered_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)
    outcome: str = Field(sa_column=Column(String(16), nullable=False))  # pending, accepted, declined, expired, withdrawn


class ConversationPart(SQLModel, table=True):
    """An earlier, closed part of a conversation that a return code re-opened: which messages, when, who
    held it and how it ended. No content: reading the part's messages is a transcript read (audited)."""

    __tablename__ = "conversation_parts"
    __table_args__ = (UniqueConstraint("conversation_id", "part"),)
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    part: int = Field(sa_column=Column(Integer, nullable=False))
    from_seq: int = Field(sa_column=Column(Integer, nullable=False))
    to_seq: int = Field(sa_column=Column(Integer, nullable=False))
    started_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)
    outcome: str | None = Field(default=None, sa_column=Column(String(32)))
    team: str = Field(sa_column=Column(String(64), nullable=False))
    staff_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("staff.id", ondelete="SET NULL")))


class ConcernReport(SQLModel, table=True):
    """That a staff member reported a concern for a child (socialtjänstlagen 14 kap. 1 §), when, and their
    note (encrypted). It does not identify the child: the chat is anonymous. The row outlives retention;
    its note becomes unreadable with the conversation's key."""

    __tablename__ = "concern_reports"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    staff_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("staff.id", ondelete="SET NULL")))
    note: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # ciphertext
    created_at: datetime = _ts()


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, unique=True)
    )
    rating: int = Field(sa_column=Column(Integer, nullable=False))
    comment: bytes | None = Field(default=None, sa_column=Column(LargeBinary))  # ciphertext
    created_at: datetime = _ts()


class AuditEntry(SQLModel, table=True):
    """Who did what to which conversation; transcript reads are written here."""

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("seq", name="uq_audit_log_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    staff_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("staff.id", ondelete="SET NULL")))
    action: str = Field(sa_column=Column(String(32), nullable=False))
    conversation_id: str | None = Field(default=None, sa_column=Column(String(36), index=True))
    # What an admin change was about (migration 0007): a username, a canned answer's id or an override's
    # date. Never a password or free text.
    target: str | None = Field(default=None, sa_column=Column(String(100)))
    # Its name at the time, only where that is not sensitive (migration 0008): a canned answer's title, so a
    # deleted one is still named. Staff and team names are looked up when the log is read.
    target_name: str | None = Field(default=None, sa_column=Column(String(100)))
    # The hash chain (migration 0012): ``seq`` counts entries from 1 with no gaps, ``hash`` is sha256 over
    # the entry's fields and ``prev_hash`` (store/audit.py), so an edit, a deletion or a reordering shows.
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))


class AuditChain(SQLModel, table=True):
    """The audit chain's head, one row (id 1): the last entry's seq and hash, updated in the transaction that
    appends, so appends from any number of coroutines and instances queue on this row and never fork the
    chain. ``genesis_*``: the last entry pruned by the audit log's own retention (0 and the zero hash before
    any), where verification starts."""

    __tablename__ = "audit_chain"
    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    genesis_seq: int = Field(sa_column=Column(Integer, nullable=False))
    genesis_hash: str = Field(sa_column=Column(String(64), nullable=False))


class CannedAnswer(SQLModel, table=True):
    """A team's ready-made answer, written by staff (a lead or an admin): a template, not a visitor's words,
    so it is stored in plain text."""

    __tablename__ = "canned_answers"
    __table_args__ = (Index("ix_canned_answers_team", "team"),)
    id: int | None = Field(default=None, primary_key=True)
    team: str = Field(sa_column=Column(String(64), nullable=False))
    language: str = Field(sa_column=Column(String(8), nullable=False))
    title: str = Field(sa_column=Column(String(100), nullable=False))
    body: str = Field(sa_column=Column(String(4000), nullable=False))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    updated_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("staff.id", ondelete="SET NULL")))


class HoursOverride(SQLModel, table=True):
    """A date with its own opening hours, set by an admin: for one team, or every team (``team`` NULL)."""

    __tablename__ = "hours_overrides"
    __table_args__ = (Index("ix_hours_overrides_date", "date"),)
    id: int | None = Field(default=None, primary_key=True)
    date: date_ = Field(sa_column=Column(Date, nullable=False))
    team: str | None = Field(default=None, sa_column=Column(String(64)))
    spans: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # "HH:MM-HH:MM"; [] = closed
    label: str = Field(default="", sa_column=Column(String(100), nullable=False))
    created_at: datetime = _ts()
    created_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("staff.id", ondelete="SET NULL")))


metadata = SQLModel.metadata


class LoginAttempt(SQLModel, table=True):
    """Login attempts per username (``key_hash``: an HMAC of the normalised name, never the name) and one
    row ``global`` for every username together; see store/login_attempts.py."""

    __tablename__ = "login_attempts"
    key_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    started_at: datetime = _ts()
    last_at: datetime = _ts()
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    blocked_until: datetime | None = _ts(nullable=True)
