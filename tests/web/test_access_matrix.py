"""The whole access table, walked over real HTTP and WebSocket: every role × action × scope, allowed and denied.

One person per role (reception, counsellor, ambulant, lead and admin in team ``children``; supervisor and
auditor in none) tries every staff and admin route and every staff frame type against conversations set up
in each situation a scope tells apart (held by them, in their team, in another team, offered to them), and
the answer must be what ``access.allowed`` says: a success when allowed, the route's refusal when not. The
completeness tests fail when a route or frame type is added without a probe here, and when the table in
docs/security.md drifts from the code. One server per backend: the matrix runs as one test each.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from starlette.routing import Mount, Route, WebSocketRoute

from chat.service import access, canned, conversations, hours_overrides
from chat.service.access import Action, Principal, StaffRole
from chat.store import conversations as conv_store
from chat.store import parts as parts_store
from chat.store import staff as staff_store
from chat.store.conversations import ConversationRecord
from chat.store.models import Conversation
from chat.web import frames
from chat.web.auth import Door
from chat.web.routes import routes
from tests.client import WS, Staff, Visitor
from tests.conftest import Running, StaffFactory

MINE_TEAM, OTHER_TEAM = "children", "relatives"  # both "manual" pickup: nothing offers them behind our back
TEAMS = {StaffRole.RECEPTION: (MINE_TEAM,), StaffRole.COUNSELLOR: (MINE_TEAM,), StaffRole.AMBULANT: (MINE_TEAM,),
         StaffRole.LEAD: (MINE_TEAM,), StaffRole.SUPERVISOR: (), StaffRole.ADMIN: (MINE_TEAM,), StaffRole.AUDITOR: ()}
C = Conversation.__table__  # type: ignore[attr-defined]
PASSWORD = "correct horse battery"

# Each situation as (team, state, held by, offered to): "me" is the person probing, "other" someone else.
SITUATIONS = {
    "mine": (MINE_TEAM, "active", "me", None),
    "team_queued": (MINE_TEAM, "queued", None, None),
    "team_held": (MINE_TEAM, "active", "other", None),
    "other_queued": (OTHER_TEAM, "queued", None, None),
    "other_held": (OTHER_TEAM, "active", "other", None),
    "offered": (OTHER_TEAM, "queued", None, "me"),
}
HELD = ("mine", "team_held", "other_held")


@dataclass(frozen=True)
class Probe:
    """How to try one route: its action, what it is about (``on``), in which situations, with what body."""

    action: Action
    on: str = "none"  # none | conv | team (canned body's team) | canned | hours | staff | session
    situations: tuple[str, ...] = ()
    fresh: bool = False  # it changes the conversation: a new one for every try
    body: dict[str, Any] | None = None
    denied: frozenset[tuple[int, str]] = frozenset({(403, "forbidden")})


HIDDEN = frozenset({(404, "not_found")})  # routes that answer a conversation out of reach as if it did not exist
NOT_HELD = frozenset({(403, "not_claimed")})
OFFER_ENDED = frozenset({(409, "offer_ended")})
CONV = "/api/v1/staff/conversations/{id}"

PROBES: dict[tuple[str, str], Probe] = {
    ("POST", "/api/v1/staff/logout"): Probe(Action.SESSION, on="session"),
    ("GET", "/api/v1/staff/me"): Probe(Action.SESSION),
    ("GET", "/api/v1/staff/queue"): Probe(Action.QUEUE_READ),
    ("GET", "/api/v1/staff/teams"): Probe(Action.TEAMS),
    ("GET", "/api/v1/staff/presence"): Probe(Action.PRESENCE),
    ("GET", "/api/v1/staff/outcomes"): Probe(Action.OUTCOMES),
    ("GET", "/api/v1/staff/crisis"): Probe(Action.CRISIS_LINES),
    ("GET", "/api/v1/staff/overview"): Probe(Action.OVERVIEW),
    ("POST", CONV + "/claim"): Probe(Action.CLAIM, "conv", ("team_queued", "other_queued", "offered"), fresh=True),
    ("POST", CONV + "/accept"): Probe(Action.ACCEPT, "conv", ("offered", "team_queued"), fresh=True,
                                      denied=OFFER_ENDED),
    ("POST", CONV + "/decline"): Probe(Action.DECLINE, "conv", ("offered", "team_queued"), fresh=True,
                                       denied=OFFER_ENDED),
    ("POST", CONV + "/transfer"): Probe(Action.TRANSFER, "conv", HELD, fresh=True, body={"team": OTHER_TEAM},
                                        denied=NOT_HELD),
    ("POST", CONV + "/reassign"): Probe(Action.REASSIGN, "conv", ("team_held", "other_queued"), fresh=True,
                                        body={"team": MINE_TEAM}, denied=NOT_HELD | {(403, "forbidden")}),
    ("POST", CONV + "/close"): Probe(Action.CLOSE, "conv", HELD, fresh=True, body={"outcome": "advice_given"},
                                     denied=HIDDEN),
    ("POST", CONV + "/notes"): Probe(Action.NOTE_ADD, "conv", HELD, body={"text": "a note"}, denied=HIDDEN),
    ("GET", CONV + "/notes"): Probe(Action.NOTES_READ, "conv", HELD, denied=HIDDEN),
    ("GET", CONV + "/transcript"): Probe(Action.TRANSCRIPT_READ, "conv", HELD, denied=HIDDEN),
    ("POST", CONV + "/concerns"): Probe(Action.CONCERN_REPORT, "conv", HELD, body={"note": "reported"}, denied=HIDDEN),
    ("GET", CONV + "/concerns"): Probe(Action.CONCERN_LIST, "conv", HELD, denied=HIDDEN),
    ("GET", CONV + "/earlier"): Probe(Action.EARLIER_LIST, "conv", HELD, denied=HIDDEN),
    ("GET", CONV + "/earlier/{part}"): Probe(Action.EARLIER_READ, "conv", HELD, denied=HIDDEN),
    ("GET", "/api/v1/staff/canned"): Probe(Action.CANNED_READ),
    ("POST", "/api/v1/staff/canned"): Probe(Action.CANNED_EDIT, "team", (MINE_TEAM, OTHER_TEAM),
                                            body={"language": "sv", "title": "Hej", "body": "Hej!"}),
    ("PUT", "/api/v1/staff/canned/{id}"): Probe(Action.CANNED_EDIT, "canned", (MINE_TEAM, OTHER_TEAM),
                                                body={"language": "sv", "title": "Hej", "body": "Hej då!"}),
    ("DELETE", "/api/v1/staff/canned/{id}"): Probe(Action.CANNED_EDIT, "canned", (MINE_TEAM, OTHER_TEAM)),
    ("GET", "/api/v1/admin/staff"): Probe(Action.STAFF_LIST),
    ("POST", "/api/v1/admin/staff"): Probe(Action.STAFF_CREATE, on="new_staff"),
    ("PATCH", "/api/v1/admin/staff/{username}"): Probe(Action.STAFF_CHANGE, "staff", body={"display_name": "D"}),
    ("POST", "/api/v1/admin/staff/{username}/password"): Probe(Action.STAFF_PASSWORD, "staff",
                                                               body={"password": "another long one"}),
    ("GET", "/api/v1/admin/hours"): Probe(Action.HOURS_LIST),
    ("POST", "/api/v1/admin/hours"): Probe(Action.HOURS_ADD, on="new_hours"),
    ("DELETE", "/api/v1/admin/hours/{id}"): Probe(Action.HOURS_REMOVE, "hours"),
    ("GET", "/api/v1/admin/audit"): Probe(Action.AUDIT_READ),
}
# Frame types on the staff socket, and in which situations each is tried (the rest are about no conversation).
FRAME_SITUATIONS: dict[str, tuple[str, ...]] = {"hello": HELD, "ping": (), "msg": HELD, "typing": HELD,
                                                "read": HELD, "presence": ()}
VISITOR_PROBES: dict[str, dict[str, Any]] = {
    "hello": {},  # the connection's own hello
    "ping": {"type": "ping"},
    "msg": {"type": "msg", "client_msg_id": "v1", "text": "hej"},
    "typing": {"type": "typing", "on": True},
    "read": {"type": "read", "seq": 0},
    "screening": {"type": "screening", "instrument": "audit", "answers": [0] * 10},
}
# Routes that are no staff door: pages, probes, the visitor's API (its token is its access), login, sockets,
# and /metrics (Prometheus's own bearer token, MINIMARIA_METRICS_TOKEN; tests/web/test_metrics.py).
PUBLIC = {"/", "/staff", "/staff/supervisor", "/staff/admin", "/healthz", "/readyz", "/metrics", "/openapi.json",
          "/api/v1/intake", "/api/v1/conversations", "/api/v1/conversations/{id}/feedback",
          "/api/v1/conversations/{id}/close", "/api/v1/visitor/forget", "/api/v1/staff/login",
          "/ws/visitor", "/ws/staff", "/static"}
# An action no route or frame names: the target of a hand-over by name (tried through transfer).
BY_OTHER_MEANS = {Action.RECEIVE}


# Completeness: nothing reachable without an entry here and in the table.


def test_every_route_is_a_door_with_an_action_and_a_probe() -> None:
    missing, wrong = [], []
    for r in routes():
        if isinstance(r, Door):
            for method in sorted((r.methods or set()) - {"HEAD"}):
                probe = PROBES.get((method, r.path))
                if probe is None:
                    missing.append((method, r.path))
                elif probe.action is not r.action:
                    wrong.append((method, r.path, r.action, probe.action))
        else:
            assert isinstance(r, Route | WebSocketRoute | Mount)
            path = r.path
            assert path in PUBLIC, f"{path} is neither a Door (with an action) nor listed as public"
            assert not path.startswith("/api/v1/admin"), f"{path}: an admin route must be a Door"
            assert not path.startswith("/api/v1/staff/") or path == "/api/v1/staff/login", f"{path} must be a Door"
    doors = {(m, r.path) for r in routes() if isinstance(r, Door) for m in (r.methods or set()) - {"HEAD"}}
    assert (missing, wrong, set(PROBES) - doors) == ([], [], set())


def test_every_frame_type_maps_to_an_action_and_has_a_probe() -> None:
    assert set(frames.STAFF_FRAMES) | set(frames.VISITOR_FRAMES) == frames.KNOWN_TYPES
    assert set(FRAME_SITUATIONS) == set(frames.STAFF_FRAMES)
    assert set(VISITOR_PROBES) == set(frames.VISITOR_FRAMES)


def test_every_action_and_role_is_in_the_table_and_tried() -> None:
    assert set(access.TABLE) == set(Action)
    assert all(set(row) == set(StaffRole) for row in access.TABLE.values())
    tried = {p.action for p in PROBES.values()} | set(frames.STAFF_FRAMES.values()) | BY_OTHER_MEANS
    assert tried == set(Action)


def test_the_table_in_the_security_doc_is_the_one_in_the_code() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    section = doc.split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|")) + "\n"
    assert table == access.table_markdown()


def test_an_auditor_reads_the_audit_log_and_works_no_conversation() -> None:
    auditor = Principal(1, "a", "A", ("auditor",), ())
    assert access.can(auditor) == ["session", "teams", "audit_read"]


# The matrix over the wire.


@dataclass
class World:
    server: Running
    people: dict[StaffRole, Staff]
    me: dict[StaffRole, Principal]
    other: Principal
    shared: dict[tuple[StaffRole, str], ConversationRecord] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    failures: list[str] = field(default_factory=list)

    async def conversation(self, role: StaffRole, situation: str) -> ConversationRecord:
        """A new conversation in ``situation`` as seen by ``role``'s person."""
        ctx = self.server.ctx
        started = await conversations.start(ctx, conversations.StartRequest(role="young"))
        team, state, holder, offered = SITUATIONS[situation]
        who = {"me": self.me[role].id, "other": self.other.id, None: None}
        now = ctx.clock()
        async with ctx.engine.begin() as conn:
            await conn.execute(C.update().where(C.c.id == started.conversation.id).values(
                team=team, state=state, assigned_staff_id=who[holder], claimed_at=now if holder else None,
                offered_to=who[offered], offer_expires_at=now + timedelta(hours=1) if offered else None))
        found = await conv_store.get(ctx.engine, started.conversation.id)
        assert found is not None
        return found

    async def shared_conversation(self, role: StaffRole, situation: str) -> ConversationRecord:
        """One conversation per situation for probes that leave who holds it as it was (reads, notes, frames),
        with an earlier part to read; "mine" is per person, the others are shared by everyone."""
        key = (role if situation == "mine" else StaffRole.SUPERVISOR, situation)
        if key not in self.shared:
            conv = await self.conversation(key[0], situation)
            async with self.server.ctx.engine.begin() as conn:
                await parts_store.record(conn, conv)
            self.shared[key] = conv
        return self.shared[key]

    def check(self, what: str, expected: bool, got: bool, detail: str) -> None:
        if expected != got:
            self.failures.append(f"{what}: expected {'allowed' if expected else 'denied'}, got {detail}")


