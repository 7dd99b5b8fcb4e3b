"""Strategies: the SMA reference strategy's crossings against backtesting.py's own SMA and
crossover on real EURUSD hourly bars, and the analysis agent running each instrument's strategy."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from actors.analysis import MarketAnalysisAgent
from actors.ingress import IngressResult
from cluster.config.settings import SettingsError, load_settings
from trading.errors import InvalidValue
from trading.market import Bar, TickBatch
from trading.orders import Side
from trading.strategies import SmaCross, SmaCrossParams
from trading.wyckoff import WyckoffDetector, WyckoffParams
from trading.wyckoff.realbars import eurusd_h1

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3_600 * 10**9


def real_bars() -> list[Bar]:
    real = eurusd_h1()
    scale = 1_000_000  # realbars.SCALE: points per unit
    return [Bar("EURUSD", int(s), int(s) + HOUR, float(o / scale), float(h / scale), float(lo / scale), float(c / scale),
                float(v / 100), 1, 0.0)
            for s, o, h, lo, c, v in zip(real.start_ns, real.open, real.high, real.low, real.close, real.volume,
                                         strict=True)]


def test_sma_cross_signals_at_the_bars_backtesting_py_crossover_names(eurusd) -> None:
    pd = pytest.importorskip("pandas")
    from backtesting.lib import crossover
    from backtesting.test import SMA

    bars = real_bars()
    closes = pd.Series([b.close for b in bars])
    fast, slow = SMA(closes, 10), SMA(closes, 30)
    expected = []
    for i in range(1, len(bars)):
        if crossover(fast[: i + 1], slow[: i + 1]):
            expected.append((i, Side.BUY))
        elif crossover(slow[: i + 1], fast[: i + 1]):
            expected.append((i, Side.SELL))
    strategy = SmaCross(eurusd, SmaCrossParams(fast=10, slow=30, stop_pips=Decimal("20"), target_pips=Decimal("40")))
    got = []
    for i, bar in enumerate(bars):
        events, signals = strategy.update(bar)
        assert events == []
        got += [(i, s.side) for s in signals]
        for s in signals:
            assert s.ts_ns == bar.end_ns and s.entry == eurusd.price(bar.close) and s.setup == "sma_cross"
            assert abs(s.entry - s.stop) == Decimal("0.0020") and abs(s.targets[0] - s.entry) == Decimal("0.0040")
    assert len(expected) > 100 and got == expected


def test_sma_cross_parameters_are_checked() -> None:
    for bad in ({"fast": 30, "slow": 30}, {"stop_pips": Decimal(0)}, {"target_pips": Decimal(-1)}, {"confidence": 2.0}):
        with pytest.raises(InvalidValue):
            SmaCrossParams(**bad)  # type: ignore[arg-type]


def test_the_analysis_agent_runs_each_instruments_strategy(registry) -> None:
    agent = MarketAnalysisAgent(registry, ["EURUSD", "GBPUSD"], WyckoffParams(), {"EURUSD": "sma_cross"},
                                SmaCrossParams(fast=2, slow=3))
    assert isinstance(agent.detectors["EURUSD"], SmaCross) and isinstance(agent.detectors["GBPUSD"], WyckoffDetector)
    closes = [1.10, 1.09, 1.08, 1.07, 1.10, 1.12]  # falling, then rising: the 2-bar mean crosses above the 3-bar one
    bars = tuple(Bar(sym, i * HOUR, (i + 1) * HOUR, c, c + 0.001, c - 0.001, c, 100.0, 10, 0.0001)
                 for i, c in enumerate(closes) for sym in ("EURUSD", "GBPUSD"))
    out = agent.on_batch(IngressResult(TickBatch.empty(), bars, ()))
    assert [(s.symbol, s.side, s.setup) for s in out.signals] == [("EURUSD", Side.BUY, "sma_cross")]
    assert np.all([e.symbol == "GBPUSD" for e in out.events])  # chart events come from the Wyckoff instrument only


def test_the_strategy_settings_are_validated() -> None:
    s = load_settings(ROOT / "octet.yaml", strategy__instruments={"USDJPY": "sma_cross"})
    assert (s.strategy.of("USDJPY"), s.strategy.of("EURUSD")) == ("sma_cross", "wyckoff")
    for key, value, message in [("instruments", {"XAUUSD": "sma_cross"}, "unknown instrument 'XAUUSD'"),
                                ("default", "martingale", "strategy.default"),
                                ("sma_cross", {"fast": 40, "slow": 30}, "fast \\(40\\) must be below slow")]:
        with pytest.raises(SettingsError, match=message):
            load_settings(ROOT / "octet.yaml", **{f"strategy__{key}": value})
