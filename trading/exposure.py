"""Currency exposure: positions decomposed into currencies and netted across an owner's accounts.

EURUSD long 1 lot = EUR +100,000 and USD -100,000 x price. Exposures are valued in the owner's
reporting currency; limits apply per currency and to the correlation-weighted total.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from trading.fx import ConversionRates
from trading.instruments import Instrument
from trading.ledger import AccountSnapshot
from trading.orders import OrderIntent, Side


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
    # correlations worked out since the last bar (a check asks for each pair many times); not saved
    _memo: dict[tuple[str, str], float] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "_memo"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state, _memo={})

    def add(self, symbol: str, close: float) -> None:
        prev = self.last_close.get(symbol)
        self.last_close[symbol] = close
        if prev:
            self.returns.setdefault(symbol, deque(maxlen=self.size)).append(math.log(close / prev))
            self._memo.clear()

    def correlation(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        known = self._memo.get((a, b))
        if known is None:
            known = self._memo[(a, b)] = self._correlation(a, b)
        return known

    def _correlation(self, a: str, b: str) -> float:
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


def owner_book(owner: str, owners: Mapping[str, str], snapshots: Mapping[str, AccountSnapshot],
               accepted: Iterable[OrderIntent], instruments: Mapping[str, Instrument], rates: ConversionRates,
               ccy: str) -> tuple[list[dict[str, float]], dict[str, float]]:
    """An owner's currency legs and signed base notional per instrument: open positions of all
    its accounts plus the intents already allowed (``accepted``)."""
    held = [(p.symbol, p.side, p.lots, p.price) for a, o in owners.items() if o == owner
            for p in snapshots[a].staying()]
    held += [(i.signal.symbol, i.signal.side, i.lots, i.signal.entry) for i in accepted
             if owners[i.account_id] == owner]
    legs: list[dict[str, float]] = []
    by_inst: dict[str, float] = {}
    for symbol, side, lots, price in held:
        inst = instruments[symbol]
        leg = currency_legs(inst, side, lots, price, rates, ccy)
        legs.append(leg)
        by_inst[symbol] = by_inst.get(symbol, 0.0) + leg[inst.base]
    return legs, by_inst


def gross_scale(by_inst: Mapping[str, float], symbol: str, add: float, limit: float, scale: float,
                window: ReturnsWindow) -> float:
    """The largest share <= ``scale`` of ``add`` (a base notional of ``symbol``) that keeps the
    correlated gross within ``limit`` (bisected to 2^-30 of ``scale``)."""
    def gross(s: float) -> float:
        return correlated_gross({**by_inst, symbol: by_inst.get(symbol, 0.0) + s * add}, window)

    if gross(scale) <= limit:
        return scale
    lo, hi = 0.0, scale
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gross(mid) <= limit else (lo, mid)
    return lo


def scale_intents(intents: Iterable[OrderIntent], snapshots: Mapping[str, AccountSnapshot],
                  instruments: Mapping[str, Instrument], rates: ConversionRates, owners: Mapping[str, str],
                  limits: ExposureLimits, window: ReturnsWindow) -> list[tuple[OrderIntent | None, str]]:
    """Each intent in turn, counting the ones allowed before it: allowed as is, scaled down to
    the lots that keep its owner within ``limits`` (per currency, then correlated gross; both in
    multiples of the owner's combined balance), or vetoed when fewer than the minimum lot fit."""
    out: list[tuple[OrderIntent | None, str]] = []
    accepted: list[OrderIntent] = []
    for intent in intents:
        owner = owners[intent.account_id]
        ccy = snapshots[intent.account_id].currency
        balance = float(sum((snapshots[a].balance for a, o in owners.items() if o == owner), Decimal(0)))
        legs, by_inst = owner_book(owner, owners, snapshots, accepted, instruments, rates, ccy)
        inst = instruments[intent.signal.symbol]
        new = currency_legs(inst, intent.signal.side, intent.lots, intent.signal.entry, rates, ccy)
        scale = fit_scale(net_by_currency(legs), new, limits.per_currency * balance)
        scale = gross_scale(by_inst, inst.symbol, new[inst.base], limits.correlated_total * balance, scale, window)
        if scale >= 1.0:
            out.append((intent, "within exposure limits"))
            accepted.append(intent)
            continue
        lots = inst.round_lots(intent.lots * Decimal(repr(scale)))
        if lots < inst.min_lot:
            out.append((None, f"{inst.symbol} exposure at the currency/correlation limit "
                              f"({limits.per_currency}x per currency, {limits.correlated_total}x total)"))
            continue
        scaled = replace(intent, lots=lots, risk_amount=intent.risk_amount * lots / intent.lots)
        out.append((scaled, f"scaled to {lots} lots by exposure limits"))
        accepted.append(scaled)
    return out


@dataclass(frozen=True, slots=True)
class BookPosition:
    """An open position as the book sees it: whose, at which firm, and its size."""

    account_id: str
    firm: str
    symbol: str
    side: Side
    lots: Decimal
    price: Decimal


def book_view(positions: Iterable[BookPosition], registry: Mapping[str, Instrument]) -> dict[str, object]:
    """Every account's open positions as one book: per instrument the net, long and short lots with
    each account's share; per currency the net amount in that currency's own units (EURUSD long 1
    lot at 1.10 = EUR +100,000 and USD -110,000), with each firm's part; per firm its accounts and
    open lots. Sorted, so two views of the same positions are equal."""
    instruments: dict[str, dict[str, Any]] = {}
    currencies: dict[str, dict[str, Any]] = {}
    firms: dict[str, dict[str, Any]] = {}
    for p in positions:
        inst = registry[p.symbol]
        signed = p.lots * int(p.side)
        row = instruments.setdefault(p.symbol, {"symbol": p.symbol, "net_lots": Decimal(0), "long_lots": Decimal(0),
                                                "short_lots": Decimal(0), "accounts": {}})
        row["net_lots"] += signed
        row["long_lots" if p.side is Side.BUY else "short_lots"] += p.lots
        row["accounts"][p.account_id] = row["accounts"].get(p.account_id, Decimal(0)) + signed
        units = p.lots * inst.contract_size * int(p.side)
        for ccy, amount in ((inst.base, units), (inst.quote, -units * p.price)):
            c = currencies.setdefault(ccy, {"currency": ccy, "net": Decimal(0), "firms": {}})
            c["net"] += amount
            c["firms"][p.firm] = c["firms"].get(p.firm, Decimal(0)) + amount
        f = firms.setdefault(p.firm, {"firm": p.firm, "accounts": set(), "open_lots": Decimal(0), "positions": 0})
        f["accounts"].add(p.account_id)
        f["open_lots"] += p.lots
        f["positions"] += 1
    return {
        "by_instrument": [{**r, "accounts": dict(sorted(r["accounts"].items()))}
                          for _, r in sorted(instruments.items())],
        "by_currency": [{**c, "firms": dict(sorted(c["firms"].items()))} for _, c in sorted(currencies.items())],
        "by_firm": [{**f, "accounts": sorted(f["accounts"])} for _, f in sorted(firms.items())],
    }
