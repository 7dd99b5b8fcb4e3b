"""Headroom rows carry each rule's floor; the daily figures are empty for a firm without a daily
loss rule (TopstepX, FundedNext Futures Rapid).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cluster.storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("headroom") as batch_op:
        batch_op.add_column(sa.Column("daily_floor", cluster.storage.models.Exact(), nullable=True))
        batch_op.add_column(sa.Column("max_loss_floor", cluster.storage.models.Exact(), nullable=True))
        batch_op.alter_column("daily_headroom", existing_type=cluster.storage.models.Exact(), nullable=True)
        batch_op.alter_column("worst_case_daily_headroom", existing_type=cluster.storage.models.Exact(),
                              nullable=True)


def downgrade() -> None:
    # Rows of firms without a daily rule have no daily figures to put back: they go with the columns.
    op.execute("DELETE FROM headroom WHERE daily_headroom IS NULL OR worst_case_daily_headroom IS NULL")
    with op.batch_alter_table("headroom") as batch_op:
        batch_op.alter_column("worst_case_daily_headroom", existing_type=cluster.storage.models.Exact(),
                              nullable=False)
        batch_op.alter_column("daily_headroom", existing_type=cluster.storage.models.Exact(), nullable=False)
        batch_op.drop_column("max_loss_floor")
        batch_op.drop_column("daily_floor")
