"""A scaling plan: the lots held together may rise with the profit a day began with (``SizeLimits.scaling``).

Topstep's Express Funded Account: "As you build/lose equity, your buying power will increase/decrease based on
your end-of-day PNL"; "Your maximum number of contracts allowed to trade under the scaling plan does NOT increase
throughout the trading day. Once you surpass one of the thresholds ..., you will need to wait until the following
session" (help.futures.topstep.com/hc/en-us/articles/360000140787)."""

from __future__ import annotations

import pickle
from dataclasses import fields, replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading.compliance import AccountRules, CostAllowance
from trading.errors import InvalidValue
from trading.fx import ConversionRates
from trading.ledger import AccountSnapshot, ClosedTrade, PositionView
from trading.market import NS_PER_S, datetime_to_ts
from trading.orders import Order, OrderType, Side
from trading.presets import load_preset, rules_from_dict
from trading.rules import SizeLimits

MIN = 60 * NS_PER_S
FIRM = {"daily_loss_pct": None, "breach": "below", "max_loss_pct": 4, "max_loss_kind": "trailing_eod",
        "lock_at_initial": True, "reset_timezone": "America/Chicago", "reset_time": "17:00",
        "size": {"max_lots_total": 2, "scaling": {4: 5, 3: 3}}}  # the 50K: 2, 3 above 1,500 USD, 5 above 2,000


def at(day: int) -> int:  # 10:00 UTC, 04:00 in Chicago: inside the firm day that began at 17:00 the day before
    return datetime_to_ts(datetime(2026, 3, day, 10, 0, tzinfo=UTC))


def snap(ts: int, balance: str, held: str = "0") -> AccountSnapshot:
    positions = (PositionView("p", "EURUSD", Side.BUY, Decimal(held), Decimal("1.10000"), Decimal("1.09950"), None,
                              Decimal("1.10000"), Decimal(0), Decimal(-25), ts - 10 * MIN),) if Decimal(held) else ()
    return AccountSnapshot("acc", "USD", ts, Decimal(50_000), Decimal(balance), Decimal(balance), positions, 0)


def order(ts: int, lots: str) -> Order:
    return Order("o", "acc", "EURUSD", Side.BUY, Decimal(lots), OrderType.MARKET, Decimal("1.09950"), None, "sig",
                 Decimal("1.10000"), 10, ts, ts + 2 * MIN)


def test_the_plan_is_read_sorted_and_a_bad_one_is_named() -> None:
    rules = rules_from_dict("x", FIRM)
    assert rules.size.scaling == ((Decimal(3), Decimal(3)), (Decimal(4), Decimal(5)))
    for size, why in [({"scaling": {3: 3}}, "needs max_lots_total"),
                      ({"max_lots_total": 2, "scaling": {3: 3, 4: 3}}, "each step must raise the cap"),
                      ({"max_lots_total": 4, "scaling": {3: 3}}, "each step must raise the cap"),
                      ({"max_lots_total": 2, "scaling": [3, 3]}, "must map a profit in percent"),
                      ({"max_lots_total": 2, "scaling": {}}, "must map a profit in percent"),
                      ({"max_lots_total": 2, "scaling": {"-1": 3}}, "0 or more"),
                      ({"max_lots_total": 2, "scaling": {3: "lots"}}, "must be a number"),
                      ({"max_lots_total": 2, "scaling": {"1e999999999": 3}}, "between 1e-12 and 1e12"),  # overflowed
                      ({"max_lots_total": 2, "scaling": {3: "1e999999999"}}, "between 1e-12 and 1e12"),
                      ({"max_lots_total": 2, "scaling": {3: "1000000000001"}}, "between 1e-12 and 1e12")]:
        with pytest.raises(InvalidValue, match=rf"^x\.size\.scaling.*{why}"):  # named from the firm on
            rules_from_dict("x", {**FIRM, "size": size})
    assert rules_from_dict("x", {**FIRM, "size": {"max_lots_total": 2, "scaling": {3: "1e12"}}}).size.scaling == ((3, 10**12),)


def test_the_cap_is_the_step_for_the_profit_a_day_began_with_strictly_above_it() -> None:
    size = rules_from_dict("x", FIRM).size
    cap = {b: size.lots_cap(Decimal(b), Decimal(50_000)) for b in ("48000", "50000", "51500", "51500.01", "52000",
                                                                    "52000.01", "80000")}
    assert cap == {"48000": 2, "50000": 2, "51500": 2, "51500.01": 3, "52000": 3, "52000.01": 5, "80000": 5}


