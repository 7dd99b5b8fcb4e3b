"""Firm days follow the firm's clock through daylight saving; compliance judges the worst case."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from trading.compliance import AccountRules, CostAllowance
from trading.fx import ConversionRates
from trading.ledger import AccountSnapshot, PositionView
from trading.market import datetime_to_ts
from trading.orders import Order, OrderType, Side
from trading.rules import DailyReference, FirmRules, MaxLossKind, SizeLimits

FTMO = FirmRules("ftmo", Decimal(5), Decimal(10), False, reset_timezone="Europe/Prague", reset_time=time(0, 0))
TRAIL = FirmRules("trail", Decimal(3), Decimal(6), True, daily_reference=DailyReference.MAX_BALANCE_EQUITY,
                  max_loss_kind=MaxLossKind.TRAILING, reset_timezone="America/New_York", reset_time=time(17, 0))


def ts(*args: int) -> int:
    return datetime_to_ts(datetime(*args, tzinfo=UTC))


def test_the_prague_day_starts_at_23_utc_in_winter_and_22_utc_in_summer() -> None:
    assert str(FTMO.trading_day(ts(2026, 3, 27, 22, 59))) == "2026-03-27"
    assert str(FTMO.trading_day(ts(2026, 3, 27, 23, 0))) == "2026-03-28"
    # Clocks go forward on 2026-03-29: from then on the day starts at 22:00 UTC.
    assert str(FTMO.trading_day(ts(2026, 3, 30, 21, 59))) == "2026-03-30"
    assert str(FTMO.trading_day(ts(2026, 3, 30, 22, 0))) == "2026-03-31"
    assert FTMO.next_reset_ns(ts(2026, 3, 28, 12, 0)) == ts(2026, 3, 28, 23, 0)
    assert FTMO.next_reset_ns(ts(2026, 3, 29, 12, 0)) == ts(2026, 3, 29, 22, 0)


def test_a_new_york_5pm_reset_moves_with_us_daylight_saving() -> None:
    # US DST starts 2026-03-08: 17:00 New York is 22:00 UTC before and 21:00 UTC after.
    assert TRAIL.next_reset_ns(ts(2026, 3, 6, 12, 0)) == ts(2026, 3, 6, 22, 0)
    assert TRAIL.next_reset_ns(ts(2026, 3, 9, 12, 0)) == ts(2026, 3, 9, 21, 0)


def snapshot(equity: str, balance: str = "100000", positions: tuple[PositionView, ...] = (),
             at: int | None = None) -> AccountSnapshot:
    return AccountSnapshot("acc", "USD", at or ts(2026, 3, 2, 10, 0), Decimal(100_000), Decimal(balance),
                           Decimal(equity), positions, 0)


def order(lots: str, stop: str = "1.09000", ref: str = "1.10000") -> Order:
    return Order("o1", "acc", "EURUSD", Side.BUY, Decimal(lots), OrderType.MARKET, Decimal(stop), None, "sig",
                 Decimal(ref), 10, 0, 10)


def rules(firm: FirmRules, eurusd) -> tuple[AccountRules, ConversionRates]:  # type: ignore[no-untyped-def]
    return (AccountRules(firm, CostAllowance(Decimal(1), Decimal("3.5"), Decimal(10)), {"EURUSD": eurusd}),
            ConversionRates({"EURUSD": eurusd}))


def test_an_order_whose_stop_fits_the_daily_limit_is_allowed(eurusd) -> None:
    acc, rates = rules(FTMO, eurusd)
    decision = acc.check([order("1")], snapshot("100000"), rates)  # ~1,020 at risk of 5,000
    assert decision.allowed, decision.reason


def test_the_worst_case_counts_every_open_stop_with_the_new_one(eurusd) -> None:
    acc, rates = rules(FTMO, eurusd)
    open_pos = PositionView("p", "EURUSD", Side.BUY, Decimal(3), Decimal("1.10000"), Decimal("1.09000"), None,
                            Decimal("1.10000"), Decimal(0), Decimal(-3000), 0)
    snap = snapshot("100000", positions=(open_pos,))
    # Alone, 1.5 lots (~1,500 at stop) would fit 5,000; with 3,000+ already at risk it does not.
    assert acc.check([order("1.5")], snapshot("100000"), rates).allowed
    decision = acc.check([order("1.5")], snap, rates)
    assert not decision.allowed and decision.rule == "daily_loss"


def test_the_daily_reference_is_the_balance_at_the_firms_reset(eurusd) -> None:
    acc, rates = rules(FTMO, eurusd)
    acc.observe(snapshot("100000", at=ts(2026, 3, 2, 10, 0)), rates)
    head = acc.observe(snapshot("97000", "97000", at=ts(2026, 3, 2, 20, 0)), rates)
    assert head.daily_headroom == Decimal("2000.00")
    head = acc.observe(snapshot("97000", "97000", at=ts(2026, 3, 2, 23, 0)), rates)  # a new Prague day
    assert head.daily_headroom == Decimal("5000.00")


def test_a_trailing_floor_follows_the_peak_and_locks_at_the_initial_balance(eurusd) -> None:
    acc, rates = rules(TRAIL, eurusd)
    assert acc.observe(snapshot("100000"), rates).max_loss_floor == Decimal(94_000)
    assert acc.observe(snapshot("103000", "103000"), rates).max_loss_floor == Decimal(97_000)
    assert acc.observe(snapshot("110000", "110000"), rates).max_loss_floor == Decimal(100_000)
    assert acc.observe(snapshot("101000", "101000"), rates).max_loss_floor == Decimal(100_000)


def test_breaches_are_recorded_by_the_monitor(eurusd) -> None:
    acc, rates = rules(FTMO, eurusd)
    acc.observe(snapshot("100000"), rates)
    acc.observe(snapshot("94000", "100000"), rates)
    assert acc.state.breaches and acc.state.breaches[0].startswith("daily_loss")


def test_size_limits_are_vetoed_with_the_rule_named(eurusd) -> None:
    firm = FirmRules("small", Decimal(5), Decimal(10), False, size=SizeLimits(max_lots_per_order=Decimal(1)))
    acc, rates = rules(firm, eurusd)
    decision = acc.check([order("2")], snapshot("100000"), rates)
    assert not decision.allowed and decision.rule == "max_lots_per_order"


def test_a_pre_trade_check_reads_headroom_without_recording_it(eurusd) -> None:
    acc, rates = rules(FTMO, eurusd)
    acc.observe(snapshot("100000"), rates)
    decision = acc.check([order("1")], snapshot("94000", "94000"), rates)  # 6,000 lost today: over the limit
    assert not decision.allowed and decision.rule == "daily_loss"
    assert acc.state.breaches == [] and acc.state.min_daily_headroom == Decimal("5000.00")


def test_a_position_gapped_past_its_stop_counts_at_its_current_loss(eurusd) -> None:
    acc, rates = rules(FTMO, eurusd)
    gapped = PositionView("p", "EURUSD", Side.BUY, Decimal(3), Decimal("1.10000"), Decimal("1.09000"), None,
                          Decimal("1.08000"), Decimal(-6000), Decimal(-3000), 0)
    acc.observe(snapshot("100000"), rates)
    head = acc.observe(snapshot("94000", positions=(gapped,)), rates)
    assert head.worst_case_daily_headroom < Decimal(-1000)  # the 6,000 floating loss, not the 3,000 stop
