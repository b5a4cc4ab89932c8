"""A staff member who no longer holds a conversation (handed on, taken over, closed) cannot keep typing or
marking it read from a console that is still open: the socket's rules (service/live.py) follow the change."""

from __future__ import annotations

from tests.client import Visitor
from tests.conftest import Running, StaffFactory


async def _typing_gets_through(visitor: Visitor, staff_ws: object, conversation_id: str) -> None:
    await staff_ws.send(type="typing", conversation_id=conversation_id, on=True)  # type: ignore[attr-defined]
    assert (await visitor.ws.expect("typing"))["on"] is True  # type: ignore[union-attr]


async def test_typing_and_read_are_refused_after_a_handover(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    await make_staff("bo", roles=("counsellor",), teams=("relatives",))
    assert (await anna.claim(visitor.id)).status_code == 200
    assert anna.ws is not None
    await visitor.say("hej", "v1")
    await anna.ws.expect("msg", seq=1)
    await _typing_gets_through(visitor, anna.ws, visitor.id)
    await anna.ws.send(type="read", conversation_id=visitor.id, seq=1)
    assert (await visitor.ws.expect("read"))["seq"] == 1  # type: ignore[union-attr]

    moved = await anna.http.post(f"/api/v1/staff/conversations/{visitor.id}/transfer", json={"staff": "bo", "note": "x"})
    assert moved.status_code == 200
    await anna.ws.expect("released", conversation_id=visitor.id)
    await anna.ws.send(type="typing", conversation_id=visitor.id, on=False)
    assert (await anna.ws.expect("error"))["code"] == "not_claimed"
    await anna.ws.send(type="read", conversation_id=visitor.id, seq=2)
    assert (await anna.ws.expect("error"))["code"] == "not_claimed"
    await visitor.ws.nothing_more("typing", on=False)  # type: ignore[union-attr]


async def test_typing_is_refused_once_the_conversation_is_closed(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert (await anna.claim(visitor.id)).status_code == 200
    assert anna.ws is not None
    await _typing_gets_through(visitor, anna.ws, visitor.id)
    closed = await anna.http.post(f"/api/v1/staff/conversations/{visitor.id}/close", json={"outcome": "advice_given"})
    assert closed.status_code == 200
    await anna.ws.expect("state", state="closed")
    await anna.ws.send(type="typing", conversation_id=visitor.id, on=True)
    assert (await anna.ws.expect("error"))["code"] == "conversation_closed"


async def test_a_supervisor_takeover_stops_the_former_holder_typing(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    sup = await make_staff("sara", roles=("supervisor",), teams=())
    assert (await anna.claim(visitor.id)).status_code == 200
    assert anna.ws is not None
    await _typing_gets_through(visitor, anna.ws, visitor.id)
    taken = await sup.http.post(f"/api/v1/staff/conversations/{visitor.id}/reassign", json={"staff": "sara"})
    assert taken.status_code == 200, taken.text
    await anna.ws.expect("released", conversation_id=visitor.id)
    await anna.ws.send(type="typing", conversation_id=visitor.id, on=True)
    assert (await anna.ws.expect("error"))["code"] == "not_claimed"
