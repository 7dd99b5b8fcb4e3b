"""MarketAnalysisAgent: Wyckoff structure per instrument, signals with evidence."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from actors.ingress import IngressResult
from trading.instruments import InstrumentRegistry
from trading.orders import Signal
from trading.pickling import compact
from trading.wyckoff import WyckoffDetector, WyckoffEvent, WyckoffParams

ROUTINE = {"swing_high", "swing_low"}  # counted, but too frequent to keep as events


@compact
@dataclass(frozen=True, slots=True)
class AnalysisOutput:
    signals: tuple[Signal, ...]
    events: tuple[WyckoffEvent, ...]


class MarketAnalysisAgent:
    """One shard: detects structure for its instruments from the bars that ingress closed."""

    def __init__(self, registry: InstrumentRegistry, symbols: list[str], params: WyckoffParams) -> None:
        self.detectors = {s: WyckoffDetector(registry[s], params) for s in symbols}
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
