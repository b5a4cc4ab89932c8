"""chat/service/retention.py: crypto-shredding conversations closed longer ago than the retention limit."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from chat.service import accounts, retention
from chat.settings import Settings
from chat.store.conversations import C, F, M, N
from chat.store.retention import SC
from tests import cli
from tests.client import WS, Staff, Visitor
from tests.conftest import Running, StaffFactory, empty_database, serve
from tests.waiting import until


async def _conversation_with_everything(server: Running, staff: Staff, tag: str, close: bool = True) -> Visitor:
    """A claimed conversation with messages both ways and a note; closed (and given feedback) unless told not to."""
    v = await Visitor.start(server.base, municipality="2080", topic="drugs")
    await v.connect()
    assert (await staff.claim(v.id)).status_code == 200
    await v.say(f"{tag}: visitor text", "v1")
    await staff.say(v.id, f"{tag}: staff text", "s1")
    r = await staff.http.post(f"/api/v1/staff/conversations/{v.id}/notes", json={"text": f"{tag}: note"})
    assert r.status_code == 201
    if close:
        r = await staff.http.post(f"/api/v1/staff/conversations/{v.id}/close", json={"outcome": "advice_given"})
        assert r.status_code == 200
        async with httpx.AsyncClient(base_url=server.base) as http:
            r = await http.post(
                f"/api/v1/conversations/{v.id}/feedback", json={"rating": 4, "comment": f"{tag}: comment"},
                headers={"Authorization": f"Bearer {v.token}"},
            )
        assert r.status_code == 201
    assert v.ws is not None
    await v.ws.close()
    return v


async def _closed_days_ago(server: Running, conversation_id: str, days: int) -> None:
    async with server.ctx.engine.begin() as conn:
        await conn.execute(
            update(C).where(C.c.id == conversation_id).values(closed_at=server.ctx.clock() - timedelta(days=days))
        )


async def _count(server: Running, table: object, conversation_id: str) -> int:
    async with server.ctx.engine.connect() as conn:
        q = select(func.count()).select_from(table).where(table.c.conversation_id == conversation_id)  # type: ignore[attr-defined]
        return int((await conn.execute(q)).scalar_one())


async def test_retention_run_shreds_only_conversations_closed_longer_ago_than_n_days(
    server: Running, make_staff: StaffFactory
) -> None:
    """`retention run --days 30` shreds a conversation closed 40 days ago, not one closed today nor an open one."""
    staff = await make_staff()
    old = await _conversation_with_everything(server, staff, "old")
    recent = await _conversation_with_everything(server, staff, "recent")
    still_open = await _conversation_with_everything(server, staff, "open", close=False)
    await _closed_days_ago(server, old.id, 40)
    await _closed_days_ago(server, recent.id, 2)

    out = cli.ok(await cli.run(cli.env_for(server.settings), "retention", "run", "--days", "30"))
    assert out.splitlines()[-1] == "minimaria: shredded 1 conversation(s) closed more than 30 day(s) ago"

    assert (await _count(server, M, old.id), await _count(server, N, old.id)) == (0, 0)
    for kept in (recent, still_open):
        assert (await _count(server, M, kept.id), await _count(server, N, kept.id)) == (2, 1)
        t = await staff.http.get(f"/api/v1/staff/conversations/{kept.id}/transcript")
        assert t.status_code == 200 and len(t.json()["messages"]) == 2
    again = cli.ok(await cli.run(cli.env_for(server.settings), "retention", "run", "--days", "30"))
    assert again.splitlines()[-1].startswith("minimaria: shredded 0 ")


async def test_a_shredded_conversation_is_gone_for_every_reader_but_still_counts(
    server: Running, make_staff: StaffFactory
) -> None:
    """After shredding: transcript, notes and feedback answer 410 deleted_by_retention, the visitor's hello gets that
    error and close 4410; the row keeps its metadata and message count, the feedback its rating only."""
    staff = await make_staff()
    v = await _conversation_with_everything(server, staff, "gone")
    await _closed_days_ago(server, v.id, 10)
    assert await retention.run(server.ctx, days=7) == 1
    assert server.ctx.deks.get(v.id) is None

    t = await staff.http.get(f"/api/v1/staff/conversations/{v.id}/transcript")
    assert t.status_code == 410 and t.json()["error"]["code"] == "deleted_by_retention"
    note = await staff.http.post(f"/api/v1/staff/conversations/{v.id}/notes", json={"text": "too late"})
    assert note.status_code == 410 and note.json()["error"]["code"] == "deleted_by_retention"

    ws = await WS.open(server.ws + "/ws/visitor")
    await ws.send(type="hello", token=v.token, last_seq=0)
    error = await ws.expect("error")
    assert error["code"] == "deleted_by_retention"
    assert await ws.closed() == 4410

    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post(f"/api/v1/conversations/{v.id}/feedback", json={"rating": 5},
                            headers={"Authorization": f"Bearer {v.token}"})
    assert r.status_code == 410 and r.json()["error"]["code"] == "deleted_by_retention"

    async with server.ctx.engine.connect() as conn:
        row = (await conn.execute(select(C).where(C.c.id == v.id))).one()
        feedback = (await conn.execute(select(F.c.rating, F.c.comment).where(F.c.conversation_id == v.id))).one()
        closed = (await conn.execute(select(func.count()).select_from(C).where(C.c.state == "closed"))).scalar_one()
    assert (row.state, row.municipality, row.topic, row.role, row.outcome, row.last_seq) == (
        "closed", "2080", "drugs", "young", "advice_given", 2)
    assert row.wrapped_dek is None and row.kek_id is None and row.shredded_at is not None
    assert (feedback.rating, feedback.comment) == (4, None)
    assert closed == 1  # statistics still count it
    assert (await _count(server, M, v.id), await _count(server, N, v.id)) == (0, 0)


async def test_serve_runs_retention_periodically_when_retention_days_is_set(settings: Settings) -> None:
    """With retention_days set, the server's own periodic task shreds due conversations and drops their DEKs."""
    await empty_database(settings)
    async with serve(settings.replace(retention_days=30, retention_interval_s=0.05)) as server:
        staff = Staff(server.base, "anna", "correct horse battery")
        await accounts.add_staff(server.ctx, "anna", staff.password, ["reception"], ["reception"], "Anna")
        await staff.login()
        await staff.connect()
        try:
            v = await _conversation_with_everything(server, staff, "periodic")
            await _closed_days_ago(server, v.id, 31)
            await until(lambda: server.ctx.deks.get(v.id) is None)
            t = await staff.http.get(f"/api/v1/staff/conversations/{v.id}/transcript")
            assert t.status_code == 410 and t.json()["error"]["code"] == "deleted_by_retention"
            assert await _count(server, M, v.id) == 0
        finally:
            await staff.aclose()


