"""Administering staff accounts (role admin): list, create, change, deactivate, reset a password; and the
audit log read back. Every change is audited with the account's username as its target.

Deactivating someone ends their sessions, closes their sockets on every instance (a ``logout`` signal
for all their sessions) and puts what they held back in their teams' queues. An admin may not lock
themselves out: deactivating themselves or dropping their own admin role is refused.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chat import logs
from chat.errors import BadInput, ChatError, Code, Conflict, NotFound
from chat.service import access, accounts, audit, conversations, events, health, keys, login_guard, routing
from chat.service.access import Action, Principal, StaffRole
from chat.service.context import Context
from chat.store import admin as store
from chat.store import canned as canned_store
from chat.store import conversations as conv_store
from chat.store import staff as staff_store
from chat.wire import AccessChanged, Logout, OfferWithdrawn, Released, State
from triage.router import Reason

BACK_IN_QUEUE = {
    "sv": "Samtalet är tillbaka i kön. Någon svarar så snart de kan.",
    "en": "The conversation is back in the queue. Someone will answer as soon as they can.",
}
DEACTIVATED = Reason("staff_deactivated", "Tillbaka i kön: handläggarens konto stängdes",
                     "Back in the queue: the staff member's account was closed")
MAX_AUDIT = 1000


def _json(a: store.Account, waiting: set[str]) -> dict[str, Any]:
    """``locked``: login attempts at this name must wait now (login_guard.py); a password reset ends that."""
    return {
        "id": a.id, "username": a.username, "display_name": a.display_name, "roles": list(a.roles),
        "teams": list(a.teams), "active": a.active, "locked": a.username in waiting,
        "availability": a.availability, "created_at": a.created_at.isoformat(),
    }


async def _account(ctx: Context, username: str) -> store.Account:
    found = await store.account(ctx.engine, username)
    if found is None:
        raise NotFound("There is no staff member with that username.")
    return found


async def _one(ctx: Context, username: str) -> dict[str, Any]:
    a = await _account(ctx, username)
    return _json(a, await login_guard.waiting(ctx, [a.username]))


async def listed(ctx: Context, p: Principal) -> list[dict[str, Any]]:
    access.require(p, Action.STAFF_LIST)
    found = await store.accounts(ctx.engine)
    waiting = await login_guard.waiting(ctx, [a.username for a in found])
    return [_json(a, waiting) for a in found]


async def create(
    ctx: Context, p: Principal, username: str, display_name: str | None, password: str, roles: list[str],
    teams: list[str],
) -> dict[str, Any]:
    access.require(p, Action.STAFF_CREATE)
    staff_id = await accounts.add_staff(ctx, username, password, roles, teams, display_name)
    await staff_store.audit(ctx.engine, p.id, "staff_created", None, ctx.clock(), target=username)
    logs.event("staff_created", staff_id=staff_id)
    return await _one(ctx, username)


async def change(
    ctx: Context, p: Principal, username: str, *, display_name: str | None = None, roles: list[str] | None = None,
    teams: list[str] | None = None, active: bool | None = None,
) -> dict[str, Any]:
    """Change any of these; ``active=False`` deactivates (see the module docstring)."""
    access.require(p, Action.STAFF_CHANGE)
    if display_name is None and roles is None and teams is None and active is None:
        raise BadInput(Code.INVALID, "Give at least one of display_name, roles, teams and active.")
    found = await _account(ctx, username)
    if found.id == p.id and (active is False or (roles is not None and StaffRole.ADMIN not in roles)):
        raise Conflict(Code.CONFLICT, "You cannot deactivate yourself or remove your own admin role; ask another "
                                      "admin to.")
    values: dict[str, Any] = {}
    if display_name is not None:
        values["display_name"] = display_name
    if roles is not None:
        accounts.check_roles(roles)
        values["roles"] = roles
    if teams is not None:
        accounts.check_teams(ctx, teams)
        values["teams"] = teams
    if roles is not None or teams is not None:
        accounts.check_team_for_roles(roles if roles is not None else found.roles,
                                      teams if teams is not None else found.teams)
    if active is True and not found.active:
        values["active"] = True
    if values:
        await store.change(ctx.engine, found.id, values)
        await staff_store.audit(ctx.engine, p.id, "staff_updated", None, ctx.clock(), target=username)
        logs.event("staff_updated", staff_id=found.id)
        if "roles" in values or "teams" in values or "display_name" in values:
            # Open sockets hold the person as they were: they reconnect (1013) and follow the new teams.
            await events.to_staff(ctx, found.id, AccessChanged())
    if active is False and found.active:
        await _deactivate(ctx, p, found)
    return await _one(ctx, username)


async def _deactivate(ctx: Context, p: Principal, who: store.Account) -> None:
    now = ctx.clock()
    deks = {}  # the keys of what the person holds, fetched first: the store appends the reason in one transaction
    for c in await conv_store.held_by(ctx.engine, who.id):
        with contextlib.suppress(ChatError):  # one that cannot be opened keeps its reasons as they were
            deks[c.id] = await keys.dek_for(ctx, c.id)
    released = await store.deactivate(
        ctx.engine, who.id, now, health.reasons_appender(deks, routing.reason_json(DEACTIVATED))
    )
    for cid, language in released.requeued:
        await events.to_staff(ctx, who.id, Released(cid, "deactivated"))
        await conversations.post_system(ctx, cid, BACK_IN_QUEUE.get(language, BACK_IN_QUEUE["sv"]))
        await conversations.publish_state(ctx, cid, State.QUEUED, None)
    for cid in released.unoffered:
        await events.to_staff(ctx, who.id, OfferWithdrawn(cid, "deactivated"))
    await _end_sockets(ctx, who.id)
    await events.queue_changed(ctx)
    await staff_store.audit(ctx.engine, p.id, "staff_deactivated", None, now, target=who.username)
    logs.event("staff_deactivated", staff_id=who.id, count=len(released.requeued))


async def _end_sockets(ctx: Context, staff_id: int) -> None:
    """Every socket of every session of this person, on every instance, closes (their sessions are gone)."""
    await events.to_staff(ctx, staff_id, Logout(all=True))


async def reset_password(ctx: Context, p: Principal, username: str, password: str) -> None:
    """A new password; the account is unlocked and every session of it ends."""
    access.require(p, Action.STAFF_PASSWORD)
    found = await _account(ctx, username)
    await accounts.set_password(ctx, username, password)  # checks the length; clears failures and the lock
    await store.end_sessions(ctx.engine, found.id)
    await _end_sockets(ctx, found.id)
    await staff_store.audit(ctx.engine, p.id, "password_reset", None, ctx.clock(), target=username)
    logs.event("staff_password_reset", staff_id=found.id)


async def audit_page(ctx: Context, p: Principal, limit: int) -> dict[str, Any]:
    """What the admin audit page shows: the newest entries and whether the whole chain verifies
    (``chain``: ok, entries, head_seq, first_broken {seq, problem} or None; see service/audit.py)."""
    entries = await audit_log(ctx, p, limit)
    verdict = await audit.verify(ctx.engine)
    return {"entries": entries, "chain": verdict.as_json()}


async def audit_log(ctx: Context, p: Principal, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` (1–1000) audit entries, newest first, each with ``about``: what an admin change was
    about, by name (see ``_about``)."""
    access.require(p, Action.AUDIT_READ)
    if not 1 <= limit <= MAX_AUDIT:
        raise BadInput(Code.INVALID, f"limit must be between 1 and {MAX_AUDIT}.")
    rows = await store.audit_entries(ctx.engine, limit)
    names = {a.username: a.display_name for a in await store.accounts(ctx.engine)}
    canned = {str(c.id): c for c in await canned_store.listed(ctx.engine, None)}
    return [{"at": r.at.isoformat(), "staff": r.username, "action": r.action, "conversation_id": r.conversation_id,
             "target": r.target, "about": _about(ctx, r, names, canned)} for r in rows]


def _team_name(ctx: Context, team_id: str | None) -> str | None:
    team = ctx.region.team(team_id) if team_id else None
    return team.name if team is not None else team_id


def _about(ctx: Context, r: store.AuditRow, names: dict[str, str], canned: dict[str, canned_store.Canned],
           ) -> dict[str, str | None] | None:
    """``{name, team, date}`` of an admin change's target, resolved here (the log keeps ids, usernames and
    dates): a staff member's display name (their username is the target), a canned answer's title (as it was
    at the change; else as it is now) and team, an override's date and team (None: every team)."""
    if r.target is None:
        return None
    if r.action in _STAFF_ACTIONS:
        return {"name": names.get(r.target), "team": None, "date": None}
    if r.action.startswith("canned_"):
        now = canned.get(r.target)
        title = r.target_name or (now.title if now is not None else None)
        return {"name": title, "team": _team_name(ctx, now.team) if now is not None else None, "date": None}
    if r.action.startswith("hours_override_"):
        day, _, team = r.target.partition(" ")
        return {"name": None, "team": _team_name(ctx, team or None), "date": day}
    return None


_STAFF_ACTIONS = frozenset({"staff_created", "staff_updated", "staff_deactivated", "password_reset"})
