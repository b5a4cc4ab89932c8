"""The service side of triage: what the router needs from the outside world, and what its answers become.

triage/ decides; this module gathers its inputs (who is online with what load, the time) and turns
its reasons into what is stored and shown. Opening hours and crisis resources for the pages live here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chat.service import presence
from chat.service.context import Context
from chat.wire import iso as iso  # dispatch.py and intake.py write times through here
from triage import hours
from triage.region import CrisisResource, Region
from triage.router import Counsellor, Decision, Intake, Reason, Signals, decide


def reason_json(r: Reason) -> dict[str, str]:
    return {"code": r.code, "sv": r.sv, "en": r.en}


def reasons_json(rs: tuple[Reason, ...] | list[Reason]) -> list[dict[str, str]]:
    return [reason_json(r) for r in rs]




async def route(
    ctx: Context, intake: Intake, *, signals: Signals | None = None, previous_staff: int | None = None,
    previous_team: str | None = None, online: list[Counsellor] | None = None,
) -> Decision:
    people = online if online is not None else await presence.counsellors(ctx)
    kwargs: dict[str, Any] = {"online": people, "previous_staff": previous_staff, "previous_team": previous_team}
    if signals is not None:
        kwargs["signals"] = signals
    return decide(ctx.region, intake, ctx.clock(), **kwargs)


def team_open(region: Region, team_id: str, at: datetime) -> bool:
    """Whether the team is open (overrides applied): the same answer routing (``triage.router``) uses."""
    return hours.team_is_open(region, team_id, at)


def team_opens_at(region: Region, team_id: str, at: datetime) -> datetime | None:
    return hours.team_opens_at(region, team_id, at)


def chat_open(region: Region, at: datetime) -> tuple[bool, datetime | None]:
    """Whether any team is open now, and when the first team opens next (by ``team_open``, as routing sees it)."""
    if any(hours.team_is_open(region, t.id, at) for t in region.teams):
        return True, at
    found = [n for n in (hours.team_opens_at(region, t.id, at) for t in region.teams) if n is not None]
    return False, min(found) if found else None


def weekly_hours(region: Region, team_id: str) -> dict[str, list[str]]:
    """A team's weekly hours as "HH:MM–HH:MM" per weekday, for pages."""
    from triage.region import WEEKDAYS

    team = region.team(team_id)
    if team is None:
        return {}
    return {day: [f"{s.start // 60:02d}:{s.start % 60:02d}–{s.end // 60:02d}:{s.end % 60:02d}" for s in spans]
            for day, spans in zip(WEEKDAYS, team.hours.weekly, strict=True)}


def crisis(region: Region, at: datetime, municipality: str | None = None) -> list[dict[str, Any]]:
    """The crisis resources in the region's order (112 first), each with whether it is open now; with a
    municipality, also those that serve only it (e.g. its social services' on-call line)."""
    return [_resource(region, c, at) for c in region.crisis
            if not c.municipalities or (municipality is not None and municipality in c.municipalities)]


def _resource(region: Region, c: CrisisResource, at: datetime) -> dict[str, Any]:
    open_now = c.hours is None or hours.is_open(c.hours, at, region.timezone, region.holidays)
    out: dict[str, Any] = {"name": c.name, "number": c.number, "text": c.text, "open_now": open_now}
    if c.ages:
        out["ages"] = c.ages
    return out
