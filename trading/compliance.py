"""Compliance math: may this order exist under the account's firm rules, in the worst case?

The worst case is the equity left if every open stop and the new order's stop are hit, each
with the slippage allowance, after commissions. An order is allowed only if that equity keeps
the day's loss and the overall loss inside their limits less a safety buffer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from trading.fx import ConversionRates
from trading.instruments import Instrument
from trading.ledger import AccountSnapshot, pnl_in_account_ccy
from trading.money import book
from trading.orders import Order
from trading.rules import DailyLossBasis, FirmRules, MaxLossKind


@dataclass(frozen=True, slots=True)
class Headroom:
    """How far an account is from its limits, in account currency (positive = inside)."""

    account_id: str
    ts_ns: int
    daily_loss_limit: Decimal
    daily_headroom: Decimal
    max_loss_floor: Decimal
    max_loss_headroom: Decimal
    worst_case_daily_headroom: Decimal
    worst_case_max_loss_headroom: Decimal

    @property
    def daily_fraction(self) -> float:
        """Remaining share of the daily limit, 1.0 = untouched, 0 = at the limit."""
        return float(self.daily_headroom / self.daily_loss_limit) if self.daily_loss_limit else 1.0


@dataclass(frozen=True, slots=True)
class ComplianceDecision:
    """Allow or veto, with the rule that decided and the headroom left after the order."""

    allowed: bool
    rule: str
    reason: str
    worst_case_daily_headroom: Decimal
    worst_case_max_loss_headroom: Decimal


@dataclass
class RuleState:
    """What an account's rules remember: the day's reference, the equity peak, breaches seen."""

    trading_day: date | None = None
    day_reference: Decimal = Decimal(0)
    peak_equity: Decimal = Decimal(0)
    min_daily_headroom: Decimal | None = None
    min_max_loss_headroom: Decimal | None = None
    breaches: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CostAllowance:
    """What the worst case adds to every stop: slippage in pips and commission per lot per side."""

    slippage_pips: Decimal = Decimal(1)
    commission_per_lot: Decimal = Decimal(0)
    safety_buffer_pct: Decimal = Decimal(10)


class AccountRules:
    """The firm rules of one account, with their state, evaluated on snapshots."""

    def __init__(self, rules: FirmRules, costs: CostAllowance, instruments: Mapping[str, Instrument]) -> None:
        self.rules = rules
        self.costs = costs
        self.instruments = instruments
        self.state = RuleState()

    def _floor(self, snap: AccountSnapshot) -> Decimal:
        limit = self.rules.max_loss_limit(snap.initial_balance)
        if self.rules.max_loss_kind is MaxLossKind.STATIC:
            return snap.initial_balance - limit
        # Trailing: follows the equity peak and locks at the initial balance.
        return min(self.state.peak_equity - limit, snap.initial_balance)

    def _buffer(self, limit: Decimal) -> Decimal:
        return limit * self.costs.safety_buffer_pct / 100

    def _roll(self, snap: AccountSnapshot) -> None:
        """Take the day's reference at the first snapshot of a firm day; follow the equity peak."""
        day = self.rules.trading_day(snap.ts_ns)
        if self.state.trading_day != day:
            self.state.trading_day = day
            if self.rules.daily_loss_basis is DailyLossBasis.BALANCE:
                self.state.day_reference = snap.balance
            else:
                self.state.day_reference = max(snap.balance, snap.equity)
        if snap.equity > self.state.peak_equity:
            self.state.peak_equity = snap.equity

    def _headroom(self, snap: AccountSnapshot, rates: ConversionRates) -> Headroom:
        self._roll(snap)
        limit = self.rules.daily_loss_limit(snap.initial_balance)
        floor = self._floor(snap)
        worst = snap.balance + self._pnl_if_stops_hit(snap, rates)
        return Headroom(
            snap.account_id, snap.ts_ns, limit, book(limit - (self.state.day_reference - snap.equity)), floor,
            book(snap.equity - floor), book(limit - (self.state.day_reference - worst)), book(worst - floor),
        )

    def observe(self, snap: AccountSnapshot, rates: ConversionRates) -> Headroom:
        """Post-trade monitor: roll the day at the reset, measure the headroom, record the
        minimum reached and any breach."""
        head = self._headroom(snap, rates)
        if head.daily_headroom < 0:
            self.state.breaches.append(f"daily_loss at {snap.ts_ns}: headroom {head.daily_headroom}")
        if head.max_loss_headroom < 0:
            self.state.breaches.append(f"max_loss at {snap.ts_ns}: headroom {head.max_loss_headroom}")
        if self.state.min_daily_headroom is None or head.daily_headroom < self.state.min_daily_headroom:
            self.state.min_daily_headroom = head.daily_headroom
        if self.state.min_max_loss_headroom is None or head.max_loss_headroom < self.state.min_max_loss_headroom:
            self.state.min_max_loss_headroom = head.max_loss_headroom
        return head

    def _slipped_stop(self, symbol: str, stop: Decimal, side: int) -> Decimal:
        inst = self.instruments[symbol]
        return stop - side * self.costs.slippage_pips * inst.pip_size

    def _pnl_if_stops_hit(self, snap: AccountSnapshot, rates: ConversionRates) -> Decimal:
        """Every open position stopped out with slippage (or at its current loss, if worse), less the
        closing commission."""
        total = Decimal(0)
        for pos in snap.positions:
            inst = self.instruments[pos.symbol]
            stop = self._slipped_stop(pos.symbol, pos.stop_loss, int(pos.side))
            at_stop = pnl_in_account_ccy(inst, pos.side, pos.lots, pos.entry, stop, snap.currency, rates)
            # A position that gapped past its stop and has not filled yet is already losing more.
            total += min(at_stop, pos.floating_pnl)
            total -= self.costs.commission_per_lot * pos.lots
        return total

    def check(self, orders: Sequence[Order], snap: AccountSnapshot, rates: ConversionRates) -> ComplianceDecision:
        """Pre-trade: allow the orders only if the worst case stays inside every hard rule."""
        head = self._headroom(snap, rates)  # the monitor records; the check only reads
        rules = self.rules
        lots = sum((o.lots for o in orders), Decimal(0))
        if rules.max_lots_per_order and any(o.lots > rules.max_lots_per_order for o in orders):
            return self._veto("max_lots_per_order", f"{lots} lots above {rules.max_lots_per_order}", head)
        if rules.max_open_positions and len(snap.positions) + len(orders) > rules.max_open_positions:
            return self._veto("max_open_positions",
                              f"{len(snap.positions)} open + {len(orders)} new > {rules.max_open_positions}", head)
        worst_equity = snap.balance + self._pnl_if_stops_hit(snap, rates)
        for order in orders:
            inst = self.instruments[order.symbol]
            entry = order.reference_price + int(order.side) * order.max_slippage_points * inst.point
            stop = self._slipped_stop(order.symbol, order.stop_loss, int(order.side))
            worst_equity += pnl_in_account_ccy(inst, order.side, order.lots, entry, stop, snap.currency, rates)
            worst_equity -= 2 * self.costs.commission_per_lot * order.lots
        limit = rules.daily_loss_limit(snap.initial_balance)
        daily_after = limit - (self.state.day_reference - worst_equity)
        max_after = worst_equity - self._floor(snap)
        if daily_after < self._buffer(limit):
            return self._veto("daily_loss", f"worst case leaves {book(daily_after)} of daily headroom "
                              f"(buffer {book(self._buffer(limit))})", head, daily_after, max_after)
        max_limit = rules.max_loss_limit(snap.initial_balance)
        if max_after < self._buffer(max_limit):
            return self._veto("max_loss", f"worst case leaves {book(max_after)} above the loss floor "
                              f"(buffer {book(self._buffer(max_limit))})", head, daily_after, max_after)
        return ComplianceDecision(True, "", "within all rules", book(daily_after), book(max_after))

    @staticmethod
    def _veto(rule: str, reason: str, head: Headroom, daily: Decimal | None = None,
              max_loss: Decimal | None = None) -> ComplianceDecision:
        return ComplianceDecision(
            False, rule, reason,
            book(daily) if daily is not None else head.worst_case_daily_headroom,
            book(max_loss) if max_loss is not None else head.worst_case_max_loss_headroom,
        )
