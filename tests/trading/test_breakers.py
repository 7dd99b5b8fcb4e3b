"""The desk's circuit breakers (``trading.breaker.CircuitBreakers``) on their own: the operator's
kill switch, once-a-day counts and the market-hours rule for stale data. The triggers reviewed
batch by batch are also exercised through the agent in tests/actors/test_breaker_and_correlation.py."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from trading.breaker import BreakerLimits, BreakerState, CircuitBreakers, DeskHealth, market_open
from trading.compliance import Headroom
from trading.market import datetime_to_ts
from trading.rules import FirmRules

S = 1_000_000_000
MONDAY_NOON = datetime_to_ts(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
RULES = {"acc": FirmRules("ftmo", Decimal(5), Decimal(10), False, reset_timezone="Europe/Prague", reset_time=time(0, 0))}
ROOM = {"acc": Headroom("acc", MONDAY_NOON, Decimal(5000), Decimal(95_000), Decimal(5000), Decimal(90_000),
                        Decimal(10_000), Decimal(5000), Decimal(10_000))}


def test_market_hours_follow_the_new_york_week() -> None:
    assert market_open(MONDAY_NOON)
    assert not market_open(datetime_to_ts(datetime(2026, 3, 7, 12, 0, tzinfo=UTC)))  # Saturday
    assert not market_open(datetime_to_ts(datetime(2026, 3, 6, 22, 0, tzinfo=UTC)))  # Friday 17:00 New York (EST)
    assert market_open(datetime_to_ts(datetime(2026, 3, 6, 21, 59, tzinfo=UTC)))


def test_the_kill_switch_holds_the_system_tier_open_until_released_then_cools_down() -> None:
    b = CircuitBreakers(RULES, ["EURUSD"], BreakerLimits(cooldown_s=60, probation_s=60))
    event = b.manual_kill(MONDAY_NOON, "fat finger")
    assert event is not None and event.trigger == "kill switch: fat finger" and event.to_state is BreakerState.OPEN
    t = MONDAY_NOON + 100_000 * S
    update = b.review(t, {"EURUSD": t}, ROOM)
    assert update.system_open and b.system.state is BreakerState.OPEN, "no cool-down ends a kill"
    b.release_kill(t)
    assert b.review(t + 59 * S, {"EURUSD": t}, ROOM).system_open, "the cool-down runs from the release"
    b.review(t + 60 * S, {"EURUSD": t}, ROOM)
    assert b.system.state is BreakerState.HALF_OPEN


def test_rejections_trip_an_account_once_per_firm_day() -> None:
    b = CircuitBreakers(RULES, ["EURUSD"], BreakerLimits(rejects_per_day=2, cooldown_s=60, probation_s=60))
    first = b.review(MONDAY_NOON, {"EURUSD": MONDAY_NOON}, ROOM, DeskHealth(rejects=("acc", "acc")))
    assert [e.trigger for e in first.events] == ["2 rejected orders today"]
    t = MONDAY_NOON + S
    again = b.review(t, {"EURUSD": t}, ROOM, DeskHealth(rejects=("acc",) * 5))
    assert again.events == () and again.blocked_accounts == {"acc"}, "already open: no second trip today"
    tuesday = datetime_to_ts(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))  # a new Prague day: counted afresh
    b.review(tuesday, {"EURUSD": tuesday}, ROOM)  # the hold ended at the reset: half-open
    b.review(tuesday + 61 * S, {"EURUSD": tuesday}, ROOM)
    assert b.accounts["acc"].state is BreakerState.CLOSED
    later = tuesday + 62 * S
    tripped = b.review(later, {"EURUSD": later}, ROOM, DeskHealth(rejects=("acc", "acc")))
    assert [e.trigger for e in tripped.events] == ["2 rejected orders today"]
