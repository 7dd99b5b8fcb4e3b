"""The inactivity rule: a firm closes an account that enters no trade for N consecutive calendar days.

FundedNext (every Stellar account): "désactivé si un trader ne trade pas dans le compte pendant 30 jours"
(help.fundednext.com/fr/articles/8019664); FundedNext Futures: Challenge accounts "Breached" after 7
consecutive calendar days with no trade (helpfutures.fundednext.com/.../10740979); Topstep's Express
Funded Account: "no trading activity (no trades entered) ... for more than 30 days" (help.topstep.com/
en/articles/8284215). Read safely: only a trade entered restarts the clock."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from actors.compliance import ComplianceAgent
from trading.compliance import AccountRules, ComplianceDecision, CostAllowance
from trading.errors import InvalidValue
from trading.fx import ConversionRates
from trading.ledger import AccountSnapshot, ClosedTrade, PositionView
from trading.market import NS_PER_S, datetime_to_ts
from trading.orders import CloseReason, Order, OrderType, Side
from trading.presets import load_preset, preset_names, rules_from_dict

DAY = 86_400 * NS_PER_S
T0 = datetime_to_ts(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))  # a Monday


def snap(at: int, positions: tuple[PositionView, ...] = ()) -> AccountSnapshot:
    return AccountSnapshot("acc", "USD", at, Decimal(50_000), Decimal(50_000), Decimal(50_000), positions, 0)


def position(opened: int) -> PositionView:
    return PositionView("p", "EURUSD", Side.BUY, Decimal(1), Decimal("1.10000"), Decimal("1.09900"), None,
                        Decimal("1.10000"), Decimal(0), Decimal(-100), opened)


def trade(opened: int, closed: int) -> ClosedTrade:
    return ClosedTrade("t", "acc", "EURUSD", Side.BUY, Decimal(1), Decimal("1.1"), Decimal("1.1"), opened, closed,
                       Decimal(0), Decimal(0), CloseReason.TAKE_PROFIT, "sig", Decimal(100))


def account(preset: str, registry, idle_since_ns: int = 0) -> tuple[AccountRules, ConversionRates]:  # type: ignore[no-untyped-def]
    return AccountRules(load_preset(preset), CostAllowance(), registry, idle_since_ns=idle_since_ns), \
        ConversionRates(registry)


def inactivity(acc: AccountRules) -> list[str]:
    return [b for b in acc.state.breaches if b.startswith("inactivity")]


def test_the_presets_carry_each_firms_window_as_its_own_pages_state_it() -> None:
    days = {name: load_preset(name).activity.max_idle_days for name in preset_names()}
    for name in ("fundednext", "fundednext_1step", "fundednext_lite"):  # every Stellar account, every phase
        assert {v for k, v in days.items() if k.startswith(name + ".")} == {30}, name
    assert days["fundednext_futures.legacy"] == days["fundednext_futures.rapid"] == 7
    assert (days["topstepx.combine"], days["topstepx.funded"]) == (0, 30)  # the Combine has no time limit
    assert {v for k, v in days.items() if k.startswith("ftmo")} == {0}  # FTMO states none: "indefinite"


def test_a_futures_challenge_is_breached_seven_days_after_its_last_trade_and_the_breach_is_stamped_then(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = account("fundednext_futures.legacy", registry)
    head = acc.observe(snap(T0), rates)  # the desk's first snapshot starts the clock
    assert head.idle_deadline_ns == T0 + 7 * DAY
    assert acc.observe(snap(T0 + 7 * DAY), rates).idle_deadline_ns == T0 + 7 * DAY
    assert inactivity(acc) == []  # exactly seven days is not yet more than seven
    acc.observe(snap(T0 + 7 * DAY + NS_PER_S), rates)
    assert inactivity(acc) == [f"inactivity at {T0 + 7 * DAY}: no trade entered for 7 days (the last at {T0})"]
    for later in (8, 15, 40):  # one breach per idle stretch, however long, not one per snapshot or per 7 days
        acc.observe(snap(T0 + later * DAY), rates)
    assert len(inactivity(acc)) == 1
    acc.observe(snap(T0 + 41 * DAY, (position(T0 + 41 * DAY),)), rates)  # a trade: a new stretch
    acc.observe(snap(T0 + 49 * DAY), rates)
    assert inactivity(acc)[1:] == [f"inactivity at {T0 + 48 * DAY}: no trade entered for 7 days (the last at {T0 + 41 * DAY})"]


def test_a_trade_entered_in_time_restarts_the_clock_whether_still_open_or_closed_since(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = account("fundednext_futures.legacy", registry)
    acc.observe(snap(T0), rates)
    head = acc.observe(snap(T0 + 6 * DAY, (position(T0 + 5 * DAY),)), rates)  # open
    assert head.idle_deadline_ns == T0 + 12 * DAY
    head = acc.observe(snap(T0 + 13 * DAY), rates, [trade(T0 + 11 * DAY, T0 + 11 * DAY + 3600 * NS_PER_S)])  # closed
    assert head.idle_deadline_ns == T0 + 18 * DAY
    assert inactivity(acc) == []


def test_a_stretch_that_ran_out_between_two_snapshots_is_not_hidden_by_a_later_entry(registry) -> None:  # type: ignore[no-untyped-def]
    """The trade entered on day 10 came too late: the account was closed on day 7. Without looking
    at the entries one by one, the entry would restart the clock and the breach would be lost."""
    acc, rates = account("fundednext_futures.rapid", registry)
    acc.observe(snap(T0), rates)
    acc.observe(snap(T0 + 12 * DAY), rates, [trade(T0 + 2 * DAY, T0 + 3 * DAY), trade(T0 + 10 * DAY, T0 + 11 * DAY)])
    assert inactivity(acc) == [f"inactivity at {T0 + 9 * DAY}: no trade entered for 7 days (the last at {T0 + 2 * DAY})"]
    assert acc.state.last_entry_ns == T0 + 10 * DAY


def test_a_position_held_open_does_not_keep_the_account_active(registry) -> None:  # type: ignore[no-untyped-def]
    """None of these firms says an open position counts as activity: the safe reading is that it does not."""
    acc, rates = account("fundednext.funded", registry)
    acc.observe(snap(T0, (position(T0),)), rates)
    acc.observe(snap(T0 + 31 * DAY, (position(T0),)), rates)
    assert inactivity(acc) == [f"inactivity at {T0 + 30 * DAY}: no trade entered for 30 days (the last at {T0})"]


def test_the_clock_starts_at_the_accounts_last_trade_before_the_desk_when_the_operator_gives_it(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = account("fundednext.funded", registry, idle_since_ns=T0 - 25 * DAY)
    assert acc.observe(snap(T0), rates).idle_deadline_ns == T0 + 5 * DAY
    acc.observe(snap(T0 + 5 * DAY + NS_PER_S), rates)
    assert len(inactivity(acc)) == 1
    # a time after the data's first tick (a live account's date, a backtest of last year) is not the past
    later, rates = account("fundednext.funded", registry, idle_since_ns=T0 + DAY)
    assert later.observe(snap(T0), rates).idle_deadline_ns == T0 + 30 * DAY


def test_firms_without_the_rule_never_breach_it_and_pre_trade_checks_do_not_move_the_clock(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = account("ftmo.funded", registry)
    assert acc.observe(snap(T0), rates).idle_deadline_ns == 0
    acc.observe(snap(T0 + 90 * DAY), rates)
    assert acc.state.breaches == []
    futures, rates = account("fundednext_futures.legacy", registry)
    futures.observe(snap(T0), rates)
    futures.check([], snap(T0 + 6 * DAY, (position(T0 + 6 * DAY),)), rates)  # a check reads, it does not record
    assert futures.state.last_entry_ns == T0


def test_the_rule_is_read_from_a_firm_in_the_settings_and_a_bad_value_is_named() -> None:
    base = {"daily_loss_pct": 5, "max_loss_pct": 10, "lock_at_initial": False}
    assert rules_from_dict("mine", {**base, "activity": {"max_idle_days": 14}}).activity.max_idle_days == 14
    for bad, why in ((-1, "0 or more"), (True, "whole number"), (5000, "at most 3650")):
        with pytest.raises(InvalidValue, match=why) as info:
            rules_from_dict("mine", {**base, "activity": {"max_idle_days": bad}})
        assert "mine.activity.max_idle_days" in str(info.value)
    with pytest.raises(InvalidValue, match="unknown key"):
        rules_from_dict("mine", {**base, "activity": {"idle_days": 14}})


def test_the_compliance_agent_reports_the_deadline_and_keeps_the_clock_over_a_save(registry) -> None:  # type: ignore[no-untyped-def]
    rules = {"acc": load_preset("fundednext.funded")}
    agent = ComplianceAgent(registry, rules, {"acc": CostAllowance()}, idle_since={"acc": T0 - 10 * DAY})
    head = agent.observe({"acc": snap(T0)}, {"EURUSD": Decimal("1.1")})["acc"]
    assert head.idle_deadline_ns == T0 + 20 * DAY
    again = pickle.loads(pickle.dumps(agent))  # as the shell saves it after every call
    report = again.report()["acc"]
    assert (report["max_idle_days"], report["last_entry_ns"], report["idle_deadline_ns"]) == (30, T0 - 10 * DAY, T0 + 20 * DAY)
    again.observe({"acc": snap(T0 + 21 * DAY)}, {"EURUSD": Decimal("1.1")})
    assert again.report()["acc"]["breaches"][0].startswith(f"inactivity at {T0 + 20 * DAY}")


def test_the_pass_odds_start_from_the_accounts_own_quiet_days(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = account("fundednext_futures.legacy", registry)
    acc.observe(snap(T0), rates)
    friday = T0 + 4 * DAY + 12 * 3600 * NS_PER_S  # Friday 21:00 UTC, 15:00 in Chicago: the firm day that
    state = acc.challenge_state(snap(friday), horizon_days=60)  # began on Thursday at 17:00 there
    assert (state.idle_days, state.weekday) == (4.5, 3)


def test_a_resumed_desk_takes_a_last_trade_given_since_while_it_has_seen_no_entry(registry) -> None:  # type: ignore[no-untyped-def]
    """The operator started the desk without `last_trade`, stopped it, and gave it: the resumed run's clock
    moves back to it. Once the desk has seen a trade entered, its own record wins."""
    rules = {"quiet": load_preset("fundednext.funded"), "busy": load_preset("fundednext.funded")}
    costs = {acc: CostAllowance() for acc in rules}
    agent = ComplianceAgent(registry, rules, costs)
    mids = {"EURUSD": Decimal("1.1")}
    agent.observe({"quiet": snap(T0), "busy": snap(T0, (position(T0 + 1),))}, mids)
    saved = pickle.loads(pickle.dumps(agent))
    saved.refresh(registry, rules, costs, None, None, None, None, None, True, None, None, None,
                  {"quiet": T0 - 20 * DAY, "busy": T0 - 20 * DAY})
    assert saved.report()["quiet"]["idle_deadline_ns"] == T0 + 10 * DAY
    assert saved.report()["busy"]["idle_deadline_ns"] == T0 + 1 + 30 * DAY


def test_a_corrected_last_trade_judges_its_own_stretch_and_a_later_one_is_a_trade_entered_then(registry) -> None:  # type: ignore[no-untyped-def]
    """A wrong `last_trade` (40 days back) breaches at once; corrected to 5 days back on a resumed run, the
    corrected stretch's end (day 25) is recorded too. A `last_trade` after the desk's start is a trade the
    operator entered by hand: it restarts the clock once the desk's clock reaches it."""
    rules = {"acc": load_preset("fundednext.funded")}
    costs = {"acc": CostAllowance()}
    mids = {"EURUSD": Decimal("1.1")}
    agent = ComplianceAgent(registry, rules, costs, idle_since={"acc": T0 - 40 * DAY})
    agent.observe({"acc": snap(T0)}, mids)
    assert agent.report()["acc"]["breaches"] == [
        f"inactivity at {T0 - 10 * DAY}: no trade entered for 30 days (the last at {T0 - 40 * DAY})"]
    args = (registry, rules, costs, None, None, None, None, None, True, None, None, None)
    agent.refresh(*args, {"acc": T0 - 5 * DAY})
    agent.observe({"acc": snap(T0 + 26 * DAY)}, mids)
    assert agent.report()["acc"]["breaches"][1:] == [
        f"inactivity at {T0 + 25 * DAY}: no trade entered for 30 days (the last at {T0 - 5 * DAY})"]
    hand = ComplianceAgent(registry, rules, costs)
    hand.observe({"acc": snap(T0)}, mids)
    hand.refresh(*args, {"acc": T0 + 21 * DAY})  # entered by hand on day 21, given on resuming
    hand.observe({"acc": snap(T0 + 20 * DAY)}, mids)
    assert hand.report()["acc"]["idle_deadline_ns"] == T0 + 30 * DAY  # not yet reached by the desk's clock
    hand.observe({"acc": snap(T0 + 31 * DAY)}, mids)
    report = hand.report()["acc"]
    assert report["breaches"] == [] and report["idle_deadline_ns"] == T0 + 51 * DAY and not report["idle_ran_out"]


