"""The servers under load: the bare relay and ``minimaria serve`` (embedded, or PostgreSQL + Redis).

Each server is a separate process pinned to one core (the generator takes the other one, see
``pin_generator``), with RLIMIT_NOFILE raised to its hard limit so 5,000 idle sockets fit, encryption
on (a key file made for the run) and the per-connection frame limit raised by environment variables
so the benchmark measures the message path, not the throttle. The PostgreSQL mode creates its own
database and drops it afterwards; the embedded mode keeps its SQLite file in a directory the caller
owns, so the store can still be read (and tampered with, in the store-check test) after the server
stopped.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

from bench.message_path import free_port, wait_ready

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PER_STAFF = 10  # one staff socket per 10 conversations: a busy console
PASSWORD = "benchmark password"

SERVER_CORE, GENERATOR_CORE = 0, 1


# Decided once, before this process pins itself: afterwards its own affinity is just the generator's core.
_CORES = os.sched_getaffinity(0)


def two_cores() -> bool:
    return {SERVER_CORE, GENERATOR_CORE} <= _CORES


def raise_nofile() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit (5,000 sockets on each side need more than 1,024)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pin_generator() -> None:
    """This process (the generator) on its own core, away from the server's."""
    raise_nofile()
    if two_cores():
        os.sched_setaffinity(0, {GENERATOR_CORE})


def _server_preexec() -> None:  # runs in the child between fork and exec
    raise_nofile()
    if two_cores():
        os.sched_setaffinity(0, {SERVER_CORE})


