"""Learning samples: what a signal looked like and how its trade ended, for pattern trust."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from trading.history import AppendLog
from trading.ledger import ClosedTrade
from trading.orders import Signal
from trading.pickling import compact


@compact
@dataclass(frozen=True, slots=True)
class OutcomeSample:
    """One labelled example: the signal's features and the trade's R multiple."""

    signal_id: str
    setup: str
    symbol: str
    confidence: float
    features: tuple[tuple[str, float], ...]
    r_multiple: float
    won: bool


PENDING_DAYS = 30  # longer than any trade of the desk lives (firms' holding rules end it sooner)


@dataclass
class PatternBook:
    """Signals waiting for outcomes, the samples they became, and trust per setup."""

    pending: dict[str, Signal] = field(default_factory=dict)
    samples: AppendLog[OutcomeSample] = field(default_factory=AppendLog)

    def on_signal(self, signal: Signal) -> None:
        """Remember a signal until its trades close; one older than ``PENDING_DAYS`` is let go."""
        self.pending[signal.signal_id] = signal
        horizon = signal.ts_ns - PENDING_DAYS * 86_400 * 10**9
        for old in [k for k, s in self.pending.items() if s.ts_ns < horizon]:
            del self.pending[old]

    def on_trade(self, trade: ClosedTrade) -> OutcomeSample | None:
        signal = self.pending.get(trade.signal_id)
        if signal is None:
            return None
        features = tuple((f"{e.event}.{k}", v) for e in signal.evidence for k, v in e.numbers)
        sample = OutcomeSample(trade.signal_id, signal.setup, signal.symbol, signal.confidence, features,
                               trade.r_multiple, trade.pnl > 0)
        self.samples.append(sample)
        return sample

    def trust(self) -> dict[str, dict[str, float]]:
        """Per setup: samples, win rate and mean R."""
        groups: dict[str, list[OutcomeSample]] = defaultdict(list)
        for s in self.samples:
            groups[s.setup].append(s)
        return {
            setup: {"samples": len(g), "win_rate": sum(s.won for s in g) / len(g),
                    "mean_r": sum(s.r_multiple for s in g) / len(g)}
            for setup, g in groups.items()
        }
