"""ExecutionAgent: holds the ExecutionClient and the accounts' ledgers built from its fills."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from trading.equity import equity_range
from trading.errors import DomainError
from trading.fx import ConversionRates, rates_from
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountLedger, AccountSnapshot, ClosedTrade
from trading.market import TickBatch
from trading.orders import ExecutionReport, Order, OrderStatus, OrderType, Position, Side
from trading.pickling import compact
from trading.venue import ExecutionClient, VenuePosition

if TYPE_CHECKING:  # the compliance agent's module imports this one
    from actors.compliance import Complied


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
    reconciled: tuple[str, ...] = ()  # differences resolved by the reconcile policy, each naming both sides
    closing: tuple[tuple[str, str, str], ...] = ()  # (account, position or order id, what was done) by close_opposite


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
        self.closing_ids: set[str] = set()  # positions sent to close at the next quote, until they close

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
            if r.status.final and not refused_resubmit and (ledger_of is None
                                                                 or r.client_order_id not in ledger_of.positions):
                self.orders.pop(r.client_order_id, None)  # no fill can follow: keep only live orders
        snaps = {a: ledger.snapshot(self.now, self.prices, rates) for a, ledger in self.ledgers.items()}
        closing: set[str] = getattr(self, "closing_ids", set())  # (state saved before the field existed: none)
        if closing:
            closing &= {pid for ledger in self.ledgers.values() for pid in ledger.positions}  # closed: done
            snaps = {a: replace(s, positions=tuple(replace(p, closing=True) if p.position_id in closing else p
                                                   for p in s.positions)) for a, s in snaps.items()}
        self.closing_ids = closing
        return ExecUpdate(tuple(booked), tuple(trades), snaps, dict(self.mids),
                          self.client.venue_halted, (*unknown, *discrepancies))

    def on_quotes(self, quotes: TickBatch, as_of: int = 0) -> ExecUpdate:
        """Push quotes; the snapshots are taken as of ``as_of`` (no later than the next quote)."""
        self.last_events = len(quotes)
        start = {a: (ledger.balance, dict(ledger.positions), ledger.currency) for a, ledger in self.ledgers.items()}
        before = dict(self.prices)
        reports = self.client.on_quotes(quotes) if len(quotes) else []
        for i, (_, bid_pts, ask_pts) in quotes.last_quotes().items():
            inst = self.registry.by_index(i)
            bid, ask = inst.price_from_points(bid_pts), inst.price_from_points(ask_pts)
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

    def close_opposite(self, symbol: str, side: Side, accounts: list[str], reason: str) -> ExecUpdate:
        """Close each open position of these accounts in ``symbol`` on the side other than ``side``
        at the next quote (a market close sent now: it fills where an entry sent now would), and
        cancel their orders that side not yet filled. A position younger than its firm's minimum
        hold is left to its stop and target: closing it sooner is what the rule forbids. The update's
        ``closing`` names each position so closed, or held, with what was done."""
        reports: list[ExecutionReport] = []
        closing = []
        self.closing_ids = getattr(self, "closing_ids", set())  # (state saved before the field existed: none)
        for acc in sorted(accounts):
            ledger = self.ledgers.get(acc)
            if ledger is None:
                continue
            for pid, pos in sorted(ledger.positions.items()):
                if pos.symbol != symbol or pos.side is side or pid in self.closing_ids:
                    continue
                hold = self.min_hold_ns.get(acc, 0)
                if hold and self.now - pos.opened_ns < hold:
                    closing.append((acc, pid, f"held: opened {(self.now - pos.opened_ns) / 1e9:,.0f} s ago, under the "
                                              f"firm's minimum hold of {hold / 1e9:,.0f} s"))
                    continue
                reports.extend(self.client.flatten(acc, self.now, reason, position_id=pid, at_next_quote=True))
                self.closing_ids.add(pid)
                closing.append((acc, pid, f"{pid} closes at the next quote"))
            for coid, order in sorted(self.orders.items()):  # placed, not yet filled: cancelled
                if order.account_id == acc and order.symbol == symbol and order.side is not side \
                        and coid not in ledger.positions:
                    reports.extend(self.client.flatten(acc, self.now, reason, position_id=coid, at_next_quote=True))
                    closing.append((acc, coid, f"{coid} (not filled) cancelled"))
        return replace(self._book(reports), closing=tuple(closing))

    def submit_approved(self, complied: Complied) -> ExecUpdate | None:
        """The saga's last step, handed the compliance step's output: ``submit`` the approved legs,
        account by account in the order of their ids. None approved: None at once, nothing sent."""
        legs = [o for acc in sorted(complied.approved) for o in complied.approved[acc]]
        return self.submit(legs) if legs else None

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
        return [f"{acc} {pid}: the desk holds {_held(ours)}, rust_exec {_held(theirs)}"
                for acc, pid, ours, theirs, _ in self._compare()]

    def _compare(self) -> list[tuple[str, str, tuple[str, int, int] | None, tuple[str, int, int] | None,
                                     VenuePosition | None]]:
        """Every position on which the books and the venue differ: (account, id, ours, theirs, the
        venue's position)."""
        venue: dict[str, list[VenuePosition]] = {}
        for p in self.client.positions():  # one ListPositions for every account; others' are not ours
            venue.setdefault(p.account_id, []).append(p)
        out = []
        for acc, ledger in sorted(self.ledgers.items()):
            ours = {p.position_id: (p.symbol, int(p.side), int(p.lots * self.registry[p.symbol].contract_size))
                    for p in ledger.positions.values()}
            held = {p.position_id: p for p in venue.get(acc, [])}
            theirs = {pid: (p.symbol, 1 if p.side == 1 else -1, int(p.quantity)) for pid, p in held.items()}
            for pid in sorted(ours.keys() | theirs.keys()):
                if ours.get(pid) != theirs.get(pid):
                    out.append((acc, pid, ours.get(pid), theirs.get(pid), held.get(pid)))
        return out

    def settle_differences(self, policy: str, reason: str = "reconciliation at start") -> ExecUpdate:
        """Reconcile, and resolve every difference by ``policy`` instead of raising an alarm:
        ``adopt`` takes the venue's position into the books as it stands (a position without a stop
        is flattened instead: the desk cannot bound its risk), ``flatten`` closes it at the venue. A
        position the books hold and the venue does not is dropped from the books either way (the
        venue's books are the truth of what is open). Each difference is one event naming both
        sides and what was done, in ``discrepancies`` of the update only if it could not be resolved."""
        if policy not in ("adopt", "flatten"):
            raise ValueError(f"reconcile policy is adopt or flatten, not {policy!r}")
        first = self.reconcile()  # books whatever the venue reported meanwhile (its alarms are the events below)
        events: list[str] = []
        reports: list[ExecutionReport] = []
        rates = rates_from(self.registry, self.mids)
        for acc, pid, ours, theirs, pos in self._compare():
            ledger = self.ledgers[acc]
            both = f"{acc} {pid}: the desk held {_held(ours)}, rust_exec {_held(theirs)}"
            if ours is not None:
                ledger.forget(pid)
                self.orders.pop(pid, None)
            if pos is None:
                events.append(f"{both}: dropped from the books (rust_exec holds nothing under {pid})")
                continue
            adopted = self._adopt(ledger, pid, pos, rates) if policy == "adopt" else False
            if adopted:
                events.append(f"{both}: adopted into the books as rust_exec holds it")
            else:
                closed = self.client.flatten(acc, self.now, f"{reason}: {policy}", position_id=pid)
                reports.extend(r for r in closed if r.client_order_id != pid)
                why = "" if policy == "flatten" else " (no stop on the loss side: its risk cannot be bounded)"
                events.append(f"{both}: flattened at rust_exec{why}")
        update = self._book(reports)
        left = self._differences()
        return replace(update, reports=(*first.reports, *update.reports), trades=(*first.trades, *update.trades),
                       discrepancies=tuple(left), reconciled=tuple(events))

    def _adopt(self, ledger: AccountLedger, pid: str, pos: VenuePosition, rates: ConversionRates) -> bool:
        """Book the venue's position as it stands; False when it has no stop on its loss side."""
        inst = self.registry[pos.symbol]
        side = Side.BUY if pos.side == 1 else Side.SELL
        entry, lots = inst.price_from_points(pos.entry_price), Decimal(pos.quantity) / inst.contract_size
        take = inst.price_from_points(pos.take_profit) if pos.take_profit else None
        try:
            # the order its closing fills are booked against (stop and target as the venue has them)
            order = Order(pid, ledger.account_id, pos.symbol, side, lots, OrderType.MARKET,
                          inst.price_from_points(pos.stop_loss), take, "", entry, 0, pos.opened_ns, pos.opened_ns + 1)
        except DomainError:
            return False
        if not pos.stop_loss:
            return False
        ledger.adopt(Position(pid, ledger.account_id, pos.symbol, side, lots, entry, order.stop_loss, take,
                              pos.opened_ns, ""), rates)
        self.orders[pid] = order
        return True

    def resume(self, account_id: str = "") -> bool:
        self.client.resume(account_id)
        return True


def _held(position: tuple[str, int, int] | None) -> str:
    if position is None:
        return "nothing"
    symbol, side, units = position
    return f"{'long' if side > 0 else 'short'} {units:,} {symbol}"
