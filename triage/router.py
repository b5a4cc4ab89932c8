"""decide(): which team's queue a new conversation goes to, at what priority, and why.

A placeholder until the triage issue: every conversation goes to the region's default (county
reception) team at normal priority, with the reason stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from triage.config import Region


class Priority(IntEnum):
    NORMAL = 0
    HIGH = 1
    URGENT = 2


@dataclass(frozen=True)
class Intake:
    role: str
    municipality: str | None = None
    topic: str | None = None
    age_band: str | None = None


@dataclass(frozen=True)
class Decision:
    team: str
    priority: Priority
    reasons: tuple[str, ...]


def decide(region: Region, intake: Intake) -> Decision:
    return Decision(
        team=region.default_team,
        priority=Priority.NORMAL,
        reasons=(f"all conversations → {region.default_team} (county queue)",),
    )
