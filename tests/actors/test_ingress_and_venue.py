"""Ingress sets bad ticks aside with reasons; the paper venue fills, protects and is idempotent."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from actors.ingress import IngressAgent
from cluster.venues.paper.venue import PaperVenue
from trading.market import TickBatch
from trading.orders import CloseReason, Order, OrderStatus, OrderType, Side

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


def order(cid: str = "o1", side: Side = Side.BUY, stop: str = "1.07900", tp: str | None = "1.08200",
          not_before: int = T0, slippage: int = 20) -> Order:
    return Order(cid, "acc", "EURUSD", side, Decimal("1"), OrderType.MARKET, Decimal(stop),
                 Decimal(tp) if tp else None, "sig", Decimal("1.08000"), slippage, not_before, not_before + 60 * S)


def test_a_market_order_fills_at_the_ask_and_its_take_profit_closes_it(registry) -> None:
    venue = PaperVenue(registry)
    assert venue.submit(order()).status is OrderStatus.ACCEPTED
    reports = venue.on_quotes(batch([(T0 + S, 0, 108000, 108010, 1), (T0 + 2 * S, 0, 108210, 108220, 1)]))
    assert [(r.fill.kind.value, str(r.fill.price)) for r in reports if r.fill] == [("open", "1.08010"), ("close", "1.08210")]
    assert reports[-1].fill.reason is CloseReason.TAKE_PROFIT  # type: ignore[union-attr]


def test_a_gap_through_the_stop_fills_at_the_gapped_quote(registry) -> None:
    venue = PaperVenue(registry)
    venue.submit(order(tp=None))
    reports = venue.on_quotes(batch([(T0 + S, 0, 108000, 108010, 1), (T0 + 2 * S, 0, 107850, 107860, 1)]))
    assert reports[-1].fill.reason is CloseReason.STOP_LOSS and str(reports[-1].fill.price) == "1.07850"  # type: ignore[union-attr]


def test_a_second_submit_of_the_same_id_returns_the_first_report(registry) -> None:
    venue = PaperVenue(registry)
    first = venue.submit(order())
    venue.on_quotes(batch([(T0 + S, 0, 108000, 108010, 1)]))
    assert venue.submit(order()) is first
    assert len(venue.positions) == 1


def test_too_much_slippage_rejects_and_an_unfilled_order_expires(registry) -> None:
    venue = PaperVenue(registry)
    venue.submit(order("slip", slippage=5))
    reports = venue.on_quotes(batch([(T0 + S, 0, 108050, 108060, 1)]))
    assert reports[0].status is OrderStatus.REJECTED and "60 points" in reports[0].reason
    venue.submit(order("late", not_before=T0 + 10 * S))
    reports = venue.on_quotes(batch([(T0 + 100 * S, 0, 108000, 108010, 1)]))
    assert reports[0].status is OrderStatus.EXPIRED


def test_a_halted_venue_rejects_new_orders_and_flatten_closes_everything(registry) -> None:
    venue = PaperVenue(registry)
    venue.submit(order("a"))
    venue.on_quotes(batch([(T0 + S, 0, 108000, 108010, 1)]))
    venue.halt("kill switch")
    assert venue.submit(order("b")).status is OrderStatus.REJECTED
    closes = venue.flatten(None, T0 + 2 * S, "test")
    assert [r.fill.reason for r in closes if r.fill] == [CloseReason.FLATTEN] and not venue.positions
