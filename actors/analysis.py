"""MarketAnalysisAgent: each instrument's strategy (Wyckoff structure by default) fed its closed
bars, signals with evidence."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from actors.ingress import IngressResult
from trading.instruments import InstrumentRegistry
from trading.orders import Signal
from trading.pickling import compact
from trading.strategies import SmaCrossParams, Strategy, StrategyName, build_strategy
from trading.wyckoff import WyckoffEvent, WyckoffParams

ROUTINE = {"swing_high", "swing_low"}  # counted, but too frequent to keep as events


@compact
@dataclass(frozen=True, slots=True)
class AnalysisOutput:
    signals: tuple[Signal, ...]
    events: tuple[WyckoffEvent, ...]


class MarketAnalysisAgent:
    """One shard: runs its instruments' strategies on the bars that ingress closed (``detectors``:
    one strategy per symbol, the Wyckoff detector unless the settings choose another)."""

    def __init__(self, registry: InstrumentRegistry, symbols: list[str], params: WyckoffParams,
                 strategies: Mapping[str, StrategyName] | None = None, sma_cross: SmaCrossParams | None = None
                 ) -> None:
        chosen = strategies or {}
        self.detectors: dict[str, Strategy] = {
            s: build_strategy(chosen.get(s, "wyckoff"), registry[s], params, sma_cross or SmaCrossParams())
            for s in symbols}
        self.event_counts: Counter[str] = Counter()
        self.last_events = 0
        self.last_changed = True

    def on_batch(self, *results: IngressResult) -> AnalysisOutput:
        signals: list[Signal] = []
        events: list[WyckoffEvent] = []
        bars = sorted((b for r in results for b in r.bars if b.symbol in self.detectors),
                      key=lambda b: (b.end_ns, b.symbol))
        for bar in bars:
            found, sigs = self.detectors[bar.symbol].update(bar)
            self.event_counts.update(e.event for e in found)
            events.extend(e for e in found if e.event not in ROUTINE)
            signals.extend(sigs)
        self.last_events = len(bars)
        self.last_changed = bool(bars)  # no bar of ours closed: the detectors are as they were (not saved)
        return AnalysisOutput(tuple(signals), tuple(events))

    def counts(self) -> dict[str, int]:
        return dict(self.event_counts)
