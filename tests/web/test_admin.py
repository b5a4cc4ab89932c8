"""Administering staff accounts over HTTP (role admin): list, create, change, deactivate, reset a password,
the audit log; refused for everyone else, and with bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text

from tests.client import WS, Staff, Visitor
from tests.conftest import Running, StaffFactory

PASSWORD = "correct horse battery"
NEW_ACCOUNT = {"username": "cleo", "display_name": "Cleo C", "password": "a long enough one", "roles": ["counsellor"],
               "teams": ["south"]}


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


async def audit(admin: Staff, limit: int = 100) -> list[dict[str, Any]]:
    """The audit entries of admin changes (logins, audited too, are tests/web/test_login_throttle.py's)."""
    r = await admin.http.get("/api/v1/admin/audit", params={"limit": limit})
    assert r.status_code == 200, r.text
    return [e for e in r.json()["entries"] if not e["action"].startswith("staff_login")]


async def login_status(server: Running, username: str, password: str) -> int:
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as http:
        r = await http.post("/api/v1/staff/login", json={"username": username, "password": password})
    return r.status_code


@pytest.fixture
async def admin(make_staff: StaffFactory) -> Staff:
    return await make_staff("root", roles=("admin",), teams=(), connect=False)


async def test_an_admin_creates_an_account_that_can_then_log_in(server: Running, admin: Staff) -> None:
    made = await admin.http.post("/api/v1/admin/staff", json=NEW_ACCOUNT)

    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in ("username", "display_name", "roles", "teams", "active", "locked")} == {
        "username": "cleo", "display_name": "Cleo C", "roles": ["counsellor"], "teams": ["south"], "active": True,
        "locked": False}
    assert "password" not in str(body) and "hash" not in str(body)
    listed = (await admin.http.get("/api/v1/admin/staff")).json()["staff"]
    assert [s["username"] for s in listed] == ["cleo", "root"]
    assert await login_status(server, "cleo", "a long enough one") == 200
    assert [(e["staff"], e["action"], e["target"]) for e in await audit(admin)] == [("root", "staff_created", "cleo")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/admin/staff", None),
        ("POST", "/api/v1/admin/staff", NEW_ACCOUNT),
        ("PATCH", "/api/v1/admin/staff/anna", {"display_name": "A"}),
        ("POST", "/api/v1/admin/staff/anna/password", {"password": "another long one"}),
        ("GET", "/api/v1/admin/hours", None),
        ("POST", "/api/v1/admin/hours", {"date": "2099-01-01", "spans": []}),
        ("DELETE", "/api/v1/admin/hours/1", None),
        ("GET", "/api/v1/admin/audit", None),
    ],
)
async def test_only_an_admin_may_use_the_admin_api(
    server: Running, make_staff: StaffFactory, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """A supervisor (or a lead) is 403, nobody logged in 401; nothing changes either way."""
    boss = await make_staff("boss", roles=("supervisor", "lead"), connect=False)
    await make_staff("anna", connect=False)

    refused = await boss.http.request(method, path, json=body)
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as anonymous:
        nobody = await anonymous.request(method, path, json=body)

    assert (refused.status_code, code(refused)) == (403, "forbidden")
    assert (nobody.status_code, code(nobody)) == (401, "unauthorized")
    assert await login_status(server, "anna", PASSWORD) == 200
    assert await login_status(server, "cleo", NEW_ACCOUNT["password"]) == 401


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{nope", "bad_json"),
        (b"[]", "not_object"),
        ({**NEW_ACCOUNT, "admin": True}, "invalid"),  # an unknown field
        ({**NEW_ACCOUNT, "roles": ["janitor"]}, "invalid"),
        ({**NEW_ACCOUNT, "roles": []}, "invalid"),
        ({**NEW_ACCOUNT, "roles": "admin"}, "invalid"),
        ({**NEW_ACCOUNT, "teams": ["atlantis"]}, "invalid"),
        ({**NEW_ACCOUNT, "password": "short"}, "invalid"),
        ({**NEW_ACCOUNT, "username": "not a name!"}, "invalid"),
        ({k: v for k, v in NEW_ACCOUNT.items() if k != "password"}, "invalid"),
    ],
)
async def test_bad_new_accounts_are_refused_with_400(
    server: Running, admin: Staff, body: bytes | dict[str, Any], expected: str
) -> None:
    if isinstance(body, bytes):
        r = await admin.http.post("/api/v1/admin/staff", content=body, headers={"Content-Type": "application/json"})
    else:
        r = await admin.http.post("/api/v1/admin/staff", json=body)

    assert (r.status_code, code(r)) == (400, expected)
    assert "atlantis" not in r.text and "janitor" not in r.text  # messages never echo input
    assert [s["username"] for s in (await admin.http.get("/api/v1/admin/staff")).json()["staff"]] == ["root"]


