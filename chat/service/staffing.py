"""Who is working: the region's teams with whether they are open, who is online and how many wait;
online staff with their load (the supervisor's live view, and the transfer dialog's choices)."""

from __future__ import annotations

from typing import Any

from chat.service import presence, routing
from chat.service.access import Principal
from chat.service.context import Context
from chat.store import queue as queue_store


async def teams(ctx: Context, p: Principal) -> list[dict[str, Any]]:
    """Every team (any of them can be a transfer target), with its state now."""
    now = ctx.clock()
    people = await presence.online(ctx)
    waiting = await queue_store.waiting(ctx.engine)
    out = []
    for t in ctx.region.teams:
        is_open = routing.team_open(ctx.region, t.id, now)
        out.append({
            "id": t.id, "name": t.name, "kind": str(t.kind), "pickup": str(t.pickup), "open_now": is_open,
            "opens_at": None if is_open else routing.iso(routing.team_opens_at(ctx.region, t.id, now)),
            "online": sum(1 for o in people if t.id in o.teams),
            "available": sum(1 for o in people if t.id in o.teams and o.status == presence.Availability.AVAILABLE),
            "waiting": sum(1 for c in waiting if c.team == t.id),
            "mine": t.id in p.teams,
        })
    return out


async def online(ctx: Context, p: Principal) -> list[dict[str, Any]]:
    """Online staff with status and load; a supervisor sees everyone, others the people of their teams."""
    people = await presence.online(ctx)
    load = await queue_store.loads(ctx.engine) if people else {}
    mine = set(p.teams)
    return [
        {"staff_id": o.staff_id, "display_name": o.display_name, "teams": list(o.teams), "status": str(o.status),
         "open_chats": load.get(o.staff_id, 0),
         "capacity": min((t.capacity for t in ctx.region.teams if t.id in o.teams), default=None)}
        for o in people
        if p.sees_all_teams or mine & set(o.teams)
    ]
