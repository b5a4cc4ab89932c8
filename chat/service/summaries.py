"""A conversation as staff see it in queues, lists and offers: who, where, why and how urgent; no content."""

from __future__ import annotations

from typing import Any

from chat.store.conversations import ConversationRecord as ConversationRecord  # what a summary is of
from chat.wire import iso as iso  # visitors.py writes times through here


def summary(c: ConversationRecord, viewer: int | None = None) -> dict[str, Any]:
    """``viewer``: the staff member the summary is for; their queue rows say whether it is offered to them.
    The record's health data must have been opened (``service.health.opened``)."""
    h = c.health
    if h is None:
        raise ValueError("summary of a conversation whose health data was not opened")
    return {
        "conversation_id": c.id, "state": c.state, "role": c.role, "municipality": c.municipality,
        "topic": c.topic, "age_band": c.age_band, "language": c.language, "team": c.team, "priority": c.priority,
        "created_at": iso(c.created_at), "queued_at": iso(c.queued_at or c.created_at), "last_seq": c.last_seq,
        "reasons": h.reasons, "risk": h.risk, "screening": h.screening,
        "after_hours": c.after_hours, "reopened": c.reopened_count, "offered_to": c.offered_to,
        "offered_to_me": viewer is not None and c.offered_to == viewer, "offer_expires_at": iso(c.offer_expires_at),
        "preferred_staff_id": c.preferred_staff_id, "part_start_seq": c.part_start_seq,
        "visitor_read_seq": c.visitor_read_seq,
        "risk_seq": h.risk_seq,  # the message that last raised a risk signal: marked again after a reload
        # Whether the young person has the page open now (a socket on any instance), else since when not.
        "visitor_connected": c.visitor_away_since is None, "visitor_away_since": iso(c.visitor_away_since),
    }
