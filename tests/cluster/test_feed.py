"""The replay feed: batches close at max_ticks or linger after their first tick; time passes in gaps."""

from __future__ import annotations

import time

import numpy as np

from cluster.adapters.feeds.paced import ReplayFeed
from trading.market import NS_PER_S, TickBatch

T0 = 1_772_409_600 * NS_PER_S


def ticks(stamps_s: list[float]) -> TickBatch:
    ts = np.array([T0 + int(s * NS_PER_S) for s in stamps_s], np.int64)
    n = len(ts)
    return TickBatch(ts, np.zeros(n, np.int16), np.full(n, 108000, np.int64), np.full(n, 108010, np.int64),
                     np.ones(n))


def test_at_full_speed_every_batch_is_full_and_the_feed_ends() -> None:
    feed = ReplayFeed(ticks([i * 0.1 for i in range(25)]))
    sizes = []
    while not feed.ended:
        sizes.append(len(feed.poll(10, 1.0, 1.0)))
    assert sizes == [10, 10, 5] and feed.position == 25 and len(feed.poll(10, 1.0, 1.0)) == 0


def test_paced_batches_close_linger_after_their_first_tick_and_not_before_it_arrived() -> None:
    # 40 ticks, one every 10 ms of market time, at speed 1: 0.4 s of wall time
    feed = ReplayFeed(ticks([i * 0.01 for i in range(40)]), speed=1.0)
    out = []
    while not feed.ended:
        batch = feed.poll(1000, 0.03, 1.0)
        out.append((batch, time.perf_counter()))
    assert sum(len(b) for b, _ in out) == 40 and 8 <= len(out) <= 20, [len(b) for b, _ in out]
    for batch, returned in out:
        first = feed.arrived_at(int(batch.ts[0]))
        last = feed.arrived_at(int(batch.ts[-1]))
        assert last <= returned + 0.002, "no tick is delivered before it arrived"
        assert returned - first <= 0.03 + 0.05, "a batch waits no longer than linger after its first tick"


def test_a_paced_batch_closes_at_max_ticks_before_linger() -> None:
    feed = ReplayFeed(ticks([i * 0.001 for i in range(100)]), speed=1.0)
    assert len(feed.poll(10, 5.0, 5.0)) == 10


def test_in_a_gap_the_feed_returns_nothing_after_idle_and_its_clock_crosses_the_gap() -> None:
    # a tick, then 2 hours without any (shortened to 0.5 s at speed 3600 with a 1800 s gap limit), then a tick
    feed = ReplayFeed(ticks([0.0, 7200.0]), speed=3600.0, max_gap_s=1800.0)
    assert len(feed.poll(10, 0.0, 0.1)) == 1
    clocks = []
    while not feed.ended:
        if len(feed.poll(10, 0.0, 0.1)) == 0:
            clocks.append(feed.now_ns())
    assert len(clocks) >= 3 and clocks == sorted(clocks)
    assert T0 < clocks[0] and clocks[-1] < T0 + 7200 * NS_PER_S, "the clock moved through the gap"
    assert feed.now_ns() == T0 + 7200 * NS_PER_S


def test_seek_continues_after_the_ticks_already_delivered() -> None:
    feed = ReplayFeed(ticks([i * 0.1 for i in range(25)]))
    feed.seek(20)
    assert [int(t) for t in feed.poll(10, 0.0, 0.0).ts] == [T0 + int(i * 0.1 * NS_PER_S) for i in range(20, 25)]


def test_a_paced_feeds_clock_starts_when_the_desk_first_looks_at_it() -> None:
    feed = ReplayFeed(ticks([0.0, 0.2]), speed=1.0)
    time.sleep(0.3)  # the desk starting up: no tick is due yet
    assert len(feed.poll(10, 0.0, 0.05)) == 1 and len(feed.poll(10, 0.0, 0.05)) == 0


def test_a_signal_arrives_with_its_own_instruments_tick_not_another_ones() -> None:
    # instrument 0 ticks every 100 ms of market time, instrument 1 every 10 ms: a bar of 0 that ends
    # at 0.25 s closes with 0's tick at 0.3 s, though 1 ticked at 0.25 s
    stamps = sorted([(i * 0.1, 0) for i in range(6)] + [(i * 0.01, 1) for i in range(60)])
    batch = ticks([s for s, _ in stamps])
    batch = TickBatch(batch.ts, np.array([k for _, k in stamps], np.int16), batch.bid, batch.ask, batch.volume)
    feed = ReplayFeed(batch, speed=1.0)
    feed.now_ns()  # the clock starts
    end = T0 + int(0.25 * NS_PER_S)
    assert abs(feed.arrived_at(end, 0) - feed.arrived_at(end) - 0.05) < 1e-9
    assert abs(feed.arrived_at(end, 1) - feed.arrived_at(end)) < 1e-9
    assert feed.arrived_at(T0 + 10 * NS_PER_S, 0) == feed.arrived_at(T0 + 10 * NS_PER_S), "past the end: the last"
