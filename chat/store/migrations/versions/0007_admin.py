"""administration: canned answers per team, opening-hours overrides, and what an audited admin change was about

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("target", sa.String(length=100), nullable=True))
    op.create_table(
        "canned_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.String(length=4000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), sa.ForeignKey("staff.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_canned_answers_team", "canned_answers", ["team"])
    op.create_table(
        "hours_overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("spans", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("staff.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_hours_overrides_date", "hours_overrides", ["date"])


def downgrade() -> None:
    op.drop_table("hours_overrides")
    op.drop_table("canned_answers")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("target")
