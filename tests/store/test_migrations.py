"""The migrations build exactly the tables the models describe, and the reversible ones run down and up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import chat.store.models  # noqa: F401  (registers the tables)
from chat.store.migrate import config, upgrade


def _differences(path: Path) -> list[object]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    # Index naming differs harmlessly between autogenerate and hand-written migrations; tables and
    # columns must not.
    return [d for d in diff if not (isinstance(d, tuple) and d[0] in {"add_index", "remove_index"})]


def test_the_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    upgrade(f"sqlite+aiosqlite:///{db}")
    assert _differences(db) == []


def test_the_later_migrations_go_down_and_up_again(tmp_path: Path) -> None:
    # 0002 (encryption at rest) is one-way on purpose: the plaintext is gone. Everything after it reverses.
    db = tmp_path / "chat.db"
    url = f"sqlite+aiosqlite:///{db}"
    upgrade(url)
    command.downgrade(config(url), "0002")
    upgrade(url)
    assert _differences(db) == []
