"""The pass-odds Monte Carlo against the gambler's-ruin formula, an exact enumeration written
apart from it, and hand-worked paths of the firms' floors and the best-day rule."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from trading.errors import InvalidValue
from trading.ledger import ClosedTrade
from trading.orders import CloseReason, Side
from trading.passodds import ChallengeState, DailyOutcomes, best_fraction, pass_odds, simulate, trading_days_left
from trading.rules import Breach, FirmRules, MaxLossKind, Objectives


def rules(**kw: object) -> FirmRules:
    base: dict[str, object] = {"name": "t.challenge", "daily_loss_pct": Decimal(5), "max_loss_pct": Decimal(10),
                               "lock_at_initial": False}
    base.update(kw)
    return FirmRules(**base)  # type: ignore[arg-type]


def coin(p: float) -> DailyOutcomes:
    """A day of +1R with probability p, else -1R (one trade a day)."""
    return DailyOutcomes.given([(1.0, 0.0, 1.0, True, p), (-1.0, -1.0, 0.0, True, 1 - p)])


def ruin_pass(p: float, a: int, b: int) -> float:
    """Gambler's ruin: the chance to gain ``a`` steps before losing ``b``, each step +1 with p."""
    r = (1 - p) / p
    return (1 - r**b) / (1 - r ** (a + b))


@pytest.mark.parametrize(("p", "fraction"), [(0.55, 0.01), (0.5, 0.01), (0.45, 0.02)])
def test_pass_and_ruin_match_the_gamblers_ruin_formula_within_one_point(p: float, fraction: float) -> None:
    # target 10 %, maximum loss 10 % static, equity on the floor breaks it; the daily 5 % never binds
    firm = rules(objectives=Objectives(profit_target_pct=Decimal(10)), breach=Breach.AT_OR_BELOW)
    steps = round(0.10 / fraction)
    expected = 0.5 if p == 0.5 else ruin_pass(p, steps, steps)
    [odds] = simulate(firm, ChallengeState.start(days_left=5_000), coin(p), [fraction], paths=40_000, seed=7)
    assert odds.p_undecided < 0.001
    assert odds.p_pass == pytest.approx(expected, abs=0.01)
    assert odds.p_fail["max_loss"] == pytest.approx(1 - expected, abs=0.01)
    assert odds.p_fail["daily_loss"] == 0.0


def test_a_favourable_game_passes_more_often_with_smaller_risk_as_the_formula_says() -> None:
    firm = rules(objectives=Objectives(profit_target_pct=Decimal(10)))
    curve = simulate(firm, ChallengeState.start(days_left=20_000), coin(0.53), [0.005, 0.01, 0.02],
                     paths=20_000, seed=3)
    for odds in curve:
        n = round(0.10 / odds.risk_fraction)
        assert odds.p_pass == pytest.approx(ruin_pass(0.53, n, n), abs=0.01)
    assert curve[0].p_pass > curve[1].p_pass > curve[2].p_pass
    assert best_fraction(curve) == 0.005


# -- exact enumeration, written apart from the Monte Carlo ------------------------------------------

DAYS = [  # (close, low, high, traded, probability) in R
    (Fraction(2), Fraction(0), Fraction(2), True, Fraction(3, 10)),
    (Fraction(-1), Fraction(-3, 2), Fraction(1, 2), True, Fraction(4, 10)),
    (Fraction(0), Fraction(0), Fraction(0), False, Fraction(3, 10)),
]


