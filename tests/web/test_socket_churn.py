"""Sockets that vanish while frames are on their way are a normal end, not a server error.

Young people close tabs and lose the network mid-conversation all the time. When the server is sending
to a socket whose client just went away, the writer ends quietly: no ERROR line that would page an
operator for nothing, and nothing lost — every message is in the store and a new socket gets it all.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.client import WS, Staff, Visitor
from tests.conftest import Running, StaffFactory


async def _churn(server: Running, visitor: Visitor, staff: Staff, n: int, rounds: int) -> None:
    """Staff writes while the visitor opens sockets, writes and drops them before the answers arrive,
    half of them abruptly (a lost network), half with a close frame (a closed tab)."""
    for k in range(rounds):
        ws = await WS.open(server.ws + "/ws/visitor")
        await ws.send(type="hello", token=visitor.token, last_seq=0)
        await staff.say(visitor.id, f"svar {n}.{k}", f"s{n}-{k}")
        await ws.send(type="msg", text="hej", client_msg_id=f"v{n}-{k}")
        if k % 2:
            ws.conn.transport.abort()
        else:
            await ws.close()


async def test_dropped_sockets_log_no_error_and_lose_nothing(
    server: Running, make_staff: StaffFactory, caplog: pytest.LogCaptureFixture
) -> None:
    visitors = [await Visitor.start(server.base) for _ in range(8)]
    staff = [await make_staff(f"staff{n}") for n in range(len(visitors))]  # one each: a staff client reads its acks in turn
    for s, v in zip(staff, visitors, strict=True):
        assert (await s.claim(v.id)).status_code == 200
    with caplog.at_level(logging.INFO, logger="minimaria"):
        await asyncio.gather(*(_churn(server, v, s, n, 10) for n, (s, v) in enumerate(zip(staff, visitors, strict=True))))
        await asyncio.sleep(0.3)
    errors = [getattr(r, "fields", {}).get("event") for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    for n, v in enumerate(visitors):
        welcome = await v.connect(last_seq=0)
        replayed = await _all_messages(v, welcome["last_seq"])
        staff_texts = [f["text"] for f in replayed if f["from"] == "staff"]
        assert staff_texts == [f"svar {n}.{k}" for k in range(10)]
        await v.ws.close()


async def _all_messages(v: Visitor, count: int) -> list[dict[str, object]]:
    return [await v.ws.expect("msg", seq=seq) for seq in range(1, count + 1)]
