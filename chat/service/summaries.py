"""A conversation as staff see it in queues, lists and offers: who, where, why and how urgent; no content."""

from __future__ import annotations

from typing import Any

from chat.store.conversations import ConversationRecord


def iso(t: Any) -> str | None:
    """A UTC time as the frames write it (…Z)."""
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def summary(c: ConversationRecord) -> dict[str, Any]:
    return {
        "conversation_id": c.id, "state": c.state, "role": c.role, "municipality": c.municipality,
        "topic": c.topic, "age_band": c.age_band, "language": c.language, "team": c.team, "priority": c.priority,
        "created_at": iso(c.created_at), "queued_at": iso(c.queued_at or c.created_at), "last_seq": c.last_seq,
        "reasons": c.reasons, "risk": c.risk.split(",") if c.risk else [], "screening": c.screening,
        "after_hours": c.after_hours, "reopened": c.reopened_count, "offered_to": c.offered_to,
        "preferred_staff_id": c.preferred_staff_id, "part_start_seq": c.part_start_seq,
        "visitor_read_seq": c.visitor_read_seq,
    }
