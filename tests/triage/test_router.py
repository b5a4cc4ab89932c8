"""decide(), escalate(), overflow() and choose_counsellor() on Dalarna: the full table of municipality ×
topic × role × age band at a time when every team is open, named spot checks with their reasons, the
opening-hours edges (minutes, holidays, Christmas Eve, daylight saving, night), overflow, the choice of
counsellor, priority and the returning visitor's earlier counsellor."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tests.triage.conftest import MUNICIPALITIES, bundled, dalarna_by_hand, local, spans, utc, week
from triage import hours
from triage.region import Priority, Region, Team, TeamKind
from triage.router import (
    NO_SIGNALS,
    Counsellor,
    Decision,
    Intake,
    Signals,
    choose_counsellor,
    decide,
    escalate,
    overflow,
)
from triage.screening import ScreeningResult

NORTH_NAME = "Ambulanta teamet norr, Mora (exempel)"
RECEPTION_NAME = "Mottagningen, hela länet (exempel)"
CHILDREN_NAME = "Barnteamet 6–12 år, tillsammans med BUP (exempel)"

# Tuesday 24 November 2026, 13:00 in Sweden: every Dalarna team is open (gambling opens 12:00 on Tuesdays).
ALL_OPEN = local(2026, 11, 24, 13)

NORTH = {"2021", "2023", "2029", "2031", "2034", "2039", "2062"}  # Vansbro, Malung-Sälen, Leksand, Rättvik, Orsa, Älvdalen, Mora
SOUTH = {"2026", "2061", "2080", "2081", "2082", "2083", "2084", "2085"}  # Gagnef, Smedjebacken, Falun, Borlänge, ...

CODES: list[str | None] = [code for code, _, _ in MUNICIPALITIES] + [None]
TOPICS: list[str | None] = ["alcohol", "drugs", "medicines", "doping", "gambling", "mental_health", "other", None]
ROLES = ["young", "relative", "family"]
AGES: list[str | None] = ["6-12", "13-15", "16-17", "18-21", "22-25", "adult", None]


def expected(role: str, municipality: str | None, topic: str | None, age: str | None) -> tuple[str, Priority]:
    """Dalarna's routing in plain words, written independently of the config:
    children 6–12 go to the children's team at high priority, whatever else they said; gambling goes to the
    gambling team, for young people and relatives alike; other relatives go to the relatives' team, and so does
    someone 13 or older worried about their family, while one who did not give an age (the choice is worded
    for children) goes to the children's team; a young person aged 13–25 goes to the ambulant team of their
    part of the county; everyone else (no municipality, no age, an adult who says they are young) goes to the
    county reception."""
    if age == "6-12":
        return "children", Priority.HIGH
    if topic == "gambling":
        return "gambling", Priority.NORMAL
    if role == "relative":
        return "relatives", Priority.NORMAL
    if role == "family":
        return ("children", Priority.NORMAL) if age is None else ("relatives", Priority.NORMAL)
    if age in {"13-15", "16-17", "18-21", "22-25"}:
        if municipality in NORTH:
            return "north", Priority.NORMAL
        if municipality in SOUTH:
            return "south", Priority.NORMAL
    return "reception", Priority.NORMAL


def test_the_expectation_covers_all_fifteen_municipalities() -> None:
    """The table's north and south are Dalarna's 15 municipalities, each once."""
    assert len(NORTH) == 7
    assert len(SOUTH) == 8
    assert NORTH | SOUTH == {code for code in CODES if code is not None}


@pytest.mark.parametrize(
    ("role", "municipality", "topic", "age"),
    list(itertools.product(ROLES, CODES, TOPICS, AGES)),
    ids=lambda v: "-" if v is None else str(v),
)
def test_every_intake_goes_where_the_rules_say_when_all_is_open(
    dalarna: Region, role: str, municipality: str | None, topic: str | None, age: str | None
) -> None:
    """Every combination has a team (nothing is unroutable) and it is the one the plain-words rules give."""
    decision = decide(dalarna, Intake(role, municipality, topic, age), ALL_OPEN)
    assert (decision.team, decision.priority) == expected(role, municipality, topic, age)
    assert decision.open is True
    assert decision.opens_at is None
    assert decision.reasons


def _en(decision: Decision) -> str:
    return " | ".join(r.en for r in decision.reasons)


def _sv(decision: Decision) -> str:
    return " | ".join(r.sv for r in decision.reasons)


SPOT_CHECKS = [
    # role, municipality, topic, age → team, priority, phrases in the English reasons
    (
        "young",
        "2039",
        "drugs",
        "16-17",
        "north",
        Priority.NORMAL,
        [f"To {NORTH_NAME}, the team for Älvdalen, because a young person is writing", "Topic: drugs", "Age: 16–17"],
    ),
    ("young", "2062", "alcohol", "13-15", "north", Priority.NORMAL, [f"To {NORTH_NAME}, the team for Mora"]),
    ("young", "2021", "mental_health", "22-25", "north", Priority.NORMAL, ["the team for Vansbro"]),
    (
        "young",
        "2081",
        "alcohol",
        "18-21",
        "south",
        Priority.NORMAL,
        ["To Ambulanta teamet söder, Borlänge och Falun (exempel), the team for Borlänge"],
    ),
    ("young", "2026", "other", "13-15", "south", Priority.NORMAL, ["the team for Gagnef", "because a young person is writing"]),
    (
        "young",
        None,
        "alcohol",
        "16-17",
        "reception",
        Priority.NORMAL,
        ["No municipality was given, so no local team could be chosen",
         f"No particular rule matched, so the conversation goes to {RECEPTION_NAME}"],
    ),
    (
        "young",
        "2062",
        None,
        None,
        "reception",
        Priority.NORMAL,
        ["No team for Mora takes this person", "No particular rule matched"],
    ),
    ("young", "2023", "doping", "adult", "reception", Priority.NORMAL, [f"goes to {RECEPTION_NAME}", "Age: adult"]),
    ("young", "1441", "drugs", "16-17", "reception", Priority.NORMAL,
     ["No team for a municipality outside the region takes", "No particular rule matched"]),
    (
        "young",
        "2080",
        "gambling",
        "18-21",
        "gambling",
        Priority.NORMAL,
        ["To Spelteamet, hela länet (exempel), because the topic is gambling"],
    ),
    ("young", None, "gambling", None, "gambling", Priority.NORMAL, ["Topic: gambling", "To Spelteamet"]),
    ("relative", "2039", "gambling", "adult", "gambling", Priority.NORMAL, ["because the topic is gambling"]),
    ("relative", "2085", "alcohol", "adult", "relatives", Priority.NORMAL, ["To Närståendestödet (exempel), because a relative"]),
    ("relative", None, None, None, "relatives", Priority.NORMAL, ["because a relative is writing"]),
    (
        "young",
        "2034",
        "drugs",
        "6-12",
        "children",
        Priority.HIGH,
        [f"To {CHILDREN_NAME}, because the age is 6–12", "High priority, because the age is 6–12"],
    ),
    ("relative", "2080", "gambling", "6-12", "children", Priority.HIGH, ["To Barnteamet", "Age: 6–12"]),
    # A child of ten whose parent drinks: "worried about someone in my family".
    ("family", "2081", "alcohol", "6-12", "children", Priority.HIGH, [f"To {CHILDREN_NAME}, because the age is 6–12"]),
    ("family", None, "alcohol", None, "children", Priority.NORMAL,
     [f"To {CHILDREN_NAME}, because someone is worried about a person in their family"]),
    ("family", "2081", "alcohol", "16-17", "relatives", Priority.NORMAL,
     ["because someone is worried about a person in their family and the age is 16–17"]),
]


@pytest.mark.parametrize(("role", "municipality", "topic", "age", "team", "priority", "phrases"), SPOT_CHECKS)
def test_spot_checks_with_their_reasons(
    dalarna: Region,
    role: str,
    municipality: str | None,
    topic: str | None,
    age: str | None,
    team: str,
    priority: Priority,
    phrases: list[str],
) -> None:
    decision = decide(dalarna, Intake(role, municipality, topic, age), ALL_OPEN)
    assert (decision.team, decision.priority) == (team, priority)
    text = _en(decision)
    for phrase in phrases:
        assert phrase in text


def test_reasons_are_written_in_swedish_too(dalarna: Region) -> None:
    decision = decide(dalarna, Intake("young", "2039", "drugs", "16-17"), ALL_OPEN)
    assert f"Till {NORTH_NAME}, som är teamet för Älvdalen, eftersom det är en ung person som skriver" in _sv(decision)
    assert "Ämne: narkotika" in _sv(decision)
    assert all(r.sv and r.en and r.sv != r.en for r in decision.reasons)
    assert decision.rule == "young people to their home area's ambulant team"
    assert decision.first_choice == "north"


@pytest.mark.parametrize(("role", "municipality", "topic", "age"), [row[:4] for row in SPOT_CHECKS])
@pytest.mark.parametrize("now", [ALL_OPEN, local(2026, 12, 25, 14, 0), local(2026, 12, 25, 10, 0)])
def test_reasons_are_plain_words_without_ids_or_rule_names(
    dalarna: Region, role: str, municipality: str | None, topic: str | None, age: str | None, now: datetime
) -> None:
    """Staff read these: team display names and everyday words, never a team id, a config rule's name, a
    municipality code or an arrow."""
    signals = Signals(risk=frozenset({"self_harm"}), screening=(AUDIT_HARMFUL,))
    decision = decide(dalarna, Intake(role, municipality, topic, age), now, signals=signals,
                      online=[Counsellor(7, frozenset({"south"}), open_chats=0)], previous_staff=7, previous_team="south")
    ids = {t.id for t in dalarna.teams} - {"gambling"}  # "gambling" is also the English topic word
    for r in decision.reasons:
        for text in (r.sv, r.en):
            assert "→" not in text
            assert not re.search(r"\b(" + "|".join(ids) + r")\b", text), text
            assert not any(rule.name in text for rule in dalarna.rules), text
            assert not re.search(r"\b\d{4}\b(?!-)", text), text  # a municipality code (a date's year is fine)
            assert not text.startswith(("rule:", "regel:"))
    assert any(dalarna.team(decision.team).name in r.sv for r in decision.reasons)  # type: ignore[union-attr]


def test_the_default_team_has_no_rule(dalarna: Region) -> None:
    decision = decide(dalarna, Intake("young"), ALL_OPEN)
    assert (decision.team, decision.rule, decision.first_choice) == ("reception", None, "reception")
    assert [r.code for r in decision.reasons][-1] == "default"


GENDERS = [None, "girl", "boy", "other", "unsaid"]
SIGNALS = [NO_SIGNALS, Signals(screening=(ScreeningResult("audit", 7, 40, "low", True, 5, False),))]


@pytest.mark.parametrize(("role", "municipality", "topic", "age"), [row[:4] for row in SPOT_CHECKS])
@pytest.mark.parametrize("signals", SIGNALS)
def test_gender_never_changes_team_priority_or_reasons(
    dalarna: Region, role: str, municipality: str | None, topic: str | None, age: str | None, signals: Signals
) -> None:
    """Gender is kept for statistics only: every gender gives the same decision, reasons included."""
    decisions = {
        decide(dalarna, Intake(role, municipality, topic, age, gender=gender), ALL_OPEN, signals=signals) for gender in GENDERS
    }
    assert len(decisions) == 1


# --- rule semantics on small regions ---------------------------------------------------------------------


def test_by_municipality_takes_the_first_geographic_team_in_file_order() -> None:
    """Two geographic teams cover Mora; the first in the file that takes the person wins, and one that does
    not take the topic is passed over."""
    region = dalarna_by_hand()
    north = region.team("north")
    assert north is not None
    drugs_only = replace(north, id="north_drugs", topics=frozenset({"drugs"}))
    teams = (region.teams[0], drugs_only, *region.teams[1:])
    region = replace(region, teams=teams)
    assert decide(region, Intake("young", "2062", "drugs", "16-17"), ALL_OPEN).team == "north_drugs"
    assert decide(region, Intake("young", "2062", "alcohol", "16-17"), ALL_OPEN).team == "north"
    assert decide(region, Intake("young", "2062", None, "16-17"), ALL_OPEN).team == "north"


def test_areas_in_a_rule_match_through_the_municipality() -> None:
    region = dalarna_by_hand()
    area_rule = replace(
        region.rules[2], name="north relatives", when=replace(region.rules[2].when, areas=frozenset({"north"})), team="north"
    )
    region = replace(region, rules=(area_rule, *region.rules))
    assert decide(region, Intake("relative", "2039", "alcohol", "adult"), ALL_OPEN).team == "north"
    assert decide(region, Intake("relative", "2080", "alcohol", "adult"), ALL_OPEN).team == "relatives"
    assert decide(region, Intake("relative", None, "alcohol", "adult"), ALL_OPEN).team == "relatives"
    assert decide(region, Intake("relative", "9999", "alcohol", "adult"), ALL_OPEN).team == "relatives"


def test_a_rule_priority_is_a_floor_not_a_ceiling() -> None:
    region = dalarna_by_hand()
    urgent_doping = replace(
        region.rules[2],
        name="doping",
        when=replace(region.rules[2].when, roles=frozenset(), topics=frozenset({"doping"})),
        team="reception",
        priority=Priority.URGENT,
    )
    region = replace(region, rules=(urgent_doping, *region.rules))
    decision = decide(region, Intake("young", "2039", "doping", "16-17"), ALL_OPEN)
    assert (decision.team, decision.priority) == ("reception", Priority.URGENT)


# --- opening hours ---------------------------------------------------------------------------------------

YOUNG_NORTH = Intake("young", "2039", "drugs", "16-17")
YOUNG_SOUTH = Intake("young", "2080", "alcohol", "16-17")


@pytest.mark.parametrize(
    ("intake", "now", "team", "is_open", "opens_at"),
    [
        # minutes: opening is inclusive, closing exclusive
        (YOUNG_NORTH, local(2026, 11, 24, 8, 0), "north", True, None),
        (YOUNG_NORTH, local(2026, 11, 24, 7, 59), "north", False, local(2026, 11, 24, 8, 0)),
        (YOUNG_NORTH, local(2026, 11, 24, 16, 59), "north", True, None),
        (YOUNG_NORTH, local(2026, 11, 24, 17, 0), "reception", True, None),
        (YOUNG_NORTH, local(2026, 11, 27, 16, 0), "reception", True, None),  # Friday: north closes 16:00
        (YOUNG_SOUTH, local(2026, 11, 26, 11, 59), "south", True, None),
        (YOUNG_SOUTH, local(2026, 11, 26, 12, 0), "reception", True, None),  # Thursday lunch gap
        (YOUNG_SOUTH, local(2026, 11, 26, 13, 0), "south", True, None),
        (YOUNG_SOUTH, local(2026, 11, 26, 18, 59), "south", True, None),
        (YOUNG_SOUTH, local(2026, 11, 26, 19, 0), "reception", True, None),
        (Intake("young", None, "gambling", "18-21"), local(2026, 11, 23, 16, 0), "reception", True, None),
        (Intake("young", None, "gambling", "18-21"), local(2026, 11, 24, 12, 0), "gambling", True, None),
        (Intake("relative", None, "alcohol", "adult"), local(2026, 11, 24, 19, 59), "relatives", True, None),
        (Intake("relative", None, "alcohol", "adult"), local(2026, 11, 24, 20, 0), "reception", True, None),
        (Intake("relative", None, "alcohol", "adult"), local(2026, 11, 24, 20, 59), "reception", True, None),
        # night: everything along the chain is closed; the one that opens first keeps the conversation
        (YOUNG_NORTH, local(2026, 11, 24, 21, 0), "north", False, local(2026, 11, 25, 8, 0)),
        (YOUNG_NORTH, local(2026, 11, 25, 3, 0), "north", False, local(2026, 11, 25, 8, 0)),
        # a tie (relatives and reception both open 09:00): the team chosen first keeps it
        (Intake("relative", None, "alcohol", "adult"), local(2026, 11, 24, 23, 0), "relatives", False, local(2026, 11, 25, 9, 0)),
        (YOUNG_NORTH, local(2026, 11, 28, 23, 0), "reception", False, local(2026, 11, 29, 13, 0)),  # Saturday night
        (YOUNG_NORTH, local(2026, 11, 27, 21, 0), "reception", False, local(2026, 11, 28, 13, 0)),  # Friday night
        # holiday (Christmas Day, a Friday): ambulant teams closed, the reception keeps 13–17
        (YOUNG_NORTH, local(2026, 12, 25, 14, 0), "reception", True, None),
        (YOUNG_NORTH, local(2026, 12, 25, 10, 0), "reception", False, local(2026, 12, 25, 13, 0)),
        (YOUNG_NORTH, local(2026, 12, 25, 17, 0), "reception", False, local(2026, 12, 26, 13, 0)),
        # Christmas Eve (a Thursday): the reception's own date 10–14 wins over holiday and weekday hours
        (YOUNG_NORTH, local(2026, 12, 24, 9, 30), "reception", False, local(2026, 12, 24, 10, 0)),
        (YOUNG_NORTH, local(2026, 12, 24, 10, 0), "reception", True, None),
        (YOUNG_NORTH, local(2026, 12, 24, 13, 59), "reception", True, None),
        (YOUNG_NORTH, local(2026, 12, 24, 14, 0), "reception", False, local(2026, 12, 25, 13, 0)),
        (YOUNG_NORTH, local(2026, 12, 24, 18, 0), "reception", False, local(2026, 12, 25, 13, 0)),
        # spring forward, Sunday 29 March 2026: 08:00 local is 07:00 UTC before and 06:00 UTC after
        (YOUNG_NORTH, utc(2026, 3, 27, 6, 59), "north", False, utc(2026, 3, 27, 7, 0)),
        (YOUNG_NORTH, utc(2026, 3, 27, 7, 0), "north", True, None),
        (YOUNG_NORTH, utc(2026, 3, 29, 0, 30), "reception", False, utc(2026, 3, 29, 11, 0)),
        (YOUNG_NORTH, utc(2026, 3, 29, 1, 30), "reception", False, utc(2026, 3, 29, 11, 0)),
        (YOUNG_NORTH, utc(2026, 3, 30, 5, 59), "north", False, utc(2026, 3, 30, 6, 0)),
        (YOUNG_NORTH, utc(2026, 3, 30, 6, 0), "north", True, None),
        # fall back, Sunday 25 October 2026: 08:00 local is 06:00 UTC before and 07:00 UTC after
        (YOUNG_NORTH, utc(2026, 10, 23, 5, 59), "north", False, utc(2026, 10, 23, 6, 0)),
        (YOUNG_NORTH, utc(2026, 10, 23, 6, 0), "north", True, None),
        (YOUNG_NORTH, utc(2026, 10, 25, 0, 30), "reception", False, utc(2026, 10, 25, 12, 0)),
        (YOUNG_NORTH, utc(2026, 10, 25, 1, 30), "reception", False, utc(2026, 10, 25, 12, 0)),
        (YOUNG_NORTH, utc(2026, 10, 26, 6, 30), "north", False, utc(2026, 10, 26, 7, 0)),
        (YOUNG_NORTH, utc(2026, 10, 26, 7, 0), "north", True, None),
    ],
)
def test_closed_teams_hand_on_along_their_fallback_chain(
    dalarna: Region, intake: Intake, now: datetime, team: str, is_open: bool, opens_at: datetime | None
) -> None:
    decision = decide(dalarna, intake, now)
    assert (decision.team, decision.open) == (team, is_open)
    assert decision.opens_at == opens_at  # aware datetimes compare as instants


def test_a_closed_team_says_why_it_handed_on(dalarna: Region) -> None:
    decision = decide(dalarna, YOUNG_NORTH, local(2026, 12, 25, 14, 0))
    assert f"{NORTH_NAME} is closed now, so the conversation goes on to {RECEPTION_NAME}" in _en(decision)
    assert f"{NORTH_NAME} har stängt nu, så samtalet går vidare till {RECEPTION_NAME}" in _sv(decision)
    assert decision.first_choice == "north"


def test_when_all_is_closed_the_reason_names_the_opening(dalarna: Region) -> None:
    decision = decide(dalarna, YOUNG_NORTH, local(2026, 12, 25, 10, 0))
    assert "Mottagningen, hela länet (exempel) opens first (2026-12-25 13:00)" in _en(decision)


def test_priority_holds_when_a_closed_team_hands_on(dalarna: Region) -> None:
    """A child's conversation on a Friday afternoon goes to the reception, still at high priority."""
    decision = decide(dalarna, Intake("young", "2080", "alcohol", "6-12"), local(2026, 11, 27, 15, 0))
    assert (decision.team, decision.priority) == ("reception", Priority.HIGH)


