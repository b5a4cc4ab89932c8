"""Who may do what: one table of role × action → scope, and the two questions everything else asks of it.

Nothing else decides access. A route declares its action (``chat/web/routes.py``), a socket frame type maps
to one (``chat/web/frames.py``), and a service asks ``allowed``/``require`` with the conversation or team
it is about. A person with several roles may do what any of their roles may. The table is also rendered
into ``docs/security.md`` (``table_markdown``); a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chat.errors import ChatError, Code, Forbidden
from chat.store.conversations import ConversationRecord


class StaffRole(StrEnum):
    RECEPTION = "reception"
    COUNSELLOR = "counsellor"
    AMBULANT = "ambulant"
    LEAD = "lead"  # edits the canned answers of their own teams
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"  # reads the audit log; no conversations


class Action(StrEnum):
    """Every staff action. The values are what ``/api/v1/staff/me`` lists in ``can``."""

    SESSION = "session"  # who am I, log out
    CONSOLE = "console"  # open the staff socket, keep it alive
    SET_PRESENCE = "set_presence"
    QUEUE_READ = "queue_read"
    CLAIM = "claim"
    ACCEPT = "accept"
    DECLINE = "decline"
    RECEIVE = "receive"  # be named as the person a conversation is handed to
    TRANSFER = "transfer"
    REASSIGN = "reassign"
    CLOSE = "close"
    WRITE = "write"
    TYPING = "typing"
    READ_RECEIPT = "read_receipt"
    FOLLOW = "follow"  # replay and live messages of a conversation on the staff socket
    TRANSCRIPT_READ = "transcript_read"
    NOTES_READ = "notes_read"
    NOTE_ADD = "note_add"
    EARLIER_LIST = "earlier_list"
    EARLIER_READ = "earlier_read"
    CONCERN_REPORT = "concern_report"
    CONCERN_LIST = "concern_list"
    CANNED_READ = "canned_read"
    CANNED_EDIT = "canned_edit"
    CRISIS_LINES = "crisis_lines"
    OUTCOMES = "outcomes"
    TEAMS = "teams"
    PRESENCE = "presence"  # who is online, with their load
    OVERVIEW = "overview"
    STAFF_LIST = "staff_list"
    STAFF_CREATE = "staff_create"
    STAFF_CHANGE = "staff_change"
    STAFF_PASSWORD = "staff_password"  # noqa: S105 (an action name, not a password)
    HOURS_LIST = "hours_list"
    HOURS_ADD = "hours_add"
    HOURS_REMOVE = "hours_remove"
    AUDIT_READ = "audit_read"


class Scope(StrEnum):
    """How far an allowed action reaches. For an action about no conversation or team, any scope but
    ``none`` allows it."""

    NONE = "none"
    OFFERED = "offered-to-me"  # a conversation on offer to this person
    HELD = "held-by-me"  # a conversation this person holds
    TEAM = "my team"  # a conversation in (or a team among) this person's teams
    ANY = "any"


@dataclass(frozen=True)
class Principal:
    """A logged-in staff member as the services see them."""

    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]
    session_expires: datetime | None = None


R, S = StaffRole, Scope
_WORKERS = (R.RECEPTION, R.COUNSELLOR, R.AMBULANT, R.LEAD, R.ADMIN)


def _row(workers: Scope, supervisor: Scope, *, lead: Scope | None = None, admin: Scope | None = None,
         auditor: Scope = S.NONE) -> dict[StaffRole, Scope]:
    """One action's scopes: the roles that work conversations (reception, counsellor, ambulant, lead, admin:
    an admin in a team works it like anyone in it) share ``workers`` unless named on their own."""
    row = {r: workers for r in _WORKERS}
    if lead is not None:
        row[R.LEAD] = lead
    if admin is not None:
        row[R.ADMIN] = admin
    row[R.SUPERVISOR] = supervisor
    row[R.AUDITOR] = auditor
    return row


_ADMIN_ONLY = _row(S.NONE, S.NONE, admin=S.ANY)

TABLE: dict[Action, dict[StaffRole, Scope]] = {
    Action.SESSION: _row(S.ANY, S.ANY, auditor=S.ANY),
    Action.CONSOLE: _row(S.ANY, S.ANY),
    Action.SET_PRESENCE: _row(S.ANY, S.ANY),
    Action.QUEUE_READ: _row(S.TEAM, S.ANY),
    Action.CLAIM: _row(S.TEAM, S.ANY),
    Action.ACCEPT: _row(S.OFFERED, S.OFFERED),
    Action.DECLINE: _row(S.OFFERED, S.OFFERED),
    Action.RECEIVE: _row(S.ANY, S.ANY),
    Action.TRANSFER: _row(S.HELD, S.ANY),
    Action.REASSIGN: _row(S.NONE, S.ANY),
    Action.CLOSE: _row(S.HELD, S.ANY),
    # Only the holder writes, even for a supervisor: the young person sees one person at a time.
    Action.WRITE: _row(S.HELD, S.HELD),
    Action.TYPING: _row(S.HELD, S.HELD),
    Action.READ_RECEIPT: _row(S.HELD, S.HELD),
    Action.FOLLOW: _row(S.HELD, S.ANY),
    Action.TRANSCRIPT_READ: _row(S.HELD, S.ANY),
    Action.NOTES_READ: _row(S.HELD, S.ANY),
    Action.NOTE_ADD: _row(S.HELD, S.ANY),
    Action.EARLIER_LIST: _row(S.HELD, S.ANY),
    Action.EARLIER_READ: _row(S.HELD, S.ANY),
    Action.CONCERN_REPORT: _row(S.HELD, S.ANY),
    Action.CONCERN_LIST: _row(S.HELD, S.ANY),
    Action.CANNED_READ: _row(S.TEAM, S.ANY, admin=S.ANY),
    Action.CANNED_EDIT: _row(S.NONE, S.NONE, lead=S.TEAM, admin=S.ANY),
    Action.CRISIS_LINES: _row(S.ANY, S.ANY),
    Action.OUTCOMES: _row(S.ANY, S.ANY),
    Action.TEAMS: _row(S.ANY, S.ANY, auditor=S.ANY),  # names and counts, no conversation
    Action.PRESENCE: _row(S.ANY, S.ANY),
    Action.OVERVIEW: _row(S.NONE, S.ANY),
    Action.STAFF_LIST: _ADMIN_ONLY,
    Action.STAFF_CREATE: _ADMIN_ONLY,
    Action.STAFF_CHANGE: _ADMIN_ONLY,
    Action.STAFF_PASSWORD: _ADMIN_ONLY,
    Action.HOURS_LIST: _ADMIN_ONLY,
    Action.HOURS_ADD: _ADMIN_ONLY,
    Action.HOURS_REMOVE: _ADMIN_ONLY,
    Action.AUDIT_READ: _row(S.NONE, S.NONE, admin=S.ANY, auditor=S.ANY),
}

_ROLES = frozenset(str(r) for r in StaffRole)
Target = ConversationRecord | str | None  # a conversation, a team id, or nothing in particular


def scopes(p: Principal, action: Action) -> set[Scope]:
    """The scopes this person's roles give for ``action`` (``none`` left out); unknown roles give nothing."""
    row = TABLE[action]
    return {row[StaffRole(r)] for r in p.roles if r in _ROLES} - {S.NONE}


