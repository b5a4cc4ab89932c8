"""triage/hours.py: open or closed at an instant, the next opening and the closing time, on Swedish
wall-clock time: opening and closing minutes, holidays, dates with their own hours, daylight saving
(Europe/Stockholm springs forward 2026-03-29 02:00→03:00 and falls back 2026-10-25 03:00→02:00)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.triage.conftest import HOLIDAYS, UTC, local, spans, utc, week
from triage.hours import closes_at, is_open, next_opening
from triage.region import Hours

TZ = "Europe/Stockholm"
NONE: frozenset[date] = frozenset()
DAY = spans("08:00-17:00")
OFFICE = week(DAY, DAY, DAY, DAY, DAY)  # Monday to Friday 08:00–17:00, closed on holidays


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (local(2026, 3, 2, 7, 59), False),  # Monday, the minute before opening
        (local(2026, 3, 2, 8, 0), True),  # the opening minute
        (local(2026, 3, 2, 16, 59), True),  # the last open minute
        (local(2026, 3, 2, 17, 0), False),  # the closing minute is closed
        (local(2026, 3, 7, 12, 0), False),  # Saturday
        (utc(2026, 3, 2, 7, 0), True),  # 08:00 in Sweden (CET, UTC+1), given in UTC
        (utc(2026, 3, 2, 16, 0), False),  # 17:00 in Sweden
    ],
)
def test_open_from_the_opening_minute_to_before_the_closing_minute(at: datetime, open_: bool) -> None:
    """A span 08:00-17:00 includes 08:00 and excludes 17:00, whatever zone the instant is given in."""
    assert is_open(OFFICE, at, TZ, NONE) is open_


def test_a_holiday_keeps_the_holiday_hours_or_is_closed() -> None:
    """On a region holiday a team keeps its `holidays` hours; without them it is closed all day."""
    with_holiday_hours = week(DAY, DAY, DAY, DAY, DAY, holidays=spans("13:00-17:00"))
    good_friday = local(2026, 4, 3, 10)  # a Friday, and a holiday in the region
    assert not is_open(with_holiday_hours, good_friday, TZ, HOLIDAYS)
    assert is_open(with_holiday_hours, local(2026, 4, 3, 13), TZ, HOLIDAYS)
    assert not is_open(OFFICE, local(2026, 4, 3, 13), TZ, HOLIDAYS)
    assert is_open(OFFICE, local(2026, 4, 3, 13), TZ, NONE)  # not a holiday where the region says not


def test_a_date_with_its_own_hours_wins_over_weekday_and_holiday() -> None:
    """Christmas Eve 2026 (a Thursday and a holiday) with its own hours 10:00-14:00."""
    hours = week(DAY, DAY, DAY, DAY, DAY, holidays=spans("13:00-17:00"), dates=((date(2026, 12, 24), spans("10:00-14:00")),))
    assert not is_open(hours, local(2026, 12, 24, 9, 59), TZ, HOLIDAYS)
    assert is_open(hours, local(2026, 12, 24, 10), TZ, HOLIDAYS)
    assert not is_open(hours, local(2026, 12, 24, 14), TZ, HOLIDAYS)
    assert is_open(hours, local(2026, 12, 25, 13), TZ, HOLIDAYS)  # the day after keeps the holiday hours
    assert closes_at(hours, local(2026, 12, 24, 11), TZ, HOLIDAYS) == local(2026, 12, 24, 14)


def test_next_opening_is_the_instant_itself_when_open() -> None:
    at = local(2026, 3, 3, 9, 30)
    assert next_opening(OFFICE, at, TZ, NONE) is at


def test_next_opening_later_the_same_day_and_across_a_weekend() -> None:
    """Before opening: the same morning. Friday evening: Monday morning."""
    assert next_opening(OFFICE, local(2026, 3, 3, 6), TZ, NONE) == local(2026, 3, 3, 8)
    assert next_opening(OFFICE, local(2026, 3, 6, 17), TZ, NONE) == local(2026, 3, 9, 8)
    assert next_opening(OFFICE, local(2026, 3, 7, 12), TZ, NONE) == local(2026, 3, 9, 8)


def test_next_opening_is_given_in_the_region_zone() -> None:
    opens = next_opening(OFFICE, utc(2026, 3, 6, 20), TZ, NONE)
    assert opens is not None and str(opens) == "2026-03-09 08:00:00+01:00"


def test_next_opening_skips_the_christmas_holidays() -> None:
    """After Wednesday 23 December 2026: 24, 25, 26 are holidays, 27 a Sunday: Monday the 28th, 08:00."""
    assert next_opening(OFFICE, local(2026, 12, 23, 17), TZ, HOLIDAYS) == local(2026, 12, 28, 8)
    # New Year's Eve and Day are holidays too, then a weekend: Monday 4 January 2027.
    assert next_opening(OFFICE, local(2026, 12, 30, 17), TZ, HOLIDAYS) == local(2027, 1, 4, 8)


def test_next_opening_is_none_beyond_the_horizon() -> None:
    """A team never open on weekdays, open only on one date 30 days ahead: None within 14 days."""
    only_then = week(dates=((date(2026, 4, 1), DAY),))
    assert next_opening(only_then, local(2026, 3, 2, 12), TZ, NONE) is None
    assert next_opening(only_then, local(2026, 3, 2, 12), TZ, NONE, horizon_days=30) == local(2026, 4, 1, 8)
    assert next_opening(week(), local(2026, 3, 2, 12), TZ, HOLIDAYS) is None


def test_wall_clock_hours_on_both_sides_of_spring_forward() -> None:
    """08:00 Swedish time is 07:00Z in winter time and 06:00Z in summer time (2026-03-29)."""
    assert next_opening(OFFICE, utc(2026, 3, 27, 5), TZ, NONE) == utc(2026, 3, 27, 7)
    assert next_opening(OFFICE, utc(2026, 3, 27, 17), TZ, NONE) == utc(2026, 3, 30, 6)
    assert is_open(OFFICE, utc(2026, 3, 30, 6), TZ, NONE)
    assert not is_open(OFFICE, utc(2026, 3, 30, 5, 59), TZ, NONE)
    assert closes_at(OFFICE, utc(2026, 3, 30, 6), TZ, NONE) == utc(2026, 3, 30, 15)


def test_wall_clock_hours_on_both_sides_of_fall_back() -> None:
    """08:00 Swedish time is 06:00Z in summer time and 07:00Z in winter time (2026-10-25)."""
    assert next_opening(OFFICE, utc(2026, 10, 23, 4), TZ, NONE) == utc(2026, 10, 23, 6)
    assert next_opening(OFFICE, utc(2026, 10, 23, 16), TZ, NONE) == utc(2026, 10, 26, 7)
    assert closes_at(OFFICE, utc(2026, 10, 26, 7), TZ, NONE) == utc(2026, 10, 26, 16)


def test_a_span_starting_in_the_spring_forward_gap_starts_when_the_clock_jumps() -> None:
    """02:30 does not exist on 2026-03-29: a span 02:30-04:00 opens at 03:00 CEST (01:00Z)."""
    night = week(sun=spans("02:30-04:00"))
    assert next_opening(night, utc(2026, 3, 28, 23), TZ, NONE) == utc(2026, 3, 29, 1)
    assert not is_open(night, utc(2026, 3, 29, 0, 59), TZ, NONE)
    assert is_open(night, utc(2026, 3, 29, 1), TZ, NONE)
    assert closes_at(night, utc(2026, 3, 29, 1), TZ, NONE) == utc(2026, 3, 29, 2)  # 04:00 CEST


def test_a_time_that_occurs_twice_at_fall_back_means_its_first_occurrence() -> None:
    """02:30 happens twice on 2026-10-25 (00:30Z in summer time, 01:30Z in winter time): a span ending
    at 02:30 ends at the first one and stays closed through the repeated half hour.

    Compared in UTC: Python never finds a time in the repeated hour equal to one in another zone."""
    night = week(sun=spans("00:00-02:30"))
    ends = closes_at(night, utc(2026, 10, 24, 23), TZ, NONE)
    assert ends is not None and ends.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert not is_open(night, utc(2026, 10, 25, 1, 15), TZ, NONE)  # 02:15 the second time
    later = week(sun=spans("02:30-04:00"))
    opens = next_opening(later, utc(2026, 10, 24, 23), TZ, NONE)
    assert opens is not None and opens.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert is_open(later, utc(2026, 10, 25, 1, 15), TZ, NONE)  # the second 02:15 is after the first 02:30


def test_closes_at_runs_through_midnight_when_the_next_day_starts_at_00() -> None:
    """Friday 20:00-24:00 and Saturday 00:00-02:00 are one evening: it closes Saturday 02:00."""
    late = week(fri=spans("20:00-24:00"), sat=spans("00:00-02:00"))
    assert closes_at(late, local(2026, 3, 6, 21), TZ, NONE) == local(2026, 3, 7, 2)
    assert is_open(late, local(2026, 3, 7, 1, 59), TZ, NONE)
    alone = week(fri=spans("20:00-24:00"))
    assert closes_at(alone, local(2026, 3, 6, 21), TZ, NONE) == local(2026, 3, 7, 0)


def test_closes_at_joins_spans_that_meet_and_is_none_when_closed() -> None:
    split = week(mon=spans("08:00-12:00", "12:00-16:00", "17:00-19:00"))
    assert closes_at(split, local(2026, 3, 2, 9), TZ, NONE) == local(2026, 3, 2, 16)
    assert closes_at(split, local(2026, 3, 2, 16, 30), TZ, NONE) is None
    assert closes_at(split, local(2026, 3, 2, 18), TZ, NONE) == local(2026, 3, 2, 19)


def test_round_the_clock_hours_are_open_at_any_instant() -> None:
    always = Hours(weekly=(spans("00:00-24:00"),) * 7, holidays=spans("00:00-24:00"))
    for at in (utc(2026, 3, 29, 1), utc(2026, 10, 25, 1, 30), local(2026, 12, 24, 23, 59)):
        assert is_open(always, at, TZ, HOLIDAYS)
