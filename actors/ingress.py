"""Ingress: validates and normalises ticks, aggregates bars, and sets aside bad ticks with reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trading.bars import BarAggregator
from trading.instruments import InstrumentRegistry
from trading.market import Bar, TickBatch, quote_faults
from trading.pickling import compact


@compact
@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A tick that was not accepted, and why."""

    ts_ns: int
    symbol: str
    bid: int
    ask: int
    reason: str


@compact
@dataclass(frozen=True, slots=True)
class IngressResult:
    clean: TickBatch
    bars: tuple[Bar, ...]
    dead_letters: tuple[DeadLetter, ...]
    last_ts: dict[str, int] = field(default_factory=dict)


class IngressAgent:
    """Validates one partition of the tick stream (a set of instruments) and builds its bars.

    Rejected, in this order: unknown instrument, non-positive price, crossed quote, NaN or
    negative volume, a time earlier than the instrument's latest (out of order), and an exact
    repeat of the instrument's previous tick (duplicate).
    """

    retry_window = 1  # results recorded for a retry: one batch (the desk waits for each before the next)

    def __init__(self, registry: InstrumentRegistry, bar_seconds: int) -> None:
        self.registry = registry
        self.aggregators = {
            i: BarAggregator(registry.by_index(i).symbol, bar_seconds * 1_000_000_000,
                             registry.by_index(i).price_precision)
            for i in range(len(registry))
        }
        self.prev: dict[int, tuple[int, int, int]] = {}
        self.last_events = 0

    def process(self, batch: TickBatch) -> IngressResult:
        n = len(batch)
        self.last_events = n
        reason = np.full(n, "", dtype=object)
        known = (batch.inst >= 0) & (batch.inst < len(self.registry))
        reason[~known] = "unknown instrument"
        faults = quote_faults(batch.bid, batch.ask, batch.volume)
        reason[known] = faults[known]
        bars: list[Bar] = []
        last_ts: dict[str, int] = {}
        for i in np.unique(batch.inst[known]):
            i = int(i)
            idx = np.flatnonzero((batch.inst == i) & (reason == ""))
            if len(idx) == 0:
                continue
            ts, bid, ask = batch.ts[idx], batch.bid[idx], batch.ask[idx]
            p_ts, p_bid, p_ask = self.prev.get(i, (np.iinfo(np.int64).min, -1, -1))
            prior_ts = np.r_[p_ts, ts[:-1]]
            running = np.maximum.accumulate(np.r_[p_ts, ts])[:-1]
            out_of_order = ts < running
            duplicate = (ts == prior_ts) & (bid == np.r_[p_bid, bid[:-1]]) & (ask == np.r_[p_ask, ask[:-1]])
            reason[idx[out_of_order]] = "out of order"
            reason[idx[duplicate & ~out_of_order]] = "duplicate"
            ok = idx[~out_of_order & ~duplicate]
            if len(ok):
                self.prev[i] = (int(batch.ts[ok[-1]]), int(batch.bid[ok[-1]]), int(batch.ask[ok[-1]]))
                last_ts[self.registry.by_index(i).symbol] = int(batch.ts[ok[-1]])
                bars.extend(self.aggregators[i].add(batch.ts[ok], batch.bid[ok], batch.ask[ok], batch.volume[ok]))
        bad = np.flatnonzero(reason != "")
        dead = tuple(
            DeadLetter(int(batch.ts[j]), self._symbol(int(batch.inst[j])), int(batch.bid[j]), int(batch.ask[j]),
                       str(reason[j]))
            for j in bad
        )
        clean = batch.take(reason == "")
        bars.sort(key=lambda b: (b.end_ns, b.symbol))
        return IngressResult(clean, tuple(bars), dead, last_ts)

    def _symbol(self, i: int) -> str:
        return self.registry.by_index(i).symbol if 0 <= i < len(self.registry) else f"#{i}"
