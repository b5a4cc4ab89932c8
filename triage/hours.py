"""Opening hours: is a team (or a crisis line) open at an instant, and when it next opens or closes.

Hours are local wall-clock times in the region's zone, so a team open 09:00–17:00 is open 09:00–17:00
on both sides of a daylight-saving change. Each span of a local day becomes an interval of instants:
a wall time that does not exist (02:30 on the spring-forward night) means the first instant after the
gap, and one that occurs twice (02:30 on the fall-back night) means its first occurrence (fold=0).

Also here: dates with their own hours set at run time (``Override``, merged into a Region by
``with_overrides``) and the parsing of spans written as "HH:MM-HH:MM".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from triage.region import Hours, Region, Span
from triage.toml_reading import Reader, span_text


@dataclass(frozen=True)
class Override:
    """A date with its own hours for one team (``team`` None: every team); ``spans`` () = closed all day."""

    day: date
    team: str | None
    spans: tuple[Span, ...]


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


def parse_spans(texts: Sequence[str]) -> tuple[Span, ...]:
    """Spans written like the region file's ("09:00-12:00"), read by the same reader: sorted; ValueError
    (naming every problem) when one is malformed, empty or overlaps another."""
    reader = Reader("", "spans", {"spans": list(texts)})
    spans = reader.spans(reader.data, "spans", ())
    if reader.found:
        raise ValueError("; ".join(message for _, message in reader.found))
    return spans


def spans_text(spans: Iterable[Span]) -> list[str]:
    return [span_text(s) for s in spans]


def winner(every: Override, own: Override) -> Override:
    """Which of two overrides for the same date applies to a team: its own one (``own``) or the every-team
    one (``every``). The precedence rule, in one place: an every-team override that closes the whole day
    wins (a clinic closed for a staff day or a storm is closed, whatever a team's own hours for that date
    said before); otherwise the team's own hours win over the every-team ones."""
    return every if not every.spans else own


def with_overrides(region: Region, overrides: Iterable[Override]) -> Region:
    """The region with dates that have their own hours: each replaces that day's hours (weekly, holiday or
    the region file's own date) of its team, or of every team when ``team`` is None; when a date has both,
    ``winner`` decides. Overrides of teams the region lacks are left out."""
    every: dict[date, Override] = {}
    own: dict[str, dict[date, Override]] = {}
    for o in overrides:
        if o.team is None:
            every[o.day] = o
        else:
            own.setdefault(o.team, {})[o.day] = o
    if not every and not own:
        return region
    teams = []
    for team in region.teams:
        dates = dict(every)
        for day, o in own.get(team.id, {}).items():
            dates[day] = winner(every[day], o) if day in every else o
        if not dates:
            teams.append(team)
            continue
        merged = {**dict(team.hours.overrides), **{day: o.spans for day, o in dates.items()}}
        hours = dataclasses.replace(team.hours, overrides=tuple(sorted(merged.items())))
        teams.append(dataclasses.replace(team, hours=hours))
    return dataclasses.replace(region, teams=tuple(teams))


@dataclass(frozen=True)
class Conflict:
    """An existing override for the same date as a new one, one for every team and the other for one team,
    with different hours; ``existing_wins``: the existing one applies to that team, not the new one."""

    existing: Override
    existing_wins: bool


def conflicts(new: Override, existing: Iterable[Override]) -> tuple[Conflict, ...]:
    """The existing overrides that the new one conflicts with (same date; one every-team, one a team's own;
    different hours), each with which of the two applies (``winner``)."""
    found = []
    for o in existing:
        if o.day != new.day or (o.team is None) == (new.team is None) or o.spans == new.spans:
            continue
        every, own = (new, o) if new.team is None else (o, new)
        found.append(Conflict(o, winner(every, own) is o))
    return tuple(found)


def team_is_open(region: Region, team_id: str, at: datetime) -> bool:
    """Whether the team is open at ``at`` with the region's hours as they are (overrides merged in by
    ``with_overrides``): the one answer the start page, routing and the queues all use."""
    team = region.team(team_id)
    return team is not None and is_open(team.hours, at, region.timezone, region.holidays)


def team_opens_at(region: Region, team_id: str, at: datetime) -> datetime | None:
    """``at`` when the team is open; else when it opens next (None: not within two weeks, or no such team)."""
    team = region.team(team_id)
    return None if team is None else next_opening(team.hours, at, region.timezone, region.holidays)
