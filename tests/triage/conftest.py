"""Regions for the triage tests: Dalarna written out by hand from dalarna.toml, and the bundled file as
``triage.load_region()`` reads it. Tests that take ``dalarna`` run against both, so the router is tested
on its own and the parser and the router are tested together."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from triage.config import bundled_region_text, parse_region
from triage.region import (
    Condition,
    Hours,
    Instrument,
    Municipality,
    Pickup,
    Priority,
    Region,
    Rule,
    Span,
    Team,
    TeamKind,
    Zone,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = ZoneInfo("UTC")


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """An instant given as Swedish wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def spans(*texts: str) -> tuple[Span, ...]:
    """("08:00-17:00", ...) → spans in minutes after midnight, as the TOML writes them."""
    result = []
    for text in texts:
        start, end = text.split("-")
        result.append(Span(_minutes(start), _minutes(end)))
    return tuple(result)


def _minutes(hhmm: str) -> int:
    hour, minute = hhmm.split(":")
    return int(hour) * 60 + int(minute)


def week(
    mon: tuple[Span, ...] = (),
    tue: tuple[Span, ...] = (),
    wed: tuple[Span, ...] = (),
    thu: tuple[Span, ...] = (),
    fri: tuple[Span, ...] = (),
    sat: tuple[Span, ...] = (),
    sun: tuple[Span, ...] = (),
    holidays: tuple[Span, ...] = (),
    dates: tuple[tuple[date, tuple[Span, ...]], ...] = (),
) -> Hours:
    return Hours(weekly=(mon, tue, wed, thu, fri, sat, sun), holidays=holidays, overrides=dates)


MUNICIPALITIES = (
    ("2021", "Vansbro", "north"),
    ("2023", "Malung-Sälen", "north"),
    ("2026", "Gagnef", "south"),
    ("2029", "Leksand", "north"),
    ("2031", "Rättvik", "north"),
    ("2034", "Orsa", "north"),
    ("2039", "Älvdalen", "north"),
    ("2061", "Smedjebacken", "south"),
    ("2062", "Mora", "north"),
    ("2080", "Falun", "south"),
    ("2081", "Borlänge", "south"),
    ("2082", "Säter", "south"),
    ("2083", "Hedemora", "south"),
    ("2084", "Avesta", "south"),
    ("2085", "Ludvika", "south"),
)

HOLIDAYS = frozenset(
    date.fromisoformat(d)
    for d in (
        "2026-01-01 2026-01-06 2026-04-03 2026-04-05 2026-04-06 2026-05-01 2026-05-14 2026-05-24 "
        "2026-06-06 2026-06-19 2026-06-20 2026-10-31 2026-12-24 2026-12-25 2026-12-26 2026-12-31 "
        "2027-01-01 2027-01-06 2027-03-26 2027-03-28 2027-03-29 2027-05-01 2027-05-06 2027-05-16 "
        "2027-06-06 2027-06-25 2027-06-26 2027-11-06 2027-12-24 2027-12-25 2027-12-26 2027-12-31"
    ).split()
)

AMBULANT_AGES = frozenset({"13-15", "16-17", "18-21", "22-25"})


def _area(area: str) -> frozenset[str]:
    return frozenset(code for code, _, a in MUNICIPALITIES if a == area)


