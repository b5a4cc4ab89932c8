"""Who may do what: roles × action × scope, in one table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chat.store.conversations import ConversationRecord


class StaffRole(StrEnum):
    RECEPTION = "reception"
    COUNSELLOR = "counsellor"
    AMBULANT = "ambulant"
    LEAD = "lead"  # edits the canned answers of their own teams
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """A logged-in staff member as the services see them."""

    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]
    session_expires: datetime | None = None

    @property
    def sees_all_teams(self) -> bool:
        return StaffRole.SUPERVISOR in self.roles


def is_admin(p: Principal) -> bool:
    """Staff accounts, every team's canned answers, opening-hours overrides, the audit log."""
    return StaffRole.ADMIN in p.roles


def canned_teams(p: Principal) -> Sequence[str] | None:
    """The teams whose canned answers this person reads; None means all of them."""
    return None if is_admin(p) or p.sees_all_teams else p.teams


def may_edit_canned(p: Principal, team: str) -> bool:
    return is_admin(p) or (StaffRole.LEAD in p.roles and team in p.teams)


def queue_teams(p: Principal) -> Sequence[str] | None:
    """The teams whose queues this person sees; None means all of them."""
    return None if p.sees_all_teams else p.teams


def may_claim(p: Principal, c: ConversationRecord) -> bool:
    return p.sees_all_teams or c.team in p.teams


def may_close(p: Principal, c: ConversationRecord) -> bool:
    return c.assigned_staff_id == p.id or p.sees_all_teams


def may_read_transcript(p: Principal, c: ConversationRecord) -> bool:
    return c.assigned_staff_id == p.id or p.sees_all_teams


def may_write(p: Principal, c: ConversationRecord) -> bool:
    return c.assigned_staff_id == p.id and c.state == "active"
