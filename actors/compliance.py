"""ComplianceAgent: pre-trade veto on the worst case, post-trade headroom monitor."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from actors.common import rates_from
from trading.compliance import AccountRules, ComplianceDecision, CostAllowance, Headroom
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot
from trading.orders import Order
from trading.rules import FirmRules


class ComplianceAgent:
    def __init__(self, registry: InstrumentRegistry, rules: dict[str, FirmRules],
                 costs: dict[str, CostAllowance]) -> None:
        self.registry = registry
        self.accounts = {acc: AccountRules(rules[acc], costs[acc], registry) for acc in rules}
        self.last_events = 0

    def observe(self, snapshots: Mapping[str, AccountSnapshot], mids: Mapping[str, Decimal]) -> dict[str, Headroom]:
        rates = rates_from(self.registry, mids)
        self.last_events = len(snapshots)
        return {acc: self.accounts[acc].observe(snap, rates) for acc, snap in snapshots.items()}

    def check(self, orders: Mapping[str, list[Order]], snapshots: Mapping[str, AccountSnapshot],
              mids: Mapping[str, Decimal]) -> dict[str, ComplianceDecision]:
        rates = rates_from(self.registry, mids)
        self.last_events = len(orders)
        return {acc: self.accounts[acc].check(legs, snapshots[acc], rates) for acc, legs in orders.items()}

    def report(self) -> dict[str, dict[str, object]]:
        return {
            acc: {"breaches": list(r.state.breaches), "min_daily_headroom": r.state.min_daily_headroom,
                  "min_max_loss_headroom": r.state.min_max_loss_headroom, "rules": r.rules.name}
            for acc, r in self.accounts.items()
        }
