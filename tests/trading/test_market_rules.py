"""The one tick rule (``tick_faults``), prices to points, and the last quote per instrument."""

from __future__ import annotations

import numpy as np

from trading.market import MAX_POINTS, TICK_FAULTS, TickBatch, tick_faults, to_points

S = 1_000_000_000
T0 = 1_772_409_600 * S


def ints(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def test_each_fault_is_named_and_a_zero_spread_is_valid() -> None:
    bid = ints(100, 0, 101, 100, 100, MAX_POINTS)
    ask = ints(101, 101, 100, 100, 101, MAX_POINTS)
    volume = np.array([1.0, 1.0, 1.0, 1.0, -1.0, 1.0])
    assert list(tick_faults(bid, ask, volume)) == ["", "non-positive price", "crossed quote", "",
                                                  "NaN or negative volume", "price out of range"]


def test_the_first_fault_in_order_wins() -> None:
    # no time, unknown instrument and a crossed quote with a negative volume, all on one tick
    reason = tick_faults(ints(101, 101, 101), ints(100, 100, 100), np.array([-1.0, -1.0, -1.0]),
                         timed=np.array([False, True, True]), inst=np.array([7, 7, 0], np.int16), instruments=3)
    assert list(reason) == ["no time", "unknown instrument", "crossed quote"]
    assert TICK_FAULTS.index("crossed quote") < TICK_FAULTS.index("NaN or negative volume")


def test_float_points_name_a_missing_price_and_round_to_the_nearest_point() -> None:
    bid = np.array([np.nan, 1e19, 108000.4, 0.4])
    ask = np.array([108010.0, 108010.0, 108000.6, 108010.0])
    assert list(tick_faults(bid, ask, np.ones(4))) == ["NaN or missing price", "price out of range",
                                                      "", "non-positive price"]  # 108000 <= 108001; 0.4 -> 0
    assert list(to_points(bid)) == [0, 0, 108000, 0]
    assert list(to_points(ask)) == [108010, 108010, 108001, 108010]


def test_order_is_judged_per_instrument_against_the_previous_batch() -> None:
    ts = ints(T0 + 5 * S, T0 + 1 * S, T0 + 5 * S, T0 + 6 * S, T0 + 6 * S)
    inst = np.array([0, 1, 0, 0, 0], np.int16)
    bid = ints(100, 200, 100, 101, 101)
    ask = ints(110, 210, 110, 111, 111)
    prev = {1: (T0 + 2 * S, 200, 210)}  # instrument 1 was last seen later than its tick here
    reason = tick_faults(bid, ask, np.ones(5), inst=inst, instruments=2, ts=ts, prev=prev)
    assert list(reason) == ["", "out of order", "duplicate", "", "duplicate"]
    # a faulty tick does not count as the latest: the tick after it is judged against the one before
    reason = tick_faults(ints(100, 100, 100), ints(110, 90, 110), np.ones(3), inst=np.zeros(3, np.int16),
                         instruments=1, ts=ints(T0, T0 + 9 * S, T0 + S))
    assert list(reason) == ["", "crossed quote", ""]


def test_the_last_quote_of_each_instrument() -> None:
    batch = TickBatch(ints(T0, T0 + S, T0 + 2 * S, T0 + 3 * S), np.array([2, 0, 2, 0], np.int16),
                      ints(10, 20, 30, 40), ints(11, 21, 31, 41), np.ones(4))
    assert batch.last_quotes() == {0: (T0 + 3 * S, 40, 41), 2: (T0 + 2 * S, 30, 31)}
    assert list(batch.last_quotes()) == [0, 2]
    assert TickBatch.empty().last_quotes() == {}


def test_ticks_of_one_time_are_put_in_instrument_order_and_nothing_else_moves() -> None:
    ts = np.array([5, 5, 5, 3, 7, 7], np.int64)  # a tick out of time order (3) stays where it is
    inst = np.array([2, 0, 1, 1, 1, 0], np.int16)
    batch = TickBatch(ts, inst, np.arange(6, dtype=np.int64) + 100, np.arange(6, dtype=np.int64) + 110, np.ones(6))
    ordered = batch.ties_in_order()
    assert ordered.ts.tolist() == [5, 5, 5, 3, 7, 7] and ordered.inst.tolist() == [0, 1, 2, 1, 0, 1]
    assert ordered.bid.tolist() == [101, 102, 100, 103, 105, 104]  # each tick's quote moves with it
    assert ordered.ties_in_order() is ordered  # in order already: the same batch back


def test_after_fx_open_ns_skips_the_weekend_and_inverts_fx_open_ns() -> None:
    from datetime import UTC, datetime

    from trading.market import after_fx_open_ns, datetime_to_ts, fx_open_ns

    def ts(*a: int) -> int:
        return datetime_to_ts(datetime(*a, tzinfo=UTC))

    ten = 600 * 1_000_000_000
    assert after_fx_open_ns(ts(2026, 3, 4, 12, 0), ten) == ts(2026, 3, 4, 12, 10)  # a Wednesday
    assert after_fx_open_ns(ts(2026, 3, 6, 21, 55), ten) == ts(2026, 3, 8, 21, 5)  # 5 min Friday (EST), 5 Sunday (EDT)
    assert after_fx_open_ns(ts(2026, 3, 7, 12, 0), ten) == ts(2026, 3, 8, 21, 10)  # from inside the weekend
    for start in (ts(2026, 1, 2, 21, 59), ts(2026, 3, 6, 20, 0), ts(2026, 3, 9, 0, 0)):
        for span in (1, ten, 3 * 86_400 * 1_000_000_000):
            end = after_fx_open_ns(start, span)
            assert int(fx_open_ns(np.array([start]), np.array([end]))[0]) == span
