"""Reporting a concern for a child (SoL 14 kap. 1 §): recorded with who and when, audited, the note sealed."""

from __future__ import annotations

from sqlalchemy import text

from tests.client import Visitor
from tests.conftest import Running, StaffFactory


async def test_the_holder_records_a_concern_and_it_is_audited_and_sealed(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert (await anna.claim(visitor.id)).status_code == 200
    note = "Berättar om våld hemma. Orosanmälan gjord till socialtjänsten i Falun 14.05."

    made = await anna.http.post(f"/api/v1/staff/conversations/{visitor.id}/concerns", json={"note": note})

    assert made.status_code == 201 and made.json()["reported_by"] == "Anna"
    listed = (await anna.http.get(f"/api/v1/staff/conversations/{visitor.id}/concerns")).json()["concerns"]
    assert [(c["reported_by"], c["note"]) for c in listed] == [("Anna", note)]
    async with server.ctx.engine.connect() as conn:
        audit = (await conn.execute(
            text("SELECT action, staff_id FROM audit_log WHERE conversation_id = :c"), {"c": visitor.id}
        )).all()
        stored = (await conn.execute(text("SELECT note FROM concern_reports"))).scalar_one()
    assert ("concern_reported", 1) in [(a, s) for a, s in audit]
    assert note.encode() not in bytes(stored)


async def test_only_someone_with_access_can_report_and_the_note_is_required(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    bo = await make_staff("bo")
    assert (await anna.claim(visitor.id)).status_code == 200
    path = f"/api/v1/staff/conversations/{visitor.id}/concerns"

    assert (await bo.http.post(path, json={"note": "x"})).status_code == 404  # not his conversation
    assert (await bo.http.get(path)).status_code == 404
    empty = await anna.http.post(path, json={"note": ""})
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "invalid")
    assert (await anna.http.post("/api/v1/staff/conversations/no-such/concerns", json={"note": "x"})).status_code == 404
    no_csrf = await anna.http.post(path, json={"note": "x"}, headers={"X-CSRF-Token": "wrong"})
    assert no_csrf.status_code == 403
    assert (await anna.http.get(path)).json()["concerns"] == []