@pytest.mark.parametrize(
    ("roles", "teams", "status"),
    [
        (["reception"], [], 400),
        (["counsellor"], [], 400),
        (["ambulant"], [], 400),
        (["lead"], [], 400),
        (["supervisor", "lead"], [], 400),  # a lead leads a team's answers: a supervisor's view does not help
        (["counsellor"], ["south"], 201),
        (["supervisor"], [], 201),  # sees every queue
        (["supervisor", "reception"], [], 201),
        (["admin"], [], 201),  # works no queue
        (["auditor"], [], 201),  # works no conversation
    ],
)
async def test_a_role_that_works_a_teams_queue_needs_a_team(
    server: Running, admin: Staff, roles: list[str], teams: list[str], status: int
) -> None:
    """Without a team, reception, a counsellor, the ambulant team or a lead would see an empty queue: refused
    with team_required; a supervisor and an admin need none."""
    r = await admin.http.post("/api/v1/admin/staff", json={**NEW_ACCOUNT, "roles": roles, "teams": teams})

    assert r.status_code == status, r.text
    if status == 400:
        assert code(r) == "team_required"
        assert "minst ett team" not in r.text  # the page words it; the API message is English
        assert [s["username"] for s in (await admin.http.get("/api/v1/admin/staff")).json()["staff"]] == ["root"]


async def test_a_change_that_leaves_a_queue_role_without_a_team_is_refused(
    server: Running, admin: Staff, make_staff: StaffFactory
) -> None:
    await make_staff("anna", connect=False)  # reception, in the reception team

    for body in ({"teams": []}, {"roles": ["counsellor"], "teams": []}):
        r = await admin.http.patch("/api/v1/admin/staff/anna", json=body)
        assert (r.status_code, code(r)) == (400, "team_required")
    assert await audit(admin) == []
    to_supervisor = await admin.http.patch("/api/v1/admin/staff/anna", json={"roles": ["supervisor"], "teams": []})
    assert (to_supervisor.status_code, to_supervisor.json()["teams"]) == (200, [])
    renamed = await admin.http.patch("/api/v1/admin/staff/anna", json={"display_name": "Anna A"})
    assert renamed.status_code == 200


async def test_a_taken_username_is_409(server: Running, admin: Staff) -> None:
    assert (await admin.http.post("/api/v1/admin/staff", json=NEW_ACCOUNT)).status_code == 201
    again = await admin.http.post("/api/v1/admin/staff", json={**NEW_ACCOUNT, "display_name": "Other"})
    assert (again.status_code, code(again)) == (409, "conflict")


