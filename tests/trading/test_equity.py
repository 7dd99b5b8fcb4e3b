"""The intraday breach monitor reads the ledger's own money: the lowest and highest equity of a
batch, and its deepest fall, are exactly what ``AccountLedger.snapshot`` books at that quote, to the
cent, in the account's currency, whatever the instruments' quote currencies (USD, JPY, GBP via EUR)."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pytest

from trading.equity import EquityRange, equity_range
from trading.errors import DomainError
from trading.fx import ConversionRates, rates_from
from trading.ledger import AccountLedger
from trading.market import TickBatch
from trading.orders import CloseReason, ExecutionReport, Fill, FillKind, OrderStatus, Position, Side

S = 1_000_000_000
T0 = 1_772_409_600 * S
MIDS = {"EURUSD": 108_000, "GBPUSD": 126_500, "USDJPY": 150_200}  # points


def _random_case(rng: random.Random, registry, currency: str):  # type: ignore[no-untyped-def]
    positions = {}
    for k in range(rng.randint(2, 6)):
        symbol = rng.choice(list(MIDS))
        inst = registry[symbol]
        entry = inst.price_from_points(MIDS[symbol] + rng.randint(-300, 300))
        side = rng.choice([Side.BUY, Side.SELL])
        lots = Decimal(rng.randint(1, 300)) / 100
        positions[f"p{k}"] = Position(f"p{k}", "acc", symbol, side, lots, entry, entry, None, T0, "s")
    n = 150
    inst_idx = np.array([rng.randrange(len(registry)) for _ in range(n)], np.int16)
    bid = np.array([MIDS[registry.by_index(int(i)).symbol] + rng.randint(-400, 400) for i in inst_idx], np.int64)
    ask = bid + np.array([rng.randint(0, 9) for _ in range(n)], np.int64)
    quotes = TickBatch(np.array([T0 + (k + 1) * S for k in range(n)], np.int64), inst_idx, bid, ask, np.ones(n))
    before = {s: (registry[s].price_from_points(p), registry[s].price_from_points(p + 5)) for s, p in MIDS.items()}
    mids = {s: registry[s].price_from_points(p) for s, p in MIDS.items()}
    return positions, quotes, before, rates_from(registry, mids)


def _ledger_equity(registry, positions, quotes, before, rates, currency: str) -> list[Decimal]:  # type: ignore[no-untyped-def]
    """Equity at every quote, as the ledger's snapshot books it."""
    ledger = AccountLedger("acc", currency, Decimal("100000"), registry)
    ledger.positions = dict(positions)
    prices = dict(before)
    out = []
    for k in range(len(quotes)):
        inst = registry.by_index(int(quotes.inst[k]))
        prices[inst.symbol] = (inst.price_from_points(int(quotes.bid[k])), inst.price_from_points(int(quotes.ask[k])))
        out.append(ledger.snapshot(int(quotes.ts[k]), prices, rates).equity)
    return out


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_the_batchs_lowest_highest_and_deepest_fall_are_the_ledgers_own_figures(registry, currency: str) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(f"intraday-{currency}")
    for _ in range(60):
        positions, quotes, before, rates = _random_case(rng, registry, currency)
        got = equity_range(quotes, registry, {"acc": (Decimal("100000"), positions, currency)}, before, (), rates)["acc"]
        equity = _ledger_equity(registry, positions, quotes, before, rates, currency)
        running, deepest = equity[0], Decimal(0)
        for e in equity:
            running = max(running, e)
            deepest = min(deepest, e - running)
        assert (got.low, got.high, got.deepest_drop) == (min(equity), max(equity), deepest)


def test_a_position_that_cannot_be_converted_stops_the_monitor_instead_of_being_left_out(registry) -> None:  # type: ignore[no-untyped-def]
    positions, quotes, before, _ = _random_case(random.Random(1), registry, "EUR")
    positions["jpy"] = Position("jpy", "acc", "USDJPY", Side.BUY, Decimal(1), Decimal("150.200"), Decimal(150), None,
                                T0, "s")
    with pytest.raises(DomainError, match="no quote"):  # no rate known yet: JPY to EUR
        equity_range(quotes, registry, {"acc": (Decimal("100000"), positions, "EUR")}, before, (),
                     ConversionRates(registry))


