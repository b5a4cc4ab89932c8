"""What a frame costs the database: a staff member's typing and read frames, and a visitor's, read nothing
once the socket knows the conversation (service/live.py keeps who holds it, from the events the socket
gets anyway); only a change to the conversation makes the next frame look again."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event

from tests.client import Visitor
from tests.conftest import Running, StaffFactory


@contextlib.contextmanager
def conversation_reads(server: Running) -> Iterator[list[str]]:
    """Every SELECT on the conversations table the server runs meanwhile (the real engine, listened to)."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM conversations" in statement:
            seen.append(statement)

    engine = server.ctx.engine.sync_engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


async def test_typing_and_read_frames_read_nothing_once_the_conversation_is_known(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert (await anna.claim(visitor.id)).status_code == 200
    assert anna.ws is not None and visitor.ws is not None
    await visitor.say("hej", "v1")
    await anna.ws.expect("msg", seq=1)
    await anna.ws.send(type="typing", conversation_id=visitor.id, on=True)  # the first one looks it up
    await visitor.ws.expect("typing", on=True)
    with conversation_reads(server) as reads:
        for n in range(10):
            await anna.ws.send(type="typing", conversation_id=visitor.id, on=n % 2 == 0)
            await visitor.ws.expect("typing", on=n % 2 == 0)
            await visitor.ws.send(type="typing", on=True)
            await anna.ws.expect("typing", on=True)
        await anna.ws.send(type="read", conversation_id=visitor.id, seq=1)
        await visitor.ws.expect("read", seq=1)
        await anna.say(visitor.id, "hej själv", "s1")
        await visitor.ws.expect("msg", seq=2)
        await visitor.ws.send(type="read", seq=2)
        await anna.ws.expect("read", seq=2)
    assert reads == []


async def test_a_change_to_the_conversation_makes_the_next_frame_look_again(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert (await anna.claim(visitor.id)).status_code == 200
    assert anna.ws is not None and visitor.ws is not None
    await anna.ws.send(type="typing", conversation_id=visitor.id, on=True)
    await visitor.ws.expect("typing", on=True)
    note = await anna.http.post(f"/api/v1/staff/conversations/{visitor.id}/notes", json={"text": "intern"})
    assert note.status_code == 201
    await anna.ws.expect("notes", conversation_id=visitor.id)
    with conversation_reads(server) as reads:
        await anna.ws.send(type="typing", conversation_id=visitor.id, on=False)
        await visitor.ws.expect("typing", on=False)
    assert len(reads) == 1
