"""encryption at rest: wrapped data keys, ciphertext columns, crypto-shredding mark

Everything a person writes is stored as ciphertext from this revision on. Text written before it
(development databases of the pre-release chat core only; nothing was deployed) cannot be kept in
clear: this migration deletes it and closes the conversations it belonged to.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM messages")
    op.execute("DELETE FROM notes")
    op.execute("UPDATE feedback SET comment = NULL")
    op.execute("UPDATE conversations SET state = 'closed', outcome = 'other' WHERE state <> 'closed'")
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("wrapped_dek", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("kek_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_conversations_kek_id", ["kek_id"])
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("body")
        batch.add_column(sa.Column("body", sa.LargeBinary(), nullable=False))
    with op.batch_alter_table("notes") as batch:
        batch.drop_column("body")
        batch.add_column(sa.Column("body", sa.LargeBinary(), nullable=False))
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("comment")
        batch.add_column(sa.Column("comment", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("encryption at rest is not undone: the plaintext is gone")
