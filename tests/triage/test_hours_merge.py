"""triage/hours.py: dates with their own hours set at run time (``with_overrides``) and spans written as
"HH:MM-HH:MM" (``parse_spans``), without any I/O: a region in, a region out."""

from __future__ import annotations

from datetime import date

import pytest

from tests.triage.conftest import HOLIDAYS, bundled, local, spans
from triage.hours import (
    Conflict,
    Override,
    conflicts,
    is_open,
    parse_spans,
    spans_text,
    team_is_open,
    team_opens_at,
    with_overrides,
)
from triage.region import Region

TZ = "Europe/Stockholm"
TUESDAY = date(2026, 11, 17)


@pytest.fixture(scope="module")
def dalarna() -> Region:
    return bundled("dalarna")


def open_at(region: Region, team: str, hour: int, day: date = TUESDAY, minute: int = 0) -> bool:
    found = region.team(team)
    assert found is not None
    return is_open(found.hours, local(day.year, day.month, day.day, hour, minute), TZ, HOLIDAYS)


def test_an_every_team_closed_day_closes_every_team_that_day_only(dalarna: Region) -> None:
    """team None with no spans: nobody is open on that date; the day after keeps its weekly hours."""
    closed = with_overrides(dalarna, [Override(TUESDAY, None, ())])

    assert all(open_at(dalarna, t.id, 13) for t in dalarna.teams)
    assert not any(open_at(closed, t.id, 13) for t in closed.teams)
    assert open_at(closed, "reception", 13, day=date(2026, 11, 18))


def test_a_team_override_changes_that_team_only(dalarna: Region) -> None:
    """north closes at 12:00 that Tuesday; reception keeps 09:00–21:00."""
    short = with_overrides(dalarna, [Override(TUESDAY, "north", spans("08:00-12:00"))])

    assert open_at(short, "north", 11) and not open_at(short, "north", 13)
    assert open_at(short, "reception", 13)


SATURDAY = date(2026, 11, 21)  # north is closed on Saturdays, the reception open 10–16


@pytest.mark.parametrize(
    ("every", "own", "north_at_13", "reception_at_13"),
    [
        # All teams closed all day + north's own opening: the closure wins, nobody is open.
        ((), "12:00-14:00", False, False),
        # All teams open 10–14 + north closed all day: north's own closure wins, the others follow 10–14.
        ("10:00-14:00", (), False, True),
        # All teams open 10–12 + north's own 12–14: north's own hours win, the others follow 10–12.
        ("10:00-12:00", "12:00-14:00", True, False),
        # Both closed: closed.
        ((), (), False, False),
    ],
)
def test_precedence_when_a_date_has_an_every_team_and_a_team_override(
    dalarna: Region, every: str | tuple[()], own: str | tuple[()], north_at_13: bool, reception_at_13: bool
) -> None:
    """``winner``: an every-team whole-day closure beats a team's own hours; otherwise the team's own win.
    The order in which they were added does not matter."""
    made = [Override(TUESDAY, None, spans(every) if every else ()), Override(TUESDAY, "north", spans(own) if own else ())]

    for order in (made, made[::-1]):
        merged = with_overrides(dalarna, order)
        assert (team_is_open(merged, "north", local(2026, 11, 17, 13)),
                team_is_open(merged, "reception", local(2026, 11, 17, 13))) == (north_at_13, reception_at_13)


def test_an_every_team_closure_beats_an_extra_opening_on_a_normally_closed_day(dalarna: Region) -> None:
    """north's extra Saturday shift, then the whole clinic closed that Saturday: north is closed too, and
    opens next on Monday at 08:00."""
    merged = with_overrides(dalarna, [Override(SATURDAY, "north", spans("10:00-14:00")), Override(SATURDAY, None, ())])

    assert not team_is_open(merged, "north", local(2026, 11, 21, 11))
    assert team_opens_at(merged, "north", local(2026, 11, 21, 11)) == local(2026, 11, 23, 8)


