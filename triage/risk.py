"""Risk signals: phrases in a young person's words that mean someone may be in danger now.

INTERFACE STUB: replaced by the triage implementation.
"""

from __future__ import annotations

from enum import StrEnum


class RiskCategory(StrEnum):
    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    VIOLENCE = "violence"
    ABUSE = "abuse"
    OVERDOSE = "overdose"  # acute intoxication or overdose


class RiskMatcher:
    """Compiled once from the phrase file; ``scan`` is pure and fast enough for every message."""

    @classmethod
    def bundled(cls) -> RiskMatcher:
        return cls()

    def scan(self, text: str) -> frozenset[RiskCategory]:
        return frozenset()