def _chain_region() -> Region:
    """a → b → reception: a and b keep short hours so each step of the chain can be seen."""
    region = dalarna_by_hand()
    a = Team("a", "A", TeamKind.COUNSELLOR, week(*(spans("08:00-10:00"),) * 5), fallback="b")
    b = Team("b", "B", TeamKind.COUNSELLOR, week(*(spans("07:00-12:00"),) * 5), fallback="reception")
    rule = replace(region.rules[2], name="to a", when=replace(region.rules[2].when, roles=frozenset()), team="a")
    return replace(region, teams=(*region.teams, a, b), rules=(rule,))


@pytest.mark.parametrize(
    ("now", "team", "is_open", "opens_at", "closed_steps"),
    [
        (local(2026, 11, 24, 9, 0), "a", True, None, 0),
        (local(2026, 11, 24, 11, 0), "b", True, None, 1),
        (local(2026, 11, 24, 13, 0), "reception", True, None, 2),
        (local(2026, 11, 24, 7, 30), "b", True, None, 1),
        (local(2026, 11, 24, 6, 0), "b", False, local(2026, 11, 24, 7, 0), 1),
        (local(2026, 11, 24, 22, 0), "b", False, local(2026, 11, 25, 7, 0), 1),
    ],
)
def test_the_chain_is_walked_to_the_first_open_team(
    now: datetime, team: str, is_open: bool, opens_at: datetime | None, closed_steps: int
) -> None:
    decision = decide(_chain_region(), Intake("young"), now)
    assert (decision.team, decision.open, decision.opens_at) == (team, is_open, opens_at)
    assert len([r for r in decision.reasons if r.code == "closed"]) == closed_steps


