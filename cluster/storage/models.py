"""The record of everything Octet decided and did, as SQLAlchemy 2 models.

One set of models serves PostgreSQL (psycopg 3) and the embedded SQLite file. Money and prices
are exact: ``numeric`` on PostgreSQL, text on SQLite (which has no exact decimal). Times are
integer nanoseconds since the epoch, as in the domain. The schema itself is made by the Alembic
migrations in ``cluster/storage/migrations``; ``ticks`` and ``bars`` are partitioned there (or
made hypertables when TimescaleDB is present).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, LargeBinary, Numeric, String, Table, Text, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine


class Exact(TypeDecorator[Decimal]):
    """A Decimal stored exactly: numeric on PostgreSQL, its string on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    type_annotation_map = {Decimal: Exact, dict[str, Any]: JSON, list[Any]: JSON, int: BigInteger}
    if TYPE_CHECKING:  # every model here maps one declared table (SQLAlchemy types it as any FromClause)
        __table__: ClassVar[Table]


class Run(Base):
    __tablename__ = "runs"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_ns: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))  # running | done | interrupted (its process ended mid-run)
    ticks: Mapped[int] = mapped_column(default=0)
    batches: Mapped[int] = mapped_column(default=0)
    elapsed_s: Mapped[float] = mapped_column(Float, default=0.0)
    settings: Mapped[dict[str, Any]]
    summary: Mapped[dict[str, Any] | None]
    recorded_ns: Mapped[int | None]  # when the run was begun, by the wall clock (started_ns is market time)


class Account(Base):
    __tablename__ = "accounts"
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    firm: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    initial_balance: Mapped[Decimal]
    owner: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(64))


class InstrumentRow(Base):
    __tablename__ = "instruments"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    base: Mapped[str] = mapped_column(String(3))
    quote: Mapped[str] = mapped_column(String(3))
    price_precision: Mapped[int] = mapped_column(Integer)
    pip_size: Mapped[Decimal]
    contract_size: Mapped[int]


class SignalRow(Base):
    __tablename__ = "signals"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    signal_id: Mapped[str] = mapped_column(String(96))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    ts_ns: Mapped[int]
    entry: Mapped[Decimal]
    stop: Mapped[Decimal]
    targets: Mapped[list[Any]]
    confidence: Mapped[float] = mapped_column(Float)
    setup: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[list[Any]]
    atr: Mapped[float | None] = mapped_column(Float, nullable=True)  # the ATR at the signal (revision 0007)
    # what the desk knew at the signal besides it: headroom, recent results, volatility regime (0007)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    __table_args__ = (Index("ix_signals_signal", "signal_id"),)


class DecisionRow(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    signal_id: Mapped[str] = mapped_column(String(96), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    numbers: Mapped[dict[str, Any]]


class OrderRow(Base):
    __tablename__ = "orders"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    lots: Mapped[Decimal]
    order_type: Mapped[str] = mapped_column(String(16))
    stop_loss: Mapped[Decimal]
    take_profit: Mapped[Decimal | None]
    limit_price: Mapped[Decimal | None]
    reference_price: Mapped[Decimal]
    signal_id: Mapped[str] = mapped_column(String(96), index=True)
    profile: Mapped[str] = mapped_column(String(64))
    seed: Mapped[str] = mapped_column(String(24))
    leg: Mapped[int] = mapped_column(Integer)
    not_before_ns: Mapped[int]
    expires_ns: Mapped[int]
    min_hold_ns: Mapped[int]
    max_slippage_points: Mapped[int]


class ReportRow(Base):
    __tablename__ = "execution_reports"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    client_order_id: Mapped[str] = mapped_column(String(128), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    ts_ns: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)


class FillRow(Base):
    __tablename__ = "fills"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    client_order_id: Mapped[str] = mapped_column(String(128), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    lots: Mapped[Decimal]
    price: Mapped[Decimal]
    ts_ns: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(24))
    commission: Mapped[Decimal]
    realized_pnl: Mapped[Decimal]


class PositionRow(Base):
    """Open positions as of the run's last flush (a read model, replaced at each flush)."""

    __tablename__ = "positions"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    lots: Mapped[Decimal]
    entry: Mapped[Decimal]
    stop_loss: Mapped[Decimal]
    take_profit: Mapped[Decimal | None]
    price: Mapped[Decimal]
    floating_pnl: Mapped[Decimal]
    opened_ns: Mapped[int]
    as_of_ns: Mapped[int]


class TradeRow(Base):
    __tablename__ = "trades"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    position_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    lots: Mapped[Decimal]
    entry: Mapped[Decimal]
    exit: Mapped[Decimal]
    opened_ns: Mapped[int]
    closed_ns: Mapped[int]
    pnl: Mapped[Decimal]
    commission: Mapped[Decimal]
    initial_risk: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(String(24))
    signal_id: Mapped[str] = mapped_column(String(96))


class EquityRow(Base):
    __tablename__ = "equity_snapshots"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(64))
    ts_ns: Mapped[int]
    balance: Mapped[Decimal]
    equity: Mapped[Decimal]
    min_equity: Mapped[Decimal | None]
    open_positions: Mapped[int] = mapped_column(Integer)
    closed_trades: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_equity_snapshots_run_account_ts", "run_id", "account_id", "ts_ns"),)


class HeadroomRow(Base):
    __tablename__ = "headroom"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(64))
    ts_ns: Mapped[int]
    daily_headroom: Mapped[Decimal | None]  # the daily figures are empty for a firm without a daily rule
    max_loss_headroom: Mapped[Decimal]
    worst_case_daily_headroom: Mapped[Decimal | None]
    worst_case_max_loss_headroom: Mapped[Decimal]
    daily_fraction: Mapped[float] = mapped_column(Float)
    daily_floor: Mapped[Decimal | None]
    max_loss_floor: Mapped[Decimal | None]  # empty in rows written before revision 0003
    # the pass-odds monitor's last answer (revision 0006); empty where it has none
    pass_probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    hard_breach_probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    pass_risk_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    # the inactivity rule's deadline (revision 0008): empty for a firm without one
    idle_deadline_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    __table_args__ = (Index("ix_headroom_run_account_ts", "run_id", "account_id", "ts_ns"),)


