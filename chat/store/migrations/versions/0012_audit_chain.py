"""audit chain: every audit entry carries seq, prev_hash and hash; one chain head row serialises appends

Existing entries are chained in the order they were written (by id) with the hash of chat/store/audit.py,
so a database upgraded from before the chain verifies like a new one.

Revision ID: 0012
Revises: 0010 (relinked after 0011 when merged)
Create Date: 2026-12-07
"""

import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _hash(seq: int, at: datetime, staff_id: int | None, action: str, conversation_id: str | None,
          target: str | None, target_name: str | None, prev: str) -> str:
    # A copy of chat/store/audit.py:entry_hash as of this revision: a migration must not change when the app does.
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.dumps([seq, when, staff_id, action, conversation_id, target, target_name, prev],
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    head = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("genesis_seq", sa.Integer(), nullable=False),
        sa.Column("genesis_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    conn = op.get_bind()
    log = sa.table(
        "audit_log", sa.column("id", sa.Integer()), sa.column("at", sa.DateTime(timezone=True)),
        sa.column("staff_id", sa.Integer()), sa.column("action", sa.String()), sa.column("conversation_id", sa.String()),
        sa.column("target", sa.String()), sa.column("target_name", sa.String()), sa.column("seq", sa.Integer()),
        sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()),
    )
    prev, seq = GENESIS, 0
    rows = conn.execute(sa.select(log.c.id, log.c.at, log.c.staff_id, log.c.action, log.c.conversation_id, log.c.target,
                                  log.c.target_name).order_by(log.c.id)).all()
    for row in rows:
        seq += 1
        digest = _hash(seq, row.at, row.staff_id, row.action, row.conversation_id, row.target, row.target_name, prev)
        conn.execute(sa.update(log).where(log.c.id == row.id).values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    op.bulk_insert(head, [{"id": 1, "seq": seq, "hash": prev, "genesis_seq": 0, "genesis_hash": GENESIS}])
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_audit_log_seq", ["seq"])


def downgrade() -> None:
    op.drop_table("audit_chain")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("uq_audit_log_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
