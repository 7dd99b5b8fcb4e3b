"""Conduct across accounts: copy trading and hedging between the accounts of one firm.

A firm's rules (``FirmRules.conduct``) may forbid placing the same trade on two of its accounts
within ``copy_window_seconds`` (``CopyTrading.FORBIDDEN``), or allow it only between one owner's
accounts (``CopyTrading.SAME_OWNER``), and may forbid holding opposite positions of one
instrument on two accounts of one owner (``hedging_across_accounts``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from trading.ledger import AccountSnapshot
from trading.market import NS_PER_S
from trading.orders import Order
from trading.rules import CopyTrading, FirmRules

PLACEMENTS_KEPT_NS = 3_600 * NS_PER_S  # placements older than this (from the newest) are forgotten


def firm_of(rules: FirmRules) -> str:
    """The firm an account's rules belong to: copy-trading rules apply across its accounts."""
    return rules.source.firm or rules.name.split(".")[0]


class CrossAccountConduct:
    """The placements allowed so far, and the copy-trading and hedging rules judged against them.

    ``rules`` and ``owners`` are per account; an account without an owner is its own owner."""

    def __init__(self, rules: Mapping[str, FirmRules], owners: Mapping[str, str] | None = None) -> None:
        self.rules = dict(rules)
        self.owners = dict(owners or {})
        self.recent: list[tuple[int, str, str, str, int]] = []  # (ts, firm, account, symbol, side) allowed

    def veto(self, acc: str, legs: Sequence[Order], snapshots: Mapping[str, AccountSnapshot]) -> str:
        """The reason (``rule: why``) the conduct rules refuse ``legs`` on ``acc``, or ''."""
        rules = self.rules[acc]
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
                    if other == acc or firm_of(self.rules[other]) != firm:
                        continue
                    if self.owners.get(other, other) != owner:
                        continue
                    if any(p.symbol == order.symbol and p.side != order.side for p in snap.staying()):
                        return f"hedging_across_accounts: {other} holds the opposite {order.symbol} position"
        return ""

    def placed(self, acc: str, legs: Sequence[Order]) -> None:
        """Record allowed legs, against which later orders of the firm's other accounts are judged."""
        firm = firm_of(self.rules[acc])
        self.recent += [(o.not_before_ns, firm, acc, o.symbol, int(o.side)) for o in legs]

    def forget_old(self) -> None:
        """Keep an hour of placements (counted back from the newest)."""
        if self.recent:
            newest = max(r[0] for r in self.recent)
            self.recent = [r for r in self.recent if newest - r[0] <= PLACEMENTS_KEPT_NS]
