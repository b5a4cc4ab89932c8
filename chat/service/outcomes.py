"""How a conversation ended, as staff choose it when they close: the list the console offers and the
follow-up statistics count. ``ended_by_visitor`` is set by the young person's own end, never chosen."""

from __future__ import annotations

from typing import Final

# (id, Swedish, English), in the order the console lists them. frames.CloseBody accepts exactly these ids.
OUTCOMES: Final = (
    ("advice_given", "Råd och stöd gavs", "Advice and support given"),
    ("booked_visit", "Besök bokat", "Visit booked"),
    ("referred_bup", "Hänvisad till BUP", "Referred to child and adolescent psychiatry (BUP)"),
    ("referred_emergency", "Hänvisad till akutvård", "Referred to emergency care"),
    ("referred_other", "Hänvisad till annan verksamhet", "Referred elsewhere"),
    ("no_contact", "Ingen kontakt (svarade inte)", "No contact (no answer)"),
    ("other", "Annat", "Other"),
)


def listing() -> list[dict[str, str]]:
    return [{"id": i, "sv": sv, "en": en} for i, sv, en in OUTCOMES]
