"""Opening-hours overrides: dates with their own hours that an admin sets while the service runs (a
staff day, a storm), and keeping the region every use case reads (``ctx.region``) in step with them.

The configured region (TOML) stays as it was read; the region in effect is it with the database's
overrides merged in (``triage.hours.with_overrides``, pure). A change is stored, applied here at once,
and announced on the bus (``events.HOURS``); each instance's ``OverridesWatcher`` then reloads, so
routing and the pages use it on every instance.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from chat import logs
from chat.errors import BadInput, Code, Conflict, NotFound
from chat.service import access, events
from chat.service.access import Action, Principal
from chat.service.context import Context
from chat.service.woken import Woken
from chat.store import hours_overrides as store
from chat.store import staff as staff_store
from chat.wire import HoursChanged
from triage import hours


def _overrides(rows: list[store.OverrideRecord]) -> dict[int, hours.Override]:
    """The stored rows as triage's overrides, by id."""
    found = {}
    for r in rows:
        try:
            found[r.id] = hours.Override(r.date, r.team, hours.parse_spans(r.spans))
        except ValueError:  # written through add() only, so checked; a hand-edited row is left out
            logs.event("hours_override_skipped", reason="malformed spans", team=r.team)
    return found


async def refresh(ctx: Context) -> None:
    """Read every override and put the merged region in effect. Serialised, so a slow read that began
    before a change cannot overwrite the region a later read built."""
    live = ctx.live_region
    async with live.lock:
        found = _overrides(await store.listed(ctx.engine))
        live.current = hours.with_overrides(live.configured, found.values())


def _json(r: store.OverrideRecord) -> dict[str, Any]:
    return {"id": r.id, "date": r.date.isoformat(), "team": r.team, "spans": list(r.spans), "label": r.label}


def _target(day: date, team: str | None) -> str:
    return day.isoformat() if team is None else f"{day.isoformat()} {team}"


def _overruled(rows: list[store.OverrideRecord]) -> set[int]:
    """The ids of team overrides that do not apply because an every-team one for their date wins."""
    found = _overrides(rows)
    ids = {o: i for i, o in found.items()}
    return {ids[c.existing] for o in found.values() if o.team is None
            for c in hours.conflicts(o, found.values()) if not c.existing_wins}


async def listed(ctx: Context, p: Principal) -> dict[str, Any]:
    """Every override, each with ``applies`` (False: an every-team closure of its date wins over it)."""
    access.require(p, Action.HOURS_LIST)
    rows = await store.listed(ctx.engine)
    overruled = _overruled(rows)
    return {"overrides": [{**_json(r), "applies": r.id not in overruled} for r in rows],
            "teams": [{"id": t.id, "name": t.name} for t in ctx.region.teams]}


async def add(ctx: Context, p: Principal, day_text: str, team: str | None, spans: list[str], label: str) -> dict[str, Any]:
    """A date with its own hours for a team (None: every team); ``spans`` [] closes it all day. The answer
    lists the overrides of that date it conflicts with (``triage.hours.conflicts``), each with ``applies``
    (whether that one wins where they meet); ``applies`` of the new one is False when an every-team closure
    of that date wins over it."""
    access.require(p, Action.HOURS_ADD)
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise BadInput(Code.INVALID, "The date must be a calendar date like 2026-12-24.") from None
    now = ctx.clock()
    if day < now.astimezone(ZoneInfo(ctx.region.timezone)).date():
        raise BadInput(Code.INVALID, "The date has already passed.")
    if team is not None and ctx.region.team(team) is None:
        raise BadInput(Code.UNKNOWN_TEAM, "There is no team with that id.")
    try:
        parsed = hours.parse_spans(spans)
    except ValueError:
        raise BadInput(Code.INVALID, 'Spans are times like "09:00-12:00" (24-hour clock), each ending after it '
                                     "starts, none overlapping another.") from None
    rows = await store.listed(ctx.engine)
    if any(r.date == day and r.team == team for r in rows):
        raise Conflict(Code.CONFLICT, "That date already has its own hours for that team; remove them first.")
    existing = _overrides(rows)
    by_override = {o: r for r in rows if (o := existing.get(r.id)) is not None}
    clashes = hours.conflicts(hours.Override(day, team, parsed), existing.values())
    override_id = await store.add(ctx.engine, day, team, hours.spans_text(parsed), label, p.id, now)
    await staff_store.audit(ctx.engine, p.id, "hours_override_added", None, now, target=_target(day, team))
    await _changed(ctx)
    logs.event("hours_override_added", staff_id=p.id, team=team)
    made = await store.get(ctx.engine, override_id)
    assert made is not None
    # Saved either way; the admin is told which other overrides of that date it meets, and which one applies.
    return {**_json(made), "applies": not any(c.existing_wins and c.existing.team is None for c in clashes),
            "conflicts": [{**_json(by_override[c.existing]), "applies": c.existing_wins} for c in clashes]}


async def remove(ctx: Context, p: Principal, override_id: int) -> None:
    access.require(p, Action.HOURS_REMOVE)
    found = await store.get(ctx.engine, override_id)
    if found is None or not await store.remove(ctx.engine, override_id):
        raise NotFound()
    await staff_store.audit(ctx.engine, p.id, "hours_override_removed", None, ctx.clock(),
                            target=_target(found.date, found.team))
    await _changed(ctx)
    logs.event("hours_override_removed", staff_id=p.id, team=found.team)


async def _changed(ctx: Context) -> None:
    await refresh(ctx)  # this instance at once, before the answer goes out
    await ctx.bus.publish(events.HOURS, events.encode(HoursChanged()))


class OverridesWatcher(Woken):
    """One per instance: loads the overrides at start and again whenever any instance changes one (or the
    bus may have missed an announcement). A failed load is retried; meanwhile the last region stays."""

    START_TIMEOUT_S = 5.0  # a database that is away at start must not hold the instance up
    MAX_RETRY_S = 30.0

    channel = events.HOURS
    name = "hours-overrides"

    async def start(self) -> None:
        await super().start()  # subscribed first, so no change falls between the load and the listening
        try:
            async with asyncio.timeout(self.START_TIMEOUT_S):
                await refresh(self.ctx)
        except Exception as err:  # the database may not be up yet: start with the configured hours, retry
            logs.event("hours_overrides_load_failed", level=30, error=type(err).__name__)
            self.poke()

    async def _run(self) -> None:
        wait = 1.0
        while True:
            await self._woken()
            try:
                await refresh(self.ctx)
                wait = 1.0
            except Exception as err:
                logs.event("hours_overrides_load_failed", level=30, error=type(err).__name__)
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.MAX_RETRY_S)
                self.poke()
