"""An instance serves a few hellos at a time (service/admission.py); a hello that has waited too long for its
turn is told to come back — ``unavailable`` with reason ``busy`` and a ``retry_after``, then close 1013, which
the page answers by reconnecting after a pause — rather than served after the page has given up on it.
The storm this is for is tests/fault/test_reconnect_storm.py; here the slots are held by the test itself."""

from __future__ import annotations

import asyncio
import dataclasses

from chat.settings import Settings
from tests.client import WS, Visitor
from tests.conftest import empty_database, serve


async def test_a_hello_that_waits_too_long_is_told_to_come_back_and_then_served(settings: Settings) -> None:
    await empty_database(settings)
    tight = dataclasses.replace(settings, hello_concurrency=1, hello_wait_s=0.3)
    async with serve(tight) as server:
        visitor = await Visitor.start(server.base)
        url = server.base.replace("http", "ws", 1) + "/ws/visitor"
        held = asyncio.Event()
        release = asyncio.Event()

        async def hold_the_only_slot() -> None:
            async with server.ctx.admission.hello(1, 5):
                held.set()
                await release.wait()

        holder = asyncio.create_task(hold_the_only_slot())
        await held.wait()
        ws = await WS.open(url)
        await ws.send(type="hello", token=visitor.token, last_seq=0)
        refused = await ws.expect("error")
        assert (refused["code"], refused["reason"], refused["retry_after"]) == ("unavailable", "busy", 1)
        assert await ws.closed() == 1013

        # While the slot is held a hello waits for it (up to hello_wait_s) rather than failing at once.
        waiting = await WS.open(url)
        await waiting.send(type="hello", token=visitor.token, last_seq=0)
        await asyncio.sleep(0.1)
        release.set()
        await holder
        assert (await waiting.expect("welcome"))["conversation_id"] == visitor.id
        await waiting.close()
