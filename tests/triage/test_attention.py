"""needs_attention(): when the supervisor's overview raises a team, as a table: open or closed, how many
wait and for how long, who is online and available → the reasons' codes."""

from __future__ import annotations

import pytest

from triage.attention import needs_attention
from triage.region import ALWAYS_OPEN, Team, TeamKind

TEAM = Team(id="south", name="Ambulanta teamet söder", kind=TeamKind.AMBULANT, hours=ALWAYS_OPEN, target_wait_min=5)


@pytest.mark.parametrize(
    ("open_now", "waiting", "longest_wait_s", "online", "available", "codes"),
    [
        (True, 0, 0, 0, 0, []),  # nobody waiting: nothing to do, however empty the team
        (True, 1, 10, 0, 0, ["nobody_online"]),
        (True, 2, 10, 1, 0, ["nobody_available"]),  # online, but busy or away
        (True, 1, 10, 1, 1, []),
        (True, 1, 300, 1, 1, []),  # exactly the target is still within it
        (True, 1, 301, 1, 1, ["over_target"]),
        (True, 3, 454, 0, 0, ["nobody_online", "over_target"]),  # "1 väntar, 7 min 34 s, 0 inloggade"
        (False, 3, 10_000, 0, 0, []),  # closed: the queue waits for opening, as the visitors were told
    ],
)
def test_when_a_team_needs_attention(
    open_now: bool, waiting: int, longest_wait_s: int, online: int, available: int, codes: list[str]
) -> None:
    why = needs_attention(TEAM, open_now=open_now, waiting=waiting, longest_wait_s=longest_wait_s, online=online,
                          available=available)
    assert [r.code for r in why] == codes


def test_the_reasons_say_it_in_plain_words() -> None:
    why = needs_attention(TEAM, open_now=True, waiting=1, longest_wait_s=454, online=0, available=0)
    assert [r.sv for r in why] == ["1 väntar och ingen i teamet är inloggad",
                                   "den som väntat längst har väntat 7 min, mer än målet 5 min"]
    assert [r.en for r in why] == ["1 waiting and nobody in the team is online",
                                   "the longest wait is 7 min, more than the target of 5 min"]
