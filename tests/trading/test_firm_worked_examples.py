"""Each firm's rules as the firm states them, fed as account snapshots the way the desk feeds them.

The figures are transcribed from each firm's own pages (cited in the preset's ``source``), or built
from its stated rule with the arithmetic shown where the firm gives no example. Each test names the
floor at each step and when the breach happens.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading.compliance import AccountRules, CostAllowance, Headroom
from trading.errors import InvalidValue
from trading.fx import ConversionRates
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot, PositionView
from trading.market import datetime_to_ts
from trading.orders import Order, OrderType, Side
from trading.presets import load_preset, preset_names, rules_from_dict
from trading.rules import Breach, FirmRules, NewsBlackout


def ts(*args: int) -> int:
    return datetime_to_ts(datetime(*args, tzinfo=UTC))


D = Decimal
# Resets in early March 2026, before either daylight-saving change: Prague midnight is 23:00 UTC,
# 17:00 New York is 22:00 UTC, 17:00 Chicago is 23:00 UTC.
MON, TUE, WED, THU = (ts(2026, 3, d, 10, 0) for d in (2, 3, 4, 5))


def floating(loss: str, at: int = MON) -> tuple[PositionView, ...]:
    """One open EURUSD position carrying ``loss`` of floating P&L."""
    return (PositionView("p1", "EURUSD", Side.BUY, D(1), D("1.10000"), D("1.00000"), None, D("1.10000"),
                         D(loss), D(-10_000), at),)


class Account:
    """One account under a preset, judged on snapshots as the compliance agent judges them."""

    def __init__(self, rules: FirmRules | str, initial: int, registry: InstrumentRegistry) -> None:
        self.rules = AccountRules(load_preset(rules) if isinstance(rules, str) else rules,
                                  CostAllowance(D(1), D(0), D(10)), registry)
        self.initial = D(initial)
        self.rates = ConversionRates(registry)

    def at(self, when: int, balance: int | str, equity: int | str | None = None,
           positions: tuple[PositionView, ...] = ()) -> Headroom:
        snap = AccountSnapshot("acc", "USD", when, self.initial, D(balance), D(balance if equity is None else equity),
                               positions, 0)
        return self.rules.observe(snap, self.rates)

    @property
    def breaches(self) -> list[str]:
        return self.rules.state.breaches

    @property
    def soft(self) -> list[str]:
        return self.rules.state.soft_breaches


# -- FTMO 2-Step -------------------------------------------------------------------------------

def test_ftmo_daily_loss_follows_the_balance_at_prague_midnight_as_in_ftmos_200k_example(registry) -> None:
    # FTMO Academy, Maximum Daily Loss: on a 200k account the day's loss may be 10,000 (5 % of the
    # initial capital); after a 4,000 closed profit 14,000 may be lost until midnight, but at
    # midnight the limit resets from the new balance, so a 13,000 floating loss carried over breaks it.
    acc = Account("ftmo.challenge", 200_000, registry)
    head = acc.at(MON, 200_000)
    assert (head.daily_floor, head.daily_headroom) == (D(190_000), D(10_000))
    head = acc.at(MON + 3_600 * 10**9, 204_000)
    assert head.daily_headroom == D(14_000), "a closed profit widens the rest of the day"
    head = acc.at(MON + 7_200 * 10**9, 204_000, 191_000, floating("-13000"))
    assert head.daily_floor == D(190_000) and head.daily_headroom == D(1_000) and acc.breaches == []
    reset = ts(2026, 3, 2, 23, 0)  # midnight in Prague: the reference is the balance just before it
    head = acc.at(reset, 204_000, 191_000, floating("-13000"))
    assert head.daily_floor == D(194_000) and head.daily_headroom == D(-3_000)
    assert acc.breaches == [f"daily_loss at {reset}: headroom -3000.00 (equity 191000, floor 194000.00)"]


def test_ftmo_an_order_within_todays_limit_but_over_the_next_days_is_vetoed(registry) -> None:
    # The same example before the trade: 4,000 closed profit, so today's floor (190,000) would take a
    # 13,000 stop. Open at midnight, that stop stands 3,000 under the new floor (194,000): FTMO, "a
    # position that was within the limit before midnight may exceed the limit after the reset if the
    # floating loss is too large". The check holds the open loss at the stops to one day's limit.
    acc = Account("ftmo.challenge", 200_000, registry)
    acc.at(MON, 200_000)
    acc.at(MON + 3_600 * 10**9, 204_000)
    snap = AccountSnapshot("acc", "USD", MON + 7_200 * 10**9, D(200_000), D(204_000), D(204_000), (), 0)

    def order(lots: str) -> Order:  # stop 129 pips away, 1 pip of slippage: 1,300 a lot at risk
        return Order("o1", "acc", "EURUSD", Side.BUY, D(lots), OrderType.MARKET, D("1.08710"), D("1.12000"), "s",
                     D("1.10000"), 0, snap.ts_ns, snap.ts_ns + 10**9)

    decision = acc.rules.check([order("10")], snap, acc.rates)  # 13,000 at risk: 191,000 at the stop
    assert not decision.allowed and decision.rule == "daily_loss", decision
    assert "floor at the next reset 194000.00 (buffer 1000.00)" in decision.reason, decision.reason
    assert decision.worst_case_daily_headroom == D(1_000), "today's floor alone would have let it through"
    assert acc.rules.check([order("6")], snap, acc.rates).allowed  # 7,800: 196,200, over 194,000 and its buffer
    # Held before this check existed: the desk closes it while the day is still Monday in Prague.
    held = (PositionView("p1", "EURUSD", Side.BUY, D(10), D("1.10000"), D("1.08710"), None, D("1.09500"),
                         D(-5_000), D(-5_000), MON),)
    head = acc.at(ts(2026, 3, 2, 22, 0), 204_000, 199_000, held)
    assert head.daily_floor == D(190_000) and acc.breaches == []
    assert head.flatten_reason == ("daily_loss: the open stops would leave -3000.00 against the floor at the next "
                                   "reset 194000.00"), head.flatten_reason


def test_an_account_flat_before_every_reset_is_held_to_todays_daily_floor_only(registry) -> None:
    # FundedNext Futures Legacy closes every position before the day's end (no overnight holding), so no
    # stop is open at a reset: after 1,000 closed today, 3,000 at the stops (today's floor 97,600 + 1,000,
    # the buffer 240) is allowed though it is over one day's limit (2,400); its take-profit keeps the day under
    # the 40 % best-day cap
    acc = Account("fundednext_futures.legacy", 100_000, registry)
    acc.at(MON, 100_000)
    acc.at(MON + 3_600 * 10**9, 101_000)
    snap = AccountSnapshot("acc", "USD", MON + 7_200 * 10**9, D(100_000), D(101_000), D(101_000), (), 0)
    order = Order("o1", "acc", "EURUSD", Side.BUY, D("3"), OrderType.MARKET, D("1.09010"), D("1.10050"), "s",
                  D("1.10000"), 0, snap.ts_ns, snap.ts_ns + 10**9)  # 99 pips + 1 of slippage: 1,000 a lot
    decision = acc.rules.check([order], snap, acc.rates)
    assert decision.allowed, decision


def test_on_a_friday_an_account_flat_before_the_weekend_is_held_to_todays_daily_floor_only(registry) -> None:
    # FTMO's FTMO Account closes before the weekend close (Friday 21:45 UTC in March), before the next
    # reset (23:00 UTC): no stop is open at it, so 6,000 at the stops after 3,000 closed is today's question only
    # (its news window is left out here: it needs a calendar, and no release is near)
    funded = replace(load_preset("ftmo.funded"), news=NewsBlackout())
    acc = Account(funded, 100_000, registry)
    friday = ts(2026, 3, 6, 10, 0)
    acc.at(friday, 100_000)
    acc.at(friday + 3_600 * 10**9, 103_000)
    snap = AccountSnapshot("acc", "USD", friday + 7_200 * 10**9, D(100_000), D(103_000), D(103_000), (), 0)
    order = Order("o1", "acc", "EURUSD", Side.BUY, D("6"), OrderType.MARKET, D("1.09010"), D("1.12000"), "s",
                  D("1.10000"), 0, snap.ts_ns, snap.ts_ns + 10**9)  # 1,000 a lot at the stop
    assert acc.rules.check([order], snap, acc.rates).allowed
    thursday = replace(snap, ts_ns=snap.ts_ns - 86_400 * 10**9)  # the same on Thursday: held over the reset
    acc2 = Account(funded, 100_000, registry)
    acc2.at(friday - 86_400 * 10**9, 100_000)
    acc2.at(friday - 86_400 * 10**9 + 3_600 * 10**9, 103_000)
    veto = acc2.rules.check([replace(order, not_before_ns=thursday.ts_ns, expires_ns=thursday.ts_ns + 10**9)],
                            thursday, acc2.rates)
    assert (veto.allowed, veto.rule) == (False, "daily_loss") and "at the next reset" in veto.reason


def test_ftmo_maximum_loss_is_broken_below_90_percent_not_on_it(registry) -> None:
    # FTMO Academy, Maximum Loss: "even if your balance would be $92,000, but you had a floating loss
    # of $2,001, the limit would be exceeded" (100k account, floor 90,000).
    acc = Account("ftmo.verification", 100_000, registry)
    acc.at(TUE, 92_000)  # the day starts at 92,000: its own floor is 87,000
    head = acc.at(TUE + 60 * 10**9, 92_000, 90_000, floating("-2000"))
    assert head.max_loss_floor == D(90_000) and head.max_loss_headroom == 0 and acc.breaches == []
    acc.at(TUE + 120 * 10**9, 92_000, 89_999, floating("-2001"))
    assert len(acc.breaches) == 1 and acc.breaches[0].startswith("max_loss")


# -- FTMO 1-Step -------------------------------------------------------------------------------

def test_ftmo_1step_maximum_loss_trails_the_best_midnight_balance_as_in_ftmos_example(registry) -> None:
    # FTMO's 1-Step Maximum Loss Limit example (100k): 90,000 on day 1; 94,000 after a 104,000
    # midnight balance; still 94,000 after a 103,000 one. Intraday equity does not move it.
    acc = Account("ftmo_1step.challenge", 100_000, registry)
    assert acc.at(MON, 100_000).max_loss_floor == D(90_000)
    assert acc.at(MON + 60 * 10**9, 104_000, 106_000).max_loss_floor == D(90_000), "intraday: unchanged"
    assert acc.at(ts(2026, 3, 2, 23, 0), 104_000).max_loss_floor == D(94_000)
    assert acc.at(ts(2026, 3, 3, 23, 0), 103_000).max_loss_floor == D(94_000), "it never decreases"
    # FTMO states no lock at the initial capital: after 112,000 at midnight the floor is 102,000.
    assert acc.at(ts(2026, 3, 4, 23, 0), 112_000).max_loss_floor == D(102_000)
    # 3 % of the initial capital a day, below the balance at midnight.
    head = acc.at(ts(2026, 3, 5, 12, 0), 112_000)
    assert head.daily_floor == D(109_000) and acc.breaches == []


def test_ftmo_1step_best_day_rule_as_in_ftmos_example(registry) -> None:
    # FTMO's FAQ: 5,000 in one day and nothing else is 100 % of the profit; 5,000 more on other days
    # makes it 50 %, which meets the rule ("more than 50 %" does not).
    acc = Account("ftmo_1step.challenge", 100_000, registry)
    acc.at(MON, 100_000)
    acc.at(ts(2026, 3, 2, 23, 0), 105_000)
    progress = acc.rules.objectives(AccountSnapshot("acc", "USD", TUE, D(100_000), D(105_000), D(105_000), (), 0))
    assert progress["best_day_share_pct"] == 100.0 and not progress["consistency_ok"]
    acc.at(ts(2026, 3, 3, 23, 0), 107_500)
    acc.at(ts(2026, 3, 4, 23, 0), 110_000)
    progress = acc.rules.objectives(AccountSnapshot("acc", "USD", THU, D(100_000), D(110_000), D(110_000), (), 0))
    assert progress["best_day_share_pct"] == 50.0 and progress["consistency_ok"] and progress["target_reached"]


# -- The5ers High Stakes -----------------------------------------------------------------------

def test_the5ers_daily_floor_is_95_percent_of_the_days_reference_after_a_down_day(registry) -> None:
    # "Daily loss is 5% of the starting equity of the day OR the starting balance of the day (the
    # highest between them)". After a down day to 98,000: 98,000 x 0.95 = 93,100 (5 % of the
    # initial balance would give 93,000, and 93,050 would pass unrecorded).
    acc = Account("the5ers.phase1", 100_000, registry)
    acc.at(MON, 100_000)
    acc.at(MON + 3_600 * 10**9, 98_000)
    reset = ts(2026, 3, 2, 22, 0)  # 17:00 New York
    head = acc.at(reset, 98_000)
    assert head.daily_loss_limit == D(4_900) and head.daily_floor == D(93_100)
    acc.at(reset + 60 * 10**9, 98_000, "93050", floating("-4950", reset))
    assert len(acc.breaches) == 1 and acc.breaches[0].startswith(f"daily_loss at {reset + 60 * 10**9}: headroom -50.00")


def test_the5ers_daily_floor_after_an_up_day_and_with_open_profit_at_the_reset(registry) -> None:
    acc = Account("the5ers.phase2", 100_000, registry)
    acc.at(MON, 100_000)
    head = acc.at(ts(2026, 3, 2, 22, 0), 103_000)
    assert head.daily_floor == D(97_850), "103,000 x 0.95, not 103,000 - 5,000"
    acc.at(ts(2026, 3, 2, 23, 0), 103_000, 97_900, floating("-5100"))
    assert acc.breaches == [], "97,900 is inside the firm's floor of 97,850"
    # Equity above the balance at the reset: the higher one is the reference.
    head = acc.at(ts(2026, 3, 3, 22, 0), 103_000, 104_000, floating("1000"))
    assert head.daily_floor == D(98_800)


def test_the5ers_reaching_a_limit_is_a_breach(registry) -> None:
    # "Reaching any of these limits will lead to the termination of the account."
    acc = Account("the5ers.funded", 100_000, registry)
    acc.at(MON, 100_000)
    acc.at(MON + 60 * 10**9, 100_000, 95_000, floating("-5000"))
    assert len(acc.breaches) == 1 and acc.breaches[0].startswith("daily_loss")


# -- FundedNext Stellar ------------------------------------------------------------------------

@pytest.mark.parametrize("preset", ["fundednext.phase1", "fundednext.phase2", "fundednext.funded"])
def test_fundednext_stellar_2step_daily_loss_as_in_fundednexts_example(preset: str, registry) -> None:
    # FundedNext's example 2: on 100k, 2,000 made by noon makes the day's allowance 7,000
    # (100,000 x 0.05 + 2,000), i.e. a floor of 95,000; "losing more than" that breaks the rule.
    acc = Account(preset, 100_000, registry)
    assert acc.at(MON, 100_000).daily_floor == D(95_000)
    head = acc.at(ts(2026, 3, 2, 12, 0), 102_000)
    assert head.daily_headroom == D(7_000)
    acc.at(ts(2026, 3, 2, 13, 0), 102_000, 95_000, floating("-7000"))
    assert acc.breaches == [], "exactly the allowance lost: not more"
    acc.at(ts(2026, 3, 2, 14, 0), 102_000, "94999.99", floating("-7000.01"))
    assert len(acc.breaches) == 1 and acc.breaches[0].startswith("daily_loss")
    # The next day: 5 % of the initial balance below the balance at the reset.
    assert acc.at(ts(2026, 3, 2, 22, 0), 102_000).daily_floor == D(97_000)


def test_fundednext_stellar_maximum_loss_is_static_as_in_fundednexts_case_02(registry) -> None:
    # Case 02: after a 4,000 profit the account may lose 14,000: it must stay at or above 90,000.
    acc = Account("fundednext.phase1", 100_000, registry)
    acc.at(MON, 100_000)
    acc.at(ts(2026, 3, 2, 22, 0), 104_000)
    assert acc.at(ts(2026, 3, 3, 12, 0), 104_000).max_loss_floor == D(90_000)


@pytest.mark.parametrize(("preset", "daily_floor", "max_floor"), [
    ("fundednext_1step.challenge", 97_000, 94_000),  # "3%, ... $3,000 for a $100,000 account"; 6 %: "$94,000"
    ("fundednext_1step.funded", 97_000, 94_000),
    ("fundednext_lite.phase1", 96_000, 92_000),      # "4% of your initial balance"; "below 92%"
    ("fundednext_lite.phase2", 96_000, 92_000),
    ("fundednext_lite.funded", 96_000, 92_000),
])
def test_fundednext_stellar_1step_and_lite_floors(preset: str, daily_floor: int, max_floor: int, registry) -> None:
    acc = Account(preset, 100_000, registry)
    head = acc.at(MON, 100_000)
    assert (head.daily_floor, head.max_loss_floor) == (D(daily_floor), D(max_floor))
    acc.at(MON + 60 * 10**9, 100_000, daily_floor, floating(str(daily_floor - 100_000)))
    assert acc.breaches == []
    acc.at(MON + 120 * 10**9, 100_000, daily_floor - 1, floating(str(daily_floor - 100_001)))
    assert len(acc.breaches) == 1


# -- FundedNext Futures ------------------------------------------------------------------------

def test_fundednext_futures_maximum_loss_trails_the_days_high_and_locks_as_in_fundednexts_example(registry) -> None:
    # 100K Legacy, MLL 3,000: 97,000; +1,000 -> 98,000; +2,000 -> 100,000, locked; -2,000 -> still
    # 100,000; +5,000 -> still 100,000.
    acc = Account("fundednext_futures.legacy", 100_000, registry)
    assert acc.at(MON, 100_000).max_loss_floor == D(97_000)
    resets = [ts(2026, 3, d, 23, 0) for d in (2, 3, 4, 5)]  # 17:00 Chicago
    for reset, balance, floor in zip(resets, (101_000, 103_000, 101_000, 106_000),
                                     (98_000, 100_000, 100_000, 100_000), strict=True):
        assert acc.at(reset, balance).max_loss_floor == D(floor), (balance, floor)
    # The highest balance reached during a day counts, not only the close.
    acc2 = Account("fundednext_futures.rapid", 100_000, registry)
    acc2.at(MON, 100_000)
    acc2.at(MON + 3_600 * 10**9, 101_500)
    assert acc2.at(ts(2026, 3, 2, 23, 0), 100_500).max_loss_floor == D(99_000)


def test_fundednext_futures_daily_limit_is_a_soft_breach_on_reaching_it_as_in_case_01(registry) -> None:
    # "If you have a $100,000 Challenge, your Daily Loss Limit is $97,600. If your equity reaches
    # $97,600 or lower, your account will experience a soft breach."
    acc = Account("fundednext_futures.legacy", 100_000, registry)
    assert acc.at(MON, 100_000).daily_floor == D(97_600)
    acc.at(MON + 60 * 10**9, 100_000, 97_600, floating("-2400"))
    assert acc.breaches == [] and len(acc.soft) == 1 and acc.soft[0].startswith("daily_loss")
    rapid = Account("fundednext_futures.rapid", 100_000, registry)
    head = rapid.at(MON, 100_000)
    assert head.daily_floor is None and head.daily_headroom is None, "the Rapid Challenge has no daily limit"


# -- TopstepX ----------------------------------------------------------------------------------

def test_topstepx_maximum_loss_as_in_topsteps_50k_example(registry) -> None:
    # 50K: +500 -> 48,500; -500 the next day -> still 48,500; +2,500 -> 50,000, where it stays.
    acc = Account("topstepx.combine", 50_000, registry)
    assert acc.at(MON, 50_000).max_loss_floor == D(48_000)
    assert acc.at(ts(2026, 3, 2, 23, 0), 50_500).max_loss_floor == D(48_500)
    assert acc.at(ts(2026, 3, 3, 23, 0), 50_000).max_loss_floor == D(48_500)
    assert acc.at(ts(2026, 3, 4, 23, 0), 52_500).max_loss_floor == D(50_000)
    assert acc.at(ts(2026, 3, 5, 23, 0), 55_000).max_loss_floor == D(50_000)
    # "falls below the minimum account balance": on it is no breach, below it is.
    acc.at(ts(2026, 3, 6, 12, 0), 55_000, 50_000, floating("-5000"))
    assert acc.breaches == []
    acc.at(ts(2026, 3, 6, 12, 1), 55_000, "49999.99", floating("-5000.01"))
    assert len(acc.breaches) == 1 and acc.breaches[0].startswith("max_loss")


def test_topstepx_has_no_daily_loss_rule(registry) -> None:
    # Removed on TopstepX from 2024-08-25: a 3 % day records nothing, and the check has no daily line.
    acc = Account("topstepx.funded", 100_000, registry)
    acc.at(MON, 100_000)
    head = acc.at(MON + 60 * 10**9, 97_000)
    assert head.daily_loss_limit is None and head.daily_headroom is None and head.daily_fraction == 1.0
    assert head.nearest_headroom == D(1_000) and acc.breaches == [] and acc.soft == []
    order = Order("o1", "acc", "EURUSD", Side.BUY, D("0.1"), OrderType.MARKET, D("1.09900"), None, "s",
                  D("1.10000"), 0, MON + 120 * 10**9, MON + 180 * 10**9)
    snap = AccountSnapshot("acc", "USD", MON + 120 * 10**9, D(100_000), D(97_000), D(97_000), (), 0)
    decision = acc.rules.check([order], snap, acc.rates)
    assert decision.allowed and decision.worst_case_daily_headroom is None, decision


# -- rules common to every firm ----------------------------------------------------------------

@pytest.mark.parametrize(("preset", "rule", "breaks_on_it"), [
    ("ftmo.challenge", "daily_loss", False), ("ftmo.challenge", "max_loss", False),
    ("the5ers.phase1", "daily_loss", True), ("the5ers.phase1", "max_loss", True),
    ("fundednext.phase1", "daily_loss", False), ("fundednext.phase1", "max_loss", False),
    ("fundednext_futures.legacy", "daily_loss", True), ("fundednext_futures.legacy", "max_loss", True),
    ("topstepx.combine", "max_loss", False), ("ftmo_1step.challenge", "max_loss", False),
])
def test_equity_exactly_on_a_floor_is_judged_as_the_firm_words_it(preset: str, rule: str, breaks_on_it: bool,
                                                                  registry) -> None:
    acc = Account(preset, 100_000, registry)
    # A day that starts low enough for the max-loss floor to be the nearer one, or at 100k for the daily.
    # (for max_loss: a day's floor below the maximum-loss floor, and that floor below the start)
    futures = preset.split(".")[0] in ("topstepx", "fundednext_futures")
    start = 100_000 if rule == "daily_loss" else 98_000 if futures else 92_000
    head = acc.at(MON, start)
    floor = head.daily_floor if rule == "daily_loss" else head.max_loss_floor
    assert floor is not None
    acc.at(MON + 60 * 10**9, start, floor, floating(str(floor - start)))
    recorded = acc.breaches + acc.soft
    assert bool(recorded) is breaks_on_it and all(r.startswith(rule) for r in recorded), recorded
    acc.at(MON + 120 * 10**9, start, floor - D("0.01"), floating(str(floor - start - D("0.01"))))
    assert any(r.startswith(rule) for r in acc.breaches + acc.soft), "below the floor always breaks it"


def test_a_snapshot_that_breaks_two_rules_names_the_higher_floor_first(registry) -> None:
    acc = Account("the5ers.phase1", 100_000, registry)
    acc.at(MON, 92_000)  # the day's floor 87,400 is below the maximum-loss floor of 90,000
    acc.at(MON + 60 * 10**9, 92_000, 87_000, floating("-5000"))
    assert [b.split(" ")[0] for b in acc.breaches] == ["max_loss", "daily_loss"]
    acc2 = Account("the5ers.phase1", 100_000, registry)
    acc2.at(MON, 100_000)  # daily floor 95,000 above the 90,000 floor
    acc2.at(MON + 60 * 10**9, 100_000, 89_000, floating("-11000"))
    assert [b.split(" ")[0] for b in acc2.breaches] == ["daily_loss", "max_loss"]


def test_the_profit_target_is_reached_only_with_every_position_closed(registry) -> None:
    acc = Account("ftmo.challenge", 100_000, registry)
    acc.at(MON, 100_000)
    open_snap = AccountSnapshot("acc", "USD", TUE, D(100_000), D(110_500), D(110_200), floating("-300"), 3)
    assert not acc.rules.objectives(open_snap)["target_reached"], "FTMO: all positions must be closed"
    flat = AccountSnapshot("acc", "USD", TUE, D(100_000), D(110_000), D(110_000), (), 4)
    assert acc.rules.objectives(flat)["target_reached"]


def test_a_best_day_rule_is_not_met_without_profit(registry) -> None:
    acc = Account("topstepx.combine", 100_000, registry)
    acc.at(MON, 100_000)
    flat = AccountSnapshot("acc", "USD", MON, D(100_000), D(100_000), D(100_000), (), 0)
    assert not acc.rules.objectives(flat)["consistency_ok"]


def test_every_firm_states_whether_a_trailing_floor_locks_and_whether_it_has_a_daily_rule() -> None:
    with pytest.raises(InvalidValue, match=r"x\.lock_at_initial=None: is required"):
        rules_from_dict("x", {"daily_loss_pct": 5, "max_loss_pct": 10, "max_loss_kind": "trailing"})
    with pytest.raises(InvalidValue, match=r"x\.daily_loss_pct=None: is required: .*null for a firm without"):
        rules_from_dict("x", {"max_loss_pct": 10, "lock_at_initial": True})
    with pytest.raises(InvalidValue, match=r"x\.daily_loss_basis='balance': renamed to daily_reference"):
        rules_from_dict("x", {"daily_loss_pct": 5, "max_loss_pct": 10, "lock_at_initial": True,
                              "daily_loss_basis": "balance"})
    none = rules_from_dict("x", {"daily_loss_pct": None, "max_loss_pct": 4, "lock_at_initial": True})
    assert none.daily_loss_pct is None and none.daily_floor(D(100_000), D(100_000)) is None
    assert none.breach is Breach.AT_OR_BELOW, "the safe reading when a firm does not say"
    for name in preset_names():  # every preset wrote its reading down, not a default
        rules = load_preset(name)
        assert rules.source.notes and rules.breach in (Breach.BELOW, Breach.AT_OR_BELOW)


def test_a_trailing_floor_that_does_not_lock_keeps_rising(registry) -> None:
    rules = rules_from_dict("trail", {"daily_loss_pct": None, "max_loss_pct": 5, "lock_at_initial": False,
                                      "max_loss_kind": "trailing"})
    acc = Account(rules, 100_000, registry)
    acc.at(MON, 100_000)
    assert acc.at(MON + 60 * 10**9, 110_000).max_loss_floor == D(105_000)
    acc.at(MON + 120 * 10**9, 110_000, 104_000, floating("-6000"))
    assert len(acc.breaches) == 1, "a locked floor would have stopped at 100,000 and missed this"


def test_a_reset_that_lifts_the5ers_floor_past_an_open_stop_asks_for_a_flatten(registry) -> None:
    # 1 lot long with its stop at the entry and 6,000 of floating profit at 17:00 New York: the new
    # day's floor is 95 % of the equity, 100,700, above what the stop would leave (about 99,990).
    # A stop hit then would end the account, so the desk closes it while equity is well above.
    acc = Account("the5ers.phase1", 100_000, registry)
    held = (PositionView("p1", "EURUSD", Side.BUY, D(1), D("1.10000"), D("1.10000"), None, D("1.16000"),
                         D(6_000), D(0), MON),)
    acc.at(MON, 100_000)
    assert acc.at(MON + 3_600 * 10**9, 100_000, 106_000, held).flatten_reason == ""
    head = acc.at(ts(2026, 3, 2, 22, 0), 100_000, 106_000, held)
    assert head.daily_floor == D(100_700) and head.worst_case_daily_headroom is not None
    assert head.worst_case_daily_headroom < 0 and head.flatten_reason.startswith("daily_loss: the open stops")
    assert acc.breaches == [], "nothing is broken yet: equity is 5,300 above the floor"


def test_the_days_high_balance_between_two_snapshots_moves_a_day_high_floor(registry) -> None:
    # A take-profit to 101,500 and a stop back to 100,500 between two snapshots: FundedNext Futures'
    # floor follows the day's highest balance, 101,500 - 2,500 = 99,000, not the close's 98,000.
    acc = Account("fundednext_futures.rapid", 100_000, registry)
    acc.at(MON, 100_000)
    snap = AccountSnapshot("acc", "USD", ts(2026, 3, 2, 23, 0), D(100_000), D(100_500), D(100_500), (), 2,
                           max_balance=D(101_500))
    assert acc.rules.observe(snap, acc.rates).max_loss_floor == D(99_000)


def test_a_high_then_a_fall_inside_one_batch_is_judged_against_the_risen_trailing_floor(registry) -> None:
    # 6 % trailing on the equity, no lock: the floor starts at 94,000. Between two snapshots equity
    # rises to 103,000 (floor 97,000) and falls to 96,500: a breach, though the batch's low is
    # above the floor before it and its close (98,000) above the floor after it.
    rules = rules_from_dict("trail", {"daily_loss_pct": None, "max_loss_pct": 6, "lock_at_initial": False,
                                      "max_loss_kind": "trailing"})
    acc = Account(rules, 100_000, registry)
    acc.at(MON, 100_000)
    snap = AccountSnapshot("acc", "USD", MON + 60 * 10**9, D(100_000), D(100_000), D(98_000), floating("-2000"), 0,
                           min_equity=D(96_500), max_equity=D(103_000), deepest_drop=D(-6_500))
    head = acc.rules.observe(snap, acc.rates)
    assert head.max_loss_floor == D(97_000) and head.max_loss_headroom == D(1_000)
    assert len(acc.breaches) == 1 and acc.breaches[0].startswith("max_loss") and "headroom -500.00" in acc.breaches[0]
    # The same path without the fall below the risen floor records nothing.
    acc2 = Account(rules, 100_000, registry)
    acc2.at(MON, 100_000)
    acc2.rules.observe(replace(snap, min_equity=D(97_500), deepest_drop=D(-5_500)), acc2.rates)
    assert acc2.breaches == []
