"""CorrelationAgent: nets currency exposure across an owner's accounts and scales or vetoes orders
(the rules: ``trading.exposure.scale_intents``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import ClassVar

from trading.exposure import ExposureLimits, ReturnsWindow, scale_intents
from trading.fx import rates_from
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot
from trading.market import Bar
from trading.orders import OrderIntent
from trading.sizing import SizingDecision

# The saga's second step, as its audit reads it: (account, the intent allowed, scaled or None, the reason)
Checked = list[tuple[str, OrderIntent | None, str]]


class CorrelationAgent:
    # changes no state: the shell does not save after them
    reads: ClassVar[frozenset[str]] = frozenset({"check", "check_sized"})

    def __init__(self, registry: InstrumentRegistry, owners: dict[str, str], limits: ExposureLimits,
                 window_bars: int) -> None:
        self.registry = registry
        self.owners = owners
        self.limits = limits
        self.window = ReturnsWindow(window_bars)
        self.last_events = 0
        self.last_changed = True

    def on_bars(self, bars: Sequence[Bar], warm: bool = True) -> int:
        """Learn closed bars, in the order they closed. The desk hands them over up to each signal, so
        a check sees every bar that closed before the signal's own and none after, however the ticks
        were batched. ``warm``: work out the correlations now, off the next check's path (the desk's
        call after a batch's sagas); without it a check works out the ones it needs."""
        n = 0
        for bar in bars:
            self.window.add(bar.symbol, bar.close)
            n += 1
        self.last_events = n
        self.last_changed = n > 0  # no bar: the window is as it was (not saved)
        if n and warm:  # the next saga's check finds the correlations worked out
            for a in self.window.returns:
                for b in self.window.returns:
                    self.window.correlation(a, b)
        return n

    def check(self, intents: list[OrderIntent], snapshots: Mapping[str, AccountSnapshot],
              mids: Mapping[str, Decimal]) -> list[tuple[OrderIntent | None, str]]:
        """Each intent in turn, counting the ones allowed before it: allowed, scaled or vetoed."""
        out = scale_intents(intents, snapshots, self.registry, rates_from(self.registry, mids), self.owners,
                            self.limits, self.window)
        self.last_events = len(intents)
        return out

    def check_sized(self, sized: Mapping[str, SizingDecision], snapshots: Mapping[str, AccountSnapshot],
                    mids: Mapping[str, Decimal]) -> Checked:
        """The saga's step after sizing, handed the risk agent's output: ``check`` on the intents it
        sized, each with its account. No intent left: an empty answer at once."""
        intents = [(acc, d.intent) for acc, d in sized.items() if d.intent is not None]
        if not intents:
            return []
        checked = self.check([i for _, i in intents], snapshots, mids)
        return [(acc, intent, reason) for (acc, _), (intent, reason) in zip(intents, checked, strict=True)]
