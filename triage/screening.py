"""AUDIT and DUDIT: validate answers, score them with the published scoring, place the score in a zone.

The zones and cut-offs come from the region config (``Instrument``); the item count and each item's
allowed values are the published instruments' and live here. A result is support for a conversation,
never a diagnosis: the plain-language texts below say "your answers suggest", never "you are addicted".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.region import Instrument

_FULL = (0, 1, 2, 3, 4)
_STEPPED = (0, 2, 4)

# Allowed values per item, item 1 first. AUDIT: items 1–8 score 0–4, items 9–10 score 0, 2 or 4 (WHO).
# DUDIT: items 1–9 score 0–4, items 10–11 score 0, 2 or 4 (Berman et al. 2005).
ITEM_VALUES: dict[str, tuple[tuple[int, ...], ...]] = {
    "audit": (_FULL,) * 8 + (_STEPPED,) * 2,
    "dudit": (_FULL,) * 9 + (_STEPPED,) * 2,
}

# Number of items per instrument (the visitor page shows this many questions).
ITEMS: dict[str, int] = {instrument: len(values) for instrument, values in ITEM_VALUES.items()}

MAX_SCORE: dict[str, int] = {instrument: sum(max(v) for v in values) for instrument, values in ITEM_VALUES.items()}

NAMES: dict[str, str] = {"audit": "AUDIT", "dudit": "DUDIT"}

# Age bands under 18: the config's `young` cut-off applies to them whatever the gender.
YOUNG_AGE_BANDS = frozenset({"6-12", "13-15", "16-17"})

# Plain-language labels for every zone id the bundled configs use; shown to staff beside the score.
ZONE_LABELS: dict[str, dict[str, str]] = {
    "low": {"sv": "låg risk", "en": "low risk"},
    "hazardous": {"sv": "riskabel", "en": "hazardous"},
    "harmful": {"sv": "skadlig", "en": "harmful"},
    "dependence": {"sv": "möjligt beroende", "en": "possible dependence"},
    "problems": {"sv": "tecken på problem", "en": "signs of problems"},
}


class ScreeningError(ValueError):
    """The answers do not fit the instrument (count or an item's allowed values); the message says which."""


@dataclass(frozen=True)
class ScreeningResult:
    instrument: str  # "audit" | "dudit"
    score: int
    max_score: int  # 40 | 44
    zone: str  # a zone id of the instrument's config
    flagged: bool  # at or above the cut-off that applies to this person
    cutoff: int  # the cut-off used
    raises_priority: bool  # the zone is at or above the instrument's raise_priority_from


def zone_label(zone: str, lang: str) -> str:
    """The zone's plain-language label in ``lang`` ("sv" or "en"); an unknown zone id is shown as given."""
    labels = ZONE_LABELS.get(zone)
    if labels is None:
        return zone
    return labels.get(lang, labels["sv"])


def score(
    instrument: Instrument, answers: list[int], *, age_band: str | None = None, gender: str | None = None
) -> ScreeningResult:
    """Validate ``answers`` (one int per item, item 1 first), sum them, and place the sum in the config's
    zones and against the cut-off for this person. Raises ScreeningError naming the item that is wrong."""
    allowed = ITEM_VALUES.get(instrument.id)
    if allowed is None:
        raise ScreeningError(f"unknown self-test; known: {', '.join(sorted(ITEM_VALUES))}")
    name = NAMES[instrument.id]
    # Answers arrive from a form: check the shape at run time whatever the annotation says.
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise ScreeningError(f"{name} answers must be a list of {len(allowed)} whole numbers")
    if len(answers) != len(allowed):
        raise ScreeningError(f"{name} takes exactly {len(allowed)} answers, one per item")
    for number, (answer, values) in enumerate(zip(answers, allowed, strict=True), start=1):
        # bool is a subclass of int; True is not an answer.
        if type(answer) is not int or answer not in values:
            raise ScreeningError(f"{name} item {number}: the answer must be one of {', '.join(map(str, values))}")
    total = sum(answers)
    zone_index = _zone_index(instrument, total)
    cutoff = cutoff_for(instrument, age_band=age_band, gender=gender)
    zone_ids = [z.id for z in instrument.zones]
    raise_from = zone_ids.index(instrument.raise_priority_from) if instrument.raise_priority_from in zone_ids else None
    return ScreeningResult(
        instrument=instrument.id,
        score=total,
        max_score=MAX_SCORE[instrument.id],
        zone=instrument.zones[zone_index].id,
        flagged=total >= cutoff,
        cutoff=cutoff,
        raises_priority=raise_from is not None and zone_index >= raise_from,
    )


def cutoff_for(instrument: Instrument, *, age_band: str | None, gender: str | None) -> int:
    """Under 18: the young cut-off whatever the gender; else by gender ("girl", "boy"), else the default."""
    if age_band in YOUNG_AGE_BANDS:
        return instrument.cutoff_young
    if gender == "girl":
        return instrument.cutoff_female
    if gender == "boy":
        return instrument.cutoff_male
    return instrument.cutoff_default


def _zone_index(instrument: Instrument, total: int) -> int:
    """The last zone whose lowest score is at or below ``total`` (zones ascend, the first starts at 0)."""
    index = 0
    for i, zone in enumerate(instrument.zones):
        if zone.min_score <= total:
            index = i
    return index


# One plain sentence (or two) a young person can read about their own result: what the answers suggest and
# that talking helps. Never a diagnosis. {what} is the substance in the right form for the language.
_EXPLAIN: dict[str, dict[str, str]] = {
    "sv": {
        "low": (
            "Dina svar tyder på att {what} inte är något stort problem för dig just nu. Du är välkommen att prata med oss ändå."
        ),
        "hazardous": "Dina svar tyder på att {what} kan innebära en risk för dig. Det är bra att du pratar med oss om det.",
        "harmful": "Dina svar tyder på att {what} kan vara skadlig för dig. Det är bra att du pratar med oss om det.",
        "problems": "Dina svar tyder på att {what} kan ställa till problem för dig. Det är bra att du pratar med oss om det.",
        "dependence": (
            "Dina svar tyder på att det kan vara svårt för dig att styra över {what_control}. "
            "Det är bra att du pratar med oss, vi kan hjälpa dig."
        ),
        "other": "Tack för dina svar. Vi pratar gärna vidare med dig om dem.",
    },
    "en": {
        "low": "Your answers suggest that {what} is not a big problem for you right now. You are welcome to talk to us anyway.",
        "hazardous": "Your answers suggest that {what} may be a risk for you. It is good that you talk to us about it.",
        "harmful": "Your answers suggest that {what} may be harmful to you. It is good that you talk to us about it.",
        "problems": "Your answers suggest that {what} may be causing you problems. It is good that you talk to us about it.",
        "dependence": (
            "Your answers suggest that it may be hard for you to control {what_control}. "
            "It is good that you talk to us, we can help you."
        ),
        "other": "Thank you for your answers. We are happy to talk with you about them.",
    },
}

_SUBSTANCE: dict[str, dict[str, dict[str, str]]] = {
    "sv": {
        "audit": {"what": "alkoholen", "what_control": "ditt drickande"},
        "dudit": {"what": "drogerna", "what_control": "hur du använder droger"},
    },
    "en": {
        "audit": {"what": "alcohol", "what_control": "your drinking"},
        "dudit": {"what": "drugs", "what_control": "your use of drugs"},
    },
}


def explain(result: ScreeningResult, lang: str) -> str:
    """A plain, non-diagnostic sentence about ``result`` for the young person, in "sv" or "en" (else Swedish)."""
    lang = lang if lang in _EXPLAIN else "sv"
    templates = _EXPLAIN[lang]
    words = _SUBSTANCE[lang].get(result.instrument)
    if words is None:
        return templates["other"]
    text = templates.get(result.zone, templates["other"])
    if lang == "sv" and result.instrument == "dudit":
        # Swedish agreement: "drogerna kan vara skadliga" (plural), "alkoholen kan vara skadlig".
        text = text.replace("vara skadlig ", "vara skadliga ")
    return text.format(**words)
