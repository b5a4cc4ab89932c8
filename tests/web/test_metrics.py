"""GET /metrics over real HTTP, with a real chat over the sockets: only behind MINIMARIA_METRICS_TOKEN, every
family present and moving with what happened, and no label value that names a person or a conversation.
On SQLite + memory bus and on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chat.errors import Code
from chat.service import routing
from chat.settings import Settings
from chat.store import conversations as conv_store
from tests.client import Visitor
from tests.conftest import Running, StaffFactory, serve

TOKEN = "a-long-random-metrics-token-for-the-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
FAMILIES = {
    "minimaria_open_sockets", "minimaria_messages_stored", "minimaria_ack_latency_seconds", "minimaria_queue_length",
    "minimaria_queue_oldest_wait_seconds", "minimaria_team_open", "minimaria_staff_online", "minimaria_claims",
    "minimaria_claim_conflicts", "minimaria_error_frames", "minimaria_bus_connected", "minimaria_bus_reconnects",
    "minimaria_db_latency_seconds",
}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(metrics_token=TOKEN)


async def scrape(base: str) -> tuple[str, Samples, set[str]]:
    """The exposition text, every sample by (name, sorted labels), and the family names."""
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.get("/metrics", headers=BEARER)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    names = set()
    for family in text_string_to_metric_families(r.text):
        names.add(family.name)
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return r.text, samples, names


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def until_scraped(base: str, check: Callable[[Samples], bool], timeout: float = 5.0) -> Samples:
    """Scrape until ``check`` holds (what a socket's end or a presence write changes happens after the frame)."""
    async with asyncio.timeout(timeout):
        while True:
            _, samples, _ = await scrape(base)
            if check(samples):
                return samples
            await asyncio.sleep(0.05)


async def test_without_a_configured_token_there_is_no_metrics_route(settings: Settings) -> None:
    async with serve(settings.replace(metrics_token=None)) as running, httpx.AsyncClient(base_url=running.base) as http:
        r = await http.get("/metrics", headers=BEARER)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == Code.NOT_FOUND


async def test_a_missing_or_wrong_bearer_token_gets_401(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        refused = [
            await http.get("/metrics"),
            await http.get("/metrics", headers={"Authorization": "Bearer not-the-token"}),
            await http.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}),
            await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}),
        ]
        allowed = await http.get("/metrics", headers=BEARER)
    for r in refused:
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["code"] == Code.UNAUTHORIZED
        assert "minimaria_" not in r.text
    assert allowed.status_code == 200 and "minimaria_open_sockets" in allowed.text


async def test_a_short_chat_moves_every_family(server: Running, make_staff: StaffFactory) -> None:
    _, before, names = await scrape(server.base)
    assert names >= FAMILIES
    visitor = await Visitor.start(server.base)
    await visitor.connect()
    assert visitor.ws is not None
    conv = await conv_store.get(server.ctx.engine, visitor.id)
    assert conv is not None
    team = conv.team
    waiting = await scrape(server.base)
    assert value(waiting[1], "minimaria_open_sockets", kind="visitor") == 1
    assert value(waiting[1], "minimaria_queue_length", team=team) == 1
    assert value(waiting[1], "minimaria_queue_oldest_wait_seconds", team=team) >= 0
    assert ("minimaria_queue_oldest_wait_seconds", (("team", team),)) in waiting[1]
    open_now = routing.team_open(server.ctx.region, team, server.ctx.clock())
    assert value(waiting[1], "minimaria_team_open", team=team) == (1 if open_now else 0)

    await visitor.say("hej", "m1")
    await visitor.ws.send(type="no_such_frame")
    refused = await visitor.ws.expect("error")
    anna = await make_staff("anna")
    bo = await make_staff("bo")
    both = await asyncio.gather(anna.claim(visitor.id), bo.claim(visitor.id))  # at once: one wins, one conflicts
    assert sorted(r.status_code for r in both) == [200, 409]

    after = await until_scraped(server.base, lambda s: value(s, "minimaria_staff_online", team=team) == 2)
    assert value(after, "minimaria_open_sockets", kind="staff") == 2
    assert value(after, "minimaria_messages_stored_total") >= value(before, "minimaria_messages_stored_total") + 1
    assert value(after, "minimaria_ack_latency_seconds_count") == value(before, "minimaria_ack_latency_seconds_count") + 1
    code = refused["code"]
    assert value(after, "minimaria_error_frames_total", code=code) == value(before, "minimaria_error_frames_total", code=code) + 1
    assert value(after, "minimaria_claims_total") == value(before, "minimaria_claims_total") + 1
    assert value(after, "minimaria_claim_conflicts_total") == value(before, "minimaria_claim_conflicts_total") + 1
    assert value(after, "minimaria_queue_length", team=team) == 0
    assert value(after, "minimaria_queue_oldest_wait_seconds", team=team) == 0
    assert value(after, "minimaria_bus_connected") == 1
    assert ("minimaria_bus_reconnects_total", ()) in after
    assert value(after, "minimaria_db_latency_seconds_count") >= 1  # the message's group commit, the start's ping

    await visitor.ws.close()
    await until_scraped(server.base, lambda s: value(s, "minimaria_open_sockets", kind="visitor") == 0)


async def test_no_label_value_names_a_person_a_conversation_or_a_token(server: Running, make_staff: StaffFactory) -> None:
    visitor = await Visitor.start(server.base)
    await visitor.connect()
    assert visitor.ws is not None
    await visitor.ws.send(type="msg", client_msg_id="m1", text="")  # refused: an error frame with a code
    await visitor.ws.expect("error")
    staff = await make_staff("ulrika_mets")
    assert (await staff.claim(visitor.id)).status_code == 200
    await staff.say(visitor.id, "hej från ulrika", "s1")
    await visitor.ws.expect("msg")
    text, samples, _ = await scrape(server.base)
    for secret in (visitor.id, visitor.token, visitor.started["return_code"], "ulrika", "Ulrika_Mets", staff.csrf,
                   TOKEN):
        assert secret not in text
    teams = {t.id for t in server.ctx.region.teams}
    allowed = {"team": teams, "code": {str(c) for c in Code}, "kind": {"visitor", "staff"}}
    for (name, labels), _value in samples.items():
        for label, v in labels:
            if label == "le":
                continue
            assert label in allowed, (name, label)
            assert v in allowed[label], (name, label, v)