@pytest.fixture
async def world(server: Running, make_staff: StaffFactory) -> AsyncIterator[World]:
    people, me = {}, {}
    for role in StaffRole:
        people[role] = person = await make_staff(f"p-{role}", roles=(str(role),), teams=TEAMS[role], connect=False)
        # A new connection per request: on a kept-alive one each request waits ~40 ms for a delayed ACK.
        old = person.http
        person.http = httpx.AsyncClient(base_url=server.base, headers=old.headers, cookies=old.cookies,
                                        limits=httpx.Limits(max_keepalive_connections=0))
        await old.aclose()
        rec = await staff_store.by_username(server.ctx.engine, f"p-{role}")
        assert rec is not None
        me[role] = Principal(rec.id, rec.username, rec.display_name, tuple(rec.roles), tuple(rec.teams))
    other = await make_staff("other", roles=("counsellor",), teams=(MINE_TEAM, OTHER_TEAM), connect=False)
    await make_staff("dummy", roles=("counsellor",), teams=(MINE_TEAM,), connect=False)
    rec = await staff_store.by_username(server.ctx.engine, "other")
    assert rec is not None
    yield World(server, people, me, Principal(rec.id, "other", "Other", tuple(rec.roles), tuple(rec.teams)))
    del other


async def _try_route(w: World, role: StaffRole, method: str, path: str, probe: Probe) -> None:
    p, person, ctx = w.me[role], w.people[role], w.server.ctx
    admin = w.me[StaffRole.ADMIN]
    targets: list[tuple[str, str, Any, bool, dict[str, Any] | None]] = []  # (label, url, target, expected, body)
    n = next(w.counter)
    if probe.on == "conv":
        for situation in probe.situations:
            conv = await (w.conversation(role, situation) if probe.fresh else w.shared_conversation(role, situation))
            url = path.replace("{id}", conv.id).replace("{part}", "1")
            targets.append((situation, url, conv, access.allowed(p, probe.action, conv), probe.body))
    elif probe.on in {"team", "canned"}:
        for team in probe.situations:
            url, body = path, probe.body
            if probe.on == "team":
                body = {**(probe.body or {}), "team": team}
            else:
                made = await canned.add(ctx, admin, team, "sv", f"t{n}", "text")
                url = path.replace("{id}", str(made["id"]))
            targets.append((team, url, team, access.allowed(p, probe.action, team), body))
    elif probe.on == "hours":
        made = await hours_overrides.add(ctx, admin, f"2031-01-{1 + n % 28:02d}", None, [], "")
        targets.append(("-", path.replace("{id}", str(made["id"])), None, access.allowed(p, probe.action), None))
    else:
        body = probe.body
        if probe.on == "new_staff":
            body = {"username": f"new-{n}", "password": PASSWORD, "roles": ["auditor"], "teams": []}
        if probe.on == "new_hours":
            body = {"date": f"2032-02-{1 + n % 28:02d}", "spans": []}
        targets.append(("-", path.replace("{username}", "dummy"), None, access.allowed(p, probe.action), body))
    for label, url, _target, expected, body in targets:
        client = person.http
        if probe.on == "session":  # logging out ends the session: use a second one
            client = httpx.AsyncClient(base_url=w.server.base, headers={"Origin": w.server.base})
            r = await client.post("/api/v1/staff/login", json={"username": p.username, "password": PASSWORD})
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        try:
            r = await client.request(method, url, json=body)
        finally:
            if client is not person.http:
                await client.aclose()
        code = r.json().get("error", {}).get("code", "") if r.headers.get("content-type", "").startswith(
            "application/json") and r.status_code >= 400 else ""
        what = f"{role} {method} {path} [{label}]"
        if r.is_success:
            w.check(what, expected, True, f"{r.status_code}")
        elif (r.status_code, code) in probe.denied | {(403, "forbidden")}:  # the Door's own refusal
            w.check(what, expected, False, f"{r.status_code} {code}")
        else:
            w.failures.append(f"{what}: neither a success nor its refusal: {r.status_code} {code}")
        if r.is_success and method == "GET" and path == "/api/v1/staff/me":
            if r.json()["can"] != access.can(p):
                w.failures.append(f"{what}: can {r.json()['can']} != {access.can(p)}")
        if r.is_success and path == "/api/v1/staff/queue":
            teams = access.teams_for(p, Action.QUEUE_READ)
            if teams is not None and any(c["team"] not in teams for c in r.json()["queue"]):
                w.failures.append(f"{what}: a conversation of another team in the queue")


