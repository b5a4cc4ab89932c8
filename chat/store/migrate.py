"""Alembic, run from code: ``upgrade(url)`` applies every migration shipped in ``store/migrations``.

Synchronous (Alembic is); call it before the event loop starts, or through ``asyncio.to_thread``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from chat.store.db import protect_sqlite_file

MIGRATIONS = Path(__file__).with_name("migrations")


def config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    protect_sqlite_file(url)  # `db upgrade` is often what creates the file
    command.upgrade(config(url), revision)


def current_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config("sqlite://")).get_current_head()
