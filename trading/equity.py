"""The intraday equity monitor: an account's lowest and highest equity on every quote of a batch.

Firm rules judge equity on every quote (a floor touched between two snapshots is a breach), so
the execution agent marks each account on each quote of the batch it pushed, with the fills the
batch caused booked at their times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from trading.fx import ConversionRates
from trading.instruments import InstrumentRegistry
from trading.ledger import pnl_in_account_ccy
from trading.market import TickBatch
from trading.money import book
from trading.orders import ExecutionReport, FillKind, Position, Side


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
            pnl = pnl_in_account_ccy(inst, side, lots, entry, exit_price, ccy, rates)  # raises if it cannot convert
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
SHORT = 256  # rows of a batch short enough to rank a running high's candidates once (see _extremes)


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
    # a short batch (a backtest walks its quotes between orders): each running high's candidates are
    # ranked once over the batch and cut at r, not searched again for every r
    tops: dict[float, list[int]] | None = {} if len(equity) <= SHORT else None
    for r in near(falls, float(falls.min()), True):
        target = float(runmax[r])
        if tops is None:
            rows = near(equity[: r + 1], target, False)
        else:
            if target not in tops:
                tops[target] = _ranked(equity, target, tol)
            rows = [s for s in tops[target] if s <= r][:CANDIDATES]  # what near(equity[: r + 1], target) picks
        top = max(at(s) for s in rows)
        drop = min(drop, at(r) - top)
    return low, high, drop


def _ranked(values: np.ndarray, target: float, tol: float) -> list[int]:
    """Every row within ``tol`` of ``target`` from above, highest first (ties by row)."""
    hits = np.flatnonzero(values >= target - tol)
    return [int(i) for i in hits[np.argsort(-values[hits], kind="stable")]]