async def _try_routes(w: World, role: StaffRole) -> None:
    for (method, path), probe in PROBES.items():
        await _try_route(w, role, method, path, probe)


async def _staff_socket(w: World, role: StaffRole) -> WS:
    person = w.people[role]
    cookie = f"mm_staff={person.http.cookies['mm_staff']}"
    return await WS.open(w.server.ws + "/ws/staff", origin=w.server.base, additional_headers={"Cookie": cookie})


async def _answer(ws: WS, frame: dict[str, Any]) -> str | None:
    """Send ``frame`` then a ping: the error code it got before the pong, or None."""
    await ws.send(**frame)
    if frame["type"] != "ping":  # a ping is its own answer
        await ws.send(type="ping")
    code = None
    while True:
        got = await ws.first_of(("error", "pong"))
        if got["type"] == "pong":
            return code
        code = code or str(got["code"])


async def _try_frames(w: World, role: StaffRole) -> None:
    p = w.me[role]
    expected_socket = access.allowed(p, Action.CONSOLE)
    ws = await _staff_socket(w, role)
    try:
        if not expected_socket:
            try:
                await ws.conn.recv()  # the refusal's error frame
                await ws.conn.recv()
            except websockets.ConnectionClosed as closed:
                got = (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else None
                if got != (4403, "forbidden"):
                    w.failures.append(f"{role} staff socket: closed with {got}, not 4403 forbidden")
            else:
                w.failures.append(f"{role} staff socket: not closed")
            await _try_routes(w, role)
            return
        await ws.send(type="hello", last_seq={})
        await ws.expect("welcome")
        await _try_routes(w, role)  # online meanwhile: an offer to someone offline is withdrawn at once
        for kind, action in frames.STAFF_FRAMES.items():
            if kind == "hello":
                continue
            situations = FRAME_SITUATIONS[kind] or ("-",)
            for situation in situations:
                conv = await w.shared_conversation(role, situation) if situation != "-" else None
                frame: dict[str, Any] = {"type": kind}
                if conv is not None:
                    frame["conversation_id"] = conv.id
                fields: dict[str, dict[str, Any]] = {
                    "msg": {"client_msg_id": f"m{next(w.counter)}", "text": "hej"}, "typing": {"on": True},
                    "read": {"seq": 0}, "presence": {"status": "available"}}
                frame |= fields.get(kind, {})
                expected = access.allowed(p, action, conv)
                code = await _answer(ws, frame)
                if code not in (None, "not_claimed", "forbidden"):
                    w.failures.append(f"{role} frame {kind} [{situation}]: unexpected error {code}")
                w.check(f"{role} frame {kind} [{situation}]", expected, code is None, str(code))
    finally:
        await ws.close()
    for situation in FRAME_SITUATIONS["hello"]:
        conv = await w.shared_conversation(role, situation)
        ws = await _staff_socket(w, role)
        try:
            await ws.send(type="hello", last_seq={conv.id: 0})
            answer = await ws.first_of(("welcome", "error"))
        finally:
            await ws.close()
        w.check(f"{role} frame hello [{situation}]", access.allowed(p, Action.FOLLOW, conv),
                answer["type"] == "welcome", answer.get("code", "welcome"))


async def _try_receiving(w: World) -> None:
    """A hand-over by name reaches only someone whose role may receive one; else 400 unknown_staff."""
    sup = w.people[StaffRole.SUPERVISOR]
    for role in StaffRole:
        conv = await w.conversation(StaffRole.SUPERVISOR, "other_held")
        r = await sup.http.post(f"{CONV.replace('{id}', conv.id)}/transfer", json={"staff": f"p-{role}"})
        got = r.is_success
        if not got and (r.status_code, r.json()["error"]["code"]) != (400, "unknown_staff"):
            w.failures.append(f"receive by {role}: {r.status_code} {r.text}")
        w.check(f"receive by {role}", access.may_receive((str(role),)), got, str(r.status_code))


async def _try_visitor_frames(w: World) -> None:
    v = await Visitor.start(w.server.base)
    stranger = await Visitor.start(w.server.base)
    await v.connect()
    assert v.ws is not None
    try:
        for kind, frame in VISITOR_PROBES.items():
            if frame:
                code = await _answer(v.ws, frame)
                if code in {"forbidden", "invalid", "unknown_type"}:
                    w.failures.append(f"visitor frame {kind}: refused {code}")
        if await _answer(v.ws, {"type": "presence", "status": "away"}) != "invalid":
            w.failures.append("visitor frame presence: not refused")
        other = {"type": "typing", "conversation_id": stranger.id, "on": True}
        if await _answer(v.ws, other) != "forbidden":
            w.failures.append("visitor frame naming another conversation: not refused")
    finally:
        await v.ws.close()


async def test_every_role_action_and_scope_over_http_and_websocket(world: World) -> None:
    w = world
    for role in StaffRole:
        await _try_frames(w, role)
    await _try_receiving(w)
    await _try_visitor_frames(w)
    assert w.failures == [], "\n".join(w.failures)