def test_a_loop_of_fallbacks_ends() -> None:
    """A config that (wrongly) loops still gives an answer instead of walking for ever."""
    region = _chain_region()
    teams = tuple(replace(t, fallback="a") if t.id == "b" else t for t in region.teams)
    decision = decide(replace(region, teams=teams), Intake("young"), local(2026, 11, 24, 22, 0))
    assert (decision.team, decision.open) == ("b", False)


# --- priority --------------------------------------------------------------------------------------------

AUDIT_HARMFUL = ScreeningResult("audit", 18, 40, "harmful", True, 8, True)
AUDIT_HAZARDOUS = ScreeningResult("audit", 12, 40, "hazardous", True, 8, False)
DUDIT_DEPENDENCE = ScreeningResult("dudit", 30, 44, "dependence", True, 2, True)


@pytest.mark.parametrize(
    ("intake", "signals", "priority", "phrases"),
    [
        (YOUNG_NORTH, NO_SIGNALS, Priority.NORMAL, []),
        (YOUNG_NORTH, Signals(risk=frozenset({"suicide"})), Priority.URGENT, ["Risk signal in what was written (suicide)"]),
        (YOUNG_NORTH, Signals(screening=(AUDIT_HARMFUL,)), Priority.HIGH, ["AUDIT 18 points (harmful): high"]),
        (YOUNG_NORTH, Signals(screening=(DUDIT_DEPENDENCE,)), Priority.HIGH, ["DUDIT 30 points (possible dependence)"]),
        (YOUNG_NORTH, Signals(screening=(AUDIT_HAZARDOUS,)), Priority.NORMAL, []),
        (
            YOUNG_NORTH,
            Signals(risk=frozenset({"overdose", "self_harm"}), screening=(AUDIT_HARMFUL,)),
            Priority.URGENT,
            ["Risk signal in what was written (overdose, self harm): urgent", "AUDIT 18 points (harmful): high priority"],
        ),
        (Intake("young", "2039", "drugs", "6-12"), Signals(screening=(AUDIT_HAZARDOUS,)), Priority.HIGH, ["High priority"]),
        (Intake("young", "2039", "drugs", "6-12"), Signals(risk=frozenset({"abuse"})), Priority.URGENT, ["(abuse): urgent"]),
    ],
)
def test_priority_is_raised_by_rules_and_signals(
    dalarna: Region, intake: Intake, signals: Signals, priority: Priority, phrases: list[str]
) -> None:
    decision = decide(dalarna, intake, ALL_OPEN, signals=signals)
    assert decision.priority == priority
    for phrase in phrases:
        assert phrase in _en(decision)


