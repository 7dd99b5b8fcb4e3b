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
    first = b.review(MONDAY_NOON, {"EURUSD": MONDAY_NOON}, ROOM, DeskHealth(rejects=(("acc", MONDAY_NOON),) * 2))
    assert [e.trigger for e in first.events] == ["2 rejected orders today"]
    t = MONDAY_NOON + S
    again = b.review(t, {"EURUSD": t}, ROOM, DeskHealth(rejects=(("acc", t),) * 5))
    assert again.events == () and again.blocked_accounts == {"acc"}, "already open: no second trip today"
    tuesday = datetime_to_ts(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))  # a new Prague day: counted afresh
    b.review(tuesday, {"EURUSD": tuesday}, ROOM)  # the hold ended at the reset: half-open
    b.review(tuesday + 61 * S, {"EURUSD": tuesday}, ROOM)
    assert b.accounts["acc"].state is BreakerState.CLOSED
    later = tuesday + 62 * S
    tripped = b.review(later, {"EURUSD": later}, ROOM, DeskHealth(rejects=(("acc", later),) * 2))
    assert [e.trigger for e in tripped.events] == ["2 rejected orders today"]


def test_a_silence_is_found_where_it_passes_the_limit_and_where_the_tick_that_ends_it_came() -> None:
    import numpy as np

    from trading.breaker import silences

    last = MONDAY_NOON
    stamps = np.array([last + 10 * S, last + 410 * S, last + 420 * S], np.int64)  # a 400 s hole
    assert silences(last, stamps, 0, 300 * S, last + 430 * S) == [(last + 310 * S + 1, 1)]
    # still silent where what is known ends: the instant it passed the limit, and no tick yet
    assert silences(last, stamps[:1], 0, 300 * S, last + 430 * S) == [(last + 310 * S + 1, None)]
    assert silences(last, stamps[:1], 0, 300 * S, last + 310 * S) == [], "300 s silent is not over the limit"
    # no tick before (0): not stale before its first tick, however late that comes
    late = stamps + 1000 * S
    assert silences(0, late, 0, 300 * S, int(late[-1])) == [(last + 1310 * S + 1, 1)]


def test_a_quote_made_from_a_bar_stands_for_a_quarter_of_the_bar_and_the_weekend_is_not_silence() -> None:
    import numpy as np

    from trading.breaker import silences

    quarter = 900 * S  # hourly bars: a quote every 15 minutes
    stamps = MONDAY_NOON + np.arange(1, 9, dtype=np.int64) * quarter
    assert silences(MONDAY_NOON, stamps, quarter, 300 * S, int(stamps[-1]) + quarter) == []
    missing = np.delete(stamps, [3, 4, 5, 6])  # a bar missing: 75 minutes between two quotes
    assert silences(MONDAY_NOON, missing, quarter, 300 * S, int(missing[-1])) == [
        (int(missing[2]) + quarter + 300 * S + 1, 3)]
    friday = datetime_to_ts(datetime(2026, 3, 6, 21, 58, tzinfo=UTC))  # two minutes before the close (EST)
    sunday = datetime_to_ts(datetime(2026, 3, 8, 21, 2, tzinfo=UTC))  # two minutes after the open (EDT)
    assert silences(friday, np.array([sunday], np.int64), 0, 300 * S, sunday) == []
    later = sunday + 60 * S  # 2 + 3 minutes: silent 300 s of market time, then over it
    assert silences(friday, np.array([later + S], np.int64), 0, 300 * S, later + S) == [(later + 1, 0)]


def test_the_spacing_of_quotes_made_from_bars_is_a_quarter_of_each_instruments_bar() -> None:
    import numpy as np

    from trading.intrabar import bar_path, bar_quotes, quote_spacing_ns
    from trading.market import TickBatch

    def quotes(inst: int, bars: int, span: int) -> TickBatch:
        start = MONDAY_NOON + np.arange(bars, dtype=np.int64) * span
        price = np.full(bars, 110_000, np.int64)
        ts, bid, ask, vol = bar_quotes(start, span, price, price + 5, price - 5, price, np.ones(bars), np.ones(bars, np.int64))
        return TickBatch(ts, np.full(len(ts), inst, np.int16), bid, ask, vol, bar_path(bars))

    hourly, minutes = quotes(0, 10, 3600 * S), quotes(1, 10, 60 * S)
    both = TickBatch.concat([hourly, minutes])
    assert quote_spacing_ns(both.take(np.argsort(both.ts, kind="stable"))) == {0: 900 * S, 1: 15 * S}
    ticks = TickBatch(hourly.ts, hourly.inst, hourly.bid, hourly.ask, hourly.volume)  # no path: ticks
    assert quote_spacing_ns(ticks) == {}


