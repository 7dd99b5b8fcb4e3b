"""The audit trail indexed by run, kind and sequence: a run's operator records (``GET /operator``,
``GET /alerts``, the session host settling runs its process left running) are read without a scan of
every run's records.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_run_kind_seq", "audit", ["run_id", "kind", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_run_kind_seq", table_name="audit")
