"""Hypothesis throws arbitrary frames at both sockets of a real server: arbitrary JSON (lone surrogates, odd
types in every field, huge and over-long integers, NaN, deep nesting, huge strings) and what is not JSON at
all (raw text, binary frames). Whatever arrives, the answer is never ``internal``, the socket stays open
(only a frame over the size limit closes it, with 1009), the server answers a probe after every frame (no
hang), and a separate visitor and counsellor keep chatting through the whole run. On SQLite + memory bus and
PostgreSQL + Redis.

Hypothesis runs in a worker thread with a blocking WebSocket client, while the server and the normal
conversation run on the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from chat.settings import Settings
from tests.client import Visitor
from tests.conftest import Running, StaffFactory

pytestmark = pytest.mark.slow
MAX_FRAME_BYTES = Settings().max_frame_bytes
EXAMPLES = 150  # per socket; the whole test stays well under a minute per backend
TYPES = ["hello", "msg", "typing", "read", "screening", "ping", "presence"]
FIELDS = ["token", "last_seq", "conversation_id", "client_msg_id", "text", "on", "seq", "instrument", "answers",
          "status"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(frames_per_second=100_000.0, frame_burst=100_000)  # the fuzzer, not the throttle


# Text with lone surrogates (sent escaped: "\ud800" is valid JSON, not valid Unicode).
texts = st.text(st.one_of(st.characters(), st.characters(codec=None, categories=["Cs"])), max_size=40)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True), texts,
)
values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)


def frame_objects(conversation_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """Frames shaped like the protocol's, with any value in any field (the real conversation id too)."""
    field_values = st.one_of(values, st.just(conversation_id))
    return st.builds(
        lambda kind, fields: {"type": kind, **fields},
        st.one_of(st.sampled_from(TYPES), values),
        st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=5),
    )


def nested(n: int, kind: str) -> str:
    if kind == "list":
        return "[" * n + "]" * n
    return '{"type":"msg","text":' + '{"a":' * n + "1" + "}" * n + "}"


def payloads(conversation_id: str) -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        frame_objects(conversation_id).map(lambda f: json.dumps(f, ensure_ascii=True)),
        values.map(lambda v: json.dumps(v, ensure_ascii=True)),
        st.builds(nested, st.integers(1, 30_000), st.sampled_from(["list", "object"])),
        st.builds(nested, st.integers(20, 990), st.sampled_from(["list", "object"])),  # within the parser's limit
        # Integers past Python's 4,300-digit conversion limit (they cannot be built as values here either).
        st.integers(4_000, 20_000).map(lambda n: '{"type":"read","seq":' + "9" * n + "}"),
        st.integers(4_000, 20_000).map(lambda n: '{"type":"msg","client_msg_id":"n","text":"x","x":[-' + "1" * n + "]}"),
        st.integers(1, 90_000).map(lambda n: json.dumps({"type": "msg", "client_msg_id": "big", "text": "å" * n})),
        st.text(max_size=200),  # mostly not JSON
        st.binary(max_size=200),  # a binary frame
    )


class Fuzzed:
    """One socket, greeted; reopened when a frame over the size limit closed it."""

    def __init__(self, url: str, hello: dict[str, Any], headers: dict[str, str], origin: str) -> None:
        self.url, self.hello, self.headers, self.origin = url, hello, headers, origin
        self.stack = contextlib.ExitStack()
        self.history: list[tuple[int, object]] = []
        self.probes = 0
        self.conn = self._open()

    def _open(self) -> ClientConnection:
        conn = self.stack.enter_context(connect(self.url, origin=self.origin,  # type: ignore[arg-type]
                                                additional_headers=self.headers, max_size=None, open_timeout=10))
        conn.send(json.dumps(self.hello))
        self._until(conn, "welcome")
        return conn

    @staticmethod
    def _until(conn: ClientConnection, kind: str, probe: str | None = None) -> list[dict[str, Any]]:
        seen = []
        while True:
            frame = json.loads(conn.recv(timeout=10))
            seen.append(frame)
            if frame.get("type") == kind and (probe is None or frame.get("client_msg_id") == probe):
                return seen

    def throw(self, payload: str | bytes) -> None:
        # The probe's answer (unknown_type, echoing its id) comes after everything the payload caused: a
        # pong could not tell, since the payload may be a ping itself.
        self.probes += 1
        probe = f"probe-{self.probes}"
        try:
            self.conn.send(payload)
            self.conn.send(json.dumps({"type": "probe", "client_msg_id": probe}))
            seen = self._until(self.conn, "error", probe)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            size = len(payload.encode() if isinstance(payload, str) else payload)
            self.history.append((size, code))
            # Too big: closed with 1009, or cut off while the client was still sending it.
            assert size > MAX_FRAME_BYTES and code in {1009, None}, (f"closed with {code} after {payload[:200]!r}",
                                                                      self.history[-5:])
            self.conn = self._open()
            return
        self.history.append((len(payload), "ok"))
        for frame in seen:
            assert not (frame.get("type") == "error" and frame.get("code") == "internal"), (frame, payload[:200])

    def close(self) -> None:
        self.stack.close()


def run_fuzz(socket: Fuzzed, conversation_id: str) -> None:
    @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(payload=payloads(conversation_id))
    def one(payload: str | bytes) -> None:
        socket.throw(payload)

    one()


async def chat_meanwhile(visitor: Visitor, done: Callable[[], bool]) -> int:
    """A normal visitor keeps chatting: every message acked in time, in order."""
    said, last = 0, 0
    while not done():
        said += 1
        ack = await visitor.say(f"hej {said}", f"n{said}")
        assert ack["seq"] > last
        last = ack["seq"]
        await asyncio.sleep(0.05)
    return said


async def test_arbitrary_frames_never_fail_internally_and_others_keep_chatting(
    server: Running, make_staff: StaffFactory, caplog: pytest.LogCaptureFixture
) -> None:
    anna = await make_staff("anna")
    boss = await make_staff("boss", roles=("supervisor",), connect=False)
    normal = await Visitor.start(server.base)
    await normal.connect()
    assert (await anna.claim(normal.id)).status_code == 200
    target = await Visitor.start(server.base)
    assert (await boss.claim(target.id)).status_code == 200
    ws = server.ws
    # Blocking clients: opened in a worker thread too, never on the loop the server runs on.
    visitor_socket = await asyncio.to_thread(
        Fuzzed, ws + "/ws/visitor", {"type": "hello", "token": target.token}, {}, server.base)
    staff_socket = await asyncio.to_thread(
        Fuzzed, ws + "/ws/staff", {"type": "hello", "last_seq": {}},
        {"Cookie": f"mm_staff={boss.http.cookies['mm_staff']}"}, server.base)
    finished = False
    chatting = asyncio.create_task(chat_meanwhile(normal, lambda: finished))
    try:
        await asyncio.to_thread(run_fuzz, visitor_socket, target.id)
        await asyncio.to_thread(run_fuzz, staff_socket, target.id)
    finally:
        finished = True
        said = await chatting
        await asyncio.to_thread(visitor_socket.close)
        await asyncio.to_thread(staff_socket.close)
    assert said > 10
    server_errors = [r.getMessage() for r in caplog.records if r.name == "minimaria" and r.levelno >= logging.ERROR]
    assert server_errors == []  # no internal_error line either
    assert anna.ws is not None
    await anna.ws.expect("msg", conversation_id=normal.id, text=f"hej {said}")
