"""chat/service/keys.py: rotation, rewrap under live traffic, resuming a stopped rewrap, retiring a KEK."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from chat.crypto.envelope import DekCache
from chat.crypto.keyring import FileKeyRing
from chat.errors import NotFound
from chat.service import conversations, keys
from chat.service.context import Context
from chat.settings import Settings
from chat.store.conversations import C
from tests import cli
from tests.client import Staff, Visitor
from tests.conftest import Running, StaffFactory
from tests.waiting import until


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Servers re-read the key file every 0.1 s here (60 s in production), and `keys retire` waits two of those.
    return settings.replace(keys_reload_s=0.1)


async def _primary_becomes(ctx: Context, kek_id: str) -> None:
    await until(lambda: ctx.keys.primary_id() == kek_id)


async def _all_conversation_ids(ctx: Context) -> list[str]:
    async with ctx.engine.connect() as conn:
        return [r.id for r in await conn.execute(select(C.c.id))]


def _fresh(ctx: Context, settings: Settings) -> Context:
    """The same database with a key ring read anew from the file and an empty DEK cache, as after a restart."""
    return dataclasses.replace(ctx, keys=FileKeyRing(cli.key_file(settings)), deks=DekCache())


async def _chatter(visitor: Visitor, staff: Staff, sent: list[str], stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        await visitor.say(f"visitor {n}", f"v{n}")
        sent.append(f"visitor {n}")
        await staff.say(visitor.id, f"staff {n}", f"s{n}")
        sent.append(f"staff {n}")
        await asyncio.sleep(0.05)  # stay under the per-connection frame limit (50/s in the tests): no rate_limited


async def test_rotate_and_rewrap_under_traffic_leave_every_message_readable_without_the_old_key(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    """Messages flow while `keys rotate` and `keys rewrap` run; afterwards all decrypt, the old KEK wraps
    nothing, can be retired, and a fresh ring without it still reads everything."""
    env = cli.env_for(server.settings)
    staff = await make_staff()
    assert (await staff.claim(visitor.id)).status_code == 200
    others = [await Visitor.start(server.base) for _ in range(20)]
    sent: list[str] = []
    stop = asyncio.Event()
    chatter = asyncio.create_task(_chatter(visitor, staff, sent, stop))
    try:
        assert "k2 is the new primary" in cli.ok(await cli.run(env, "keys", "rotate"))
        await _primary_becomes(server.ctx, "k2")  # the server re-read its key file by itself
        rewrap = asyncio.create_task(cli.run(env, "keys", "rewrap", "--batch", "1"))
        before = len(sent)
        newer = [await Visitor.start(server.base) for _ in range(5)]
        out = cli.ok(await rewrap)
        assert len(sent) > before, "no message was sent while the rewrap ran"
    finally:
        stop.set()
        await chatter
    await visitor.say("after the rewrap", "after")
    sent.append("after the rewrap")

    # Exactly the 21 conversations started before the rotation were rewrapped; the new ones were under k2.
    assert out.splitlines()[-1] == "minimaria: rewrapped 21 data key(s) under k2"
    assert cli.key_counts(cli.ok(await cli.run(env, "keys", "list"))) == {"k1": (False, 0), "k2": (True, 26)}

    transcript = await staff.http.get(f"/api/v1/staff/conversations/{visitor.id}/transcript")
    assert transcript.status_code == 200
    assert [m["text"] for m in transcript.json()["messages"]] == sent

    assert "retired k1" in cli.ok(await cli.run(env, "keys", "retire", "k1"))
    fresh = _fresh(server.ctx, server.settings)
    assert fresh.keys.ids() == ["k2"]
    ids = await _all_conversation_ids(fresh)
    assert set(ids) == {visitor.id, *(v.id for v in others + newer)}
    for cid in ids:
        await keys.dek_for(fresh, cid)  # every DEK unwraps without k1
    assert [m["text"] for m in await conversations.replay(fresh, visitor.id, 0)] == sent


async def test_rewrap_stopped_midway_finishes_on_the_next_run(server: Running, visitor: Visitor) -> None:
    """A rewrap that dies after some batches leaves those done; the next run rewraps exactly the rest."""
    await visitor.say("before the rotation", "m1")
    for _ in range(5):
        await Visitor.start(server.base)
    await keys.rotate(server.ctx)

    class Crash(Exception):
        pass

    def crash_after_two(progress: keys.RewrapResult) -> None:
        if progress.rewrapped == 2:
            raise Crash

    with pytest.raises(Crash):
        await keys.rewrap(server.ctx, batch=1, progress=crash_after_two)
    assert {k.id: k.conversations for k in await keys.list_keys(server.ctx)} == {"k1": 4, "k2": 2}

    again = await keys.rewrap(server.ctx, batch=1)
    assert (again.rewrapped, again.failed) == (4, 0)
    assert {k.id: k.conversations for k in await keys.list_keys(server.ctx)} == {"k1": 0, "k2": 6}
    assert (await keys.rewrap(server.ctx)).rewrapped == 0  # nothing left: a further run is a no-op
    fresh = _fresh(server.ctx, server.settings)
    assert [m["text"] for m in await conversations.replay(fresh, visitor.id, 0)] == ["before the rotation"]


async def test_retire_refuses_the_primary_and_a_key_still_referenced(server: Running, visitor: Visitor) -> None:
    """`keys retire` exits 1 with the reason for the primary KEK and for one that still wraps a DEK."""
    env = cli.env_for(server.settings)
    await keys.rotate(server.ctx)

    primary = await cli.run(env, "keys", "retire", "k2")
    assert primary.returncode == 1 and "k2 is the primary key" in primary.stderr
    referenced = await cli.run(env, "keys", "retire", "k1")
    assert referenced.returncode == 1 and "k1 still wraps the data keys of 1 conversation" in referenced.stderr
    assert FileKeyRing(cli.key_file(server.settings)).ids() == ["k1", "k2"]  # the key file is unchanged

    await keys.rewrap(server.ctx)
    cli.ok(await cli.run(env, "keys", "retire", "k1"))
    with pytest.raises(NotFound):
        await keys.retire(server.ctx, "k1")


async def test_new_conversations_use_a_primary_rotated_by_another_process(server: Running) -> None:
    """After `keys rotate` in another process, the running server wraps new conversations' DEKs with the new KEK."""
    cli.ok(await cli.run(cli.env_for(server.settings), "keys", "rotate"))
    await _primary_becomes(server.ctx, "k2")
    started = await Visitor.start(server.base)
    async with server.ctx.engine.connect() as conn:
        kek_id = (await conn.execute(select(C.c.kek_id).where(C.c.id == started.id))).scalar_one()
    assert kek_id == "k2"


