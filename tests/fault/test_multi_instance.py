"""Two ``serve`` processes on one PostgreSQL and Redis; one of them is killed mid-conversation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import services
from tests.fault.flow import Clients, Log, matches, pg_messages, seen, seqs, settle, two_instances_in_a_chat, until_seq
from tests.fault.procs import Procs

pytestmark = pytest.mark.slow


async def test_conversation_survives_the_visitors_instance_being_killed_(
    procs: Procs, fresh_pg_url: str, clients: Clients, tmp_path: Path
) -> None:
    """A visitor whose instance is SIGKILLed resumes on the other one and both sides see every message once, in order."""
    services.require_redis()
    pair = await two_instances_in_a_chat(procs, clients, tmp_path, fresh_pg_url, services.REDIS_URL)
    a, b, visitor, staff = pair.a, pair.b, pair.visitor, pair.staff
    assert visitor.ws is not None and staff.ws is not None
    v_on_a, s_on_b = visitor.ws, staff.ws

    log = Log()

    async def visitor_says(text: str, cmid: str) -> int:
        return log.add(await visitor.say(text, cmid), "visitor", text, cmid)

    async def staff_says(text: str, cmid: str) -> int:
        return log.add(await staff.say(visitor.id, text, cmid), "staff", text, cmid)

    # Both ways across the two instances; each side sees each message as it happens.
    for n, (side, text) in enumerate(
        [("visitor", "hej, jag undrar en sak"), ("staff", "Hej! Vad undrar du?"), ("visitor", "om cannabis"),
         ("staff", "Berätta mer.")],
        start=1,
    ):
        seq = await (visitor_says(text, f"v{n}") if side == "visitor" else staff_says(text, f"s{n}"))
        assert seq == n
        await until_seq(v_on_a, n)
        await until_seq(s_on_b, n)
    assert seqs(v_on_a) == seqs(s_on_b) == [1, 2, 3, 4]

    # One more from the visitor, acked (= stored), and instance A dies at once: maybe before it published it.
    acked_text = "det var på en fest"
    acked_seq = await visitor_says(acked_text, "v5")
    assert acked_seq == 5
    a.kill()
    assert await v_on_a.closed() is None  # no close frame: a killed process says no goodbye

    # Meanwhile staff, on B, keep writing; B catches its socket up on seq 5 whether or not A published it.
    assert await staff_says("Okej, vad hände?", "s6") == 6
    assert await staff_says("Är du kvar?", "s7") == 7
    await until_seq(s_on_b, 7)

    # The visitor comes back on B with the last seq it saw and gets the rest.
    last_seen = max(seqs(v_on_a))
    assert last_seen in (4, 5)  # 5 only if A published (and delivered) it before it died
    welcome = await visitor.connect(b.base, last_seq=last_seen)
    assert welcome["state"] == "active" and welcome["last_seq"] == 7
    v_on_b = visitor.ws
    assert v_on_b is not None
    await until_seq(v_on_b, 7)

    # A resend of the message acked just before the crash is the same message, not a new one.
    again = await visitor.say(acked_text, "v5")
    assert again["seq"] == acked_seq

    # The conversation goes on normally on B.
    assert await visitor_says("jag är kvar, nätet strulade", "v8") == 8
    assert await staff_says("Bra, fortsätt.", "s9") == 9
    assert await visitor_says("ok", "v10") == 10
    for ws in (v_on_b, s_on_b):
        await until_seq(ws, 10)
        await settle(ws)

    expected = log.expected
    assert [s[0] for s in expected] == list(range(1, 11))
    # Every seq exactly once, in order, on each side (the visitor's two sockets together).
    assert seqs(v_on_a, v_on_b) == list(range(1, 11))
    assert seqs(s_on_b) == list(range(1, 11))
    assert seen(v_on_a, v_on_b) == expected
    assert seen(s_on_b) == expected
    # And the store holds exactly those messages: the resend stored nothing.
    assert matches(await pg_messages(fresh_pg_url, visitor.id), expected)
