"""Ticks and bars in the time-series tables (day partitions on this machine's PostgreSQL), the
hourly rollup checked against polars, and live state in a real Redis rebuilt after a restart."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import polars as pl
import pytest
import redis as redis_lib

from cluster.adapters.feeds.replay import generate_ticks
from cluster.adapters.live import EPOCH, STREAM, Publication, RedisLive
from cluster.config.settings import Settings
from cluster.desk.record import BatchLog
from cluster.storage.store import SessionStore
from cluster.storage.timeseries import DAY_NS, TimeSeries
from tests.conftest import fresh_database
from trading.breaker import BreakerEvent, BreakerState, Tier
from trading.compliance import Headroom
from trading.ledger import AccountSnapshot, PositionView
from trading.market import Bar
from trading.orders import Side


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request, postgres, tmp_path):  # type: ignore[no-untyped-def]
    url = (fresh_database(postgres, f"ts_{request.node.name[:20]}".lower().replace("[", "").replace("]", ""))
           if request.param == "postgresql" else f"sqlite:///{tmp_path / 'octet.db'}")
    s = SessionStore(url)
    yield s
    s.close()


def test_ticks_land_in_day_partitions_and_read_back(store: SessionStore, settings: Settings) -> None:
    reg = settings.registry()
    ticks, _ = generate_ticks(reg, settings.generator_profiles(), 60_000, 3, settings.session.start)
    series = TimeSeries(store.engine, reg)
    for i in range(0, len(ticks), 7_000):
        assert series.write_ticks(ticks.take(slice(i, i + 7_000))) == len(ticks.take(slice(i, i + 7_000)))
    days = sorted({int(t) // DAY_NS for t in ticks.ts})
    if series.mode == "partitioned":
        assert len(series.partitions("ticks")) == len(days) + 1  # one per day, and the default one
        from sqlalchemy import text

        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ticks_default")).scalar() == 0
    from sqlalchemy import text

    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ticks")).scalar() == len(ticks)
        back = conn.execute(text("SELECT ts_ns, bid, ask FROM ticks WHERE symbol = 'EURUSD' ORDER BY ts_ns")).all()
    mask = ticks.inst == reg.index("EURUSD")
    assert [tuple(r) for r in back] == list(zip(ticks.ts[mask].tolist(), ticks.bid[mask].tolist(),
                                                 ticks.ask[mask].tolist(), strict=True))
    last = series.last_quotes()["EURUSD"]
    k = int(np.flatnonzero(mask)[-1])
    assert last == (int(ticks.ts[k]), int(ticks.bid[k]), int(ticks.ask[k]))


def test_the_hourly_rollup_matches_polars(store: SessionStore, settings: Settings) -> None:
    rng = np.random.default_rng(5)
    start = 1_772_409_600 * 10**9  # 2026-03-02 00:00 UTC
    bars = []
    for symbol, base in (("EURUSD", 1.085), ("USDJPY", 150.2)):
        price = base
        for minute in range(0, 3 * 24 * 60, 1):
            if rng.random() < 0.1:
                continue  # gaps, as real minutes have
            o = price
            c = o + float(rng.normal(0, base * 1e-4))
            bars.append(Bar(symbol, start + minute * 60 * 10**9, start + (minute + 1) * 60 * 10**9, o,
                            max(o, c) + base * 5e-5, min(o, c) - base * 5e-5, c, float(rng.integers(1, 50)), 9, 0.0))
            price = c
    series = TimeSeries(store.engine, settings.registry())
    assert series.write_bars(bars) == len(bars)
    assert series.write_bars(bars[:100]) == 100  # written again: replaced, not doubled
    series.rollup_hours(start, start + 3 * DAY_NS)
    scale = {"EURUSD": 10**5, "USDJPY": 10**3}
    frame = pl.DataFrame([dict(symbol=b.symbol, ts=b.start_ns, open=round(b.open * scale[b.symbol]),
                               high=round(b.high * scale[b.symbol]), low=round(b.low * scale[b.symbol]),
                               close=round(b.close * scale[b.symbol]), volume=int(b.volume)) for b in bars])
    expected = (frame.sort("ts").with_columns(hour=pl.col("ts") // (3600 * 10**9) * (3600 * 10**9))
                .group_by("symbol", "hour", maintain_order=True)
                .agg(pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
                     pl.col("volume").sum()).sort("symbol", "hour"))
    from sqlalchemy import text

    with store.engine.connect() as conn:
        got = conn.execute(text("SELECT symbol, ts_ns, open, high, low, close, volume FROM bars_1h "
                                "ORDER BY symbol, ts_ns")).all()
    assert [tuple(r) for r in got] == [tuple(r) for r in expected.iter_rows()]
    assert len(got) == 2 * 72


def _facts() -> tuple[AccountSnapshot, Headroom, BreakerEvent]:
    pos = PositionView("oc-1", "EURUSD", Side.BUY, Decimal("1.5"), Decimal("1.08500"), Decimal("1.08300"), None,
                       Decimal("1.08550"), Decimal("75.00"), Decimal("-300.00"), 5)
    snap = AccountSnapshot("acc", "USD", 10, Decimal(100_000), Decimal("99996.50"), Decimal("100071.50"), (pos,), 0)
    head = Headroom("acc", 10, Decimal(5000), Decimal(95_000), Decimal("4996.50"), Decimal(90_000), Decimal("9996.50"),
                    Decimal("4696.50"), Decimal("9696.50"))
    ev = BreakerEvent(Tier.ACCOUNT, "acc", 10, BreakerState.CLOSED, BreakerState.OPEN, "3 losing trades", "stop opening")
    return snap, head, ev


def _publication(registry, batch: int = 1, final: bool = False) -> Publication:  # type: ignore[no-untyped-def]
    snap, head, ev = _facts()
    log = BatchLog()
    log.breaker_events.append(ev)
    record = log.seal(batch, batch * 100, snapshots={"acc": snap}, headrooms={"acc": head},
                      last_quotes={"EURUSD": (10 + batch, 108548, 108552)},
                      heartbeats={"risk": {"calls": 3, "restarts": 0}}, final=final)
    return Publication.of_record("run1", registry, record)


def test_redis_carries_the_live_view_and_its_numbered_stream(redis_server, registry) -> None:  # type: ignore[no-untyped-def]
    live = RedisLive(redis_server.url, registry, throttle_ms=60_000, window=100)
    live.client.flushall()
    sub = redis_lib.Redis.from_url(redis_server.url, decode_responses=True).pubsub()
    sub.subscribe(STREAM)
    sub.get_message(timeout=1)  # the subscription's confirmation
    live.publish(_publication(registry))
    view = live.snapshot()
    assert json.loads(view["quotes"]["EURUSD"]) == {"ts_ns": 11, "bid": "1.08548", "ask": "1.08552"}
    assert json.loads(view["accounts"]["acc"])["positions"][0]["floating_pnl"] == "75.00"
    assert json.loads(view["headroom"]["acc"])["daily_headroom"] == "4996.50"
    assert json.loads(view["breaker"]["account:acc"])["to_state"] == "open"
    live.publish(_publication(registry, 2))  # within the throttle: its quote, headroom and progress wait
    live.publish(_publication(registry, 3, final=True))  # the end sends what waits (the latest of each)
    got = []
    while (msg := sub.get_message(timeout=1)) is not None:
        got.append(json.loads(msg["data"]))
    assert [m["seq"] for m in got] == list(range(1, len(got) + 1))  # numbered without a gap, in order
    topics = [(m["topic"], m["data"].get("batch", m["data"].get("ts_ns"))) for m in got]
    assert topics == [("breaker", 10), ("headroom", 10), ("quotes", 11), ("desk", 1),  # batch 1
                      ("breaker", 10), ("breaker", 10),  # batches 2 and 3 (each had the transition)
                      ("headroom", 10), ("quotes", 13), ("desk", 3)]  # the end: only the latest waiting
    assert got[1]["account"] == "acc" and got[1]["data"]["daily_headroom"] == "4996.50"
    assert got[-1]["data"]["event"] == "end" and got[2]["account"] is None
    window = live.client.xrange(STREAM)
    assert [e[0] for e in window] == [f"{n}-0" for n in range(1, len(got) + 1)]
    assert [json.loads(e[1]["m"]) for e in window] == got  # what a reconnecting client is sent
    epoch = live.client.get(EPOCH)
    assert epoch and abs(int(epoch) - got[0]["at_us"]) < 5_000_000
    live.client.flushall()  # Redis lost its data: numbered afresh, under a new epoch
    live.publish(_publication(registry, 4))
    assert json.loads(live.client.xrange(STREAM)[0][1]["m"])["seq"] == 1
    assert live.client.get(EPOCH) != epoch


def test_a_redis_that_is_down_costs_the_view_not_the_session(registry) -> None:  # type: ignore[no-untyped-def]
    from cluster.devservers.services import free_port

    live = RedisLive(f"redis://127.0.0.1:{free_port()}/0", registry)
    live.publish(_publication(registry))
    assert live.errors == 1 and "connect" in live.last_error.lower()
