"""CorrelationAgent: nets currency exposure across an owner's accounts and scales or vetoes orders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import ClassVar

from actors.common import rates_from
from actors.ingress import IngressResult
from trading.exposure import (
    ExposureLimits,
    ReturnsWindow,
    correlated_gross,
    currency_legs,
    fit_scale,
    net_by_currency,
)
from trading.fx import ConversionRates
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot
from trading.orders import OrderIntent


class CorrelationAgent:
    reads: ClassVar[frozenset[str]] = frozenset({"check"})  # changes no state: the shell does not save after it

    def __init__(self, registry: InstrumentRegistry, owners: dict[str, str], limits: ExposureLimits,
                 window_bars: int) -> None:
        self.registry = registry
        self.owners = owners
        self.limits = limits
        self.window = ReturnsWindow(window_bars)
        self.last_events = 0

    def on_batch(self, *results: IngressResult) -> int:
        n = 0
        for r in results:
            for bar in r.bars:
                self.window.add(bar.symbol, bar.close)
                n += 1
        self.last_events = n
        return n

    def _book(self, owner: str, snapshots: Mapping[str, AccountSnapshot], accepted: list[OrderIntent],
              rates: ConversionRates, ccy: str) -> tuple[list[dict[str, float]], dict[str, float]]:
        """An owner's currency legs and signed base notional per instrument: open positions of all
        its accounts plus the intents already allowed in this check."""
        held = [(p.symbol, p.side, p.lots, p.price) for a, o in self.owners.items() if o == owner
                for p in snapshots[a].positions]
        held += [(i.signal.symbol, i.signal.side, i.lots, i.signal.entry) for i in accepted
                 if self.owners[i.account_id] == owner]
        legs: list[dict[str, float]] = []
        by_inst: dict[str, float] = {}
        for symbol, side, lots, price in held:
            inst = self.registry[symbol]
            leg = currency_legs(inst, side, lots, price, rates, ccy)
            legs.append(leg)
            by_inst[symbol] = by_inst.get(symbol, 0.0) + leg[inst.base]
        return legs, by_inst

    def _gross_scale(self, by_inst: dict[str, float], symbol: str, add: float, limit: float, scale: float) -> float:
        """The largest share <= ``scale`` of ``add`` that keeps the correlated gross within ``limit``."""
        def gross(s: float) -> float:
            return correlated_gross({**by_inst, symbol: by_inst.get(symbol, 0.0) + s * add}, self.window)

        if gross(scale) <= limit:
            return scale
        lo, hi = 0.0, scale
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if gross(mid) <= limit else (lo, mid)
        return lo

    def check(self, intents: list[OrderIntent], snapshots: Mapping[str, AccountSnapshot],
              mids: Mapping[str, Decimal]) -> list[tuple[OrderIntent | None, str]]:
        """Each intent in turn, counting the ones allowed before it: allowed, scaled or vetoed."""
        rates = rates_from(self.registry, mids)
        out: list[tuple[OrderIntent | None, str]] = []
        accepted: list[OrderIntent] = []
        for intent in intents:
            owner = self.owners[intent.account_id]
            ccy = snapshots[intent.account_id].currency
            balance = float(sum((snapshots[a].balance for a, o in self.owners.items() if o == owner), Decimal(0)))
            legs, by_inst = self._book(owner, snapshots, accepted, rates, ccy)
            inst = self.registry[intent.signal.symbol]
            new = currency_legs(inst, intent.signal.side, intent.lots, intent.signal.entry, rates, ccy)
            scale = fit_scale(net_by_currency(legs), new, self.limits.per_currency * balance)
            scale = self._gross_scale(by_inst, inst.symbol, new[inst.base], self.limits.correlated_total * balance,
                                      scale)
            if scale >= 1.0:
                out.append((intent, "within exposure limits"))
                accepted.append(intent)
                continue
            lots = inst.round_lots(intent.lots * Decimal(repr(scale)))
            if lots < inst.min_lot:
                out.append((None, f"{inst.symbol} exposure at the currency/correlation limit "
                                  f"({self.limits.per_currency}x per currency, {self.limits.correlated_total}x total)"))
                continue
            scaled = replace(intent, lots=lots, risk_amount=intent.risk_amount * lots / intent.lots)
            out.append((scaled, f"scaled to {lots} lots by exposure limits"))
            accepted.append(scaled)
        self.last_events = len(intents)
        return out
