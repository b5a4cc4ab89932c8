"""A whole chat through a real server process; its JSON logs must record events and nothing personal."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import services
from tests.client import WS, Staff, Visitor
from tests.fault.flow import Clients, until_seq
from tests.fault.procs import Procs, add_staff, service_env

pytestmark = pytest.mark.slow

# The clients connect from another loopback address than the one the server listens on, so a client
# address in the logs is told apart from the listen address (which a startup line may name).
CLIENT_ADDR = "127.0.0.2"
LISTEN_ADDR = "127.0.0.1"


def _http(base: str, user_agent: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=CLIENT_ADDR)
    return httpx.AsyncClient(base_url=base, transport=transport, headers={"User-Agent": user_agent, **headers})


async def _ws(url: str, user_agent: str, **kwargs: Any) -> WS:
    return await WS.open(url, user_agent_header=user_agent, local_addr=(CLIENT_ADDR, 0), **kwargs)


async def test_logs_record_events_but_nothing_personal_(procs: Procs, clients: Clients, tmp_path: Path) -> None:
    """The server's logs name events, routes and ids; never texts, tokens, codes, cookies, passwords, addresses, user agents."""
    marker = f"PRIVATE-{uuid.uuid4().hex}"
    user_agent = f"FaultProbe/{uuid.uuid4().hex[:12]} (like a phone)"
    password = f"pw-{uuid.uuid4().hex}"
    db = tmp_path / "chat.db"
    port = services.free_port()
    base = f"http://{LISTEN_ADDR}:{port}"
    env = service_env(database_url=f"sqlite+aiosqlite:///{db}", allowed_origins=base)
    await add_staff(env, "privy", "Privy", password, cwd=tmp_path)
    app = procs.server("app", env, port)
    await app.start()
    ws_base = base.replace("http", "ws", 1)

    async with _http(base, user_agent) as http:
        assert (await http.get("/api/v1/intake")).status_code == 200
        # Odd requests too: a query string and an unknown path carrying the marker.
        assert (await http.get("/readyz", params={"probe": marker})).status_code == 200
        assert (await http.get(f"/no/such/{marker}")).status_code == 404
        r = await http.post("/api/v1/conversations", json={"role": "young", "topic": "drugs", "age_band": "16-17"})
        assert r.status_code == 201, r.text
        started = r.json()
        # A returning visitor comes back with the return code: the same conversation, a new token (the old
        # one stops working), so the rest of the chat goes on with the new one.
        again = await http.post("/api/v1/conversations", json={"role": "young", "return_code": started["return_code"]})
        assert again.status_code == 201, again.text
        assert again.json()["conversation_id"] == started["conversation_id"]
        first_token = started["visitor_token"]
        started = again.json()

    visitor = Visitor(base, started)
    clients.add(visitor)
    visitor.ws = await _ws(ws_base + "/ws/visitor", user_agent)
    await visitor.ws.send(type="hello", token=visitor.token, last_seq=0)
    await visitor.ws.expect("welcome")

    # A wrong token (carrying the marker) on another socket is refused.
    intruder = await _ws(ws_base + "/ws/visitor", user_agent)
    clients.sockets.append(intruder)
    await intruder.send(type="hello", token=f"tok-{marker}", last_seq=0)
    assert (await intruder.expect("error"))["code"] == "unauthorized"

    staff = Staff(base, "privy", password)
    clients.add(staff)
    await staff.http.aclose()
    staff.http = _http(base, user_agent, Origin=base)
    wrong = await staff.http.post("/api/v1/staff/login", json={"username": "privy", "password": f"wrong-{marker}"})
    assert wrong.status_code == 401, wrong.text
    await staff.login()
    cookie = staff.http.cookies["mm_staff"]
    staff.ws = await _ws(ws_base + "/ws/staff", user_agent, origin=base, additional_headers={"Cookie": f"mm_staff={cookie}"})
    await staff.ws.send(type="hello", last_seq={})
    await staff.ws.expect("welcome")

    # The chat itself: claim, both ways, typing, read receipt, refused frames, a note, the transcript.
    assert (await staff.claim(visitor.id)).status_code == 200
    await visitor.ws.expect("state", state="active")
    assert (await visitor.say(f"hej {marker} jag heter Kim", "v1"))["seq"] == 1
    assert (await staff.say(visitor.id, f"Hej Kim, {marker}", "s1"))["seq"] == 2
    await visitor.ws.send(type="typing", on=True)
    await staff.ws.expect("typing")
    await staff.ws.send(type="read", conversation_id=visitor.id, seq=1)
    await visitor.ws.expect("read")
    await visitor.ws.send(type="msg", client_msg_id="too-long", text=marker * 200)
    assert (await visitor.ws.expect("error", client_msg_id="too-long"))["code"]
    await visitor.ws.send_raw("{" + marker)
    assert (await visitor.ws.expect("error"))["code"]
    assert (await visitor.say(f"tack {marker}", "v2"))["seq"] == 3
    for ws in (visitor.ws, staff.ws):
        await until_seq(ws, 3)
    note = await staff.http.post(f"/api/v1/staff/conversations/{visitor.id}/notes", json={"text": f"note {marker}"})
    assert note.status_code == 201, note.text
    transcript = await staff.http.get(f"/api/v1/staff/conversations/{visitor.id}/transcript")
    assert transcript.status_code == 200 and marker in transcript.text
    closed = await staff.http.post(f"/api/v1/staff/conversations/{visitor.id}/close", json={"outcome": "advice_given"})
    assert closed.status_code == 200, closed.text
    await visitor.ws.expect("state", state="closed")

    async with _http(base, user_agent, Authorization=f"Bearer {visitor.token}") as http:
        r = await http.post(f"/api/v1/conversations/{visitor.id}/feedback", json={"rating": 5, "comment": f"bra {marker}"})
        assert r.status_code == 201, r.text

    for ws in (visitor.ws, staff.ws, intruder):
        await ws.close()
    assert await app.terminate() is not None
    stderr = app.stderr()

    # The logs are there, one JSON object a line, and they recorded the chat (so this cannot pass on empty logs).
    raw_lines = [line for line in stderr.splitlines() if line.strip()]
    lines = [json.loads(line) for line in raw_lines]
    assert all(isinstance(line, dict) for line in lines)
    events = {line.get("event") for line in lines}
    assert {"started", "conversation_started", "staff_login", "staff_login_failed", "conversation_claimed",
            "transcript_read", "conversation_closed", "ws_closed", "http", "stopped"} <= events
    assert {line.get("route") for line in lines if line.get("event") == "ws_closed"} >= {"/ws/visitor", "/ws/staff"}
    assert any(line.get("conversation_id") == visitor.id for line in lines)

    # Nothing anyone wrote or was given, nor how they connected.
    secrets = {
        "message text (marker)": marker,
        "visitor token": visitor.token,
        "first visitor token": first_token,
        "return code": started["return_code"],
        "staff session cookie": cookie,
        "CSRF token": staff.csrf,
        "staff password": password,
        "user agent": user_agent,
        "client address": CLIENT_ADDR,
    }
    leaked = {what: [line for line in raw_lines if value in line] for what, value in secrets.items()}
    assert not {what: found for what, found in leaked.items() if found}
    # The listen address may appear only as a "host" field (the address the server binds); any other
    # occurrence would be a client address or a URL.
    listen_elsewhere = [
        raw for raw, line in zip(raw_lines, lines, strict=True)
        if LISTEN_ADDR in json.dumps({k: v for k, v in line.items() if k != "host"})
    ]
    assert not listen_elsewhere