def rss_kib(pid: int) -> int:
    """Resident memory of a process (VmRSS from /proc), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class StoredMessage:
    conversation_id: str
    seq: int
    sender: str
    client_msg_id: str | None


@dataclass
class Server:
    """A running server: where to connect, and how to say hello for a conversation."""

    kind: str  # "relay", "sqlite" or "postgres"
    proc: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:port
    env: dict[str, str] = field(default_factory=dict)
    sqlite_file: Path | None = None
    pg_dsn: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def is_relay(self) -> bool:
        return self.kind == "relay"

    @property
    def ws_base(self) -> str:
        return self.base.replace("http://", "ws://", 1)

    @property
    def visitor_url(self) -> str:
        return self.ws_base + ("/ws" if self.is_relay else "/ws/visitor")

    async def read_store(self) -> list[StoredMessage]:
        """Every stored message row, straight from the database (bodies stay encrypted: not needed)."""
        query = "SELECT conversation_id, seq, sender, client_msg_id FROM messages"
        if self.sqlite_file is not None:
            with sqlite3.connect(self.sqlite_file) as db:
                return [StoredMessage(*row) for row in db.execute(query)]
        if self.pg_dsn is not None:
            import asyncpg  # type: ignore[import-untyped]

            conn = await asyncpg.connect(self.pg_dsn)
            try:
                return [StoredMessage(*row) for row in await conn.fetch(query)]
            finally:
                await conn.close()
        return []


@asynccontextmanager
async def _process(args: list[str], env: dict[str, str], ready_url: str, cwd: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_server_preexec
    )
    try:
        await wait_ready(ready_url, proc, tries=600)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@asynccontextmanager
async def relay() -> AsyncIterator[Server]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    args = [sys.executable, "-m", "bench.relay", str(port)]
    async with _process(args, env, f"http://127.0.0.1:{port}/", REPO) as proc:
        yield Server("relay", proc, f"http://127.0.0.1:{port}")


def _minimaria() -> str:
    return str(Path(sys.executable).with_name("minimaria"))


@asynccontextmanager
async def chat(backend: str, workdir: Path, staff_accounts: int = 0) -> AsyncIterator[Server]:
    """``minimaria serve`` on a fresh database in ``workdir`` (SQLite) or a fresh PostgreSQL database."""
    from chat.crypto.keyring import FileKeyRing

    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (set-up, before anything is measured)
    port = free_port()
    keys = workdir / "keys.json"
    FileKeyRing.create(keys)
    env = dict(
        os.environ,
        MINIMARIA_FRAMES_PER_SECOND="100000",
        MINIMARIA_FRAME_BURST="100000",
        # every bench visitor comes from 127.0.0.1: no per-client limits, no start ceiling
        MINIMARIA_STARTS_PER_CLIENT_PER_HOUR="0",
        MINIMARIA_STARTS_PER_MINUTE="0",
        MINIMARIA_RETURN_CODE_ATTEMPTS_PER_CLIENT_PER_MINUTE="0",
        MINIMARIA_LOG_LEVEL="WARNING",
        MINIMARIA_KEYS_FILE=str(keys),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    sqlite_file: Path | None = None
    pg_dsn: str | None = None
    dbname: str | None = None
    if backend == "sqlite":
        sqlite_file = workdir / "bench.db"
        env["MINIMARIA_DATABASE_URL"] = f"sqlite+aiosqlite:///{sqlite_file}"
    elif backend == "postgres":
        import asyncpg

        dbname = f"minimaria_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{dbname}"')
        await conn.close()
        pg_dsn = f"postgresql://postgres@127.0.0.1:5432/{dbname}"
        env |= {
            "MINIMARIA_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{dbname}",
            "MINIMARIA_REDIS_URL": "redis://127.0.0.1:6379/0",
            "MINIMARIA_BUS_PREFIX": f"bench-{dbname}",
        }
    else:
        raise ValueError(backend)
    try:
        subprocess.run([_minimaria(), "db", "upgrade"], env=env, cwd=workdir, check=True, capture_output=True)
        for k in range(staff_accounts):
            subprocess.run(
                [_minimaria(), "staff", "add", f"bench{k}", "--role", "reception", "--team", "reception"],
                input=PASSWORD.encode(),
                env=env,
                cwd=workdir,
                check=True,
                capture_output=True,
            )
        args = [_minimaria(), "serve", "--port", str(port), "--upgrade"]
        async with _process(args, env, f"http://127.0.0.1:{port}/healthz", workdir) as proc:
            yield Server(backend, proc, f"http://127.0.0.1:{port}", env, sqlite_file, pg_dsn)
    finally:
        if dbname:
            import asyncpg

            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            await conn.close()


@dataclass
class Conversation:
    key: str  # the conversation id (the relay's room name)
    hello: str  # the visitor's hello frame


async def _welcome(ws: websockets.ClientConnection) -> None:
    while json.loads(await ws.recv())["type"] != "welcome":
        pass


async def held_conversations(server: Server, count: int) -> tuple[list[Conversation], list[websockets.ClientConnection]]:
    """``count`` conversations, each claimed by one of count/10 staff members whose sockets are open."""
    staff: list[websockets.ClientConnection] = []
    conversations: list[Conversation] = []
    connect: Callable[..., websockets.connect] = websockets.connect
    if server.is_relay:
        for first in range(0, count, PER_STAFF):
            rooms = [f"r{n}" for n in range(first, min(first + PER_STAFF, count))]
            ws = await connect(server.visitor_url, compression=None, max_queue=None)
            await ws.send(json.dumps({"watch": rooms}))
            await _welcome(ws)
            staff.append(ws)
            conversations += [Conversation(room, json.dumps({"room": room})) for room in rooms]
        return conversations, staff
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as http:
        for k in range((count + PER_STAFF - 1) // PER_STAFF):
            http.cookies.clear()
            r = await http.post("/api/v1/staff/login", json={"username": f"bench{k}", "password": PASSWORD})
            r.raise_for_status()
            http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            for _ in range(min(PER_STAFF, count - k * PER_STAFF)):
                r = await http.post("/api/v1/conversations", json={"role": "young"})
                r.raise_for_status()
                started = r.json()
                (await http.post(f"/api/v1/staff/conversations/{started['conversation_id']}/claim")).raise_for_status()
                conversations.append(
                    Conversation(started["conversation_id"], json.dumps({"type": "hello", "token": started["visitor_token"]}))
                )
            ws = await connect(
                server.ws_base + "/ws/staff",
                origin=server.base,
                additional_headers={"Cookie": f"mm_staff={http.cookies['mm_staff']}"},
                compression=None,
                max_queue=None,
            )
            await ws.send(json.dumps({"type": "hello", "last_seq": {}}))
            await _welcome(ws)
            staff.append(ws)
    return conversations, staff
