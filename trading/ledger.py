"""An account's ledger: balance, open positions and closed trades, all in exact Decimals.

The ledger is built from the venue's fills; it never decides anything. Compliance and risk read
its snapshots, which carry for each open position the loss that its stop would book.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from trading.errors import DomainError
from trading.fx import ConversionRates
from trading.history import AppendLog
from trading.instruments import Instrument
from trading.money import book
from trading.orders import CloseReason, ExecutionReport, Fill, FillKind, Position, Side
from trading.pickling import compact


@compact
@dataclass(frozen=True, slots=True)
class PositionView:
    """An open position as seen at one moment, with its money figures in account currency."""

    position_id: str
    symbol: str
    side: Side
    lots: Decimal
    entry: Decimal
    stop_loss: Decimal
    take_profit: Decimal | None
    price: Decimal
    floating_pnl: Decimal
    pnl_at_stop: Decimal
    opened_ns: int
    closing: bool = False  # a close at the next quote is on its way: its loss still counts, not its room


@compact
@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Balance, equity and open positions of one account at ``ts_ns``."""

    account_id: str
    currency: str
    ts_ns: int
    initial_balance: Decimal
    balance: Decimal
    equity: Decimal
    positions: tuple[PositionView, ...]
    closed_trades: int
    realized_today: Decimal = Decimal(0)
    # The lowest and highest equity since the previous snapshot, marked on every quote in between,
    # and the highest balance its fills reached (a take-profit then a stop); None when nothing was marked.
    min_equity: Decimal | None = None
    max_equity: Decimal | None = None
    max_balance: Decimal | None = None
    deepest_drop: Decimal | None = None  # the largest fall of equity from a running high in between (<= 0)

    @property
    def floating_pnl(self) -> Decimal:
        return self.equity - self.balance

    @property
    def pnl_if_all_stops_hit(self) -> Decimal:
        """Booked P&L of the open positions if every stop is hit (normally negative)."""
        return sum((p.pnl_at_stop for p in self.positions), Decimal(0))

    def open_lots(self, symbol: str | None = None) -> Decimal:
        """Lots held (of one instrument), leaving out positions on their way out (``closing``)."""
        return sum((p.lots for p in self.staying() if symbol is None or p.symbol == symbol), Decimal(0))

    def staying(self) -> tuple[PositionView, ...]:
        """The open positions no close is on its way to: what the size and conduct rules count."""
        return tuple(p for p in self.positions if not p.closing)


