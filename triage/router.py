"""decide(): which team's queue a conversation goes to, at what priority, for whom, and why; escalate(),
overflow() and choose_counsellor(): the same rules later in the conversation's life.

Pure: the caller passes the region, the intake, the time and who is online with what load. Gender is in
the intake for statistics only and is never read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from triage import hours
from triage import reasons as say
from triage.geography import area_of, home_team, within
from triage.reasons import Reason
from triage.region import Priority, Region, Rule, Team
from triage.screening import NAMES, ScreeningResult, zone_label

__all__ = [
    "NO_SIGNALS",
    "Counsellor",
    "Decision",
    "Escalation",
    "Intake",
    "Priority",
    "Reason",
    "Signals",
    "choose_counsellor",
    "decide",
    "escalate",
    "overflow",
]


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
class Decision:
    team: str
    priority: Priority
    reasons: tuple[Reason, ...]
    preferred_staff: int | None = None
    open: bool = True  # the team is open now
    opens_at: datetime | None = None  # when closed: when the team opens next
    rule: str | None = None  # the name of the rule that matched; None when the default team took it
    first_choice: str | None = None  # the team the rules chose, before closed hours handed on


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
    previous_team: str | None = None,
) -> Decision:
    """Rules in order, first match wins; a closed team hands on along its fallback chain to the first
    open one; everything ends at the default team, so nothing is unroutable. A returning visitor goes back
    to ``previous_staff`` in ``previous_team`` (where the conversation was last) when that person can take
    it there now, whatever the rules would choose today."""
    reasons: list[Reason] = [*_facts(intake)]
    rule, team, routing = _route(region, intake)
    reasons += routing

    priority = Priority.NORMAL
    if rule is not None and rule.priority is not None and rule.priority > priority:
        priority = rule.priority
        reasons.append(say.priority_by_rule(region, rule.when, priority, intake.role, intake.municipality,
                                            intake.topic, intake.age_band))
    raised = escalate(region, Priority.NORMAL, signals)
    priority = max(priority, raised.priority)
    reasons += raised.reasons

    chosen, is_open, opens_at, closed = _open_along_chain(region, team, now)
    reasons += closed

    preferred = None
    if previous_staff is not None:
        back = region.team(previous_team) if previous_team else None
        if back is not None and back.id != chosen.id and _is_open(region, back, now):
            preferred, _ = _preferred(region, back, previous_staff, online)
            if preferred is not None:
                chosen, is_open, opens_at = back, True, None
                reasons.append(say.returning_back(back))
        if preferred is None:
            preferred, returning = _preferred(region, chosen, previous_staff, online)
            reasons.append(returning)

    return Decision(
        team=chosen.id,
        priority=priority,
        reasons=tuple(reasons),
        preferred_staff=preferred,
        open=is_open,
        opens_at=opens_at,
        rule=rule.name if rule is not None else None,
        first_choice=team.id,
    )


def escalate(region: Region, current: Priority, signals: Signals) -> Escalation:
    """The priority a conversation should have now, given new signals (never lower than ``current``), with a
    reason for each signal that raises it: a risk signal makes it urgent, a self-test result in or above the
    instrument's raise_priority_from zone makes it at least high."""
    priority = current
    reasons: list[Reason] = []
    for result in signals.screening:
        if result.raises_priority and Priority.HIGH > current:
            priority = max(priority, Priority.HIGH)
            name = NAMES.get(result.instrument, result.instrument.upper())
            zone = zone_label(result.zone, "sv"), zone_label(result.zone, "en")
            reasons.append(say.screening(name, result.score, zone))
    if signals.risk and Priority.URGENT > current:
        priority = Priority.URGENT
        reasons.append(say.risk(sorted(signals.risk)))
    return Escalation(priority, tuple(reasons))


def overflow(
    region: Region, team_id: str, now: datetime, *, online: Sequence[Counsellor], oldest_wait_s: float
) -> tuple[str, Reason] | None:
    """Where a team's waiting conversations should move now (the fallback team and why), or None.

    An open team overflows when nobody in it is online and available, or when the oldest has waited longer
    than its max_wait_s, provided its fallback is open and staffed (the default team counts as staffed: it
    is where everything ends). A closed team's queue waits for opening, unless its fallback is open with
    someone available now. The default team never overflows."""
    team = region.team(team_id)
    if team is None or team.id == region.default_team or team.fallback is None:
        return None
    fallback = region.team(team.fallback)
    if fallback is None or not _is_open(region, fallback, now):
        return None
    fallback_staffed = any(_available_in(c, fallback.id) for c in online)
    if not _is_open(region, team, now):
        if not fallback_staffed:
            return None
        return fallback.id, say.overflow_closed(team, fallback)
    if not (fallback_staffed or fallback.id == region.default_team):
        return None
    if not any(_available_in(c, team.id) for c in online):
        return fallback.id, say.overflow_nobody(team, fallback)
    if team.max_wait_s is not None and oldest_wait_s > team.max_wait_s:
        return fallback.id, say.overflow_waited(team, fallback, team.max_wait_s)
    return None


