"""triage: queue order, reasons, risk, screening, offers, re-opening, transfer notes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reasons", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("risk", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("screening", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("preferred_staff_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("offered_to", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("after_hours", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("reopened_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_conversations_queue", ["state", "team", "priority", "queued_at"])
    op.execute("UPDATE conversations SET queued_at = created_at, last_activity_at = created_at")
    with op.batch_alter_table("notes") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="note"))
    op.create_table(
        "screenings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.String(length=36), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("instrument", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("answers", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_screenings_conversation_id", "screenings", ["conversation_id"])
    op.create_table(
        "offers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.String(length=36), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_offers_conversation_id", "offers", ["conversation_id"])


def downgrade() -> None:
    op.drop_table("offers")
    op.drop_table("screenings")
    with op.batch_alter_table("notes") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_queue")
        for col in ("last_activity_at", "reopened_count", "after_hours", "offer_expires_at", "offered_to",
                    "preferred_staff_id", "screening", "risk", "reasons", "queued_at"):
            batch.drop_column(col)
