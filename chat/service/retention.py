"""Retention: crypto-shredding conversations closed more than N days ago, in batches.

How long transcripts are kept is the clinic's decision (anonymous chats are not a patient journal); the
operator sets it with ``MINIMARIA_RETENTION_DAYS`` or ``minimaria retention run --days N``. Afterwards a
shredded conversation's texts are gone for every reader: its DEK and ciphertexts are deleted, and
transcript, socket and feedback answer ``deleted_by_retention``. Its content-free metadata stays for
statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from chat import logs
from chat.errors import BadInput, Code
from chat.service import audit, events
from chat.service.context import Context
from chat.store import conversations as conv_store
from chat.store import queue as queue_store
from chat.store import retention as store
from chat.store.db import flush_deleted
from chat.wire import State, StateChanged


async def run(
    ctx: Context, days: int, batch: int = 500, progress: Callable[[int], None] | None = None,
    always_audit: bool = False,
) -> int:
    """Shred every conversation closed more than ``days`` days ago and not yet shredded; returns how many.
    Then prune the audit log's own entries older than ``MINIMARIA_AUDIT_RETENTION_DAYS``.

    Each batch is one transaction. Shredded conversations' DEKs are dropped from this process's cache. A run
    that shredded something (or any run from the CLI, ``always_audit``) is an audit entry ``retention_run``
    with the count; a run of the server's hourly job that found nothing is not, so it does not bury the log.
    """
    if days < 0:
        raise BadInput(Code.INVALID, "The retention must be 0 days or more.")
    if batch < 1:
        raise BadInput(Code.INVALID, "The batch size must be at least 1.")
    now = ctx.clock()
    closed_before = now - timedelta(days=days)
    total = 0
    # Terminates: a selected id is either shredded or, having changed, no longer selected.
    while ids := await store.due(ctx.engine, closed_before, batch):
        done = await store.shred(ctx.engine, ids, closed_before, now)
        for cid in done:
            ctx.deks.drop(cid)
        total += len(done)
        if progress is not None and done:
            progress(total)
    if total:
        await flush_deleted(ctx.engine)
    if total or always_audit:
        await audit.record(ctx, None, "retention_run", target=str(total))
    await audit.prune(ctx, ctx.settings.audit_retention_days)
    logs.event("retention_run", count=total)
    return total


async def close_idle(ctx: Context, days: int) -> int:
    """Close open conversations nobody has written in for ``days`` days (outcome ``no_contact``), so a
    visitor who left, or a chat nobody closed, still reaches the retention period instead of being
    kept for ever."""
    now = ctx.clock()
    total = 0
    while ids := await queue_store.idle(ctx.engine, now - timedelta(days=days)):
        for cid in ids:
            if await conv_store.close(ctx.engine, cid, "no_contact", now, None):
                total += 1
                await audit.record(ctx, None, "closed", cid, target="no_contact")
                await events.to_conversation(ctx, cid, StateChanged(cid, State.CLOSED, None))
    if total:
        await events.queue_changed(ctx)
    logs.event("idle_closed", count=total)
    return total