def choose_counsellor(
    region: Region, team_id: str, online: Sequence[Counsellor], exclude: frozenset[int] = frozenset()
) -> int | None:
    """The available team member below capacity with the fewest open chats (ties: most spare capacity, then
    lowest id), or None."""
    team = region.team(team_id)
    if team is None:
        return None
    candidates = [
        c for c in online if _available_in(c, team.id) and c.staff_id not in exclude and c.open_chats < _capacity(c, team)
    ]
    if not candidates:
        return None
    best = min(candidates, key=lambda c: (c.open_chats, -(_capacity(c, team) - c.open_chats), c.staff_id))
    return best.staff_id


# --- rules ------------------------------------------------------------------------------------------------


def _route(region: Region, intake: Intake) -> tuple[Rule | None, Team, list[Reason]]:
    """The first rule that matches and finds a team, that team, and the reasons; else the default team."""
    reasons: list[Reason] = []
    for rule in region.rules:
        if not _matches(region, rule, intake):
            continue
        if rule.team is not None:
            team = _team(region, rule.team)
            reasons.append(say.rule(region, rule.when, team, intake.role, intake.municipality, intake.topic, intake.age_band))
            return rule, team, reasons
        if rule.by_municipality:
            home = home_team(region, intake.municipality, role=intake.role, topic=intake.topic, age_band=intake.age_band)
            if home is None:
                reasons.append(say.no_home(region, intake.municipality))
                continue
            reasons.append(say.home(region, home, intake.role, intake.municipality))
            return rule, home, reasons
    team = _team(region, region.default_team)
    reasons.append(say.default(team))
    return None, team, reasons


def _matches(region: Region, rule: Rule, intake: Intake) -> bool:
    when = rule.when
    return (
        within(when.roles, intake.role)
        and within(when.municipalities, intake.municipality)
        and within(when.areas, area_of(region, intake.municipality))
        and within(when.topics, intake.topic)
        and within(when.age_bands, intake.age_band)
    )


def _team(region: Region, team_id: str) -> Team:
    team = region.team(team_id)
    if team is None:  # config.py refuses a region whose rules or fallbacks name a missing team
        raise LookupError(f"region {region.id} has no team {team_id!r}")
    return team


# --- opening hours ----------------------------------------------------------------------------------------


def _is_open(region: Region, team: Team, now: datetime) -> bool:
    return hours.team_is_open(region, team.id, now)


def _chain(region: Region, team: Team) -> list[Team]:
    """The team and its fallbacks in order, each once (a loop in the config ends the chain)."""
    chain = [team]
    while chain[-1].fallback is not None and chain[-1].fallback not in {t.id for t in chain}:
        chain.append(_team(region, chain[-1].fallback))
    return chain


def _open_along_chain(region: Region, team: Team, now: datetime) -> tuple[Team, bool, datetime | None, list[Reason]]:
    """The first team along the fallback chain that is open now; when none is, the one that opens soonest
    (ties: the earlier in the chain), closed, with its opening time."""
    chain = _chain(region, team)
    reasons: list[Reason] = []
    for here, onward in pairwise(chain):
        if _is_open(region, here, now):
            return here, True, None, reasons
        reasons.append(say.closed_on(here, onward))
    if _is_open(region, chain[-1], now):
        return chain[-1], True, None, reasons

    openings = [hours.team_opens_at(region, t.id, now) for t in chain]
    soonest = min(range(len(chain)), key=lambda i: (openings[i] is None, openings[i] or now, i))
    kept, opens_at = chain[soonest], openings[soonest]
    local = None if opens_at is None else opens_at.astimezone(ZoneInfo(region.timezone))
    return kept, False, opens_at, [say.all_closed(kept, local)]


# --- people -----------------------------------------------------------------------------------------------


def _available_in(counsellor: Counsellor, team_id: str) -> bool:
    return counsellor.available and team_id in counsellor.teams


def _capacity(counsellor: Counsellor, team: Team) -> int:
    return counsellor.capacity if counsellor.capacity is not None else team.capacity


def _preferred(region: Region, team: Team, staff_id: int, online: Sequence[Counsellor]) -> tuple[int | None, Reason]:
    """A returning visitor's earlier counsellor, when they can take the conversation in this team now."""
    person = next((c for c in online if c.staff_id == staff_id), None)
    if person is None:
        why = ("är inte inloggad", "is not online")
    elif not person.available:
        why = ("är inte ledig", "is not available")
    elif team.id not in person.teams:
        why = (f"är inte med i {team.name}", f"is not in {team.name}")
    elif person.open_chats >= _capacity(person, team):
        why = ("har fullt", "is at capacity")
    else:
        return staff_id, say.returning_first()
    return None, say.returning_anyone(team, why)


# --- words ------------------------------------------------------------------------------------------------


def _facts(intake: Intake) -> list[Reason]:
    """What the person told us that routing reads (never gender)."""
    facts = []
    if intake.topic is not None:
        facts.append(say.topic(intake.topic))
    if intake.age_band is not None:
        facts.append(say.age(intake.age_band))
    return facts
