"""sealed health data: reasons, risk categories and self-test results under the conversation's key

Until this revision the routing reasons, the risk categories found in what was written (and the message
that raised them), the latest self-test results, and each self-test's score and zone were kept in clear
beside the municipality and the age band. They are health data. From here on each is sealed under the
conversation's data key, like a message (``chat/service/health.py``), and the clear columns are dropped.

Existing rows are sealed here, in the same migration, so no release ever has both. That needs the key
ring: ``minimaria db upgrade`` (and every command that upgrades) passes it, and it is read only when there
is something to seal. Upgrading a database that holds such rows without the keys, or with a key file that
cannot open their data keys, stops with a message before anything has changed: every data key is
unwrapped first.
Conversations already shredded by retention have no key: their clear health data is simply dropped, as
retention now does.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CONVERSATIONS = sa.table(
    "conversations",
    sa.column("id", sa.String), sa.column("wrapped_dek", sa.LargeBinary), sa.column("kek_id", sa.String),
    sa.column("reasons", sa.JSON), sa.column("risk", sa.String), sa.column("screening", sa.JSON),
    sa.column("risk_seq", sa.Integer), sa.column("reasons_sealed", sa.LargeBinary),
    sa.column("risk_sealed", sa.LargeBinary), sa.column("screening_sealed", sa.LargeBinary),
)
SCREENINGS = sa.table(
    "screenings",
    sa.column("id", sa.Integer), sa.column("conversation_id", sa.String), sa.column("instrument", sa.String),
    sa.column("score", sa.Integer), sa.column("zone", sa.String), sa.column("result", sa.LargeBinary),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _deks(conn: sa.Connection) -> dict[str, bytes]:
    """Every live conversation's DEK, unwrapped with the ring the caller passed, before anything changes:
    a missing key file, or one that cannot open a DEK, stops the migration with the database as it was."""
    from chat.crypto.keyring import KeyError_

    rows = conn.execute(sa.select(CONVERSATIONS.c.id, CONVERSATIONS.c.kek_id, CONVERSATIONS.c.wrapped_dek)
                        .where(CONVERSATIONS.c.wrapped_dek.is_not(None))).all()
    if not rows:
        return {}
    keys = context.config.attributes.get("keys")
    if keys is None:
        raise KeyError_(
            "migration 0013 seals the health data of existing conversations and needs the keys: run "
            "`minimaria db upgrade` with MINIMARIA_KEYS_FILE (or MINIMARIA_KEYS) set as for the server"
        )
    ring = keys()
    return {r.id: bytes(ring.unwrap(r.kek_id, bytes(r.wrapped_dek), r.id)) for r in rows}


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def upgrade() -> None:
    from chat.service import health

    conn = op.get_bind()
    deks = _deks(conn)
    if conn.dialect.name == "sqlite":
        # The clear values' old pages are overwritten with zeros, not left free in the file (the WAL is
        # checkpointed after the upgrade: chat/store/migrate.py). PostgreSQL: see docs/security.md.
        op.execute("PRAGMA secure_delete=ON")
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("reasons_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("risk_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("screening_sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("screenings") as batch:
        batch.add_column(sa.Column("result", sa.LargeBinary(), nullable=True))

    C = CONVERSATIONS
    live = conn.execute(sa.select(C.c.id, C.c.reasons, C.c.risk, C.c.screening, C.c.risk_seq)
                        .where(C.c.wrapped_dek.is_not(None))).all()
    for r in live:
        key = deks[r.id]
        categories = [c for c in (r.risk or "").split(",") if c]
        conn.execute(sa.update(C).where(C.c.id == r.id).values(
            reasons_sealed=health.seal_reasons(key, r.id, list(r.reasons or [])),
            risk_sealed=health.seal_risk(key, r.id, categories, r.risk_seq),
            screening_sealed=health.seal_screening(key, r.id, dict(r.screening or {})),
        ))
    S = SCREENINGS
    shredded = sa.select(C.c.id).where(C.c.wrapped_dek.is_(None))
    conn.execute(sa.delete(S).where(S.c.conversation_id.in_(shredded)))  # as retention now does
    for s in conn.execute(sa.select(S.c.id, S.c.conversation_id, S.c.instrument, S.c.score, S.c.zone,
                                    S.c.created_at)).all():
        sealed = health.seal_result(deks[s.conversation_id], s.conversation_id, s.instrument, _aware(s.created_at),
                                    {"score": s.score, "zone": s.zone})
        conn.execute(sa.update(S).where(S.c.id == s.id).values(result=sealed))

    with op.batch_alter_table("conversations") as batch:
        for col in ("reasons", "risk", "screening", "risk_seq"):
            batch.drop_column(col)
    with op.batch_alter_table("screenings") as batch:
        batch.drop_column("score")
        batch.drop_column("zone")


def downgrade() -> None:
    """Back to clear columns: needs the keys too when there are rows to open."""
    from chat.service import health

    conn = op.get_bind()
    deks = _deks(conn)
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("reasons", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("risk", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("screening", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("risk_seq", sa.Integer(), nullable=True))
    with op.batch_alter_table("screenings") as batch:
        batch.add_column(sa.Column("score", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("zone", sa.String(length=32), nullable=False, server_default=""))

    C = CONVERSATIONS
    for r in conn.execute(sa.select(C.c.id, C.c.reasons_sealed, C.c.risk_sealed, C.c.screening_sealed)
                          .where(C.c.wrapped_dek.is_not(None))).all():
        key = deks[r.id]
        risk = health.open_(key, r.id, "risk", r.risk_sealed, {})
        conn.execute(sa.update(C).where(C.c.id == r.id).values(
            reasons=health.open_(key, r.id, "reasons", r.reasons_sealed, []),
            risk=",".join(risk.get("categories", [])) or None, risk_seq=risk.get("seq"),
            screening=health.open_(key, r.id, "screening", r.screening_sealed, {}),
        ))
    S = SCREENINGS
    for s in conn.execute(sa.select(S.c.id, S.c.conversation_id, S.c.instrument, S.c.result, S.c.created_at)).all():
        field = f"screening_result|{s.instrument}@{_aware(s.created_at).isoformat()}"
        shown = health.open_(deks[s.conversation_id], s.conversation_id, field, s.result, {})
        conn.execute(sa.update(S).where(S.c.id == s.id).values(score=shown.get("score", 0), zone=shown.get("zone", "")))

    with op.batch_alter_table("conversations") as batch:
        for col in ("reasons_sealed", "risk_sealed", "screening_sealed"):
            batch.drop_column(col)
    with op.batch_alter_table("screenings") as batch:
        batch.drop_column("result")
