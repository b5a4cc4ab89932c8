"""Opening-hours overrides over HTTP (role admin): listed, added, removed and audited; bad dates, spans and
teams refused. What they do to routing is in tests/triage_e2e/test_hours_overrides.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.client import Staff
from tests.conftest import Running, StaffFactory

CHRISTMAS = {"date": "2099-12-24", "team": None, "spans": [], "label": "Julafton"}


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


@pytest.fixture
async def admin(make_staff: StaffFactory) -> Staff:
    return await make_staff("root", roles=("admin",), teams=(), connect=False)


async def overrides(admin: Staff) -> list[dict[str, Any]]:
    r = await admin.http.get("/api/v1/admin/hours")
    assert r.status_code == 200, r.text
    return list(r.json()["overrides"])


async def test_an_admin_adds_lists_and_removes_overrides_and_each_change_is_audited(
    server: Running, admin: Staff
) -> None:
    closed = await admin.http.post("/api/v1/admin/hours", json=CHRISTMAS)
    short = await admin.http.post("/api/v1/admin/hours", json={"date": "2099-12-23", "team": "north",
                                                               "spans": ["13:00-15:00", "09:00-12:00"]})

    assert closed.status_code == 201 and short.status_code == 201, (closed.text, short.text)
    listed = await admin.http.get("/api/v1/admin/hours")
    assert [(o["date"], o["team"], o["spans"], o["label"]) for o in listed.json()["overrides"]] == [
        ("2099-12-23", "north", ["09:00-12:00", "13:00-15:00"], ""),
        ("2099-12-24", None, [], "Julafton"),
    ]
    assert {"id": "north", "name": "Ambulanta teamet norr, Mora (exempel)"} in listed.json()["teams"]

    removed = await admin.http.delete(f"/api/v1/admin/hours/{closed.json()['id']}")

    assert removed.status_code == 200 and removed.json() == {"ok": True}
    assert [o["date"] for o in await overrides(admin)] == ["2099-12-23"]
    again = await admin.http.delete(f"/api/v1/admin/hours/{closed.json()['id']}")
    assert again.status_code == 404
    entries = (await admin.http.get("/api/v1/admin/audit")).json()["entries"]
    assert [(e["action"], e["target"], e["staff"]) for e in entries if e["action"] != "staff_login"] == [
        ("hours_override_removed", "2099-12-24", "root"),
        ("hours_override_added", "2099-12-23 north", "root"),
        ("hours_override_added", "2099-12-24", "root"),
    ]
    assert "Julafton" not in str(entries)  # the label is free text: not in the audit log


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"date": "2020-01-01"}, "invalid"),  # in the past
        ({"date": "2099-02-30"}, "invalid"),
        ({"date": "24/12/2099"}, "invalid"),
        ({"date": "2099-W52-4"}, "invalid"),
        ({"date": 20991224}, "invalid"),
        ({"spans": ["9-12"]}, "invalid"),
        ({"spans": ["12:00-09:00"]}, "invalid"),
        ({"spans": ["09:00-12:00", "11:00-13:00"]}, "invalid"),
        ({"spans": ["09:00-25:00"]}, "invalid"),
        ({"spans": "09:00-12:00"}, "invalid"),
        ({"team": "atlantis"}, "unknown_team"),
        ({"label": "x" * 101}, "invalid"),
        ({"repeat": "yearly"}, "invalid"),  # an unknown field
    ],
)
async def test_bad_overrides_are_refused_with_400(
    server: Running, admin: Staff, changes: dict[str, Any], expected: str
) -> None:
    r = await admin.http.post("/api/v1/admin/hours", json={**CHRISTMAS, **changes})

    assert (r.status_code, code(r)) == (400, expected)
    assert "atlantis" not in r.text and "25:00" not in r.text  # messages never echo input
    assert await overrides(admin) == []


async def test_malformed_json_is_400_and_a_second_override_for_the_same_date_and_team_is_409(
    server: Running, admin: Staff
) -> None:
    bad = await admin.http.post("/api/v1/admin/hours", content=b"{", headers={"Content-Type": "application/json"})
    assert (bad.status_code, code(bad)) == (400, "bad_json")
    assert (await admin.http.post("/api/v1/admin/hours", json=CHRISTMAS)).status_code == 201

    twice = await admin.http.post("/api/v1/admin/hours", json={**CHRISTMAS, "spans": ["10:00-12:00"]})
    other_team = await admin.http.post("/api/v1/admin/hours", json={**CHRISTMAS, "team": "south"})

    assert (twice.status_code, code(twice)) == (409, "conflict")
    assert other_team.status_code == 201
    for path in ("/api/v1/admin/hours/abc", "/api/v1/admin/hours/999999"):
        assert (await admin.http.delete(path)).status_code == 404


async def test_saving_an_override_that_meets_another_of_its_date_returns_the_conflicts_and_which_applies(
    server: Running, admin: Staff
) -> None:
    """Saved either way (201); the answer names the other overrides of that date (every team vs one team,
    different hours) and which of each pair applies; the list marks a team's hours an every-team closure
    overrules."""
    north = await admin.http.post("/api/v1/admin/hours", json={**CHRISTMAS, "team": "north", "spans": ["10:00-14:00"]})
    south = await admin.http.post("/api/v1/admin/hours", json={**CHRISTMAS, "team": "south", "spans": []})
    assert (north.status_code, north.json()["conflicts"]) == (201, [])

    closed = await admin.http.post("/api/v1/admin/hours", json=CHRISTMAS)

    assert closed.status_code == 201, closed.text
    assert closed.json()["applies"] is True
    assert [(c["id"], c["team"], c["spans"], c["applies"]) for c in closed.json()["conflicts"]] == [
        (north.json()["id"], "north", ["10:00-14:00"], False)]  # south's closure agrees: no conflict
    listed = {o["team"]: o["applies"] for o in await overrides(admin)}
    assert listed == {None: True, "north": False, "south": True}

    later = await admin.http.post("/api/v1/admin/hours", json={**CHRISTMAS, "team": "children", "spans": ["09:00-10:00"]})

    assert later.status_code == 201 and later.json()["applies"] is False
    assert [(c["team"], c["applies"]) for c in later.json()["conflicts"]] == [(None, True)]
    other_day = await admin.http.post("/api/v1/admin/hours", json={**CHRISTMAS, "date": "2099-12-23", "team": "north"})
    assert other_day.json()["conflicts"] == []
    assert south.status_code == 201
