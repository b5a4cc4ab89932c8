"""The engine: the only dialect-aware code (SQLite pragmas, PostgreSQL pool)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def protect_sqlite_file(url: str) -> None:
    """Make an SQLite database file owner-only (0600), like the key file: created empty with that mode
    before SQLite opens it (SQLite gives its -wal and -shm files the database file's mode), and an
    existing one, with its -wal and -shm, narrowed to it. Nothing for PostgreSQL or an in-memory database."""
    parsed = make_url(url)
    db = parsed.database
    if parsed.get_backend_name() != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return
    path = Path(db)
    if not path.parent.is_dir():
        return  # SQLite will say so when it opens it
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # an empty file is an empty database
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            file.chmod(0o600)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Every SQLite connection of the process, async or not (the message writer's own, below), gets these."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # synchronous=FULL: an acked message survives power loss, not only a crash.
    cur.execute("PRAGMA synchronous=FULL")
    # A second writer (another connection of this process, or the CLI) waits instead of failing.
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    # Deleted rows (retention) are overwritten with zeros, not left in free pages of the file.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def is_sqlite_file(url: str | URL) -> bool:
    """An SQLite database in a file (not in memory): one that a second connection sees the same."""
    parsed = make_url(url)
    db = parsed.database
    return parsed.get_backend_name() == "sqlite" and bool(db) and db != ":memory:" and not str(db).startswith("file:")


def create_sync_sqlite_engine(url: str | URL) -> Engine:
    """A synchronous engine (the stdlib sqlite3 driver) on the same SQLite file, same pragmas, one connection:
    for a caller that runs a whole transaction in one call on a thread of its own (store/writer.py), instead
    of one hop to aiosqlite's thread per statement."""
    if not is_sqlite_file(url):
        raise ValueError("a synchronous engine needs an SQLite file")
    engine = sqlalchemy.create_engine(make_url(url).set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        protect_sqlite_file(url)
        # One connection, so writes in this process queue in the pool instead of failing with
        # "database is locked"; WAL lets other processes (the CLI) read meanwhile, busy_timeout
        # makes their writes wait instead of failing. The message writer has one connection of its
        # own (create_sync_sqlite_engine): its short transactions and these wait for each other the same way.
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=30)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, pool_timeout=10)

@asynccontextmanager
async def connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        yield conn

async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def flush_deleted(engine: AsyncEngine) -> None:
    """After deleting content for good: on SQLite, checkpoint and truncate the WAL, so old copies of the
    deleted pages do not linger in ``-wal``. PostgreSQL reclaims dead rows with (auto)vacuum."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
