"""The conversation itself: start, queue, claim, both ways, ack after store, resend, resume, close."""

from __future__ import annotations

from tests.client import Visitor
from tests.conftest import Running, StaffFactory


async def test_visitor_and_staff_exchange_messages_in_order(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    staff = await make_staff()
    assert (await staff.claim(visitor.id)).status_code == 200
    state = await visitor.ws.expect("state")  # type: ignore[union-attr]
    assert state["state"] == "active" and state["staff"] == "Anna"

    ack1 = await visitor.say("hej, jag undrar en sak", "v1")
    ack2 = await staff.say(visitor.id, "Hej! Vad undrar du?", "s1")
    ack3 = await visitor.say("om cannabis", "v2")
    assert [ack1["seq"], ack2["seq"], ack3["seq"]] == [1, 2, 3]

    seen_by_staff = [await staff.ws.expect("msg", seq=n) for n in (1, 3)]  # type: ignore[union-attr]
    assert [m["text"] for m in seen_by_staff] == ["hej, jag undrar en sak", "om cannabis"]
    assert ack2["conversation_id"] == visitor.id  # their own message: the ack stands for it, no echo
    await staff.ws.nothing_more("msg", seq=2)  # type: ignore[union-attr]
    msg = await visitor.ws.expect("msg", seq=2)  # type: ignore[union-attr]
    assert msg["text"] == "Hej! Vad undrar du?" and msg["client_msg_id"] == "s1"
    assert msg["from"] == "staff" and msg["author"] == "Anna"


async def test_ack_means_stored_and_carries_the_time(server: Running, visitor: Visitor) -> None:
    await visitor.ws.send(type="msg", client_msg_id="m1", text="första")  # type: ignore[union-attr]
    first = await visitor.ws._next(5)  # type: ignore[union-attr]
    assert first["type"] == "ack" and first["seq"] == 1 and first["ts"].endswith("Z")
    from chat.service import conversations

    stored = await conversations.replay(server.ctx, visitor.id, 0)
    assert [(m["seq"], m["text"]) for m in stored] == [(1, "första")]


async def test_resent_message_is_stored_once(server: Running, visitor: Visitor) -> None:
    first = await visitor.say("hej", "m1")
    await visitor.ws.close()  # type: ignore[union-attr]
    await visitor.connect(last_seq=1)
    again = await visitor.say("hej", "m1")
    assert again["seq"] == first["seq"]
    from chat.store import conversations as store

    assert len(await store.after(server.ctx.engine, visitor.id, 0)) == 1
    await visitor.ws.nothing_more("msg")  # type: ignore[union-attr]


async def test_reconnect_replays_everything_after_last_seq(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    staff = await make_staff()
    await staff.claim(visitor.id)
    for n in range(1, 4):
        await visitor.say(f"v{n}", f"v{n}")
    await visitor.ws.close()  # type: ignore[union-attr]
    for n in range(1, 4):
        await staff.say(visitor.id, f"s{n}", f"s{n}")
    welcome = await visitor.connect(last_seq=2)
    assert welcome["state"] == "active" and welcome["last_seq"] == 6
    replayed = [await visitor.ws.expect("msg", seq=n) for n in range(3, 7)]  # type: ignore[union-attr]
    assert [m["text"] for m in replayed] == ["v3", "s1", "s2", "s3"]
    await visitor.ws.nothing_more("msg")  # type: ignore[union-attr]


async def test_staff_hello_replays_held_conversations(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    staff = await make_staff()
    await staff.claim(visitor.id)
    await visitor.say("ett", "a")
    await visitor.say("två", "b")
    await staff.ws.close()  # type: ignore[union-attr]
    welcome = await staff.connect(last_seq={visitor.id: 1})
    assert [c["conversation_id"] for c in welcome["conversations"]] == [visitor.id]
    msg = await staff.ws.expect("msg")  # type: ignore[union-attr]
    assert msg["seq"] == 2 and msg["text"] == "två"


async def test_second_claim_gets_409(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    anna = await make_staff("anna")
    bo = await make_staff("bo")
    assert (await anna.claim(visitor.id)).status_code == 200
    late = await bo.claim(visitor.id)
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "already_claimed"


async def test_racing_claims_have_exactly_one_winner(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    import asyncio

    people = [await make_staff(f"s{n}", connect=False) for n in range(5)]
    results = await asyncio.gather(*(p.claim(visitor.id) for p in people))
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409]


async def test_queue_positions_update_when_someone_is_taken(server: Running, make_staff: StaffFactory) -> None:
    first = await Visitor.start(server.base)
    second = await Visitor.start(server.base)
    await first.connect()
    welcome = await second.connect()
    assert welcome["state"] == "queued" and welcome["queue"]["position"] == 2
    staff = await make_staff()
    update = await staff.ws.expect("queue_update")  # type: ignore[union-attr]
    assert [c["conversation_id"] for c in update["queue"]] == [first.id, second.id]
    await staff.claim(first.id)
    moved = await second.ws.expect("queue", position=1)  # type: ignore[union-attr]
    assert moved["estimated_wait_s"] > 0
    after = await staff.ws.expect("queue_update")  # type: ignore[union-attr]
    assert [c["conversation_id"] for c in after["queue"]] == [second.id]
    for v in (first, second):
        await v.ws.close()  # type: ignore[union-attr]


async def test_typing_and_read_reach_the_other_side_only(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    staff = await make_staff()
    await staff.claim(visitor.id)
    await visitor.say("hej", "v1")
    # Typing is not stored: it reaches staff only once their socket follows the conversation, which it does
    # (after the claim's event) before it catches up on the stored messages.
    await staff.ws.expect("msg", client_msg_id="v1")  # type: ignore[union-attr]
    await visitor.ws.send(type="typing", on=True)  # type: ignore[union-attr]
    typing = await staff.ws.expect("typing")  # type: ignore[union-attr]
    assert typing == {"type": "typing", "conversation_id": visitor.id, "from": "visitor", "on": True}
    await staff.ws.send(type="read", conversation_id=visitor.id, seq=1)  # type: ignore[union-attr]
    read = await visitor.ws.expect("read")  # type: ignore[union-attr]
    assert read["seq"] == 1 and read["from"] == "staff"
    await visitor.ws.nothing_more("typing")  # type: ignore[union-attr]


async def test_close_tells_the_visitor_and_refuses_further_messages(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    staff = await make_staff()
    await staff.claim(visitor.id)
    r = await staff.http.post(f"/api/v1/staff/conversations/{visitor.id}/close", json={"outcome": "advice_given"})
    assert r.status_code == 200
    await visitor.ws.expect("state", state="closed")  # type: ignore[union-attr]
    await visitor.ws.send(type="msg", client_msg_id="late", text="hallå?")  # type: ignore[union-attr]
    err = await visitor.ws.expect("error")  # type: ignore[union-attr]
    assert err["code"] == "conversation_closed" and err["client_msg_id"] == "late"


async def test_ping_is_answered(visitor: Visitor) -> None:
    await visitor.ws.send(type="ping")  # type: ignore[union-attr]
    assert await visitor.ws.expect("pong") == {"type": "pong"}  # type: ignore[union-attr]


async def test_the_sender_gets_the_ack_and_no_echo_while_its_other_tab_gets_the_msg(server: Running) -> None:
    """The ack stands for the message on the socket that sent it, even sent right behind hello (when the
    replay may meet the message before its ack is queued); another socket of the same person gets the msg."""
    v = await Visitor.start(server.base)
    from tests.client import WS

    other_tab = await WS.open(server.ws + "/ws/visitor")
    await other_tab.send(type="hello", token=v.token, last_seq=0)
    await other_tab.expect("welcome")
    ws = await WS.open(server.ws + "/ws/visitor")
    await ws.send(type="hello", token=v.token, last_seq=0)
    await ws.send(type="msg", client_msg_id="fast", text="direkt")
    ack = await ws.expect("ack", client_msg_id="fast")
    await ws.send(type="ping")
    await ws.expect("pong")  # a barrier: everything for the msg has been sent before the pong
    kinds = [f["type"] for f in ws.received]
    assert kinds.index("welcome") < kinds.index("ack")
    assert kinds.count("ack") == 1 and kinds.count("msg") == 0
    echo = await other_tab.expect("msg", client_msg_id="fast")
    assert (echo["seq"], echo["ts"], echo["text"]) == (ack["seq"], ack["ts"], "direkt")
    # A reload (a new socket from 0) replays it like any other message.
    await ws.close()
    again = await WS.open(server.ws + "/ws/visitor")
    await again.send(type="hello", token=v.token, last_seq=0)
    assert (await again.expect("msg", seq=1))["client_msg_id"] == "fast"
    await again.close()
    await other_tab.close()


async def test_read_marks_only_move_forward(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    staff = await make_staff()
    await staff.claim(visitor.id)
    for n in range(1, 4):
        await visitor.say(f"v{n}", f"v{n}")
    await staff.ws.send(type="read", conversation_id=visitor.id, seq=3)  # type: ignore[union-attr]
    assert (await visitor.ws.expect("read"))["seq"] == 3  # type: ignore[union-attr]
    await staff.ws.send(type="read", conversation_id=visitor.id, seq=2)  # type: ignore[union-attr]
    await visitor.ws.nothing_more("read")  # type: ignore[union-attr]
    await staff.ws.send(type="read", conversation_id=visitor.id, seq=9)  # type: ignore[union-attr]
    assert (await staff.ws.expect("error"))["code"] == "bad_last_seq"  # type: ignore[union-attr]


async def test_welcome_names_the_staff_member_after_a_reload(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    staff = await make_staff()
    await staff.claim(visitor.id)
    await visitor.ws.close()  # type: ignore[union-attr]
    welcome = await visitor.connect()
    assert welcome["state"] == "active" and welcome["staff"] == "Anna"
