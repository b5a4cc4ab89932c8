"""The start form's choices, from the region config and the closed sets of triage; whether chat is open."""

from __future__ import annotations

from typing import Any

from chat.service import routing
from chat.service.context import Context
from triage.topics import AGE_LABELS, ROLE_LABELS, TOPIC_LABELS

GENDERS = {
    "girl": {"sv": "Tjej", "en": "Girl"},
    "boy": {"sv": "Kille", "en": "Boy"},
    "other": {"sv": "Annat", "en": "Other"},
    "unsaid": {"sv": "Vill inte säga", "en": "Rather not say"},
}


def choices(ctx: Context) -> dict[str, Any]:
    region = ctx.region
    now = ctx.clock()
    is_open, next_opening = routing.chat_open(region, now)
    return {
        "region": {"id": region.id, "name": region.name, "timezone": region.timezone},
        "municipalities": [{"code": m.code, "name": m.name, "area": m.area} for m in region.municipalities],
        "topics": [{"id": str(t), "label": label} for t, label in TOPIC_LABELS.items()],
        "roles": [{"id": str(r), "label": label} for r, label in ROLE_LABELS.items()],
        "age_bands": [{"id": str(a), "label": label} for a, label in AGE_LABELS.items()],
        "genders": [{"id": g, "label": label} for g, label in GENDERS.items()],
        "languages": list(region.languages),
        "open_now": is_open,
        "next_opening": None if is_open else routing.iso(next_opening),
        "hours": routing.weekly_hours(region, region.default_team),
        "self_tests": [i.id for i in region.screening],
        # The longest message the server stores (MINIMARIA_MAX_TEXT_CHARS): the page counts towards it and
        # refuses a longer one in words, instead of cutting it.
        "max_text_chars": ctx.settings.max_text_chars,
        "crisis": routing.crisis(region, now),
    }
