"""Group commit of messages: concurrent posts share one transaction, one fsync, one multi-row insert.

Each queued message still gets exactly what ``conversations.append`` gives it (the next seq of its
conversation, idempotency on client_msg_id, the holder check for staff) and its caller is answered
only after the commit. A batch is one transaction of two statements: ``conversations.bump_many`` takes the
seqs of every conversation in the batch at once (on PostgreSQL locking the rows in id order first, so two
instances' batches cannot deadlock) and one executemany INSERT stores the messages. The whole transaction
runs in one call: on an SQLite file in the writer's own thread, on its own synchronous connection (one thread
hop per batch instead of four per statement through aiosqlite); on PostgreSQL as one ``run_sync`` on an
async connection (BEGIN, the two statements, COMMIT). A conversation that does not qualify (closed, or not
held by the staff member who writes) is left out of the batch and its messages are answered one by one by
``conversations.append`` after the commit. A resend (its client_msg_id is stored already) rolls the batch back
and it is written again with the batch's client_msg_ids looked up first: resends, and a second copy within
the batch, are answered with the first copy. Anything still in conflict then (another instance stored the same
message meanwhile) goes through ``conversations.append`` one by one, which answers each message exactly. So
does a message that fails for a reason of its own (it cannot be sealed, say): it fails alone and the others
are stored. Only an error of the database itself (it is away) fails the whole batch at once, so nothing waits
on a dead server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from chat import logs
from chat.metrics import Metrics
from chat.store import conversations, db
from chat.store.conversations import MessageRecord

MAX_BATCH = 128


class _Irregular(Exception):
    """Something in the batch needs the exact one-by-one path."""


@dataclass
class _Pending:
    conversation_id: str
    sender: str
    seal: conversations.Seal
    client_msg_id: str | None
    now: datetime
    staff_id: int | None
    author: str | None
    future: asyncio.Future[tuple[MessageRecord, bool]] = field(repr=False)


@dataclass(frozen=True)
class _Written:
    records: dict[int, MessageRecord]  # batch index -> what was stored, committed
    refused: list[int]  # batch indexes whose conversation did not qualify: answered one by one
    resent: dict[int, MessageRecord] = field(default_factory=dict)  # batch index -> its first copy


def _write_batch(conn: Connection, batch: Sequence[_Pending], resends: bool = False) -> _Written:
    """The whole batch on one synchronous connection inside the caller's transaction: the seqs of all its
    conversations in one statement, then each message sealed with its seq, then one executemany INSERT.
    ``resends``: first look the batch's client_msg_ids up (one statement) and answer the ones already stored,
    and a second copy within the batch, with the first copy instead of storing them again."""
    resent: dict[int, MessageRecord] = {}
    copy_of: dict[int, int] = {}  # batch index -> index of the first copy in this batch
    keep: Sequence[int] = range(len(batch))
    if resends:
        keys = {(p.conversation_id, p.sender, p.client_msg_id): i for i, p in reversed(list(enumerate(batch)))
                if p.client_msg_id is not None}
        stored = conversations.stored_by_client_id(conn, list(keys))
        for i, p in enumerate(batch):
            if p.client_msg_id is None:
                continue
            key = (p.conversation_id, p.sender, p.client_msg_id)
            if key in stored:
                resent[i] = stored[key]
            elif keys[key] != i:
                copy_of[i] = keys[key]
        keep = [i for i in range(len(batch)) if i not in resent and i not in copy_of]
    members: dict[str, list[int]] = {}
    for i in keep:
        members.setdefault(batch[i].conversation_id, []).append(i)
    wants: list[conversations.SeqWant] = []
    refused: list[int] = []
    for cid, idx in members.items():
        staff_ids = {batch[i].staff_id for i in idx if batch[i].sender == "staff"}
        if len(staff_ids) > 1 or None in staff_ids:  # two staff members cannot both hold it: let append answer
            refused.extend(idx)
        else:
            wants.append(conversations.SeqWant(cid, len(idx), next(iter(staff_ids), None)))
    # last_activity_at: the batch's latest time for every conversation in it (they are milliseconds apart).
    lasts = conversations.bump_many(conn, wants, max(p.now for p in batch)) if wants else {}
    records: dict[int, MessageRecord] = {}
    rows: list[dict[str, Any]] = []
    for w in wants:
        last = lasts.get(w.conversation_id)
        if last is None:
            refused.extend(members[w.conversation_id])
            continue
        for offset, i in enumerate(members[w.conversation_id]):  # arrival order within the conversation
            p, seq = batch[i], last - w.n + 1 + offset
            body = p.seal(seq)
            records[i] = MessageRecord(p.conversation_id, seq, p.sender, p.author, p.client_msg_id, body, p.now)
            rows.append({
                "conversation_id": p.conversation_id, "seq": seq, "sender": p.sender, "staff_id": p.staff_id,
                "author": p.author, "client_msg_id": p.client_msg_id, "body": body, "created_at": p.now,
            })
    if rows:
        try:
            conn.execute(conversations.INSERT_MESSAGE, rows)
        except IntegrityError:
            raise _Irregular from None
    for i, first in copy_of.items():
        if first in records:
            resent[i] = records[first]
        else:  # the first copy was refused: this one is answered one by one after it
            refused.append(i)
    return _Written(records, sorted(refused), resent)


class MessageWriter:
    def __init__(self, engine: AsyncEngine, workers: int = 1, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.workers = workers
        self.metrics = metrics or Metrics()
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: set[asyncio.Future[tuple[MessageRecord, bool]]] = set()
        # An SQLite file: the writer's own connection, used only from its own thread, so its batches commit one
        # after the other in the order they were taken, however many workers take them (two: one commits while
        # the next waits behind it). In memory (a second connection would see another database) and on
        # PostgreSQL: the async engine.
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        if db.is_sqlite_file(self.engine.url):
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="message-writer-db")
            self._sync = db.create_sync_sqlite_engine(self.engine.url)
        self._tasks = [asyncio.create_task(self._work(), name=f"message-writer-{n}") for n in range(self.workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []  # from now on append() writes directly instead of queueing to nobody
        stopping = ConnectionError("the server is stopping")
        # A batch cut off in flight may or may not have been committed: its senders are told it failed and
        # resend after reconnecting, which is idempotent on client_msg_id.
        for future in self._in_flight:
            if not future.done():
                future.set_exception(stopping)
        self._in_flight.clear()
        while not self._queue.empty():  # nobody is left to write these: say so rather than hang
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(stopping)
        if self._thread is not None and self._sync is not None:
            thread, sync, self._thread, self._sync = self._thread, self._sync, None, None
            await asyncio.get_running_loop().run_in_executor(thread, sync.dispose)  # its connection, in its thread
            thread.shutdown(wait=False)

    async def append(
        self, *, conversation_id: str, sender: str, seal: conversations.Seal, client_msg_id: str | None, now: datetime,
        staff_id: int | None = None, author: str | None = None,
    ) -> tuple[MessageRecord, bool]:
        """As ``conversations.append``, answered after the commit of the batch it joined."""
        if not self._tasks:
            result = await conversations.append(
                self.engine, conversation_id=conversation_id, sender=sender, seal=seal, client_msg_id=client_msg_id,
                now=now, staff_id=staff_id, author=author,
            )
            if result[1]:
                self.metrics.messages_stored.inc()
            return result
        future: asyncio.Future[tuple[MessageRecord, bool]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(conversation_id, sender, seal, client_msg_id, now, staff_id, author, future))
        return await future

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._in_flight.update(p.future for p in batch)
            try:
                await self._write(batch)
            finally:
                self._in_flight.difference_update(p.future for p in batch)

    async def _write(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            try:
                written = await self._commit(batch)
            except _Irregular:  # a resend: the batch again, resends looked up first (one statement more)
                written = await self._commit(batch, resends=True)
        except _Irregular:  # still a conflict (another instance stored the same message meanwhile)
            await self._one_by_one(batch)
            return
        except (SQLAlchemyError, OSError, TimeoutError) as err:  # the database is away: all fail, nothing hangs
            logs.event("message_batch_failed", count=len(batch), error=type(err).__name__)
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(err)
            return
        except Exception as err:  # one message could not be sealed or written: it alone must fail
            logs.event("message_batch_isolated", count=len(batch), error=type(err).__name__)
            await self._one_by_one(batch)
            return
        self.metrics.db_latency.observe(time.perf_counter() - started)  # one group commit, once per batch
        self.metrics.messages_stored.inc(len(written.records))
        for i, record in written.records.items():
            if not batch[i].future.done():
                batch[i].future.set_result((record, True))
        for i, record in written.resent.items():
            if not batch[i].future.done():
                batch[i].future.set_result((record, False))
        if written.refused:
            await self._one_by_one([batch[i] for i in written.refused])

    async def _commit(self, batch: list[_Pending], resends: bool = False) -> _Written:
        if self._sync is not None and self._thread is not None:
            sync = self._sync

            def transaction() -> _Written:
                with sync.begin() as conn:
                    return _write_batch(conn, batch, resends)

            return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)
        async with self.engine.begin() as conn:
            return await conn.run_sync(_write_batch, batch, resends)

    async def _one_by_one(self, batch: list[_Pending]) -> None:
        for p in batch:
            try:
                result = await conversations.append(
                    self.engine, conversation_id=p.conversation_id, sender=p.sender, seal=p.seal,
                    client_msg_id=p.client_msg_id, now=p.now, staff_id=p.staff_id, author=p.author,
                )
            except Exception as err:
                if not p.future.done():
                    p.future.set_exception(err)
            else:
                if result[1]:
                    self.metrics.messages_stored.inc()
                if not p.future.done():
                    p.future.set_result(result)
