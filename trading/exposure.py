"""Currency exposure: positions decomposed into currencies and netted across an owner's accounts.

EURUSD long 1 lot = EUR +100,000 and USD -100,000 x price. Exposures are valued in the owner's
reporting currency; limits apply per currency and to the correlation-weighted total.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from trading.fx import ConversionRates
from trading.instruments import Instrument
from trading.orders import Side


@dataclass(frozen=True, slots=True)
class ExposureLimits:
    """Limits in multiples of the owner's combined balance (a leverage).

    per_currency: absolute net exposure in any one currency (default 10x).
    correlated_total: correlation-weighted gross exposure across instruments (default 15x).
    """

    per_currency: float = 10.0
    correlated_total: float = 15.0


def currency_legs(inst: Instrument, side: Side, lots: Decimal, price: Decimal,
                  rates: ConversionRates, report_ccy: str) -> dict[str, float]:
    """A position's exposure per currency, valued in ``report_ccy``."""
    units = lots * inst.contract_size
    base_value = units * rates.rate(inst.base, report_ccy)
    quote_value = units * price * rates.rate(inst.quote, report_ccy)
    return {inst.base: float(base_value) * int(side), inst.quote: -float(quote_value) * int(side)}


@dataclass
class ReturnsWindow:
    """Rolling bar returns per instrument, for their correlation matrix."""

    size: int = 240
    last_close: dict[str, float] = field(default_factory=dict)
    returns: dict[str, deque[float]] = field(default_factory=dict)

    def add(self, symbol: str, close: float) -> None:
        prev = self.last_close.get(symbol)
        self.last_close[symbol] = close
        if prev:
            self.returns.setdefault(symbol, deque(maxlen=self.size)).append(math.log(close / prev))

    def correlation(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        ra, rb = self.returns.get(a), self.returns.get(b)
        if not ra or not rb:
            return 1.0  # unknown: assume the worst
        n = min(len(ra), len(rb))
        if n < 30:
            return 1.0
        xa, xb = list(ra)[-n:], list(rb)[-n:]
        ma, mb = sum(xa) / n, sum(xb) / n
        cov = sum((x - ma) * (y - mb) for x, y in zip(xa, xb, strict=True))
        va = sum((x - ma) ** 2 for x in xa)
        vb = sum((y - mb) ** 2 for y in xb)
        return cov / math.sqrt(va * vb) if va > 0 and vb > 0 else 1.0


@dataclass(frozen=True, slots=True)
class ExposureCheck:
    scale: float
    reason: str
    per_currency: Mapping[str, float]
    correlated_total: float


def net_by_currency(legs: Iterable[Mapping[str, float]]) -> dict[str, float]:
    net: dict[str, float] = defaultdict(float)
    for leg in legs:
        for ccy, value in leg.items():
            net[ccy] += value
    return dict(net)


def correlated_gross(by_instrument: Mapping[str, float], window: ReturnsWindow) -> float:
    """sqrt(w' C w) over signed instrument notionals: hedges offset, correlated bets add."""
    symbols = list(by_instrument)
    total = 0.0
    for a in symbols:
        for b in symbols:
            total += by_instrument[a] * by_instrument[b] * window.correlation(a, b)
    return math.sqrt(max(total, 0.0))


def fit_scale(current: Mapping[str, float], new: Mapping[str, float], limit: float) -> float:
    """The largest share in [0, 1] of ``new`` that keeps every currency within ``limit``."""
    scale = 1.0
    for ccy, add in new.items():
        have = current.get(ccy, 0.0)
        if abs(have + add) <= limit or add == 0:
            continue
        room = (limit - have) / add if add > 0 else (-limit - have) / add
        scale = min(scale, max(0.0, room))
    return scale
