"""A paper venue: fills at bid/ask of pushed quotes, triggers stops and take-profits on quotes.

A market order becomes active at ``not_before_ns`` and fills at the first quote from then on,
unless that price is worse than the reference by more than ``max_slippage_points`` (rejected,
like an MT5 deviation) or the order has expired. A stop or take-profit closes at the first
quote that crosses it, at that quote's price (a gap fills worse than the stop, as in a market).
When a stop and a take-profit would trigger on the same quote, the stop wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trading.instruments import InstrumentRegistry
from trading.market import TickBatch
from trading.orders import (
    CloseReason,
    ExecutionReport,
    Fill,
    FillKind,
    Order,
    OrderStatus,
    OrderType,
    Side,
)


@dataclass
class _OpenPosition:
    order: Order
    entry_points: int
    opened_ns: int


class PaperVenue:
    """In-process paper venue implementing ``ExecutionClient``."""

    def __init__(self, registry: InstrumentRegistry) -> None:
        self.registry = registry
        self.first_report: dict[str, ExecutionReport] = {}
        self.pending: dict[str, Order] = {}
        self.positions: dict[str, _OpenPosition] = {}
        self.last_quote: dict[str, tuple[int, int, int]] = {}
        self._halted = ""

    @property
    def halted(self) -> bool:
        return bool(self._halted)

    def halt(self, reason: str) -> None:
        self._halted = reason or "halted"

    def resume(self) -> None:
        self._halted = ""

    def submit(self, order: Order) -> ExecutionReport:
        if order.client_order_id in self.first_report:
            return self.first_report[order.client_order_id]
        if self._halted:
            report = ExecutionReport(order.client_order_id, order.account_id, OrderStatus.REJECTED,
                                     order.not_before_ns, f"venue halted: {self._halted}")
        elif order.symbol not in self.registry:
            report = ExecutionReport(order.client_order_id, order.account_id, OrderStatus.REJECTED,
                                     order.not_before_ns, f"unknown instrument {order.symbol}")
        else:
            report = ExecutionReport(order.client_order_id, order.account_id, OrderStatus.ACCEPTED,
                                     order.not_before_ns)
            self.pending[order.client_order_id] = order
        self.first_report[order.client_order_id] = report
        return report

    def cancel(self, client_order_id: str, ts_ns: int) -> ExecutionReport:
        order = self.pending.pop(client_order_id, None)
        if order is None:
            return ExecutionReport(client_order_id, "", OrderStatus.REJECTED, ts_ns, "not pending")
        return ExecutionReport(client_order_id, order.account_id, OrderStatus.CANCELLED, ts_ns, "cancelled")

    def on_quotes(self, quotes: TickBatch) -> list[ExecutionReport]:
        reports: list[ExecutionReport] = []
        if len(quotes) == 0:
            return reports
        active = {o.symbol for o in self.pending.values()} | {p.order.symbol for p in self.positions.values()}
        for symbol in sorted(active):
            idx = self.registry.index(symbol)
            mask = quotes.inst == idx
            if not mask.any():
                continue
            ts, bid, ask = quotes.ts[mask], quotes.bid[mask], quotes.ask[mask]
            opened_at: dict[str, int] = {}
            for order in sorted((o for o in self.pending.values() if o.symbol == symbol),
                                key=lambda o: (o.not_before_ns, o.client_order_id)):
                reports.extend(self._work(order, ts, bid, ask, opened_at))
            for cid, pos in sorted(self.positions.items(), key=lambda kv: (kv[1].opened_ns, kv[0])):
                if pos.order.symbol == symbol:
                    report = self._protect(cid, pos, ts, bid, ask, opened_at.get(cid, -1) + 1)
                    if report is not None:
                        reports.append(report)
        for i in np.unique(quotes.inst):
            last = np.flatnonzero(quotes.inst == i)[-1]
            self.last_quote[self.registry.by_index(int(i)).symbol] = (
                int(quotes.ts[last]), int(quotes.bid[last]), int(quotes.ask[last]))
        reports.sort(key=lambda r: (r.ts_ns, r.client_order_id))
        return reports

    def _work(self, order: Order, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray,
              opened_at: dict[str, int]) -> list[ExecutionReport]:
        inst = self.registry[order.symbol]
        start = int(np.searchsorted(ts, order.not_before_ns, "left"))
        stop = int(np.searchsorted(ts, order.expires_ns, "left"))
        price = ask if order.side is Side.BUY else bid
        candidates = np.arange(start, min(stop, len(ts)))
        if order.order_type is OrderType.LIMIT and order.limit_price is not None and len(candidates):
            limit = inst.points(order.limit_price)
            ok = price[candidates] <= limit if order.side is Side.BUY else price[candidates] >= limit
            candidates = candidates[ok]
        if len(candidates) == 0:
            if stop < len(ts) or (len(ts) and ts[-1] >= order.expires_ns):
                del self.pending[order.client_order_id]
                return [ExecutionReport(order.client_order_id, order.account_id, OrderStatus.EXPIRED,
                                        order.expires_ns, "no fill before expiry")]
            return []
        i = int(candidates[0])
        del self.pending[order.client_order_id]
        fill_points = int(price[i])
        slip = (fill_points - inst.points(order.reference_price)) * int(order.side)
        if slip > order.max_slippage_points:
            return [ExecutionReport(order.client_order_id, order.account_id, OrderStatus.REJECTED, int(ts[i]),
                                    f"price moved {slip} points against the reference, "
                                    f"more than {order.max_slippage_points}")]
        self.positions[order.client_order_id] = _OpenPosition(order, fill_points, int(ts[i]))
        opened_at[order.client_order_id] = i
        fill = Fill(order.client_order_id, order.account_id, order.symbol, order.side, order.lots,
                    inst.price_from_points(fill_points), int(ts[i]), FillKind.OPEN, CloseReason.ENTRY)
        return [ExecutionReport(order.client_order_id, order.account_id, OrderStatus.FILLED, int(ts[i]), "",
                                fill)]

    def _protect(self, cid: str, pos: _OpenPosition, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray,
                 start: int) -> ExecutionReport | None:
        order = pos.order
        inst = self.registry[order.symbol]
        exit_price = (bid if order.side is Side.BUY else ask)[start:]
        if len(exit_price) == 0:
            return None
        stop = inst.points(order.stop_loss)
        if order.side is Side.BUY:
            hit_stop = exit_price <= stop
            hit_tp = exit_price >= inst.points(order.take_profit) if order.take_profit else None
        else:
            hit_stop = exit_price >= stop
            hit_tp = exit_price <= inst.points(order.take_profit) if order.take_profit else None
        hits = hit_stop if hit_tp is None else (hit_stop | hit_tp)
        if not hits.any():
            return None
        j = int(np.argmax(hits))
        reason = CloseReason.STOP_LOSS if hit_stop[j] else CloseReason.TAKE_PROFIT
        return self._close(cid, int(exit_price[j]), int(ts[start + j]), reason)

    def _close(self, cid: str, points: int, ts_ns: int, reason: CloseReason) -> ExecutionReport:
        pos = self.positions.pop(cid)
        order = pos.order
        inst = self.registry[order.symbol]
        fill = Fill(cid, order.account_id, order.symbol, order.side.opposite, order.lots,
                    inst.price_from_points(points), ts_ns, FillKind.CLOSE, reason)
        return ExecutionReport(cid, order.account_id, OrderStatus.FILLED, ts_ns, reason.value, fill)

    def flatten(self, account_id: str | None, ts_ns: int, reason: str) -> list[ExecutionReport]:
        reports = []
        for cid, order in sorted(self.pending.items()):
            if account_id is None or order.account_id == account_id:
                reports.append(self.cancel(cid, ts_ns))
        for cid, pos in sorted(self.positions.items()):
            if account_id is not None and pos.order.account_id != account_id:
                continue
            quote = self.last_quote.get(pos.order.symbol)
            if quote is None:
                continue
            _, bid, ask = quote
            report = self._close(cid, bid if pos.order.side is Side.BUY else ask, ts_ns, CloseReason.FLATTEN)
            reports.append(report)
        return reports