def _reaches(p: Principal, scope: Scope, target: Target) -> bool:
    if scope is S.ANY or target is None:
        return True
    if isinstance(target, str):  # a team
        return scope is S.TEAM and target in p.teams
    if scope is S.HELD:
        return target.assigned_staff_id == p.id
    if scope is S.OFFERED:
        return target.offered_to == p.id
    return target.team in p.teams  # S.TEAM


def allowed(p: Principal, action: Action, target: Target = None) -> bool:
    """Whether this person may do ``action`` to ``target`` (a conversation, a team id, or None: at all)."""
    return any(_reaches(p, s, target) for s in scopes(p, action))


def require(p: Principal, action: Action, target: Target = None, error: ChatError | None = None) -> None:
    """``allowed`` or raise: ``error`` when the route promises its own answer (a conversation someone else
    holds is ``not_found`` on some routes, ``not_claimed`` on others), else 403 ``forbidden``."""
    if not allowed(p, action, target):
        raise error or Forbidden(Code.FORBIDDEN, "You may not do this.")


def reaches_any(p: Principal, action: Action) -> bool:
    """Whether ``action`` reaches every conversation and team for this person (no narrowing needed)."""
    return S.ANY in scopes(p, action)


def teams_for(p: Principal, action: Action) -> Sequence[str] | None:
    """The teams ``action`` reaches for this person: None means all of them."""
    found = scopes(p, action)
    if S.ANY in found:
        return None
    return p.teams if S.TEAM in found else ()


def can(p: Principal) -> list[str]:
    """Every action this person may do somewhere (what the console shows or hides)."""
    return [str(a) for a in Action if scopes(p, a)]


def may_receive(roles: Sequence[str]) -> bool:
    """Whether someone with these roles can be handed a conversation by name."""
    return any(r in _ROLES and TABLE[Action.RECEIVE][StaffRole(r)] is not S.NONE for r in roles)


# Roles that work a team's queue (or, for a lead, its canned answers): without a team such a person sees an
# empty queue. A supervisor sees every queue, an admin works no queue and an auditor none at all, so they
# need no team.
TEAM_ROLES = (StaffRole.RECEPTION, StaffRole.COUNSELLOR, StaffRole.AMBULANT, StaffRole.LEAD)


def role_missing_a_team(roles: Sequence[str], teams: Sequence[str]) -> str | None:
    """The first of ``roles`` that needs a team when ``teams`` is empty, else None. A supervisor who also
    works reception needs none (they see every queue); a lead always does (they edit their teams' answers)."""
    if teams:
        return None
    needing = [r for r in TEAM_ROLES if r in roles and (r == StaffRole.LEAD or StaffRole.SUPERVISOR not in roles)]
    return str(needing[0]) if needing else None


def lacks_team(p: Principal) -> bool:
    """Works a queue but is in no team and does not see every queue: this person's queue stays empty until
    an admin adds them to a team (an account made before ``role_missing_a_team`` was enforced, or an admin's
    own)."""
    return not p.teams and bool(scopes(p, Action.QUEUE_READ)) and not reaches_any(p, Action.QUEUE_READ)


def table_markdown() -> str:
    """The table as Markdown, for docs/security.md ("Who may do what")."""
    roles = list(StaffRole)
    lines = ["| action | " + " | ".join(roles) + " |", "| --- |" + " --- |" * len(roles)]
    for action, row in TABLE.items():
        lines.append(f"| `{action}` | " + " | ".join("—" if row[r] is S.NONE else str(row[r]) for r in roles) + " |")
    return "\n".join(lines) + "\n"
