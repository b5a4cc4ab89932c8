"""triage/config.py: the bundled regions parse into the values they describe, and each kind of mistake a
clinic can make in its region file is reported with the file, the line and the key, all at once.

The invalid cases are a table: small edits to the bundled Dalarna text, the text whose line the message
must name (found in the edited file), and the message after ``dalarna.toml:LINE: ``."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.triage.conftest import dalarna_by_hand, spans
from triage import ConfigError, Priority, Region, load_region, parse_region
from triage.config import bundled_region_text
from triage.region import Pickup, TeamKind

DALARNA = bundled_region_text("dalarna")
# Every [[crisis]] entry, up to the comment that opens the self-test section.
CRISIS = DALARNA[DALARNA.index("[[crisis]]") : DALARNA.index("# ---", DALARNA.index("[[crisis]]"))]
MON_TO_THU = ("mon", "tue", "wed", "thu")
CHILDREN_HOURS = "[teams.hours]\n" + "".join(f'{day} = ["08:00-16:30"]\n' for day in MON_TO_THU) + 'fri = ["08:00-15:00"]\n'
NORTH_WEEK = "[teams.hours]\n" + "".join(f'{day} = ["08:00-17:00"]\n' for day in MON_TO_THU) + 'fri = ["08:00-16:00"]\n'
YOUNG_RULE = 'rules[4] "young people to their home area\'s ambulant team"'


def edited(edits: list[tuple[str, str]]) -> str:
    text = DALARNA
    for old, new in edits:
        assert old in text, f"the test's edit no longer applies to dalarna.toml: {old!r}"
        text = text.replace(old, new, 1)
    return text


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_region(text, "dalarna.toml")
    return caught.value.problems


def line_of(text: str, snippet: str) -> int:
    """The line where ``snippet`` first starts a line (so that comments mentioning a key do not count)."""
    return ("\n" + text)[: ("\n" + text).index("\n" + snippet) + 1].count("\n")


class Case(NamedTuple):
    name: str
    edits: list[tuple[str, str]]  # to dalarna.toml, each applied to the first place its text occurs
    at: str | None  # text starting the line the message names (None: a message without a line)
    says: str  # the message after "dalarna.toml:LINE: "


CASES = [
    Case("invalid TOML", [('name = "MiniMaria Dalarna"', 'name = "MiniMaria Dalarna')],
         at='name = "MiniMaria Dalarna', says="not valid TOML: Illegal character"),
    # unknown keys
    Case("typo in a team key", [('areas = ["north"]', 'municipalitys = ["2080"]')],
         at="municipalitys", says='teams[2] "north".municipalitys: unknown key "municipalitys" (did you mean "municipalities"?)'),
    Case("typo in a region key", [('languages = ["sv", "en"]', 'language = ["sv", "en"]')],
         at="language =", says='region.language: unknown key "language" (did you mean "languages"?)'),
    Case("typo in a rule's when", [('when = { roles = ["relative"] }', 'when = { role = ["relative"] }')],
         at="when = { role", says='rules[3] "relatives".when.role: unknown key "role" (did you mean "roles"?)'),
    Case("unknown weekday key", [('fri = ["08:00-16:00"]', 'friday = ["08:00-16:00"]')],
         at="friday",
         says='teams[2] "north".hours.friday: unknown key "friday" (known keys: mon, tue, wed, thu, fri, sat, sun, holidays, '
              "dates)"),
    Case("unknown instrument", [("[screening.audit]", "[screening.audi]")],
         at="[screening.audi]", says='screening.audi: unknown key "audi" (did you mean "audit"?)'),
    Case("unknown top-level key", [("[region]\n", "version = 2\n[region]\n")],
         at="version", says='version: unknown key "version"'),
    Case("unknown crisis key",
         [('en = "Emergency: danger to life or health"', 'en = "Emergency: danger to life or health"\nde = "Notfall"')],
         at='de = "Notfall"',
         says='crisis[1] "SOS Alarm".de: unknown key "de" (a crisis entry has name, number, ages, hours, municipalities, '
              "areas and one text per region language: sv, en)"),
    Case("crisis line for an unknown municipality",
         [('en = "Emergency: danger to life or health"',
           'en = "Emergency: danger to life or health"\nmunicipalities = ["9999"]')],
         at='municipalities = ["9999"]',
         says='crisis[1] "SOS Alarm".municipalities: unknown municipality code "9999"'),
    # missing required keys
    Case("region without id", [('id = "dalarna"\n', "")],
         at="[region]", says="region.id: required, but missing"),
    Case("region without languages", [('languages = ["sv", "en"]', 'language = ["sv", "en"]')],
         at="[region]", says="region.languages: required, but missing"),
    Case("team without kind", [('kind = "bup"\n', "")],
         at='[[teams]]\nid = "children"', says='teams[4] "children".kind: required, but missing'),
    Case("team without hours", [(CHILDREN_HOURS, "")],
         at='[[teams]]\nid = "children"',
         says='teams[4] "children".hours: missing: give the team\'s opening hours in a [teams.hours] table'),
    Case("cut-off without default", [("male = 6, default = 2 }", "male = 6 }")],
         at="cutoff = { young = 2", says="screening.dudit.cutoff.default: required, but missing"),
    # wrong types
    Case("capacity as text", [("capacity = 4", 'capacity = "4"')],
         at='capacity = "4"', says='teams[1] "reception".capacity: must be a whole number, not text'),
    Case("code as a number", [('code = "2021"', "code = 2021")],
         at="code = 2021", says='municipalities[1] "Vansbro".code: must be text in quotes, not a whole number'),
    Case("geographic as text", [("geographic = true", 'geographic = "yes"')],
         at='geographic = "yes"', says='teams[2] "north".geographic: must be true or false, not text'),
    Case("roles as text", [('roles = ["relative", "family"]', 'roles = "relative"')],
         at='roles = "relative"', says='teams[5] "relatives".roles: must be a list [...], not text'),
    Case("holidays as text", [("2026-01-01, 2026-01-06,", '"2026-01-01", 2026-01-06,')],
         at="holidays = [", says="region.holidays: must list dates like 2026-12-24, not text"),
    Case("crisis number as a number", [('number = "112"', "number = 112")],
         at="number = 112", says='crisis[1] "SOS Alarm".number: must be text in quotes, not a whole number'),
    Case("capacity 0", [("capacity = 4", "capacity = 0")],
         at="capacity = 0", says='teams[1] "reception".capacity: must be at least 1, not 0'),
    Case("offer timeout under 5 s", [("offer_timeout_s = 60", "offer_timeout_s = 2")],
         at="offer_timeout_s = 2", says='teams[2] "north".offer_timeout_s: must be at least 5, not 2'),
    Case("target wait 0 minutes", [("target_wait_min = 5", "target_wait_min = 0")],
         at="target_wait_min = 0", says='teams[1] "reception".target_wait_min: must be at least 1, not 0'),
    Case("target wait over a day", [("target_wait_min = 5", "target_wait_min = 2000")],
         at="target_wait_min = 2000", says='teams[1] "reception".target_wait_min: must be at most 1440 (a day), not 2000'),
    Case("target wait as text", [("target_wait_min = 5", 'target_wait_min = "5"')],
         at='target_wait_min = "5"', says='teams[1] "reception".target_wait_min: must be a whole number, not text'),
    Case("unknown time zone", [('timezone = "Europe/Stockholm"', 'timezone = "Europe/Stokholm"')],
         at="timezone", says='region.timezone: unknown time zone "Europe/Stokholm"'),
    # duplicates, unknown municipalities and areas, coverage
    Case("duplicate municipality code", [('code = "2034"', 'code = "2031"')],
         at='code = "2031"\nname = "Orsa"', says='municipalities[6] "Orsa".code: 2031 appears twice (also municipalities[5])'),
    Case("duplicate team id", [('id = "gambling"', 'id = "relatives"')],
         at='id = "relatives"\nname = "Spel', says='teams[6] "relatives".id: "relatives" is also the id of teams[5]'),
    Case("unknown municipality in a team", [('kind = "bup"', 'kind = "bup"\nmunicipalities = ["2099"]')],
         at='municipalities = ["2099"]',
         says='teams[4] "children".municipalities: unknown municipality code "2099" (did you mean "2039"?)'),
    Case("unknown area in a team", [('areas = ["north"]', 'areas = ["nort"]')],
         at='areas = ["nort"]', says='teams[2] "north".areas: unknown area "nort" (did you mean "north"?)'),
    Case("unknown municipality in a rule",
         [('when = { roles = ["relative"] }', 'when = { roles = ["relative"], municipalities = ["2099"] }')],
         at='when = { roles = ["relative"], m',
         says='rules[3] "relatives".when.municipalities: unknown municipality code "2099"'),
    Case("unknown area in a rule", [('when = { roles = ["young"] }', 'when = { roles = ["young"], areas = ["west"] }')],
         at='when = { roles = ["young"], areas',
         says='rules[4] "young people to their home area\'s ambulant team".when.areas: unknown area "west" (one of: north, '
              "south)"),
    Case("a municipality no team covers", [
        ('kind = "reception"', 'kind = "reception"\nareas = ["north"]'),
        ('kind = "bup"', 'kind = "bup"\nareas = ["north"]'),
        ('roles = ["relative", "family"]', 'roles = ["relative", "family"]\nareas = ["north"]'),
        ('topics = ["gambling"]', 'topics = ["gambling"]\nareas = ["north"]'),
        ('areas = ["south"]', 'municipalities = ["2061", "2080", "2081", "2082", "2083", "2084", "2085"]'),
    ], at='[[municipalities]]\ncode = "2026"',
         says='municipalities[3] "Gagnef": no team covers 2026 Gagnef: add it (or its area "south")'),
    # hours
    Case("hours without minutes", [('mon = ["09:00-21:00"]', 'mon = ["9-17"]')],
         at='mon = ["9-17"]',
         says='teams[1] "reception".hours.mon: "9-17" is not a span like "09:00-17:00" (HH:MM-HH:MM, 24-hour clock)'),
    Case("hour 25", [('sat = ["13:00-17:00"]', 'sat = ["13:00-25:00"]')],
         at="sat =",
         says='teams[1] "reception".hours.sat: "13:00-25:00": 25:00 is not a time of day (00:00 to 23:59; 24:00 only as an end)'),
    Case("24:00 as a start", [('sun = ["13:00-17:00"]', 'sun = ["24:00-24:00"]')],
         at="sun =", says='teams[1] "reception".hours.sun: "24:00-24:00": 24:00 is not a time of day'),
    Case("a span ending before it starts", [('fri = ["09:00-17:00"]', 'fri = ["17:00-09:00"]')],
         at='fri = ["17:00-09:00"]',
         says='teams[1] "reception".hours.fri: "17:00-09:00" is empty: a span must end after it starts'),
    Case("overlapping spans", [('thu = ["08:00-17:00"]', 'thu = ["08:00-12:00", "11:00-13:00"]')],
         at='thu = ["08:00-12:00", "11', says='teams[2] "north".hours.thu: 08:00-12:00 and 11:00-13:00 overlap'),
    Case("a team never open", [(NORTH_WEEK, '[teams.hours]\nholidays = ["10:00-12:00"]\n')],
         at='[teams.hours]\nholidays = ["10', says='teams[2] "north".hours: the team is never open: no weekday has a span'),
    Case("a date given hours twice",
         [('hours = ["10:00-14:00"]', 'hours = ["10:00-14:00"]\n[[teams.hours.dates]]\ndate = 2026-12-24 # again\nhours = []')],
         at="date = 2026-12-24 # again",
         says='teams[1] "reception".hours.dates[2].date: 2026-12-24 is given its own hours twice'),
    # the closed sets
    Case("unknown topic", [('topics = ["gambling"]', 'topics = ["gaming"]')],
         at='topics = ["gaming"]', says='teams[6] "gambling".topics: unknown topic "gaming" (did you mean "gambling"?)'),
    Case("unknown role", [('roles = ["relative", "family"]', 'roles = ["parent", "family"]')],
         at='roles = ["parent", "family"]',
         says='teams[5] "relatives".roles: unknown role "parent" (one of: young, relative, family)'),
    Case("age band with an en dash", [('age_bands = ["6-12"]', 'age_bands = ["6–12"]')],
         at='age_bands = ["6–12"]', says='teams[4] "children".age_bands: unknown age band "6–12" (did you mean "6-12"?)'),
    Case("unknown team kind", [('kind = "bup"', 'kind = "bupp"')],
         at='kind = "bupp"', says='teams[4] "children".kind: unknown team kind "bupp" (did you mean "bup"?)'),
    Case("unknown pickup", [('pickup = "offer"', 'pickup = "offered"')],
         at='pickup = "offered"', says='teams[2] "north".pickup: unknown pickup "offered" (did you mean "offer"?)'),
    Case("unknown priority", [('priority = "high"', 'priority = "normal"')],
         at='priority = "normal"',
         says='rules[1] "children 6–12 always to the team that works with BUP".priority: unknown priority "normal" (one of: '
              "high, urgent)"),
    # references to teams, fallback chains
    Case("unknown default team", [('default_team = "reception"', 'default_team = "recepton"')],
         at="default_team", says='region.default_team: no team has the id "recepton" (did you mean "reception"?)'),
    Case("unknown fallback", [('fallback = "reception"', 'fallback = "receptoin"')],
         at='fallback = "receptoin"',
         says='teams[2] "north".fallback: no team has the id "receptoin" (did you mean "reception"?)'),
    Case("unknown rule team", [('team = "relatives"', 'team = "relative"')],
         at='team = "relative"\n', says='rules[3] "relatives".team: no team has the id "relative" (did you mean "relatives"?)'),
    Case("unknown alert team", [('alert_teams = ["reception"]', 'alert_teams = ["reception", "duty"]')],
         at="alert_teams", says='region.alert_teams: no team has the id "duty"'),
    Case("the default team with a fallback", [
        ('pickup = "manual"\n[teams.hours]\nmon = ["09:00',
         'pickup = "manual"\nfallback = "north"\n[teams.hours]\nmon = ["09:00'),
    ], at='fallback = "north"',
         says='teams[1] "reception".fallback: the default team is where everything ends: it has no fallback'),
    Case("a fallback circle", [
        ('max_wait_s = 900\nfallback = "reception"', 'max_wait_s = 900\nfallback = "relatives"'),  # children's
        ('max_wait_s = 900\nfallback = "reception"', 'max_wait_s = 900\nfallback = "children"'),  # then relatives'
    ], at='fallback = "relatives"',
         says='teams[4] "children".fallback: the fallback chain children → relatives → children goes round in a circle and '
              'never reaches the default team "reception"'),
    # rules that never match or never deliver
    Case("a rule after a catch-all rule", [('when = { topics = ["gambling"] }', "when = {}")],
         at='[[rules]]\nname = "relatives"',
         says='rules[3] "relatives": never matches: rules[2] "gambling, for young people and relatives" comes first and '
              "has an empty `when`, so it matches everyone"),
    Case("a rule after a rule without when", [('when = { topics = ["gambling"] }\n', "")],
         at='[[rules]]\nname = "relatives"',
         says='rules[3] "relatives": never matches: rules[2] "gambling, for young people and relatives" comes first and '
              "has an empty `when`, so it matches everyone"),
    Case("a rule inside an earlier rule",
         [('when = { roles = ["relative"] }', 'when = { roles = ["relative"], topics = ["gambling"] }')],
         at='[[rules]]\nname = "relatives"',
         says='rules[3] "relatives": never matches: rules[2] "gambling, for young people and relatives" comes first and '
              "matches everyone this rule does"),
    Case("municipalities outside the rule's areas",
         [('when = { roles = ["young"] }', 'when = { roles = ["young"], municipalities = ["2080"], areas = ["north"] }')],
         at='when = { roles = ["young"], m',
         says='rules[4] "young people to their home area\'s ambulant team".when: never matches: none of its municipalities '
              "lies in its areas"),
    Case("a rule's team takes nobody it matches", [('team = "relatives"', 'team = "north"')],
         at='team = "north"',
         says='rules[3] "relatives".team: team "north" takes nobody this rule matches (roles: the rule matches relative, the '
              "team takes young)"),
    Case("by municipality, no home team takes them",
         [('when = { roles = ["young"] }', 'when = { roles = ["young"], age_bands = ["adult"] }')],
         at='by = "municipality"',
         says='rules[4] "young people to their home area\'s ambulant team".by: no geographic team takes anyone this rule '
              "matches"),
    Case("by municipality, no geographic team", [("geographic = true\n", ""), ("geographic = true\n", "")],
         at='by = "municipality"',
         says='rules[4] "young people to their home area\'s ambulant team".by: no team has geographic = true'),
    Case("both team and by", [('\nby = "municipality"', '\nby = "municipality"\nteam = "north"')],
         at='by = "municipality"',
         says='rules[4] "young people to their home area\'s ambulant team".by: give either team = "..." or by = '
              '"municipality", not both'),
    Case("neither team nor by", [('team = "relatives"\n', "")],
         at='[[rules]]\nname = "relatives"',
         says='rules[3] "relatives": says neither where to go: give team = "..." or by = "municipality"'),
    Case("by something else", [('\nby = "municipality"', '\nby = "area"')],
         at='by = "area"',
         says='rules[4] "young people to their home area\'s ambulant team".by: unknown value "area" (one of: municipality)'),
    # screening
    Case("zones not from 0", [("zones = { low = 0, hazardous = 8", "zones = { low = 1, hazardous = 8")],
         at="zones = { low = 1", says="screening.audit.zones.low: the first zone must start at 0, not 1"),
    Case("zones not ascending", [("harmful = 16, dependence = 20", "harmful = 16, dependence = 12")],
         at="zones = { low = 0, hazardous",
         says='screening.audit.zones.dependence: starts at 12, not above the zone before it ("harmful" from 16): list the '
              "zones in ascending order"),
    Case("a zone above the maximum", [("problems = 6, dependence = 25", "problems = 6, dependence = 45")],
         at="zones = { low = 0, problems", says="screening.dudit.zones.dependence: starts at 45, above DUDIT's maximum score 44"),
    Case("raise_priority_from not a zone", [('raise_priority_from = "harmful"', 'raise_priority_from = "harmfull"')],
         at="raise_priority_from",
         says='screening.audit.raise_priority_from: "harmfull" is not one of the zones (did you mean "harmful"?)'),
    Case("raise_priority_from far from any zone", [('raise_priority_from = "harmful"', 'raise_priority_from = "red"')],
         at="raise_priority_from",
         says='screening.audit.raise_priority_from: "red" is not one of the zones (low, hazardous, harmful, dependence)'),
    Case("a cut-off above the maximum", [("cutoff = { young = 5,", "cutoff = { young = 41,")],
         at="cutoff = { young = 41", says="screening.audit.cutoff.young: 41 is above AUDIT's maximum score 40"),
    Case("a negative cut-off", [("male = 6, default = 2", "male = -1, default = 2")],
         at="cutoff = { young = 2", says="screening.dudit.cutoff.male: must be at least 0, not -1"),
    # crisis
    Case("a crisis entry without number", [('number = "90101"\n', "")],
         at='[[crisis]]\nname = "Självmordslinjen', says='crisis[2] "Självmordslinjen (Mind)".number: required, but missing'),
    Case("a crisis entry without English", [('en = "If you are thinking about suicide"\n', "")],
         at='[[crisis]]\nname = "Självmordslinjen',
         says='crisis[2] "Självmordslinjen (Mind)".en: missing: every crisis entry needs a text in each region language (sv, '
              "en)"),
    Case("no crisis entry", [(CRISIS, "")],
         at=None, says="crisis: no [[crisis]] entry: list at least 112"),
]


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in CASES])
def test_each_mistake_is_reported_with_its_line_and_key(case: Case) -> None:
    text = edited(case.edits)
    where = f"dalarna.toml:{line_of(text, case.at)}" if case.at is not None else "dalarna.toml"
    found = problems(text)
    assert any(p.startswith(f"{where}: {case.says}") for p in found), "\n".join(found)


def test_the_example_line_is_the_line_of_the_key() -> None:
    """The overlapping Thursday of the north team is reported on the line that says `thu = ...`."""
    text = edited([('thu = ["08:00-17:00"]', 'thu = ["08:00-12:00", "11:00-13:00"]')])
    (only,) = problems(text)
    assert text.splitlines()[int(only.split(":")[1]) - 1] == 'thu = ["08:00-12:00", "11:00-13:00"]'


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    text = edited([
        ("capacity = 4", 'capacity = "4"'),
        ('team = "relatives"', 'team = "relative"'),
        ('timezone = "Europe/Stockholm"', 'timezone = "Mars/Olympus"'),
        ('age_bands = ["6-12"]', 'age_bands = ["6–12"]'),
    ])
    found = problems(text)
    assert [p.split(": ")[1] for p in found] == [
        "region.timezone", 'teams[1] "reception".capacity', 'teams[4] "children".age_bands', 'rules[3] "relatives".team',
    ]


def test_bundled_dalarna_is_the_region_written_out_by_hand() -> None:
    """Every team, rule, municipality and hour of dalarna.toml, areas expanded to municipality codes."""
    region = load_region()
    assert dataclasses.replace(region, crisis=()) == dalarna_by_hand()
    assert [(c.name, c.number) for c in region.crisis] == [
        ("SOS Alarm", "112"), ("Självmordslinjen (Mind)", "90101"), ("1177 Vårdguiden", "1177"), ("BRIS", "116 111"),
        ("Stödlinjen (spel)", "020-81 91 00"),
    ]
    assert region.crisis[0].hours is None and region.crisis[0].text["en"] == "Emergency: danger to life or health"
    assert region.crisis[3].ages == "0–18"
    gambling_line = region.crisis[4].hours
    assert gambling_line is not None and gambling_line.weekly[4] == spans("09:00-17:00") and gambling_line.weekly[5] == ()


def test_bundled_dalarna_team_settings() -> None:
    region = load_region()
    north = region.team("north")
    assert north is not None and north.municipalities == {"2021", "2023", "2029", "2031", "2034", "2039", "2062"}
    assert (north.pickup, north.offer_timeout_s, north.max_wait_s, north.fallback) == (Pickup.OFFER, 60, 600, "reception")
    assert north.target_wait_min == 5
    assert [t.target_wait_min for t in region.teams] == [5, 5, 5, 10, 10, 10]
    reception = region.team("reception")
    assert reception is not None and reception.fallback is None and reception.municipalities == frozenset()
    assert reception.hours.spans_on(date(2026, 12, 24), region.holidays) == spans("10:00-14:00")
    assert reception.hours.spans_on(date(2026, 12, 25), region.holidays) == spans("13:00-17:00")


def test_bundled_samla_has_its_two_municipalities_and_its_teams() -> None:
    region = parse_region(bundled_region_text("samla"), "samla.toml")
    assert isinstance(region, Region) and region.id == "samla" and region.timezone == "Europe/Stockholm"
    assert [(m.code, m.name) for m in region.municipalities] == [("1441", "Lerum"), ("1489", "Alingsås")]
    kinds = {t.id: t.kind for t in region.teams}
    assert kinds == {"reception": TeamKind.RECEPTION, "lerum": TeamKind.COUNSELLOR, "alingsas": TeamKind.COUNSELLOR,
                     "children": TeamKind.BUP, "relatives": TeamKind.COUNSELLOR}
    home = {t.id: t.municipalities for t in region.teams if t.geographic}
    assert home == {"lerum": {"1441"}, "alingsas": {"1489"}}
    children, relatives = region.team("children"), region.team("relatives")
    assert children is not None and children.age_bands == {"6-12"}
    assert relatives is not None and relatives.roles == {"relative", "family"}
    assert [(r.team, r.by_municipality, r.priority) for r in region.rules] == [
        ("children", False, Priority.HIGH), ("relatives", False, None), ("reception", False, None), (None, True, None),
        ("relatives", False, None), ("children", False, None),
    ]
    assert region.default_team == "reception" and {i.id for i in region.screening} == {"audit", "dudit"}


def test_load_region_reads_a_file_and_names_it_in_problems(tmp_path: Path) -> None:
    path = tmp_path / "region.toml"
    path.write_text(DALARNA, encoding="utf-8")
    assert load_region(path) == load_region()
    path.write_text(DALARNA.replace("capacity = 4", "capacity = 0"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_region(path)
    assert caught.value.problems == [f'{path}:101: teams[1] "reception".capacity: must be at least 1, not 0']


def test_a_missing_table_is_one_problem_not_one_per_key() -> None:
    """A misspelt [region] header: the table is missing and the header unknown; nothing about each key inside it."""
    text = edited([("[region]\n", "[regio]\n")])
    assert problems(text) == [
        "dalarna.toml: region: required, but missing",
        f'dalarna.toml:{line_of(text, "[regio]")}: regio: unknown key "regio" (did you mean "region"?)',
    ]


def test_a_key_of_the_wrong_type_is_one_problem() -> None:
    """A rule's `when` as text: one message, and the rule is not taken for a catch-all hiding the rules after it."""
    text = edited([('when = { roles = ["relative"] }', 'when = "relatives"')])
    line = line_of(text, 'when = "relatives"')
    assert problems(text) == [f'dalarna.toml:{line}: rules[3] "relatives".when: must be a table, not text']
