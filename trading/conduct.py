"""Conduct across accounts: copy trading, hedging and how much one person holds at a firm.

A firm's rules (``FirmRules.conduct``) may forbid placing the same trade on two of its accounts
within ``copy_window_seconds`` (``CopyTrading.FORBIDDEN``), or allow it only between one owner's
accounts (``CopyTrading.SAME_OWNER``), may forbid holding opposite positions of one instrument on
two accounts of one owner (``hedging_across_accounts``: a position held, or a leg allowed on
another account that may still fill, i.e. before its expiry), and may cap the accounts or the capital
one owner holds at the firm (``max_accounts_per_owner``, ``max_capital_per_owner``): the accounts
past the cap, counted in the order of their ids, place nothing, each veto naming the rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

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

    def __init__(self, rules: Mapping[str, FirmRules], owners: Mapping[str, str] | None = None,
                 capital: Mapping[str, tuple[Decimal, str]] | None = None) -> None:
        self.rules = dict(rules)
        self.owners = dict(owners or {})
        self.recent: list[tuple[int, str, str, str, int]] = []  # (ts, firm, account, symbol, side) allowed
        # legs allowed and perhaps not yet filled: (expires_ns, firm, account, symbol, side)
        self.working: list[tuple[int, str, str, str, int]] = []
        self.capital = dict(capital or {})
        self.over_cap, self.cap_notes = caps(self.rules, self.owners, self.capital)

    def __setstate__(self, state: dict[str, object]) -> None:
        state.setdefault("working", [])  # saved before working legs were kept
        state.setdefault("capital", {})  # saved before copying had a capital cap
        self.__dict__.update(state)

    def _copy_over_cap(self, acc: str, firm: str, owner: str) -> str:
        """Why a copy between ``owner``'s accounts at ``firm`` is over ``acc``'s copy cap, or ''."""
        conduct = self.rules[acc].conduct
        if not conduct.copy_capital_per_owner:
            return ""
        share, stated = Decimal(0), ", ".join(f"{a} {c}" for c, a in conduct.copy_capital_per_owner)
        for other in sorted(self.rules):
            if firm_of(self.rules[other]) != firm or self.owners.get(other, other) != owner \
                    or not self.rules[other].conduct.copy_capital_per_owner:
                continue
            balance, currency = self.capital.get(other, (Decimal(0), ""))
            cap = conduct.copy_cap(currency)
            if cap is None:
                return (f"{firm} caps copying at {stated} per owner; {other}'s balance in "
                        f"{currency or 'an unknown currency'} cannot be counted against it")
            share += balance / cap
        return "" if share <= 1 else (f"{owner}'s accounts at {firm} under the cap hold {share:.0%} of the {stated} "
                                      "within which they may copy")

    def veto(self, acc: str, legs: Sequence[Order], snapshots: Mapping[str, AccountSnapshot]) -> str:
        """The reason (``rule: why``) the conduct rules refuse ``legs`` on ``acc``, or ''."""
        return self.judge(acc, legs, snapshots)[0]

    def judge(self, acc: str, legs: Sequence[Order], snapshots: Mapping[str, AccountSnapshot]) -> tuple[str, str]:
        """(the reason the conduct rules refuse ``legs`` on ``acc`` or '', what they allowed that a
        firm restricts, for the audit, or '')."""
        if acc in self.over_cap:
            return self.over_cap[acc], ""
        rules = self.rules[acc]
        firm, owner = firm_of(rules), self.owners.get(acc, acc)
        conduct = rules.conduct
        window = conduct.copy_window_seconds * NS_PER_S
        notes = [self.cap_notes[acc]] if acc in self.cap_notes else []
        for order in legs:
            for ts, f, other, symbol, side in self.recent:
                if f != firm or other == acc or symbol != order.symbol or side != int(order.side):
                    continue
                # the stricter of the two judges: the longer of their windows too
                if abs(ts - order.not_before_ns) > max(window, self.rules[other].conduct.copy_window_seconds * NS_PER_S):
                    continue
                kinds = {conduct.copy_trading, self.rules[other].conduct.copy_trading}  # the stricter one judges
                if kinds == {CopyTrading.ALLOWED}:
                    break
                forbidden = CopyTrading.FORBIDDEN in kinds
                if forbidden or self.owners.get(other, other) != owner:
                    return (f"copy_trading: {order.symbol} {order.side.name.lower()} already placed on "
                            f"{other} at {firm} within {conduct.copy_window_seconds} s"
                            + (" (copying is forbidden on either account)" if forbidden else "")), ""
                over = self._copy_over_cap(acc, firm, owner)
                if over:
                    return (f"copy_trading: {order.symbol} {order.side.name.lower()} already placed on "
                            f"{other} within {conduct.copy_window_seconds} s, and {over}"), ""
                notes.append(f"copy_trading: the same {order.symbol} {order.side.name.lower()} as on {other}, "
                             f"allowed at {firm} between one owner's accounts ({owner})")
                break
            if not conduct.hedging_across_accounts:
                for other, snap in snapshots.items():
                    if other == acc or firm_of(self.rules[other]) != firm:
                        continue
                    if self.owners.get(other, other) != owner:
                        continue
                    if any(p.symbol == order.symbol and p.side != order.side for p in snap.staying()):
                        return f"hedging_across_accounts: {other} holds the opposite {order.symbol} position", ""
                # an opposite leg allowed earlier (in this batch, or still working) is a hedge once it fills
                for until, f, other, symbol, side in self.working:
                    if f == firm and other != acc and self.owners.get(other, other) == owner \
                            and symbol == order.symbol and side != int(order.side) and until >= order.not_before_ns:
                        return (f"hedging_across_accounts: {other} has an opposite {order.symbol} order working "
                                f"(until {until})"), ""
        return "", "; ".join(notes)

    def placed(self, acc: str, legs: Sequence[Order]) -> None:
        """Record allowed legs, against which later orders of the firm's other accounts are judged."""
        firm = firm_of(self.rules[acc])
        self.recent += [(o.not_before_ns, firm, acc, o.symbol, int(o.side)) for o in legs]
        self.working += [(o.expires_ns, firm, acc, o.symbol, int(o.side)) for o in legs]

    def forget_old(self) -> None:
        """Keep an hour of placements (counted back from the newest)."""
        if self.recent:
            newest = max(r[0] for r in self.recent)
            self.recent = [r for r in self.recent if newest - r[0] <= PLACEMENTS_KEPT_NS]
            self.working = [w for w in self.working if w[0] >= newest]


