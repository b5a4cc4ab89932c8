"""Transfers: from the reception to a team's queue or straight to a named counsellor, with a note the
receiver finds beside the history; the visitor is told; the former holder lets go; bad requests refused."""

from __future__ import annotations

from tests.client import Staff, Visitor
from tests.conftest import Running
from tests.fault.flow import settle
from tests.triage_e2e.conftest import RECEPTION, Clinic, act, codes, error_code, http_queue, ids, ws

NOTE = "Vill prata om cannabis, bor i Mora. Har pratat med mamma."


async def _chatting(clinic: Clinic, server: Running) -> tuple[Visitor, Staff]:
    """A visitor in the reception whose conversation Rut has claimed, with one message each way."""
    rut = await clinic.staff(server, "rut", ("reception",), roles=("reception",))
    visitor = await clinic.visitor(server, **RECEPTION)
    assert (await rut.claim(visitor.id)).status_code == 200
    await ws(visitor).expect("state", state="active")
    await visitor.say("hej, jag bor i Mora", "v1")
    await rut.say(visitor.id, "Hej! Jag kopplar dig till teamet i norr.", "s1")
    await ws(visitor).expect("msg", seq=2)
    return visitor, rut


async def test_transfer_to_north_with_a_note(clinic: Clinic, day: Running) -> None:
    nils = await clinic.staff(day, "nils", ("north",), roles=("ambulant",))
    visitor, rut = await _chatting(clinic, day)

    moved = await act(rut, visitor.id, "transfer", {"team": "north", "note": NOTE})
    assert moved.status_code == 200 and (moved.json()["team"], moved.json()["state"]) == ("north", "queued")

    line = await ws(visitor).expect("msg", seq=3)
    assert line["from"] == "system"
    assert line["text"].startswith("Samtalet har lämnats över till Ambulanta teamet norr")
    assert (await ws(visitor).expect("state"))["state"] == "queued"
    assert (await ws(rut).expect("released"))["conversation_id"] == visitor.id

    offer = await ws(nils).expect("offer", conversation_id=visitor.id)
    assert codes(offer["conversation"]["reasons"])[-1] == "transfer"
    assert (await act(nils, visitor.id, "accept")).status_code == 200
    history = [await ws(nils).expect("msg", conversation_id=visitor.id, seq=n) for n in (1, 2, 3)]
    assert [(m["from"], m["text"]) for m in history[:2]] == [
        ("visitor", "hej, jag bor i Mora"), ("staff", "Hej! Jag kopplar dig till teamet i norr.")
    ]
    notes = await ws(nils).expect("notes", conversation_id=visitor.id)
    assert [(n["kind"], n["author"], n["text"]) for n in notes["notes"]] == [("transfer", "Rut", NOTE)]
    r = await nils.http.get(f"/api/v1/staff/conversations/{visitor.id}/notes")
    assert [n["text"] for n in r.json()["notes"]] == [NOTE]
    assert (await ws(visitor).expect("state", state="active"))["staff"] == "Nils"
    # The visitor never sees the note.
    assert all(NOTE not in str(f) for f in ws(visitor).received)


async def test_transfer_to_a_named_counsellor_hands_it_over_directly(clinic: Clinic, day: Running) -> None:
    visitor, rut = await _chatting(clinic, day)
    bo = await clinic.staff(day, "bo", ("reception",), roles=("reception",))

    moved = await act(rut, visitor.id, "transfer", {"staff": "bo", "note": NOTE})
    assert moved.status_code == 200 and moved.json()["state"] == "active"

    adopted = await ws(bo).expect("state", conversation_id=visitor.id)
    assert (adopted["state"], adopted["staff"]) == ("active", "Bo")
    assert [(await ws(bo).expect("msg", seq=n))["seq"] for n in (1, 2, 3)] == [1, 2, 3]
    assert (await ws(bo).expect("notes"))["notes"][0]["text"] == NOTE
    joined = await ws(visitor).expect("msg", seq=3)
    assert (joined["from"], joined["text"]) == ("system", "Bo har anslutit till samtalet.")
    assert (await ws(visitor).expect("state", state="active"))["staff"] == "Bo"
    assert (await ws(rut).expect("released"))["conversation_id"] == visitor.id
    assert visitor.id not in ids(await http_queue(bo))

    await visitor.say("är du kvar?", "v2")
    assert (await ws(bo).expect("msg", seq=4))["text"] == "är du kvar?"
    await bo.say(visitor.id, "Ja, det är Bo nu.", "b1")
    await ws(visitor).expect("msg", seq=5)
    await settle(ws(rut))
    assert [m["seq"] for m in ws(rut).messages(visitor.id)] == [1, 2]  # nothing after the hand-over
    await ws(rut).send(type="msg", conversation_id=visitor.id, client_msg_id="s2", text="hallå?")
    refused = await ws(rut).expect("error", client_msg_id="s2")
    assert refused["code"] == "not_claimed"


async def test_bad_transfers_are_refused(clinic: Clinic, day: Running) -> None:
    visitor, rut = await _chatting(clinic, day)
    bo = await clinic.staff(day, "bo", ("reception",), roles=("reception",))

    cases = [
        (rut, {"team": "north", "staff": "bo", "note": ""}, 400, "invalid"),
        (rut, {"note": "vart?"}, 400, "invalid"),
        (rut, {"team": "stockholm", "note": ""}, 400, "unknown_team"),
        (rut, {"staff": "nobody", "note": ""}, 400, "unknown_staff"),
        (bo, {"team": "north", "note": ""}, 403, "not_claimed"),
    ]
    for person, body, status, code in cases:
        r = await act(person, visitor.id, "transfer", body)
        assert (r.status_code, error_code(r)) == (status, code), body

    queued = await clinic.visitor(day, **RECEPTION)
    r = await act(rut, queued.id, "transfer", {"team": "north", "note": ""})
    assert (r.status_code, error_code(r)) == (409, "not_claimed")
    # None of them moved anything: Rut still holds it, and the first system line is the real transfer's.
    again = await act(rut, visitor.id, "transfer", {"team": "north", "note": ""})
    assert again.status_code == 200
    await ws(visitor).expect("msg", seq=3)
    assert [(m["seq"], m["from"]) for m in ws(visitor).messages()] == [(1, "visitor"), (2, "staff"), (3, "system")]


async def test_put_back_in_the_queue_the_visitor_is_told_their_place_again(clinic: Clinic, day: Running) -> None:
    """Rut hands the conversation back to the reception's queue (for a colleague): the visitor, queued again,
    gets their place in line even though it is the same place they had before Rut took it."""
    visitor, rut = await _chatting(clinic, day)
    before = ws(visitor).received[0]["queue"]  # from the welcome, while waiting the first time

    assert (await act(rut, visitor.id, "transfer", {"team": "reception", "note": ""})).status_code == 200

    await ws(visitor).expect("state", state="queued")
    place = await ws(visitor).expect("queue")
    assert place["position"] == 1 and place["estimated_wait_s"] > 0
    assert (place["position"], place["estimated_wait_s"]) == (before["position"], before["estimated_wait_s"])