def test_an_account_held_to_the_reset_resumes_there_however_often_it_was_reviewed_before() -> None:
    """Its daily headroom fell at noon: no new positions until the firm's next reset (midnight in
    Prague, 23:00 UTC). A review a minute before the reset still sees it low; that must not push the
    cool-down (15 minutes) past the reset, or an account reviewed more often (a backtest in small
    batches) would trade later than one reviewed less. Before, it resumed at 23:14 instead of 23:00."""
    low = {"acc": Headroom("acc", MONDAY_NOON, Decimal(5000), Decimal(95_000), Decimal(1000), Decimal(90_000),
                           Decimal(10_000), Decimal(1000), Decimal(10_000))}
    reset = datetime_to_ts(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))
    states = []
    for reviews in ([MONDAY_NOON], [MONDAY_NOON, reset - 60 * S]):
        b = CircuitBreakers(RULES, ["EURUSD"], BreakerLimits(cooldown_s=900, probation_s=600))
        for t in reviews:
            assert "acc" in b.review(t, {"EURUSD": t}, low).blocked_accounts
        after = b.review(reset + S, {"EURUSD": reset + S}, ROOM)
        states.append([(e.ts_ns, e.to_state) for e in after.events])
    assert states[0] == states[1] == [(reset, BreakerState.HALF_OPEN)]


def test_a_spread_blows_out_against_the_median_of_its_instruments_last_block_however_the_ticks_come() -> None:
    import numpy as np

    from trading.breaker import SpreadWatch

    rng = np.random.default_rng(7)
    spreads = rng.integers(5, 12, 1000).astype(np.int64)
    spreads[[50, 420, 421, 777]] = [400, 300, 90, 200]  # 90 is under 15 x the median (about 8)
    whole = SpreadWatch(15.0, block=100)
    found = whole.scan(0, spreads)
    assert [(i, s) for i, s, _ in found] == [(420, 300), (777, 200)], "the first block (50) is not judged"
    assert all(7 <= ref <= 9 for _, _, ref in found)
    pieces, at, seen = SpreadWatch(15.0, block=100), 0, []
    for size in (1, 3, 99, 250, 7, 640):  # the same ticks in other batches: the same blowouts
        seen += [(at + i, s, ref) for i, s, ref in pieces.scan(0, spreads[at:at + size])]
        at += size
    assert at == len(spreads) and seen == found
    assert SpreadWatch(15.0, block=100).scan(1, np.zeros(300, np.int64)) == [], "a zero median judges nothing"


