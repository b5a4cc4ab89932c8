"""The region's shape: frozen values that ``config.py`` builds from TOML and the router reads.

Nothing here reads files, clocks or the environment. Times of day are minutes after local midnight
(0–1440) in the region's time zone; instants passed in are aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, StrEnum

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Priority(IntEnum):
    NORMAL = 0
    HIGH = 1
    URGENT = 2


class TeamKind(StrEnum):
    RECEPTION = "reception"
    COUNSELLOR = "counsellor"
    AMBULANT = "ambulant"
    BUP = "bup"  # able to take children 6–12 together with child and adolescent psychiatry


class Pickup(StrEnum):
    MANUAL = "manual"  # staff take conversations from the queue themselves
    OFFER = "offer"  # the least-loaded available counsellor is offered the next one, with a timeout


@dataclass(frozen=True)
class Span:
    """An opening span within one local day: ``start`` ≤ t < ``end``, minutes after midnight."""

    start: int
    end: int


@dataclass(frozen=True)
class Hours:
    """Weekly opening hours, Monday first, with the hours kept on the region's holidays and on dates
    with their own hours (overrides win over both)."""

    weekly: tuple[tuple[Span, ...], ...]  # seven entries
    holidays: tuple[Span, ...] = ()  # hours on a region holiday; () = closed
    overrides: tuple[tuple[date, tuple[Span, ...]], ...] = ()

    def spans_on(self, day: date, region_holidays: frozenset[date]) -> tuple[Span, ...]:
        for d, spans in self.overrides:
            if d == day:
                return spans
        if day in region_holidays:
            return self.holidays
        return self.weekly[day.weekday()]


ALWAYS_OPEN = Hours(weekly=((Span(0, 1440),),) * 7, holidays=(Span(0, 1440),))


@dataclass(frozen=True)
class Municipality:
    code: str  # SCB's four-digit code
    name: str
    area: str  # the part of the region it lies in, e.g. "north"


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    kind: TeamKind
    hours: Hours
    municipalities: frozenset[str] = frozenset()  # empty: the whole region
    topics: frozenset[str] = frozenset()  # empty: every topic
    roles: frozenset[str] = frozenset()  # empty: young people and relatives
    age_bands: frozenset[str] = frozenset()  # empty: every age band
    geographic: bool = False  # the home team for its municipalities (used by ``by = "municipality"`` rules)
    capacity: int = 3  # open conversations per person at once
    pickup: Pickup = Pickup.MANUAL
    offer_timeout_s: int = 60
    max_wait_s: int | None = None  # the oldest waiting longer than this overflows to ``fallback``
    target_wait_min: int = 10  # the supervisor's overview flags the team when someone has waited longer
    fallback: str | None = None  # where overflow and closed hours go; None only for the default team


@dataclass(frozen=True)
class Condition:
    """What a rule matches; an empty set matches anything (including "not given")."""

    roles: frozenset[str] = frozenset()
    municipalities: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    age_bands: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rule:
    """First matching rule wins. It names a team, or (``by_municipality``) asks for the geographic team of
    the person's municipality; ``priority`` raises the conversation to at least that priority."""

    name: str
    when: Condition
    team: str | None = None
    by_municipality: bool = False
    priority: Priority | None = None


@dataclass(frozen=True)
class CrisisResource:
    name: str
    number: str
    text: dict[str, str] = field(hash=False)  # language → one line
    hours: Hours | None = None  # None: always open
    ages: str | None = None  # e.g. "up to 18", shown as given
    municipalities: frozenset[str] = frozenset()  # empty: the whole region (e.g. a municipality's social services on-call)

    def serves(self, municipality: str | None) -> bool:
        return not self.municipalities or municipality in self.municipalities


@dataclass(frozen=True)
class Zone:
    id: str  # e.g. "low", "hazardous", "harmful", "dependence"
    min_score: int


@dataclass(frozen=True)
class Instrument:
    """One self-test's cut-offs as the clinic set them."""

    id: str  # "audit" | "dudit"
    zones: tuple[Zone, ...]  # ascending min_score, the first at 0
    cutoff_young: int  # "flag" at or above, for age bands under 18
    cutoff_female: int
    cutoff_male: int
    cutoff_default: int
    raise_priority_from: str  # a zone id: at or above it the conversation becomes at least high priority


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    timezone: str  # IANA name, e.g. "Europe/Stockholm"
    default_team: str  # the county reception: the fallback of last resort
    languages: tuple[str, ...]
    municipalities: tuple[Municipality, ...]
    teams: tuple[Team, ...]
    rules: tuple[Rule, ...]
    crisis: tuple[CrisisResource, ...]
    holidays: frozenset[date]
    screening: tuple[Instrument, ...]
    alert_teams: tuple[str, ...] = ()  # alerted on a risk signal besides the conversation's own team

    def municipality(self, code: str) -> Municipality | None:
        return next((m for m in self.municipalities if m.code == code), None)

    def team(self, team_id: str) -> Team | None:
        return next((t for t in self.teams if t.id == team_id), None)

    def instrument(self, instrument_id: str) -> Instrument | None:
        return next((i for i in self.screening if i.id == instrument_id), None)
