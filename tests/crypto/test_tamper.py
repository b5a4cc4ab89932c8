"""A stored text changed behind the server's back fails loudly, for that record only.

Rows are changed with plain SQL while the server runs, as someone with database access could. The
changed record is delivered (replay on reconnect, transcript) with ``text: null`` and
``unreadable: true``, never as other or garbled text; the records around it read as before, and a
``decrypt_failed`` line is logged naming the conversation and seq.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from chat.store.models import Note
from tests.client import Staff, Visitor
from tests.conftest import Running, StaffFactory

# Four messages: the visitor's first two (same sender, so only their seq tells them apart), staff, visitor.
SCRIPT = [("visitor", "v1", "ett"), ("visitor", "v2", "två"), ("staff", "s1", "tre"), ("visitor", "v3", "fyra")]
TEXTS = {n: words for n, (_, _, words) in enumerate(SCRIPT, start=1)}


async def _say_all(visitor: Visitor, staff: Staff) -> None:
    assert (await staff.claim(visitor.id)).status_code == 200
    for side, cmid, words in SCRIPT:
        await (visitor.say(words, cmid) if side == "visitor" else staff.say(visitor.id, words, cmid))


@pytest.fixture
async def staff(make_staff: StaffFactory) -> Staff:
    return await make_staff()


@pytest.fixture
async def chat(visitor: Visitor, staff: Staff) -> Visitor:
    """The visitor's conversation, held by ``staff``, with the four messages of SCRIPT stored."""
    await _say_all(visitor, staff)
    return visitor


async def sql(server: Running, statement: str, **params: Any) -> Any:
    async with server.ctx.engine.begin() as conn:
        return await conn.execute(text(statement), params)


async def body(server: Running, conversation_id: str, seq: int) -> bytes:
    result = await sql(server, "SELECT body FROM messages WHERE conversation_id = :c AND seq = :s", c=conversation_id, s=seq)
    return bytes(result.scalar_one())


async def set_body(server: Running, conversation_id: str, seq: int, new: bytes) -> None:
    await sql(server, "UPDATE messages SET body = :b WHERE conversation_id = :c AND seq = :s", b=new, c=conversation_id, s=seq)


async def replayed(visitor: Visitor) -> dict[int, dict[str, Any]]:
    """Reconnect from seq 0 and read the whole conversation again, as a reloaded page would."""
    assert visitor.ws is not None
    await visitor.ws.close()
    welcome = await visitor.connect(last_seq=0)
    assert visitor.ws is not None
    frames = {n: await visitor.ws.expect("msg", seq=n) for n in range(1, welcome["last_seq"] + 1)}
    await visitor.ws.nothing_more("msg")
    return frames


async def transcript(staff: Staff, conversation_id: str) -> dict[str, Any]:
    r = await staff.http.get(f"/api/v1/staff/conversations/{conversation_id}/transcript")
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def readable(frames: list[dict[str, Any]] | dict[int, dict[str, Any]]) -> dict[int, str | None]:
    """seq → text, checking that an unreadable record says so and a readable one does not."""
    items = frames.values() if isinstance(frames, dict) else frames
    out: dict[int, str | None] = {}
    for f in items:
        assert f.get("unreadable", False) is (f["text"] is None), f
        out[f["seq"]] = f["text"]
    return out


def failures(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        r.fields for r in caplog.records  # type: ignore[attr-defined]
        if r.name == "minimaria" and getattr(r, "fields", {}).get("event") == "decrypt_failed"
    ]


@pytest.mark.parametrize(
    "position", [0, 1, 2, 3, 14, 15, -1], ids=["format", "dek-version-hi", "dek-version-lo", "nonce", "nonce-end", "text", "tag"]
)
async def test_a_flipped_byte_makes_that_message_unreadable_and_only_that_one(
    server: Running, chat: Visitor, staff: Staff, caplog: pytest.LogCaptureFixture, position: int
) -> None:
    changed = bytearray(await body(server, chat.id, 2))
    changed[position] ^= 0x01
    await set_body(server, chat.id, 2, bytes(changed))

    expected = {**TEXTS, 2: None}
    assert readable(await replayed(chat)) == expected
    assert readable((await transcript(staff, chat.id))["messages"]) == expected
    logged = failures(caplog)
    assert logged and all(f == {"event": "decrypt_failed", "conversation_id": chat.id, "seq": 2, "reason": "message"}
                          for f in logged)
    assert all(r.levelno == logging.ERROR for r in caplog.records if getattr(r, "fields", {}).get("event") == "decrypt_failed")