def test_a_trip_after_a_cool_down_fell_due_first_stamps_the_moves_that_fell_due() -> None:
    """GBPUSD is stale at noon; EURUSD at 12:50, after the cool-down (15 min) and probation (10 min)
    of the first trip fell due. With or without a healthy review in between, the events are the same:
    before, with none, the second trip only pushed the first's cool-down on and was not recorded."""
    logs = []
    for between in ([], [MONDAY_NOON + 2000 * S]):
        b = CircuitBreakers(RULES, ["EURUSD", "GBPUSD"], BreakerLimits(cooldown_s=900, probation_s=600))
        b.review(MONDAY_NOON - 400 * S, {"EURUSD": MONDAY_NOON - 400 * S, "GBPUSD": MONDAY_NOON - 400 * S}, ROOM)
        first = b.review(MONDAY_NOON, {"EURUSD": MONDAY_NOON}, ROOM)
        assert first.next_due_ns == MONDAY_NOON + 900 * S, "the cool-down's end"
        for t in between:
            b.review(t, {"EURUSD": t, "GBPUSD": t}, ROOM)
        t = MONDAY_NOON + 3000 * S  # EURUSD's last tick 400 s before: stale
        b.review(t, {"GBPUSD": t, "EURUSD": t - 400 * S}, ROOM)
        b.review(t + 2000 * S, {"EURUSD": t + 2000 * S, "GBPUSD": t + 2000 * S}, ROOM)
        logs.append([((e.ts_ns - MONDAY_NOON) // S, e.to_state.name, e.trigger) for e in b.system.events])
    assert logs[0] == logs[1] == [
        (0, "OPEN", "stale data: GBPUSD"), (900, "HALF_OPEN", "cooldown elapsed"), (1500, "CLOSED", "probation passed"),
        (3000, "OPEN", "stale data: EURUSD"), (3900, "HALF_OPEN", "cooldown elapsed"),
        (4500, "CLOSED", "probation passed")]


def test_a_review_says_when_the_next_move_falls_due() -> None:
    from trading.breaker import NEVER

    b = CircuitBreakers(RULES, ["EURUSD"], BreakerLimits(cooldown_s=900, probation_s=600))
    assert b.review(MONDAY_NOON, {"EURUSD": MONDAY_NOON}, ROOM).next_due_ns == NEVER
    b.manual_kill(MONDAY_NOON, "fat finger")
    assert b.review(MONDAY_NOON + S, {"EURUSD": MONDAY_NOON + S}, ROOM).next_due_ns == 2**62, "a kill holds"
    b.release_kill(MONDAY_NOON + S)
    update = b.review(MONDAY_NOON + 2 * S, {"EURUSD": MONDAY_NOON + 2 * S}, ROOM)
    assert update.next_due_ns == MONDAY_NOON + 901 * S  # the cool-down from the release
    t = MONDAY_NOON + 1000 * S
    assert b.review(t, {"EURUSD": t}, ROOM).next_due_ns == MONDAY_NOON + 1501 * S  # half-open since 901 s: probation


def test_a_blowout_becomes_the_reference_only_once_it_has_lasted_and_no_spell_halts_for_good() -> None:
    """Five blocks of 100 ticks: a blowout enters its block capped at 15x the reference and moves the
    median of the blocks' medians only once it has filled three of the five. A narrow spell moves it
    no sooner, and normal spreads after it bring it back; locked quotes (spread 0) are left out."""
    import numpy as np

    from trading.breaker import SpreadWatch

    spreads = np.full(1600, 10, np.int64)
    spreads[700:1400] = 300  # wide for 700 ticks
    found = SpreadWatch(15.0, block=100, blocks=5).scan(0, spreads)
    assert [i for i, _, _ in found] == list(range(700, 1000)) and {ref for _, _, ref in found} == {10.0}
    narrow = np.full(3000, 10, np.int64)
    narrow[500:1000] = 1  # five blocks at 1 point, then the usual 10 points: 10x, over a factor of 3
    watch = SpreadWatch(3.0, block=100, blocks=5)
    blown = [i for i, _, _ in watch.scan(0, narrow)]
    assert blown and blown[0] == 1000 and blown[-1] < 2000, "narrow spreads became the reference, and then 10 again"
    assert watch.reference[0] == 10.0
    locked = np.full(900, 10, np.int64)
    locked[100:400] = 0  # quotes locked (bid = ask) for three blocks, then a blowout
    locked[600:650] = 500
    assert [i for i, _, _ in SpreadWatch(15.0, block=100, blocks=5).scan(0, locked)] == list(range(600, 650))


def test_a_silence_that_goes_on_past_the_cool_down_keeps_the_breaker_open_to_its_end() -> None:
    """GBPUSD is stale at noon and ticks again two hours later, with no review in between: its
    silence held all along, so the cool-down runs from its return (no half-open in between)."""
    b = CircuitBreakers(RULES, ["EURUSD", "GBPUSD"], BreakerLimits(cooldown_s=900, probation_s=600))
    b.review(MONDAY_NOON - 400 * S, {"EURUSD": MONDAY_NOON - 400 * S, "GBPUSD": MONDAY_NOON - 400 * S}, ROOM)
    b.review(MONDAY_NOON, {"EURUSD": MONDAY_NOON}, ROOM)
    back = MONDAY_NOON + 7200 * S
    assert b.review(back, {"EURUSD": back}, ROOM).events == (), "still silent at its return: held open"
    b.review(back + 2000 * S, {"EURUSD": back + 2000 * S, "GBPUSD": back + 2000 * S}, ROOM)
    assert [((e.ts_ns - MONDAY_NOON) // S, e.to_state.name) for e in b.system.events] == [
        (0, "OPEN"), (8100, "HALF_OPEN"), (8700, "CLOSED")]


def test_a_losing_streak_trips_at_the_trade_that_completed_it_however_late_it_is_reviewed() -> None:
    """The fifth loss in a row closed at 22:58 UTC, two minutes before the firm's reset (midnight in
    Prague). Reviewed at once or at 01:00 the next day, the account is held from 22:58 to the end of
    its cool-down (23:13; the reset comes first), then on probation until 23:23."""
    late = datetime_to_ts(datetime(2026, 3, 2, 22, 58, tzinfo=UTC))
    losses = DeskHealth(losses=tuple(("acc", True, late - k * 60 * S) for k in range(4, -1, -1)))
    logs = []
    for seen in (late, datetime_to_ts(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))):
        b = CircuitBreakers(RULES, ["EURUSD"], BreakerLimits(cooldown_s=900, probation_s=600))
        b.review(seen, {"EURUSD": seen}, ROOM, losses)
        t = datetime_to_ts(datetime(2026, 3, 3, 2, 0, tzinfo=UTC))
        b.review(t, {"EURUSD": t}, ROOM)
        logs.append([(e.ts_ns, e.to_state.name) for e in b.accounts["acc"].events])
    assert logs[0] == logs[1] == [(late, "OPEN"), (late + 900 * S, "HALF_OPEN"), (late + 1500 * S, "CLOSED")]


def test_a_venue_down_and_an_agent_failing_at_every_review_hold_their_breakers_however_far_apart_the_reviews() -> None:
    """Reviews 600 s or 1,800 s apart (the cool-down is 900 s) both see the venue unreachable and an
    agent erroring each time: no recovery is recorded in between, and the agent is restarted once.
    Before, the wider spacing recorded half-open, probation passed and a new trip at each review."""
    from trading.breaker import AgentHealth

    logs = []
    for gap in (600, 1800):
        b = CircuitBreakers(RULES, ["EURUSD"], BreakerLimits(cooldown_s=900, probation_s=600))
        down = DeskHealth(venue_ok=False, venue_error="connection refused", agents=(("risk", AgentHealth(errors=1)),))
        restarts = 0
        for t in range(0, 3601, gap):
            at = MONDAY_NOON + t * S
            restarts += len(b.review(at, {"EURUSD": at}, ROOM, down).restart_agents)
        well = MONDAY_NOON + 3600 * S + 2000 * S
        b.review(well, {"EURUSD": well}, ROOM, DeskHealth(agents=(("risk", AgentHealth()),)))
        logs.append((restarts, [(e.to_state.name, e.trigger.split(":")[0]) for e in b.system.events],
                     [e.to_state.name for e in b.agents["risk"].events]))
    assert logs[0] == logs[1] == (1, [("OPEN", "venue unreachable"), ("HALF_OPEN", "cooldown elapsed"),
                                      ("CLOSED", "probation passed")], ["OPEN", "HALF_OPEN", "CLOSED"])


def test_a_streak_before_the_reset_and_a_headroom_fallen_after_it_trip_as_two_reviews_would() -> None:
    """The fifth loss closed at 22:55 UTC; the firm resets at 23:00; at 23:30 the day's headroom is
    low. One review at 23:30 records what a review at each would: the streak at 22:55, its cool-down
    and probation, then the headroom at 23:30, held to the next reset."""
    streak = datetime_to_ts(datetime(2026, 3, 2, 22, 55, tzinfo=UTC))
    later = datetime_to_ts(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    losses = DeskHealth(losses=tuple(("acc", True, streak - k * 60 * S) for k in range(4, -1, -1)))
    low = {"acc": Headroom("acc", later, Decimal(5000), Decimal(95_000), Decimal(2000), Decimal(90_000),
                           Decimal(10_000), Decimal(2000), Decimal(10_000))}
    logs = []
    for reviews in ([(later, losses)], [(streak, losses), (later, DeskHealth())]):
        b = CircuitBreakers(RULES, ["EURUSD"], BreakerLimits(cooldown_s=900, probation_s=600))
        for t, health in reviews:
            b.review(t, {"EURUSD": t}, low if t == later else ROOM, health)
        logs.append([(e.ts_ns, e.to_state.name, e.trigger) for e in b.accounts["acc"].events])
    assert logs[0] == logs[1] == [(streak, "OPEN", "5 losing trades in a row"),
                                  (streak + 900 * S, "HALF_OPEN", "cooldown elapsed"),
                                  (streak + 1500 * S, "CLOSED", "probation passed"),
                                  (later, "OPEN", "daily headroom 40% of the day's room")]


def test_a_holiday_in_the_market_closures_is_not_a_stale_feed_and_proves_nothing_in_probation() -> None:
    """Spot FX closes for Christmas Day from 22:00 UTC on Thursday 24 December 2026 (the shipped
    closures) and the weekend follows: no tick until Sunday 22:00. Without the closures the system tier
    opened 5 minutes into the break, halting and flattening the desk; with them it stays closed, while
    a symbol the break does not close (a closures file naming EURUSD only) is still stale."""
    import numpy as np

    from trading.breaker import silences
    from trading.closures import MarketClosure, MarketClosures
    from trading.presets import PRESET_DIR

    closures = MarketClosures.from_csv(PRESET_DIR / "market_closures.csv")
    last = datetime_to_ts(datetime(2026, 12, 24, 21, 59, 30, tzinfo=UTC))
    back = datetime_to_ts(datetime(2026, 12, 27, 22, 0, 5, tzinfo=UTC))
    stamps = np.array([back], np.int64)
    assert silences(last, stamps, 0, 300 * S, back) == [(datetime_to_ts(datetime(2026, 12, 24, 22, 4, 30, tzinfo=UTC)) + 1, 0)]
    assert silences(last, stamps, 0, 300 * S, back, closures.spans(("EURUSD",))) == []
    seen = {"EURUSD": last, "GBPUSD": last}
    noon = datetime_to_ts(datetime(2026, 12, 25, 12, 0, tzinfo=UTC))
    blind = CircuitBreakers(RULES, ["EURUSD", "GBPUSD"], BreakerLimits(cooldown_s=900, probation_s=600))
    assert blind.review(noon, seen, ROOM).system_open
    b = CircuitBreakers(RULES, ["EURUSD", "GBPUSD"], BreakerLimits(cooldown_s=900, probation_s=600), closures)
    assert not b.review(noon, seen, ROOM).system_open and not b.system.events
    euro_only = MarketClosures([MarketClosure(last + 30 * S, back - 5 * S, frozenset({"EURUSD"}), "euro holiday")])
    partly = CircuitBreakers(RULES, ["EURUSD", "GBPUSD"], BreakerLimits(cooldown_s=900, probation_s=600), euro_only)
    update = partly.review(noon, seen, ROOM)
    assert update.system_open and "stale data: GBPUSD" in partly.system.events[0].trigger
    # probation counts market time: tripped an hour before the break, its 10 minutes end after the reopening
    b.system.trip(last - 3600 * S, "kill switch: test", "halt", 0)
    assert b.system.due_ns() == last - 3600 * S + 900 * S
    b.system.tick(last - 3600 * S + 900 * S, True)
    assert b.system.due_ns() == last - 3600 * S + 1500 * S  # 25 min after the trip: before the break
    b.system.trip(last - 300 * S, "kill switch: test", "halt", 0)
    b.system.tick(last - 300 * S + 900 * S, True)  # half-open from 22:09:30, inside the break
    assert b.system.due_ns() == datetime_to_ts(datetime(2026, 12, 27, 22, 10, tzinfo=UTC))


def test_a_resumed_breaker_agent_reads_the_market_closures_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from actors.breaker import CircuitBreakerAgent

    path = tmp_path / "closures.csv"
    path.write_text("start_utc,end_utc,symbols,title\n")
    agent = CircuitBreakerAgent(RULES, ["EURUSD"], BreakerLimits(), str(path))
    assert agent.breakers.closed == {"EURUSD": ()} and agent.breakers.system.closed == ()
    path.write_text("start_utc,end_utc,symbols,title\n2026-12-24T22:00:00Z,2026-12-25T22:00:00Z,*,Christmas\n")
    agent.refresh(RULES, ["EURUSD"], BreakerLimits(), str(path))
    span = (datetime_to_ts(datetime(2026, 12, 24, 22, tzinfo=UTC)), datetime_to_ts(datetime(2026, 12, 25, 22, tzinfo=UTC)))
    assert agent.breakers.closed == {"EURUSD": (span,)}
    assert agent.breakers.system.closed == agent.breakers.accounts["acc"].closed == (span,)