def test_the_desk_holds_the_day_to_its_cap_which_moves_only_at_the_reset(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = AccountRules(rules_from_dict("x", FIRM), CostAllowance(), registry), ConversionRates(registry)
    day1 = at(3)
    assert acc.check([order(day1, "0.5")], snap(day1, "50000", "1.5"), rates).allowed  # 2 lots: the cap, not above
    veto = acc.check([order(day1, "0.6")], snap(day1, "50000", "1.5"), rates)
    assert (veto.allowed, veto.rule) == (False, "scaling_plan")
    assert veto.reason == ("1.5 open + 0.6 new lots > 2, the cap for a day begun at 50000.00 (3 lots once a day "
                           "begins more than 3% above the initial balance)")
    later = day1 + 4 * 60 * MIN  # 2,500 made since: the cap does not rise during the day
    assert acc.check([order(later, "1")], snap(later, "52500", "1.5"), rates).rule == "scaling_plan"
    day2 = at(4)  # the day began at 52,500: more than 4% up, 5 lots
    assert acc.check([order(day2, "3")], snap(day2, "52500", "2"), rates).allowed
    assert "> 5, the cap for a day begun at 52500.00" in acc.check([order(day2, "3.5")], snap(day2, "52500", "2"), rates).reason
    day3 = at(5)  # a losing day: it began at 51,600, the cap falls back to 3
    assert acc.check([order(day3, "1")], snap(day3, "51600", "2"), rates).allowed
    veto = acc.check([order(day3, "1.5")], snap(day3, "51600", "2"), rates)
    assert veto.rule == "scaling_plan" and "(5 lots once a day begins more than 4% above" in veto.reason


def test_without_a_plan_the_cap_is_max_lots_total_and_named_so(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = AccountRules(rules_from_dict("x", {**FIRM, "size": {"max_lots_total": 2}}), CostAllowance(), registry), \
        ConversionRates(registry)
    veto = acc.check([order(at(4), "3")], snap(at(4), "60000"), rates)
    assert (veto.rule, veto.reason) == ("max_lots_total", "0 open + 3 new lots > 2")


def test_size_limits_saved_before_the_plan_load_without_one() -> None:
    old = SizeLimits(max_lots_total=Decimal(5))
    state = old.__getstate__()[: len(fields(SizeLimits)) - 1]  # as a state saved before scaling was added
    loaded = SizeLimits.__new__(SizeLimits)
    loaded.__setstate__(state)
    assert loaded == old and loaded.scaling == ()
    assert pickle.loads(pickle.dumps(rules_from_dict("x", FIRM))).size.scaling == ((3, 3), (4, 5))


def test_topsteps_express_funded_account_carries_the_50ks_plan_and_the_combine_its_fixed_maximum() -> None:
    funded, combine = load_preset("topstepx.funded").size, load_preset("topstepx.combine").size
    assert (funded.max_lots_total, funded.scaling) == (2, ((3, 3), (4, 5)))  # 2; 3 above 1,500; 5 above 2,000
    assert (combine.max_lots_total, combine.scaling) == (5, ())
    assert {load_preset(n).size.scaling for n in ("ftmo.funded", "fundednext.funded", "the5ers.funded")} == {()}


def test_the_headroom_tells_the_sizing_the_lots_the_days_cap_leaves(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = AccountRules(rules_from_dict("x", FIRM), CostAllowance(), registry), ConversionRates(registry)
    assert acc.observe(snap(at(3), "50000", "1.5"), rates).lots_room == Decimal("0.5")
    assert acc.observe(snap(at(4), "52500", "1"), rates).lots_room == 4  # the day began above 2,000 up: 5 lots
    no_cap = AccountRules(load_preset("ftmo.funded"), CostAllowance(), registry)
    assert no_cap.observe(snap(at(4), "52500"), rates).lots_room is None


def test_legs_allowed_and_not_yet_filled_count_until_they_fill_are_refused_or_expire(registry) -> None:  # type: ignore[no-untyped-def]
    """A ladder's legs may become active seconds after the signal: a second signal before they fill must not
    take the account past its cap (the reviewer's case: 2.4 lots held on a 2-lot day)."""
    from actors.compliance import ComplianceAgent
    from actors.execution import ExecUpdate
    from trading.orders import CloseReason, ExecutionReport, Fill, FillKind, OrderStatus
    agent = ComplianceAgent(registry, {"acc": rules_from_dict("x", FIRM)}, {"acc": CostAllowance()})
    mids, day = {"EURUSD": Decimal("1.1")}, at(3)
    first = Order("leg-1", "acc", "EURUSD", Side.BUY, Decimal("1.2"), OrderType.MARKET, Decimal("1.09950"), None,
                  "sig", Decimal("1.10000"), 10, day, day + 60 * NS_PER_S)
    assert agent.check({"acc": [first]}, {"acc": snap(day, "50000")}, mids)["acc"].allowed
    veto = agent.check({"acc": [order(day + 1, "1.2")]}, {"acc": snap(day + 1, "50000")}, mids)["acc"]
    assert (veto.rule, veto.reason) == ("scaling_plan", "0 open + 1.2 allowed, not yet filled + 1.2 new lots > 2, the cap "
                                        "for a day begun at 50000.00 (3 lots once a day begins more than 3% above the "
                                        "initial balance)")
    rules = agent.accounts["acc"]
    assert rules.lots_room(snap(day + 1, "50000")) == Decimal("0.8")
    part = snap(day + 2, "50000", "0.5")  # half a lot of it filled: its position carries the leg's id
    part = replace(part, positions=(replace(part.positions[0], position_id="leg-1"),))

    def fill(kind: FillKind, status: OrderStatus, ts: int) -> ExecUpdate:
        opening = kind is FillKind.OPEN
        done = Fill("leg-1", "acc", "EURUSD", Side.BUY if opening else Side.SELL, Decimal("0.5"), Decimal("1.1"), ts,
                    kind, CloseReason.ENTRY if opening else CloseReason.TAKE_PROFIT)
        closed = () if opening else (ClosedTrade("leg-1", "acc", "EURUSD", Side.BUY, Decimal("0.5"), Decimal("1.1"),
                                                 Decimal("1.1005"), day + 2, ts, Decimal(25), Decimal(0),
                                                 CloseReason.TAKE_PROFIT, "sig", Decimal(25)),)
        return ExecUpdate((ExecutionReport("leg-1", "acc", status, ts, fill=done),), closed,
                          {"acc": part if opening else snap(ts, "50025")}, mids)

    agent.observe_update(fill(FillKind.OPEN, OrderStatus.PARTIALLY_FILLED, day + 2))
    (symbol, left, risk, opened), = rules.working(part)
    whole = rules.state.working["leg-1"][2]
    assert (symbol, left, risk, opened) == ("EURUSD", Decimal("0.7"), whole * Decimal("0.7") / Decimal("1.2"), True)
    assert rules.lots_room(part) == Decimal("0.8"), "0.5 held + 0.7 waiting"
    # the filled half closes at its take-profit (reported under the leg's id): the rest still works at the venue
    agent.observe_update(fill(FillKind.CLOSE, OrderStatus.PARTIALLY_FILLED, day + 3))
    flat = snap(day + 3, "50025")
    assert rules.working(flat) == [("EURUSD", Decimal("0.7"), whole * Decimal("0.7") / Decimal("1.2"), False)]
    assert rules.lots_room(flat) == Decimal("1.3")
    assert rules.lots_room(snap(day + 61 * NS_PER_S, "50000")) == 2, "expired"
    agent.observe_update(ExecUpdate((ExecutionReport("leg-1", "acc", OrderStatus.CANCELLED, day + 4),), (),
                                    {"acc": snap(day + 4, "50000")}, mids))
    assert agent.check({"acc": [order(day + 5, "2")]}, {"acc": snap(day + 5, "50000")}, mids)["acc"].allowed, "cancelled"



def test_a_part_filled_leg_counts_as_the_position_it_adds_to_and_a_state_saved_before_legs_loads(registry) -> None:  # type: ignore[no-untyped-def]
    """The reviewer's cases: a part-filled order's rest adds to its own position, so it is not a second one; and an
    account's rules saved before legs were kept load with none."""
    from trading.compliance import RuleState
    rules = AccountRules(rules_from_dict("x", {**FIRM, "size": {"max_positions_total": 2}}), CostAllowance(), registry)
    rates, day = ConversionRates(registry), at(3)
    leg = Order("leg-1", "acc", "EURUSD", Side.BUY, Decimal("1"), OrderType.MARKET, Decimal("1.09950"), None, "sig",
                Decimal("1.10000"), 10, day, day + 60 * NS_PER_S)
    rules.placed([leg], snap(day, "50000"), rates)
    rules.filled("leg-1", Decimal("0.5"))
    part = snap(day + 1, "50000", "0.5")
    part = replace(part, positions=(replace(part.positions[0], position_id="leg-1"),))
    assert rules.check([order(day + 1, "0.5")], part, rates).allowed  # 1 position (its rest adds to it) + 1 new
    assert rules.check([order(day + 1, "0.1"), replace(order(day + 1, "0.1"), client_order_id="o2")], part,
                       rates).rule == "max_positions_total"
    old = RuleState()
    state = dict(old.__dict__)
    del state["working"]  # as pickled before legs were kept
    loaded = RuleState.__new__(RuleState)
    loaded.__setstate__(state)
    assert loaded.working == {} and pickle.loads(pickle.dumps(rules.state)).working == rules.state.working
