"""Issue 14, defect 3: every read of a conversation's content by someone who does not hold it — the replay a
staff socket's hello asks for, notes, concern reports, earlier parts, the transcript — is written to the audit
log first, and refused (``audit_unavailable``, nothing sent) when its entry cannot be written. The holder
working on their own conversation is not audited."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import text

from tests.client import WS, Staff, Visitor
from tests.conftest import Running, StaffFactory, serve
from tests.web.test_console_api import _closed_and_returned

NOTE = "Anteckning: pratar om att må dåligt i skolan"


async def _entries(server: Running, conversation_id: str) -> list[tuple[str, str]]:
    """(action, username) of the audit entries about a conversation that are reads, oldest first."""
    async with server.ctx.engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT a.action, s.username FROM audit_log a JOIN staff s ON s.id = a.staff_id "
            "WHERE a.conversation_id = :c AND a.action NOT IN ('claimed', 'transferred', 'closed') ORDER BY a.seq"
        ), {"c": conversation_id})
        return [(str(r[0]), str(r[1])) for r in rows]


async def _held_with_a_note(server: Running, visitor: Visitor, make_staff: StaffFactory) -> tuple[Staff, Staff]:
    """Anna holds the visitor's conversation, with a message each way and a note; Sara supervises."""
    anna = await make_staff("anna")
    sara = await make_staff("sara", roles=("supervisor", "reception"), connect=False)
    assert (await anna.claim(visitor.id)).status_code == 200
    await visitor.say("jag mår inte bra", "v1")
    await anna.say(visitor.id, "Jag finns här.", "s1")
    r = await anna.http.post(f"/api/v1/staff/conversations/{visitor.id}/notes", json={"text": NOTE})
    assert r.status_code == 201
    return anna, sara


