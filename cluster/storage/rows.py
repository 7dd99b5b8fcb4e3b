"""Domain objects as table rows (and as audit payloads): one conversion, used by writer and tests."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from trading.breaker import BreakerEvent
from trading.compliance import Headroom
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.orders import ExecutionReport, Order, Signal

Row = dict[str, Any]


def signal_row(s: Signal) -> Row:
    return dict(signal_id=s.signal_id, symbol=s.symbol, side=s.side.name, ts_ns=s.ts_ns, entry=s.entry,
                stop=s.stop, targets=[str(t) for t in s.targets], confidence=s.confidence, setup=s.setup,
                evidence=[e.as_dict() for e in s.evidence], atr=s.atr)


def stored_signal_row(s: Signal, contexts: Mapping[str, Mapping[str, float | None]]) -> Row:
    """The signal as the store keeps it: with what the desk knew at it (``signals.context``; null
    when the record has none)."""
    c = contexts.get(s.signal_id)
    return {**signal_row(s), "context": dict(c) if c is not None else None}


def decision_row(d: Any) -> Row:
    return dict(signal_id=d.signal_id, account_id=d.account_id, step=d.step, outcome=d.outcome, rule=d.rule,
                reason=d.reason, numbers=dict(d.numbers))


def order_row(o: Order) -> Row:
    return dict(client_order_id=o.client_order_id, account_id=o.account_id, symbol=o.symbol, side=o.side.name,
                lots=o.lots, order_type=o.order_type.value, stop_loss=o.stop_loss, take_profit=o.take_profit,
                limit_price=o.limit_price, reference_price=o.reference_price, signal_id=o.signal_id,
                profile=o.profile, seed=str(o.seed), leg=o.leg, not_before_ns=o.not_before_ns,
                expires_ns=o.expires_ns, min_hold_ns=o.min_hold_ns, max_slippage_points=o.max_slippage_points)


def report_row(x: ExecutionReport) -> Row:
    return dict(client_order_id=x.client_order_id, account_id=x.account_id, status=x.status.value, ts_ns=x.ts_ns,
                reason=x.reason)


def fill_row(x: ExecutionReport) -> Row:
    f = x.fill
    assert f is not None
    return dict(client_order_id=f.client_order_id, account_id=f.account_id, symbol=f.symbol, side=f.side.name,
                lots=f.lots, price=f.price, ts_ns=f.ts_ns, kind=f.kind.value, reason=f.reason.value,
                commission=f.commission, realized_pnl=f.realized_pnl)


def trade_row(t: ClosedTrade) -> Row:
    return dict(position_id=t.position_id, account_id=t.account_id, symbol=t.symbol, side=t.side.name, lots=t.lots,
                entry=t.entry, exit=t.exit, opened_ns=t.opened_ns, closed_ns=t.closed_ns, pnl=t.pnl,
                commission=t.commission, initial_risk=t.initial_risk, reason=t.reason.value, signal_id=t.signal_id)


def headroom_row(h: Headroom) -> Row:
    return dict(account_id=h.account_id, ts_ns=h.ts_ns, daily_headroom=h.daily_headroom,
                max_loss_headroom=h.max_loss_headroom, worst_case_daily_headroom=h.worst_case_daily_headroom,
                worst_case_max_loss_headroom=h.worst_case_max_loss_headroom, daily_fraction=h.daily_fraction,
                daily_floor=h.daily_floor, max_loss_floor=h.max_loss_floor, pass_probability=h.pass_probability,
                hard_breach_probability=h.hard_breach_probability, pass_risk_pct=h.pass_risk_pct,
                idle_deadline_ns=h.idle_deadline_ns or None)


def breaker_row(e: BreakerEvent) -> Row:
    return dict(tier=e.tier.value, scope=e.scope, ts_ns=e.ts_ns, from_state=e.from_state.value,
                to_state=e.to_state.value, trigger=e.trigger, action=e.action)


def equity_row(s: AccountSnapshot) -> Row:
    return dict(account_id=s.account_id, ts_ns=s.ts_ns, balance=s.balance, equity=s.equity, min_equity=s.min_equity,
                open_positions=len(s.positions), closed_trades=s.closed_trades)


def position_rows(s: AccountSnapshot) -> list[Row]:
    return [dict(account_id=s.account_id, position_id=p.position_id, symbol=p.symbol, side=p.side.name, lots=p.lots,
                 entry=p.entry, stop_loss=p.stop_loss, take_profit=p.take_profit, price=p.price,
                 floating_pnl=p.floating_pnl, opened_ns=p.opened_ns, as_of_ns=s.ts_ns) for p in s.positions]


def stored(row: Any) -> Row:
    """A row read back from a table, without the keys the store adds (run id, surrogate id)."""
    return {k: v for k, v in row.items() if k not in ("run_id", "id")}


def json_safe(value: Any) -> Any:
    """A value as strict JSON holds it: non-finite floats (a profit factor with no losing trade is
    infinite) become null, Decimals their exact strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def jsonable(row: Row) -> Row:
    """A row as the audit payload keeps it: Decimals as their exact strings."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
