"""Client-side helpers for the fault tests: wait for a seq, collect what a socket saw, read the store."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from chat.crypto.keyring import FileKeyRing
from tests.client import WS, Staff, Visitor
from tests.fault.procs import (
    STAFF_PASSWORD,
    Procs,
    Server,
    add_staff,
    asyncpg_dsn,
    db_upgrade,
    free_ports,
    service_env,
    unique_prefix,
)

Sent = tuple[int, str, str, str]  # (seq, from, text, client_msg_id)


def shown(*sockets: WS | None) -> list[dict[str, Any]]:
    """What the page behind these sockets (old socket first) shows, by seq: the msg frames, which each socket
    must have got in seq order, and its own messages from their acks (the sending socket gets no msg frame of
    its own message; its ack can come before the other side's earlier messages; a resend's ack repeats a
    message already shown and is not counted again). A msg frame delivered twice is counted twice."""
    out: list[dict[str, Any]] = []
    keys: set[tuple[str, int]] = set()
    for ws in sockets:
        if ws is None:
            continue
        delivered = [m["seq"] for m in ws.messages() if not m.get("from_ack")]
        assert delivered == sorted(delivered), f"msg frames out of seq order on one socket: {delivered}"
        for m in ws.messages():
            key = (m["conversation_id"], m["seq"])
            if m.get("from_ack") and key in keys:
                continue
            keys.add(key)
            out.append(m)
    return sorted(out, key=lambda m: int(m["seq"]))


def seqs(*sockets: WS | None) -> list[int]:
    """The seqs these sockets' page shows (``shown``)."""
    return [m["seq"] for m in shown(*sockets)]


def seen(*sockets: WS | None) -> list[Sent]:
    return [(m["seq"], m["from"], m["text"], m["client_msg_id"]) for m in shown(*sockets)]


async def until_seq(ws: WS, seq: int, timeout: float = 5.0) -> None:
    """Read frames until this socket has received the msg with ``seq``; fails after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any(m["seq"] == seq for m in ws.messages()):
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no msg with seq {seq} within {timeout} s; this socket saw seqs {seqs(ws)}")
        with contextlib.suppress(TimeoutError):
            await ws.expect("msg", timeout=remaining)


async def settle(ws: WS, within: float = 0.5) -> None:
    """Read whatever else arrives in a short window, so a late duplicate would show up in ``ws.received``."""
    with contextlib.suppress(TimeoutError):
        await ws.expect("no-such-frame-type", timeout=within)


Stored = tuple[int, str, bytes, str]  # (seq, sender, ciphertext, client_msg_id)


def matches(stored: list[Stored], expected: list[Sent]) -> bool:
    """The rows are exactly the expected messages (seq, side, client id), and none holds its text in clear."""
    same = [(s, f, c) for s, f, _, c in stored] == [(s, f, c) for s, f, _, c in expected]
    return same and all(text.encode() not in body for (_, _, body, _), (_, _, text, _) in zip(stored, expected, strict=True))


async def pg_messages(url: str, conversation_id: str) -> list[Stored]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT seq, sender, body, client_msg_id FROM messages WHERE conversation_id = $1 ORDER BY seq, id",
            conversation_id,
        )
    finally:
        await conn.close()
    return [(r["seq"], r["sender"], bytes(r["body"]), r["client_msg_id"]) for r in rows]


def sqlite_messages(path: Path, conversation_id: str) -> list[Stored]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT seq, sender, body, client_msg_id FROM messages WHERE conversation_id = ? ORDER BY seq, id",
            (conversation_id,),
        ).fetchall()
    return [(int(r[0]), str(r[1]), bytes(r[2]), str(r[3])) for r in rows]


class Log:
    """What was sent and acked, in seq order: the expected transcript."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def add(self, ack: dict[str, Any], side: str, text: str, client_msg_id: str) -> int:
        assert ack["client_msg_id"] == client_msg_id
        self.sent.append((ack["seq"], side, text, client_msg_id))
        return int(ack["seq"])

    @property
    def expected(self) -> list[Sent]:
        return sorted(self.sent)

    @property
    def last(self) -> int:
        return max((s[0] for s in self.sent), default=0)


class Clients:
    """Test clients to close at teardown, whatever state the test left them in."""

    def __init__(self) -> None:
        self.sockets: list[WS] = []
        self.visitors: list[Visitor] = []
        self.staff: list[Staff] = []

    def add(self, client: Visitor | Staff) -> None:
        (self.visitors if isinstance(client, Visitor) else self.staff).append(client)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        for v in self.visitors:
            if v.ws is not None:
                await v.ws.close()
        for s in self.staff:
            await s.aclose()
        for ws in self.sockets:
            await ws.close()


@dataclass
class Pair:
    """Two instances on one database and bus: a visitor on ``a``, staff (Anna) on ``b`` holding the chat."""

    a: Server
    b: Server
    visitor: Visitor
    staff: Staff


async def two_instances_in_a_chat(
    procs: Procs, clients: Clients, tmp_path: Path, database_url: str, redis_url: str
) -> Pair:
    ports = free_ports(2)
    keys = tmp_path / "keys.json"
    FileKeyRing.create(keys)  # both instances share one key ring, as in production
    env = service_env(
        database_url=database_url, redis_url=redis_url, bus_prefix=unique_prefix(), keys_file=str(keys),
        allowed_origins=",".join(f"http://127.0.0.1:{p}" for p in ports),
    )
    await db_upgrade(env, cwd=tmp_path)
    await add_staff(env, "anna", "Anna", cwd=tmp_path)
    a, b = procs.server("a", env, ports[0]), procs.server("b", env, ports[1])
    await procs.start_all(a, b)
    visitor, staff = await chat_claimed_by_anna(clients, a.base, b.base)
    return Pair(a, b, visitor, staff)


async def chat_claimed_by_anna(clients: Clients, visitor_base: str, staff_base: str) -> tuple[Visitor, Staff]:
    """A visitor connected at ``visitor_base`` whose chat Anna, connected at ``staff_base``, has claimed."""
    visitor = await Visitor.start(visitor_base)
    clients.add(visitor)
    await visitor.connect()
    staff = Staff(staff_base, "anna", STAFF_PASSWORD)
    clients.add(staff)
    await staff.login()
    await staff.connect()
    assert visitor.ws is not None and staff.ws is not None
    assert (await staff.claim(visitor.id)).status_code == 200
    state = await visitor.ws.expect("state", state="active")  # through the bus when the bases differ
    assert state["staff"] == "Anna"
    return visitor, staff
