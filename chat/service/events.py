"""Events on the bus and the channels they go on.

Conversation events are shaped like the server→client frames of the same name, so a socket forwards
them without building them again. ``queue``, ``s:<staff id>`` and ``t:<team>`` carry signals for staff
sockets and the instance's own jobs (queue changes, claims, offers, alerts).
"""

from __future__ import annotations

import json
from typing import Any

from chat.store.conversations import MessageRecord

QUEUE = "queue"
# An admin changed an opening-hours override: every instance reloads them (service/hours_overrides.py).
HOURS = "hours"


def conversation_channel(conversation_id: str) -> str:
    return "c:" + conversation_id


def staff_channel(staff_id: int) -> str:
    return f"s:{staff_id}"


def team_channel(team: str) -> str:
    """Alerts for everyone online in a team (risk signals)."""
    return "t:" + team


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def message_event(m: MessageRecord) -> dict[str, Any]:
    return {
        "type": "msg",
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "from": m.sender,
        "author": m.author,
        "text": m.body,
        "ts": m.created_at.isoformat().replace("+00:00", "Z"),
        "client_msg_id": m.client_msg_id,
    }
