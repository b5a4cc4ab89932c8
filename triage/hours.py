"""Opening hours: is a team (or a crisis line) open at an instant, and when it next opens.

Hours are local wall-clock times in the region's zone, so a team open 09:00–17:00 is open 09:00–17:00
on both sides of a daylight-saving change. INTERFACE STUB: replaced by the triage implementation.
"""

from __future__ import annotations

from datetime import date, datetime

from triage.region import Hours


def is_open(hours: Hours, at: datetime, tz: str, holidays: frozenset[date]) -> bool:
    """Whether ``at`` (aware) falls in an opening span of its local day."""
    raise NotImplementedError


def next_opening(hours: Hours, at: datetime, tz: str, holidays: frozenset[date], horizon_days: int = 14) -> datetime | None:
    """``at`` itself when open; else the start of the next opening span (aware, in ``tz``); None when
    nothing opens within ``horizon_days``."""
    raise NotImplementedError


def closes_at(hours: Hours, at: datetime, tz: str, holidays: frozenset[date]) -> datetime | None:
    """When the span open at ``at`` ends (aware, in ``tz``); None when closed at ``at``."""
    raise NotImplementedError
