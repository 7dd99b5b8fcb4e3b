"""Pass-odds Monte Carlo speed: paths per second, 10,000 paths over 30 days at one risk, the
monitor's grid of risks, and what the monitor adds to the compliance agent per closed trade.

Writes bench/results/pass_odds.json. Figures are medians of repeated runs in this process; the
monitor's cost is the compliance agent's ``observe`` with a closed trade, with the monitor on, less
the same call with it off (alternated, so the machine's drift falls on both alike).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from actors.compliance import ComplianceAgent
from bench.common import machine, write_results
from cluster.config.settings import load_settings
from trading.compliance import CostAllowance
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.market import NS_PER_S, datetime_to_ts
from trading.orders import CloseReason, Side
from trading.passodds import DEFAULT_FRACTIONS, ChallengeState, DailyOutcomes, MonitorSettings, simulate
from trading.presets import load_preset

REPEATS = 15


def history(days: int, seed: int = 1) -> DailyOutcomes:
    """A strategy's days: 0-3 trades a day, 45 % winners at +2 R, the rest -1 R."""
    rng = np.random.default_rng(seed)
    close, low, high, traded = [], [], [], []
    for _ in range(days):
        rs = np.where(rng.random(rng.integers(0, 4)) < 0.45, 2.0, -1.0)
        run = np.cumsum(rs) if rs.size else np.zeros(1)
        close.append(float(run[-1]))
        low.append(min(0.0, float(run.min())))
        high.append(max(0.0, float(run.max())))
        traded.append(bool(rs.size))
    return DailyOutcomes(np.array(close), np.array(low), np.array(high), np.array(traded), None, 5, "bench")


def timed(fn, repeats: int = REPEATS) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def trades_for(days: int) -> list[ClosedTrade]:
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    out = []
    for i in range(days):
        when = datetime_to_ts(start + timedelta(days=i))
        win = i % 3 == 0
        out.append(ClosedTrade(f"p{i}", "acc", "EURUSD", Side.BUY, Decimal(1), Decimal("1.1"), Decimal("1.1"),
                               when - 3_600 * NS_PER_S, when, Decimal(1000 if win else -500), Decimal(0),
                               CloseReason.TAKE_PROFIT if win else CloseReason.STOP_LOSS, f"s{i}", Decimal(500)))
    return out


def monitor_cost() -> dict[str, float]:
    """The compliance agent's observe with one closed trade later in a firm day: the monitor on (an
    evaluation each time: every_minutes 0; the day's curve already done) against off, alternated."""
    settings = load_settings("octet.yaml")
    registry = settings.registry()
    rules = {"acc": load_preset("ftmo.challenge")}
    costs = {"acc": CostAllowance()}
    history_trades = trades_for(40)
    agents = {}
    for on in (True, False):
        agent = ComplianceAgent(registry, rules, costs, None, None,
                                MonitorSettings(enabled=on, every_minutes=0), {"acc": 0.5})
        balance = Decimal(100_000)
        for t in history_trades:
            balance += t.pnl
            snap = AccountSnapshot("acc", "USD", t.closed_ns, Decimal(100_000), balance, balance, (), 0)
            agent.observe({"acc": snap}, {"EURUSD": Decimal("1.1")}, [t])
        agents[on] = agent
    last = history_trades[-1]
    mids = {"EURUSD": Decimal("1.1")}
    ms: dict[bool, list[float]] = {True: [], False: []}
    for i in range(REPEATS):
        for on in (True, False):
            t = ClosedTrade(f"q{i}", "acc", "EURUSD", Side.BUY, Decimal(1), Decimal("1.1"), Decimal("1.1"),
                            last.closed_ns + i * NS_PER_S, last.closed_ns + (i + 1) * NS_PER_S, Decimal(-10),
                            Decimal(0), CloseReason.STOP_LOSS, f"t{i}", Decimal(500))
            snap = AccountSnapshot("acc", "USD", t.closed_ns, Decimal(100_000), Decimal(101_000), Decimal(101_000),
                                   (), 0)
            began = time.perf_counter()
            agents[on].observe({"acc": snap}, mids, [t])
            ms[on].append((time.perf_counter() - began) * 1000)
    assert agents[True].accounts["acc"].rules.objectives.profit_target_pct  # an evaluation account
    on_ms, off_ms = statistics.median(ms[True]), statistics.median(ms[False])
    return {"observe_with_monitor_ms": round(on_ms, 2), "observe_without_monitor_ms": round(off_ms, 2),
            "monitor_ms_per_closed_trade": round(on_ms - off_ms, 2)}


def main() -> None:
    firm = load_preset("ftmo.challenge")
    days = history(120)
    iid = DailyOutcomes.given([(2.0, 0.0, 2.0, True, 0.45), (-1.0, -1.0, 0.0, True, 0.55)])
    state = ChallengeState(days_left=30)
    one = timed(lambda: simulate(firm, state, days, [0.005], paths=10_000))
    one_iid = timed(lambda: simulate(firm, state, iid, [0.005], paths=10_000))
    grid = timed(lambda: simulate(firm, ChallengeState(days_left=60), days, sorted({*DEFAULT_FRACTIONS, 0.005}),
                                  paths=10_000))
    paths_days = 10_000 * 30
    out = {
        "what": "10,000 paths x 30 days at one risk (bootstrap of 120 days, and independent days); the monitor's "
                "first evaluation of a firm day (6 risks x 60 days); the compliance agent's observe with a trade "
                "closed later that day (the current risk only), monitor on less off, alternated",
        "bootstrap_10k_paths_30_days_ms": round(one * 1000, 1),
        "iid_10k_paths_30_days_ms": round(one_iid * 1000, 1),
        "path_days_per_s": round(paths_days / one),
        "paths_per_s_30_days": round(10_000 / one),
        "target_ms": 100,
        "monitor_daily_6_risks_60_days_ms": round(grid * 1000, 1),
        **monitor_cost(),
        "repeats": REPEATS,
        "machine": machine(),
    }
    write_results("pass_odds", out)


if __name__ == "__main__":
    main()