async def test_staff_socket_replay_shows_the_same_unreadable_record(server: Running, chat: Visitor, staff: Staff) -> None:
    changed = bytearray(await body(server, chat.id, 3))
    changed[-5] ^= 0x80
    await set_body(server, chat.id, 3, bytes(changed))
    assert staff.ws is not None
    await staff.ws.close()
    await staff.connect(last_seq={chat.id: 0})
    frames = [await staff.ws.expect("msg", seq=n) for n in range(1, 5)]
    assert readable(frames) == {**TEXTS, 3: None}


async def test_a_body_copied_from_another_conversation_is_unreadable_there(
    server: Running, chat: Visitor, staff: Staff, caplog: pytest.LogCaptureFixture
) -> None:
    other = await Visitor.start(server.base)
    await other.connect()
    try:
        await _say_all(other, staff)
        # B's seq 1 gets A's seq 1: same seq, same sender, another conversation (and another data key).
        await set_body(server, other.id, 1, await body(server, chat.id, 1))

        assert readable(await replayed(other)) == {**TEXTS, 1: None}
        assert readable((await transcript(staff, other.id))["messages"]) == {**TEXTS, 1: None}
        assert readable(await replayed(chat)) == TEXTS  # the original is untouched
        assert {(f["conversation_id"], f["seq"]) for f in failures(caplog)} == {(other.id, 1)}
    finally:
        assert other.ws is not None
        await other.ws.close()


async def test_swapped_positions_make_both_messages_unreadable(server: Running, chat: Visitor, staff: Staff) -> None:
    first, second = await body(server, chat.id, 1), await body(server, chat.id, 2)
    await set_body(server, chat.id, 1, second)
    await set_body(server, chat.id, 2, first)

    expected = {**TEXTS, 1: None, 2: None}  # not "två", "ett": the seq is bound to the text
    assert readable(await replayed(chat)) == expected
    assert readable((await transcript(staff, chat.id))["messages"]) == expected


async def test_a_changed_sender_makes_the_message_unreadable(server: Running, chat: Visitor, staff: Staff) -> None:
    # Passing the visitor's words off as the counsellor's (or the reverse) is refused too.
    await sql(server, "UPDATE messages SET sender = 'staff' WHERE conversation_id = :c AND seq = 4", c=chat.id)
    assert readable((await transcript(staff, chat.id))["messages"]) == {**TEXTS, 4: None}


async def test_a_tampered_note_reads_as_null_in_the_transcript(
    server: Running, chat: Visitor, staff: Staff, caplog: pytest.LogCaptureFixture
) -> None:
    for words in ("första anteckningen", "andra anteckningen", "tredje anteckningen"):
        r = await staff.http.post(f"/api/v1/staff/conversations/{chat.id}/notes", json={"text": words})
        assert r.status_code == 201, r.text
    notes = (await sql(server, "SELECT id, body, created_at FROM notes WHERE conversation_id = :c ORDER BY id", c=chat.id)).all()
    assert len(notes) == 3
    changed = bytearray(notes[0].body)
    changed[len(changed) // 2] ^= 0x01
    await sql(server, "UPDATE notes SET body = :b WHERE id = :i", b=bytes(changed), i=notes[0].id)
    # The second note moved in time: its time is part of what the text is bound to.
    # (Through the table's column type, which reads and writes the time the same way on both databases.)
    n = Note.__table__  # type: ignore[attr-defined]
    async with server.ctx.engine.begin() as conn:
        when = (await conn.execute(select(n.c.created_at).where(n.c.id == notes[1].id))).scalar_one()
        await conn.execute(update(n).where(n.c.id == notes[1].id).values(created_at=when + timedelta(seconds=1)))

    got = await transcript(staff, chat.id)
    assert [n["text"] for n in got["notes"]] == [None, None, "tredje anteckningen"]
    assert readable(got["messages"]) == TEXTS  # the messages are not affected
    assert [f["reason"] for f in failures(caplog)] == ["note", "note"]
