"""The model registry: what a model version was trained on and how it was judged (its features, its
walk-forward folds, the samples' time range, the code version) and its role (challenger, champion,
retired), with the instant it was promoted. Signals keep the ATR they were made with and what the desk knew at them (features).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signals") as batch_op:
        batch_op.add_column(sa.Column("atr", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("context", sa.JSON(), nullable=True))
    with op.batch_alter_table("model_versions") as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="challenger"))
        batch_op.add_column(sa.Column("features", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("folds", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("data_from_ns", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("data_to_ns", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("samples", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("code_version", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("promoted_ns", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("verdict", sa.Text(), nullable=True))
    # one champion per model, whatever two promotions at once do
    op.create_index("ix_model_versions_one_champion", "model_versions", ["name"], unique=True,
                    postgresql_where=sa.text("role = 'champion'"), sqlite_where=sa.text("role = 'champion'"))


def downgrade() -> None:
    op.drop_index("ix_model_versions_one_champion", table_name="model_versions")
    with op.batch_alter_table("model_versions") as batch_op:
        for name in ("verdict", "promoted_ns", "code_version", "samples", "data_to_ns", "data_from_ns", "folds",
                     "params", "features", "role"):
            batch_op.drop_column(name)
    with op.batch_alter_table("signals") as batch_op:
        batch_op.drop_column("context")
        batch_op.drop_column("atr")
