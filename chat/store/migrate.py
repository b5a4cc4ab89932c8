"""Alembic, run from code: ``upgrade(url)`` applies every migration shipped in ``store/migrations``.

Synchronous (Alembic is); call it before the event loop starts, or through ``asyncio.to_thread``.

``keys`` gives the key ring to a migration that must seal existing rows (0013, the health data); it is
called only when there is something to seal, so a fresh database needs no keys to be created.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")


def config(url: str, keys: Callable[[], Any] | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = url
    cfg.attributes["keys"] = keys
    return cfg


def upgrade(url: str, revision: str = "head", keys: Callable[[], Any] | None = None) -> None:
    """``keys``: returns the KEK ring (``chat.crypto.keyring.KeyProvider``), for migrations that seal rows."""
    command.upgrade(config(url, keys), revision)
    _checkpoint(url)


def _checkpoint(url: str) -> None:
    """On SQLite, fold the WAL into the file and truncate it: a migration that replaced clear data (0013)
    leaves no old copy of those pages in ``-wal`` (the pages in the file were zeroed: secure_delete)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    with contextlib.closing(sqlite3.connect(parsed.database)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def current_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config("sqlite://")).get_current_head()
