"""What ``GET /metrics`` reads at scrape time, per team of the region: queue length and oldest wait (one
query), whether the team is open, and how many of its staff are online (the presence entries)."""

from __future__ import annotations

from chat.metrics import Scraped
from chat.service import presence, routing, visitors
from chat.service.context import Context
from chat.store import queue as queue_store


async def scrape(ctx: Context) -> Scraped:
    now = ctx.clock()
    depths = await queue_store.depths(ctx.engine, gone_before=visitors.gone_before(ctx, now))
    people = await presence.online(ctx)
    teams = [t.id for t in ctx.region.teams]
    length, oldest = {}, {}
    for team in teams:  # only the region's teams: a label value is never anything a client sent
        n, since = depths.get(team, (0, None))
        length[team] = n
        oldest[team] = max(0.0, (now - since).total_seconds()) if since is not None else 0.0
    return Scraped(
        queue_length=length,
        oldest_wait_s=oldest,
        team_open={team: routing.team_open(ctx.region, team, now) for team in teams},
        staff_online={team: sum(1 for o in people if team in o.teams) for team in teams},
    )
