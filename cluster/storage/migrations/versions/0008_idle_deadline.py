"""Headroom rows carry the inactivity rule's deadline: the firm closes the account if no trade is
entered by then (empty for a firm without the rule, and in rows written before).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("headroom") as batch_op:
        batch_op.add_column(sa.Column("idle_deadline_ns", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("headroom") as batch_op:
        batch_op.drop_column("idle_deadline_ns")
