"""Ingress sets bad ticks aside with reasons and closes bars only when a later bar begins."""

from __future__ import annotations

import numpy as np

from actors.ingress import IngressAgent
from trading.market import TickBatch

S = 1_000_000_000
T0 = 1_772_409_600 * S


def batch(rows: list[tuple[int, int, int, int, float]]) -> TickBatch:
    ts, inst, bid, ask, vol = zip(*rows, strict=True)
    return TickBatch(np.array(ts, np.int64), np.array(inst, np.int16), np.array(bid, np.int64),
                     np.array(ask, np.int64), np.array(vol, np.float64))


def test_bad_ticks_become_dead_letters_with_reasons(registry) -> None:
    agent = IngressAgent(registry, 60)
    result = agent.process(batch([
        (T0, 0, 108000, 108010, 1.0),
        (T0 + S, 0, 108020, 108010, 1.0),           # crossed
        (T0 + 2 * S, 0, 108000, 108010, float("nan")),  # NaN volume
        (T0 + 3 * S, 0, 108001, 108011, 1.0),
        (T0 + 3 * S, 0, 108001, 108011, 1.0),       # duplicate
        (T0 + 2 * S, 0, 108002, 108012, 1.0),       # out of order
        (T0 + 4 * S, 9, 108002, 108012, 1.0),       # unknown instrument
        (T0 + 5 * S, 0, 0, 108012, 1.0),            # non-positive
    ]))
    reasons = [d.reason for d in result.dead_letters]
    assert reasons == ["crossed quote", "NaN or negative volume", "duplicate", "out of order",
                       "unknown instrument", "non-positive price"]
    assert len(result.clean) == 2
    later = agent.process(batch([(T0 + S, 0, 108000, 108010, 1.0)]))  # older than the last accepted tick
    assert [d.reason for d in later.dead_letters] == ["out of order"]


def test_bars_close_only_when_a_later_bar_begins(registry) -> None:
    agent = IngressAgent(registry, 60)
    first = agent.process(batch([(T0 + i * 10 * S, 0, 108000 + i, 108010 + i, 1.0) for i in range(6)]))
    assert first.bars == ()
    second = agent.process(batch([(T0 + 61 * S, 0, 108100, 108110, 1.0)]))
    assert len(second.bars) == 1
    bar = second.bars[0]
    assert bar.ticks == 6 and bar.open == 1.08005 and bar.close == 1.0801 and bar.end_ns == T0 + 60 * S
