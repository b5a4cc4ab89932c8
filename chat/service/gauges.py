"""What ``GET /metrics`` reads at scrape time, per team of the region: queue length and oldest wait (one
query), whether the team is open, and how many of its staff are online (the presence entries).

A scrape must answer most when something is down: a part that cannot be read (the database, or Redis for
presence) is left out of this scrape — its families have no samples, which an alert can see as absent — and
the rest, with ``minimaria_bus_connected`` and the counters, is still exposed."""

from __future__ import annotations

from datetime import datetime

from chat import logs
from chat.metrics import Scraped
from chat.service import presence, routing, visitors
from chat.service.context import Context
from chat.store import queue as queue_store


async def scrape(ctx: Context) -> Scraped:
    now = ctx.clock()
    teams = [t.id for t in ctx.region.teams]  # only the region's teams: a label value is never what a client sent
    length: dict[str, int] = {}
    oldest: dict[str, float] = {}
    online: dict[str, int] = {}
    try:
        depths = await queue_store.depths(ctx.engine, gone_before=visitors.gone_before(ctx, now))
    except Exception as err:
        logs.event("metrics_part_unavailable", level=30, reason="queue", error=type(err).__name__)
    else:
        for team in teams:
            n, since = depths.get(team, (0, None))
            length[team] = n
            oldest[team] = _waited(now, since)
    try:
        people = await presence.online(ctx)
    except Exception as err:
        logs.event("metrics_part_unavailable", level=30, reason="presence", error=type(err).__name__)
    else:
        online = {team: sum(1 for o in people if team in o.teams) for team in teams}
    return Scraped(
        queue_length=length,
        oldest_wait_s=oldest,
        team_open={team: routing.team_open(ctx.region, team, now) for team in teams},
        staff_online=online,
    )


def _waited(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0
