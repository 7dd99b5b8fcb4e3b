"""Headroom rows carry the pass-odds monitor's last answer: the probability of passing the phase,
of a hard breach, and the risk per trade that passes most often (empty where it has none).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("headroom") as batch_op:
        batch_op.add_column(sa.Column("pass_probability", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("hard_breach_probability", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("pass_risk_pct", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("headroom") as batch_op:
        batch_op.drop_column("pass_risk_pct")
        batch_op.drop_column("hard_breach_probability")
        batch_op.drop_column("pass_probability")
