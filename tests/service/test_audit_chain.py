"""chat/service/audit.py and chat/store/audit.py: the hash-chained audit log — appends that never fork the
chain, whatever the concurrency, and a check (also `minimaria audit verify`) that names the first broken link
after an entry is edited, deleted or reordered; pruning by the log's own retention keeps it verifiable."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from chat.service import accounts, audit
from chat.store import audit as audit_store
from chat.store.db import create_engine
from chat.store.migrate import config, upgrade
from tests import cli
from tests.conftest import Running, serve

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _append(server: Running, n: int, start: datetime = T0) -> None:
    for i in range(n):
        await audit_store.append_entry(server.ctx.engine, None, "claimed", f"conv-{i}", start + timedelta(minutes=i),
                                       target=f"t{i}")


async def _sql(server: Running, *statements: str) -> None:
    async with server.ctx.engine.begin() as conn:
        for s in statements:
            await conn.execute(text(s))


async def _verify_cli(server: Running) -> tuple[int, str]:
    done = await cli.run(cli.env_for(server.settings), "audit", "verify")
    return done.returncode, (done.stdout + done.stderr).strip()


async def test_a_hundred_concurrent_writers_on_two_instances_never_fork_the_chain(server: Running) -> None:
    other = create_engine(server.settings.database_url)  # a second instance: its own engine and connections
    try:
        engines = [server.ctx.engine, other]
        await asyncio.gather(*(
            audit_store.append_entry(engines[i % 2], None, "notes_read", f"conv-{i}", T0 + timedelta(seconds=i),
                                   target=str(i))
            for i in range(100)
        ))
    finally:
        await other.dispose()
    async with server.ctx.engine.connect() as conn:
        seqs = [r[0] for r in await conn.execute(text("SELECT seq FROM audit_log ORDER BY seq"))]
        forks = (await conn.execute(text("SELECT count(*) - count(DISTINCT prev_hash) FROM audit_log"))).scalar_one()
    assert seqs == list(range(1, 101))
    assert forks == 0
    verdict = await audit.verify(server.ctx.engine, chunk=7)  # several chunks, one straddling each link
    assert (verdict.ok, verdict.entries, verdict.head_seq) == (True, 100, 100)
    assert await _verify_cli(server) == (0, "minimaria: audit chain intact: 100 entries, head at seq 100")


@pytest.mark.parametrize(("change", "problem"), [
    ("UPDATE audit_log SET staff_id = (SELECT max(id) FROM staff) WHERE seq = 4", "entry was altered"),  # who
    ("UPDATE audit_log SET at = at + interval '1 hour' WHERE seq = 4", "entry was altered"),  # when
    ("UPDATE audit_log SET conversation_id = 'conv-9' WHERE seq = 4", "entry was altered"),  # which
])
async def test_an_edited_entry_is_the_first_broken_link(server: Running, change: str, problem: str) -> None:
    await accounts.add_staff(server.ctx, "mallory", "correct horse battery", ["reception"], ["reception"], "M")
    await _append(server, 8)
    if server.settings.is_sqlite:
        change = change.replace("at + interval '1 hour'", "datetime(at, '+1 hour')")
    await _sql(server, change)

    verdict = await audit.verify(server.ctx.engine)
    assert verdict.first_broken is not None
    assert (verdict.ok, verdict.first_broken.seq, verdict.entries) == (False, 4, 3)
    assert verdict.summary().startswith(f"audit chain broken at seq 4: {problem}")


async def test_a_deleted_entry_is_named_as_missing(server: Running) -> None:
    await _append(server, 8)
    await _sql(server, "DELETE FROM audit_log WHERE seq = 5")

    code, out = await _verify_cli(server)
    assert (code, out) == (1, "minimaria: audit chain broken at seq 5: entries 5 are missing (deleted)")


async def test_deleting_the_newest_entries_is_found_by_the_head(server: Running) -> None:
    await _append(server, 8)
    await _sql(server, "DELETE FROM audit_log WHERE seq >= 7")

    verdict = await audit.verify(server.ctx.engine)
    assert verdict.first_broken is not None and verdict.first_broken.seq == 7
    assert "entries 7–8 are missing" in verdict.first_broken.problem


async def test_reordered_entries_break_the_link_where_the_order_changed(server: Running) -> None:
    await _append(server, 8)
    # Swap entries 3 and 4 (through a free seq: seq is unique).
    await _sql(server, "UPDATE audit_log SET seq = 1000 WHERE seq = 3", "UPDATE audit_log SET seq = 3 WHERE seq = 4",
               "UPDATE audit_log SET seq = 4 WHERE seq = 1000")

    code, out = await _verify_cli(server)
    assert code == 1 and out.startswith("minimaria: audit chain broken at seq 3: entry does not follow entry 2")


async def test_a_deleted_entry_with_the_chain_rehashed_from_there_still_shows_in_the_anchors(
    server: Running, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone who rewrites the chain after a deletion makes it verify again; the anchors in the log output
    keep the hashes it had, and no longer match."""
    monkeypatch.setattr(audit_store, "ANCHOR_EVERY", 4)
    with caplog.at_level(logging.INFO, logger="minimaria"):
        await _append(server, 8)
    anchors = [(r.fields["seq"], r.fields["hash"]) for r in caplog.records  # type: ignore[attr-defined]
               if getattr(r, "fields", {}).get("event") == "audit_anchor"]
    assert [s for s, _ in anchors] == [4, 8]
    head = await audit_store.head(server.ctx.engine)
    assert head is not None and (head.seq, head.hash) == anchors[-1]


