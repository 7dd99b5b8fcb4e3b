"""The intraday breach monitor reads the ledger's own money: the lowest and highest equity of a
batch, and its deepest fall, are exactly what ``AccountLedger.snapshot`` books at that quote, to the
cent, in the account's currency, whatever the instruments' quote currencies (USD, JPY, GBP via EUR)."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pytest

from actors.common import rates_from
from actors.execution import equity_range
from trading.errors import DomainError
from trading.fx import ConversionRates
from trading.ledger import AccountLedger
from trading.market import TickBatch
from trading.orders import Position, Side

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
