"""Session records in SQL (SQLite under ``data_dir`` by default), written in batches.

One transaction per batch appends what the batch produced: signals with their evidence, every
saga decision, orders, execution reports, closed trades and breaker events. The full schema,
PostgreSQL and the audit chain arrive with the storage issue.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
)

if TYPE_CHECKING:
    from cluster.session import SessionResult

metadata = MetaData()

runs = Table("runs", metadata, Column("run_id", String, primary_key=True), Column("ticks", Integer),
             Column("elapsed_s", Float), Column("summary", JSON))
signals = Table("signals", metadata, Column("run_id", String, index=True), Column("signal_id", String),
                Column("symbol", String), Column("side", String), Column("ts_ns", BigInteger),
                Column("entry", String), Column("stop", String), Column("targets", JSON),
                Column("confidence", Float), Column("setup", String), Column("evidence", JSON))
decisions = Table("decisions", metadata, Column("run_id", String, index=True), Column("signal_id", String),
                  Column("account_id", String), Column("step", String), Column("outcome", String),
                  Column("rule", String), Column("reason", String), Column("numbers", JSON))
orders = Table("orders", metadata, Column("run_id", String, index=True), Column("client_order_id", String),
               Column("account_id", String), Column("symbol", String), Column("side", String),
               Column("lots", String), Column("stop_loss", String), Column("take_profit", String),
               Column("signal_id", String), Column("profile", String), Column("seed", String),
               Column("not_before_ns", BigInteger))
reports = Table("execution_reports", metadata, Column("run_id", String, index=True),
                Column("client_order_id", String), Column("account_id", String), Column("status", String),
                Column("ts_ns", BigInteger), Column("reason", String), Column("price", String),
                Column("kind", String))
trades = Table("trades", metadata, Column("run_id", String, index=True), Column("position_id", String),
               Column("account_id", String), Column("symbol", String), Column("side", String),
               Column("lots", String), Column("entry", String), Column("exit", String),
               Column("opened_ns", BigInteger), Column("closed_ns", BigInteger), Column("pnl", String),
               Column("reason", String))
headroom = Table("headroom", metadata, Column("run_id", String, index=True), Column("account_id", String),
                 Column("ts_ns", BigInteger), Column("daily_headroom", String), Column("max_loss_headroom", String),
                 Column("worst_case_daily_headroom", String), Column("worst_case_max_loss_headroom", String),
                 Column("daily_fraction", Float))
breaker_events = Table("breaker_events", metadata, Column("run_id", String, index=True), Column("tier", String),
                       Column("scope", String), Column("ts_ns", BigInteger), Column("to_state", String),
                       Column("trigger", String), Column("action", String))


class SessionStore:
    """Appends a session's records; remembers how far each list has been written."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        metadata.create_all(self.engine)
        self.written: dict[str, int] = {}

    @staticmethod
    def sqlite(data_dir: Path) -> SessionStore:
        data_dir.mkdir(parents=True, exist_ok=True)
        return SessionStore(f"sqlite:///{data_dir / 'octet.db'}")

    def _new(self, name: str, items: list[Any]) -> list[Any]:
        start = self.written.get(name, 0)
        self.written[name] = len(items)
        return items[start:]

    def flush(self, run_id: str, r: SessionResult, final: bool = False) -> None:
        rows: list[tuple[Table, list[dict[str, Any]]]] = [
            (signals, [dict(run_id=run_id, signal_id=s.signal_id, symbol=s.symbol, side=s.side.name,
                            ts_ns=s.ts_ns, entry=str(s.entry), stop=str(s.stop),
                            targets=[str(t) for t in s.targets], confidence=s.confidence, setup=s.setup,
                            evidence=[e.as_dict() for e in s.evidence]) for s in self._new("signals", r.signals)]),
            (decisions, [dict(run_id=run_id, **{**asdict(d), "numbers": dict(d.numbers)})
                         for d in self._new("decisions", r.decisions)]),
            (orders, [dict(run_id=run_id, client_order_id=o.client_order_id, account_id=o.account_id,
                           symbol=o.symbol, side=o.side.name, lots=str(o.lots), stop_loss=str(o.stop_loss),
                           take_profit=str(o.take_profit), signal_id=o.signal_id, profile=o.profile,
                           seed=str(o.seed), not_before_ns=o.not_before_ns) for o in self._new("orders", r.orders)]),
            (reports, [dict(run_id=run_id, client_order_id=x.client_order_id, account_id=x.account_id,
                            status=x.status.value, ts_ns=x.ts_ns, reason=x.reason,
                            price=str(x.fill.price) if x.fill else None, kind=x.fill.kind.value if x.fill else None)
                       for x in self._new("reports", r.reports)]),
            (trades, [dict(run_id=run_id, position_id=t.position_id, account_id=t.account_id, symbol=t.symbol,
                           side=t.side.name, lots=str(t.lots), entry=str(t.entry), exit=str(t.exit),
                           opened_ns=t.opened_ns, closed_ns=t.closed_ns, pnl=str(t.pnl), reason=t.reason.value)
                      for t in self._new("trades", r.trades)]),
            (headroom, [dict(run_id=run_id, account_id=h.account_id, ts_ns=h.ts_ns, daily_headroom=str(h.daily_headroom),
                             max_loss_headroom=str(h.max_loss_headroom),
                             worst_case_daily_headroom=str(h.worst_case_daily_headroom),
                             worst_case_max_loss_headroom=str(h.worst_case_max_loss_headroom),
                             daily_fraction=h.daily_fraction) for h in self._new("headroom", r.headroom)]),
            (breaker_events, [dict(run_id=run_id, tier=e.tier.value, scope=e.scope, ts_ns=e.ts_ns,
                                   to_state=e.to_state.value, trigger=e.trigger, action=e.action)
                              for e in self._new("breaker", r.breaker_events)]),
        ]
        with self.engine.begin() as conn:
            for table, batch in rows:
                if batch:
                    conn.execute(insert(table), batch)
            if final:
                summary = {a: json.loads(json.dumps(asdict(s), default=str)) for a, s in r.summaries.items()}
                conn.execute(insert(runs), [dict(run_id=run_id, ticks=r.ticks, elapsed_s=r.elapsed_s,
                                                 summary=summary)])
