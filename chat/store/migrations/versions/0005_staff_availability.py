"""staff availability (available / busy / away) kept across reloads and devices

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("availability", sa.String(length=16), nullable=False, server_default="available"))


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("availability")
