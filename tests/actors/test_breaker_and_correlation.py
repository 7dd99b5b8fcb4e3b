"""The breaker agent's triggers and the correlation agent's limits, without Ray."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from actors.breaker import CircuitBreakerAgent
from actors.correlation import CorrelationAgent
from trading.breaker import BreakerLimits
from trading.compliance import Headroom
from trading.exposure import ExposureLimits
from trading.ledger import AccountSnapshot
from trading.market import datetime_to_ts
from trading.orders import OrderIntent, Side, Signal
from trading.rules import FirmRules

S = 1_000_000_000
MONDAY_NOON = datetime_to_ts(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
RULES = {"acc": FirmRules("ftmo", Decimal(5), Decimal(10), False, reset_timezone="Europe/Prague", reset_time=time(0, 0))}


def headroom(daily: str) -> dict[str, Headroom]:
    return {"acc": Headroom("acc", MONDAY_NOON, Decimal(5000), Decimal(95_000), Decimal(daily), Decimal(90_000), Decimal(10_000),
                            Decimal(daily), Decimal(10_000))}


def breaker() -> CircuitBreakerAgent:
    return CircuitBreakerAgent(RULES, ["EURUSD", "GBPUSD"], BreakerLimits(0.5, 0.25, 300, 900, 600))


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


def test_books_that_differ_from_the_venue_open_the_system_tier() -> None:
    from trading.breaker import DeskHealth

    agent = breaker()
    t = MONDAY_NOON
    health = DeskHealth(books_differ=("acc p1: the desk holds nothing, rust_exec long 100,000 EURUSD",))
    update = agent.on_batch(t, {"EURUSD": t, "GBPUSD": t}, headroom("5000"), health)
    assert update.system_open and "books differ from the venue: acc p1" in update.events[0].trigger
    assert update.events[0].action == "halt and flatten"


def test_quiet_weekend_data_is_not_stale() -> None:
    agent = breaker()
    friday_close = datetime_to_ts(datetime(2026, 3, 6, 20, 59, tzinfo=UTC))
    agent.on_batch(friday_close, {"EURUSD": friday_close, "GBPUSD": friday_close}, headroom("5000"))
    saturday = datetime_to_ts(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))
    assert not agent.on_batch(saturday, {}, headroom("5000")).system_open


def test_a_winter_sunday_before_the_new_york_open_is_not_stale_and_after_it_is() -> None:
    # The FX week opens at 17:00 New York: 22:00 UTC in winter. At 21:30 UTC the market is shut.
    agent = breaker()
    friday = datetime_to_ts(datetime(2026, 1, 2, 21, 59, tzinfo=UTC))
    agent.on_batch(friday, {"EURUSD": friday, "GBPUSD": friday}, headroom("5000"))
    sunday = datetime_to_ts(datetime(2026, 1, 4, 21, 30, tzinfo=UTC))
    assert not agent.on_batch(sunday, {}, headroom("5000")).system_open, "closed until 22:00 UTC"
    late = datetime_to_ts(datetime(2026, 1, 4, 22, 10, tzinfo=UTC))
    stale = agent.on_batch(late, {}, headroom("5000"))
    assert stale.system_open and "stale data" in stale.events[0].trigger, "open: ten minutes without a tick"


def test_silence_is_counted_in_market_time_so_the_first_seconds_after_the_open_are_not_stale() -> None:
    """The weekend is not silence: at 22:00:02 UTC on a winter Sunday, an instrument whose last tick
    came a minute before Friday's close has been silent 62 s of market time, not 48 hours (a desk
    reviewing in small batches flattened everything there). Stale once 300 s of market time pass."""
    agent = breaker()
    friday = datetime_to_ts(datetime(2026, 1, 2, 21, 59, tzinfo=UTC))
    agent.on_batch(friday, {"EURUSD": friday, "GBPUSD": friday}, headroom("5000"))
    opened = datetime_to_ts(datetime(2026, 1, 4, 22, 0, 2, tzinfo=UTC))
    assert not agent.on_batch(opened, {"EURUSD": opened}, headroom("5000")).system_open
    edge = datetime_to_ts(datetime(2026, 1, 4, 22, 4, tzinfo=UTC))  # 60 + 240 s = 300 s: not over it
    assert not agent.on_batch(edge, {"EURUSD": edge}, headroom("5000")).system_open
    after = edge + S
    stale = agent.on_batch(after, {"EURUSD": after}, headroom("5000"))
    assert stale.system_open and "stale data: GBPUSD" in stale.events[0].trigger


def test_a_system_breaker_tripped_on_friday_evening_is_on_probation_after_sundays_open() -> None:
    """Its cool-down may end over the weekend, but probation is market time: at Sunday's first
    ticks the desk is still halted, and it resumes ten minutes (probation) after the open."""
    agent = breaker()  # stale after 300 s, cool-down 900 s, probation 600 s
    friday = datetime_to_ts(datetime(2026, 3, 6, 21, 40, tzinfo=UTC))  # 16:40 New York (EST)
    agent.on_batch(friday, {"EURUSD": friday, "GBPUSD": friday}, headroom("5000"))
    silent = friday + 600 * S  # GBPUSD silent ten minutes of market time
    assert agent.on_batch(silent, {"EURUSD": silent}, headroom("5000")).system_open
    opened = datetime_to_ts(datetime(2026, 3, 8, 21, 0, 5, tzinfo=UTC))  # Sunday 17:00:05 New York (EDT)
    back = agent.on_batch(opened, {"EURUSD": opened, "GBPUSD": opened}, headroom("5000"))
    assert back.system_open, "resumed at the open with no probation: the weekend counted as healthy data"
    assert [e.to_state.name for e in back.events] == ["HALF_OPEN"]
    later = opened + 600 * S
    done = agent.on_batch(later, {"EURUSD": later, "GBPUSD": later}, headroom("5000"))
    assert not done.system_open
    assert [e.ts_ns for e in done.events] == [datetime_to_ts(datetime(2026, 3, 8, 21, 10, tzinfo=UTC))]


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


def test_without_a_daily_rule_the_account_tier_watches_the_days_share_of_the_maximum_loss() -> None:
    from trading.presets import load_preset

    agent = CircuitBreakerAgent({"acc": load_preset("topstepx.combine")}, ["EURUSD"], BreakerLimits(0.5, 0.25, 300, 900, 600))

    def room(left: str, at: int) -> dict[str, Headroom]:
        return {"acc": Headroom("acc", at, None, None, None, Decimal(48_000), Decimal(left), None, Decimal(left))}

    assert agent.on_batch(MONDAY_NOON, {"EURUSD": MONDAY_NOON}, room("2000", MONDAY_NOON)).blocked_accounts == frozenset()
    t = MONDAY_NOON + S
    update = agent.on_batch(t, {"EURUSD": t}, room("900", t))  # 45 % of the day's 2,000 left
    assert update.blocked_accounts == {"acc"} and "max-loss headroom 45% of the day's room" in update.events[0].trigger
    t += S
    assert agent.on_batch(t, {"EURUSD": t}, room("400", t)).flatten_accounts == ("acc",)  # 20 %


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


def fresh(t: int) -> dict[str, int]:
    return {"EURUSD": t, "GBPUSD": t}


def test_a_spread_blowout_opens_the_system_tier_and_it_recovers_through_half_open() -> None:
    from trading.breaker import BreakerLimits, DeskHealth

    agent = CircuitBreakerAgent(RULES, ["EURUSD", "GBPUSD"], BreakerLimits(cooldown_s=60, probation_s=60))
    normal = DeskHealth()  # no tick's spread blew out (the desk's SpreadWatch finds those)
    for k in range(5):
        assert not agent.on_batch(MONDAY_NOON + k * S, fresh(MONDAY_NOON + k * S), headroom("5000"), normal).system_open
    t = MONDAY_NOON + 10 * S
    blown = agent.on_batch(t, fresh(t), headroom("5000"), DeskHealth(spreads=(("EURUSD", 200, 7.0),)))
    assert blown.system_open and "spread blowout: EURUSD 200 points" in blown.events[0].trigger
    assert blown.events[0].action == "halt and flatten"
    states = []
    for k in range(1, 4):
        t2 = t + k * 61 * S
        update = agent.on_batch(t2, fresh(t2), headroom("5000"), normal)
        states += [e.to_state.value for e in update.events]
    assert states == ["half_open", "closed"]


def test_an_unreachable_venue_and_an_operator_kill_switch_open_the_system_tier() -> None:
    from trading.breaker import BreakerLimits, DeskHealth

    agent = CircuitBreakerAgent(RULES, ["EURUSD", "GBPUSD"], BreakerLimits(cooldown_s=60, probation_s=60))
    down = agent.on_batch(MONDAY_NOON, fresh(MONDAY_NOON), headroom("5000"),
                          DeskHealth(venue_ok=False, venue_error="connection refused"))
    assert down.system_open and "venue unreachable: connection refused" in down.events[0].trigger
    agent = CircuitBreakerAgent(RULES, ["EURUSD", "GBPUSD"], BreakerLimits(cooldown_s=60, probation_s=60))
    killed = DeskHealth(kill_switch="venue halted by an operator")
    assert agent.on_batch(MONDAY_NOON, fresh(MONDAY_NOON), headroom("5000"), killed).system_open
    much_later = MONDAY_NOON + 10_000 * S
    assert agent.on_batch(much_later, fresh(much_later), headroom("5000"), killed).system_open, "held while halted"
    released = much_later + S
    assert agent.on_batch(released, fresh(released), headroom("5000"), DeskHealth()).system_open, "cool-down first"
    t = released + 61 * S
    assert agent.on_batch(t, fresh(t), headroom("5000"), DeskHealth()).system_open  # half-open
    t += 61 * S
    assert not agent.on_batch(t, fresh(t), headroom("5000"), DeskHealth()).system_open


def test_losing_streaks_slippage_and_rejections_stop_an_account() -> None:
    from trading.breaker import BreakerLimits, DeskHealth

    def tripped(health: DeskHealth) -> tuple[frozenset[str], str]:
        agent = CircuitBreakerAgent(RULES, ["EURUSD"], BreakerLimits(consecutive_losses=3, slippage_points=10,
                                                                    slippage_window=3, rejects_per_day=2))
        update = agent.on_batch(MONDAY_NOON, {"EURUSD": MONDAY_NOON}, headroom("5000"), health)
        return update.blocked_accounts, update.events[0].trigger if update.events else ""

    t = MONDAY_NOON
    assert tripped(DeskHealth(losses=(("acc", True, t),) * 3)) == ({"acc"}, "3 losing trades in a row")
    assert tripped(DeskHealth(losses=(("acc", True, t), ("acc", False, t), ("acc", True, t))))[0] == frozenset()
    blocked, why = tripped(DeskHealth(slippage=(("acc", 12, t),) * 3))
    assert blocked == {"acc"} and why.startswith("abnormal slippage: 12.0 points")
    assert tripped(DeskHealth(rejects=(("acc", t), ("acc", t)))) == ({"acc"}, "2 rejected orders today")


def test_the_agent_tier_ignores_and_restarts_a_failing_agent_then_recovers() -> None:
    from trading.breaker import AgentHealth, BreakerLimits, DeskHealth

    agent = CircuitBreakerAgent(RULES, ["EURUSD"], BreakerLimits(cooldown_s=60, probation_s=60, agent_latency_ms=100))
    sick = DeskHealth(agents=(("analysis-0", AgentHealth(errors=2)), ("risk", AgentHealth(250.0)),
                              ("style", AgentHealth(heartbeat_ok=False)), ("compliance", AgentHealth(5.0))))
    update = agent.on_batch(MONDAY_NOON, {"EURUSD": MONDAY_NOON}, headroom("5000"), sick)
    assert update.ignored_agents == {"analysis-0", "risk", "style"}
    assert sorted(update.restart_agents) == ["analysis-0", "risk", "style"]
    triggers = {e.scope: e.trigger for e in update.events}
    assert triggers == {"analysis-0": "2 errors", "risk": "mean latency 250 ms", "style": "missed heartbeat"}
    well = DeskHealth(agents=tuple((n, AgentHealth(5.0)) for n in ("analysis-0", "risk", "style")))
    t = MONDAY_NOON + 61 * S
    update = agent.on_batch(t, {"EURUSD": t}, headroom("5000"), well)
    assert update.ignored_agents == frozenset() and update.restart_agents == ()  # half-open: outputs used again
    t += 61 * S
    update = agent.on_batch(t, {"EURUSD": t}, headroom("5000"), well)
    assert {e.to_state.value for e in update.events} == {"closed"}


def test_a_dip_between_snapshots_counts_as_a_breach() -> None:
    from dataclasses import replace as dc_replace

    from trading.compliance import AccountRules, CostAllowance
    from trading.fx import ConversionRates

    acc = AccountRules(RULES["acc"], CostAllowance(), {})
    snap = AccountSnapshot("acc", "USD", MONDAY_NOON, Decimal(100_000), Decimal(100_000), Decimal(100_000), (), 0)
    acc.observe(snap, ConversionRates({}))
    acc.observe(dc_replace(snap, ts_ns=MONDAY_NOON + S, min_equity=Decimal(94_000)), ConversionRates({}))
    assert len(acc.state.breaches) == 1 and acc.state.min_daily_headroom == Decimal(-1000)


def test_a_dip_before_a_reset_is_judged_against_the_day_it_happened_in() -> None:
    from dataclasses import replace as dc_replace

    from trading.compliance import AccountRules, CostAllowance
    from trading.fx import ConversionRates

    acc = AccountRules(RULES["acc"], CostAllowance(), {})
    day = AccountSnapshot("acc", "USD", MONDAY_NOON, Decimal(100_000), Decimal(100_000), Decimal(100_000), (), 0)
    acc.observe(day, ConversionRates({}))
    reset = datetime_to_ts(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))  # midnight in Prague
    # The day ended up 4,000 after dipping 4,000 below its reference: inside the 5,000 limit.
    acc.observe(dc_replace(day, ts_ns=reset, balance=Decimal(104_000), equity=Decimal(104_000),
                           min_equity=Decimal(96_000)), ConversionRates({}))
    assert acc.state.breaches == [] and acc.state.min_daily_headroom == Decimal(1000)