def dalarna_by_hand() -> Region:
    """dalarna.toml, written out as Region values (areas expanded to municipality codes)."""
    day = spans("08:00-17:00")
    teams = (
        Team(
            id="reception",
            name="Mottagningen, hela länet (exempel)",
            kind=TeamKind.RECEPTION,
            hours=week(
                *(spans("09:00-21:00"),) * 4,
                fri=spans("09:00-17:00"),
                sat=spans("13:00-17:00"),
                sun=spans("13:00-17:00"),
                holidays=spans("13:00-17:00"),
                dates=((date(2026, 12, 24), spans("10:00-14:00")),),
            ),
            capacity=4,
            target_wait_min=5,
        ),
        Team(
            id="north",
            name="Ambulanta teamet norr, Mora (exempel)",
            kind=TeamKind.AMBULANT,
            hours=week(day, day, day, day, spans("08:00-16:00")),
            municipalities=_area("north"),
            roles=frozenset({"young"}),
            age_bands=AMBULANT_AGES,
            geographic=True,
            capacity=2,
            pickup=Pickup.OFFER,
            max_wait_s=600,
            target_wait_min=5,
            fallback="reception",
        ),
        Team(
            id="south",
            name="Ambulanta teamet söder, Borlänge och Falun (exempel)",
            kind=TeamKind.AMBULANT,
            hours=week(day, day, day, spans("08:00-12:00", "13:00-19:00"), spans("08:00-16:00")),
            municipalities=_area("south"),
            roles=frozenset({"young"}),
            age_bands=AMBULANT_AGES,
            geographic=True,
            capacity=3,
            pickup=Pickup.OFFER,
            max_wait_s=600,
            target_wait_min=5,
            fallback="reception",
        ),
        Team(
            id="children",
            name="Barnteamet 6–12 år, tillsammans med BUP (exempel)",
            kind=TeamKind.BUP,
            hours=week(*(spans("08:00-16:30"),) * 4, fri=spans("08:00-15:00")),
            age_bands=frozenset({"6-12"}),
            capacity=2,
            max_wait_s=900,
            fallback="reception",
        ),
        Team(
            id="relatives",
            name="Närståendestödet (exempel)",
            kind=TeamKind.COUNSELLOR,
            hours=week(*(spans("09:00-20:00"),) * 4, fri=spans("09:00-15:00")),
            roles=frozenset({"relative", "family"}),
            capacity=3,
            max_wait_s=900,
            fallback="reception",
        ),
        Team(
            id="gambling",
            name="Spelteamet, hela länet (exempel)",
            kind=TeamKind.COUNSELLOR,
            hours=week(
                spans("09:00-16:00"),
                spans("12:00-20:00"),
                spans("09:00-16:00"),
                spans("12:00-20:00"),
                spans("09:00-16:00"),
            ),
            topics=frozenset({"gambling"}),
            age_bands=frozenset({"13-15", "16-17", "18-21", "22-25", "adult"}),
            capacity=3,
            max_wait_s=900,
            fallback="reception",
        ),
    )
    rules = (
        Rule(
            name="children 6–12 always to the team that works with BUP",
            when=Condition(age_bands=frozenset({"6-12"})),
            team="children",
            priority=Priority.HIGH,
        ),
        Rule(name="gambling, for young people and relatives", when=Condition(topics=frozenset({"gambling"})), team="gambling"),
        Rule(name="relatives", when=Condition(roles=frozenset({"relative"})), team="relatives"),
        Rule(
            name="young people to their home area's ambulant team",
            when=Condition(roles=frozenset({"young"})),
            by_municipality=True,
        ),
        Rule(
            name="worried about someone in the family, 13 or older: the relatives' support",
            when=Condition(roles=frozenset({"family"}), age_bands=frozenset({"13-15", "16-17", "18-21", "22-25", "adult"})),
            team="relatives",
        ),
        Rule(
            name="worried about someone in the family, age not given: the children's team (the choice is worded for children)",
            when=Condition(roles=frozenset({"family"})),
            team="children",
        ),
    )
    screening = (
        Instrument(
            id="audit",
            zones=(Zone("low", 0), Zone("hazardous", 8), Zone("harmful", 16), Zone("dependence", 20)),
            cutoff_young=5,
            cutoff_female=6,
            cutoff_male=8,
            cutoff_default=8,
            raise_priority_from="harmful",
        ),
        Instrument(
            id="dudit",
            zones=(Zone("low", 0), Zone("problems", 6), Zone("dependence", 25)),
            cutoff_young=2,
            cutoff_female=2,
            cutoff_male=6,
            cutoff_default=2,
            raise_priority_from="dependence",
        ),
    )
    return Region(
        id="dalarna",
        name="MiniMaria Dalarna",
        timezone="Europe/Stockholm",
        default_team="reception",
        languages=("sv", "en"),
        municipalities=tuple(Municipality(code, name, area) for code, name, area in MUNICIPALITIES),
        teams=teams,
        rules=rules,
        crisis=(),
        holidays=HOLIDAYS,
        screening=screening,
        alert_teams=("reception",),
    )


def bundled(name: str) -> Region:
    """A bundled example region through the parser."""
    return parse_region(bundled_region_text(name), f"{name}.toml")


@pytest.fixture(scope="session", params=["by_hand", "bundled"])
def dalarna(request: pytest.FixtureRequest) -> Region:
    return dalarna_by_hand() if request.param == "by_hand" else bundled("dalarna")
