"""ComplianceAgent: pre-trade veto on the worst case and every firm rule, cross-account conduct,
and the post-trade headroom monitor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from actors.execution import ExecUpdate
from trading.compliance import AccountRules, ComplianceDecision, CostAllowance, Headroom
from trading.conduct import CrossAccountConduct
from trading.fx import rates_from
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.news import NewsCalendar
from trading.orders import Order
from trading.rules import FirmRules


@dataclass(frozen=True, slots=True)
class Complied:
    """The saga's compliance step: each account's decision, and the orders of those allowed (by
    account, in the order checked) that the execution step sends."""

    decisions: dict[str, ComplianceDecision] = field(default_factory=dict)
    approved: dict[str, list[Order]] = field(default_factory=dict)


class ComplianceAgent:
    def __init__(self, registry: InstrumentRegistry, rules: dict[str, FirmRules],
                 costs: dict[str, CostAllowance], owners: Mapping[str, str] | None = None,
                 news_calendar: str | None = None) -> None:
        self.registry = registry
        self.news = NewsCalendar.from_csv(Path(news_calendar)) if news_calendar else NewsCalendar()
        self.accounts = {acc: AccountRules(rules[acc], costs[acc], registry, self.news) for acc in rules}
        self.conduct = CrossAccountConduct(rules, owners)
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

    def check(self, orders: Mapping[str, list[Order]], snapshots: Mapping[str, AccountSnapshot],
              mids: Mapping[str, Decimal]) -> dict[str, ComplianceDecision]:
        rates = rates_from(self.registry, mids)
        self.last_events = len(orders)
        out = {}
        for acc in sorted(orders):
            legs = orders[acc]
            decision = self.accounts[acc].check(legs, snapshots[acc], rates)
            if decision.allowed:
                reason = self.conduct.veto(acc, legs, snapshots)
                if reason:
                    rule, _, why = reason.partition(": ")
                    decision = replace(decision, allowed=False, rule=rule, reason=why)
                else:
                    self.conduct.placed(acc, legs)
            out[acc] = decision
        self.conduct.forget_old()
        return out

    def check_styled(self, styled: Mapping[str, list[Order]], snapshots: Mapping[str, AccountSnapshot],
                     mids: Mapping[str, Decimal]) -> Complied:
        """The saga's step after the execution style, handed its output: ``check`` on the accounts
        with legs. No account with legs: an empty answer at once, the conduct rules untouched."""
        orders = {acc: legs for acc, legs in styled.items() if legs}
        if not orders:
            return Complied()
        decisions = self.check(orders, snapshots, mids)
        return Complied(decisions, {acc: orders[acc] for acc, d in decisions.items() if d.allowed})

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
