"""Performance: equity curve, drawdown and trade statistics of an account."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from trading.history import AppendLog
from trading.ledger import ClosedTrade
from trading.market import ts_to_datetime


@dataclass
class EquityCurve:
    """Equity sampled over time, with its running peak and deepest drawdown. The latest point
    stays open (a later sample at the same time replaces it); earlier ones are history."""

    initial: Decimal
    history: AppendLog[tuple[int, Decimal]] = field(default_factory=AppendLog)
    last: tuple[int, Decimal] | None = None
    peak: Decimal = Decimal(0)
    max_drawdown: Decimal = Decimal(0)
    max_drawdown_pct: float = 0.0  # the deepest fall in % of the peak it fell from (not of the highest peak)

    @property
    def points(self) -> list[tuple[int, Decimal]]:
        return [*self.history, self.last] if self.last is not None else list(self.history)

    def add(self, ts_ns: int, equity: Decimal) -> None:
        if self.last is not None and self.last[0] != ts_ns:
            self.history.append(self.last)
        self.last = (ts_ns, equity)
        self.peak = max(self.peak, equity, self.initial)
        self.max_drawdown = max(self.max_drawdown, self.peak - equity)
        if self.peak > 0:
            self.max_drawdown_pct = max(self.max_drawdown_pct, float((self.peak - equity) / self.peak * 100))


@dataclass(frozen=True, slots=True)
class PerformanceSummary:
    account_id: str
    trades: int
    wins: int
    net_pnl: Decimal
    return_pct: float
    max_drawdown: Decimal
    max_drawdown_pct: float
    win_rate: float
    profit_factor: float
    sharpe: float
    sortino: float
    profitable_months: int
    months: int


def summarize(account_id: str, curve: EquityCurve, trades: list[ClosedTrade]) -> PerformanceSummary:
    """Metrics from a curve and its trades; Sharpe and Sortino from daily returns, annualised (252).
    With no losing day Sortino is infinite (and 0 with no gain either), as the profit factor is
    with no losing trade."""
    wins = [t for t in trades if t.pnl > 0]
    gross_win = sum((t.pnl for t in wins), Decimal(0))
    gross_loss = -sum((t.pnl for t in trades if t.pnl <= 0), Decimal(0))
    net = sum((t.pnl for t in trades), Decimal(0))
    by_day: dict[str, Decimal] = {}
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    for ts, equity in curve.points:
        by_day[ts_to_datetime(ts).strftime("%Y-%m-%d")] = equity
    for t in trades:
        by_month[ts_to_datetime(t.closed_ns).strftime("%Y-%m")] += t.pnl
    closes = [float(curve.initial)] + [float(v) for v in by_day.values()]
    rets = [(b - a) / a for a, b in zip(closes, closes[1:], strict=False) if a]
    sharpe = sortino = 0.0
    if len(rets) > 1:
        mean = sum(rets) / len(rets)
        sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))
        downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in rets) / len(rets))
        sharpe = mean / sd * math.sqrt(252) if sd > 0 else 0.0
        sortino = mean / downside * math.sqrt(252) if downside > 0 else (math.inf if mean > 0 else 0.0)
    return PerformanceSummary(
        account_id, len(trades), len(wins), net, float(net / curve.initial * 100), curve.max_drawdown,
        curve.max_drawdown_pct, len(wins) / len(trades) if trades else 0.0,
        float(gross_win / gross_loss) if gross_loss > 0 else (math.inf if gross_win > 0 else 0.0),
        sharpe, sortino, sum(1 for v in by_month.values() if v > 0), len(by_month),
    )
