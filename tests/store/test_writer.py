"""Group commit: a batch answers each message exactly as one-by-one writes would, including the
irregular ones (resends, closed conversations, staff who do not hold the conversation)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from chat.service import accounts
from chat.store import conversations as store
from chat.store.conversations import PostRefused
from chat.store.writer import MessageWriter
from tests.client import Visitor
from tests.conftest import Running


def plain(text: str) -> Callable[[int], bytes]:
    """The store stores whatever the service sealed; these tests seal nothing, to look at order only."""
    return lambda _seq: text.encode()


@pytest.fixture
async def writer(server: Running) -> MessageWriter:
    return server.ctx.writer


async def test_concurrent_posts_to_many_conversations_get_consecutive_seqs(server: Running, writer: MessageWriter) -> None:
    visitors = [await Visitor.start(server.base) for _ in range(5)]
    now = datetime.now(UTC)
    results = await asyncio.gather(*(
        writer.append(conversation_id=v.id, sender="visitor", seal=plain(f"{v.id}:{i}"), client_msg_id=f"c{i}", now=now)
        for i in range(20) for v in visitors
    ))
    assert all(created for _, created in results)
    for v in visitors:
        stored = await store.after(server.ctx.engine, v.id, 0)
        assert [m.seq for m in stored] == list(range(1, 21))
        assert [m.body.decode() for m in stored] == [f"{v.id}:{i}" for i in range(20)]  # arrival order kept


async def test_a_batch_with_resends_and_refusals_answers_each_exactly(server: Running, writer: MessageWriter) -> None:
    open_, closed, unheld = [await Visitor.start(server.base) for _ in range(3)]
    now = datetime.now(UTC)
    staff_id = await accounts.add_staff(server.ctx, "anna", "correct horse battery", ["reception"], ["reception"])
    first, _ = await writer.append(conversation_id=open_.id, sender="visitor", seal=plain("först"), client_msg_id="dup", now=now)
    await store.close(server.ctx.engine, closed.id, "no_contact", now, None)

    outcomes = await asyncio.gather(
        writer.append(conversation_id=open_.id, sender="visitor", seal=plain("först"), client_msg_id="dup", now=now),
        writer.append(conversation_id=open_.id, sender="visitor", seal=plain("ny"), client_msg_id="new", now=now),
        writer.append(conversation_id=closed.id, sender="visitor", seal=plain("sent"), client_msg_id="x", now=now),
        writer.append(
            conversation_id=unheld.id, sender="staff", seal=plain("hej"), client_msg_id="s", now=now, staff_id=staff_id
        ),
        writer.append(conversation_id=open_.id, sender="visitor", seal=plain("race"), client_msg_id="race", now=now),
        writer.append(conversation_id=open_.id, sender="visitor", seal=plain("race"), client_msg_id="race", now=now),
        return_exceptions=True,
    )
    resend, new, to_closed, to_unheld, race_a, race_b = outcomes
    assert resend == (first, False)
    assert isinstance(new, tuple) and new[1] is True
    assert isinstance(to_closed, PostRefused) and isinstance(to_unheld, PostRefused)
    assert isinstance(race_a, tuple) and isinstance(race_b, tuple)
    assert race_a[0].seq == race_b[0].seq and {race_a[1], race_b[1]} == {True, False}
    stored = await store.after(server.ctx.engine, open_.id, 0)
    assert [m.seq for m in stored] == [1, 2, 3] and sorted(m.body.decode() for m in stored) == ["först", "ny", "race"]
    assert await store.after(server.ctx.engine, closed.id, 0) == []


async def test_a_stopped_writer_refuses_instead_of_hanging(server: Running) -> None:
    v = await Visitor.start(server.base)
    writer = MessageWriter(server.ctx.engine)
    await writer.start()
    await writer.stop()
    # Stopped (no workers): it writes directly, still durable and still answered.
    record, created = await writer.append(
        conversation_id=v.id, sender="visitor", seal=plain("hej"), client_msg_id="a", now=datetime.now(UTC)
    )
    assert created and record.seq == 1


async def test_a_message_that_fails_on_its_own_fails_alone_and_its_batch_is_stored(
    server: Running, writer: MessageWriter
) -> None:
    """One message whose sealing raises (as a lone surrogate once did: UnicodeEncodeError) joins a batch of 40
    others: it alone gets the error; every other message is stored with its seq, in order."""
    visitors = [await Visitor.start(server.base) for _ in range(4)]
    now = datetime.now(UTC)

    def broken(_seq: int) -> bytes:
        return "bad \ud800 text".encode()  # raises UnicodeEncodeError

    calls = [
        writer.append(conversation_id=v.id, sender="visitor", seal=plain(f"{v.id}:{i}"), client_msg_id=f"c{i}", now=now)
        for i in range(10) for v in visitors
    ]
    calls.insert(17, writer.append(conversation_id=visitors[1].id, sender="visitor", seal=broken, client_msg_id="bad",
                                   now=now))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], UnicodeEncodeError)
    for v in visitors:
        stored = await store.after(server.ctx.engine, v.id, 0)
        assert [m.body.decode() for m in stored] == [f"{v.id}:{i}" for i in range(10)]
        assert [m.seq for m in stored] == list(range(1, 11))