async def test_an_admin_changes_name_roles_and_teams(server: Running, admin: Staff, make_staff: StaffFactory) -> None:
    await make_staff("anna", connect=False)

    r = await admin.http.patch("/api/v1/admin/staff/anna",
                               json={"display_name": "Anna A", "roles": ["counsellor", "lead"], "teams": ["north"]})

    assert r.status_code == 200, r.text
    assert (r.json()["display_name"], r.json()["roles"], r.json()["teams"]) == ("Anna A", ["counsellor", "lead"], ["north"])
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as http:
        me = await http.post("/api/v1/staff/login", json={"username": "anna", "password": PASSWORD})
    assert (me.json()["display_name"], me.json()["teams"]) == ("Anna A", ["north"])
    assert [(e["action"], e["target"]) for e in await audit(admin)] == [("staff_updated", "anna")]


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({}, 400, "invalid"),
        ({"roles": ["overlord"]}, 400, "invalid"),
        ({"teams": ["atlantis"]}, 400, "invalid"),
        ({"active": "no"}, 400, "invalid"),
        ({"password": "x" * 12}, 400, "invalid"),  # not a field of PATCH
        ({"display_name": ""}, 400, "invalid"),
    ],
)
async def test_bad_changes_are_refused(
    server: Running, admin: Staff, make_staff: StaffFactory, body: dict[str, Any], status: int, expected: str
) -> None:
    await make_staff("anna", connect=False)
    r = await admin.http.patch("/api/v1/admin/staff/anna", json=body)
    assert (r.status_code, code(r)) == (status, expected)
    assert await audit(admin) == []


async def test_an_unknown_username_is_404(server: Running, admin: Staff) -> None:
    changed = await admin.http.patch("/api/v1/admin/staff/nobody", json={"active": False})
    reset = await admin.http.post("/api/v1/admin/staff/nobody/password", json={"password": "x" * 12})
    assert (changed.status_code, reset.status_code) == (404, 404)


@pytest.mark.parametrize("body", [{"active": False}, {"roles": ["supervisor"]}])
async def test_an_admin_cannot_lock_themselves_out(server: Running, admin: Staff, body: dict[str, Any]) -> None:
    r = await admin.http.patch("/api/v1/admin/staff/root", json=body)

    assert (r.status_code, code(r)) == (409, "conflict")
    assert "yourself" in r.json()["error"]["message"]
    me = await admin.http.get("/api/v1/staff/me")
    assert me.status_code == 200 and me.json()["roles"] == ["admin"]


async def test_an_admin_may_rename_themselves_and_keep_admin_among_other_roles(server: Running, admin: Staff) -> None:
    r = await admin.http.patch("/api/v1/admin/staff/root", json={"display_name": "Root", "roles": ["admin", "lead"],
                                                                 "teams": ["south"]})
    assert r.status_code == 200 and r.json()["roles"] == ["admin", "lead"]


async def test_deactivating_someone_closes_their_socket_ends_their_session_and_requeues_their_chat(
    server: Running, admin: Staff, make_staff: StaffFactory, visitor: Visitor
) -> None:
    anna = await make_staff("anna")
    bo = await make_staff("bo")
    assert (await anna.claim(visitor.id)).status_code == 200
    assert visitor.ws is not None and anna.ws is not None and bo.ws is not None
    await visitor.ws.expect("state", state="active")

    r = await admin.http.patch("/api/v1/admin/staff/anna", json={"active": False})

    assert r.status_code == 200 and r.json()["active"] is False
    assert (await anna.ws.expect("error"))["code"] == "unauthorized"
    assert await anna.ws.closed() == 4401
    assert (await anna.http.get("/api/v1/staff/me")).status_code == 401  # the old session cookie
    assert await login_status(server, "anna", PASSWORD) == 401
    # The conversation is back in the reception queue, and the visitor is told.
    await visitor.ws.expect("state", state="queued")
    update = await bo.ws.expect("queue_update", timeout=5)
    while visitor.id not in [c["conversation_id"] for c in update["queue"]]:
        update = await bo.ws.expect("queue_update", timeout=5)
    waiting = (await bo.http.get("/api/v1/staff/queue")).json()["queue"]
    assert [c["conversation_id"] for c in waiting] == [visitor.id]
    assert "staff_deactivated" in [reason["code"] for reason in waiting[0]["reasons"]]
    assert (await bo.claim(visitor.id)).status_code == 200
    admin_changes = [(e["action"], e["target"]) for e in await audit(admin) if e["conversation_id"] is None]
    assert admin_changes == [("staff_deactivated", "anna")]