@compact
@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A position from open to close, with its booked result."""

    position_id: str
    account_id: str
    symbol: str
    side: Side
    lots: Decimal
    entry: Decimal
    exit: Decimal
    opened_ns: int
    closed_ns: int
    pnl: Decimal
    commission: Decimal
    reason: CloseReason
    signal_id: str
    initial_risk: Decimal

    @property
    def r_multiple(self) -> float:
        return float(self.pnl / self.initial_risk) if self.initial_risk > 0 else 0.0


@overload
def pnl_in_account_ccy(inst: Instrument, side: Side, lots: Decimal, entry: Decimal, exit_price: Decimal,
                       currency: str, rates: ConversionRates) -> Decimal: ...


@overload
def pnl_in_account_ccy(inst: Instrument, side: Side, lots: Decimal, entry: Decimal,
                       exit_price: npt.NDArray[np.float64], currency: str,
                       rates: ConversionRates) -> npt.NDArray[np.float64]: ...


def pnl_in_account_ccy(inst: Instrument, side: Side, lots: Decimal, entry: Decimal, exit_price: Any, currency: str,
                       rates: ConversionRates) -> Any:
    """P&L of ``lots`` from ``entry`` to ``exit_price``, in ``currency``: the one definition.

    Exact for a Decimal ``exit_price``. For an array of exit prices (floats: the marks of a batch)
    the same figure per element in floats, an approximation used to find where to compute exactly;
    where the base is the account currency, a zero exit price (no quote yet) is not divided by.

    When the account currency is the instrument's base (USD on USDJPY), the conversion rate is
    the exit price itself, which makes the figure exact at any hypothetical exit (a stop). Raises
    ``DomainError`` when no quote converts the instrument's quote currency to ``currency``.
    """
    marks = isinstance(exit_price, np.ndarray)
    # the same arithmetic in Decimals or, over marks, in floats
    lots_, entry_ = (float(lots), float(entry)) if marks else (lots, entry)
    pnl_quote = lots_ * inst.contract_size * (exit_price - entry_) * int(side)
    if inst.quote == currency:
        return pnl_quote
    if inst.base == currency:
        return pnl_quote / (np.where(exit_price > 0, exit_price, 1.0) if marks else exit_price)
    rate = rates.rate(inst.quote, currency)
    return pnl_quote * (float(rate) if marks else rate)


@dataclass
class AccountLedger:
    """Books fills for one account. ``commission_per_lot`` is charged per side, in account currency."""

    account_id: str
    currency: str
    initial_balance: Decimal
    instruments: Mapping[str, Instrument]
    commission_per_lot: Decimal = Decimal(0)
    balance: Decimal = field(init=False)
    positions: dict[str, Position] = field(default_factory=dict)
    closed: AppendLog[ClosedTrade] = field(default_factory=AppendLog)
    _risk: dict[str, Decimal] = field(default_factory=dict)
    _open_commission: dict[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.balance = self.initial_balance

    def apply(self, fill: Fill, rates: ConversionRates, stop_loss: Decimal | None = None,
              take_profit: Decimal | None = None, signal_id: str = "") -> Fill:
        """Book a fill; returns it with commission and realized P&L filled in."""
        commission = book(self.commission_per_lot * fill.lots)
        inst = self.instruments[fill.symbol]
        if fill.kind is FillKind.OPEN:
            if fill.client_order_id in self.positions:
                return self._add(fill, commission, rates)
            if stop_loss is None:
                raise DomainError(f"position {fill.client_order_id} has no stop loss")
            self.positions[fill.client_order_id] = Position(
                fill.client_order_id, self.account_id, fill.symbol, fill.side, fill.lots, fill.price,
                stop_loss, take_profit, fill.ts_ns, signal_id,
            )
            risk = -pnl_in_account_ccy(inst, fill.side, fill.lots, fill.price, stop_loss, self.currency, rates)
            self._risk[fill.client_order_id] = book(max(risk, Decimal(0)))
            self._open_commission[fill.client_order_id] = commission
            self.balance -= commission
            return replace(fill, commission=commission)
        pos = self.positions.pop(fill.client_order_id, None)
        if pos is None:
            raise DomainError(f"close of unknown position {fill.client_order_id}")
        pnl = book(pnl_in_account_ccy(inst, pos.side, pos.lots, pos.entry, fill.price, self.currency, rates))
        self.balance += pnl - commission
        total_commission = commission + self._open_commission.pop(pos.position_id, Decimal(0))
        self.closed.append(ClosedTrade(
            pos.position_id, self.account_id, pos.symbol, pos.side, pos.lots, pos.entry, fill.price,
            pos.opened_ns, fill.ts_ns, pnl - total_commission, total_commission, fill.reason,
            pos.signal_id, self._risk.pop(pos.position_id, Decimal(0)),
        ))
        return replace(fill, commission=commission, realized_pnl=pnl)

    def adopt(self, position: Position, rates: ConversionRates) -> None:
        """Take into the books a position the venue holds and the desk did not know of (a
        reconciliation's policy): its risk to its stop is measured like any position's."""
        if position.position_id in self.positions:
            raise DomainError(f"position {position.position_id} is already in the books")
        inst = self.instruments[position.symbol]
        self.positions[position.position_id] = position
        risk = -pnl_in_account_ccy(inst, position.side, position.lots, position.entry, position.stop_loss,
                                   self.currency, rates)
        self._risk[position.position_id] = book(max(risk, Decimal(0)))
        self._open_commission[position.position_id] = Decimal(0)

    def forget(self, position_id: str) -> Position | None:
        """Drop a position the venue no longer holds (a reconciliation: the venue's books win)."""
        self._risk.pop(position_id, None)
        self._open_commission.pop(position_id, None)
        return self.positions.pop(position_id, None)

    def _add(self, fill: Fill, commission: Decimal, rates: ConversionRates) -> Fill:
        """A further part-fill of the order that opened a position: the position grows, its
        entry becomes the quantity-weighted average and its risk is measured again."""
        pos = self.positions[fill.client_order_id]
        if pos.side is not fill.side:
            raise DomainError(f"position {fill.client_order_id}: a part-fill on the other side")
        inst = self.instruments[fill.symbol]
        lots = pos.lots + fill.lots
        pos.entry = (pos.entry * pos.lots + fill.price * fill.lots) / lots
        pos.lots = lots
        risk = -pnl_in_account_ccy(inst, pos.side, lots, pos.entry, pos.stop_loss, self.currency, rates)
        self._risk[pos.position_id] = book(max(risk, Decimal(0)))
        self._open_commission[pos.position_id] += commission
        self.balance -= commission
        return replace(fill, commission=commission)

    def snapshot(self, ts_ns: int, prices: Mapping[str, tuple[Decimal, Decimal]],
                 rates: ConversionRates) -> AccountSnapshot:
        """Mark open positions at the closing side of the latest (bid, ask) of each symbol."""
        views = []
        floating = Decimal(0)
        for pos in self.positions.values():
            inst = self.instruments[pos.symbol]
            bid, ask = prices.get(pos.symbol, (pos.entry, pos.entry))
            price = bid if pos.side is Side.BUY else ask
            pnl = book(pnl_in_account_ccy(inst, pos.side, pos.lots, pos.entry, price, self.currency, rates))
            at_stop = book(pnl_in_account_ccy(inst, pos.side, pos.lots, pos.entry, pos.stop_loss,
                                              self.currency, rates))
            floating += pnl
            views.append(PositionView(pos.position_id, pos.symbol, pos.side, pos.lots, pos.entry,
                                      pos.stop_loss, pos.take_profit, price, pnl, at_stop, pos.opened_ns))
        return AccountSnapshot(self.account_id, self.currency, ts_ns, self.initial_balance,
                               self.balance, self.balance + floating, tuple(views), len(self.closed))



def done_orders(reports: Iterable[ExecutionReport], snapshots: Mapping[str, AccountSnapshot]) -> set[str]:
    """The orders among ``reports`` that no further report concerns: a final status, and no open
    position under their id (a position's id is the order that opened it, and its closing fills are
    reported under it). The execution agent forgets an order by the same rule."""
    open_ids = {p.position_id for snap in snapshots.values() for p in snap.positions}
    return {r.client_order_id for r in reports if r.status.final and r.client_order_id not in open_ids}
