"""What the staff console reads besides the queue: earlier parts of a re-opened conversation (listed
freely, read only audited), the close outcomes, crisis lines by municipality, and the supervisor's
overview and reassign."""

from __future__ import annotations

import typing
from dataclasses import replace
from datetime import UTC, datetime

import httpx
from sqlalchemy import text

from chat.service import outcomes, routing
from chat.web import frames
from tests.client import Staff, Visitor
from tests.conftest import Running, StaffFactory
from triage import load_region
from triage.region import CrisisResource


async def _closed_and_returned(server: Running, anna: Staff, v: Visitor) -> Visitor:
    """Anna talks with the visitor and closes; the visitor comes back with the return code."""
    assert (await anna.claim(v.id)).status_code == 200
    await v.say("Första gången: jag dricker för mycket på helgerna", "v1")
    await anna.say(v.id, "Tack för att du skriver. Berätta mer.", "s1")
    closed = await anna.http.post(f"/api/v1/staff/conversations/{v.id}/close", json={"outcome": "booked_visit"})
    assert closed.status_code == 200
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post("/api/v1/conversations", json={"return_code": v.started["return_code"]})
    assert r.status_code == 201 and r.json()["reopened"] is True
    # Offered first to Anna, who had it; she declines, so it waits in the queue for anyone.
    assert (await anna.http.post(f"/api/v1/staff/conversations/{v.id}/decline")).status_code == 200
    back = Visitor(server.base, r.json())
    await back.connect()
    await back.say("Hej igen, det har blivit värre", "v2")
    return back


async def test_a_new_holder_sees_only_the_new_part_live_and_reads_the_earlier_part_audited(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    back = await _closed_and_returned(server, anna, visitor)
    bo = await make_staff("bo")
    assert (await bo.claim(visitor.id)).status_code == 200

    # Live, Bo gets what was said after the return, not the earlier part.
    live = await bo.ws.expect("msg", text="Hej igen, det har blivit värre")  # type: ignore[union-attr]
    assert live["seq"] > 2
    assert [m["text"] for m in bo.ws.messages(visitor.id)].count("Första gången: jag dricker för mycket på helgerna") == 0  # type: ignore[union-attr]
    # The earlier part is listed without content and without an audit entry...
    listed = await bo.http.get(f"/api/v1/staff/conversations/{visitor.id}/earlier")
    assert listed.status_code == 200
    [part] = listed.json()["parts"]
    assert (part["part"], part["from_seq"], part["outcome"], part["staff"]) == (1, 1, "booked_visit", "Anna")
    assert part["to_seq"] >= 2 and part["closed_at"] is not None
    async with server.ctx.engine.connect() as conn:
        reads = "SELECT count(*) FROM audit_log WHERE action = 'earlier_part_read' AND conversation_id = :c"
        assert (await conn.execute(text(reads), {"c": visitor.id})).scalar_one() == 0
    # ...and reading it is audited first, and shows that part's messages only.
    opened = await bo.http.get(f"/api/v1/staff/conversations/{visitor.id}/earlier/1")
    assert opened.status_code == 200 and opened.json()["audited"] is True
    texts = [m["text"] for m in opened.json()["messages"]]
    assert "Första gången: jag dricker för mycket på helgerna" in texts
    assert "Hej igen, det har blivit värre" not in texts
    async with server.ctx.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT staff_id FROM audit_log WHERE action = 'earlier_part_read' "
                                        "AND conversation_id = :c"), {"c": visitor.id})).all()
    assert [r[0] for r in rows] == [2]
    assert back.ws is not None
    await back.ws.close()


async def test_earlier_parts_are_for_the_holder_and_bad_parts_are_refused(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    back = await _closed_and_returned(server, anna, visitor)
    cecilia = await make_staff("cecilia")
    path = f"/api/v1/staff/conversations/{visitor.id}/earlier"

    assert (await cecilia.http.get(path)).status_code == 404  # nobody holds it yet; not hers
    assert (await cecilia.claim(visitor.id)).status_code == 200
    assert (await cecilia.http.get(path + "/2")).status_code == 404
    bad = await cecilia.http.get(path + "/x1")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid")
    assert (await cecilia.http.get("/api/v1/staff/conversations/nope/earlier")).status_code == 404
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.get(path)).status_code == 401
    assert back.ws is not None
    await back.ws.close()


