"""Bad WebSocket input: each case gets an error frame with a stable code (or the documented close code),
the same connection keeps working where the code allows, and nothing reaches the store that should not."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from chat.store import conversations as store
from tests.client import WS, Visitor
from tests.conftest import Running, StaffFactory


async def still_works(v: Visitor, cmid: str = "after") -> None:
    """The connection that got the error can still send a message that is stored and acked."""
    ack = await v.say("fortfarande här", cmid)
    assert ack["seq"] >= 1


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        ("", "bad_json"),
        ("[1, 2, 3]", "not_object"),
        ('"hello"', "not_object"),
        ("42", "not_object"),
        ('{"type": "shout", "text": "x"}', "unknown_type"),
        ('{"text": "no type"}', "unknown_type"),
        ('{"type": "msg", "text": "no id"}', "invalid"),
        ('{"type": "msg", "client_msg_id": 7, "text": "id is a number"}', "invalid"),
        ('{"type": "msg", "client_msg_id": "a", "text": 12}', "invalid"),
        ('{"type": "msg", "client_msg_id": "a", "text": "x", "extra": true}', "invalid"),
        ('{"type": "msg", "client_msg_id": "", "text": "x"}', "invalid"),
        ('{"type": "typing", "on": "yes"}', "invalid"),
        ('{"type": "read", "seq": -1}', "invalid"),
        ('{"type": "read", "seq": "1"}', "invalid"),
        ('{"type": [], "text": "a list is no type"}', "unknown_type"),
        ('{"type": {}, "text": "nor is an object"}', "unknown_type"),
        ('{"type": "msg", "client_msg_id": "a", "text": "bad \\ud800 text"}', "invalid"),
        ('{"type": "msg", "client_msg_id": "a\\udfff", "text": "a lone surrogate in the id"}', "invalid"),
        ('{"type": "screening", "instrument": "audit", "answers": {"\\ud800": 1}}', "invalid"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_connection_stays(
    server: Running, visitor: Visitor, raw: str, code: str
) -> None:
    await visitor.ws.send_raw(raw)  # type: ignore[union-attr]
    err = await visitor.ws.expect("error")  # type: ignore[union-attr]
    assert err["code"] == code
    assert raw not in err["message"] or raw == ""  # the message never echoes input
    await still_works(visitor)


@pytest.mark.parametrize(("text_", "code"), [("", "empty_text"), ("   \n\t ", "empty_text"), ("x" * 4001, "text_too_long")])
async def test_empty_and_too_long_texts_are_refused_and_not_stored(
    server: Running, visitor: Visitor, text_: str, code: str
) -> None:
    await visitor.ws.send(type="msg", client_msg_id="bad", text=text_)  # type: ignore[union-attr]
    err = await visitor.ws.expect("error")  # type: ignore[union-attr]
    assert err == {"type": "error", "code": code, "message": err["message"], "client_msg_id": "bad"}
    assert await store.after(server.ctx.engine, visitor.id, 0) == []
    await still_works(visitor)


async def test_a_text_of_exactly_the_limit_is_accepted(visitor: Visitor) -> None:
    ack = await visitor.say("å" * 4000, "max")
    assert ack["seq"] == 1


async def test_msg_before_hello_is_refused_then_hello_works(server: Running) -> None:
    v = await Visitor.start(server.base)
    ws = await WS.open(server.ws + "/ws/visitor")
    await ws.send(type="msg", client_msg_id="early", text="hej")
    err = await ws.expect("error")
    assert err["code"] == "hello_required" and err["client_msg_id"] == "early"
    await ws.send(type="hello", token=v.token)
    await ws.expect("welcome")
    await ws.send(type="msg", client_msg_id="early", text="hej")
    assert (await ws.expect("ack"))["seq"] == 1
    await ws.close()


async def test_second_hello_is_refused(visitor: Visitor) -> None:
    await visitor.ws.send(type="hello", token=visitor.token)  # type: ignore[union-attr]
    assert (await visitor.ws.expect("error"))["code"] == "already_hello"  # type: ignore[union-attr]
    await still_works(visitor)


async def test_wrong_token_closes_with_4401(server: Running) -> None:
    ws = await WS.open(server.ws + "/ws/visitor")
    await ws.send(type="hello", token="not-a-token")
    assert (await ws.expect("error"))["code"] == "unauthorized"
    assert await ws.closed() == 4401


async def test_hello_without_token_closes_with_4401(server: Running) -> None:
    ws = await WS.open(server.ws + "/ws/visitor")
    await ws.send(type="hello")
    assert (await ws.expect("error"))["code"] == "unauthorized"
    assert await ws.closed() == 4401


async def test_expired_token_closes_with_4401(server: Running) -> None:
    v = await Visitor.start(server.base)
    past = datetime.now(UTC) - timedelta(minutes=1)
    async with server.ctx.engine.begin() as conn:
        await conn.execute(text("UPDATE conversations SET token_expires_at = :t WHERE id = :id"), {"t": past, "id": v.id})
    ws = await WS.open(server.ws + "/ws/visitor")
    await ws.send(type="hello", token=v.token)
    assert (await ws.expect("error"))["code"] == "token_expired"
    assert await ws.closed() == 4401


async def test_frames_naming_another_conversation_are_forbidden(server: Running, visitor: Visitor) -> None:
    other = await Visitor.start(server.base)
    await visitor.ws.send(type="msg", conversation_id=other.id, client_msg_id="x", text="hej")  # type: ignore[union-attr]
    err = await visitor.ws.expect("error")  # type: ignore[union-attr]
    assert err["code"] == "forbidden" and err["client_msg_id"] == "x"
    assert await store.after(server.ctx.engine, other.id, 0) == []
    await still_works(visitor)


@pytest.mark.parametrize("last_seq", [-1, 5])
async def test_last_seq_out_of_range_is_refused(server: Running, last_seq: int) -> None:
    v = await Visitor.start(server.base)
    ws = await WS.open(server.ws + "/ws/visitor")
    await ws.send(type="hello", token=v.token, last_seq=last_seq)
    assert (await ws.expect("error"))["code"] == "bad_last_seq"
    await ws.send(type="hello", token=v.token, last_seq=0)
    assert (await ws.expect("welcome"))["conversation_id"] == v.id
    await ws.close()


async def test_staff_frame_for_unclaimed_conversation_is_refused(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    staff = await make_staff()
    await staff.ws.send(type="msg", conversation_id=visitor.id, client_msg_id="s1", text="hej")  # type: ignore[union-attr]
    err = await staff.ws.expect("error")  # type: ignore[union-attr]
    assert err["code"] == "not_claimed" and err["client_msg_id"] == "s1"
    await staff.ws.send(type="typing", conversation_id=visitor.id, on=True)  # type: ignore[union-attr]
    assert (await staff.ws.expect("error"))["code"] == "not_claimed"  # type: ignore[union-attr]
    assert await store.after(server.ctx.engine, visitor.id, 0) == []
    # Claimed, the same frame goes through.
    await staff.claim(visitor.id)
    assert (await staff.say(visitor.id, "hej", "s1"))["seq"] == 1


async def test_staff_hello_naming_a_conversation_they_do_not_hold_is_refused(
    visitor: Visitor, make_staff: StaffFactory
) -> None:
    staff = await make_staff(connect=False)
    from tests.client import WS as _WS

    cookie = f"mm_staff={staff.http.cookies['mm_staff']}"
    ws = await _WS.open(staff.base.replace("http", "ws") + "/ws/staff", origin=staff.base, additional_headers={"Cookie": cookie})
    await ws.send(type="hello", last_seq={visitor.id: 0})
    assert (await ws.expect("error"))["code"] == "forbidden"
    await ws.send(type="hello", last_seq={})
    await ws.expect("welcome")
    await ws.close()


async def test_frame_over_the_size_limit_closes_with_1009(server: Running, visitor: Visitor) -> None:
    other = await Visitor.start(server.base)
    await other.connect()
    await visitor.ws.send_raw(json.dumps({"type": "msg", "client_msg_id": "big", "text": "x" * 70_000}))  # type: ignore[union-attr]
    assert await visitor.ws.closed() == 1009  # type: ignore[union-attr]
    # Everyone else is unaffected, and the visitor can come back.
    assert (await other.say("jag är kvar", "o1"))["seq"] == 1
    await visitor.connect()
    await still_works(visitor)
    await other.ws.close()  # type: ignore[union-attr]


async def test_binary_frames_are_refused(visitor: Visitor) -> None:
    await visitor.ws.send_raw(b'{"type": "ping"}')  # type: ignore[union-attr]
    assert (await visitor.ws.expect("error"))["code"] == "invalid"  # type: ignore[union-attr]
    await still_works(visitor)


async def test_a_flood_is_throttled_with_errors_and_nothing_is_silently_dropped(server: Running) -> None:
    visitor = await Visitor.start(server.base)
    ws = await WS.open(server.ws + "/ws/visitor", max_queue=None)  # a client that keeps reading
    await ws.send(type="hello", token=visitor.token)
    await ws.expect("welcome")
    n = 400
    for i in range(n):
        await ws.send(type="msg", client_msg_id=f"f{i}", text=f"flood {i}")
    answered: dict[str, str] = {}
    while len(answered) < n:
        frame = await ws._next(10)
        if frame["type"] in {"ack", "error"}:
            answered[frame["client_msg_id"]] = frame["type"] if frame["type"] == "ack" else frame["code"]
    assert set(answered) == {f"f{i}" for i in range(n)}  # every frame got an answer
    refused = [k for k, v in answered.items() if v != "ack"]
    assert refused and all(answered[k] == "rate_limited" for k in refused)
    stored = await store.after(server.ctx.engine, visitor.id, 0)
    assert len(stored) == n - len(refused)  # acked ones are stored, refused ones are not
    await ws.close()
    # The same connection works again once the client slows down, and so does everyone else.
    other = await Visitor.start(server.base)
    await other.connect()
    assert (await other.say("hej", "o1"))["seq"] == 1
    await other.ws.close()  # type: ignore[union-attr]


async def test_no_hello_in_time_closes_with_4408(settings: object, server: Running) -> None:
    from tests.conftest import serve

    quick = server.settings.replace(hello_timeout_s=0.3)
    async with serve(quick) as s:
        ws = await WS.open(s.ws + "/ws/visitor")
        assert (await ws.expect("error"))["code"] == "hello_timeout"
        assert await ws.closed() == 4408


async def test_the_server_does_not_negotiate_compression(server: Running, visitor: Visitor) -> None:
    # Our client offers permessage-deflate by default; the server must decline it.
    assert visitor.ws.conn.response.headers.get("Sec-WebSocket-Extensions") is None  # type: ignore[union-attr]


async def test_error_messages_never_echo_a_clients_field_names(visitor: Visitor) -> None:
    await visitor.ws.send_raw('{"type": "msg", "client_msg_id": "a", "text": "x", "<script>secret</script>": 1}')  # type: ignore[union-attr]
    err = await visitor.ws.expect("error")  # type: ignore[union-attr]
    assert err["code"] == "invalid" and "secret" not in err["message"] and "script" not in err["message"]


async def test_staff_typing_in_unknown_or_closed_conversations_gets_the_same_codes_as_msg(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    staff = await make_staff()
    for kind, extra in (("msg", {"client_msg_id": "m", "text": "hej"}), ("typing", {"on": True}), ("read", {"seq": 0})):
        await staff.ws.send(type=kind, conversation_id="nope", **extra)  # type: ignore[union-attr]
        assert (await staff.ws.expect("error"))["code"] == "not_found", kind  # type: ignore[union-attr]
    await staff.claim(visitor.id)
    await staff.http.post(f"/api/v1/staff/conversations/{visitor.id}/close", json={"outcome": "no_contact"})
    for kind, extra in (("msg", {"client_msg_id": "m", "text": "hej"}), ("typing", {"on": True})):
        await staff.ws.send(type=kind, conversation_id=visitor.id, **extra)  # type: ignore[union-attr]
        assert (await staff.ws.expect("error"))["code"] == "conversation_closed", kind  # type: ignore[union-attr]


async def test_a_socket_that_cannot_deliver_is_closed_not_left_silent(server: Running, visitor: Visitor) -> None:
    # A message event this instance cannot turn into a frame (here: a malformed one on the bus) must
    # close the socket (1011) so the client reconnects and resumes, never leave it open and silent.
    from chat.service import events

    other = await Visitor.start(server.base)
    await other.connect()
    bad = {"type": "msg", "conversation_id": visitor.id, "seq": 1}
    await server.ctx.bus.publish(events.conversation_channel(visitor.id), events.encode(bad))
    assert await visitor.ws.closed() == 1011  # type: ignore[union-attr]
    assert (await other.say("andra påverkas inte", "o1"))["seq"] == 1
    await other.ws.close()  # type: ignore[union-attr]
    await visitor.connect()  # and the visitor resumes normally
    assert (await visitor.say("tillbaka", "v1"))["seq"] == 1


async def test_one_senders_invalid_text_never_fails_anothers_message(server: Running) -> None:
    """Five people send text with a lone surrogate while thirty others chat: the five get `invalid` (not the
    retryable `internal`), and every one of the others' messages is stored and acked (it once failed whole
    batches: 810 of 2,850 messages)."""
    good = [await Visitor.start(server.base) for _ in range(30)]
    bad = [await Visitor.start(server.base) for _ in range(5)]
    for v in good + bad:
        await v.connect()

    async def chat(v: Visitor) -> list[int]:
        return [(await v.say(f"meddelande {i}", f"m{i}"))["seq"] for i in range(5)]

    async def spoil(v: Visitor) -> list[str]:
        codes = []
        for i in range(5):
            await v.ws.send_raw(json.dumps({"type": "msg", "client_msg_id": f"b{i}", "text": "bad \ud800 text"}))  # type: ignore[union-attr]
            codes.append((await v.ws.expect("error", client_msg_id=f"b{i}"))["code"])  # type: ignore[union-attr]
        return codes

    results = await asyncio.gather(*(chat(v) for v in good), *(spoil(v) for v in bad))
    assert all(seqs == [1, 2, 3, 4, 5] for seqs in results[:30])
    assert all(codes == ["invalid"] * 5 for codes in results[30:])
    for v in bad:
        assert await store.after(server.ctx.engine, v.id, 0) == []
        await still_works(v)
    for v in good + bad:
        await v.ws.close()  # type: ignore[union-attr]


async def test_a_staff_ack_names_its_conversation_when_one_client_msg_id_is_used_in_two(
    server: Running, make_staff: StaffFactory
) -> None:
    """client_msg_ids are unique per conversation only. A staff socket sending the same id to two conversations
    at once gets, for each, an ack naming that conversation with that conversation's seq (it once got the
    other conversation's seq, 3–5 times in 40)."""
    anna = await make_staff("anna")
    a, b = await Visitor.start(server.base), await Visitor.start(server.base)
    for v in (a, b):
        assert (await anna.claim(v.id)).status_code == 200
    await a.connect()
    for i in range(3):  # a's seqs run ahead of b's
        await a.say(f"före {i}", f"pre{i}")
    ws = anna.ws
    assert ws is not None
    for i in range(20):
        await ws.send(type="msg", conversation_id=a.id, client_msg_id=f"r{i}", text="till a")
        await ws.send(type="msg", conversation_id=b.id, client_msg_id=f"r{i}", text="till b")
    acks = [await ws.expect("ack", client_msg_id=f"r{i}", conversation_id=cid) for i in range(20) for cid in (a.id, b.id)]
    stored = {(cid, m.client_msg_id): m.seq for cid in (a.id, b.id) for m in await store.after(server.ctx.engine, cid, 0)}
    assert all(ack["seq"] == stored[(ack["conversation_id"], ack["client_msg_id"])] for ack in acks)
    await ws.nothing_more("ack")  # one ack per message, none to spare
    await a.ws.close()  # type: ignore[union-attr]
