"""Risk signals in a visitor's words: the conversation becomes urgent, the team and the alert teams
(reception) are alerted, and the visitor is shown the crisis resources at once.

The matching is triage's (pure, compiled once); only the categories are kept, never the words.
"""

from __future__ import annotations

from chat import logs
from chat.service import events, health, keys, routing
from chat.service.context import Context
from chat.store import queue as queue_store
from chat.wire import Alert, Crisis
from triage.region import Priority
from triage.router import Signals, escalate


async def on_visitor_text(ctx: Context, conversation_id: str, text: str, seq: int | None = None) -> Crisis | None:
    """Called after a visitor's message (number ``seq``) is stored. Returns the ``crisis`` frame for the visitor
    when the text carries a risk signal, else None. Staff are alerted once per new category; the alert names
    the message, so the console can bring it into view."""
    found = ctx.risk.scan(text)
    if not found:
        return None
    conv = await health.get(ctx, conversation_id)
    if conv is None or conv.health is None:
        return None
    known = frozenset(conv.health.risk)
    every = known | {str(c) for c in found}
    if every != known:
        esc = escalate(ctx.region, Priority(conv.priority), Signals(risk=every))
        priority = int(max(esc.priority, Priority(conv.priority)))
        dek = await keys.dek_for(ctx, conv.id)
        await queue_store.raise_priority(
            ctx.engine, conv.id, priority,
            health.seal_reasons(dek, conv.id, [*conv.health.reasons, *routing.reasons_json(esc.reasons)]),
            health.seal_risk(dek, conv.id, sorted(every), seq if seq is not None else conv.health.risk_seq),
        )
        # The categories travel sealed (health data); each instance opens them for its staff sockets.
        sealed = health.seal_event(dek, conv.id, "alert", {"categories": sorted(every - known)})
        payload = events.encode(Alert(conv.id, conv.team, conv.state, priority, seq, sealed))
        for team in dict.fromkeys([conv.team, *ctx.region.alert_teams]):
            await ctx.bus.publish(events.team_channel(team), payload)
        if conv.assigned_staff_id is not None:
            await ctx.bus.publish(events.staff_channel(conv.assigned_staff_id), payload)
        await events.queue_changed(ctx)
        logs.event("risk_signal", conversation_id=conv.id, team=conv.team)
    return Crisis("risk", routing.crisis(ctx.region, ctx.clock(), conv.municipality))