async def test_a_conversation_never_reopened_has_no_earlier_parts(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert (await anna.claim(visitor.id)).status_code == 200
    r = await anna.http.get(f"/api/v1/staff/conversations/{visitor.id}/earlier")
    assert r.json() == {"parts": []}


async def test_the_outcomes_listed_are_exactly_those_close_accepts(server: Running, make_staff: StaffFactory) -> None:
    anna = await make_staff("anna", connect=False)
    listed = (await anna.http.get("/api/v1/staff/outcomes")).json()["outcomes"]
    accepted = typing.get_args(frames.CloseBody.model_fields["outcome"].annotation)
    assert [o["id"] for o in listed] == list(accepted)
    assert all(o["sv"] and o["en"] for o in listed)
    assert listed[0] == {"id": "advice_given", "sv": outcomes.OUTCOMES[0][1], "en": outcomes.OUTCOMES[0][2]}


async def test_crisis_lines_for_a_municipality(server: Running, make_staff: StaffFactory) -> None:
    anna = await make_staff("anna", connect=False)
    every = (await anna.http.get("/api/v1/staff/crisis")).json()["crisis"]
    falun = (await anna.http.get("/api/v1/staff/crisis?municipality=2080")).json()["crisis"]
    assert every[0]["number"] == "112" and falun == every  # Dalarna's bundled list has no local lines
    bad = await anna.http.get("/api/v1/staff/crisis?municipality=9999")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid")


def test_a_local_crisis_line_is_listed_only_for_its_municipalities() -> None:
    region = load_region()
    local = CrisisResource(name="Socialjouren Falun", number="023-00 00 00", text={"sv": "jour", "en": "on call"},
                           municipalities=frozenset({"2080"}))
    region = replace(region, crisis=(*region.crisis, local))
    at = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert "Socialjouren Falun" in [c["name"] for c in routing.crisis(region, at, "2080")]
    assert "Socialjouren Falun" not in [c["name"] for c in routing.crisis(region, at, "2081")]
    assert "Socialjouren Falun" not in [c["name"] for c in routing.crisis(region, at)]


async def test_a_supervisor_reassigns_a_waiting_conversation_to_a_named_counsellor(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    sara = await make_staff("sara", roles=("supervisor",))
    anna = await make_staff("anna")
    r = await sara.http.post(f"/api/v1/staff/conversations/{visitor.id}/reassign",
                             json={"staff": "anna", "note": "Anna känner igen ärendet"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "active"
    adopted = await anna.ws.expect("state", conversation_id=visitor.id, state="active")  # type: ignore[union-attr]
    # The summary comes with it: Anna's page never had this conversation in her queue.
    assert (adopted["summary"]["conversation_id"], adopted["summary"]["role"]) == (visitor.id, "young")
    assert visitor.ws is not None
    await visitor.ws.expect("state", state="active")
    # Anna holds it: she can answer, and the visitor gets it.
    await anna.say(visitor.id, "Hej, jag heter Anna.", "a1")
    await visitor.ws.expect("msg", text="Hej, jag heter Anna.")
    notes = (await anna.http.get(f"/api/v1/staff/conversations/{visitor.id}/notes")).json()["notes"]
    assert [(n["kind"], n["text"]) for n in notes] == [("transfer", "Anna känner igen ärendet")]


async def test_a_waiting_conversation_moved_to_another_team_keeps_its_place_in_time(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    sara = await make_staff("sara", roles=("supervisor",))
    async with server.ctx.engine.connect() as conn:
        before = (await conn.execute(text("SELECT queued_at FROM conversations"))).scalar_one()
    r = await sara.http.post(f"/api/v1/staff/conversations/{visitor.id}/reassign", json={"team": "relatives"})
    assert r.status_code == 200 and (r.json()["state"], r.json()["team"]) == ("queued", "relatives")
    async with server.ctx.engine.connect() as conn:
        after = (await conn.execute(text("SELECT queued_at FROM conversations"))).scalar_one()
    assert after == before


async def test_only_a_supervisor_reassigns_and_bad_targets_are_refused(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    sara = await make_staff("sara", roles=("supervisor",))
    path = f"/api/v1/staff/conversations/{visitor.id}/reassign"

    assert (await anna.http.post(path, json={"staff": "anna"})).status_code == 403
    both = await sara.http.post(path, json={"staff": "anna", "team": "reception"})
    assert (both.status_code, both.json()["error"]["code"]) == (400, "invalid")
    nobody = await sara.http.post(path, json={"staff": "nobody"})
    assert (nobody.status_code, nobody.json()["error"]["code"]) == (400, "unknown_staff")
    no_team = await sara.http.post(path, json={"team": "mars"})
    assert (no_team.status_code, no_team.json()["error"]["code"]) == (400, "unknown_team")
    assert (await sara.http.post("/api/v1/staff/conversations/nope/reassign", json={"team": "reception"})).status_code == 404
    junk = await sara.http.post(path, content=b"{nope", headers={"Content-Type": "application/json"})
    assert (junk.status_code, junk.json()["error"]["code"]) == (400, "bad_json")


async def test_the_overview_shows_queues_waits_and_who_is_online_with_load(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    sara = await make_staff("sara", roles=("supervisor",))
    anna = await make_staff("anna")
    second = await Visitor.start(server.base)
    assert (await anna.claim(second.id)).status_code == 200

    r = await sara.http.get("/api/v1/staff/overview")
    assert r.status_code == 200
    body = r.json()
    reception = next(t for t in body["teams"] if t["id"] == "reception")
    assert reception["waiting"] == 1 and reception["longest_wait_s"] >= 0
    # Whether the team needs a supervisor is decided by the server (triage/attention.py), with the target.
    assert reception["target_wait_s"] == 300 and isinstance(reception["attention"], list)
    assert [c["conversation_id"] for c in body["queue"]] == [visitor.id]
    people = {p["username"]: p for p in body["staff"]}
    assert people["anna"]["open_chats"] == 1 and people["anna"]["status"] == "available"
    assert "sara" in people
    assert [(c["conversation_id"], c["holder"]) for c in body["active"]] == [(second.id, "Anna")]
    assert (await anna.http.get("/api/v1/staff/overview")).status_code == 403


async def test_anyone_online_can_be_named_in_a_handover_whatever_their_team(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    await make_staff("bo", roles=("counsellor",), teams=("relatives",))
    people = (await anna.http.get("/api/v1/staff/presence")).json()["online"]
    assert {p["username"] for p in people} == {"anna", "bo"}
    assert (await anna.claim(visitor.id)).status_code == 200
    moved = await anna.http.post(f"/api/v1/staff/conversations/{visitor.id}/transfer", json={"staff": "bo", "note": "x"})
    assert moved.status_code == 200 and moved.json()["team"] == "relatives"
    assert "language" in moved.json() and moved.json()["language"] == "sv"


async def test_the_former_holder_stops_following_when_a_return_code_reopens(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    back = await _closed_and_returned(server, anna, visitor)
    assert anna.ws is not None
    released = await anna.ws.expect("released", conversation_id=visitor.id)
    assert released["reason"] == "reopened"
    # What the young person says in the new part reaches whoever takes it, not Anna's open console.
    bo = await make_staff("bo")
    assert (await bo.claim(visitor.id)).status_code == 200
    await back.say("det här är bara till den som har samtalet nu", "v3")
    await bo.ws.expect("msg", text="det här är bara till den som har samtalet nu")  # type: ignore[union-attr]
    await anna.ws.nothing_more("msg", text="det här är bara till den som har samtalet nu")
    assert back.ws is not None
    await back.ws.close()
