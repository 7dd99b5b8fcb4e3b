"""The breaker agent's triggers and the correlation agent's limits, without Ray."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from actors.breaker import CircuitBreakerAgent
from actors.correlation import CorrelationAgent
from trading.compliance import Headroom
from trading.exposure import ExposureLimits
from trading.ledger import AccountSnapshot
from trading.market import datetime_to_ts
from trading.orders import OrderIntent, Side, Signal
from trading.rules import FirmRules

S = 1_000_000_000
MONDAY_NOON = datetime_to_ts(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
RULES = {"acc": FirmRules("ftmo", Decimal(5), Decimal(10), reset_timezone="Europe/Prague", reset_time=time(0, 0))}


def headroom(daily: str) -> dict[str, Headroom]:
    return {"acc": Headroom("acc", MONDAY_NOON, Decimal(5000), Decimal(daily), Decimal(90_000), Decimal(10_000),
                            Decimal(daily), Decimal(10_000))}


def breaker() -> CircuitBreakerAgent:
    return CircuitBreakerAgent(RULES, ["EURUSD", "GBPUSD"], 0.5, 0.25, 300, 900, 600)


def test_stale_data_in_market_hours_opens_the_system_tier_and_fresh_data_closes_it() -> None:
    agent = breaker()
    ok = agent.on_batch(MONDAY_NOON, {"EURUSD": MONDAY_NOON, "GBPUSD": MONDAY_NOON}, headroom("5000"))
    assert not ok.system_open
    stale = agent.on_batch(MONDAY_NOON + 600 * S, {"EURUSD": MONDAY_NOON + 600 * S}, headroom("5000"))
    assert stale.system_open and "stale data: GBPUSD" in stale.events[0].trigger
    t = MONDAY_NOON + 2000 * S
    both = {"EURUSD": t, "GBPUSD": t}
    assert agent.on_batch(t, both, headroom("5000")).system_open  # half-open: still probing
    later = t + 700 * S
    assert not agent.on_batch(later, {"EURUSD": later, "GBPUSD": later}, headroom("5000")).system_open


def test_quiet_weekend_data_is_not_stale() -> None:
    agent = breaker()
    friday_close = datetime_to_ts(datetime(2026, 3, 6, 20, 59, tzinfo=UTC))
    agent.on_batch(friday_close, {"EURUSD": friday_close, "GBPUSD": friday_close}, headroom("5000"))
    saturday = datetime_to_ts(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))
    assert not agent.on_batch(saturday, {}, headroom("5000")).system_open


def test_low_daily_headroom_blocks_the_account_until_reset_and_flattens_once() -> None:
    agent = breaker()
    update = agent.on_batch(MONDAY_NOON, {"EURUSD": MONDAY_NOON}, headroom("2000"))  # 40 % left
    assert update.blocked_accounts == {"acc"} and update.flatten_accounts == ()
    update = agent.on_batch(MONDAY_NOON + S, {"EURUSD": MONDAY_NOON + S}, headroom("1000"))  # 20 % left
    assert update.flatten_accounts == ("acc",)
    again = agent.on_batch(MONDAY_NOON + 2 * S, {"EURUSD": MONDAY_NOON + 2 * S}, headroom("1000"))
    assert again.flatten_accounts == ()  # once per firm day
    # Healthy again, but the hold lasts until the Prague reset (23:00 UTC), then probation.
    evening = datetime_to_ts(datetime(2026, 3, 2, 22, 0, tzinfo=UTC))
    assert agent.on_batch(evening, {"EURUSD": evening}, headroom("5000")).blocked_accounts == {"acc"}
    after = datetime_to_ts(datetime(2026, 3, 2, 23, 1, tzinfo=UTC))
    agent.on_batch(after, {"EURUSD": after}, headroom("5000"))
    later = after + 700 * S
    assert agent.on_batch(later, {"EURUSD": later}, headroom("5000")).blocked_accounts == frozenset()


def test_exposure_beyond_the_per_currency_limit_is_scaled_then_vetoed(registry) -> None:
    agent = CorrelationAgent(registry, {"a": "desk", "b": "desk"}, ExposureLimits(per_currency=3.0,
                             correlated_total=100.0), 240)
    snaps = {acc: AccountSnapshot(acc, "USD", 0, Decimal(50_000), Decimal(50_000), Decimal(50_000), (), 0)
             for acc in ("a", "b")}
    mids = {"EURUSD": Decimal("1.10000"), "GBPUSD": Decimal("1.25000"), "USDJPY": Decimal("150.000")}
    sig = Signal("EURUSD", Side.BUY, 0, Decimal("1.10000"), Decimal("1.09000"), (Decimal("1.12"),), 0.8, "spring")
    # Limit: 3 x 100,000 combined balance = 300,000 USD per currency; 1 lot of EURUSD is 110,000.
    intents = [OrderIntent(sig, "a", Decimal("2"), sig.stop, Decimal(2000)),
               OrderIntent(sig, "b", Decimal("2"), sig.stop, Decimal(2000))]
    out = agent.check(intents, snaps, mids)
    assert out[0][0] is not None and out[0][0].lots == Decimal("2")
    second = out[1][0]
    assert second is not None and second.lots == Decimal("0.72") and "scaled" in out[1][1]
    full = agent.check([OrderIntent(sig, "a", Decimal("2.72"), sig.stop, Decimal(2720)),  # 299,200 of 300,000
                        OrderIntent(sig, "b", Decimal("1"), sig.stop, Decimal(1000))], snaps, mids)
    assert full[1][0] is None and "exposure at the currency/correlation limit" in full[1][1]