def test_an_account_past_half_its_idle_days_takes_the_order_a_copy_rule_gives_to_one_account_only(registry) -> None:  # type: ignore[no-untyped-def]
    """FundedNext refuses a funded account's trade copied onto another account of its owner. Judged by id alone,
    the funded account took every order of the strategy both run, and the Challenge was closed for inactivity."""
    rules = {"a-funded": load_preset("fundednext.funded"), "b-challenge": load_preset("fundednext.phase1")}
    agent = ComplianceAgent(registry, rules, {acc: CostAllowance() for acc in rules}, owners=dict.fromkeys(rules, "me"),
                            capital=dict.fromkeys(rules, (Decimal(50_000), "USD")), idle_since=dict.fromkeys(rules, T0))
    mids = {"EURUSD": Decimal("1.1")}

    def at(ts: int, acc: str, held: tuple[PositionView, ...] = ()) -> AccountSnapshot:
        return AccountSnapshot(acc, "USD", ts, Decimal(50_000), Decimal(50_000), Decimal(50_000), held, 0)

    def check(ts: int) -> dict[str, ComplianceDecision]:  # one signal, the same order for both accounts
        legs = {acc: [Order(f"o-{acc}-{ts}", acc, "EURUSD", Side.BUY, Decimal("0.1"), OrderType.MARKET,
                            Decimal("1.09"), None, "sig", Decimal("1.1"), 10, ts, ts + 60 * NS_PER_S)] for acc in rules}
        decisions = agent.check(legs, {acc: at(ts, acc) for acc in rules}, mids)
        assert list(decisions) == sorted(rules), "the answer keeps the order of the ids"
        return decisions

    def signal(ts: int) -> dict[str, str]:
        return {acc: "allowed" if d.allowed else d.rule for acc, d in check(ts).items()}

    agent.observe({acc: at(T0, acc) for acc in rules}, mids)
    assert signal(T0 + DAY) == {"a-funded": "allowed", "b-challenge": "copy_trading"}
    agent.observe({"a-funded": at(T0 + DAY, "a-funded", (position(T0 + DAY),)), "b-challenge": at(T0 + DAY, "b-challenge")}, mids)
    assert signal(T0 + 14 * DAY) == {"a-funded": "allowed", "b-challenge": "copy_trading"}, "14 of 30 days: by id"
    agent.observe({"a-funded": at(T0 + 14 * DAY, "a-funded", (position(T0 + 14 * DAY),))}, mids)
    ts = T0 + 15 * DAY  # half of the Challenge's 30 days gone without a trade: it is judged first
    decisions = check(ts)
    assert decisions["b-challenge"].allowed and not decisions["a-funded"].allowed
    assert decisions["a-funded"].reason.startswith("EURUSD buy already placed on b-challenge")
    assert ("inactivity: judged before the firm's other accounts, as no trade has been entered since 2027-01-04 09:00 UTC "
            "and its firm closes it if none is by 2027-02-03 09:00 UTC") in decisions["b-challenge"].reason
    lone = ts + 61 * NS_PER_S  # an order for the Challenge alone: judged first, but nothing was taken from another
    alone = agent.check({"b-challenge": [Order("lone", "b-challenge", "EURUSD", Side.BUY, Decimal("0.1"), OrderType.MARKET,
                                               Decimal("1.09"), None, "sig", Decimal("1.1"), 10, lone, lone + 60 * NS_PER_S)]},
                        {"b-challenge": at(lone, "b-challenge")}, mids)["b-challenge"]
    assert alone.allowed and "inactivity" not in alone.reason, alone.reason
    agent.observe({"b-challenge": at(ts, "b-challenge", (position(ts),))}, mids)
    assert signal(T0 + 16 * DAY) == {"a-funded": "allowed", "b-challenge": "copy_trading"}, "entered: by id again"
    assert not any(inactivity(r) for r in agent.accounts.values())
