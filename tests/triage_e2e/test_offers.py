"""Offers in an "offer" team (Dalarna's north): one available member at a time is offered a waiting
conversation; accepting takes it, declining or letting it run out offers it to the next person, and it
never leaves the queue unseen."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from tests.conftest import Running
from tests.triage_e2e.conftest import (
    NORTH,
    TUESDAY_2330,
    Clinic,
    Clock,
    act,
    dalarna_with,
    entry,
    error_code,
    first_offer,
    http_queue,
    present,
    ws,
)


async def _pending_offers(server: Running, conversation_id: str) -> list[tuple[int, str]]:
    async with server.ctx.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT staff_id, outcome FROM offers WHERE conversation_id = :c ORDER BY id"), {"c": conversation_id}
        )
        return [(int(r[0]), str(r[1])) for r in rows]


async def test_an_available_member_is_offered_it_and_accepting_makes_it_theirs(
    clinic: Clinic, day: Running, clock: Clock
) -> None:
    anna = await clinic.staff(day, "anna", ("north",), roles=("ambulant",))
    visitor = await clinic.visitor(day, **NORTH)

    offer = await ws(anna).expect("offer", conversation_id=visitor.id)
    expires = datetime.fromisoformat(offer["expires_at"])
    assert timedelta(seconds=50) < expires - clock() <= timedelta(seconds=60)  # north's offer_timeout_s
    assert offer["conversation"]["team"] == "north" and offer["conversation"]["municipality"] == "2062"

    accepted = await act(anna, visitor.id, "accept")
    assert accepted.status_code == 200 and accepted.json()["state"] == "active"
    state = await ws(visitor).expect("state")
    assert (state["state"], state["staff"]) == ("active", "Anna")
    await visitor.say("hej", "v1")
    assert (await ws(anna).expect("msg", seq=1))["text"] == "hej"
    assert [outcome for _, outcome in await _pending_offers(day, visitor.id)] == ["accepted"]


async def test_declined_offer_goes_to_the_next_member(clinic: Clinic, day: Running) -> None:
    anna = await clinic.staff(day, "anna", ("north",), roles=("ambulant",))
    bo = await clinic.staff(day, "bo", ("north",), roles=("ambulant",))
    visitor = await clinic.visitor(day, **NORTH)
    first, _ = await first_offer(anna, bo)
    second = bo if first is anna else anna

    assert (await act(first, visitor.id, "decline")).status_code == 200

    withdrawn = await ws(first).expect("offer_withdrawn", conversation_id=visitor.id)
    assert withdrawn["reason"] == "declined"
    await ws(second).expect("offer", conversation_id=visitor.id)
    late = await act(first, visitor.id, "accept")
    assert (late.status_code, error_code(late)) == (409, "offer_ended")
    assert (await act(second, visitor.id, "accept")).status_code == 200
    assert (await ws(visitor).expect("state"))["staff"] == second.username.title()


async def test_offer_that_runs_out_goes_to_the_next_member(clinic: Clinic, clock: Clock, tmp_path: Path) -> None:
    # Dalarna with offers that run out after 5 s (the config's minimum) instead of 60.
    region = dalarna_with(tmp_path, ("offer_timeout_s = 60", "offer_timeout_s = 5"))
    assert region.team("north").offer_timeout_s == 5  # type: ignore[union-attr]
    server = await clinic.open(clock, region)
    anna = await clinic.staff(server, "anna", ("north",), roles=("ambulant",))
    bo = await clinic.staff(server, "bo", ("north",), roles=("ambulant",))
    visitor = await clinic.visitor(server, **NORTH)
    first, offer = await first_offer(anna, bo)
    second = bo if first is anna else anna
    assert datetime.fromisoformat(offer["expires_at"]) - clock() <= timedelta(seconds=5)

    withdrawn = await ws(first).expect("offer_withdrawn", timeout=8, conversation_id=visitor.id)
    assert withdrawn["reason"] == "expired"
    await ws(second).expect("offer", timeout=3, conversation_id=visitor.id)
    assert [outcome for _, outcome in await _pending_offers(server, visitor.id)] == ["expired", "pending"]


async def test_busy_or_away_members_are_never_offered(clinic: Clinic, day: Running) -> None:
    """Anna (busy) and Bo (away) come first by every tie-break; Carl, available, is the one offered."""
    anna = await clinic.staff(day, "anna", ("north",), roles=("ambulant",))
    bo = await clinic.staff(day, "bo", ("north",), roles=("ambulant",))
    carl = await clinic.staff(day, "carl", ("north",), roles=("ambulant",))
    await present(anna, "busy")
    await present(bo, "away")
    visitors = [await clinic.visitor(day, **NORTH) for _ in range(2)]

    offer = await ws(carl).expect("offer")
    assert offer["conversation_id"] == visitors[0].id
    await ws(anna).nothing_more("offer")
    await ws(bo).nothing_more("offer")
    # Carl has one open offer, so the second visitor waits for him: still not offered to the others.
    assert (await act(carl, visitors[0].id, "accept")).status_code == 200
    assert (await ws(carl).expect("offer"))["conversation_id"] == visitors[1].id
    await ws(anna).nothing_more("offer")
    await ws(bo).nothing_more("offer")


async def test_after_everyone_declines_it_stays_in_the_queue_and_is_offered_again(clinic: Clinic, day: Running) -> None:
    anna = await clinic.staff(day, "anna", ("north",), roles=("ambulant",))
    bo = await clinic.staff(day, "bo", ("north",), roles=("ambulant",))
    visitor = await clinic.visitor(day, **NORTH)

    first, _ = await first_offer(anna, bo)
    assert (await act(first, visitor.id, "decline")).status_code == 200
    second, _ = await first_offer(anna, bo)
    assert second is not first
    assert (await act(second, visitor.id, "decline")).status_code == 200

    again, _ = await first_offer(anna, bo)
    waiting = entry(await http_queue(again), visitor.id)
    assert (waiting["state"], waiting["team"]) == ("queued", "north")
    assert (await act(again, visitor.id, "accept")).status_code == 200
    assert (await ws(visitor).expect("state"))["state"] == "active"


async def test_claim_of_a_conversation_on_offer_to_someone_else_gets_409(clinic: Clinic, day: Running) -> None:
    anna = await clinic.staff(day, "anna", ("north",), roles=("ambulant",))
    visitor = await clinic.visitor(day, **NORTH)
    await ws(anna).expect("offer", conversation_id=visitor.id)
    bo = await clinic.staff(day, "bo", ("north",), roles=("ambulant",))

    refused = await bo.claim(visitor.id)
    assert (refused.status_code, error_code(refused)) == (409, "offered_elsewhere")
    assert (await act(anna, visitor.id, "accept")).status_code == 200
    late = await bo.claim(visitor.id)
    assert (late.status_code, error_code(late)) == (409, "already_claimed")


async def test_an_offer_to_someone_who_goes_offline_goes_to_the_next_member_at_once(clinic: Clinic, day: Running) -> None:
    """Not after the 60 s timeout: the conversation must not wait on a console that is gone."""
    anna = await clinic.staff(day, "anna", ("north",), roles=("ambulant",))
    visitor = await clinic.visitor(day, **NORTH)
    await ws(anna).expect("offer", conversation_id=visitor.id)
    bo = await clinic.staff(day, "bo", ("north",), roles=("ambulant",))
    await ws(bo).nothing_more("offer")  # Anna holds the offer while she is there

    await ws(anna).close()

    await ws(bo).expect("offer", timeout=5, conversation_id=visitor.id)
    assert [outcome for _, outcome in await _pending_offers(day, visitor.id)] == ["withdrawn", "pending"]


async def test_a_closed_teams_queue_is_not_offered_to_a_member_online_at_night(clinic: Clinic, clock: Clock) -> None:
    clock.set(TUESDAY_2330)
    server = await clinic.open(clock)
    visitor = await clinic.visitor(server, **NORTH)  # north is closed: it waits in north's queue for the morning
    anna = await clinic.staff(server, "anna", ("north",), roles=("ambulant",))

    await ws(anna).nothing_more("offer", within=2.5)  # two dispatcher rounds at least
    waiting = entry(await http_queue(anna), visitor.id)
    assert (waiting["team"], waiting["offered_to"]) == ("north", None)


async def test_busy_is_kept_across_a_reload_and_on_every_device(clinic: Clinic, day: Running) -> None:
    anna = await clinic.staff(day, "anna", ("north",), roles=("ambulant",))
    await present(anna, "busy")
    await ws(anna).close()

    welcome = await anna.connect()  # the console reloaded

    assert welcome["staff"]["status"] == "busy"
    visitor = await clinic.visitor(day, **NORTH)
    await ws(anna).nothing_more("offer", within=2.5)
    # Routing respects it: with nobody in north available, the conversation overflowed to reception.
    async with day.ctx.engine.connect() as conn:
        team = (await conn.execute(text("SELECT team FROM conversations WHERE id = :c"), {"c": visitor.id})).scalar_one()
    assert team == "reception"
