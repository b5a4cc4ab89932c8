"""Sequence numbers under concurrency: two instances (two engines, two connection pools) writing to one
conversation at once get every seq exactly once, with no gap, and resends are idempotent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from chat.store import conversations as store
from chat.store import queue as queue_store
from chat.store.db import create_engine
from tests.client import Visitor
from tests.conftest import Running


def plain(text: str) -> Callable[[int], bytes]:
    """The store stores whatever the service sealed; these tests seal nothing, to look at order only."""
    return lambda _seq: text.encode()


async def test_two_instances_writing_at_once_never_duplicate_or_skip_a_seq(server: Running) -> None:
    v = await Visitor.start(server.base)
    other_instance = create_engine(server.settings.database_url)
    engines = [server.ctx.engine, other_instance]
    now = datetime.now(UTC)

    async def write(n: int) -> int:
        record, created = await store.append(
            engines[n % 2], conversation_id=v.id, sender="visitor", seal=plain(f"m{n}"), client_msg_id=f"c{n}", now=now
        )
        assert created
        return record.seq

    try:
        seqs = await asyncio.gather(*(write(n) for n in range(60)))
    finally:
        await other_instance.dispose()
    assert sorted(seqs) == list(range(1, 61))
    stored = await store.after(server.ctx.engine, v.id, 0)
    assert [m.seq for m in stored] == list(range(1, 61))
    assert sorted(m.body.decode() for m in stored) == sorted(f"m{n}" for n in range(60))


async def test_racing_resends_of_one_message_store_it_once(server: Running) -> None:
    v = await Visitor.start(server.base)
    other_instance = create_engine(server.settings.database_url)
    now = datetime.now(UTC)

    async def send(engine: object) -> tuple[int, bool]:
        record, created = await store.append(
            engine, conversation_id=v.id, sender="visitor", seal=plain("hej"), client_msg_id="same", now=now  # type: ignore[arg-type]
        )
        return record.seq, created

    try:
        results = await asyncio.gather(*(send(e) for e in [server.ctx.engine, other_instance] * 4))
    finally:
        await other_instance.dispose()
    assert {seq for seq, _ in results} == {1}
    assert sum(created for _, created in results) == 1
    assert len(await store.after(server.ctx.engine, v.id, 0)) == 1


async def test_the_same_client_id_from_the_other_side_is_a_different_message(server: Running) -> None:
    v = await Visitor.start(server.base)
    now = datetime.now(UTC)
    from chat.service import accounts

    staff_id = await accounts.add_staff(server.ctx, "anna", "correct horse battery", ["reception"], ["reception"])
    assert await queue_store.claim(server.ctx.engine, v.id, staff_id, None, now)
    a, _ = await store.append(
        server.ctx.engine, conversation_id=v.id, sender="visitor", seal=plain("x"), client_msg_id="1", now=now
    )
    b, _ = await store.append(
        server.ctx.engine, conversation_id=v.id, sender="staff", seal=plain("y"), client_msg_id="1", now=now, staff_id=staff_id
    )
    assert (a.seq, b.seq) == (1, 2)