def test_signals_never_move_the_conversation(dalarna: Region) -> None:
    """Priority changes the order of the queue, not the team."""
    for signals in (Signals(risk=frozenset({"suicide"})), Signals(screening=(AUDIT_HARMFUL,))):
        assert decide(dalarna, YOUNG_NORTH, ALL_OPEN, signals=signals).team == "north"


@pytest.mark.parametrize(
    ("current", "signals", "priority", "codes"),
    [
        (Priority.NORMAL, NO_SIGNALS, Priority.NORMAL, []),
        (Priority.HIGH, NO_SIGNALS, Priority.HIGH, []),
        (Priority.URGENT, NO_SIGNALS, Priority.URGENT, []),
        (Priority.NORMAL, Signals(screening=(AUDIT_HARMFUL,)), Priority.HIGH, ["screening"]),
        (Priority.NORMAL, Signals(screening=(AUDIT_HAZARDOUS,)), Priority.NORMAL, []),
        (Priority.HIGH, Signals(screening=(AUDIT_HARMFUL,)), Priority.HIGH, []),
        (Priority.URGENT, Signals(screening=(AUDIT_HARMFUL,)), Priority.URGENT, []),
        (Priority.NORMAL, Signals(risk=frozenset({"violence"})), Priority.URGENT, ["risk"]),
        (Priority.HIGH, Signals(risk=frozenset({"violence"})), Priority.URGENT, ["risk"]),
        (Priority.URGENT, Signals(risk=frozenset({"violence"})), Priority.URGENT, []),
        (
            Priority.NORMAL,
            Signals(risk=frozenset({"suicide"}), screening=(AUDIT_HARMFUL,)),
            Priority.URGENT,
            ["screening", "risk"],
        ),
    ],
)
def test_escalate_never_lowers_and_gives_a_reason_for_each_raise(
    dalarna: Region, current: Priority, signals: Signals, priority: Priority, codes: list[str]
) -> None:
    escalation = escalate(dalarna, current, signals)
    assert escalation.priority == priority
    assert [r.code for r in escalation.reasons] == codes