def enumerate_exactly(breach_on_floor: bool, f: Fraction, days: int) -> dict[str, Fraction]:
    """Every sequence of days, in exact fractions: target 3 %, at least 2 trading days, daily loss
    1.5 % of the initial balance, maximum loss 2 % static."""
    out = {"pass": Fraction(0), "daily_loss": Fraction(0), "max_loss": Fraction(0), "time_limit": Fraction(0)}

    def broken(headroom: Fraction) -> bool:
        return headroom < 0 or (headroom == 0 and breach_on_floor)

    for seq in itertools.product(DAYS, repeat=days):
        prob, balance, traded, outcome = Fraction(1), Fraction(1), 0, "time_limit"
        for *_, p in seq:
            prob *= p
        for close, low, _high, was_traded, _p in seq:
            lowest = balance + low * f
            daily_floor, floor = balance - Fraction(15, 1000), Fraction(98, 100)
            if broken(lowest - daily_floor) or broken(lowest - floor):
                outcome = "daily_loss" if broken(lowest - daily_floor) and daily_floor >= floor else "max_loss"
                break
            balance += close * f
            traded += was_traded
            if balance - 1 >= Fraction(3, 100) and traded >= 2:
                outcome = "pass"
                break
        out[outcome] += prob
    return out


@pytest.mark.parametrize("breach", [Breach.AT_OR_BELOW, Breach.BELOW])
def test_the_monte_carlo_matches_an_exact_enumeration_of_a_small_challenge(breach: Breach) -> None:
    firm = rules(daily_loss_pct=Decimal("1.5"), max_loss_pct=Decimal(2), breach=breach,
                 objectives=Objectives(profit_target_pct=Decimal(3), min_trading_days=2, time_limit_days=7))
    exact = enumerate_exactly(breach is Breach.AT_OR_BELOW, Fraction(1, 100), days=5)
    outcomes = DailyOutcomes.given([(float(c), float(lo), float(h), t, float(p)) for c, lo, h, t, p in DAYS])
    paths = 200_000
    [odds] = simulate(firm, ChallengeState.start(days_left=5), outcomes, [0.01], paths=paths, seed=11)
    got = {"pass": odds.p_pass, **odds.p_fail}
    for key, want in exact.items():
        se = float(np.sqrt(float(want) * (1 - float(want)) / paths))
        assert got[key] == pytest.approx(float(want), abs=4 * se + 1e-4), key
    if breach is Breach.BELOW:  # a low of -1.5 R stands exactly on the 1.5 % floor: not broken
        assert exact["daily_loss"] == 0
    else:
        assert exact["daily_loss"] > 0.3


# -- hand-worked paths ---------------------------------------------------------------------------------

def one_day(close: float, low: float, high: float) -> DailyOutcomes:
    return DailyOutcomes.given([(close, low, high, True, 1.0)])


def test_an_end_of_day_trailing_floor_breaks_where_a_static_one_does_not() -> None:
    # FTMO 1-Step's example: the floor follows the best end-of-day balance, 10 % under it.
    # After closing a day at 104,000 the floor is 94,000; a day that dips 11,000 reaches 93,000.
    state = ChallengeState(profit=0.04, eod_peak=1.04, days_left=1)
    dip = one_day(0.0, -11.0, 0.0)  # R at 1 % = -11 %
    eod = rules(daily_loss_pct=None, max_loss_kind=MaxLossKind.TRAILING_EOD, breach=Breach.BELOW,
                objectives=Objectives(profit_target_pct=Decimal(10)))
    static = rules(daily_loss_pct=None, breach=Breach.BELOW, objectives=Objectives(profit_target_pct=Decimal(10)))
    [trailing] = simulate(eod, state, dip, [0.01], paths=10)
    [fixed] = simulate(static, state, dip, [0.01], paths=10)
    assert trailing.p_fail["max_loss"] == 1.0
    assert fixed.p_fail["max_loss"] == 0.0


def test_a_trailing_floor_locks_at_the_initial_balance_when_the_firm_says_so() -> None:
    # Topstep: after a 52,500 day on 50K (4 %), the floor stops at 50,000. From 60,000 (+20 %) a day
    # down 9 % (54,500) is above a locked floor of 50,000, below an unlocked one of 55,500... at 1 %
    state = ChallengeState(profit=0.20, eod_peak=1.20, days_left=1)
    down = one_day(-9.0, -9.0, 0.0)
    locked = rules(daily_loss_pct=None, max_loss_pct=Decimal(4), max_loss_kind=MaxLossKind.TRAILING_EOD,
                   lock_at_initial=True)
    unlocked = rules(daily_loss_pct=None, max_loss_pct=Decimal(4), max_loss_kind=MaxLossKind.TRAILING_EOD,
                     lock_at_initial=False)
    assert simulate(locked, state, down, [0.01], paths=5)[0].p_fail["max_loss"] == 0.0
    assert simulate(unlocked, state, down, [0.01], paths=5)[0].p_fail["max_loss"] == 1.0


