"""The domain's value types refuse values that cannot exist and keep money exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.errors import DomainError, InvalidValue, UnknownInstrument
from trading.fx import ConversionRates
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountLedger, pnl_in_account_ccy
from trading.market import Bar, Tick
from trading.money import Money
from trading.orders import CloseReason, Fill, FillKind, Side, Signal, client_order_id

TS = 1_772_409_600_000_000_000


def test_a_price_is_rounded_to_the_instruments_precision(eurusd, usdjpy) -> None:
    assert eurusd.price("1.234567") == Decimal("1.23457")
    assert usdjpy.price(150.1234) == Decimal("150.123")
    assert eurusd.points(Decimal("1.08123")) == 108123


@pytest.mark.parametrize("bid, ask, volume, field", [
    ("NaN", "1.1", 1.0, "bid"), ("1.1", "1.0", 1.0, "ask"), ("1.0", "1.1", -1.0, "volume"),
    ("1.0", "1.1", float("nan"), "volume"), ("-1", "1.1", 1.0, "bid"),
])
def test_a_tick_that_cannot_exist_is_rejected_naming_the_field(eurusd, bid, ask, volume, field) -> None:
    with pytest.raises(InvalidValue) as err:
        Tick(eurusd, TS, Decimal(bid), Decimal(ask), volume)
    assert err.value.field == field


def test_a_bar_must_contain_its_open_and_close() -> None:
    with pytest.raises(InvalidValue):
        Bar("EURUSD", 0, 60, 1.1, 1.09, 1.08, 1.1, 10, 10, 0.0001)


def test_money_is_exact_and_refuses_mixing_currencies() -> None:
    total = Money(Decimal("0.1"), "USD") + Money(Decimal("0.2"), "USD")
    assert total.amount == Decimal("0.3")
    with pytest.raises(InvalidValue):
        _ = Money(Decimal(1), "USD") + Money(Decimal(1), "EUR")


def test_unknown_symbols_are_named(eurusd) -> None:
    reg = InstrumentRegistry([eurusd])
    with pytest.raises(UnknownInstrument, match="GBPUSD"):
        reg["GBPUSD"]


def test_a_signals_stop_must_be_on_the_loss_side() -> None:
    with pytest.raises(InvalidValue, match="stop"):
        Signal("EURUSD", Side.BUY, TS, Decimal("1.1"), Decimal("1.2"), (), 0.5, "spring")


def test_client_order_ids_are_derived_not_random() -> None:
    assert client_order_id("sig", "acc", 0) == client_order_id("sig", "acc", 0)
    assert client_order_id("sig", "acc", 0) != client_order_id("sig", "acc", 1)
    assert client_order_id("sig", "acc", 0) != client_order_id("sig", "other", 0)


def test_pnl_is_exact_for_usd_quoted_and_usd_based_pairs(eurusd, usdjpy) -> None:
    rates = ConversionRates({})
    gain = pnl_in_account_ccy(eurusd, Side.BUY, Decimal("1"), Decimal("1.10000"), Decimal("1.10100"), "USD", rates)
    assert gain == Decimal("100.00000")
    loss = pnl_in_account_ccy(usdjpy, Side.SELL, Decimal("2"), Decimal("150.000"), Decimal("151.000"), "USD", rates)
    assert loss == Decimal(-200_000) / Decimal("151.000")


def test_the_ledger_books_commission_and_realized_pnl(eurusd) -> None:
    ledger = AccountLedger("a", "USD", Decimal(100_000), {"EURUSD": eurusd}, Decimal("3.5"))
    rates = ConversionRates({"EURUSD": eurusd})
    opened = Fill("c1", "a", "EURUSD", Side.BUY, Decimal("2"), Decimal("1.10000"), TS, FillKind.OPEN, CloseReason.ENTRY)
    ledger.apply(opened, rates, Decimal("1.09900"), None, "sig")
    snap = ledger.snapshot(TS, {"EURUSD": (Decimal("1.10050"), Decimal("1.10060"))}, rates)
    assert snap.equity == Decimal("100093.00")  # 100,000 - 7 commission + 100 floating
    assert snap.positions[0].pnl_at_stop == Decimal("-200.00")
    closed = Fill("c1", "a", "EURUSD", Side.SELL, Decimal("2"), Decimal("1.10100"), TS + 1, FillKind.CLOSE,
                  CloseReason.TAKE_PROFIT)
    ledger.apply(closed, rates)
    assert ledger.balance == Decimal("100186.00")
    trade = ledger.closed[0]
    assert trade.pnl == Decimal("186.00") and trade.initial_risk == Decimal("200.00")
    assert trade.r_multiple == pytest.approx(0.93)


def test_an_eur_account_books_usdjpy_through_usd_exactly(eurusd, usdjpy) -> None:
    registry = {"EURUSD": eurusd, "USDJPY": usdjpy}
    rates = ConversionRates(registry)
    rates.update("EURUSD", Decimal("1.10000"))
    rates.update("USDJPY", Decimal("150.000"))
    assert rates.rate("JPY", "EUR") == Decimal(1) / Decimal("150.000") / Decimal("1.10000")
    assert rates.route("JPY", "EUR") == (("USDJPY", True), ("EURUSD", True))
    ledger = AccountLedger("a", "EUR", Decimal(100_000), registry, Decimal(0))
    opened = Fill("j1", "a", "USDJPY", Side.BUY, Decimal("1"), Decimal("150.000"), TS, FillKind.OPEN, CloseReason.ENTRY)
    ledger.apply(opened, rates, Decimal("149.000"), None, "sig")
    closed = Fill("j1", "a", "USDJPY", Side.SELL, Decimal("1"), Decimal("151.000"), TS + 1, FillKind.CLOSE,
                  CloseReason.TAKE_PROFIT)
    ledger.apply(closed, rates)  # 100,000 JPY of profit, in EUR at 1 / 150 / 1.10
    assert ledger.closed[0].pnl == (Decimal(100_000) / Decimal("150.000") / Decimal("1.10000")).quantize(Decimal("0.01"))
    with pytest.raises(DomainError, match="no instrument or chain of instruments converts JPY to CHF"):
        rates.rate("JPY", "CHF")


@pytest.mark.parametrize(("moment", "closed"), [
    ((2026, 1, 2, 21, 59), False), ((2026, 1, 2, 22, 0), True),     # winter Friday: closes 17:00 EST = 22:00 UTC
    ((2026, 1, 4, 21, 30), True), ((2026, 1, 4, 22, 0), False),     # winter Sunday: opens 22:00 UTC
    ((2026, 7, 3, 20, 59), False), ((2026, 7, 3, 21, 0), True),     # summer Friday: 17:00 EDT = 21:00 UTC
    ((2026, 7, 5, 20, 59), True), ((2026, 7, 5, 21, 30), False),    # summer Sunday: opens 21:00 UTC
    ((2026, 3, 8, 21, 30), False), ((2026, 11, 1, 21, 30), True),   # the Sundays US clocks change
    ((2026, 7, 4, 12, 0), True), ((2026, 7, 6, 12, 0), False),
])
def test_the_fx_week_turns_at_17_new_york_with_daylight_saving(moment: tuple[int, ...], closed: bool) -> None:
    from datetime import UTC, datetime

    import numpy as np

    from trading.market import datetime_to_ts, fx_market_closed, next_weekend_close_ns

    t = datetime_to_ts(datetime(*moment, tzinfo=UTC))
    assert bool(fx_market_closed(np.array([t, t], np.int64))[0]) is closed
    close = next_weekend_close_ns(t)
    assert bool(fx_market_closed(np.array([close - 1, close], np.int64)).tolist() == [False, True])
