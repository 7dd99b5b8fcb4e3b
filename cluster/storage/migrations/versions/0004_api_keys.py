"""The gateway's API keys (their SHA-256 only, a role, and when they were revoked), and when each
run was recorded by the wall clock (its started_ns is the market's time: the latest run is the one
recorded last).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("revoked_ns", sa.BigInteger(), nullable=True),
    )
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("recorded_ns", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("recorded_ns")
    op.drop_table("api_keys")