def test_the_best_day_rule_holds_a_pass_until_the_profit_spreads() -> None:
    # FTMO's example: a 5,000 day on 100k is 100 % of the profit; the rule is met once the total is
    # 10,000 (exactly 50 % meets it). Here 9 % came on one day; each day adds 2 %: totals 11, 13, 15,
    # 17 % leave the 9 % day above half; at 19 % it is 47 %: passed on the fifth day.
    firm = rules(objectives=Objectives(profit_target_pct=Decimal(10), consistency_pct=Decimal(50)))
    state = ChallengeState(profit=0.09, best_day=0.09, trading_days=1, days_left=10)
    [odds] = simulate(firm, state, one_day(2.0, 0.0, 2.0), [0.01], paths=5)
    assert odds.p_pass == 1.0 and odds.days_to_pass == 5.0
    # exactly half on the day the target is reached: 8 % + 8 %
    [even] = simulate(firm, ChallengeState(days_left=3), one_day(8.0, 0.0, 8.0), [0.01], paths=5)
    assert even.p_pass == 1.0 and even.days_to_pass == 2.0


def test_the_consistency_guard_caps_a_day_at_its_share_of_the_target() -> None:
    # With the desk's guard on, a +12 % day is held to 5 % (50 % of the 10 % target): the target is
    # reached on the second day with the best day at exactly half; without it, the first day is 100 %
    # of the profit and the second (24 %) brings it to half.
    firm = rules(daily_loss_pct=None, max_loss_pct=Decimal(10),
                 objectives=Objectives(profit_target_pct=Decimal(10), consistency_pct=Decimal(50)))
    big = one_day(12.0, 0.0, 12.0)
    [guarded] = simulate(firm, ChallengeState(days_left=5), big, [0.01], paths=5, guard_consistency=True)
    [free] = simulate(firm, ChallengeState(days_left=5), big, [0.01], paths=5)
    assert guarded.p_pass == free.p_pass == 1.0
    assert guarded.days_to_pass == 2.0 and free.days_to_pass == 2.0


def test_a_soft_daily_limit_pauses_the_day_and_a_hard_one_ends_the_account() -> None:
    day = one_day(-6.0, -6.0, 0.0)  # -6 % at 1 %, past a 5 % daily floor
    soft = rules(daily_loss_hard=False, objectives=Objectives(profit_target_pct=Decimal(10)))
    hard = rules(objectives=Objectives(profit_target_pct=Decimal(10)))
    [paused] = simulate(soft, ChallengeState(days_left=1), day, [0.01], paths=5)
    [ended] = simulate(hard, ChallengeState(days_left=1), day, [0.01], paths=5)
    assert ended.p_fail["daily_loss"] == 1.0
    assert paused.p_fail == {"daily_loss": 0.0, "max_loss": 0.0} and paused.p_undecided == 1.0
    # paused at the floor (-5 %): a second such day reaches -10 %, the static maximum loss
    [twice] = simulate(soft, ChallengeState(days_left=2), day, [0.01], paths=5)
    assert twice.p_fail["max_loss"] == 1.0


def test_a_time_limit_counts_what_is_left_as_a_failure() -> None:
    firm = rules(objectives=Objectives(profit_target_pct=Decimal(10), time_limit_days=30))
    [odds] = simulate(firm, ChallengeState(days_left=3), one_day(1.0, 0.0, 1.0), [0.01], paths=5)
    assert odds.p_fail["time_limit"] == 1.0 and odds.p_pass == 0.0


