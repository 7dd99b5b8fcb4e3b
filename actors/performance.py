"""PerformanceAgent: equity curves and trade statistics per account."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from trading.history import AppendLog
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.performance import EquityCurve, PerformanceSummary, summarize


class PerformanceAgent:
    def __init__(self, initial_balances: dict[str, Decimal]) -> None:
        self.curves = {a: EquityCurve(b) for a, b in initial_balances.items()}
        self.trades: dict[str, AppendLog[ClosedTrade]] = {a: AppendLog() for a in initial_balances}
        self.last_events = 0

    def on_update(self, snapshots: Mapping[str, AccountSnapshot], trades: list[ClosedTrade]) -> int:
        for acc, snap in snapshots.items():
            self.curves[acc].add(snap.ts_ns, snap.equity)
        for t in trades:
            self.trades[t.account_id].append(t)
        self.last_events = len(snapshots) + len(trades)
        return self.last_events

    def summary(self) -> dict[str, PerformanceSummary]:
        return {a: summarize(a, self.curves[a], self.trades[a]) for a in self.curves}

    def equity_curves(self) -> dict[str, list[tuple[int, Decimal]]]:
        return {a: list(c.points) for a, c in self.curves.items()}
