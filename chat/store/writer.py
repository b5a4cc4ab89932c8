"""Group commit of messages: concurrent posts share one transaction, one fsync, one multi-row insert.

Each queued message still gets exactly what ``conversations.append`` gives it (the next seq of its
conversation, idempotency on client_msg_id, the holder check for staff) and its caller is answered
only after the commit. A batch takes one ``UPDATE … last_seq = last_seq + n … RETURNING`` per
conversation (in id order, so two instances' batches lock rows in the same order and cannot deadlock)
and one executemany INSERT. Anything unusual in a batch — a resend, a closed conversation, a staff
member who does not hold it, a conflict with another instance — rolls the batch back and its messages
go through ``conversations.append`` one by one, which answers each of them exactly. So does a message that
fails for a reason of its own (it cannot be sealed, say): it fails alone and the others are stored. Only an
error of the database itself (it is away) fails the whole batch at once, so nothing waits on a dead server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from chat import logs
from chat.metrics import Metrics
from chat.store import conversations
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


class MessageWriter:
    def __init__(self, engine: AsyncEngine, workers: int = 1, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.workers = workers
        self.metrics = metrics or Metrics()
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"message-writer-{n}") for n in range(self.workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []  # from now on append() writes directly instead of queueing to nobody
        while not self._queue.empty():  # nobody is left to write these: say so rather than hang
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(ConnectionError("the server is stopping"))

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
            started = time.perf_counter()
            try:
                results = await self._commit(batch)
            except _Irregular:
                await self._one_by_one(batch)
                continue
            except (SQLAlchemyError, OSError, TimeoutError) as err:  # the database is away: all fail, nothing hangs
                logs.event("message_batch_failed", count=len(batch), error=type(err).__name__)
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(err)
                continue
            except Exception as err:  # one message could not be sealed or written: it alone must fail
                logs.event("message_batch_isolated", count=len(batch), error=type(err).__name__)
                await self._one_by_one(batch)
                continue
            self.metrics.db_latency.observe(time.perf_counter() - started)  # one group commit, once per batch
            self.metrics.messages_stored.inc(len(batch))
            for p, record in zip(batch, results, strict=True):
                if not p.future.done():
                    p.future.set_result((record, True))

    async def _commit(self, batch: list[_Pending]) -> list[MessageRecord]:
        groups: dict[tuple[str, str, int | None], list[int]] = {}
        for i, p in enumerate(batch):
            groups.setdefault((p.conversation_id, p.sender, p.staff_id), []).append(i)
        seqs: list[int] = [0] * len(batch)
        bodies: list[bytes] = []
        rows: list[dict[str, Any]] = []
        async with self.engine.begin() as conn:
            for (cid, sender, sid), members in sorted(groups.items(), key=lambda kv: kv[0][0]):
                stmt = conversations.BUMP_STAFF if sender == "staff" else conversations.BUMP_VISITOR
                params: dict[str, Any] = {"cid": cid, "n": len(members), "now": batch[members[-1]].now}
                if sender == "staff":
                    params["sid"] = sid
                last = (await conn.execute(stmt, params)).scalar_one_or_none()
                if last is None:
                    raise _Irregular
                for offset, i in enumerate(members):
                    seqs[i] = last - len(members) + 1 + offset
            for i, p in enumerate(batch):
                bodies.append(p.seal(seqs[i]))
                rows.append({
                    "conversation_id": p.conversation_id, "seq": seqs[i], "sender": p.sender, "staff_id": p.staff_id,
                    "author": p.author, "client_msg_id": p.client_msg_id, "body": bodies[i], "created_at": p.now,
                })
            try:
                await conn.execute(conversations.INSERT_MESSAGE, rows)
            except IntegrityError:
                raise _Irregular from None
        return [
            MessageRecord(p.conversation_id, seqs[i], p.sender, p.author, p.client_msg_id, bodies[i], p.now)
            for i, p in enumerate(batch)
        ]

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
