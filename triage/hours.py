"""Opening hours: is a team (or a crisis line) open at an instant, and when it next opens or closes.

Hours are local wall-clock times in the region's zone, so a team open 09:00–17:00 is open 09:00–17:00
on both sides of a daylight-saving change. Each span of a local day becomes an interval of instants:
a wall time that does not exist (02:30 on the spring-forward night) means the first instant after the
gap, and one that occurs twice (02:30 on the fall-back night) means its first occurrence (fold=0).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from triage.region import Hours, Span

# How far closes_at follows spans that run on into each other (a team open round the clock ends there).
_CONTINUOUS_DAYS = 31


def is_open(hours: Hours, at: datetime, tz: str, holidays: frozenset[date]) -> bool:
    """Whether ``at`` (aware) falls in an opening span of its local day."""
    return _open_span(hours, at, ZoneInfo(tz), holidays) is not None


def next_opening(hours: Hours, at: datetime, tz: str, holidays: frozenset[date], horizon_days: int = 14) -> datetime | None:
    """``at`` itself when open; else the start of the next opening span (aware, in ``tz``); None when
    nothing opens within ``horizon_days``."""
    zone = ZoneInfo(tz)
    if _open_span(hours, at, zone, holidays) is not None:
        return at
    today = at.astimezone(zone).date()
    for offset in range(horizon_days + 1):
        day = today + timedelta(days=offset)
        for span in hours.spans_on(day, holidays):
            start, end = _instant(day, span.start, zone), _instant(day, span.end, zone)
            if start > at.astimezone(UTC) and end > start:
                return start.astimezone(zone)
    return None


def closes_at(hours: Hours, at: datetime, tz: str, holidays: frozenset[date]) -> datetime | None:
    """When the span open at ``at`` ends (aware, in ``tz``); None when closed at ``at``. Spans that meet
    (12:00 ends one, 12:00 starts the next; or 24:00 and the next day's 00:00) count as one."""
    zone = ZoneInfo(tz)
    found = _open_span(hours, at, zone, holidays)
    if found is None:
        return None
    day, span = found
    end = span.end
    for _ in range(_CONTINUOUS_DAYS):
        following = next((s for s in hours.spans_on(day, holidays) if s.start == end), None)
        if following is not None:
            end = following.end
            continue
        if end < 1440:
            break
        tomorrow = day + timedelta(days=1)
        following = next((s for s in hours.spans_on(tomorrow, holidays) if s.start == 0), None)
        if following is None:
            break
        day, end = tomorrow, following.end
    return _instant(day, end, zone).astimezone(zone)


def _open_span(hours: Hours, at: datetime, zone: ZoneInfo, holidays: frozenset[date]) -> tuple[date, Span] | None:
    """The local day and span that ``at`` falls in, if any. A day's spans lie within that day's instants,
    so only ``at``'s own local day needs looking at."""
    day = at.astimezone(zone).date()
    for span in hours.spans_on(day, holidays):
        if _instant(day, span.start, zone) <= at.astimezone(UTC) < _instant(day, span.end, zone):
            return day, span
    return None


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The instant (in UTC) the local clock shows ``minute`` after midnight of ``day`` (1440: the next
    midnight): the first occurrence when it shows it twice, the end of the gap when never.

    Instants are compared in UTC: Python compares two datetimes with the same tzinfo by wall time,
    ignoring fold, which would blur the repeated hour of the fall-back night."""
    wall = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=minute)  # fold=0
    for _ in range(24 * 60):  # a gap lasts an hour in Sweden; no zone has one as long as a day
        instant = wall.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
            return instant
        wall += timedelta(minutes=1)  # wall-clock arithmetic: the next minute on the local clock
    raise ValueError(f"no local time near {day} {minute // 60:02}:{minute % 60:02} exists in {zone.key}")
