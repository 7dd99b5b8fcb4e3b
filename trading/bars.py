"""Tick-to-bar aggregation, vectorised, carrying the open bar across batches."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trading.market import Bar, FloatArray, IntArray
from trading.pickling import trusted


@dataclass
class BarAggregator:
    """Aggregates one symbol's mid prices into bars of ``bar_ns``.

    A bar is emitted only once a tick of a later bar arrives, so a bar is never seen before it
    is complete; the ticks of the still-open bar are carried to the next batch.
    """

    symbol: str
    bar_ns: int
    precision: int
    carry_ts: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    carry_mid: FloatArray = field(default_factory=lambda: np.empty(0, np.float64))
    carry_spread: FloatArray = field(default_factory=lambda: np.empty(0, np.float64))
    carry_vol: FloatArray = field(default_factory=lambda: np.empty(0, np.float64))

    def add(self, ts: IntArray, bid: IntArray, ask: IntArray, volume: FloatArray) -> list[Bar]:
        scale = 10.0 ** -self.precision
        mid = ((bid + ask) * (scale / 2)).astype(np.float64)
        spread = ((ask - bid) * scale).astype(np.float64)
        ts = np.concatenate([self.carry_ts, ts])
        mid = np.concatenate([self.carry_mid, mid])
        spread = np.concatenate([self.carry_spread, spread])
        volume = np.concatenate([self.carry_vol, volume])
        if len(ts) == 0:
            return []
        bucket = ts // self.bar_ns
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        last = starts[-1]
        self.carry_ts, self.carry_mid = ts[last:], mid[last:]
        self.carry_spread, self.carry_vol = spread[last:], volume[last:]
        if len(starts) == 1:
            return []
        done = slice(0, last)
        s = starts[:-1]
        ends = np.r_[s[1:], last]
        opens = mid[s]
        closes = mid[ends - 1]
        highs = np.maximum.reduceat(mid[done], s)
        lows = np.minimum.reduceat(mid[done], s)
        vols = np.add.reduceat(volume[done], s)
        spreads = np.add.reduceat(spread[done], s) / (ends - s)
        counts = ends - s
        digits = self.precision + 1
        bar_ns, symbol = self.bar_ns, self.symbol
        # The ticks were validated by ingress (finite, positive, not crossed, volume >= 0), so each
        # bar is valid by construction (rounding is monotonic: low <= open, close <= high) and is
        # built without Bar's checks, from Python numbers (``tolist``), which rounds them faster.
        return [
            trusted(Bar, (symbol, b * bar_ns, (b + 1) * bar_ns, round(o, digits), round(h, digits),
                          round(lo, digits), round(c, digits), v, n, sp))
            for b, o, h, lo, c, v, n, sp in zip(bucket[s].tolist(), opens.tolist(), highs.tolist(), lows.tolist(),
                                                  closes.tolist(), vols.tolist(), counts.tolist(), spreads.tolist(),
                                                  strict=True)
        ]
