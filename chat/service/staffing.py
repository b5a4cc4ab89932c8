"""Who is working: the region's teams with whether they are open, who is online and how many wait;
online staff with their load (the transfer dialog's choices); the supervisor's overview of it all."""

from __future__ import annotations

from typing import Any

from chat.errors import BadInput, Code
from chat.service import access, health, presence, routing, visitors
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.service.summaries import summary
from chat.store import queue as queue_store
from chat.store import staff as staff_store
from chat.store.conversations import ConversationRecord
from triage.attention import needs_attention


async def teams(ctx: Context, p: Principal) -> list[dict[str, Any]]:
    """Every team (any of them can be a transfer target), with its state now."""
    access.require(p, Action.TEAMS)
    waiting = await queue_store.waiting(ctx.engine, gone_before=visitors.gone_before(ctx))
    return _team_rows(ctx, p, await presence.online(ctx), waiting)


def _team_rows(ctx: Context, p: Principal, people: list[presence.Online],
               waiting: list[ConversationRecord]) -> list[dict[str, Any]]:
    now = ctx.clock()
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
    """Online staff with status and load: everyone, since any of them can be named in a hand-over (the county
    reception hands on to counsellors of every team). Nothing here is about a young person."""
    access.require(p, Action.PRESENCE)
    return await _people_rows(ctx, await presence.online(ctx))


async def _people_rows(ctx: Context, people: list[presence.Online]) -> list[dict[str, Any]]:
    if not people:
        return []
    load = await queue_store.loads(ctx.engine)
    names = await staff_store.usernames(ctx.engine, [o.staff_id for o in people])
    return [
        {"staff_id": o.staff_id, "username": names.get(o.staff_id), "display_name": o.display_name,
         "teams": list(o.teams), "status": str(o.status), "open_chats": load.get(o.staff_id, 0),
         "capacity": min((t.capacity for t in ctx.region.teams if t.id in o.teams), default=None)}
        for o in people
    ]


def _with_attention(ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
    """The team's row with its target wait and whether it needs a supervisor now, and why (triage's rule)."""
    team = ctx.region.team(row["id"])
    assert team is not None  # the rows come from the region's teams
    why = needs_attention(team, open_now=row["open_now"], waiting=row["waiting"], longest_wait_s=row["longest_wait_s"],
                          online=row["online"], available=row["available"])
    return {**row, "target_wait_s": team.target_wait_min * 60, "attention": routing.reasons_json(why)}


async def overview(ctx: Context, p: Principal) -> dict[str, Any]:
    """The supervisor's live view: every team with its queue length and longest wait, whether it needs
    attention and why, who is online with what load, and the whole queue."""
    access.require(p, Action.OVERVIEW)
    now = ctx.clock()
    people = await presence.online(ctx)  # read once for the team counts and the people list
    waiting = await health.opened_all(ctx, await queue_store.waiting(ctx.engine, gone_before=visitors.gone_before(ctx)))
    longest: dict[str, int] = {}
    for c in waiting:
        since = c.queued_at or c.created_at
        longest[c.team] = max(longest.get(c.team, 0), max(0, int((now - since).total_seconds())))
    team_rows = [_with_attention(ctx, {**t, "longest_wait_s": longest.get(t["id"], 0)})
                 for t in _team_rows(ctx, p, people, waiting)]
    held = await health.opened_all(ctx, await queue_store.active(ctx.engine))
    holders = await staff_store.display_names(ctx.engine, sorted({c.assigned_staff_id for c in held
                                                                   if c.assigned_staff_id is not None}))
    return {
        "teams": team_rows, "staff": await _people_rows(ctx, people), "queue": [summary(c) for c in waiting],
        "active": [{**summary(c), "holder": holders.get(c.assigned_staff_id or 0, ""), "holder_id": c.assigned_staff_id}
                   for c in held],
    }


def crisis(ctx: Context, p: Principal, municipality: str | None) -> list[dict[str, Any]]:
    """The crisis lines staff read out, with those of one municipality when it is given (and known)."""
    access.require(p, Action.CRISIS_LINES)
    if municipality is not None and ctx.region.municipality(municipality) is None:
        raise BadInput(Code.INVALID, "Unknown municipality code.")
    return routing.crisis(ctx.region, ctx.clock(), municipality)
