"""conversation parts: a return code re-opens a closed conversation; the closed part is kept as a part

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("part_start_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("part_started_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "conversation_parts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.String(length=36),
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("from_seq", sa.Integer(), nullable=False),
        sa.Column("to_seq", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("conversation_id", "part"),
    )


def downgrade() -> None:
    op.drop_table("conversation_parts")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("part_started_at")
        batch.drop_column("part_start_seq")