def test_risk_reasons_are_in_swedish_too(dalarna: Region) -> None:
    escalation = escalate(dalarna, Priority.NORMAL, Signals(risk=frozenset({"suicide"})))
    assert escalation.reasons[0].sv == "Risksignal i det som skrevs (självmordstankar): akut"


# --- the returning visitor's earlier counsellor ----------------------------------------------------------


@pytest.mark.parametrize(
    ("online", "now", "preferred", "phrase"),
    [
        ([Counsellor(7, frozenset({"north"}), open_chats=1)], ALL_OPEN, 7, "earlier counsellor is available"),
        ([Counsellor(8, frozenset({"north"}), open_chats=0)], ALL_OPEN, None, "earlier counsellor is not online"),
        ([Counsellor(7, frozenset({"north"}), open_chats=0, available=False)], ALL_OPEN, None, "is not available"),
        ([Counsellor(7, frozenset({"south", "reception"}), open_chats=0)], ALL_OPEN, None, f"is not in {NORTH_NAME}"),
        ([Counsellor(7, frozenset({"north"}), open_chats=2)], ALL_OPEN, None, "is at capacity"),
        ([Counsellor(7, frozenset({"north"}), open_chats=2, capacity=3)], ALL_OPEN, 7, "is available"),
        ([Counsellor(7, frozenset({"north"}), open_chats=0, capacity=0)], ALL_OPEN, None, "is at capacity"),
        # north closed on Christmas Day: the conversation is the reception's, so only a reception member counts
        ([Counsellor(7, frozenset({"north"}), open_chats=0)], local(2026, 12, 25, 14), None, f"is not in {RECEPTION_NAME}"),
        ([Counsellor(7, frozenset({"north", "reception"}), open_chats=3)], local(2026, 12, 25, 14), 7, "is available"),
    ],
)
def test_previous_staff_is_preferred_only_when_they_can_take_it(
    dalarna: Region, online: list[Counsellor], now: datetime, preferred: int | None, phrase: str
) -> None:
    decision = decide(dalarna, YOUNG_NORTH, now, online=online, previous_staff=7)
    assert decision.preferred_staff == preferred
    returning = [r for r in decision.reasons if r.code == "returning"]
    assert len(returning) == 1
    assert phrase in returning[0].en


