"""Strategies: the desk's pluggable signal sources.

A strategy is a plain class that sees one instrument's bars as they close, in order, and returns
what it found on the chart (events, for the chart and the audit; a strategy without any returns
none) and the signals it gives, each with its evidence. It is pure and keeps its state in itself,
which the MarketAnalysisAgent saves with its own. Two ship:

- ``wyckoff``: the Wyckoff structure detector (``trading.wyckoff``), the desk's default;
- ``sma_cross``: a deliberately simple reference, to cross-check the engine against others.

Settings choose one per instrument (``strategy.default``, ``strategy.instruments``).
"""

from __future__ import annotations

from typing import Literal, Protocol

from trading.instruments import Instrument
from trading.market import Bar
from trading.orders import Signal
from trading.strategies.sma_cross import SmaCross, SmaCrossParams
from trading.wyckoff import WyckoffDetector, WyckoffEvent, WyckoffParams

StrategyName = Literal["wyckoff", "sma_cross"]
STRATEGIES: tuple[StrategyName, ...] = ("wyckoff", "sma_cross")

__all__ = ["STRATEGIES", "SmaCross", "SmaCrossParams", "Strategy", "StrategyName", "build_strategy"]


class Strategy(Protocol):
    """One instrument's signal source, fed its closed bars in order."""

    def update(self, bar: Bar) -> tuple[list[WyckoffEvent], list[Signal]]:
        """The chart events known at this bar and the signals it gives."""
        ...


def build_strategy(name: StrategyName, instrument: Instrument, wyckoff: WyckoffParams,
                   sma_cross: SmaCrossParams) -> Strategy:
    """A fresh strategy of this name for this instrument."""
    if name == "wyckoff":
        return WyckoffDetector(instrument, wyckoff)
    if name == "sma_cross":
        return SmaCross(instrument, sma_cross)
    raise ValueError(f"unknown strategy {name!r}: one of {', '.join(STRATEGIES)}")
