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
from triage.geography import area_of, home_team, within
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
        level = _LEVEL[priority]
        reasons.append(Reason("priority", f"prioritet {level[0]} enligt regeln", f"priority {level[1]} by the rule"))
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
                reasons.append(Reason(
                    "returning", f"återkommande: tillbaka till tidigare samtalskontakt i {back.id}",
                    f"returning: back to the earlier counsellor in {back.id}",
                ))
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
            sv, en = zone_label(result.zone, "sv"), zone_label(result.zone, "en")
            reasons.append(Reason("screening", f"{name} {result.score} ({sv}) → hög", f"{name} {result.score} ({en}) → high"))
    if signals.risk and Priority.URGENT > current:
        priority = Priority.URGENT
        risks = sorted(signals.risk)
        sv = ", ".join(_RISK_SV.get(r, r) for r in risks)
        en = ", ".join(r.replace("_", " ") for r in risks)
        reasons.append(Reason("risk", f"risksignal: {sv} → akut", f"risk signal: {en} → urgent"))
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
        sv = f"{team.id} är stängt nu; {fallback.id} är öppet med någon inloggad → {fallback.id}"
        en = f"{team.id} is closed now; {fallback.id} is open with someone online → {fallback.id}"
        return fallback.id, Reason("overflow", sv, en)
    if not (fallback_staffed or fallback.id == region.default_team):
        return None
    if not any(_available_in(c, team.id) for c in online):
        sv, en = (
            f"ingen i {team.id} är inloggad och ledig → {fallback.id}",
            f"nobody in {team.id} is online and available → {fallback.id}",
        )
        return fallback.id, Reason("overflow", sv, en)
    if team.max_wait_s is not None and oldest_wait_s > team.max_wait_s:
        wait = _duration(team.max_wait_s)
        sv = f"den som väntat längst i {team.id} har väntat mer än {wait[0]} → {fallback.id}"
        en = f"the oldest in {team.id} has waited more than {wait[1]} → {fallback.id}"
        return fallback.id, Reason("overflow", sv, en)
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
            reasons.append(Reason("rule", f"regel: {rule.name} → {team.id}", f"rule: {rule.name} → {team.id}"))
            return rule, team, reasons
        if rule.by_municipality:
            home = home_team(region, intake.municipality, role=intake.role, topic=intake.topic, age_band=intake.age_band)
            if home is None:
                where = _municipality(region, intake.municipality)
                reasons.append(
                    Reason(
                        "rule_skipped",
                        f"regel: {rule.name}: inget hemteam för {where[0]} tar emot personen → nästa regel",
                        f"rule: {rule.name}: no home team for {where[1]} takes this person → next rule",
                    )
                )
                continue
            where = _municipality(region, intake.municipality)
            reasons.append(Reason("rule", f"regel: {rule.name}", f"rule: {rule.name}"))
            reasons.append(
                Reason("municipality", f"{where[0]} → {home.id} ({home.name})", f"{where[1]} → {home.id} ({home.name})")
            )
            return rule, home, reasons
    team = _team(region, region.default_team)
    reasons.append(Reason("default", f"ingen regel passade → {team.id}", f"no rule matched → {team.id}"))
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
        reasons.append(Reason("closed", f"{here.id} är stängt nu → {onward.id}", f"{here.id} is closed now → {onward.id}"))
    if _is_open(region, chain[-1], now):
        return chain[-1], True, None, reasons

    openings = [hours.team_opens_at(region, t.id, now) for t in chain]
    soonest = min(range(len(chain)), key=lambda i: (openings[i] is None, openings[i] or now, i))
    kept, opens_at = chain[soonest], openings[soonest]
    if opens_at is None:
        sv = f"allt längs kedjan från {team.id} är stängt och öppnar inte inom två veckor → väntar hos {kept.id}"
        en = f"everything along {team.id}'s fallback chain is closed and nothing opens within two weeks → waits with {kept.id}"
    else:
        local = opens_at.astimezone(ZoneInfo(region.timezone)).strftime("%Y-%m-%d %H:%M")
        sv = f"allt längs kedjan från {team.id} är stängt nu; {kept.id} öppnar först, {local} → {kept.id}"
        en = f"everything along {team.id}'s fallback chain is closed now; {kept.id} opens first, {local} → {kept.id}"
    return kept, False, opens_at, [Reason("closed", sv, en)]


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
        why = (f"är inte med i {team.id}", f"is not in {team.id}")
    elif person.open_chats >= _capacity(person, team):
        why = ("har fullt", "is at capacity")
    else:
        sv, en = (
            "återkommande: tidigare samtalskontakt är ledig → erbjuds först",
            "returning: earlier counsellor is available → offered first",
        )
        return staff_id, Reason("returning", sv, en)
    sv = f"återkommande: tidigare samtalskontakt {why[0]} → vem som helst i {team.id}"
    en = f"returning: earlier counsellor {why[1]} → anyone in {team.id}"
    return None, Reason("returning", sv, en)


# --- words ------------------------------------------------------------------------------------------------

_LEVEL: dict[Priority, tuple[str, str]] = {
    Priority.NORMAL: ("normal", "normal"),
    Priority.HIGH: ("hög", "high"),
    Priority.URGENT: ("akut", "urgent"),
}

_RISK_SV: dict[str, str] = {
    "suicide": "självmordstankar",
    "self_harm": "självskada",
    "violence": "våld",
    "abuse": "övergrepp",
    "overdose": "överdos eller akut berusning",
}

_TOPIC: dict[str, tuple[str, str]] = {
    "alcohol": ("alkohol", "alcohol"),
    "drugs": ("narkotika", "drugs"),
    "medicines": ("läkemedel", "medicines"),
    "doping": ("doping", "doping"),
    "gambling": ("spel om pengar", "gambling"),
    "mental_health": ("mår dåligt", "mental health"),
    "other": ("annat", "other"),
}


def _facts(intake: Intake) -> list[Reason]:
    """What the person told us that routing reads (never gender)."""
    facts = []
    if intake.topic is not None:
        sv, en = _TOPIC.get(intake.topic, (intake.topic, intake.topic))
        facts.append(Reason("topic", f"ämne: {sv}", f"topic: {en}"))
    if intake.age_band is not None:
        if intake.age_band == "adult":
            facts.append(Reason("age", "ålder: vuxen", "age: adult"))
        else:
            band = intake.age_band.replace("-", "–")
            facts.append(Reason("age", f"ålder {band} år", f"age {band}"))
    return facts


def _municipality(region: Region, code: str | None) -> tuple[str, str]:
    if code is None:
        return "okänd kommun", "unknown municipality"
    found = region.municipality(code)
    name = f"{code} {found.name}" if found is not None else code
    return f"kommun {name}", f"municipality {name}"


def _duration(seconds: int) -> tuple[str, str]:
    if seconds % 60 == 0:
        return f"{seconds // 60} min", f"{seconds // 60} min"
    return f"{seconds} s", f"{seconds} s"