async def test_a_failed_key_file_reread_is_logged_and_the_server_keeps_chatting(
    server: Running, visitor: Visitor, caplog: pytest.LogCaptureFixture
) -> None:
    """When the periodic re-read fails (here: a file others can read), it is logged by type and the server keeps its ring."""
    caplog.set_level(logging.INFO, logger="minimaria")
    path = cli.key_file(server.settings)
    path.chmod(0o644)
    try:
        def failed() -> list[logging.LogRecord]:
            return [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "keys_reload_failed"]

        await until(failed)
        assert failed()[0].fields == {"event": "keys_reload_failed", "error": "KeyError_"}  # type: ignore[attr-defined]
        assert (await visitor.say("still here", "m1"))["seq"] == 1
        await Visitor.start(server.base)  # new conversations still get a DEK under the ring it had
        assert server.ctx.keys.primary_id() == "k1"
    finally:
        path.chmod(0o600)


async def test_check_names_a_key_the_ring_lacks_and_a_key_that_does_not_open(
    server: Running, visitor: Visitor, settings: Settings, tmp_path: Path
) -> None:
    """`keys.check` is empty with the right key file; with another one (its key also called k1) it names k1 as
    wrong_key, and with a ring that has no k1 at all, as not_in_ring."""
    assert await keys.check(_fresh(server.ctx, settings)) == []
    other = FileKeyRing.create(tmp_path / "other.json")
    wrong = dataclasses.replace(server.ctx, keys=other, deks=DekCache())
    assert await keys.check(wrong) == [keys.KeyProblem("k1", "wrong_key")]
    other.rotate()
    other.retire("k1")  # the file now holds only k2
    assert await keys.check(wrong) == [keys.KeyProblem("k1", "not_in_ring")]