class BreakerEventRow(Base):
    __tablename__ = "breaker_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    tier: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(64))
    ts_ns: Mapped[int]
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)


class ModelVersion(Base):
    """A trained pattern model; promoted only after walk-forward validation (LearningAgent)."""

    __tablename__ = "model_versions"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_ns: Mapped[int]
    metrics: Mapped[dict[str, Any]]
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)  # it has been champion
    artifact: Mapped[str | None] = mapped_column(Text)  # its directory under learning.storage_path
    # revision 0007: challenger, champion (one per name) or retired; what it was trained and judged on
    role: Mapped[str] = mapped_column(String(16), default="challenger", server_default="challenger")
    features: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    folds: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # per fold: its span and metrics
    data_from_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    data_to_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    samples: Mapped[int | None] = mapped_column(Integer, nullable=True)
    code_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    promoted_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    verdict: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it was promoted or refused
    __table_args__ = (Index("ix_model_versions_one_champion", "name", unique=True,
                            postgresql_where=text("role = 'champion'"), sqlite_where=text("role = 'champion'")),)


class AuditRow(Base):
    """The audit trail: append-only, each record chained to the previous one by its hash."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_run_kind_seq", "run_id", "kind", "seq"),)  # a run's records of a kind
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    run_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(24))
    ts_ns: Mapped[int]
    signal_id: Mapped[str | None] = mapped_column(String(96), index=True)
    order_id: Mapped[str | None] = mapped_column(String(128), index=True)
    account_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ApiKey(Base):
    """A key to the gateway's API (``serve.keys``): the SHA-256 of its secret only, never the
    secret itself; revoked keys stay, marked, so their use is told apart from an unknown key."""

    __tablename__ = "api_keys"
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(8))  # viewer | trader | admin
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_ns: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_ns: Mapped[int | None]


class AgentSnapshot(Base):
    """An agent's working state after call ``seq`` (pickled; its append-only logs are apart)."""

    __tablename__ = "agent_snapshots"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int]
    state: Mapped[bytes] = mapped_column(LargeBinary)


class AgentLogChunk(Base):
    """Items appended to one of an agent's append-only logs, from index ``start`` on."""

    __tablename__ = "agent_log_chunks"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    log: Mapped[str] = mapped_column(String(64), primary_key=True)
    start: Mapped[int] = mapped_column(primary_key=True)
    items: Mapped[bytes] = mapped_column(LargeBinary)


# Time series for research, partitioned by day (or TimescaleDB hypertables): created by the
# migration ``0002_timeseries``, not by these models' metadata, because their DDL is dialect-specific.
# Prices are integer points of the instrument's precision, as on the wire: exact and cheap to COPY.
class TickRow(Base):
    __tablename__ = "ticks"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts_ns: Mapped[int] = mapped_column(primary_key=True)
    bid: Mapped[int]  # in points of the instrument's precision (instruments.price_precision)
    ask: Mapped[int]


class BarRow(Base):
    __tablename__ = "bars"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts_ns: Mapped[int] = mapped_column(primary_key=True)
    open: Mapped[int]
    high: Mapped[int]
    low: Mapped[int]
    close: Mapped[int]
    volume: Mapped[int]


class HourBarRow(Base):
    """The 1-minute → 1-hour rollup (a continuous aggregate under TimescaleDB)."""

    __tablename__ = "bars_1h"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts_ns: Mapped[int] = mapped_column(primary_key=True)
    open: Mapped[int]
    high: Mapped[int]
    low: Mapped[int]
    close: Mapped[int]
    volume: Mapped[int]


TIMESERIES = ("ticks", "bars", "bars_1h")


def outside_models(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """For Alembic's comparisons: False for what the time-series migration owns (tables, their day
    partitions, their indexes) and for bookkeeping tables; True for everything the models describe."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    owned = table in (*TIMESERIES, "octet_meta", "alembic_version") or str(table).startswith(("ticks_", "bars_"))
    return not owned
