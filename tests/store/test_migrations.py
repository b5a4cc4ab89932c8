"""The migrations build exactly the tables the models describe, and the reversible ones run down and up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import chat.store.models  # noqa: F401  (registers the tables)
from chat.crypto import envelope
from chat.crypto.keyring import FileKeyRing, KeyError_
from chat.service import health
from chat.store.migrate import config, upgrade

AT = "2026-12-01 10:00:00.000000"  # as SQLite keeps an aware UTC time


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


def _conversation_at_0010(conn: Any, cid: str, wrapped: bytes | None, kek_id: str | None) -> None:
    """A conversation as revisions up to 0010 kept it: its health data in clear."""
    conn.execute(
        text(
            "INSERT INTO conversations (id, state, role, language, team, priority, visitor_token_hash, token_expires_at,"
            " return_code_hash, last_seq, visitor_read_seq, staff_read_seq, created_at, reasons, risk, screening,"
            " risk_seq, wrapped_dek, kek_id) VALUES (:id, 'queued', 'young', 'sv', 'reception', 2, :t, :at, :r, 3, 0,"
            " 0, :at, :reasons, 'suicide', :screening, 3, :w, :k)"
        ),
        {"id": cid, "t": "t" + cid, "r": "r" + cid, "at": AT, "w": wrapped, "k": kek_id,
         "reasons": json.dumps([{"code": "risk", "sv": "Risksignal", "en": "Risk signal (suicide)"}]),
         "screening": json.dumps({"audit": {"score": 16, "zone": "harmful"}})},
    )
    conn.execute(
        text("INSERT INTO screenings (conversation_id, instrument, score, zone, answers, created_at)"
             " VALUES (:c, 'audit', 16, 'harmful', :a, :at)"),
        {"c": cid, "a": b"sealed answers", "at": AT},
    )


def test_0013_seals_the_health_data_of_existing_rows_and_drops_the_clear_columns(tmp_path: Path) -> None:
    """A live conversation's reasons, risk (with its seq), latest results and each self-test's score and zone
    are sealed under its own key; a shredded one's are dropped, with its self-tests' rows."""
    db = tmp_path / "chat.db"
    url = f"sqlite+aiosqlite:///{db}"
    upgrade(url, "0010")
    ring = FileKeyRing.create(tmp_path / "keys.json")
    dek = envelope.new_dek()
    kek_id, wrapped = ring.wrap(dek, "live")
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            _conversation_at_0010(conn, "live", wrapped, kek_id)
            _conversation_at_0010(conn, "shredded", None, None)
        upgrade(url, keys=lambda: ring)
        with engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(text("SELECT * FROM conversations"))}
            tests = conn.execute(text("SELECT * FROM screenings")).all()
    finally:
        engine.dispose()
    assert _differences(db) == []
    live = rows["live"]
    assert health.open_(dek, "live", "risk", live.risk_sealed, None) == {"categories": ["suicide"], "seq": 3}
    assert health.open_(dek, "live", "reasons", live.reasons_sealed, None)[0]["en"] == "Risk signal (suicide)"
    assert health.open_(dek, "live", "screening", live.screening_sealed, None) == {"audit": {"score": 16,
                                                                                           "zone": "harmful"}}
    assert rows["shredded"].risk_sealed is None
    assert [t.conversation_id for t in tests] == ["live"]
    at = datetime.fromisoformat(AT).replace(tzinfo=UTC)
    assert health.open_(dek, "live", f"screening_result|audit@{at.isoformat()}", tests[0].result, None) == {
        "score": 16, "zone": "harmful"}
    # Not in any column, nor left in the file's free pages or its WAL.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("chat.db*"))
    assert not [w for w in (b"suicide", b"harmful", b"Risk signal") if w in raw]


def test_0013_without_the_keys_stops_before_dropping_the_clear_columns(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    url = f"sqlite+aiosqlite:///{db}"
    upgrade(url, "0010")
    ring = FileKeyRing.create(tmp_path / "keys.json")
    kek_id, wrapped = ring.wrap(envelope.new_dek(), "live")
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            _conversation_at_0010(conn, "live", wrapped, kek_id)
        with pytest.raises(KeyError_, match="needs the keys"):
            upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT risk FROM conversations")).scalar_one() == "suicide"
    finally:
        engine.dispose()
    upgrade(url, keys=lambda: ring)  # and with them it goes on
    assert _differences(db) == []
