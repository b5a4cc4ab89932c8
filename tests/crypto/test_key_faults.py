"""A data key that cannot be unwrapped is a clear, final answer; shredded content leaves no copy in
SQLite's files; a note stays readable when its author's account row is deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from chat.service import retention
from tests.client import WS, Visitor
from tests.conftest import Running, StaffFactory


async def test_an_unwrappable_data_key_gives_key_unavailable_and_a_final_close(
    server: Running, make_staff: StaffFactory
) -> None:
    v = await Visitor.start(server.base)
    staff = await make_staff(roles=("supervisor", "reception"))
    async with server.ctx.engine.begin() as conn:  # the wrapped key changed behind the server's back
        await conn.execute(text("UPDATE conversations SET kek_id = 'k999' WHERE id = :id"), {"id": v.id})
    server.ctx.deks.drop(v.id)
    ws = await WS.open(server.ws + "/ws/visitor")
    await ws.send(type="hello", token=v.token)
    assert (await ws.expect("error"))["code"] == "key_unavailable"
    assert await ws.closed() == 4410  # not 1011: reconnecting would not help
    r = await staff.http.get(f"/api/v1/staff/conversations/{v.id}/transcript")
    assert (r.status_code, r.json()["error"]["code"]) == (500, "key_unavailable")


async def test_retention_leaves_no_copy_of_the_ciphertext_in_the_sqlite_files(
    server: Running, backend: str, visitor: Visitor, make_staff: StaffFactory
) -> None:
    if backend != "sqlite":
        pytest.skip("about SQLite's own files; PostgreSQL reclaims dead rows by vacuum (docs/security.md)")
    staff = await make_staff()
    await staff.claim(visitor.id)
    for n in range(5):
        await visitor.say(f"något personligt {n}", f"v{n}")
    async with server.ctx.engine.connect() as conn:
        bodies = [bytes(r[0]) for r in await conn.execute(text("SELECT body FROM messages"))]
        wrapped = bytes((await conn.execute(text("SELECT wrapped_dek FROM conversations"))).scalar_one())
    await staff.http.post(f"/api/v1/staff/conversations/{visitor.id}/close", json={"outcome": "advice_given"})
    async with server.ctx.engine.begin() as conn:
        await conn.execute(text("UPDATE conversations SET closed_at = :t"), {"t": datetime.now(UTC) - timedelta(days=40)})
    assert await retention.run(server.ctx, days=30) == 1
    db = server.settings.sqlite_path
    assert db is not None
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert raw  # the files were read
    assert not any(b[-24:] in raw for b in bodies), "a shredded message's ciphertext is still in the files"
    assert wrapped[-24:] not in raw, "the shredded wrapped data key is still in the files"


async def test_a_note_stays_readable_after_its_authors_row_is_deleted(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    author = await make_staff("bo")
    await author.claim(visitor.id)
    r = await author.http.post(f"/api/v1/staff/conversations/{visitor.id}/notes", json={"text": "ringde skolkurator"})
    assert r.status_code == 201
    await author.aclose()
    async with server.ctx.engine.begin() as conn:
        await conn.execute(text("DELETE FROM staff WHERE username = 'bo'"))
    supervisor = await make_staff("sara", roles=("supervisor", "reception"))
    notes = (await supervisor.http.get(f"/api/v1/staff/conversations/{visitor.id}/transcript")).json()["notes"]
    assert [(n["staff_id"], n["text"]) for n in notes] == [(None, "ringde skolkurator")]
