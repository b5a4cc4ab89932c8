"""Fixtures: a real uvicorn on a free port, on SQLite + memory bus and on PostgreSQL + Redis.

The server runs in the test's event loop (fast to start, still real sockets); tests that need separate
processes (several instances, restarts, signals) start ``minimaria serve`` themselves (tests/fault).
Each test gets an empty database and its own bus prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
import uvicorn
from argon2 import PasswordHasher
from starlette.applications import Starlette

from chat.app import create_app, uvicorn_config
from chat.crypto.keyring import FileKeyRing
from chat.service import accounts
from chat.service.context import Context
from chat.settings import Settings
from chat.store.migrate import upgrade
from tests import services
from tests.client import Staff, Visitor
from tests.fault.flow import Clients
from tests.fault.procs import Procs
from triage import Region

TABLES = (
    "staff, staff_sessions, conversations, messages, notes, feedback, audit_log, screenings, offers, concern_reports, "
    "canned_answers, hours_overrides, audit_chain, login_attempts"
)


class InProcessServer(uvicorn.Server):
    """uvicorn without its signal handlers: the test runner owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Running:
    base: str
    app: Starlette
    ctx: Context
    settings: Settings

    @property
    def ws(self) -> str:
        return self.base.replace("http", "ws", 1)


@contextlib.asynccontextmanager
async def serve(
    settings: Settings, region: Region | None = None, clock: Callable[[], datetime] | None = None
) -> AsyncIterator[Running]:
    app = create_app(settings, region, clock=clock)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = InProcessServer(uvicorn_config(app, settings, "127.0.0.1", port))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Running(f"http://127.0.0.1:{port}", app, app.state.ctx, settings)
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(autouse=True, scope="session")
def quick_argon2() -> Iterator[None]:
    """Staff passwords in the in-process servers are hashed and checked with argon2id as in production, but at
    the library's lowest cost: the suite creates and logs in well over a thousand accounts, at a third of a
    second each with the production cost. The production parameters are checked in
    tests/service/test_password_cost.py and used by every `minimaria serve` process the fault tests start."""
    production = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    accounts._hasher = production


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    services.require_pg()
    name = f"minimaria_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(services.PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    # Every test client comes from 127.0.0.1: the per-client visitor limits (and the global start ceiling)
    # are lifted here; tests/web/test_client_limits.py turns them back on.
    base = Settings(
        allowed_origins=(), frames_per_second=50.0, frame_burst=100,
        return_code_attempts_per_client_per_minute=0, starts_per_client_per_hour=0, starts_per_minute=0,
    )
    if backend == "sqlite":
        db = tmp_path / "chat.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        return base.replace(database_url=f"sqlite+aiosqlite:///{db}")
    services.require_redis()
    url = request.getfixturevalue("pg_url")
    keys = tmp_path / "keys.json"
    FileKeyRing.create(keys)
    return base.replace(
        database_url=url, redis_url=services.REDIS_URL, bus_prefix=f"mmtest-{uuid.uuid4().hex[:8]}", keys_file=keys
    )


async def empty_database(settings: Settings) -> None:
    """Empty the shared PostgreSQL test database (SQLite tests get a fresh file). Call it before any server on it
    starts: a TRUNCATE needs every table to itself and can deadlock with a server's start-up work or jobs."""
    if settings.is_sqlite:
        return
    conn = await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg", "postgresql", 1))
    try:
        await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Running]:
    await empty_database(settings)
    async with serve(settings) as running:
        yield running


StaffFactory = Callable[..., Awaitable[Staff]]


@pytest.fixture
async def make_staff(server: Running) -> AsyncIterator[StaffFactory]:
    made: list[Staff] = []

    async def make(
        username: str = "anna", roles: tuple[str, ...] = ("reception",), connect: bool = True,
        teams: tuple[str, ...] = ("reception",),
    ) -> Staff:
        password = "correct horse battery"
        await accounts.add_staff(server.ctx, username, password, list(roles), list(teams), username.title())
        s = Staff(server.base, username, password)
        await s.login()
        if connect:
            await s.connect()
        made.append(s)
        return s

    yield make
    for s in made:
        await s.aclose()


@pytest.fixture
async def visitor(server: Running) -> AsyncIterator[Visitor]:
    v = await Visitor.start(server.base)
    await v.connect()
    yield v
    if v.ws is not None:
        await v.ws.close()


# Separate `minimaria serve` processes (tests/fault, tests/crypto): what a test started is stopped,
# and its clients closed, whatever state the test left them in.


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.cleanup()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    c = Clients()
    try:
        yield c
    finally:
        await c.aclose()