def caps(rules: Mapping[str, FirmRules], owners: Mapping[str, str],
         capital: Mapping[str, tuple[Decimal, str]]) -> tuple[dict[str, str], dict[str, str]]:
    """The accounts past their firm's cap on accounts or capital per owner (account -> veto reason),
    and how much of the cap each account within it leaves its owner (account -> note). Accounts
    count in the order of their ids; only accounts of phases with a cap count toward it."""
    over: dict[str, str] = {}
    notes: dict[str, str] = {}
    counted: dict[tuple[str, str], int] = {}
    used: dict[tuple[str, str], Decimal] = {}
    for acc in sorted(rules):
        conduct, firm = rules[acc].conduct, firm_of(rules[acc])
        owner = owners.get(acc, acc)
        key = (firm, owner)
        if conduct.max_accounts_per_owner:
            counted[key] = counted.get(key, 0) + 1
            if counted[key] > conduct.max_accounts_per_owner:
                over[acc] = (f"max_accounts_per_owner: {owner} holds {counted[key]} accounts at {firm} under this "
                             f"cap, which allows {conduct.max_accounts_per_owner}")
                continue
            notes[acc] = f"max_accounts_per_owner: account {counted[key]} of {conduct.max_accounts_per_owner} " \
                         f"for {owner} at {firm}"
        if conduct.max_capital_per_owner:
            balance, currency = capital.get(acc, (Decimal(0), ""))
            cap = conduct.capital_cap(currency)
            if cap is None:
                stated = ", ".join(f"{a} {c}" for c, a in conduct.max_capital_per_owner)
                over[acc] = (f"max_capital_per_owner: {firm} states its cap per owner as {stated}; an account in "
                             f"{currency or 'an unknown currency'} cannot be counted against it")
                continue
            share = used.get(key, Decimal(0)) + balance / cap
            if share > 1:
                over[acc] = (f"max_capital_per_owner: with {acc}'s {balance} {currency}, {owner}'s accounts at "
                             f"{firm} under this cap would use {share:.0%} of the allowance ({cap} {currency})")
                continue
            used[key] = share
            notes[acc] = f"max_capital_per_owner: {owner} uses {share:.0%} of {firm}'s allowance"
    return over, notes
