"""Canned answers: everyone reads their own teams' (a supervisor or an admin every team's); a lead changes
their own teams', an admin any team's; every change is audited with the answer's id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.client import Staff
from tests.conftest import Running, StaffFactory

HELLO = {"team": "north", "language": "sv", "title": "Hälsning", "body": "Hej! Vad roligt att du skriver."}


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


async def add(who: Staff, **changes: Any) -> httpx.Response:
    return await who.http.post("/api/v1/staff/canned", json={**HELLO, **changes})


async def canned(who: Staff) -> dict[str, Any]:
    r = await who.http.get("/api/v1/staff/canned")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def audit(admin: Staff) -> list[tuple[str, str]]:
    entries = (await admin.http.get("/api/v1/admin/audit")).json()["entries"]
    return [(e["action"], e["target"]) for e in entries if not e["action"].startswith("staff_login")]


async def test_a_lead_adds_changes_and_removes_their_teams_answers(server: Running, make_staff: StaffFactory) -> None:
    lena = await make_staff("lena", roles=("counsellor", "lead"), teams=("north",), connect=False)
    root = await make_staff("root", roles=("admin",), teams=(), connect=False)

    made = await add(lena)
    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in ("team", "language", "title", "body", "updated_by")} == {**HELLO, "updated_by": "lena"}
    changed = await lena.http.put(f"/api/v1/staff/canned/{body['id']}",
                                  json={"language": "en", "title": "Greeting", "body": "Hi! Glad you wrote."})
    assert changed.status_code == 200 and (changed.json()["title"], changed.json()["language"]) == ("Greeting", "en")
    listed = await canned(lena)
    assert [(c["id"], c["title"]) for c in listed["canned"]] == [(body["id"], "Greeting")]
    assert listed["editable"] == ["north"]

    removed = await lena.http.delete(f"/api/v1/staff/canned/{body['id']}")

    assert removed.status_code == 200 and removed.json() == {"ok": True}
    assert (await canned(lena))["canned"] == []
    cid = str(body["id"])
    assert await audit(root) == [("canned_deleted", cid), ("canned_updated", cid), ("canned_created", cid)]


async def test_each_person_reads_their_own_teams_answers_and_supervisors_and_admins_all(
    server: Running, make_staff: StaffFactory
) -> None:
    root = await make_staff("root", roles=("admin",), teams=(), connect=False)
    for team in ("north", "south", "reception"):
        assert (await add(root, team=team, title=f"för {team}")).status_code == 201
    nils = await make_staff("nils", roles=("ambulant",), teams=("north",), connect=False)
    boss = await make_staff("boss", roles=("supervisor",), teams=("reception",), connect=False)

    mine = await canned(nils)
    everything = await canned(boss)
    as_admin = await canned(root)

    assert [c["team"] for c in mine["canned"]] == ["north"] and mine["editable"] == []
    assert sorted(c["team"] for c in everything["canned"]) == ["north", "reception", "south"]
    assert everything["editable"] == []
    assert len(as_admin["canned"]) == 3
    assert set(as_admin["editable"]) == {t["id"] for t in (await root.http.get("/api/v1/staff/teams")).json()["teams"]}


async def test_a_lead_may_not_touch_another_teams_answers(server: Running, make_staff: StaffFactory) -> None:
    root = await make_staff("root", roles=("admin",), teams=(), connect=False)
    south = (await add(root, team="south")).json()
    lena = await make_staff("lena", roles=("lead",), teams=("north",), connect=False)

    created = await add(lena, team="south")
    changed = await lena.http.put(f"/api/v1/staff/canned/{south['id']}",
                                  json={"language": "sv", "title": "x", "body": "y"})
    removed = await lena.http.delete(f"/api/v1/staff/canned/{south['id']}")

    assert [(r.status_code, code(r)) for r in (created, changed, removed)] == [(403, "forbidden")] * 3
    assert [(c["title"], c["body"]) for c in (await canned(root))["canned"]] == [(HELLO["title"], HELLO["body"])]
    assert await audit(root) == [("canned_created", str(south["id"]))]


async def test_someone_without_the_lead_role_may_not_change_answers(server: Running, make_staff: StaffFactory) -> None:
    nils = await make_staff("nils", roles=("ambulant", "supervisor"), teams=("north",), connect=False)
    r = await add(nils)
    assert (r.status_code, code(r)) == (403, "forbidden")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**HELLO, "team": "atlantis"}, "unknown_team"),
        ({**HELLO, "language": "de"}, "invalid"),
        ({**HELLO, "title": ""}, "invalid"),
        ({**HELLO, "title": "x" * 101}, "invalid"),
        ({**HELLO, "body": "x" * 4001}, "invalid"),
        ({**HELLO, "pinned": True}, "invalid"),  # an unknown field
        ({k: v for k, v in HELLO.items() if k != "body"}, "invalid"),
        (b"{nope", "bad_json"),
    ],
)
async def test_bad_answers_are_refused_with_400(
    server: Running, make_staff: StaffFactory, body: dict[str, Any] | bytes, expected: str
) -> None:
    root = await make_staff("root", roles=("admin",), teams=(), connect=False)
    if isinstance(body, bytes):
        r = await root.http.post("/api/v1/staff/canned", content=body, headers={"Content-Type": "application/json"})
    else:
        r = await root.http.post("/api/v1/staff/canned", json=body)
    assert (r.status_code, code(r)) == (400, expected)
    assert (await canned(root))["canned"] == []


async def test_unknown_ids_are_404_and_nobody_logged_in_is_401(server: Running, make_staff: StaffFactory) -> None:
    root = await make_staff("root", roles=("admin",), teams=(), connect=False)
    edit = {"language": "sv", "title": "x", "body": "y"}

    for path in ("/api/v1/staff/canned/999", "/api/v1/staff/canned/abc", "/api/v1/staff/canned/-1"):
        assert (await root.http.put(path, json=edit)).status_code == 404
        assert (await root.http.delete(path)).status_code == 404
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as anonymous:
        assert (await anonymous.get("/api/v1/staff/canned")).status_code == 401
        assert (await anonymous.post("/api/v1/staff/canned", json=HELLO)).status_code == 401
    no_csrf = await root.http.post("/api/v1/staff/canned", json=HELLO, headers={"X-CSRF-Token": "wrong"})
    assert (no_csrf.status_code, code(no_csrf)) == (403, "csrf_failed")
