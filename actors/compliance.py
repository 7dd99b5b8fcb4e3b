"""ComplianceAgent: pre-trade veto on the worst case and every firm rule, cross-account conduct,
and the post-trade headroom monitor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from actors.common import rates_from
from actors.execution import ExecUpdate
from trading.compliance import AccountRules, ComplianceDecision, CostAllowance, Headroom
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.market import NS_PER_S
from trading.news import NewsCalendar
from trading.orders import Order
from trading.rules import CopyTrading, FirmRules


def firm_of(rules: FirmRules) -> str:
    """The firm an account's rules belong to: copy-trading rules apply across its accounts."""
    return rules.source.firm or rules.name.split(".")[0]


class ComplianceAgent:
    def __init__(self, registry: InstrumentRegistry, rules: dict[str, FirmRules],
                 costs: dict[str, CostAllowance], owners: Mapping[str, str] | None = None,
                 news_calendar: str | None = None) -> None:
        self.registry = registry
        self.news = NewsCalendar.from_csv(Path(news_calendar)) if news_calendar else NewsCalendar()
        self.accounts = {acc: AccountRules(rules[acc], costs[acc], registry, self.news) for acc in rules}
        self.owners = dict(owners or {})
        self.recent: list[tuple[int, str, str, str, int]] = []  # (ts, firm, account, symbol, side) allowed
        self.last: dict[str, AccountSnapshot] = {}
        self.last_events = 0

    def observe(self, snapshots: Mapping[str, AccountSnapshot], mids: Mapping[str, Decimal],
                trades: Sequence[ClosedTrade] = ()) -> dict[str, Headroom]:
        rates = rates_from(self.registry, mids)
        self.last_events = len(snapshots)
        self.last.update(snapshots)
        return {acc: self.accounts[acc].observe(snap, rates, [t for t in trades if t.account_id == acc])
                for acc, snap in snapshots.items()}

    def observe_update(self, update: ExecUpdate) -> dict[str, Headroom]:
        """``observe`` for an execution agent's update, which the desk passes on as Ray's reference
        to it: the headroom is worked out as soon as the update exists, while the desk books it."""
        return self.observe(update.snapshots, update.mids, update.trades)

    def _conduct(self, acc: str, legs: Sequence[Order], snapshots: Mapping[str, AccountSnapshot]) -> str:
        """Copy trading and hedging across the accounts of one firm: the reason for a veto, or ''."""
        rules = self.accounts[acc].rules
        firm, owner = firm_of(rules), self.owners.get(acc, acc)
        conduct = rules.conduct
        window = conduct.copy_window_seconds * NS_PER_S
        for order in legs:
            if conduct.copy_trading is not CopyTrading.ALLOWED:
                for ts, f, other, symbol, side in self.recent:
                    if f == firm and other != acc and symbol == order.symbol and side == int(order.side) \
                            and abs(ts - order.not_before_ns) <= window:
                        if conduct.copy_trading is CopyTrading.FORBIDDEN or self.owners.get(other, other) != owner:
                            return (f"copy_trading: {order.symbol} {order.side.name.lower()} already placed on "
                                    f"{other} at {firm} within {conduct.copy_window_seconds} s")
            if not conduct.hedging_across_accounts:
                for other, snap in snapshots.items():
                    if other == acc or firm_of(self.accounts[other].rules) != firm:
                        continue
                    if self.owners.get(other, other) != owner:
                        continue
                    if any(p.symbol == order.symbol and p.side != order.side for p in snap.positions):
                        return f"hedging_across_accounts: {other} holds the opposite {order.symbol} position"
        return ""

    def check(self, orders: Mapping[str, list[Order]], snapshots: Mapping[str, AccountSnapshot],
              mids: Mapping[str, Decimal]) -> dict[str, ComplianceDecision]:
        rates = rates_from(self.registry, mids)
        self.last_events = len(orders)
        out = {}
        for acc in sorted(orders):
            legs = orders[acc]
            decision = self.accounts[acc].check(legs, snapshots[acc], rates)
            if decision.allowed:
                reason = self._conduct(acc, legs, snapshots)
                if reason:
                    rule, _, why = reason.partition(": ")
                    decision = replace(decision, allowed=False, rule=rule, reason=why)
                else:
                    firm = firm_of(self.accounts[acc].rules)
                    self.recent += [(o.not_before_ns, firm, acc, o.symbol, int(o.side)) for o in legs]
            out[acc] = decision
        if self.recent:  # keep an hour of placements
            newest = max(r[0] for r in self.recent)
            self.recent = [r for r in self.recent if newest - r[0] <= 3_600 * NS_PER_S]
        return out

    def report(self) -> dict[str, dict[str, object]]:
        return {
            acc: {"breaches": list(r.state.breaches), "soft_breaches": list(r.state.soft_breaches),
                  "violations": list(r.state.violations),
                  "min_daily_headroom": r.state.min_daily_headroom,
                  "min_max_loss_headroom": r.state.min_max_loss_headroom, "rules": r.rules.name,
                  "day_references": {str(day): {"at_ns": at, "reference": ref}
                                     for day, (at, ref) in sorted(r.state.references.items())},
                  "objectives": r.objectives(self.last[acc]) if acc in self.last else {}}
            for acc, r in self.accounts.items()
        }
