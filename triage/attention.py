"""needs_attention(): whether a team's queue needs a supervisor now, and why, in plain words.

The one owner of the rule the supervisor's overview shows: an open team with someone waiting and nobody
of the team online (or nobody available), or whose longest wait is past the team's ``target_wait_min``.
A closed team's queue waits for opening by design (the visitor was told when), so it is never flagged.
"""

from __future__ import annotations

from triage.reasons import Reason
from triage.region import Team

__all__ = ["needs_attention"]


def needs_attention(team: Team, *, open_now: bool, waiting: int, longest_wait_s: int, online: int,
                    available: int) -> tuple[Reason, ...]:
    """Why ``team`` needs attention now (empty: it does not). Codes: ``nobody_online``,
    ``nobody_available`` (online, but all busy or away), ``over_target``."""
    if not open_now or waiting <= 0:
        return ()
    why: list[Reason] = []
    people = ("1 väntar", "1 waiting") if waiting == 1 else (f"{waiting} väntar", f"{waiting} waiting")
    if online <= 0:
        why.append(Reason("nobody_online", f"{people[0]} och ingen i teamet är inloggad",
                          f"{people[1]} and nobody in the team is online"))
    elif available <= 0:
        why.append(Reason("nobody_available", f"{people[0]} och ingen inloggad i teamet är ledig",
                          f"{people[1]} and nobody online in the team is available"))
    if longest_wait_s > team.target_wait_min * 60:
        waited = longest_wait_s // 60
        why.append(Reason("over_target",
                          f"den som väntat längst har väntat {waited} min, mer än målet {team.target_wait_min} min",
                          f"the longest wait is {waited} min, more than the target of {team.target_wait_min} min"))
    return tuple(why)
