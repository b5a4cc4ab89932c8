"""Nothing a person writes is kept, carried or logged in plaintext.

A unique marker typed by the visitor (messages, a feedback comment) and by staff (messages, an internal
note) must appear nowhere outside the two sockets: not in the raw bytes of the SQLite file or its WAL,
not in any column of any PostgreSQL table, not in the raw Redis traffic, not in the server's logs. Nor
may the secrets people were given (visitor token, return code, session cookie, CSRF token, password).
Each test also shows that the words did travel, so it cannot pass because nothing was sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from chat.crypto import envelope
from chat.service import keys
from chat.settings import Settings
from tests import services
from tests.client import Staff, Visitor
from tests.conftest import Running, StaffFactory
from tests.fault.flow import Clients
from tests.fault.procs import Procs, add_staff, asyncpg_dsn, db_upgrade, pg_database, service_env, unique_prefix

STAFF_PASSWORD = "correct horse battery"  # the make_staff fixture's


@dataclass
class Chat:
    """What one conversation put where: the texts by seq, and everything that must stay out of storage."""

    conversation_id: str
    marker: str
    messages: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (from, text)
    note: str = ""
    comment: str = ""
    secrets: dict[str, str] = field(default_factory=dict)


async def converse(visitor: Visitor, staff: Staff, marker: str) -> Chat:
    """Claim, two messages each way, an internal note, close, feedback; check each arrived where it should."""
    assert visitor.ws is not None and staff.ws is not None
    chat = Chat(visitor.id, marker)
    assert (await staff.claim(visitor.id)).status_code == 200
    await visitor.ws.expect("state", state="active")
    script = [
        ("visitor", "v1", f"hej, jag heter Kim {marker}"),
        ("staff", "s1", f"Hej Kim! {marker} Vad vill du prata om?"),
        ("visitor", "v2", f"om min mamma {marker} och alkohol"),
        ("staff", "s2", f"Berätta mer {marker}"),
    ]
    for side, cmid, words in script:
        ack = await (visitor.say(words, cmid) if side == "visitor" else staff.say(visitor.id, words, cmid))
        chat.messages[ack["seq"]] = (side, words)
    assert sorted(chat.messages) == [1, 2, 3, 4]
    for seq, (side, words) in chat.messages.items():  # the other side read every word over its socket
        other = staff.ws if side == "visitor" else visitor.ws
        assert (await other.expect("msg", seq=seq))["text"] == words

    chat.note = f"internal: {marker} mamma dricker"
    r = await staff.http.post(f"/api/v1/staff/conversations/{visitor.id}/notes", json={"text": chat.note})
    assert r.status_code == 201, r.text
    transcript = (await staff.http.get(f"/api/v1/staff/conversations/{visitor.id}/transcript")).json()
    assert [m["text"] for m in transcript["messages"]] == [w for _, (_, w) in sorted(chat.messages.items())]
    assert [n["text"] for n in transcript["notes"]] == [chat.note]
    r = await staff.http.post(f"/api/v1/staff/conversations/{visitor.id}/close", json={"outcome": "advice_given"})
    assert r.status_code == 200, r.text
    await visitor.ws.expect("state", state="closed")

    chat.comment = f"tack {marker} ni var snälla"
    async with httpx.AsyncClient(base_url=visitor.base, headers={"Authorization": f"Bearer {visitor.token}"}) as http:
        r = await http.post(f"/api/v1/conversations/{visitor.id}/feedback", json={"rating": 5, "comment": chat.comment})
    assert r.status_code == 201, r.text

    chat.secrets = {
        "text (marker)": marker,
        "visitor token": visitor.token,
        "return code": visitor.started["return_code"],
        "staff session cookie": staff.http.cookies["mm_staff"],
        "CSRF token": staff.csrf,
        "staff password": staff.password,
    }
    return chat


def leaked(blob: bytes, secrets: dict[str, str]) -> list[str]:
    return [what for what, value in secrets.items() if value.encode() in blob]


# Where things are kept: raw bytes, read the way someone with the disk, a backup or psql would.


def sqlite_files(settings: Settings) -> dict[str, bytes]:
    """The database file and everything SQLite keeps beside it (-wal, -shm, -journal), as raw bytes."""
    db = settings.sqlite_path
    assert db is not None
    return {p.name: p.read_bytes() for p in sorted(db.parent.glob(db.name + "*"))}


async def pg_rows(database_url: str) -> tuple[set[str], bytes]:
    """Every row of every table, each column as text and bytea columns as their raw bytes."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        parts: list[bytes] = []
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            # Names come from information_schema, quoted: nothing from outside reaches this statement.
            for row in await conn.fetch(f"SELECT t::text AS whole_row, t.* FROM {name} t"):  # noqa: S608
                parts.extend(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    finally:
        await conn.close()
    return {t["table_name"] for t in tables}, b"\n".join(parts)


async def stored_body(running: Running, conversation_id: str, seq: int) -> bytes:
    async with running.ctx.engine.connect() as conn:
        row = (await conn.execute(
            text("SELECT body FROM messages WHERE conversation_id = :c AND seq = :s"), {"c": conversation_id, "s": seq}
        )).one()
    return bytes(row.body)


# What travels: every message on the shared Redis, whoever published it.


@dataclass
class Sniffed:
    messages: list[tuple[str, bytes]] = field(default_factory=list)  # (channel, payload)
    waiting: dict[str, asyncio.Event] = field(default_factory=dict)  # channel → set when a message arrives on it

    def add(self, channel: str, payload: bytes) -> None:
        self.messages.append((channel, payload))
        if channel in self.waiting:
            self.waiting[channel].set()

    def on(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        return [(ch, json.loads(data)) for ch, data in self.messages if ch.startswith(prefix + ":")]


@contextlib.asynccontextmanager
async def redis_sniffer(url: str) -> AsyncIterator[tuple[Sniffed, aioredis.Redis]]:
    """A raw subscriber with PSUBSCRIBE '*', as an eavesdropper on Redis would be."""
    client: aioredis.Redis = aioredis.Redis.from_url(url)
    pubsub = client.pubsub()
    await pubsub.psubscribe("*")
    async with asyncio.timeout(5):
        while (await pubsub.get_message(timeout=1.0) or {}).get("type") != "psubscribe":
            pass
    sniffed = Sniffed()

    async def pump() -> None:
        while True:
            m = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if m is not None and m["type"] == "pmessage":
                sniffed.add(m["channel"].decode(), bytes(m["data"]))

    task = asyncio.create_task(pump())
    try:
        yield sniffed, client
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()


async def drain(sniffed: Sniffed, client: aioredis.Redis, prefix: str) -> None:
    """Publish a sentinel after everything else and wait for it: all earlier publishes have been seen."""
    sentinel = f"{prefix}:sentinel-{uuid.uuid4().hex}"
    arrived = sniffed.waiting[sentinel] = asyncio.Event()
    await client.publish(sentinel, b'{"type": "sentinel"}')
    async with asyncio.timeout(5):
        await arrived.wait()


def check_bus(chat: Chat, sniffed: Sniffed, prefix: str) -> list[dict[str, Any]]:
    """No secret on any channel (nor inside a ciphertext field); returns this conversation's msg events."""
    everything = b"\n".join(data for _, data in sniffed.messages)
    assert not leaked(everything, chat.secrets)
    events = [e for ch, e in sniffed.on(prefix) if ch == f"{prefix}:c:{chat.conversation_id}"]
    msgs = [e for e in events if e["type"] == "msg"]
    for e in msgs:
        assert "text" not in e
        assert not leaked(base64.b64decode(e["ct"]), chat.secrets)
    for e in events:
        if e["type"] != "msg":  # typing, read, state, presence: they carry no words at all
            assert e["type"] in {"typing", "read", "state", "note", "screening", "visitor_presence"}
            assert not {"text", "ct"} & set(e)
    return msgs


# The tests.


async def test_text_is_nowhere_in_the_store_or_on_the_bus(server: Running, make_staff: StaffFactory) -> None:
    """Raw SQLite file and WAL, or every PostgreSQL row and the raw Redis traffic: ciphertext only."""
    marker = f"MARKER-{uuid.uuid4()}"
    prefix = server.settings.bus_prefix
    async with contextlib.AsyncExitStack() as stack:
        sniffed: Sniffed | None = None
        client: aioredis.Redis | None = None
        if server.settings.redis_url:
            sniffed, client = await stack.enter_async_context(redis_sniffer(services.REDIS_URL))
        staff = await make_staff()
        visitor = await Visitor.start(server.base)
        await visitor.connect()
        stack.push_async_callback(visitor.ws.close)  # type: ignore[union-attr]
        chat = await converse(visitor, staff, marker)

        # The stored texts are the ciphertexts of what was said (so we are looking at the right bytes).
        dek = await keys.dek_for(server.ctx, chat.conversation_id)
        bodies = {seq: await stored_body(server, chat.conversation_id, seq) for seq in chat.messages}
        for seq, (side, words) in chat.messages.items():
            assert envelope.open_(dek, bodies[seq], keys.message_aad(chat.conversation_id, seq, side)) == words
        async with server.ctx.engine.connect() as conn:
            comment = (await conn.execute(text("SELECT comment FROM feedback"))).scalar_one()
        assert envelope.open_(dek, bytes(comment), keys.feedback_aad(chat.conversation_id)) == chat.comment

        if server.settings.is_sqlite:
            files = sqlite_files(server.settings)
            db = server.settings.sqlite_path
            assert db is not None and {db.name, db.name + "-wal"} <= set(files)
            raw = b"".join(files.values())
            assert chat.conversation_id.encode() in raw and all(b in raw for b in bodies.values())
            assert not {name: found for name, data in files.items() if (found := leaked(data, chat.secrets))}
        else:
            tables, raw = await pg_rows(server.settings.database_url)
            assert {"conversations", "messages", "notes", "feedback", "staff", "staff_sessions", "audit_log"} <= tables
            assert chat.conversation_id.encode() in raw and all(b in raw for b in bodies.values())
            assert not leaked(raw, chat.secrets)

            assert sniffed is not None and client is not None
            await drain(sniffed, client, prefix)
            msgs = check_bus(chat, sniffed, prefix)
            # The bus did carry every message, as the ciphertext that is stored.
            assert sorted(e["seq"] for e in msgs) == sorted(chat.messages)
            for e in msgs:
                assert base64.b64decode(e["ct"]) == bodies[e["seq"]]
            # Nothing is kept in Redis under this instance's prefix that holds a secret either.
            kept = [k + b"=" + (await client.dump(k) or b"") async for k in client.scan_iter(match=f"{prefix}:*")]
            assert not leaked(b"\n".join(kept), chat.secrets)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_logs_of_a_whole_chat_hold_no_text_and_no_secret(
    backend: str, procs: Procs, clients: Clients, tmp_path: Path
) -> None:
    """A real ``minimaria serve`` process: its stderr and stdout record the chat but none of its words."""
    marker = f"MARKER-{uuid.uuid4()}"
    password = f"pw-{uuid.uuid4().hex}"
    port = services.free_port()
    base = f"http://127.0.0.1:{port}"
    async with contextlib.AsyncExitStack() as stack:
        settings: dict[str, str] = {"allowed_origins": base}
        sniffed: Sniffed | None = None
        client: aioredis.Redis | None = None
        if backend == "sqlite":
            db = tmp_path / "chat.db"
            settings["database_url"] = f"sqlite+aiosqlite:///{db}"
        else:
            services.require_redis()
            from chat.crypto.keyring import FileKeyRing

            FileKeyRing.create(tmp_path / "keys.json")
            url = await stack.enter_async_context(pg_database())
            stack.callback(procs.cleanup)  # the server stops before its database is dropped
            prefix = unique_prefix()
            settings |= {"database_url": url, "redis_url": services.REDIS_URL, "bus_prefix": prefix,
                         "keys_file": str(tmp_path / "keys.json")}
            sniffed, client = await stack.enter_async_context(redis_sniffer(services.REDIS_URL))
        env = service_env(**settings)
        await db_upgrade(env, cwd=tmp_path)
        await add_staff(env, "kim", "Kim", password, cwd=tmp_path)
        app = procs.server("app", env, port)
        await app.start()

        visitor = await Visitor.start(base)
        clients.add(visitor)
        await visitor.connect()
        staff = Staff(base, "kim", password)
        clients.add(staff)
        await staff.login()
        await staff.connect()
        chat = await converse(visitor, staff, marker)

        if backend == "sqlite":  # while it runs, so the WAL is there too
            files = sqlite_files(Settings(database_url=settings["database_url"]))
            assert "chat.db-wal" in files and chat.conversation_id.encode() in b"".join(files.values())
            assert not {name: found for name, data in files.items() if (found := leaked(data, chat.secrets))}
        else:
            _, raw = await pg_rows(settings["database_url"])
            assert chat.conversation_id.encode() in raw and not leaked(raw, chat.secrets)
            assert sniffed is not None and client is not None
            await drain(sniffed, client, settings["bus_prefix"])
            assert len(check_bus(chat, sniffed, settings["bus_prefix"])) == len(chat.messages)

        for ws in (visitor.ws, staff.ws):
            assert ws is not None
            await ws.close()
        assert await app.terminate() == 0
        logged = app.stderr() + app.stdout_path.read_text(errors="replace")
        lines = [json.loads(line) for line in app.stderr().splitlines() if line.strip()]
        # The logs did record this chat (so this cannot pass on empty logs) ...
        events = {(line.get("event"), line.get("conversation_id")) for line in lines}
        assert {("conversation_started", chat.conversation_id), ("conversation_claimed", chat.conversation_id),
                ("transcript_read", chat.conversation_id), ("conversation_closed", chat.conversation_id)} <= events
        # ... and none of its words or secrets.
        assert not leaked(logged.encode(), chat.secrets)
