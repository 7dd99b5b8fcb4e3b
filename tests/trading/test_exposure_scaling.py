"""Exposure scaling (``trading.exposure``): an owner's book, the correlated-gross fit, and intents
allowed, scaled down or vetoed in turn."""

from __future__ import annotations

from decimal import Decimal

from trading.exposure import ExposureLimits, ReturnsWindow, gross_scale, owner_book, scale_intents
from trading.fx import rates_from
from trading.ledger import AccountSnapshot, PositionView
from trading.orders import OrderIntent, Side, Signal

MIDS = {"EURUSD": Decimal("1.10000"), "GBPUSD": Decimal("1.25000"), "USDJPY": Decimal("150.000")}


def snap(account: str, *positions: PositionView) -> AccountSnapshot:
    return AccountSnapshot(account, "USD", 0, Decimal(50_000), Decimal(50_000), Decimal(50_000), positions, 0)


def intent(account: str, lots: str, symbol: str = "EURUSD", side: Side = Side.BUY) -> OrderIntent:
    entry = MIDS[symbol]
    stop = entry - Decimal("0.01") if side is Side.BUY else entry + Decimal("0.01")
    sig = Signal(symbol, side, 0, entry, stop, (entry + (entry - stop) * 2,), 0.8, "spring")
    return OrderIntent(sig, account, Decimal(lots), stop, Decimal(1000) * Decimal(lots))


def test_gross_scale_bisects_to_the_share_that_meets_the_limit() -> None:
    window = ReturnsWindow()  # no returns yet: every pair counts as fully correlated
    assert gross_scale({"EURUSD": 100_000.0}, "GBPUSD", 200_000.0, 400_000.0, 1.0, window) == 1.0
    share = gross_scale({"EURUSD": 100_000.0}, "GBPUSD", 200_000.0, 250_000.0, 1.0, window)
    assert 0.75 - 1e-6 < share <= 0.75
    assert gross_scale({"EURUSD": 100_000.0}, "GBPUSD", 200_000.0, 250_000.0, 0.5, window) == 0.5


def test_an_owners_book_counts_every_account_it_owns_and_the_intents_already_allowed(registry) -> None:  # type: ignore[no-untyped-def]
    held = PositionView("p", "EURUSD", Side.SELL, Decimal(1), Decimal("1.1"), Decimal("1.11"), None,
                        Decimal("1.1"), Decimal(0), Decimal(-1000), 0)
    owners = {"a": "ann", "b": "ann", "c": "bob"}
    snaps = {"a": snap("a", held), "b": snap("b"), "c": snap("c", held)}
    legs, by_inst = owner_book("ann", owners, snaps, [intent("b", "2", "GBPUSD"), intent("c", "5")], registry,
                               rates_from(registry, MIDS), "USD")
    assert by_inst == {"EURUSD": -110_000.0, "GBPUSD": 250_000.0}, "bob's position and intent are not ann's"
    assert legs == [{"EUR": -110_000.0, "USD": 110_000.0}, {"GBP": 250_000.0, "USD": -250_000.0}]


def test_intents_are_allowed_scaled_to_the_lot_grid_or_vetoed_in_turn(registry) -> None:  # type: ignore[no-untyped-def]
    owners = {"a": "desk", "b": "desk"}
    snaps = {"a": snap("a"), "b": snap("b")}
    limits = ExposureLimits(per_currency=100.0, correlated_total=2.0)  # 200,000 USD of correlated gross
    out = scale_intents([intent("a", "1"), intent("b", "1"), intent("b", "1", "GBPUSD")], snaps, registry,
                        rates_from(registry, MIDS), owners, limits, ReturnsWindow())
    assert out[0] == (intent("a", "1"), "within exposure limits")  # 110,000
    scaled = out[1][0]
    assert scaled is not None and scaled.lots == Decimal("0.81"), "90,000 / 110,000 = 0.818..., rounded down"
    assert scaled.risk_amount == Decimal(810) and out[1][1] == "scaled to 0.81 lots by exposure limits"
    assert out[2][0] is None and out[2][1].startswith("GBPUSD exposure at the currency/correlation limit")


def test_a_remembered_correlation_is_the_one_worked_out_and_a_new_bar_forgets_it() -> None:
    import pickle

    from trading.exposure import ReturnsWindow

    w, fresh = ReturnsWindow(50), ReturnsWindow(50)
    for i in range(60):
        for win in (w, fresh):
            win.add("EURUSD", 1.08 + 0.001 * ((i * 7) % 5))
            win.add("GBPUSD", 1.26 + 0.001 * ((i * 3) % 4))
        w.correlation("EURUSD", "GBPUSD")  # remembered, then forgotten at the next bar
    assert w.correlation("EURUSD", "GBPUSD") == fresh._correlation("EURUSD", "GBPUSD") != 1.0
    assert "_memo" not in w.__getstate__(), "what is remembered is not saved with the agent"
    assert pickle.loads(pickle.dumps(w))._memo == {} and pickle.loads(pickle.dumps(w)) == w