@pytest.mark.parametrize(
    ("online", "team", "preferred"),
    [
        # the earlier counsellor held it in reception (after a transfer) and is free: back to them there
        ([Counsellor(7, frozenset({"reception"}), 0)], "reception", 7),
        # not free (at capacity) or not online: the rules decide again (north), no one preferred
        ([Counsellor(7, frozenset({"reception"}), 4)], "north", None),
        ([], "north", None),
    ],
)
def test_a_returning_visitor_goes_back_to_the_earlier_counsellors_team_when_they_can_take_it(
    dalarna: Region, online: list[Counsellor], team: str, preferred: int | None
) -> None:
    decision = decide(dalarna, YOUNG_NORTH, ALL_OPEN, online=online, previous_staff=7, previous_team="reception")
    assert (decision.team, decision.preferred_staff) == (team, preferred)
    assert any(r.code == "returning" for r in decision.reasons)


def test_no_returning_reason_for_a_first_visit(dalarna: Region) -> None:
    decision = decide(dalarna, YOUNG_NORTH, ALL_OPEN, online=[Counsellor(7, frozenset({"north"}), 0)])
    assert decision.preferred_staff is None
    assert "returning" not in {r.code for r in decision.reasons}


# --- overflow --------------------------------------------------------------------------------------------