def trade(day: int, hour: int, r: float, n: int) -> ClosedTrade:
    closed = int(datetime(2026, 3, day, hour, tzinfo=UTC).timestamp()) * 1_000_000_000
    return ClosedTrade(f"p{n}", "a", "EURUSD", Side.BUY, Decimal(1), Decimal(1), Decimal(1), closed - 10**12,
                       closed, Decimal(repr(100 * r)), Decimal(0), CloseReason.TAKE_PROFIT, f"s{n}", Decimal(100))


def test_days_are_built_from_trades_by_firm_day_with_quiet_weekdays_as_zero() -> None:
    # Monday 2 March: +1 then -2 R; Tuesday none; Wednesday +0.5; Friday 6 March -1; the weekend is skipped
    trades = [trade(2, 9, 1.0, 1), trade(2, 15, -2.0, 2), trade(4, 10, 0.5, 3), trade(6, 11, -1.0, 4)]
    days = DailyOutcomes.from_trades(trades, rules())
    assert list(days.close) == [-1.0, 0.0, 0.5, 0.0, -1.0]
    assert list(days.low) == [-1.0, 0.0, 0.0, 0.0, -1.0]
    assert list(days.high) == [1.0, 0.0, 0.5, 0.0, 0.0]
    assert list(days.traded) == [True, False, True, False, True]


def test_time_left_counts_weekdays_to_the_firms_limit() -> None:
    firm = rules(objectives=Objectives(profit_target_pct=Decimal(10), time_limit_days=14))
    start = int(datetime(2026, 3, 2, 1, tzinfo=UTC).timestamp()) * 1_000_000_000  # a Monday
    now = start + 2 * 86_400 * 1_000_000_000  # Wednesday
    assert trading_days_left(firm, start, now, horizon=60) == 8  # Thu, Fri, Mon-Fri, Mon
    assert trading_days_left(rules(), start, now, horizon=60) == 60


def test_bad_outcomes_are_refused_with_a_reason() -> None:
    with pytest.raises(InvalidValue, match="low must be"):
        DailyOutcomes.given([(1.0, 0.5, 1.0, True, 1.0)])
    with pytest.raises(InvalidValue, match="summing to 1"):
        DailyOutcomes.given([(1.0, 0.0, 1.0, True, 0.4)])
    with pytest.raises(InvalidValue, match="no closed trade"):
        DailyOutcomes.from_trades([], rules())


def test_the_report_names_the_current_risk_and_the_best() -> None:
    firm = rules(objectives=Objectives(profit_target_pct=Decimal(8), time_limit_days=60))
    report = pass_odds(firm, ChallengeState(days_left=40), coin(0.56), risk_fraction=0.004, paths=4_000)
    assert report.current.risk_fraction == 0.004
    assert 0.004 in [c.risk_fraction for c in report.curve]
    assert report.best_risk_fraction is not None and report.has_target
    d = report.as_dict()
    assert d["current"]["p_pass"] == round(report.current.p_pass, 4)  # type: ignore[index]


@pytest.mark.parametrize("kind", list(MaxLossKind))
def test_floors_that_rise_match_an_exact_enumeration(kind: MaxLossKind) -> None:
    # days of +5 % (touching +7 % on the way) or -6 %; maximum loss 10 %, broken below the floor.
    # A floor trailing the equity rises with the day's high before the day's low is judged.
    ups, downs = (Fraction(5), Fraction(0), Fraction(7)), (Fraction(-6), Fraction(-6), Fraction(0))
    breached = Fraction(0)
    for seq in itertools.product([ups, downs], repeat=4):
        balance, peak = Fraction(1), Fraction(1)
        for close, low, high in seq:
            if kind is MaxLossKind.TRAILING:
                peak = max(peak, balance + high / 100)
            floor = Fraction(9, 10) if kind is MaxLossKind.STATIC else peak - Fraction(1, 10)
            if balance + low / 100 < floor:
                breached += Fraction(1, 16)
                break
            day_high = balance + high / 100
            balance += close / 100
            if kind is not MaxLossKind.TRAILING:
                peak = max(peak, day_high if kind is MaxLossKind.TRAILING_DAY_HIGH else balance)
    firm = rules(daily_loss_pct=None, max_loss_kind=kind, breach=Breach.BELOW)
    outcomes = DailyOutcomes.given([(5.0, 0.0, 7.0, True, 0.5), (-6.0, -6.0, 0.0, True, 0.5)])
    [odds] = simulate(firm, ChallengeState(days_left=4), outcomes, [0.01], paths=100_000, seed=5)
    se = float(np.sqrt(float(breached) * (1 - float(breached)) / 100_000))
    assert odds.p_fail["max_loss"] == pytest.approx(float(breached), abs=4 * se + 1e-4)
    if kind is not MaxLossKind.STATIC:
        assert breached > Fraction(1, 16)  # more than the static floor's -6, -6 start


