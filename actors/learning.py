"""LearningAgent: keeps outcome samples of signals for pattern trust (training arrives later)."""

from __future__ import annotations

from trading.learning import OutcomeSample, PatternBook
from trading.ledger import ClosedTrade
from trading.orders import Signal


class LearningAgent:
    def __init__(self) -> None:
        self.book = PatternBook()
        self.last_events = 0

    def on_update(self, signals: list[Signal], trades: list[ClosedTrade]) -> int:
        for s in signals:
            self.book.on_signal(s)
        added = [x for x in (self.book.on_trade(t) for t in trades) if x is not None]
        self.last_events = len(signals) + len(trades)
        return len(added)

    def samples(self) -> list[OutcomeSample]:
        return list(self.book.samples)

    def trust(self) -> dict[str, dict[str, float]]:
        return self.book.trust()