IN_NORTH = Counsellor(1, frozenset({"north"}), open_chats=1)
IN_RECEPTION = Counsellor(2, frozenset({"reception"}), open_chats=0)
IN_SOUTH = Counsellor(3, frozenset({"south"}), open_chats=0)
BUSY_IN_NORTH = Counsellor(4, frozenset({"north"}), open_chats=0, available=False)


@pytest.mark.parametrize(
    ("team", "now", "online", "wait", "moves_to", "phrase"),
    [
        # open team, nobody of it online and available: to the default team even when nobody is there yet
        ("north", ALL_OPEN, [], 0, "reception", f"Nobody in {NORTH_NAME} is online and available, so it moves to {RECEPTION_NAME}"),  # noqa: E501
        ("north", ALL_OPEN, [BUSY_IN_NORTH], 0, "reception", "Nobody in Ambulanta teamet norr"),
        ("north", ALL_OPEN, [IN_SOUTH, IN_RECEPTION], 0, "reception", "Nobody in Ambulanta teamet norr"),
        # the oldest has waited longer than max_wait_s (600 s for north)
        ("north", ALL_OPEN, [IN_NORTH], 600, None, ""),
        ("north", ALL_OPEN, [IN_NORTH], 601, "reception", f"waited more than 10 min, so it moves to {RECEPTION_NAME}"),
        ("children", ALL_OPEN, [Counsellor(5, frozenset({"children"}), 0)], 901, "reception", "15 min"),
        # the fallback is closed: stay (Tuesday 08:30, reception opens 09:00)
        ("north", local(2026, 11, 24, 8, 30), [], 10_000, None, ""),
        # the default team never overflows
        ("reception", ALL_OPEN, [], 10_000, None, ""),
        ("reception", local(2026, 11, 24, 23, 0), [IN_NORTH], 10_000, None, ""),
        # a closed team's queue waits for opening, unless its fallback is open with someone available
        ("north", local(2026, 11, 24, 18, 0), [], 10_000, None, ""),
        ("north", local(2026, 11, 24, 18, 0), [replace(IN_RECEPTION, available=False)], 10_000, None, ""),
        ("north", local(2026, 11, 24, 18, 0), [IN_RECEPTION], 0, "reception", f"{NORTH_NAME} is closed now"),
        ("north", local(2026, 11, 24, 22, 0), [IN_RECEPTION], 10_000, None, ""),
        ("nowhere", ALL_OPEN, [], 10_000, None, ""),
    ],
)
def test_overflow(
    dalarna: Region, team: str, now: datetime, online: list[Counsellor], wait: float, moves_to: str | None, phrase: str
) -> None:
    result = overflow(dalarna, team, now, online=online, oldest_wait_s=wait)
    if moves_to is None:
        assert result is None
    else:
        assert result is not None
        assert result[0] == moves_to
        assert result[1].code == "overflow"
        assert phrase in result[1].en


