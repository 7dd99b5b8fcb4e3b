"""Ingress: validates and normalises ticks, aggregates bars, and sets aside bad ticks with reasons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trading.bars import BarAggregator
from trading.instruments import InstrumentRegistry
from trading.market import Bar, TickBatch, tick_faults
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


class IngressAgent:
    """Validates one partition of the tick stream (a set of instruments) and builds its bars.

    Rejected by ``trading.market.tick_faults``, in this order: unknown instrument, price out of
    range, non-positive price, crossed quote, NaN or negative volume, a time earlier than the
    instrument's latest (out of order), and an exact repeat of the instrument's previous tick
    (duplicate).
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
        self.last_events = len(batch)
        reason = tick_faults(batch.bid, batch.ask, batch.volume, inst=batch.inst, instruments=len(self.registry),
                             ts=batch.ts, prev=self.prev)
        clean = batch.take(reason == "")
        bars: list[Bar] = []
        for i, last in clean.last_quotes().items():
            self.prev[i] = last
            ok = clean.inst == i
            bars.extend(self.aggregators[i].add(clean.ts[ok], clean.bid[ok], clean.ask[ok], clean.volume[ok]))
        dead = tuple(
            DeadLetter(int(batch.ts[j]), self._symbol(int(batch.inst[j])), int(batch.bid[j]), int(batch.ask[j]),
                       str(reason[j]))
            for j in np.flatnonzero(reason != "")
        )
        bars.sort(key=lambda b: (b.end_ns, b.symbol))
        return IngressResult(clean, tuple(bars), dead)

    def _symbol(self, i: int) -> str:
        return self.registry.by_index(i).symbol if 0 <= i < len(self.registry) else f"#{i}"
