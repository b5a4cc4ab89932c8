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


# Roles that work a team's queue (or, for a lead, its canned answers): without a team such a person sees an
# empty queue. A supervisor sees every queue and an admin works no queue, so they need no team.
TEAM_ROLES = (StaffRole.RECEPTION, StaffRole.COUNSELLOR, StaffRole.AMBULANT, StaffRole.LEAD)


def role_missing_a_team(roles: Sequence[str], teams: Sequence[str]) -> str | None:
    """The first of ``roles`` that needs a team when ``teams`` is empty, else None. A supervisor who also
    works reception needs none (they see every queue); a lead always does (they edit their teams' answers)."""
    if teams:
        return None
    needing = [r for r in TEAM_ROLES if r in roles and (r == StaffRole.LEAD or StaffRole.SUPERVISOR not in roles)]
    return str(needing[0]) if needing else None


def lacks_team(p: Principal) -> bool:
    """In no team and not a supervisor: this person's queue stays empty until an admin adds them to a team
    (an account made before ``role_missing_a_team`` was enforced, or an admin's own)."""
    return not p.teams and not p.sees_all_teams


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