async def test_a_supervisors_socket_replay_of_someone_elses_conversation_is_audited(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    _, sara = await _held_with_a_note(server, visitor, make_staff)

    await sara.connect(last_seq={visitor.id: 0})

    assert sara.ws is not None
    await sara.ws.expect("msg", conversation_id=visitor.id, text="jag mår inte bra")
    notes = await sara.ws.expect("notes", conversation_id=visitor.id)
    assert [n["text"] for n in notes["notes"]] == [NOTE]
    assert await _entries(server, visitor.id) == [("replay_read", "sara"), ("notes_read", "sara")]


async def test_the_holders_own_reads_are_not_audited(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna, _ = await _held_with_a_note(server, visitor, make_staff)
    await anna.aclose()
    again = Staff(server.base, "anna", "correct horse battery")
    await again.login()
    try:
        await again.connect(last_seq={visitor.id: 0})
        assert again.ws is not None
        await again.ws.expect("notes", conversation_id=visitor.id)
        r = await again.http.get(f"/api/v1/staff/conversations/{visitor.id}/notes")
        assert r.status_code == 200 and [n["text"] for n in r.json()["notes"]] == [NOTE]
        assert (await again.http.get(f"/api/v1/staff/conversations/{visitor.id}/concerns")).status_code == 200
    finally:
        await again.aclose()
    assert await _entries(server, visitor.id) == []


async def test_notes_and_concerns_read_by_a_supervisor_are_audited(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    _, sara = await _held_with_a_note(server, visitor, make_staff)

    r = await sara.http.get(f"/api/v1/staff/conversations/{visitor.id}/notes")
    assert r.status_code == 200 and [n["text"] for n in r.json()["notes"]] == [NOTE]
    assert (await sara.http.get(f"/api/v1/staff/conversations/{visitor.id}/concerns")).status_code == 200

    assert await _entries(server, visitor.id) == [("notes_read", "sara"), ("concerns_read", "sara")]


async def test_earlier_parts_listed_or_read_by_a_supervisor_are_audited(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    back = await _closed_and_returned(server, anna, visitor)
    bo = await make_staff("bo")
    assert (await bo.claim(visitor.id)).status_code == 200
    sara = await make_staff("sara", roles=("supervisor", "reception"), connect=False)

    assert (await bo.http.get(f"/api/v1/staff/conversations/{visitor.id}/earlier")).status_code == 200  # holder
    assert (await sara.http.get(f"/api/v1/staff/conversations/{visitor.id}/earlier")).status_code == 200
    assert (await sara.http.get(f"/api/v1/staff/conversations/{visitor.id}/earlier/1")).status_code == 200

    assert await _entries(server, visitor.id) == [("earlier_listed", "sara"), ("earlier_part_read", "sara")]
    assert back.ws is not None
    await back.ws.close()


@contextlib.asynccontextmanager
async def _audit_log_refusing_writes(server: Running) -> AsyncIterator[str]:
    """A server (its base URL) whose database refuses new audit entries, for real: on PostgreSQL a second
    server connects as a role without INSERT on audit_log; on SQLite the table is renamed away meanwhile."""
    if server.settings.is_sqlite:
        async with server.ctx.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_away"))
        try:
            yield server.base
        finally:
            async with server.ctx.engine.begin() as conn:
                await conn.execute(text("ALTER TABLE audit_log_away RENAME TO audit_log"))
        return
    role = f"mm_app_{uuid.uuid4().hex[:8]}"
    grants = [
        f"CREATE ROLE {role} LOGIN",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE INSERT ON audit_log FROM {role}",
    ]
    async with server.ctx.engine.begin() as conn:
        for g in grants:
            await conn.execute(text(g))
    try:
        url = server.settings.database_url.replace("postgres@", f"{role}@", 1)
        async with serve(server.settings.replace(database_url=url, bus_prefix=server.settings.bus_prefix)) as limited:
            yield limited.base
    finally:
        async with server.ctx.engine.begin() as conn:
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE {role}"))


async def test_a_read_whose_audit_entry_cannot_be_written_is_refused_with_nothing_sent(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna, sara = await _held_with_a_note(server, visitor, make_staff)
    cookie = f"mm_staff={sara.http.cookies['mm_staff']}"

    async with _audit_log_refusing_writes(server) as base:
        async with httpx.AsyncClient(base_url=base, headers={"Cookie": cookie}) as http:
            for path in ("notes", "transcript", "concerns"):
                r = await http.get(f"/api/v1/staff/conversations/{visitor.id}/{path}")
                assert (r.status_code, r.json()) == (503, {"error": {
                    "code": "audit_unavailable",
                    "message": "This cannot be read now: the audit log cannot be written."}}), path
                assert NOTE not in r.text and "jag mår inte bra" not in r.text
        ws = await WS.open(base.replace("http", "ws", 1) + "/ws/staff", origin=base, additional_headers={"Cookie": cookie})
        try:
            await ws.send(type="hello", last_seq={visitor.id: 0})
            refused = await ws.expect("error")
            assert refused["code"] == "audit_unavailable"
            await ws.nothing_more("welcome")
        finally:
            await ws.close()
        assert ws.messages() == [] and not [f for f in ws.received if f["type"] == "notes"]
        # The holder keeps working: her own reads need no entry.
        async with httpx.AsyncClient(base_url=base, headers={"Cookie": f"mm_staff={anna.http.cookies['mm_staff']}"}) as http:
            r = await http.get(f"/api/v1/staff/conversations/{visitor.id}/notes")
            assert r.status_code == 200 and [n["text"] for n in r.json()["notes"]] == [NOTE]

    assert await _entries(server, visitor.id) == []


async def test_claims_transfers_and_closes_are_audited_with_who_and_which_conversation_and_no_text(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    bo = await make_staff("bo")
    assert (await anna.claim(visitor.id)).status_code == 200
    await visitor.say("hemligt: jag heter Kim", "v1")
    r = await anna.http.post(f"/api/v1/staff/conversations/{visitor.id}/transfer",
                             json={"staff": "bo", "note": "Lämnar över, hon vill prata om skolan"})
    assert r.status_code == 200, r.text
    assert bo.ws is not None
    await bo.ws.expect("state", conversation_id=visitor.id, state="active")
    r = await bo.http.post(f"/api/v1/staff/conversations/{visitor.id}/close", json={"outcome": "advice_given"})
    assert r.status_code == 200

    async with server.ctx.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT s.username, a.action, a.target, a.target_name FROM audit_log a "
            "LEFT JOIN staff s ON s.id = a.staff_id WHERE a.conversation_id = :c ORDER BY a.seq"
        ), {"c": visitor.id})).all()
    assert [tuple(r) for r in rows] == [("anna", "claimed", None, None), ("anna", "transferred", "bo", None),
                                        ("bo", "closed", "advice_given", None)]
    assert "Kim" not in str(rows) and "skolan" not in str(rows)
