"""The engine: the only dialect-aware code (SQLite pragmas, PostgreSQL pool)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
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


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        protect_sqlite_file(url)
        # synchronous=FULL: an acked message survives power loss, not only a crash.
        # One connection, so writes in this process queue in the pool instead of failing with
        # "database is locked"; WAL lets other processes (the CLI) read meanwhile, busy_timeout
        # makes their writes wait instead of failing.
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=30)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.execute("PRAGMA foreign_keys=ON")
            # Deleted rows (retention) are overwritten with zeros, not left in free pages of the file.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

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