async def test_pruning_the_oldest_entries_keeps_the_chain_verifiable_and_is_audited(server: Running) -> None:
    old = server.ctx.clock() - timedelta(days=4000)
    await _append(server, 5, start=old)  # older than the ten-year default
    await _append(server, 3, start=server.ctx.clock() - timedelta(days=10))

    assert await audit.prune(server.ctx, server.settings.audit_retention_days) == 5

    head = await audit_store.head(server.ctx.engine)
    assert head is not None and (head.genesis_seq, head.seq) == (5, 9)
    async with server.ctx.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT seq, action, target FROM audit_log ORDER BY seq"))).all()
    assert [tuple(r) for r in rows][-1] == (9, "audit_pruned", "5")
    assert [r[0] for r in rows] == [6, 7, 8, 9]
    assert await _verify_cli(server) == (0, "minimaria: audit chain intact: 4 entries, head at seq 9")
    # Still a chain: an entry edited after the prune is found.
    await _sql(server, "UPDATE audit_log SET action = 'closed' WHERE seq = 6")
    verdict = await audit.verify(server.ctx.engine)
    assert verdict.first_broken is not None and verdict.first_broken.seq == 6


async def test_a_retention_run_prunes_the_audit_log_and_is_audited(server: Running) -> None:
    from chat.service import retention

    await _append(server, 2, start=server.ctx.clock() - timedelta(days=4000))
    assert await retention.run(server.ctx, 30, always_audit=True) == 0
    async with server.ctx.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT action, target FROM audit_log ORDER BY seq"))).all()
    assert [tuple(r) for r in rows] == [("retention_run", "0"), ("audit_pruned", "2")]
    assert (await audit.verify(server.ctx.engine)).ok


def test_the_migration_chains_entries_written_before_it(tmp_path: Path) -> None:
    """A database from before migration 0012 with audit entries verifies after the upgrade, and new entries
    continue its chain."""
    db = tmp_path / "chat.db"
    url = f"sqlite+aiosqlite:///{db}"
    upgrade(url, "0010")
    shutil.copy(db, tmp_path / "before.db")

    async def old_entries() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                for i in range(3):
                    await conn.execute(text(
                        "INSERT INTO audit_log (at, staff_id, action, conversation_id, target, target_name) "
                        "VALUES (:at, NULL, 'transcript_read', :c, NULL, NULL)"
                    ), {"at": (T0 + timedelta(seconds=i)).replace(tzinfo=None), "c": f"conv-{i}"})
        finally:
            await engine.dispose()

    asyncio.run(old_entries())
    command.upgrade(config(url), "head")

    async def check() -> tuple[audit.Verdict, audit.Verdict]:
        engine = create_engine(url)
        try:
            before = await audit.verify(engine)
            await audit_store.append_entry(engine, None, "claimed", "conv-9", T0 + timedelta(hours=1))
            return before, await audit.verify(engine)
        finally:
            await engine.dispose()

    before, after = asyncio.run(check())
    assert (before.ok, before.entries, after.ok, after.entries) == (True, 3, True, 4)


async def test_the_server_anchors_the_chain_head_in_its_log_at_start_and_stop(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    await _append(server, 3)
    head = await audit_store.head(server.ctx.engine)
    assert head is not None
    with caplog.at_level(logging.INFO, logger="minimaria"):
        async with serve(server.settings):
            pass
    anchors = [(r.fields["reason"], r.fields["seq"], r.fields["hash"]) for r in caplog.records  # type: ignore[attr-defined]
               if getattr(r, "fields", {}).get("event") == "audit_anchor"]
    assert anchors == [("start", 3, head.hash), ("stop", 3, head.hash)]
