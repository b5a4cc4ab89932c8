"""Canned answers: each team's ready-made answers that staff insert while chatting. Everyone reads their
own teams' (a supervisor or an admin every team's); a lead edits their own teams', an admin any team's.
Every change is audited with the answer's id and title (a template's title, not anyone's words)."""

from __future__ import annotations

from typing import Any

from chat import logs
from chat.errors import BadInput, Code, Forbidden, NotFound
from chat.service import access
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.store import canned as store
from chat.store import staff as staff_store


def _json(c: store.Canned) -> dict[str, Any]:
    return {"id": c.id, "team": c.team, "language": c.language, "title": c.title, "body": c.body,
            "updated_at": c.updated_at.isoformat(), "updated_by": c.updated_by}


def _editable(ctx: Context, p: Principal) -> list[str]:
    return [t.id for t in ctx.region.teams if access.allowed(p, Action.CANNED_EDIT, t.id)]


async def listed(ctx: Context, p: Principal) -> dict[str, Any]:
    access.require(p, Action.CANNED_READ)
    found = await store.listed(ctx.engine, access.teams_for(p, Action.CANNED_READ))
    return {"canned": [_json(c) for c in found], "editable": _editable(ctx, p)}


def _check_may_edit(ctx: Context, p: Principal, team: str) -> None:
    access.require(p, Action.CANNED_EDIT, team,
                   Forbidden(Code.FORBIDDEN, "Only a lead of the team or an admin may change its canned answers."))


async def _existing(ctx: Context, p: Principal, canned_id: int) -> store.Canned:
    found = await store.get(ctx.engine, canned_id)
    if found is None:
        raise NotFound()
    _check_may_edit(ctx, p, found.team)
    return found


async def add(ctx: Context, p: Principal, team: str, language: str, title: str, body: str) -> dict[str, Any]:
    if ctx.region.team(team) is None:
        raise BadInput(Code.UNKNOWN_TEAM, "There is no team with that id.")
    _check_may_edit(ctx, p, team)
    now = ctx.clock()
    canned_id = await store.add(ctx.engine, team, language, title, body, p.id, now)
    await staff_store.audit(ctx.engine, p.id, "canned_created", None, now, target=str(canned_id),
                            target_name=title)
    logs.event("canned_created", staff_id=p.id, team=team)
    made = await store.get(ctx.engine, canned_id)
    assert made is not None
    return _json(made)


async def change(ctx: Context, p: Principal, canned_id: int, language: str, title: str, body: str) -> dict[str, Any]:
    found = await _existing(ctx, p, canned_id)
    now = ctx.clock()
    if not await store.change(ctx.engine, canned_id, language, title, body, p.id, now):
        raise NotFound()
    await staff_store.audit(ctx.engine, p.id, "canned_updated", None, now, target=str(canned_id),
                            target_name=title)
    logs.event("canned_updated", staff_id=p.id, team=found.team)
    fresh = await store.get(ctx.engine, canned_id)
    assert fresh is not None
    return _json(fresh)


async def remove(ctx: Context, p: Principal, canned_id: int) -> None:
    found = await _existing(ctx, p, canned_id)
    if not await store.remove(ctx.engine, canned_id):
        raise NotFound()
    await staff_store.audit(ctx.engine, p.id, "canned_deleted", None, ctx.clock(), target=str(canned_id),
                            target_name=found.title)
    logs.event("canned_deleted", staff_id=p.id, team=found.team)
