"""The intra-bar model: the quotes a bar is assumed to have traded through, for data that has
bars only (an MT5 bar export, HistData M1, Dukascopy candles).

A bar becomes four quotes, at 0, 1/4, 1/2 and 3/4 of its span: the open, then the extreme nearer
in the bar's direction, then the other extreme, then the close. A bar that closes at or above its
open goes open → low → high → close; one that closes below goes open → high → low → close (the
order MetaTrader's "1 minute OHLC" tester model assumes). Each quote carries a quarter of the bar's
volume. Within a bar the price is taken to pass through every level between one quote and the
next (the quotes' ``path`` flag, ``bar_path``): a stop, target or limit price crossed on the way
fills at its own price, as in backtesting.py and most bar backtesters; from one bar's close to the
next bar's open it may gap, and an order crossed by the gap fills at the open. A stop and a target
inside one bar are hit in the order above, and a market order sent when a bar closes fills at the
next bar's open.

Prices are the side the file gives (``bid``, ``ask`` or ``mid``); the other side is that plus or
minus the bar's spread in points (for ``mid``, half each way, the bid rounded down).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from trading.market import FloatArray, IntArray, TickBatch

PriceSide = Literal["bid", "ask", "mid"]
QUOTES_PER_BAR = 4


def bar_quotes(start_ns: IntArray, span_ns: int, o: IntArray, h: IntArray, low: IntArray, c: IntArray,
               volume: FloatArray, spread: IntArray, side: PriceSide = "bid",
               ) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """The quotes of bars given in integer points: (ts, bid, ask, volume), four per bar, in time
    order bar after bar (``start_ns`` ascending)."""
    n = len(start_ns)
    up = c >= o
    first = np.where(up, low, h)
    second = np.where(up, h, low)
    price = np.column_stack([o, first, second, c]).reshape(-1)
    offsets = np.arange(QUOTES_PER_BAR, dtype=np.int64) * (span_ns // QUOTES_PER_BAR)
    ts: IntArray = (start_ns[:, None] + offsets[None, :]).reshape(-1)
    s = np.repeat(spread.astype(np.int64), QUOTES_PER_BAR)
    if side == "bid":
        bid = price
    elif side == "ask":
        bid = price - s
    else:
        bid = price - (s + 1) // 2
    ask: IntArray = bid + s
    vol: FloatArray = np.repeat(volume / QUOTES_PER_BAR, QUOTES_PER_BAR).astype(np.float64)
    assert len(ts) == n * QUOTES_PER_BAR
    bid_out: npt.NDArray[np.int64] = bid.astype(np.int64)
    return ts, bid_out, ask.astype(np.int64), vol


def bar_path(bars: int) -> npt.NDArray[np.bool_]:
    """The ``path`` flags of ``bar_quotes``' quotes: each bar's open jumps from the last bar's close
    (false), its three quotes after move along the bar (true)."""
    return np.tile(np.array([False] + [True] * (QUOTES_PER_BAR - 1)), bars)


def quote_spacing_ns(ticks: TickBatch) -> dict[int, int]:
    """Per instrument given as bars (``path`` true somewhere), the time between its quotes within a
    bar, a quarter of the bar: each such quote stands for its bar until the next one, so a quiet
    spell that long is the data's grain, not a silence of the feed (``trading.breaker``)."""
    if ticks.path is None or not ticks.path.any():
        return {}
    out: dict[int, int] = {}
    for inst in np.unique(ticks.inst[ticks.path]).tolist():
        own = np.flatnonzero(ticks.inst == inst)
        steps = np.diff(ticks.ts[own])[ticks.path[own][1:]]
        if len(steps):
            out[int(inst)] = int(steps.max())
    return out
