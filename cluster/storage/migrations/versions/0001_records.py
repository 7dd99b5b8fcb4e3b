"""The records: runs, accounts, signals, decisions, orders, reports, fills, trades, equity,
headroom, breaker events, model versions, agent state, and the append-only audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cluster.storage.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('firm', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('initial_balance', cluster.storage.models.Exact(), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('profile', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_table('agent_log_chunks',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('log', sa.String(length=64), nullable=False),
    sa.Column('start', sa.BigInteger(), nullable=False),
    sa.Column('items', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'agent', 'log', 'start')
    )
    op.create_table('agent_snapshots',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'agent')
    )
    op.create_table('audit',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('ts_ns', sa.BigInteger(), nullable=False),
    sa.Column('signal_id', sa.String(length=96), nullable=True),
    sa.Column('order_id', sa.String(length=128), nullable=True),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_signal_id'), ['signal_id'], unique=False)

    op.create_table('breaker_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('ts_ns', sa.BigInteger(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=False),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('breaker_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breaker_events_run_id'), ['run_id'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('signal_id', sa.String(length=96), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('numbers', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_signal_id'), ['signal_id'], unique=False)

    op.create_table('equity_snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('ts_ns', sa.BigInteger(), nullable=False),
    sa.Column('balance', cluster.storage.models.Exact(), nullable=False),
    sa.Column('equity', cluster.storage.models.Exact(), nullable=False),
    sa.Column('min_equity', cluster.storage.models.Exact(), nullable=True),
    sa.Column('open_positions', sa.Integer(), nullable=False),
    sa.Column('closed_trades', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_equity_snapshots_run_account_ts', 'equity_snapshots', ['run_id', 'account_id', 'ts_ns'], unique=False)
    op.create_table('execution_reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('client_order_id', sa.String(length=128), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('ts_ns', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('execution_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_execution_reports_client_order_id'), ['client_order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_execution_reports_run_id'), ['run_id'], unique=False)

    op.create_table('fills',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('client_order_id', sa.String(length=128), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('lots', cluster.storage.models.Exact(), nullable=False),
    sa.Column('price', cluster.storage.models.Exact(), nullable=False),
    sa.Column('ts_ns', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('commission', cluster.storage.models.Exact(), nullable=False),
    sa.Column('realized_pnl', cluster.storage.models.Exact(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('fills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fills_client_order_id'), ['client_order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fills_run_id'), ['run_id'], unique=False)

    op.create_table('headroom',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('ts_ns', sa.BigInteger(), nullable=False),
    sa.Column('daily_headroom', cluster.storage.models.Exact(), nullable=False),
    sa.Column('max_loss_headroom', cluster.storage.models.Exact(), nullable=False),
    sa.Column('worst_case_daily_headroom', cluster.storage.models.Exact(), nullable=False),
    sa.Column('worst_case_max_loss_headroom', cluster.storage.models.Exact(), nullable=False),
    sa.Column('daily_fraction', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_headroom_run_account_ts', 'headroom', ['run_id', 'account_id', 'ts_ns'], unique=False)
    op.create_table('instruments',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('base', sa.String(length=3), nullable=False),
    sa.Column('quote', sa.String(length=3), nullable=False),
    sa.Column('price_precision', sa.Integer(), nullable=False),
    sa.Column('pip_size', cluster.storage.models.Exact(), nullable=False),
    sa.Column('contract_size', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('symbol')
    )
    op.create_table('model_versions',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_ns', sa.BigInteger(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('promoted', sa.Boolean(), nullable=False),
    sa.Column('artifact', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', 'version')
    )
    op.create_table('orders',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('client_order_id', sa.String(length=128), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('lots', cluster.storage.models.Exact(), nullable=False),
    sa.Column('order_type', sa.String(length=16), nullable=False),
    sa.Column('stop_loss', cluster.storage.models.Exact(), nullable=False),
    sa.Column('take_profit', cluster.storage.models.Exact(), nullable=True),
    sa.Column('limit_price', cluster.storage.models.Exact(), nullable=True),
    sa.Column('reference_price', cluster.storage.models.Exact(), nullable=False),
    sa.Column('signal_id', sa.String(length=96), nullable=False),
    sa.Column('profile', sa.String(length=64), nullable=False),
    sa.Column('seed', sa.String(length=24), nullable=False),
    sa.Column('leg', sa.Integer(), nullable=False),
    sa.Column('not_before_ns', sa.BigInteger(), nullable=False),
    sa.Column('expires_ns', sa.BigInteger(), nullable=False),
    sa.Column('min_hold_ns', sa.BigInteger(), nullable=False),
    sa.Column('max_slippage_points', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'client_order_id')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_signal_id'), ['signal_id'], unique=False)

    op.create_table('positions',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('position_id', sa.String(length=160), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('lots', cluster.storage.models.Exact(), nullable=False),
    sa.Column('entry', cluster.storage.models.Exact(), nullable=False),
    sa.Column('stop_loss', cluster.storage.models.Exact(), nullable=False),
    sa.Column('take_profit', cluster.storage.models.Exact(), nullable=True),
    sa.Column('price', cluster.storage.models.Exact(), nullable=False),
    sa.Column('floating_pnl', cluster.storage.models.Exact(), nullable=False),
    sa.Column('opened_ns', sa.BigInteger(), nullable=False),
    sa.Column('as_of_ns', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'account_id', 'position_id')
    )
    op.create_table('runs',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('started_ns', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ticks', sa.BigInteger(), nullable=False),
    sa.Column('batches', sa.BigInteger(), nullable=False),
    sa.Column('elapsed_s', sa.Float(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_table('signals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('signal_id', sa.String(length=96), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('ts_ns', sa.BigInteger(), nullable=False),
    sa.Column('entry', cluster.storage.models.Exact(), nullable=False),
    sa.Column('stop', cluster.storage.models.Exact(), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('setup', sa.String(length=32), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signals_run_id'), ['run_id'], unique=False)
        batch_op.create_index('ix_signals_signal', ['signal_id'], unique=False)

    op.create_table('trades',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('position_id', sa.String(length=160), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('lots', cluster.storage.models.Exact(), nullable=False),
    sa.Column('entry', cluster.storage.models.Exact(), nullable=False),
    sa.Column('exit', cluster.storage.models.Exact(), nullable=False),
    sa.Column('opened_ns', sa.BigInteger(), nullable=False),
    sa.Column('closed_ns', sa.BigInteger(), nullable=False),
    sa.Column('pnl', cluster.storage.models.Exact(), nullable=False),
    sa.Column('commission', cluster.storage.models.Exact(), nullable=False),
    sa.Column('initial_risk', cluster.storage.models.Exact(), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('signal_id', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'position_id')
    )
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trades_account_id'), ['account_id'], unique=False)


    _audit_append_only()

def downgrade() -> None:
    _drop_audit_guard()
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trades_account_id'))

    op.drop_table('trades')
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index('ix_signals_signal')
        batch_op.drop_index(batch_op.f('ix_signals_run_id'))

    op.drop_table('signals')
    op.drop_table('runs')
    op.drop_table('positions')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_signal_id'))
        batch_op.drop_index(batch_op.f('ix_orders_account_id'))

    op.drop_table('orders')
    op.drop_table('model_versions')
    op.drop_table('instruments')
    op.drop_table('headroom')
    with op.batch_alter_table('fills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fills_run_id'))
        batch_op.drop_index(batch_op.f('ix_fills_client_order_id'))

    op.drop_table('fills')
    with op.batch_alter_table('execution_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_execution_reports_run_id'))
        batch_op.drop_index(batch_op.f('ix_execution_reports_client_order_id'))

    op.drop_table('execution_reports')
    op.drop_table('equity_snapshots')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_signal_id'))
        batch_op.drop_index(batch_op.f('ix_decisions_run_id'))

    op.drop_table('decisions')
    with op.batch_alter_table('breaker_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breaker_events_run_id'))

    op.drop_table('breaker_events')
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_signal_id'))
        batch_op.drop_index(batch_op.f('ix_audit_order_id'))

    op.drop_table('audit')
    op.drop_table('agent_snapshots')
    op.drop_table('agent_log_chunks')
    op.drop_table('accounts')


def _audit_append_only() -> None:
    """The database itself refuses to change or delete an audit record."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION octet_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit is append-only (% refused)', TG_OP; END $$""")
        op.execute("CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
                   "FOR EACH ROW EXECUTE FUNCTION octet_audit_append_only()")
        op.execute("CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
                   "FOR EACH STATEMENT EXECUTE FUNCTION octet_audit_append_only()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_no_{event.lower()} BEFORE {event} ON audit "
                       "BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END")


def _drop_audit_guard() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit")
        op.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON audit")
        op.execute("DROP FUNCTION IF EXISTS octet_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_no_delete")
