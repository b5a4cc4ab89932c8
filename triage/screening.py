"""AUDIT and DUDIT: validate answers, score them with the published scoring, place the score in a zone.

INTERFACE STUB: replaced by the triage implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.region import Instrument


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


def score(instrument: Instrument, answers: list[int], *, age_band: str | None = None, gender: str | None = None) -> ScreeningResult:
    raise NotImplementedError
