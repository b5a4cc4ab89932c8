"""Group commit: a batch answers each message exactly as one-by-one writes would, including the
irregular ones (resends, closed conversations, staff who do not hold the conversation), on SQLite (the whole
batch on the writer's own connection in its own thread) and on PostgreSQL (one statement for the seqs of a
batch, rows locked in id order), also with two instances writing to the same conversations at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from chat.service import accounts
from chat.store import conversations as store
from chat.store import queue as queue_store
from chat.store.conversations import PostRefused
from chat.store.db import create_engine
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


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_batches_taken_by_two_workers_keep_the_order_messages_arrived_in(server: Running) -> None:
    """On SQLite two workers share the writer's one thread (one batch commits while the next waits behind it):
    messages that arrive while a batch is being written go into later batches, and still get their seqs in
    arrival order. (On PostgreSQL concurrent batches of one conversation are ordered by its row lock, which
    either may take first; a socket has one message in flight at a time.)"""
    v = await Visitor.start(server.base)
    w = MessageWriter(server.ctx.engine, workers=2)
    await w.start()
    now = datetime.now(UTC)
    sends = []
    try:
        for i in range(60):
            sends.append(asyncio.ensure_future(
                w.append(conversation_id=v.id, sender="visitor", seal=plain(f"m{i}"), client_msg_id=f"m{i}", now=now)
            ))
            if i % 3 == 2:
                await asyncio.sleep(0)  # let a worker take what has arrived so far: many small batches
        results = await asyncio.gather(*sends)
    finally:
        await w.stop()
    assert [r.seq for r, _ in results] == list(range(1, 61))
    assert [m.body.decode() for m in await store.after(server.ctx.engine, v.id, 0)] == [f"m{i}" for i in range(60)]

async def test_a_batch_with_a_closed_conversation_refuses_it_and_stores_the_others(
    server: Running, writer: MessageWriter
) -> None:
    """The closed conversation is left out of the batch's one UPDATE; the others keep their seqs in that batch."""
    visitors = [await Visitor.start(server.base) for _ in range(4)]
    closed = visitors[2]
    now = datetime.now(UTC)
    await store.close(server.ctx.engine, closed.id, "no_contact", now, None)
    outcomes = await asyncio.gather(
        *(
            writer.append(conversation_id=v.id, sender="visitor", seal=plain(f"{v.id}:{i}"), client_msg_id=f"c{i}", now=now)
            for i in range(5) for v in visitors
        ),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 5 and all(isinstance(o, PostRefused) for o in refused)
    assert await store.after(server.ctx.engine, closed.id, 0) == []
    assert (await store.get(server.ctx.engine, closed.id)).last_seq == 0  # type: ignore[union-attr]
    for v in visitors:
        if v is not closed:
            stored = await store.after(server.ctx.engine, v.id, 0)
            assert [(m.seq, m.body.decode()) for m in stored] == [(i + 1, f"{v.id}:{i}") for i in range(5)]


async def test_a_batch_with_a_resend_in_it_answers_it_with_the_first_copy(server: Running, writer: MessageWriter) -> None:
    """A resend among new messages (after a reconnect): its first copy comes back, not created; every new message
    is stored once, with consecutive seqs."""
    a, b = [await Visitor.start(server.base) for _ in range(2)]
    now = datetime.now(UTC)
    first, created = await writer.append(conversation_id=a.id, sender="visitor", seal=plain("a0"), client_msg_id="a0", now=now)
    assert created and first.seq == 1
    outcomes = await asyncio.gather(
        writer.append(conversation_id=b.id, sender="visitor", seal=plain("b0"), client_msg_id="b0", now=now),
        writer.append(conversation_id=a.id, sender="visitor", seal=plain("a1"), client_msg_id="a1", now=now),
        writer.append(conversation_id=a.id, sender="visitor", seal=plain("a0 again"), client_msg_id="a0", now=now),
        writer.append(conversation_id=b.id, sender="visitor", seal=plain("b1"), client_msg_id="b1", now=now),
    )
    assert outcomes[2] == (first, False)
    assert [created for _, created in outcomes] == [True, True, False, True]
    assert [m.body.decode() for m in await store.after(server.ctx.engine, a.id, 0)] == ["a0", "a1"]
    assert [(m.seq, m.body.decode()) for m in await store.after(server.ctx.engine, b.id, 0)] == [(1, "b0"), (2, "b1")]


async def test_visitor_and_staff_messages_of_one_conversation_share_a_batch_in_arrival_order(
    server: Running, writer: MessageWriter
) -> None:
    v = await Visitor.start(server.base)
    now = datetime.now(UTC)
    staff_id = await accounts.add_staff(server.ctx, "anna", "correct horse battery", ["reception"], ["reception"])
    assert await queue_store.claim(server.ctx.engine, v.id, staff_id, None, now)
    sends = []
    for i in range(10):
        if i % 3 == 1:
            sends.append(writer.append(
                conversation_id=v.id, sender="staff", seal=plain(f"s{i}"), client_msg_id=f"{i}", now=now, staff_id=staff_id,
                author="Anna",
            ))
        else:
            sends.append(
                writer.append(conversation_id=v.id, sender="visitor", seal=plain(f"v{i}"), client_msg_id=f"{i}", now=now)
            )
    outcomes = await asyncio.gather(*sends)
    assert [r.seq for r, _ in outcomes] == list(range(1, 11))
    stored = await store.after(server.ctx.engine, v.id, 0)
    assert [m.body.decode() for m in stored] == [f"{'s' if i % 3 == 1 else 'v'}{i}" for i in range(10)]
    assert [m.author for m in stored if m.sender == "staff"] == ["Anna"] * 3


async def test_two_instances_batching_into_the_same_conversations_never_duplicate_a_seq_nor_deadlock(
    server: Running, writer: MessageWriter
) -> None:
    """A second instance (its own engine and writer, several batches in flight on PostgreSQL) writes to the same
    conversations as this one, each side visiting them in the opposite order: every message is stored once,
    each conversation's seqs are 1..n without a gap, and no batch fails (on a deadlock PostgreSQL would abort one
    side's transaction, failing its whole batch). The lock order itself is pinned down in
    test_a_batch_locks_its_conversations_in_id_order."""
    visitors = [await Visitor.start(server.base) for _ in range(8)]
    other_engine = create_engine(server.settings.database_url)
    other = MessageWriter(other_engine, workers=1 if server.settings.is_sqlite else 4)
    await other.start()
    now = datetime.now(UTC)
    rounds = 25

    async def send(w: MessageWriter, name: str, order: list[Visitor]) -> list[tuple[int, bool]]:
        out = []
        for r in range(rounds):  # each round: one message to each conversation at once, one batch or a few
            results = await asyncio.gather(*(
                w.append(conversation_id=v.id, sender="visitor", seal=plain(f"{name}{r}"), client_msg_id=f"{name}{r}", now=now)
                for v in order
            ))
            out += [(rec.seq, created) for rec, created in results]
        return out

    try:
        async with asyncio.timeout(60):
            mine, theirs = await asyncio.gather(send(writer, "a", visitors), send(other, "b", visitors[::-1]))
    finally:
        await other.stop()
        await other_engine.dispose()
    assert all(created for _, created in mine + theirs)
    for v in visitors:
        stored = await store.after(server.ctx.engine, v.id, 0)
        assert [m.seq for m in stored] == list(range(1, 2 * rounds + 1))
        for name in "ab":  # each instance's messages once each, in the order it sent them
            assert [m.body.decode() for m in stored if m.body.startswith(name.encode())] == [f"{name}{r}" for r in range(rounds)]


async def test_a_writer_stopped_with_messages_in_flight_answers_every_one(server: Running) -> None:
    """Stopping cuts a batch off: every caller still gets an answer (stored, or told the server is stopping),
    and what a caller was told is stored is in the store."""
    visitors = [await Visitor.start(server.base) for _ in range(5)]
    w = MessageWriter(server.ctx.engine)
    await w.start()
    now = datetime.now(UTC)
    sends = [
        asyncio.ensure_future(
            w.append(conversation_id=v.id, sender="visitor", seal=plain(f"{i}"), client_msg_id=f"c{i}", now=now)
        )
        for i in range(40) for v in visitors
    ]
    await asyncio.sleep(0)  # let the worker take its first batch
    await w.stop()
    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
    assert all(isinstance(o, tuple | ConnectionError) for o in outcomes)
    for v in visitors:
        stored = {m.seq for m in await store.after(server.ctx.engine, v.id, 0)}
        acked = {o[0].seq for o in outcomes if isinstance(o, tuple) and o[0].conversation_id == v.id}
        assert acked <= stored


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_an_in_memory_sqlite_database_keeps_the_async_path(backend: str) -> None:
    """A second connection to ``:memory:`` would open another, empty database: the writer must not open its own
    synchronous connection there, and still stores through the async engine. (chat.store.db.create_engine does not
    take ``:memory:``; an engine from SQLAlchemy's own does.)"""
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
        now = datetime.now(UTC)
        await store.create(
            engine, id="c1", state="queued", role="young", team="reception", priority=0, language="sv",
            visitor_token_hash="t", return_code_hash="r", token_expires_at=now, created_at=now,
        )
        w = MessageWriter(engine)
        await w.start()
        try:
            results = await asyncio.gather(*(
                w.append(conversation_id="c1", sender="visitor", seal=plain(f"m{i}"), client_msg_id=f"m{i}", now=now)
                for i in range(5)
            ))
        finally:
            await w.stop()
        assert [r.seq for r, _ in results] == [1, 2, 3, 4, 5]
        assert [m.body for m in await store.after(engine, "c1", 0)] == [f"m{i}".encode() for i in range(5)]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_batch_locks_its_conversations_in_id_order(server: Running) -> None:
    """Whatever order a batch lists its conversations in, it locks their rows in id order, as every other batch
    does, so two instances' batches cannot each hold a row the other waits for. Shown directly: while another
    transaction holds the lower id, a batch listing the higher id first waits for the lower one without having
    locked the higher one (a third connection can still lock it at once)."""
    a, b = [await Visitor.start(server.base) for _ in range(2)]
    low, high = sorted([a.id, b.id])
    engine, now = server.ctx.engine, datetime.now(UTC)
    wants = [store.SeqWant(high, 1, None), store.SeqWant(low, 1, None)]
    async with engine.connect() as holder, engine.connect() as batch, engine.connect() as probe:
        await holder.execute(update(store.C).where(store.C.c.id == low).values(last_activity_at=now))  # holds low
        pid = (await batch.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        taking = asyncio.create_task(batch.run_sync(store.bump_many, wants, now))

        async def waits_for_a_lock() -> bool:
            query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
            return (await probe.execute(query, {"pid": pid})).scalar_one_or_none() == "Lock"

        try:
            async with asyncio.timeout(5):
                while not await waits_for_a_lock():  # noqa: ASYNC110 (a state of another server process: no event)
                    await asyncio.sleep(0.02)
            await probe.commit()
            nowait = text("SELECT id FROM conversations WHERE id = :id FOR UPDATE NOWAIT")
            try:
                high_was_free = (await probe.execute(nowait, {"id": high})).scalar_one() == high
            except DBAPIError:  # LockNotAvailable: the batch took the higher id first
                high_was_free = False
            await probe.rollback()
        finally:
            await holder.rollback()
            async with asyncio.timeout(5):
                taken = await taking
        assert high_was_free
        assert taken == {low: 1, high: 1}
        await batch.commit()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_database_that_is_away_fails_the_whole_batch_at_once(server: Running) -> None:
    """Nothing listens where the database should be: every message of the batch gets the database's error
    promptly (nothing waits on a dead server, nothing is answered as stored), and the writer goes on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nowhere")
    w = MessageWriter(engine, workers=4)
    await w.start()
    now = datetime.now(UTC)
    try:
        async with asyncio.timeout(15):
            for _ in range(2):  # a second batch after the first failed: the workers are still there
                outcomes = await asyncio.gather(
                    *(
                        w.append(conversation_id=f"c{i}", sender="visitor", seal=plain("x"), client_msg_id=f"m{i}", now=now)
                        for i in range(10)
                    ),
                    return_exceptions=True,
                )
                assert all(isinstance(o, SQLAlchemyError | OSError) for o in outcomes), outcomes
    finally:
        await w.stop()
        await engine.dispose()


async def test_a_batch_full_of_resends_is_answered_in_one_more_transaction_not_one_by_one(server: Running) -> None:
    """After a reconnect a client resends what it had not seen acked: a batch of 20 resends and 20 new messages
    answers the resends with their first copies and stores the new ones with consecutive seqs, in a second
    attempt of the batch (resends looked up first), not in forty transactions one by one."""
    visitors = [await Visitor.start(server.base) for _ in range(4)]
    w = MessageWriter(server.ctx.engine)
    await w.start()
    now = datetime.now(UTC)
    try:
        first = await asyncio.gather(*(
            w.append(conversation_id=v.id, sender="visitor", seal=plain(f"{i}"), client_msg_id=f"c{i}", now=now)
            for i in range(5) for v in visitors
        ))
        commits: list[object] = []

        def count(conn: object) -> None:
            commits.append(conn)

        engines = [server.ctx.engine.sync_engine, *([w._sync] if w._sync is not None else [])]
        for e in engines:
            event.listen(e, "commit", count)
        try:
            again = await asyncio.gather(*(
                w.append(conversation_id=v.id, sender="visitor", seal=plain(f"{i}"), client_msg_id=f"c{i}", now=now)
                for i in range(10) for v in visitors
            ))
        finally:
            for e in engines:
                event.remove(e, "commit", count)
    finally:
        await w.stop()
    assert [created for _, created in again] == [False] * 20 + [True] * 20
    assert [record for record, _ in again[:20]] == [record for record, _ in first]
    assert len(commits) == 1
    for v in visitors:
        stored = await store.after(server.ctx.engine, v.id, 0)
        assert [(m.seq, m.body.decode()) for m in stored] == [(i + 1, f"{i}") for i in range(10)]