def test_a_phase_without_a_target_reports_breach_odds_and_no_pass_odds() -> None:
    funded = rules()  # no profit target: a funded account
    report = pass_odds(funded, ChallengeState(days_left=20), coin(0.5), risk_fraction=0.01, paths=2_000)
    assert not report.has_target and report.best_risk_fraction is None
    d = report.as_dict()
    assert d["current"]["p_pass"] is None and d["current"]["p_hard_breach"] == round(report.current.p_hard_breach, 4)  # type: ignore[index]
    assert all(c["p_pass"] is None for c in d["curve"])  # type: ignore[attr-defined]


def test_an_inactivity_rule_ends_a_path_once_its_quiet_calendar_days_pass_the_limit() -> None:
    """FundedNext's Futures Challenge: breached after 7 calendar days without a trade. From a Friday with a
    trade, quiet days count Monday 3 (the weekend too), Tuesday 4 ... Friday 7 (not past 7), Monday 10.
    It is not a hard breach in the breaker's sense (a smaller risk does not avert it)."""
    from trading.passodds import _calendar_steps
    from trading.rules import Activity

    assert _calendar_steps(4, 7) == [3, 1, 1, 1, 1, 3, 1]  # from a Friday
    assert _calendar_steps(5, 2) == [2, 1]  # a firm day named Saturday: Monday is two days on
    firm = rules(activity=Activity(max_idle_days=7))
    quiet = DailyOutcomes.given([(0.0, 0.0, 0.0, False, 1.0)])
    friday = ChallengeState(days_left=5, weekday=4)
    [held] = simulate(firm, friday, quiet, [0.01], paths=5)
    assert held.p_fail["inactivity"] == 0.0 and held.p_undecided == 1.0
    [gone] = simulate(firm, replace(friday, days_left=6), quiet, [0.01], paths=5)
    assert gone.p_fail["inactivity"] == 1.0 and gone.p_hard_breach == 0.0 and gone.p_undecided == 0.0
    # already 6.5 days without a trade on a Thursday: Friday takes it past 7, even with a trade that day
    # (it may come after the deadline)
    for days in (quiet, one_day(0.0, -0.5, 0.5)):
        [late] = simulate(firm, ChallengeState(days_left=1, weekday=3, idle_days=6.5), days, [0.01], paths=5)
        assert late.p_fail["inactivity"] == 1.0
    # past the limit already (the desk has recorded the breach): every path has failed before its first day
    [closed] = simulate(firm, ChallengeState(days_left=30, weekday=3, idle_days=20.0), one_day(0.0, -0.5, 0.5),
                        [0.01], paths=5)
    assert closed.p_fail["inactivity"] == 1.0 and closed.p_undecided == 0.0
    # a trade every day keeps it (a day with one leaves a day counted: it may have come at the day's start);
    # without the rule nothing is counted
    [busy] = simulate(firm, replace(friday, days_left=30), one_day(0.0, -0.5, 0.5), [0.01], paths=5)
    assert busy.p_fail["inactivity"] == 0.0
    [free] = simulate(rules(), replace(friday, days_left=30), quiet, [0.01], paths=5)
    assert "inactivity" not in free.p_fail and free.p_undecided == 1.0