async def test_a_reactivated_account_can_log_in_again(server: Running, admin: Staff, make_staff: StaffFactory) -> None:
    await make_staff("anna", connect=False)
    assert (await admin.http.patch("/api/v1/admin/staff/anna", json={"active": False})).status_code == 200
    assert await login_status(server, "anna", PASSWORD) == 401

    assert (await admin.http.patch("/api/v1/admin/staff/anna", json={"active": True})).status_code == 200

    assert await login_status(server, "anna", PASSWORD) == 200
    assert [e["action"] for e in await audit(admin)] == ["staff_updated", "staff_deactivated"]


async def test_a_password_reset_unlocks_ends_sessions_and_only_the_new_password_works(
    server: Running, admin: Staff, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert anna.ws is not None
    for _ in range(server.settings.login_max_failures):
        assert await login_status(server, "anna", "wrong password!") == 401
    assert await login_status(server, "anna", PASSWORD) == 429  # locked
    short = await admin.http.post("/api/v1/admin/staff/anna/password", json={"password": "short"})
    assert (short.status_code, code(short)) == (400, "invalid")

    r = await admin.http.post("/api/v1/admin/staff/anna/password", json={"password": "a brand new secret"})

    assert r.status_code == 200 and r.json() == {"ok": True}
    assert await anna.ws.closed() == 4401
    assert (await anna.http.get("/api/v1/staff/me")).status_code == 401
    assert await login_status(server, "anna", PASSWORD) == 401
    assert await login_status(server, "anna", "a brand new secret") == 200
    listed = {s["username"]: s for s in (await admin.http.get("/api/v1/admin/staff")).json()["staff"]}
    assert listed["anna"]["locked"] is False
    entries = await audit(admin)
    assert [(e["action"], e["target"]) for e in entries] == [("password_reset", "anna")]
    assert "a brand new secret" not in str(entries)


async def test_the_audit_log_names_what_each_change_was_about(server: Running, admin: Staff) -> None:
    """``about`` resolves the target: a person's display name, a canned answer's title (still there after it
    is deleted; as it was at each change) and team's name, an override's date and team (None: every team)."""
    assert (await admin.http.post("/api/v1/admin/staff", json=NEW_ACCOUNT)).status_code == 201
    made = await admin.http.post("/api/v1/staff/canned", json={"team": "south", "language": "sv", "title": "Hälsning",
                                                                "body": "Hej!"})
    canned_id = made.json()["id"]
    changed = await admin.http.put(f"/api/v1/staff/canned/{canned_id}", json={"language": "sv", "title": "Välkommen",
                                                                               "body": "Hej och välkommen!"})
    assert changed.status_code == 200, changed.text
    assert (await admin.http.delete(f"/api/v1/staff/canned/{canned_id}")).status_code == 200
    for team in (None, "north"):
        r = await admin.http.post("/api/v1/admin/hours", json={"date": "2099-12-24", "team": team, "spans": [],
                                                               "label": "Julafton"})
        assert r.status_code == 201, r.text

    entries = await audit(admin)

    assert [(e["action"], e["about"]) for e in entries] == [
        ("hours_override_added", {"name": None, "team": "Ambulanta teamet norr, Mora (exempel)", "date": "2099-12-24"}),
        ("hours_override_added", {"name": None, "team": None, "date": "2099-12-24"}),
        ("canned_deleted", {"name": "Välkommen", "team": None, "date": None}),  # gone: its team is unknown now
        ("canned_updated", {"name": "Välkommen", "team": None, "date": None}),
        ("canned_created", {"name": "Hälsning", "team": None, "date": None}),
        ("staff_created", {"name": "Cleo C", "team": None, "date": None}),
    ]
    assert "Hej" not in str(entries) and "Julafton" not in str(entries)  # bodies and labels are free text


async def test_the_audit_log_is_newest_first_with_a_limit(server: Running, admin: Staff) -> None:
    for name in ("ann", "bea", "cid"):
        assert (await admin.http.post("/api/v1/admin/staff", json={**NEW_ACCOUNT, "username": name})).status_code == 201

    assert [e["target"] for e in await audit(admin)] == ["cid", "bea", "ann"]
    one = await audit(admin, limit=1)
    assert len(one) == 1 and set(one[0]) == {"at", "staff", "action", "conversation_id", "target", "about"}
    for bad in ("0", "1001", "x", "-1"):
        r = await admin.http.get("/api/v1/admin/audit", params={"limit": bad})
        assert (r.status_code, code(r)) == (400, "invalid")


async def test_changing_someones_teams_makes_their_socket_reconnect_into_the_new_teams(
    server: Running, admin: Staff, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert anna.ws is not None

    r = await admin.http.patch("/api/v1/admin/staff/anna", json={"teams": ["reception", "relatives"]})

    assert r.status_code == 200
    assert await anna.ws.closed() == 1013  # try again: the session is still good
    welcome = await anna.connect()
    assert welcome["staff"]["teams"] == ["reception", "relatives"]
    # A conversation in the relatives' queue (put there by a supervisor, whatever the hour) reaches her.
    waiting = await Visitor.start(server.base)
    sara = await make_staff("sara", roles=("supervisor",), connect=False)
    moved = await sara.http.post(f"/api/v1/staff/conversations/{waiting.id}/reassign", json={"team": "relatives"})
    assert moved.status_code == 200 and moved.json()["team"] == "relatives"
    for _ in range(3):
        queue = await anna.ws.expect("queue_update")
        if [(c["conversation_id"], c["team"]) for c in queue["queue"]] == [(waiting.id, "relatives")]:
            break
    else:
        raise AssertionError("the relatives' conversation never reached Anna's queue")


async def test_an_admin_makes_an_auditor_who_reads_the_audit_log_and_gets_no_console(
    server: Running, admin: Staff
) -> None:
    """The auditor role: the audit log (and the team names it mentions), nothing about any conversation; their
    staff socket is closed with 4403 forbidden, and /staff/me says what they may do."""
    r = await admin.http.post("/api/v1/admin/staff", json={**NEW_ACCOUNT, "roles": ["auditor"], "teams": []})
    assert r.status_code == 201, r.text
    auditor = Staff(server.base, "cleo", NEW_ACCOUNT["password"])
    await auditor.login()
    try:
        me = await auditor.http.get("/api/v1/staff/me")
        assert me.json()["can"] == ["session", "teams", "audit_read"]
        assert me.json()["no_team"] is False
        assert (await auditor.http.get("/api/v1/admin/audit")).status_code == 200
        for path in ("/api/v1/staff/queue", "/api/v1/staff/overview", "/api/v1/admin/staff"):
            r = await auditor.http.get(path)
            assert (r.status_code, code(r)) == (403, "forbidden"), path
        cookie = f"mm_staff={auditor.http.cookies['mm_staff']}"
        ws = await WS.open(server.ws + "/ws/staff", origin=server.base, additional_headers={"Cookie": cookie})
        assert (await ws.expect("error"))["code"] == "forbidden"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.conn.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "forbidden")
    finally:
        await auditor.aclose()


async def test_the_audit_page_says_whether_the_chain_verifies(server: Running, admin: Staff) -> None:
    for name in ("ann", "bea", "cid"):
        assert (await admin.http.post("/api/v1/admin/staff", json={**NEW_ACCOUNT, "username": name})).status_code == 201
    # Four entries: the admin's own login, then the three accounts.
    r = await admin.http.get("/api/v1/admin/audit")
    assert r.json()["chain"] == {"ok": True, "entries": 4, "head_seq": 4, "first_broken": None}

    async with server.ctx.engine.begin() as conn:  # someone with database access edits an entry
        await conn.execute(text("UPDATE audit_log SET target = 'zed' WHERE seq = 3"))

    chain = (await admin.http.get("/api/v1/admin/audit")).json()["chain"]
    assert (chain["ok"], chain["entries"], chain["first_broken"]["seq"]) == (False, 2, 3)
    assert "altered" in chain["first_broken"]["problem"]