@pytest.mark.parametrize(
    ("online", "moves_to"),
    [([], None), ([IN_RECEPTION], None), ([replace(IN_SOUTH, available=False)], None), ([IN_SOUTH], "south")],
)
def test_overflow_to_a_team_other_than_the_default_needs_someone_there(online: list[Counsellor], moves_to: str | None) -> None:
    """north → south (not the default team): moving is only worth it when someone in south can take it."""
    region = dalarna_by_hand()
    region = replace(region, teams=tuple(replace(t, fallback="south") if t.id == "north" else t for t in region.teams))
    result = overflow(region, "north", ALL_OPEN, online=online, oldest_wait_s=0)
    assert (result[0] if result else None) == moves_to


# --- choosing a counsellor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("online", "exclude", "chosen"),
    [
        ([], frozenset(), None),
        ([Counsellor(1, frozenset({"north"}), 1), Counsellor(2, frozenset({"north"}), 0)], frozenset(), 2),
        ([Counsellor(3, frozenset({"north"}), 0), Counsellor(2, frozenset({"north"}), 0)], frozenset(), 2),
        ([Counsellor(1, frozenset({"north"}), 1), Counsellor(2, frozenset({"north"}), 0)], frozenset({2}), 1),
        ([Counsellor(1, frozenset({"north"}), 2)], frozenset(), None),  # north's capacity is 2
        ([Counsellor(1, frozenset({"north"}), 2, capacity=3)], frozenset(), 1),
        ([Counsellor(1, frozenset({"north"}), 0, capacity=0)], frozenset(), None),
        ([Counsellor(1, frozenset({"north"}), 0, available=False), Counsellor(2, frozenset({"north"}), 1)], frozenset(), 2),
        ([Counsellor(1, frozenset({"south"}), 0)], frozenset(), None),
        # equal load: the one with more room left, then the lowest id
        ([Counsellor(4, frozenset({"north"}), 1), Counsellor(5, frozenset({"north"}), 1, capacity=4)], frozenset(), 5),
        (
            [Counsellor(6, frozenset({"north"}), 1, capacity=4), Counsellor(5, frozenset({"north"}), 1, capacity=4)],
            frozenset(),
            5,
        ),
        ([Counsellor(1, frozenset({"north", "south"}), 1), Counsellor(2, frozenset({"south"}), 0)], frozenset(), 1),
    ],
)
def test_choose_counsellor_takes_the_least_loaded_available_member(
    dalarna: Region, online: list[Counsellor], exclude: frozenset[int], chosen: int | None
) -> None:
    assert choose_counsellor(dalarna, "north", online, exclude) == chosen


def test_choose_counsellor_for_an_unknown_team_is_none(dalarna: Region) -> None:
    assert choose_counsellor(dalarna, "nowhere", [Counsellor(1, frozenset({"nowhere"}), 0)]) is None


# --- invariants over a whole week ------------------------------------------------------------------------

WEEK_INTAKES = [Intake(*row[:4]) for row in SPOT_CHECKS] + [
    Intake("young", "1441", "alcohol", "16-17"),
    Intake("young", "1489", "drugs", "18-21"),
    Intake("relative", "1489", "alcohol", "adult"),
]


@pytest.mark.parametrize("name", ["dalarna", "samla"])
def test_every_half_hour_of_a_week_has_a_team_and_an_honest_opening(name: str) -> None:
    """Monday to Sunday in half hours (and Christmas week): every intake gets a team of the region; an open
    decision is open by the team's hours, a closed one names an opening later than now."""
    region = bundled(name)
    starts = [local(2026, 11, 23, 0, 0), local(2026, 12, 21, 0, 0)]
    for start, step, intake in itertools.product(starts, range(7 * 48), WEEK_INTAKES):
        now = start + timedelta(minutes=30 * step)
        decision = decide(region, intake, now)
        team = region.team(decision.team)
        assert team is not None
        assert hours.is_open(team.hours, now, region.timezone, region.holidays) is decision.open
        if decision.open:
            assert decision.opens_at is None
        else:
            assert decision.opens_at is not None
            assert decision.opens_at > now
            assert hours.is_open(team.hours, decision.opens_at, region.timezone, region.holidays)