def test_conflicts_name_the_other_override_and_which_one_applies() -> None:
    closed_all = Override(TUESDAY, None, ())
    north_open = Override(TUESDAY, "north", spans("12:00-14:00"))
    south_closed = Override(TUESDAY, "south", ())
    all_short = Override(TUESDAY, None, spans("10:00-12:00"))

    assert conflicts(closed_all, [north_open, south_closed]) == (Conflict(north_open, existing_wins=False),)
    assert conflicts(north_open, [closed_all]) == (Conflict(closed_all, existing_wins=True),)
    assert conflicts(all_short, [north_open, south_closed]) == (
        Conflict(north_open, existing_wins=True), Conflict(south_closed, existing_wins=True))
    assert conflicts(north_open, [all_short]) == (Conflict(all_short, existing_wins=False),)
    # Not conflicts: another date, the same kind (two teams, or every team twice), the same hours.
    assert conflicts(closed_all, [Override(date(2026, 11, 18), "north", spans("12:00-14:00"))]) == ()
    assert conflicts(north_open, [south_closed]) == ()
    assert conflicts(closed_all, [Override(TUESDAY, "north", ())]) == ()


def test_an_override_replaces_the_region_files_own_date_and_keeps_its_others(dalarna: Region) -> None:
    """Dalarna's reception has its own hours on 2026-12-24 (10–14); a run-time override for that date wins,
    one for another date is added beside it."""
    eve, new_year = date(2026, 12, 24), date(2026, 12, 31)
    merged = with_overrides(dalarna, [Override(eve, "reception", spans("08:00-09:00")),
                                      Override(new_year, "reception", ())])

    assert open_at(dalarna, "reception", 11, day=eve)
    assert not open_at(merged, "reception", 11, day=eve) and open_at(merged, "reception", 8, day=eve)
    assert not open_at(merged, "reception", 13, day=new_year)


def test_an_override_opens_a_day_that_is_normally_closed(dalarna: Region) -> None:
    """north is closed on Saturdays; an extra Saturday shift opens it."""
    saturday = date(2026, 11, 21)
    merged = with_overrides(dalarna, [Override(saturday, "north", spans("10:00-14:00"))])

    assert not open_at(dalarna, "north", 11, day=saturday)
    assert open_at(merged, "north", 11, day=saturday)


def test_unknown_teams_are_left_out_and_no_overrides_change_nothing(dalarna: Region) -> None:
    assert with_overrides(dalarna, []) is dalarna
    merged = with_overrides(dalarna, [Override(TUESDAY, "no-such-team", ())])
    assert [t.hours for t in merged.teams] == [t.hours for t in dalarna.teams]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["09:00-12:00"], ["09:00-12:00"]),
        (["13:00-17:00", "09:00-12:00"], ["09:00-12:00", "13:00-17:00"]),  # sorted
        (["12:00-13:00", "13:00-14:00"], ["12:00-13:00", "13:00-14:00"]),  # meeting is not overlapping
        (["00:00-24:00"], ["00:00-24:00"]),
        ([" 09:00-12:00 "], ["09:00-12:00"]),  # surrounding spaces are forgiven, as in the region file
        ([], []),
    ],
)
def test_well_formed_spans_parse(texts: list[str], expected: list[str]) -> None:
    assert spans_text(parse_spans(texts)) == expected


@pytest.mark.parametrize(
    "texts",
    [["9-12"], ["09:00"], ["12:00-09:00"], ["10:00-10:00"], ["09:00-12:00", "11:00-13:00"], ["25:00-26:00"],
     ["09:60-10:00"], ["24:00-24:00"], ["09:00 - 12:00"], [""]],
)
def test_malformed_empty_or_overlapping_spans_are_refused(texts: list[str]) -> None:
    with pytest.raises(ValueError, match=r"span|overlap|time of day"):
        parse_spans(texts)
