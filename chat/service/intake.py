"""The start form's choices, from the region config and the closed sets of triage."""

from __future__ import annotations

from typing import Any

from chat.service.context import Context
from triage.topics import AGE_LABELS, ROLE_LABELS, TOPIC_LABELS


def choices(ctx: Context) -> dict[str, Any]:
    region = ctx.region
    return {
        "region": {"id": region.id, "name": region.name},
        "municipalities": [{"code": m.code, "name": m.name} for m in region.municipalities],
        "topics": [{"id": str(t), "label": label} for t, label in TOPIC_LABELS.items()],
        "roles": [{"id": str(r), "label": label} for r, label in ROLE_LABELS.items()],
        "age_bands": [{"id": str(a), "label": label} for a, label in AGE_LABELS.items()],
        "languages": list(region.languages),
        # Opening hours arrive with triage; until then the chat is staffed whenever someone is logged in.
        "open_now": True,
        "next_opening": None,
        "crisis": [{"name": c.name, "number": c.number, "text": c.text} for c in region.crisis],
    }
