"""decide(): which team's queue a conversation goes to, at what priority, for whom, and why.

Pure: the caller passes the region, the intake, the time and who is online with what load.
INTERFACE: the signatures and types here are what chat/ relies on; bodies are being built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from triage.region import Priority, Region
from triage.screening import ScreeningResult


@dataclass(frozen=True)
class Intake:
    role: str
    municipality: str | None = None
    topic: str | None = None
    age_band: str | None = None
    gender: str | None = None  # statistics only: never read by the rules


@dataclass(frozen=True)
class Signals:
    """What was learnt after the start form: risk categories found in the text, self-test results."""

    risk: frozenset[str] = frozenset()
    screening: tuple[ScreeningResult, ...] = ()


NO_SIGNALS = Signals()


@dataclass(frozen=True)
class Counsellor:
    """A staff member who is online now, as routing sees them."""

    staff_id: int
    teams: frozenset[str]
    open_chats: int
    available: bool = True  # False when busy or away: never offered, never preferred
    capacity: int | None = None  # None: the team's capacity per person


@dataclass(frozen=True)
class Reason:
    """One human-readable step of a decision, in every language the staff console offers."""

    code: str  # e.g. "municipality", "rule", "closed", "overflow", "risk", "screening", "returning"
    sv: str
    en: str


@dataclass(frozen=True)
class Decision:
    team: str
    priority: Priority
    reasons: tuple[Reason, ...]
    preferred_staff: int | None = None
    open: bool = True  # the team is open now
    opens_at: datetime | None = None  # when closed: when the team opens next


@dataclass(frozen=True)
class Escalation:
    priority: Priority
    reasons: tuple[Reason, ...] = field(default=())


def decide(
    region: Region,
    intake: Intake,
    now: datetime,
    *,
    signals: Signals = NO_SIGNALS,
    online: Sequence[Counsellor] = (),
    previous_staff: int | None = None,
) -> Decision:
    """Rules in order, first match wins; a closed team hands on along its fallback chain to the first
    open one; everything ends at the default team, so nothing is unroutable."""
    team = region.default_team
    reason = Reason("fallback", f"alla samtal → {team}", f"all conversations → {team}")
    return Decision(team=team, priority=Priority.NORMAL, reasons=(reason,))


def escalate(region: Region, current: Priority, signals: Signals) -> Escalation:
    """The priority a conversation should have now, given new signals (never lower than ``current``)."""
    return Escalation(current)


def overflow(
    region: Region, team_id: str, now: datetime, *, online: Sequence[Counsellor], oldest_wait_s: float
) -> tuple[str, Reason] | None:
    """Where a team's waiting conversations should move now (the fallback team and why), or None."""
    return None


def choose_counsellor(
    region: Region, team_id: str, online: Sequence[Counsellor], exclude: frozenset[int] = frozenset()
) -> int | None:
    """The available team member with the most spare capacity (lowest load; ties: lowest id), or None."""
    return None
