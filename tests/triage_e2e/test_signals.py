"""Signals in what a visitor writes and answers: a risk sentence shows the crisis resources at once, makes
the conversation urgent and alerts its team and the reception; a self-test is scored, shown to staff, and
a high score raises the priority. Bad answers are refused without harm; answers are stored encrypted."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.triage_e2e.conftest import NORTH, RECEPTION, RISK_TEXT, Clinic, codes, entry, http_queue, ids, queue_where, ws

# AUDIT item scores (items 1–8: 0–4, items 9–10: 0, 2 or 4); the published score is their sum.
AUDIT_HARMFUL = [4, 3, 3, 2, 1, 1, 0, 0, 2, 0]  # 16: "harmful" in dalarna.toml, which raises priority
AUDIT_LOW = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]  # 2
DUDIT_SOME = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # 2


async def test_risk_sentence_shows_crisis_resources_and_alerts_the_team_and_reception(clinic: Clinic, day: Running) -> None:
    nils = await clinic.staff(day, "nils", ("north",), roles=("ambulant",))
    rut = await clinic.staff(day, "rut", ("reception",), roles=("reception",))
    sara = await clinic.staff(day, "sara", ("south",), roles=("ambulant",))
    visitor = await clinic.visitor(day, **NORTH)

    ack = await visitor.say(RISK_TEXT, "r1")
    crisis = await ws(visitor).expect("crisis")
    frames = ws(visitor).received
    assert frames.index(ack) < frames.index(crisis)
    assert crisis["reason"] == "risk"
    assert [r["number"] for r in crisis["resources"]][:3] == ["112", "90101", "1177"]

    for person in (nils, rut):
        alert = await ws(person).expect("alert", conversation_id=visitor.id)
        assert (alert["team"], alert["categories"], alert["priority"]) == ("north", ["suicide"], 2)
        assert alert["seq"] == ack["seq"]  # the message that carried it, for the console to bring into view
    await ws(sara).nothing_more("alert")
    urgent = entry(await http_queue(nils), visitor.id)
    assert (urgent["priority"], urgent["risk"]) == (2, ["suicide"])
    assert urgent["risk_seq"] == ack["seq"]  # kept: a console opened later marks that message again
    assert codes(urgent["reasons"])[-1] == "risk"
    assert urgent["reasons"][-1]["en"] == "Risk signal in what was written (suicide): urgent"
    # The words themselves are never shown to staff outside the conversation.
    assert RISK_TEXT not in json.dumps(urgent, ensure_ascii=False)
    # Coming back, the visitor is shown the resources again at once.
    await ws(visitor).close()
    welcome = await visitor.connect()
    assert welcome["open"] is True and welcome["crisis"][0]["number"] == "112"


async def test_harmless_message_brings_no_crisis_frame_and_no_alert(clinic: Clinic, day: Running) -> None:
    rut = await clinic.staff(day, "rut", ("reception",), roles=("reception",))
    visitor = await clinic.visitor(day, **RECEPTION)

    await visitor.say("jag vill leva ett bättre liv utan alkohol", "m1")
    await ws(visitor).nothing_more("crisis", within=0.5)
    await ws(rut).nothing_more("alert")
    waiting = entry(await http_queue(rut), visitor.id)
    assert (waiting["priority"], waiting["risk"]) == (0, [])


async def test_audit_is_scored_shown_to_staff_and_a_high_score_raises_priority(clinic: Clinic, day: Running) -> None:
    rut = await clinic.staff(day, "rut", ("reception",), roles=("reception",))
    visitor = await clinic.visitor(day, **RECEPTION, age_band="16-17")

    await ws(visitor).send(type="screening", instrument="audit", answers=AUDIT_HARMFUL)
    result = await ws(visitor).expect("screening_result")
    assert (result["instrument"], result["score"], result["max_score"], result["zone"]) == ("audit", 16, 40, "harmful")
    assert result["explanation"]["sv"] and result["explanation"]["en"]

    queue = await queue_where(rut, lambda q: bool(entry(q, visitor.id)["screening"]) if visitor.id in ids(q) else False)
    seen = entry(queue, visitor.id)
    assert (seen["screening"]["audit"]["score"], seen["screening"]["audit"]["zone"]) == (16, "harmful")
    assert seen["screening"]["audit"]["flagged"] is True  # at or above the young cut-off (5)
    assert seen["priority"] >= 1
    assert codes(seen["reasons"])[-1] == "screening"


async def test_low_score_is_shown_but_does_not_raise_priority(clinic: Clinic, day: Running) -> None:
    rut = await clinic.staff(day, "rut", ("reception",), roles=("reception",))
    visitor = await clinic.visitor(day, **RECEPTION, age_band="18-21")

    await ws(visitor).send(type="screening", instrument="audit", answers=AUDIT_LOW)
    result = await ws(visitor).expect("screening_result")
    assert (result["score"], result["zone"]) == (2, "low")
    queue = await queue_where(rut, lambda q: visitor.id in ids(q) and bool(entry(q, visitor.id)["screening"]))
    seen = entry(queue, visitor.id)
    assert (seen["screening"]["audit"]["score"], seen["priority"]) == (2, 0)


async def test_the_holder_gets_a_screening_frame(clinic: Clinic, day: Running) -> None:
    rut = await clinic.staff(day, "rut", ("reception",), roles=("reception",))
    visitor = await clinic.visitor(day, **RECEPTION, age_band="16-17")
    assert (await rut.claim(visitor.id)).status_code == 200
    await ws(rut).expect("state", conversation_id=visitor.id)

    await ws(visitor).send(type="screening", instrument="dudit", answers=DUDIT_SOME)
    assert (await ws(visitor).expect("screening_result"))["score"] == 2
    shown = await ws(rut).expect("screening", conversation_id=visitor.id)
    assert (shown["instrument"], shown["score"], shown["max_score"], shown["zone"]) == ("dudit", 2, 44, "low")
    assert shown["flagged"] is True  # DUDIT's young cut-off is 2
    assert "answers" not in shown


async def test_invalid_answers_are_refused_and_the_socket_keeps_working(clinic: Clinic, day: Running) -> None:
    visitor = await clinic.visitor(day, **RECEPTION)
    sock = ws(visitor)
    bad = [
        ([0] * 9, "invalid_answers"),  # one short
        ([0] * 8 + [3, 0], "invalid_answers"),  # item 9 allows 0, 2 or 4
        (["1"] * 10, "invalid"),  # numbers as strings
    ]
    for answers, code in bad:
        await sock.send(type="screening", instrument="audit", answers=answers)
        refused = await sock.expect("error")
        assert refused["code"] == code, answers
    await sock.nothing_more("screening_result")
    assert (await visitor.say("hej", "m1"))["seq"] == 1
    async with day.ctx.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM screenings"))).scalar_one() == 0


@pytest.mark.parametrize(
    "who",
    [
        {"role": "relative"},
        {"role": "family", "age_band": "6-12"},
        {"role": "family"},
        {"role": "young", "age_band": "6-12"},
    ],
    ids=["relative", "child-worried-about-family", "worried-about-family-age-unsaid", "child-under-13"],
)
async def test_the_self_tests_are_not_for_children_under_13_or_relatives(
    clinic: Clinic, day: Running, who: dict[str, str]
) -> None:
    """AUDIT and DUDIT ask about one's own use: the welcome offers none, and a screening frame anyway is
    refused with its own code (the socket stays open), nothing stored."""
    visitor = await clinic.visitor(day, connect=False, **who)
    welcome = await visitor.connect()
    assert welcome["self_tests"] == []
    await ws(visitor).send(type="screening", instrument="audit", answers=AUDIT_LOW)
    refused = await ws(visitor).expect("error")
    assert refused["code"] == "self_test_not_for_you"
    assert "children under 13 or to relatives" in refused["message"]
    assert (await visitor.say("hej", "m1"))["seq"] == 1
    async with day.ctx.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM screenings"))).scalar_one() == 0


@pytest.mark.parametrize("age_band", ["13-15", None])
async def test_a_young_person_13_or_older_or_of_unsaid_age_is_offered_the_self_tests(
    clinic: Clinic, day: Running, age_band: str | None
) -> None:
    visitor = await clinic.visitor(day, connect=False, **RECEPTION, **({"age_band": age_band} if age_band else {}))
    assert (await visitor.connect())["self_tests"] == ["audit", "dudit"]


async def test_answers_are_not_stored_in_clear(clinic: Clinic, day: Running) -> None:
    visitor = await clinic.visitor(day, **RECEPTION)
    await ws(visitor).send(type="screening", instrument="audit", answers=AUDIT_HARMFUL)
    await ws(visitor).expect("screening_result")

    async with day.ctx.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT instrument, result, answers FROM screenings"))).all()
    assert [r[0] for r in rows] == ["audit"]
    assert b"harmful" not in bytes(rows[0][1])  # the score and zone are sealed too (tests/crypto/test_sealed_health.py)
    stored = bytes(rows[0][2])
    for form in (json.dumps(AUDIT_HARMFUL), json.dumps(AUDIT_HARMFUL, separators=(",", ":")), "4, 3, 3, 2, 1"):
        assert form.encode() not in stored
    assert len(stored) > len(json.dumps(AUDIT_HARMFUL))  # sealed: nonce and tag besides the ciphertext
