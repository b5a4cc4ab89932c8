"""Quick exit (POST /api/v1/visitor/forget) ends the conversation, not only the token: closed with outcome
``left``, out of every queue, the holder told at once, the visitor's socket closed; on SQLite + memory bus
and PostgreSQL + Redis. (An open offer withdrawn: tests/triage_e2e/test_visitor_presence.py.)"""

from __future__ import annotations

import httpx
from sqlalchemy import text

from tests.client import WS, Staff, Visitor
from tests.conftest import Running, StaffFactory


async def forget(server: Running, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with httpx.AsyncClient(base_url=server.base) as http:
        return await http.post("/api/v1/visitor/forget", headers=headers)


async def row(server: Running, conversation_id: str) -> dict[str, object]:
    async with server.ctx.engine.connect() as conn:
        r = (await conn.execute(
            text("SELECT state, outcome, closed_at, role, team, queued_at, offered_to FROM conversations WHERE id = :c"),
            {"c": conversation_id},
        )).one()
    return dict(r._mapping)


def ids(frame: dict[str, object]) -> list[str]:
    return [c["conversation_id"] for c in frame["queue"]]  # type: ignore[attr-defined, index]


async def test_quick_exit_of_a_waiting_visitor_takes_it_out_of_the_queue_and_keeps_its_statistics(
    server: Running, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert anna.ws is not None
    first = await Visitor.start(server.base)
    second = await Visitor.start(server.base)
    welcome = await second.connect()
    assert second.ws is not None and welcome["queue"]["position"] == 2
    update = await anna.ws.expect("queue_update")
    while ids(update) != [first.id, second.id]:
        update = await anna.ws.expect("queue_update")
    assert (await forget(server, first.token)).status_code == 204

    stored = await row(server, first.id)
    assert (stored["state"], stored["outcome"], stored["role"]) == ("closed", "left", "young")
    assert stored["closed_at"] is not None and stored["queued_at"] is not None and stored["team"] == "reception"
    while first.id in ids(update):
        update = await anna.ws.expect("queue_update")
    assert ids(update) == [second.id]
    # The one behind moves up to first place.
    place = await second.ws.expect("queue", position=1)
    assert place["position"] == 1
    listed = (await anna.http.get("/api/v1/staff/queue")).json()["queue"]
    assert [c["conversation_id"] for c in listed] == [second.id]


async def test_quick_exit_tells_the_staff_member_holding_it_and_closes_the_visitors_socket(
    server: Running, make_staff: StaffFactory, visitor: Visitor
) -> None:
    anna = await make_staff("anna")
    assert anna.ws is not None and visitor.ws is not None
    assert (await anna.claim(visitor.id)).status_code == 200
    await visitor.say("hej", "v1")
    await anna.ws.expect("msg", seq=1)

    assert (await forget(server, visitor.token)).status_code == 204
    line = await anna.ws.expect("msg", seq=2)
    assert (line["from"], line["text"]) == ("system", "Personen har lämnat chatten.")
    assert await anna.ws.expect("state", conversation_id=visitor.id, state="closed")
    assert (await visitor.ws.expect("error"))["code"] == "token_expired"
    assert await visitor.ws.closed() == 4401
    # Staff can no longer write to nobody.
    await anna.ws.send(type="msg", conversation_id=visitor.id, client_msg_id="s1", text="hallå?")
    assert (await anna.ws.expect("error", client_msg_id="s1"))["code"] == "conversation_closed"
    assert (await row(server, visitor.id))["outcome"] == "left"


async def test_forget_twice_unknown_expired_or_missing_tokens_change_nothing_and_say_nothing(
    server: Running, visitor: Visitor
) -> None:
    other = await Visitor.start(server.base)
    for token in (None, "no-such-token", "x" * 5000):
        assert (await forget(server, token)).status_code == 204
    assert (await row(server, other.id))["state"] == "queued"
    assert (await forget(server, visitor.token)).status_code == 204
    closed_at = (await row(server, visitor.id))["closed_at"]
    again = await forget(server, visitor.token)  # the page's keepalive request may be sent twice
    assert again.status_code == 204
    assert (await row(server, visitor.id))["closed_at"] == closed_at
    assert (await row(server, other.id))["state"] == "queued"


async def test_hello_after_quick_exit_is_refused_and_the_return_code_reopens_it(server: Running, visitor: Visitor) -> None:
    assert (await forget(server, visitor.token)).status_code == 204
    ws = await WS.open(server.ws + "/ws/visitor")
    try:
        await ws.send(type="hello", token=visitor.token, last_seq=0)
        assert (await ws.expect("error"))["code"] == "token_expired"
    finally:
        await ws.close()
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post("/api/v1/conversations", json={"return_code": visitor.started["return_code"]})
    assert r.status_code == 201
    assert (r.json()["state"], r.json()["reopened"]) == ("queued", True)
    assert r.json()["queue"]["position"] == 1


async def test_quick_exit_of_a_closed_conversation_only_ends_the_token(server: Running, make_staff: StaffFactory) -> None:
    anna: Staff = await make_staff("anna")
    v = await Visitor.start(server.base)
    assert (await anna.claim(v.id)).status_code == 200
    r = await anna.http.post(f"/api/v1/staff/conversations/{v.id}/close", json={"outcome": "advice_given"})
    assert r.status_code == 200
    assert (await forget(server, v.token)).status_code == 204
    assert (await row(server, v.id))["outcome"] == "advice_given"