async def test_shredding_also_clears_the_sealed_health_data_and_the_self_tests(
    server: Running, make_staff: StaffFactory
) -> None:
    """The reasons, risk categories and self-test results are sealed under the key that is shredded; the sealed
    values go with it, and the self-tests' rows (answers, score and zone) are deleted. The priority stays."""
    staff = await make_staff()
    v = await Visitor.start(server.base, municipality="2080", topic="drugs")
    await v.connect()
    assert v.ws is not None
    await v.ws.send(type="screening", instrument="audit", answers=[4, 3, 3, 2, 1, 1, 0, 0, 2, 0])
    await v.ws.expect("screening_result")
    await v.say("jag vill inte leva längre", "r1")
    await v.ws.expect("crisis")
    await v.ws.close()
    assert (await staff.claim(v.id)).status_code == 200
    r = await staff.http.post(f"/api/v1/staff/conversations/{v.id}/close", json={"outcome": "advice_given"})
    assert r.status_code == 200
    async with server.ctx.engine.connect() as conn:
        before = (await conn.execute(select(C).where(C.c.id == v.id))).one()
    assert before.reasons_sealed and before.risk_sealed and before.screening_sealed
    assert await _count(server, SC, v.id) == 1

    await _closed_days_ago(server, v.id, 10)
    assert await retention.run(server.ctx, days=7) == 1

    async with server.ctx.engine.connect() as conn:
        row = (await conn.execute(select(C).where(C.c.id == v.id))).one()
    assert (row.reasons_sealed, row.risk_sealed, row.screening_sealed) == (None, None, None)
    assert row.priority == before.priority == 2
    assert await _count(server, SC, v.id) == 0