def test_the_lowest_and_highest_equity_between_snapshots_are_marked_on_every_quote(registry) -> None:  # type: ignore[no-untyped-def]
    t0 = T0
    pos = Position("p", "acc", "EURUSD", Side.BUY, Decimal(1), Decimal("1.10000"), Decimal("1.09000"), None, t0, "s")
    bids = [109900, 109500, 110300]  # floating -100, -500, +300 on 1 lot
    quotes = TickBatch(np.array([t0 + k * S for k in (1, 2, 3)], np.int64), np.zeros(3, np.int16),
                       np.array(bids, np.int64), np.array([b + 10 for b in bids], np.int64), np.ones(3))
    start = {"acc": (Decimal(100_000), {"p": pos}, "USD")}
    ranges = equity_range(quotes, registry, start, {}, (), ConversionRates(registry))
    assert ranges == {"acc": EquityRange(Decimal("99500.00"), Decimal("100300.00"), Decimal(100_000),
                                         Decimal("-400.00"))}, \
        "the dip in the middle of the batch, the high at its end, and the fall from 99,900 to 99,500"
    close = Fill("p", "acc", "EURUSD", Side.SELL, Decimal(1), Decimal("1.09500"), t0 + 2 * S, FillKind.CLOSE,
                 CloseReason.STOP_LOSS, Decimal("3.5"), Decimal(-500))
    report = ExecutionReport("p", "acc", OrderStatus.FILLED, t0 + 2 * S, "stop_loss", close)
    ranges = equity_range(quotes, registry, start, {}, (report,), ConversionRates(registry))
    assert ranges["acc"].low == Decimal("99496.50"), "after the stop: the booked loss, no more floating"


def test_the_highest_balance_between_snapshots_counts_a_take_profit_followed_by_a_stop(registry) -> None:  # type: ignore[no-untyped-def]
    t0 = T0
    a = Position("a", "acc", "EURUSD", Side.BUY, Decimal(1), Decimal("1.10000"), Decimal("1.09000"), None, t0, "s")
    b = Position("b", "acc", "EURUSD", Side.SELL, Decimal(1), Decimal("1.10000"), Decimal("1.10500"), None, t0, "s")
    bids = [110300, 110500]
    quotes = TickBatch(np.array([t0 + k * S for k in (1, 2)], np.int64), np.zeros(2, np.int16),
                       np.array(bids, np.int64), np.array([x for x in bids], np.int64), np.ones(2))
    tp = Fill("a", "acc", "EURUSD", Side.SELL, Decimal(1), Decimal("1.10300"), t0 + S, FillKind.CLOSE,
              CloseReason.TAKE_PROFIT, Decimal(0), Decimal(300))
    sl = Fill("b", "acc", "EURUSD", Side.BUY, Decimal(1), Decimal("1.10500"), t0 + 2 * S, FillKind.CLOSE,
              CloseReason.STOP_LOSS, Decimal(0), Decimal(-500))
    # reported in another order than they filled: the stop's report first
    reports = tuple(ExecutionReport(f.client_order_id, "acc", OrderStatus.FILLED, f.ts_ns, "", f) for f in (sl, tp))
    ranges = equity_range(quotes, registry, {"acc": (Decimal(100_000), {"a": a, "b": b}, "USD")}, {}, reports,
                          ConversionRates(registry))
    assert ranges["acc"].high_balance == Decimal(100_300), "the balance after the take-profit, before the stop"


@pytest.mark.parametrize(("symbol", "currency"), [("EURUSD", "USD"), ("USDJPY", "USD"), ("GBPUSD", "EUR")])
def test_pnl_on_an_array_of_marks_is_the_exact_pnl_in_floats(registry, symbol: str, currency: str) -> None:  # type: ignore[no-untyped-def]
    from trading.ledger import pnl_in_account_ccy

    inst = registry[symbol]
    rates = rates_from(registry, {s: Decimal(p) / 10 ** registry[s].price_precision for s, p in MIDS.items()})
    entry = inst.price_from_points(MIDS[symbol])
    exits = [inst.price_from_points(MIDS[symbol] + d) for d in (-250, 0, 13, 400)]
    marks = pnl_in_account_ccy(inst, Side.SELL, Decimal("1.3"), entry, np.array([float(x) for x in exits]),
                               currency, rates)
    exact = [pnl_in_account_ccy(inst, Side.SELL, Decimal("1.3"), entry, x, currency, rates) for x in exits]
    assert marks.dtype == np.float64
    assert np.allclose(marks, [float(x) for x in exact], rtol=1e-12, atol=1e-9)
    assert marks[0] > 0 > marks[3], "a short gains as the price falls"
