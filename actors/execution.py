"""ExecutionAgent: holds the ExecutionClient and the accounts' ledgers built from its fills."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np

from actors.common import rates_from
from trading.fx import ConversionRates
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountLedger, AccountSnapshot, ClosedTrade, pnl_in_account_ccy
from trading.market import TickBatch
from trading.money import book
from trading.orders import ExecutionReport, FillKind, Order, OrderStatus, Position, Side
from trading.pickling import compact
from trading.venue import ExecutionClient

# After one of these no further fill of the order can come, except the close of the position it opened.
_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED})


@dataclass(frozen=True, slots=True)
class AccountSpec:
    account_id: str
    currency: str
    balance: Decimal
    commission_per_lot: Decimal
    min_hold_seconds: int = 0


@compact
@dataclass(frozen=True, slots=True)
class ExecUpdate:
    reports: tuple[ExecutionReport, ...]
    trades: tuple[ClosedTrade, ...]
    snapshots: dict[str, AccountSnapshot]
    mids: dict[str, Decimal]
    venue_halted: bool = False
    discrepancies: tuple[str, ...] = ()  # where the books and the venue differ (an alarm, never ignored)
    submitted: tuple[Order, ...] = ()  # the orders as sent to rust_exec (with the firm's minimum hold)


class ExecutionAgent:
    def __init__(self, registry: InstrumentRegistry, connect: Callable[[], ExecutionClient],
                 accounts: list[AccountSpec]) -> None:
        """``connect`` makes the venue's client (picklable: Ray calls it again in a restarted actor
        that has no saved state yet)."""
        self.registry = registry
        self.client = connect()
        self.ledgers = {a.account_id: AccountLedger(a.account_id, a.currency, a.balance, registry,
                                                    a.commission_per_lot) for a in accounts}
        self.orders: dict[str, Order] = {}
        self.min_hold_ns = {a.account_id: a.min_hold_seconds * 1_000_000_000 for a in accounts}
        self.prices: dict[str, tuple[Decimal, Decimal]] = {}
        self.mids: dict[str, Decimal] = {}
        self.now = 0
        self.last_events = 0

    def _book(self, reports: list[ExecutionReport], discrepancies: tuple[str, ...] = (),
              live: frozenset[str] = frozenset()) -> ExecUpdate:
        """Book reports into the ledgers. ``live``: orders whose refusal here is that of a resubmit
        under their id (rust_exec's ALREADY_EXISTS), not of the order itself, which stays."""
        rates = rates_from(self.registry, self.mids)
        booked, trades = [], []
        unknown = []
        for r in reports:
            if r.fill is not None and r.client_order_id not in self.orders and r.account_id in self.ledgers:
                unknown.append(f"a fill of {r.client_order_id} on {r.account_id}, an order the desk never placed")
            if r.fill is not None and r.client_order_id in self.orders:
                ledger = self.ledgers[r.account_id]
                order = self.orders[r.client_order_id]
                before = len(ledger.closed)
                fill = ledger.apply(r.fill, rates, order.stop_loss, order.take_profit, order.signal_id)
                trades.extend(ledger.closed[before:])
                r = ExecutionReport(r.client_order_id, r.account_id, r.status, r.ts_ns, r.reason, fill)
            booked.append(r)
            ledger_of = self.ledgers.get(r.account_id)
            refused_resubmit = r.status is OrderStatus.REJECTED and r.client_order_id in live
            if r.status in _FINAL and not refused_resubmit and (ledger_of is None
                                                                 or r.client_order_id not in ledger_of.positions):
                self.orders.pop(r.client_order_id, None)  # no fill can follow: keep only live orders
        snaps = {a: ledger.snapshot(self.now, self.prices, rates) for a, ledger in self.ledgers.items()}
        return ExecUpdate(tuple(booked), tuple(trades), snaps, dict(self.mids),
                          bool(getattr(self.client, "venue_halted", False)), (*unknown, *discrepancies))

    def on_quotes(self, quotes: TickBatch, as_of: int = 0) -> ExecUpdate:
        """Push quotes; the snapshots are taken as of ``as_of`` (no later than the next quote)."""
        self.last_events = len(quotes)
        start = {a: (ledger.balance, dict(ledger.positions), ledger.currency) for a, ledger in self.ledgers.items()}
        before = dict(self.prices)
        reports = self.client.on_quotes(quotes) if len(quotes) else []
        for i in np.unique(quotes.inst):
            last = int(np.flatnonzero(quotes.inst == i)[-1])
            inst = self.registry.by_index(int(i))
            bid, ask = inst.price_from_points(int(quotes.bid[last])), inst.price_from_points(int(quotes.ask[last]))
            self.prices[inst.symbol] = (bid, ask)
            self.mids[inst.symbol] = (bid + ask) / 2
        self.now = max(self.now, as_of, int(quotes.ts[-1]) if len(quotes) else 0)
        update = self._book(reports)
        if not len(quotes):
            return update
        ranges = equity_range(quotes, self.registry, start, before, update.reports, rates_from(self.registry, self.mids))
        snaps = {a: replace(s, min_equity=min(r.low, s.equity), max_equity=max(r.high, s.equity),
                            max_balance=max(r.high_balance, s.balance), deepest_drop=r.deepest_drop)
                 if (r := ranges.get(a)) else s
                 for a, s in update.snapshots.items()}
        return replace(update, snapshots=snaps)

    def submit(self, orders: list[Order]) -> ExecUpdate:
        self.last_events = len(orders)
        reports = []
        live = set()
        sent = []
        for order in orders:
            if self.min_hold_ns.get(order.account_id):
                order = replace(order, min_hold_ns=self.min_hold_ns[order.account_id])
            sent.append(order)
            if order.client_order_id in self.orders:  # placed and not done: a refusal now is the resubmit's
                live.add(order.client_order_id)
            self.orders.setdefault(order.client_order_id, order)
            reports.extend(self.client.submit_all(order))
        return replace(self._book(reports, live=frozenset(live)), submitted=tuple(sent))

    def flatten(self, account_id: str | None, reason: str) -> ExecUpdate:
        return self._book(self.client.flatten(account_id, self.now, reason))

    def halt(self, reason: str, account_id: str = "", flatten: bool = False) -> ExecUpdate:
        """The kill switch: rust_exec refuses new orders (of one account, or all); with ``flatten``
        it also cancels working orders and closes positions, booked here like any fill."""
        return self._book(self.client.halt(reason, account_id=account_id, cancel_working=flatten,
                                           flatten=flatten, ts_ns=self.now))

    def reconcile(self) -> ExecUpdate:
        """Compare the desk's open positions with rust_exec's (``ListPositions``), after booking
        whatever the venue reported since the last call. A difference that is still there after a
        second look is a discrepancy: the breaker's system tier halts and flattens on it."""
        reports: list[ExecutionReport] = []
        trades: list[ClosedTrade] = []
        alarms: list[str] = []
        for _ in range(2):  # a change by another client between the two reads is not a difference
            update = self._book(self.client.missed_reports())
            reports += update.reports
            trades += update.trades
            alarms += update.discrepancies
            differences = self._differences()
            if not differences:
                break
        return replace(update, reports=tuple(reports), trades=tuple(trades), discrepancies=(*alarms, *differences))

    def _differences(self) -> list[str]:
        venue: dict[str, list[Any]] = {}
        for p in self.client.positions():  # one ListPositions for every account; others' are not ours
            venue.setdefault(p.account_id, []).append(p)
        out = []
        for acc, ledger in sorted(self.ledgers.items()):
            ours = {p.position_id: (p.symbol, int(p.side), int(p.lots * self.registry[p.symbol].contract_size))
                    for p in ledger.positions.values()}
            theirs = {p.position_id: (p.symbol, 1 if p.side == 1 else -1, int(p.quantity))
                      for p in venue.get(acc, [])}
            for pid in sorted(ours.keys() | theirs.keys()):
                if ours.get(pid) != theirs.get(pid):
                    out.append(f"{acc} {pid}: the desk holds {_held(ours.get(pid))}, rust_exec {_held(theirs.get(pid))}")
        return out

    def resume(self, account_id: str = "") -> bool:
        self.client.resume(account_id)
        return True


def _held(position: tuple[str, int, int] | None) -> str:
    if position is None:
        return "nothing"
    symbol, side, units = position
    return f"{'long' if side > 0 else 'short'} {units:,} {symbol}"


@dataclass(frozen=True, slots=True)
class EquityRange:
    """An account's lowest and highest equity on the quotes of a batch, and its highest balance."""

    low: Decimal
    high: Decimal
    high_balance: Decimal
    deepest_drop: Decimal  # the largest fall from a running high within the batch (<= 0)


def equity_range(quotes: TickBatch, registry: InstrumentRegistry,
                 start: dict[str, tuple[Decimal, dict[str, Position], str]],
                 prices_before: dict[str, tuple[Decimal, Decimal]], reports: tuple[ExecutionReport, ...],
                 rates: ConversionRates) -> dict[str, EquityRange]:
    """Each account's lowest and highest equity on any quote of the batch (balance, the P&L booked
    by the batch's fills at their times, and every position marked at the closing side of the
    latest quote of its symbol), and the highest balance its fills reached in turn. Also the
    deepest fall of equity from its running high, for floors that trail the equity within the batch.

    The figures are the ledger's own: a vectorised pass over the batch's rows (floats) finds the
    rows where the extremes can lie, and equity is computed there exactly as the ledger books it
    (``pnl_in_account_ccy``, each position rounded to the cent). Accounts without positions are left
    out; a position whose P&L cannot be converted to the account's currency raises, as the ledger
    does, rather than being left out of the floor."""
    n = len(quotes)
    rows = np.arange(n)
    ts = quotes.ts
    marks: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def mark(symbol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the symbol's bid and ask (floats) and the row of its latest quote (-1: before)."""
        if symbol not in marks:
            inst = registry[symbol]
            scale = 10.0 ** inst.price_precision
            at = np.where(quotes.inst == registry.index(symbol), rows, -1)
            last = np.maximum.accumulate(at)
            bid0, ask0 = prices_before.get(symbol, (Decimal(0), Decimal(0)))
            bid = np.where(last >= 0, quotes.bid[np.maximum(last, 0)] / scale, float(bid0))
            ask = np.where(last >= 0, quotes.ask[np.maximum(last, 0)] / scale, float(ask0))
            marks[symbol] = (bid, ask, last)
        return marks[symbol]

    def price_at(symbol: str, side: Side, row: int) -> Decimal:
        """The closing side of the symbol's latest quote at ``row``, exactly."""
        inst = registry[symbol]
        last = int(mark(symbol)[2][row])
        if last < 0:
            bid0, ask0 = prices_before.get(symbol, (Decimal(0), Decimal(0)))
            return bid0 if side is Side.BUY else ask0
        return inst.price_from_points(int((quotes.bid if side is Side.BUY else quotes.ask)[last]))

    fills: dict[str, list[ExecutionReport]] = {}
    for r in sorted(reports, key=lambda r: r.fill.ts_ns if r.fill is not None else 0):  # in the order they filled
        if r.fill is not None:
            fills.setdefault(r.account_id, []).append(r)
    out: dict[str, EquityRange] = {}
    for acc, (balance, positions, ccy) in start.items():
        mine = fills.get(acc, [])
        pieces = [(p.position_id, p.symbol, p.side, p.lots, p.entry, 0) for p in positions.values()]
        closes: dict[str, int] = {}
        booked: list[tuple[int, Decimal]] = []  # (row, amount): the balance moves at these rows
        equity = np.full(n, float(balance))
        running, high_balance = balance, balance
        for r in mine:
            f = r.fill
            assert f is not None
            row = int(np.searchsorted(ts, f.ts_ns, "left"))
            equity[row:] += float(f.realized_pnl - f.commission)
            booked.append((row, f.realized_pnl - f.commission))
            running += f.realized_pnl - f.commission
            high_balance = max(high_balance, running)
            if f.kind is FillKind.OPEN:
                pieces.append((f.client_order_id, f.symbol, f.side, f.lots, f.price, row))
            else:
                closes[f.client_order_id] = row
        if not pieces:
            continue
        for pid, symbol, side, lots, entry, first in pieces:
            inst = registry[symbol]
            bid, ask, _ = mark(symbol)
            exit_price = bid if side is Side.BUY else ask
            pnl = float(lots) * inst.contract_size * (exit_price - float(entry)) * int(side)
            if inst.quote != ccy and inst.base == ccy:
                pnl = pnl / np.where(exit_price > 0, exit_price, 1.0)
            elif inst.quote != ccy:
                pnl = pnl * float(rates.rate(inst.quote, ccy))  # raises, as the ledger would, if it cannot
            alive = (rows >= first) & (rows < closes.get(pid, n))
            equity += np.where(alive, pnl, 0.0)

        def exact(row: int, balance: Decimal = balance, booked: list[tuple[int, Decimal]] = booked,
                  pieces: list[Any] = pieces, closes: dict[str, int] = closes, ccy: str = ccy) -> Decimal:
            """Equity at ``row`` as the ledger books it."""
            value = balance + sum((amount for at, amount in booked if at <= row), Decimal(0))
            for pid, symbol, side, lots, entry, first in pieces:
                if first <= row < closes.get(pid, n):
                    value += book(pnl_in_account_ccy(registry[symbol], side, lots, entry,
                                                     price_at(symbol, side, row), ccy, rates))
            return value

        # float error and the ledger's per-position rounding move a row by well under a cent each
        low, high, drop = _extremes(equity, exact, 0.01 * (len(pieces) + len(booked) + 1))
        out[acc] = EquityRange(book(low), book(high), high_balance, book(drop))
    return out


CANDIDATES = 32  # rows recomputed exactly per extreme: those within the float pass's error of it


def _extremes(equity: np.ndarray, exact: Callable[[int], Decimal], tol: float) -> tuple[Decimal, Decimal, Decimal]:
    """The lowest and highest equity and the deepest fall from a running high, exactly: ``exact``
    is evaluated (once per row) at the rows that the float ``equity`` puts within ``tol`` of each."""
    cache: dict[int, Decimal] = {}

    def at(row: int) -> Decimal:
        if row not in cache:
            cache[row] = exact(row)
        return cache[row]

    def near(values: np.ndarray, target: float, below: bool) -> list[int]:
        hits = np.flatnonzero(values <= target + tol) if below else np.flatnonzero(values >= target - tol)
        order = np.argsort(values[hits] if below else -values[hits], kind="stable")[:CANDIDATES]
        return [int(i) for i in hits[order]]

    low = min(at(r) for r in near(equity, float(equity.min()), True))
    high = max(at(r) for r in near(equity, float(equity.max()), False))
    runmax = np.maximum.accumulate(equity)
    falls = equity - runmax
    drop = Decimal(0)
    for r in near(falls, float(falls.min()), True):
        top = max(at(s) for s in near(equity[: r + 1], float(runmax[r]), False))
        drop = min(drop, at(r) - top)
    return low, high, drop
