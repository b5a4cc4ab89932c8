"""Bad HTTP input gets a 4xx with the JSON error body, never a 500; auth, CSRF and Origin are enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets
from sqlalchemy import text

from tests.client import WS, Staff, Visitor
from tests.conftest import Running, StaffFactory


def error_code(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{nope", 400, "bad_json"),
        (b"[]", 400, "not_object"),
        (b"{}", 400, "invalid"),  # role is required
        (b'{"role": "parent"}', 400, "invalid"),
        (b'{"role": "young", "municipality": 2039}', 400, "invalid"),
        (b'{"role": "young", "municipality": "9999"}', 400, "invalid"),
        (b'{"role": "young", "topic": "knitting"}', 400, "invalid"),
        (b'{"role": "young", "nickname": "kim"}', 400, "invalid"),
        (b'{"role": "young", "x": "' + b"a" * 70_000 + b'"}', 400, "frame_too_large"),
        (b'{"role": "young", "return_code": "\\ud800"}', 400, "invalid"),  # a lone surrogate: not Unicode
    ],
)
async def test_bad_start_bodies_get_4xx_json(server: Running, body: bytes, status: int, code: str) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post("/api/v1/conversations", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    assert error_code(r) == code


async def test_start_returns_token_return_code_and_queue(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post("/api/v1/conversations", json={"role": "relative", "municipality": "2081", "topic": "gambling"})
    assert r.status_code == 201
    body = r.json()
    assert body["queue"] == {"position": 1, "estimated_wait_s": body["queue"]["estimated_wait_s"]}
    assert len(body["visitor_token"]) >= 40 and len(body["return_code"]) == 14
    assert r.headers["cache-control"] == "no-store"
    # Stored only as hashes: neither appears in the database.
    async with server.ctx.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM conversations"))).one()
    assert body["visitor_token"] not in str(tuple(row)) and body["return_code"] not in str(tuple(row))


async def test_intake_lists_dalarnas_municipalities_and_crisis_numbers(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        body = (await http.get("/api/v1/intake")).json()
    assert len(body["municipalities"]) == 15
    assert {"code": "2039", "name": "Älvdalen", "area": "north"} in body["municipalities"]
    assert body["crisis"][0]["number"] == "112"
    assert {t["id"] for t in body["topics"]} >= {"alcohol", "drugs", "gambling"}


async def test_unknown_paths_and_methods_get_json_errors(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        r404 = await http.get("/api/v1/nothing")
        r405 = await http.delete("/api/v1/conversations")
    assert r404.status_code == 404 and error_code(r404) == "not_found"
    assert r405.status_code == 405 and error_code(r405) == "method_not_allowed"


async def test_feedback_needs_the_conversations_own_token(server: Running) -> None:
    a = await Visitor.start(server.base)
    b = await Visitor.start(server.base)
    async with httpx.AsyncClient(base_url=server.base) as http:
        url = f"/api/v1/conversations/{a.id}/feedback"
        none = await http.post(url, json={"rating": 5})
        wrong = await http.post(url, json={"rating": 5}, headers={"Authorization": "Bearer nonsense"})
        other = await http.post(url, json={"rating": 5}, headers={"Authorization": f"Bearer {b.token}"})
        bad = await http.post(url, json={"rating": 9}, headers={"Authorization": f"Bearer {a.token}"})
        ok = await http.post(url, json={"rating": 4, "comment": "bra"}, headers={"Authorization": f"Bearer {a.token}"})
        twice = await http.post(url, json={"rating": 4}, headers={"Authorization": f"Bearer {a.token}"})
    assert (none.status_code, error_code(none)) == (401, "unauthorized")
    assert (wrong.status_code, error_code(wrong)) == (401, "unauthorized")
    assert (other.status_code, error_code(other)) == (403, "forbidden")
    assert (bad.status_code, error_code(bad)) == (400, "invalid")
    assert ok.status_code == 201
    assert (twice.status_code, error_code(twice)) == (409, "conflict")


async def test_login_errors_are_clear_and_lock_after_repeated_failures(server: Running, make_staff: StaffFactory) -> None:
    await make_staff(connect=False)
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as http:
        unknown = await http.post("/api/v1/staff/login", json={"username": "nobody", "password": "whatever123"})
        assert (unknown.status_code, error_code(unknown)) == (401, "login_failed")
        for _ in range(5):
            r = await http.post("/api/v1/staff/login", json={"username": "anna", "password": "wrong password"})
            assert error_code(r) == "login_failed"
        locked = await http.post("/api/v1/staff/login", json={"username": "anna", "password": "correct horse battery"})
    assert (locked.status_code, error_code(locked)) == (429, "locked_out")


async def test_login_from_a_foreign_origin_is_refused(server: Running, make_staff: StaffFactory) -> None:
    await make_staff(connect=False)
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": "https://evil.example"}) as http:
        r = await http.post("/api/v1/staff/login", json={"username": "anna", "password": "correct horse battery"})
    assert (r.status_code, error_code(r)) == (403, "origin_forbidden")


async def test_staff_api_needs_a_session_and_csrf(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    staff = await make_staff(connect=False)
    async with httpx.AsyncClient(base_url=server.base) as anon:
        r = await anon.get("/api/v1/staff/queue")
    assert (r.status_code, error_code(r)) == (401, "unauthorized")
    del staff.http.headers["X-CSRF-Token"]
    no_csrf = await staff.claim(visitor.id)
    assert (no_csrf.status_code, error_code(no_csrf)) == (403, "csrf_failed")
    staff.http.headers["X-CSRF-Token"] = "0" * 64
    wrong_csrf = await staff.claim(visitor.id)
    assert (wrong_csrf.status_code, error_code(wrong_csrf)) == (403, "csrf_failed")
    staff.http.headers["X-CSRF-Token"] = staff.csrf
    assert (await staff.claim(visitor.id)).status_code == 200


async def test_claim_and_close_of_unknown_conversations_are_404(server: Running, make_staff: StaffFactory) -> None:
    staff = await make_staff(connect=False)
    r = await staff.claim("no-such-id")
    assert (r.status_code, error_code(r)) == (404, "not_found")
    c = await staff.http.post("/api/v1/staff/conversations/no-such-id/close", json={"outcome": "no_contact"})
    assert (c.status_code, error_code(c)) == (404, "not_found")
    bad = await staff.http.post("/api/v1/staff/conversations/x/close", json={"outcome": "vanished"})
    assert (bad.status_code, error_code(bad)) == (400, "invalid")


async def test_expired_session_is_refused_with_its_own_code(server: Running, make_staff: StaffFactory) -> None:
    staff = await make_staff(connect=False)
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with server.ctx.engine.begin() as conn:
        await conn.execute(text("UPDATE staff_sessions SET expires_at = :t"), {"t": past})
    r = await staff.http.get("/api/v1/staff/me")
    assert (r.status_code, error_code(r)) == (401, "session_expired")


async def test_staff_socket_refuses_foreign_origin_at_handshake(server: Running, make_staff: StaffFactory) -> None:
    staff = await make_staff(connect=False)
    cookie = f"mm_staff={staff.http.cookies['mm_staff']}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await WS.open(server.ws + "/ws/staff", origin="https://evil.example", additional_headers={"Cookie": cookie})
    assert refused.value.response.status_code == 403


async def test_staff_socket_without_session_closes_4401(server: Running) -> None:
    ws = await WS.open(server.ws + "/ws/staff", origin=server.base)
    assert (await ws.expect("error"))["code"] == "unauthorized"
    assert await ws.closed() == 4401


async def test_logout_closes_that_sessions_sockets(server: Running, make_staff: StaffFactory) -> None:
    staff: Staff = await make_staff()
    r = await staff.http.post("/api/v1/staff/logout")
    assert r.status_code == 200
    assert (await staff.ws.expect("error"))["code"] == "unauthorized"  # type: ignore[union-attr]
    assert await staff.ws.closed() == 4401  # type: ignore[union-attr]
    after = await staff.http.get("/api/v1/staff/me")
    assert after.status_code == 401


async def test_transcript_read_is_audited(server: Running, visitor: Visitor, make_staff: StaffFactory) -> None:
    staff = await make_staff()
    await staff.claim(visitor.id)
    await visitor.say("hemligt", "v1")
    note = await staff.http.post(f"/api/v1/staff/conversations/{visitor.id}/notes", json={"text": "intern anteckning"})
    assert note.status_code == 201
    r = await staff.http.get(f"/api/v1/staff/conversations/{visitor.id}/transcript")
    assert r.status_code == 200
    assert [m["text"] for m in r.json()["messages"]] == ["hemligt"]
    assert [n["text"] for n in r.json()["notes"]] == ["intern anteckning"]
    async with server.ctx.engine.connect() as conn:
        query = "SELECT action, conversation_id FROM audit_log WHERE action NOT IN ('staff_login', 'claimed')"
        rows = (await conn.execute(text(query))).all()
    assert [tuple(r) for r in rows] == [("transcript_read", visitor.id)]
    other = await make_staff("bo")
    denied = await other.http.get(f"/api/v1/staff/conversations/{visitor.id}/transcript")
    assert denied.status_code == 404


async def test_readyz_and_openapi(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        ready = await http.get("/readyz")
        schema = (await http.get("/openapi.json")).json()
    assert ready.json() == {"status": "ready", "database": True, "bus": True, "keys": True, "draining": False}
    assert "/api/v1/conversations" in schema["paths"]
    assert schema["components"]["schemas"]["StartBody"]["additionalProperties"] is False


def test_every_api_route_is_in_the_openapi_schema() -> None:
    from starlette.routing import Route

    from chat.web.openapi import schema
    from chat.web.routes import routes

    paths = schema()["paths"]
    missing = [
        (method.lower(), r.path)
        for r in routes()
        if isinstance(r, Route) and r.path.startswith("/api/")
        for method in (r.methods or set()) - {"HEAD"}
        if method.lower() not in paths.get(r.path, {})
    ]
    assert missing == []


async def test_forget_clears_site_data_and_ends_the_token_whatever_is_sent(server: Running, visitor: Visitor) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        for headers in ({}, {"Authorization": "Bearer no-such-token"}, {"Authorization": "Basic x"}):
            r = await http.post("/api/v1/visitor/forget", headers=headers)
            assert (r.status_code, r.headers["clear-site-data"]) == (204, '"cache", "storage"')
        r = await http.post("/api/v1/visitor/forget", headers={"Authorization": f"Bearer {visitor.token}"})
        assert r.status_code == 204
    ws = await WS.open(server.ws + "/ws/visitor")
    try:
        await ws.send(type="hello", token=visitor.token, last_seq=0)
        assert (await ws.expect("error"))["code"] == "token_expired"
    finally:
        await ws.close()


async def test_a_visitor_ends_only_their_own_open_conversation(server: Running, visitor: Visitor) -> None:
    other = await Visitor.start(server.base)
    async with httpx.AsyncClient(base_url=server.base) as http:
        path = f"/api/v1/conversations/{visitor.id}/close"
        assert (await http.post(path)).status_code == 401
        wrong = await http.post(path, headers={"Authorization": f"Bearer {other.token}"})
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "forbidden")
        mine = {"Authorization": f"Bearer {visitor.token}"}
        assert (await http.post(path, headers=mine)).status_code == 200
        again = await http.post(path, headers=mine)
        assert (again.status_code, again.json()["error"]["code"]) == (409, "conversation_closed")
    assert visitor.ws is not None
    assert (await visitor.ws.expect("state"))["state"] == "closed"
