"""The reference strategy: a simple moving-average crossover with a fixed stop.

When the mean of the last ``fast`` closes crosses above the mean of the last ``slow`` closes (below
at the previous bar, above at this one: ``backtesting.lib.crossover``'s rule), it buys; when it crosses
below, it sells. Entry is the bar's close; the stop is ``stop_pips`` away and the target
``target_pips`` (none when 0). Means are compared exactly, in integer points, so a tie is a tie.
It is here to cross-check Octet's engine against other engines on a strategy every engine can run,
not to make money.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from trading.errors import InvalidValue
from trading.instruments import Instrument
from trading.market import Bar
from trading.orders import Evidence, Side, Signal
from trading.wyckoff import WyckoffEvent

SETUP = "sma_cross"


@dataclass(frozen=True)
class SmaCrossParams:
    fast: int = 10
    slow: int = 30
    stop_pips: Decimal = Decimal("20")
    target_pips: Decimal = Decimal("40")
    confidence: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise InvalidValue("fast", self.fast, f"must be at least 1 and below slow ({self.slow})")
        if Decimal(self.stop_pips) <= 0:
            raise InvalidValue("stop_pips", self.stop_pips, "must be positive")
        if Decimal(self.target_pips) < 0:
            raise InvalidValue("target_pips", self.target_pips, "must be 0 (no target) or positive")
        if not 0.0 <= self.confidence <= 1.0:
            raise InvalidValue("confidence", self.confidence, "must be within [0, 1]")


@dataclass
class SmaCross:
    instrument: Instrument
    params: SmaCrossParams = field(default_factory=SmaCrossParams)
    closes: deque[int] = field(default_factory=deque)  # the last ``slow`` closes, in points
    above: int = 0  # the sign of fast mean - slow mean at the previous bar (0: not yet, or equal)

    def __post_init__(self) -> None:
        self.closes = deque(self.closes, maxlen=self.params.slow)

    def update(self, bar: Bar) -> tuple[list[WyckoffEvent], list[Signal]]:
        p, inst = self.params, self.instrument
        self.closes.append(inst.points(inst.price(bar.close)))
        if len(self.closes) < p.slow:
            return [], []
        fast_sum = sum(list(self.closes)[-p.fast:])
        slow_sum = sum(self.closes)
        diff = fast_sum * p.slow - slow_sum * p.fast  # fast mean - slow mean, times fast * slow: exact
        sign = (diff > 0) - (diff < 0)
        before, self.above = self.above, sign
        if before == -1 and sign == 1:
            side = Side.BUY
        elif before == 1 and sign == -1:
            side = Side.SELL
        else:
            return [], []
        entry = inst.price(bar.close)
        stop = inst.price(entry - side * Decimal(p.stop_pips) * inst.pip_size)
        targets = (inst.price(entry + side * Decimal(p.target_pips) * inst.pip_size),) if p.target_pips else ()
        scale = Decimal(1).scaleb(-inst.price_precision)
        evidence = (Evidence("sma_cross", bar.start_ns, (
            ("fast_sma", float(Decimal(fast_sum) / p.fast * scale)),
            ("slow_sma", float(Decimal(slow_sum) / p.slow * scale)),
            ("fast", float(p.fast)), ("slow", float(p.slow)))),)
        return [], [Signal(inst.symbol, side, bar.end_ns, entry, stop, targets, p.confidence, SETUP, evidence)]
