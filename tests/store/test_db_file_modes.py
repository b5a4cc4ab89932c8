"""The SQLite database and its -wal and -shm files are owner-only (0600), like the key file, whatever the
umask: created so by `db upgrade` and by the server, and narrowed when an older install left them 0644."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from chat.store.db import create_engine
from chat.store.migrate import upgrade


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: files 0644 unless the code says otherwise
    try:
        yield
    finally:
        os.umask(old)


def modes(db: Path) -> dict[str, int]:
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()}


async def write_through(db: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as conn:  # WAL and SHM exist while a connection is open
            await conn.execute(text("SELECT * FROM t"))
            found = modes(db)
            assert set(found) == {db.name, db.name + "-wal", db.name + "-shm"}
            assert set(found.values()) == {0o600}, found
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("open_umask")
async def test_the_server_creates_its_database_files_owner_only(tmp_path: Path) -> None:
    await write_through(tmp_path / "chat.db")


@pytest.mark.usefixtures("open_umask")
def test_db_upgrade_creates_the_database_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    upgrade(f"sqlite+aiosqlite:///{db}")
    assert set(modes(db).values()) == {0o600}, modes(db)


@pytest.mark.usefixtures("open_umask")
async def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    for name in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        name.touch()
        name.chmod(0o644)
    db.with_name(db.name + "-wal").unlink()
    db.with_name(db.name + "-shm").unlink()
    await write_through(db)
