"""CorrelationAgent: nets currency exposure across an owner's accounts and scales or vetoes orders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

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
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot
from trading.orders import OrderIntent


class CorrelationAgent:
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

    def check(self, intents: list[OrderIntent], snapshots: Mapping[str, AccountSnapshot],
              mids: Mapping[str, Decimal]) -> list[tuple[OrderIntent | None, str]]:
        """Each intent in turn, counting the ones allowed before it: allowed, scaled or vetoed."""
        rates = rates_from(self.registry, mids)
        out: list[tuple[OrderIntent | None, str]] = []
        accepted: list[OrderIntent] = []
        for intent in intents:
            owner = self.owners[intent.account_id]
            accounts = [a for a, o in self.owners.items() if o == owner]
            ccy = snapshots[intent.account_id].currency
            balance = float(sum((snapshots[a].balance for a in accounts), Decimal(0)))
            legs, by_inst = [], {}
            for a in accounts:
                for p in snapshots[a].positions:
                    leg = currency_legs(self.registry[p.symbol], p.side, p.lots, p.price, rates, ccy)
                    legs.append(leg)
                    by_inst[p.symbol] = by_inst.get(p.symbol, 0.0) + leg[self.registry[p.symbol].base]
            for i in accepted:
                if self.owners[i.account_id] == owner:
                    leg = currency_legs(self.registry[i.signal.symbol], i.signal.side, i.lots, i.signal.entry, rates, ccy)
                    legs.append(leg)
                    by_inst[i.signal.symbol] = by_inst.get(i.signal.symbol, 0.0) + leg[self.registry[i.signal.symbol].base]
            inst = self.registry[intent.signal.symbol]
            new = currency_legs(inst, intent.signal.side, intent.lots, intent.signal.entry, rates, ccy)
            current = net_by_currency(legs)
            scale = fit_scale(current, new, self.limits.per_currency * balance)
            gross_limit = self.limits.correlated_total * balance

            def gross(s: float) -> float:
                trial = dict(by_inst)
                trial[inst.symbol] = trial.get(inst.symbol, 0.0) + s * new[inst.base]
                return correlated_gross(trial, self.window)

            if gross(scale) > gross_limit:
                lo, hi = 0.0, scale
                for _ in range(30):
                    mid = (lo + hi) / 2
                    lo, hi = (mid, hi) if gross(mid) <= gross_limit else (lo, mid)
                scale = lo
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
