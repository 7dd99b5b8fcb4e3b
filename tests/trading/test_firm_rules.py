"""Every preset loads with its sources; every rule vetoes by name; holding rules ask for a flatten;
trailing floors move as their firms say; resets follow daylight saving in each firm's zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from actors.compliance import ComplianceAgent
from trading.compliance import AccountRules, CostAllowance, news_flat_instants
from trading.errors import InvalidValue
from trading.fx import ConversionRates
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot, PositionView
from trading.market import NS_PER_S, datetime_to_ts, next_weekend_close_ns
from trading.news import NewsCalendar, NewsEvent
from trading.orders import Order, OrderType, Side
from trading.presets import PRESET_DIR, load_preset, preset_names, rules_from_dict
from trading.rules import CopyTrading, Holding, MaxLossKind, NewsBlackout, Objectives, SizeLimits

MIN = 60 * NS_PER_S


def ts(*args: int) -> int:
    return datetime_to_ts(datetime(*args, tzinfo=UTC))


MONDAY = ts(2026, 3, 2, 10, 0)


def snap(equity: str = "100000", balance: str = "100000", positions: tuple[PositionView, ...] = (),
         at: int = MONDAY, account: str = "acc") -> AccountSnapshot:
    return AccountSnapshot(account, "USD", at, Decimal(100_000), Decimal(balance), Decimal(equity), positions, 0)


def order(lots: str = "1", at: int = MONDAY, side: Side = Side.BUY, cid: str = "o1", account: str = "acc",
          expiry_min: int = 2) -> Order:
    stop, ref = ("1.09000", "1.10000") if side is Side.BUY else ("1.11000", "1.10000")
    return Order(cid, account, "EURUSD", side, Decimal(lots), OrderType.MARKET, Decimal(stop), None, "sig",
                 Decimal(ref), 10, at, at + expiry_min * MIN)


def position(lots: str = "1", side: Side = Side.BUY, opened: int = MONDAY - 60 * MIN) -> PositionView:
    stop = Decimal("1.09900") if side is Side.BUY else Decimal("1.10100")
    return PositionView("p", "EURUSD", side, Decimal(lots), Decimal("1.10000"), stop, None, Decimal("1.10000"),
                        Decimal(0), Decimal(-100), opened)


SAMPLE_NEWS = NewsCalendar.from_csv(PRESET_DIR / "news_2026.csv")  # covers 2026: a news rule can be checked


def account(rules, registry, news=None) -> tuple[AccountRules, ConversionRates]:  # type: ignore[no-untyped-def]
    return AccountRules(rules, CostAllowance(Decimal(1), Decimal("3.5"), Decimal(10)), registry,
                        news or SAMPLE_NEWS), ConversionRates(registry)


def test_every_preset_loads_and_cites_its_sources_and_date() -> None:
    names = preset_names()
    assert {"ftmo", "ftmo_1step", "the5ers", "fundednext", "fundednext_1step", "fundednext_lite",
            "fundednext_futures", "topstepx"} == {n.split(".")[0] for n in names}
    assert len(names) >= 20
    for name in names:
        rules = load_preset(name)
        assert rules.source.urls and all(u.startswith("https://") for u in rules.source.urls), name
        assert rules.source.read_on == "2026-12-01" and rules.source.firm and rules.source.notes, name
    ftmo = load_preset("ftmo.challenge")
    assert (ftmo.daily_loss_pct, ftmo.max_loss_pct, ftmo.reset_timezone) == (Decimal(5), Decimal(10), "Europe/Prague")
    assert ftmo.objectives.profit_target_pct == 10 and load_preset("ftmo.verification").objectives.profit_target_pct == 5
    futures = load_preset("topstepx.combine")
    assert futures.max_loss_kind is MaxLossKind.TRAILING_EOD and futures.daily_loss_pct is None
    assert not futures.holding.overnight and futures.objectives.consistency_pct == 50


def test_a_bad_rule_key_or_value_is_named() -> None:
    with pytest.raises(InvalidValue, match=r"x\.size\.max_lots=1: unknown key"):
        rules_from_dict("x", {"daily_loss_pct": 5, "max_loss_pct": 10, "lock_at_initial": False,
                              "size": {"max_lots": 1}})
    with pytest.raises(InvalidValue, match=r"x\.max_loss_kind"):
        rules_from_dict("x", {"daily_loss_pct": 5, "max_loss_pct": 10, "lock_at_initial": False,
                              "max_loss_kind": "sometimes"})
    with pytest.raises(InvalidValue, match=r"x\.holding\.weekend"):
        rules_from_dict("x", {"daily_loss_pct": 5, "max_loss_pct": 10, "lock_at_initial": False,
                              "holding": {"weekend": "no"}})
    with pytest.raises(InvalidValue, match="unknown preset"):
        load_preset("nofirm.phase1")
    base = {"daily_loss_pct": 5, "max_loss_pct": 10, "lock_at_initial": False}
    for key, raw, why in [("daily_loss_pct", float("nan"), "finite"), ("daily_loss_pct", "5_0", "a number"),
                          ("daily_loss_pct", True, "a number"), ("reset_time", 1500, "a time of day"),
                          ("reset_time", True, "a time of day"), ("reset_time", 17.5, "a time of day"),
                          ("reset_time", "02:30", "changes its clocks")]:
        with pytest.raises(InvalidValue, match=rf"x\.{key}=.*{why}"):
            rules_from_dict("x", {**base, key: raw})
    with pytest.raises(InvalidValue, match=r"x\.holding\.flat_minutes_before=.*at most 1440"):
        rules_from_dict("x", {**base, "holding": {"flat_minutes_before": 10**12}})
    with pytest.raises(InvalidValue, match=r"x\.daily_loss_of='reference': means nothing with daily_loss_pct: null"):
        rules_from_dict("x", {**base, "daily_loss_pct": None, "daily_loss_of": "reference"})
    assert (PRESET_DIR / "news_2026.csv").is_file()


@pytest.mark.parametrize(("size", "orders", "positions", "rule"), [
    (SizeLimits(max_lots_per_order=Decimal(1)), ["2"], (), "max_lots_per_order"),
    (SizeLimits(max_lots_per_instrument=Decimal(2)), ["1.5"], ("1",), "max_lots_per_instrument"),
    (SizeLimits(max_lots_total=Decimal(3)), ["1", "1"], ("1.5",), "max_lots_total"),
    (SizeLimits(max_positions_per_instrument=2), ["1", "1"], ("0.5",), "max_positions_per_instrument"),
    (SizeLimits(max_positions_total=1), ["0.5"], ("0.5",), "max_positions_total"),
])
def test_each_size_limit_vetoes_by_its_name(registry, size, orders, positions, rule) -> None:  # type: ignore[no-untyped-def]
    rules = replace(load_preset("fundednext.phase1"), size=size)
    acc, rates = account(rules, registry)
    legs = [order(lots, cid=f"o{i}") for i, lots in enumerate(orders)]
    decision = acc.check(legs, snap(positions=tuple(position(p) for p in positions)), rates)
    assert not decision.allowed and decision.rule == rule, decision


def test_news_blackout_vetoes_an_order_that_could_fill_in_the_window(registry) -> None:
    nfp = ts(2026, 3, 6, 13, 30)
    news = NewsCalendar([NewsEvent(nfp, "USD", "Non-Farm Payrolls"), NewsEvent(nfp - 30 * MIN, "JPY", "BoJ")])
    acc, rates = account(load_preset("the5ers.phase1"), registry, news)  # 2 min before and after
    at = nfp - 4 * MIN
    decision = acc.check([order(at=at, expiry_min=1)], snap(at=at), rates)
    assert decision.allowed, decision.reason  # may fill until 13:27, before the window opens at 13:28
    blocked = acc.check([order(at=at, expiry_min=3)], snap(at=at), rates)
    assert not blocked.allowed and blocked.rule == "news_blackout" and "Non-Farm Payrolls" in blocked.reason
    after = nfp + 3 * MIN
    assert acc.check([order(at=after)], snap(at=after), rates).allowed
    # FTMO's challenge has no news rule
    acc2, _ = account(load_preset("ftmo.challenge"), registry, news)
    assert acc2.check([order(at=at, expiry_min=5)], snap(at=at), rates).allowed


def test_weekend_holding_vetoes_late_friday_orders_and_asks_for_a_flatten(registry) -> None:
    acc, rates = account(load_preset("ftmo.funded"), registry)  # no weekend holding, flat 15 min before
    close = ts(2026, 3, 6, 22, 0)  # 17:00 New York, still on winter time
    assert next_weekend_close_ns(ts(2026, 3, 6, 12, 0)) == close
    late = close - 16 * MIN
    decision = acc.check([order(at=late, expiry_min=5)], snap(at=late), rates)
    assert not decision.allowed and decision.rule == "weekend_holding"
    assert acc.check([order(at=late - 60 * MIN)], snap(at=late - 60 * MIN), rates).allowed
    held = (position(),)
    assert acc.observe(snap(positions=held, at=close - 20 * MIN), rates).flatten_reason == ""
    assert "weekend holding" in acc.observe(snap(positions=held, at=close - 15 * MIN), rates).flatten_reason
    assert acc.observe(snap(at=close - 15 * MIN), rates).flatten_reason == "", "nothing to flatten when flat"


@pytest.mark.parametrize("preset", ["ftmo.funded", "ftmo_1step.funded"])
def test_ftmo_accounts_of_both_programs_keep_the_news_and_weekend_restrictions(registry, preset: str) -> None:  # type: ignore[no-untyped-def]
    # ftmo.oanda.com/?p=121: the FTMO Account's news restriction "applies equally to traders who qualified
    # through FTMO Challenge: 1-Step and FTMO Challenge: 2-Step"; ftmo.com/en/faq/do-i-have-to-close-my-
    # positions-overnight: on the FTMO Account positions close "just before the markets close for the weekend".
    nfp = ts(2026, 3, 6, 13, 30)
    acc, rates = account(load_preset(preset), registry, NewsCalendar([NewsEvent(nfp, "USD", "Non-Farm Payrolls")]))
    at = nfp - 3 * MIN
    blocked = acc.check([order(at=at, expiry_min=2)], snap(at=at), rates)
    assert not blocked.allowed and blocked.rule == "news_blackout", blocked
    close = ts(2026, 3, 6, 22, 0)
    assert "weekend holding" in acc.observe(snap(positions=(position(),), at=close - 15 * MIN), rates).flatten_reason


def test_an_ftmo_account_closes_before_a_news_window_and_trades_nothing_in_its_lead(registry) -> None:  # type: ignore[no-untyped-def]
    # FTMO: "if a Stop Loss or Take Profit is triggered within the restricted time window, this will also
    # be considered a breach", and no trade may be opened or closed inside it. So an account holding a
    # position on a targeted instrument closes in the 5 minutes before the window (13:21-13:28 for a
    # 13:30 payrolls), not inside it, and no order on one may fill from 13:23.
    nfp = ts(2026, 3, 6, 13, 30)
    news = NewsCalendar([NewsEvent(nfp, "USD", "Non-Farm Payrolls"), NewsEvent(nfp, "JPY", "low one", "low")])
    acc, rates = account(load_preset("ftmo.funded"), registry, news)
    held = (position(opened=nfp - 60 * MIN),)
    assert acc.observe(snap(positions=held, at=nfp - 8 * MIN), rates).flatten_reason == ""
    head = acc.observe(snap(positions=held, at=nfp - 7 * MIN), rates)
    assert head.flatten_reason == (f"news_blackout: Non-Farm Payrolls (USD) at {nfp}: flat 5 min before its window "
                                   "(a stop or take-profit triggered inside it breaks the rule)")
    assert acc.observe(snap(positions=held, at=nfp - 2 * MIN - 1), rates).flatten_reason.startswith("news_blackout")
    assert acc.observe(snap(positions=held, at=nfp - 2 * MIN), rates).flatten_reason == "", "inside: closing breaks it"
    assert acc.observe(snap(at=nfp - 5 * MIN), rates).flatten_reason == "", "nothing to close when flat"
    lead = nfp - 7 * MIN
    blocked = acc.check([order(at=lead, expiry_min=1)], snap(at=lead), rates)
    assert (blocked.allowed, blocked.rule) == (False, "news_blackout") and "no orders 7 min before" in blocked.reason
    early = nfp - 10 * MIN
    assert acc.check([order(at=early, expiry_min=2)], snap(at=early), rates).allowed
    # the desk cuts its batches where each close starts (the low-impact JPY event opens nothing)
    assert news_flat_instants(acc.rules, news, nfp - 60 * MIN, nfp, {"EUR", "USD", "JPY"}) == [nfp - 7 * MIN]
    assert news_flat_instants(acc.rules, news, nfp - 7 * MIN, nfp, {"EUR", "USD"}) == [], "(since, until]"
    assert news_flat_instants(load_preset("the5ers.phase1"), news, nfp - 60 * MIN, nfp, {"USD"}) == [], \
        "a firm that lets positions ride through the window closes nothing"


def test_the_news_flatten_never_fires_inside_another_events_window(registry) -> None:  # type: ignore[no-untyped-def]
    # payrolls at 13:30 (USD) and an ECB release at 13:35 (EUR), EURUSD held: a close at 13:28-13:32 would be
    # inside the payrolls' window, so the ECB's lead (13:26-13:33) closes only before 13:28
    nfp = ts(2026, 3, 6, 13, 30)
    news = NewsCalendar([NewsEvent(nfp, "USD", "Non-Farm Payrolls"), NewsEvent(nfp + 5 * MIN, "EUR", "ECB")])
    acc, rates = account(load_preset("ftmo.funded"), registry, news)
    held = (position(opened=nfp - 60 * MIN),)
    assert acc.observe(snap(positions=held, at=nfp - 2 * MIN - 1), rates).flatten_reason.startswith("news_blackout")
    for at in (nfp - 2 * MIN, nfp, nfp + 2 * MIN):
        assert acc.observe(snap(positions=held, at=at), rates).flatten_reason == "", at
    assert "ECB" in acc.observe(snap(positions=held, at=nfp + 2 * MIN + 1), rates).flatten_reason


def test_a_flat_lead_without_a_news_window_is_refused() -> None:
    with pytest.raises(InvalidValue, match="set minutes_before or minutes_after with it"):
        rules_from_dict("x", {"daily_loss_pct": 5, "max_loss_pct": 10, "lock_at_initial": False,
                              "news": {"flat_minutes_before": 5}})


def test_overnight_holding_is_measured_to_the_firms_session_end(registry) -> None:
    acc, rates = account(load_preset("topstepx.combine"), registry)  # 17:00 Chicago, flat 120 min before
    # 2026-03-02 is before US DST: 17:00 CST = 23:00 UTC, so flat by 21:00 UTC.
    assert acc.rules.flat_deadline_ns(MONDAY) == (ts(2026, 3, 2, 21, 0), "overnight holding")
    # after 2026-03-08 (CDT): 17:00 = 22:00 UTC, flat by 20:00 UTC
    assert acc.rules.flat_deadline_ns(ts(2026, 3, 9, 10, 0)) == (ts(2026, 3, 9, 20, 0), "overnight holding")
    late = ts(2026, 3, 2, 20, 58)
    decision = acc.check([order("1", at=late)], snap(at=late), rates)
    assert not decision.allowed and decision.rule == "overnight_holding"


def test_trailing_end_of_day_floor_moves_at_the_reset_only_and_locks_at_the_initial_balance(registry) -> None:
    acc, rates = account(load_preset("topstepx.combine"), registry)  # 4 % = 4,000 on 100k
    day1 = ts(2026, 3, 2, 15, 0)
    acc.observe(snap(at=day1), rates)
    acc.observe(snap("102500", "102500", at=day1 + 60 * MIN), rates)
    assert acc.floor(Decimal(100_000)) == Decimal(96_000), "intraday highs do not move it"
    day2 = ts(2026, 3, 3, 15, 0)  # after the 17:00 Chicago reset of day 1
    acc.observe(snap("102500", "102500", at=day2), rates)
    assert acc.floor(Decimal(100_000)) == Decimal(98_500)
    acc.observe(snap("106000", "106000", at=ts(2026, 3, 4, 15, 0)), rates)
    assert acc.floor(Decimal(100_000)) == Decimal(100_000), "locked at the initial balance"


def test_a_soft_daily_limit_is_a_pause_not_a_breach(registry) -> None:
    acc, rates = account(load_preset("fundednext_futures.legacy"), registry)  # 2.4 % soft daily limit
    acc.observe(snap(at=MONDAY), rates)
    acc.observe(snap("97500", "97500", at=MONDAY + MIN), rates)
    assert acc.state.breaches == [] and len(acc.state.soft_breaches) == 1
    ftmo, _ = account(load_preset("ftmo.challenge"), registry)
    ftmo.observe(snap(at=MONDAY), rates)
    ftmo.observe(snap("94900", "94900", at=MONDAY + MIN), rates)
    assert len(ftmo.state.breaches) == 1


def test_time_limit_and_objectives(registry) -> None:
    rules = replace(load_preset("fundednext.phase1"), objectives=Objectives(Decimal(8), 5, time_limit_days=30,
                                                                           consistency_pct=Decimal(40)))
    acc, rates = account(rules, registry)
    acc.observe(snap(at=MONDAY), rates)
    later = MONDAY + 31 * 86_400 * NS_PER_S
    decision = acc.check([order(at=later)], snap(at=later), rates)
    assert not decision.allowed and decision.rule == "time_limit"
    acc.observe(snap("103000", "103000", at=MONDAY + 86_400 * NS_PER_S), rates)
    progress = acc.objectives(snap("103000", "103000", at=MONDAY + 86_400 * NS_PER_S))
    assert progress["best_day_share_pct"] == 100.0 and not progress["consistency_ok"]
    assert not progress["target_reached"]


@pytest.mark.parametrize(("zone_preset", "before", "after"), [
    # FundedNext's server midnight, GMT+2 / GMT+3 read as 17:00 New York: 22:00 UTC, 21:00 UTC from 2026-03-08
    ("fundednext.phase1", (2026, 3, 6, 22, 0), (2026, 3, 9, 21, 0)),
    # FTMO 1-Step, Prague midnight in spring: 23:00 UTC, then 22:00 UTC from 2026-03-29
    ("ftmo_1step.challenge", (2026, 3, 27, 23, 0), (2026, 3, 30, 22, 0)),
    # America/New_York 17:00 (The5ers): 22:00 UTC, then 21:00 UTC from 2026-03-08
    ("the5ers.phase1", (2026, 3, 6, 22, 0), (2026, 3, 9, 21, 0)),
    # Europe/Prague midnight (FTMO), autumn: 22:00 UTC until 2026-10-25, then 23:00 UTC
    ("ftmo.challenge", (2026, 10, 24, 22, 0), (2026, 10, 25, 23, 0)),
])
def test_resets_follow_daylight_saving_in_each_firms_zone(zone_preset, before, after) -> None:  # type: ignore[no-untyped-def]
    rules = load_preset(zone_preset)
    assert rules.next_reset_ns(ts(*before) - 1) == ts(*before)
    assert rules.next_reset_ns(ts(*after) - 1) == ts(*after)
    assert rules.next_reset_ns(ts(*before)) != ts(*before) + 0, "a reset instant starts a new day"
    assert rules.trading_day(ts(*after)) != rules.trading_day(ts(*after) - 1)


def test_copy_trading_and_hedging_across_accounts_are_enforced(registry: InstrumentRegistry) -> None:
    the5ers = load_preset("the5ers.phase1")  # copy trading only between one owner's accounts
    hedge_free = replace(load_preset("fundednext.funded"), conduct=replace(load_preset("fundednext.funded").conduct,
                                                                            hedging_across_accounts=False))
    costs = CostAllowance(Decimal(1), Decimal("3.5"), Decimal(10))
    agent = ComplianceAgent(registry, {"a": the5ers, "b": the5ers, "c": the5ers, "x": hedge_free, "y": hedge_free},
                            {k: costs for k in "abcxy"}, {"a": "ann", "b": "ann", "c": "bob", "x": "ann", "y": "ann"},
                            str(PRESET_DIR / "news_2026.csv"))
    mids = {"EURUSD": Decimal("1.1"), "GBPUSD": Decimal("1.27"), "USDJPY": Decimal("150")}
    snaps = {k: snap(account=k) for k in "abc"}
    out = agent.check({k: [order(account=k, cid=f"o-{k}")] for k in "abc"}, snaps, mids)
    assert out["a"].allowed and out["b"].allowed, "one owner may copy between own accounts"
    assert not out["c"].allowed and out["c"].rule == "copy_trading"
    snaps = {"x": snap(account="x", positions=(position(side=Side.SELL),)), "y": snap(account="y")}
    out = agent.check({"y": [order(account="y", cid="o-y")]}, snaps, mids)
    assert not out["y"].allowed and out["y"].rule == "hedging_across_accounts"
    assert CopyTrading("forbidden") is CopyTrading.FORBIDDEN and Holding().weekend and not NewsBlackout().active


def preset_row(name: str) -> str:
    """The row of ``docs/operators.md``'s preset table for one preset, from its loaded rules."""
    r = load_preset(name)
    daily = "none" if r.daily_loss_pct is None else f"{r.daily_loss_pct} % of {r.daily_loss_of.value}"
    reference = "-" if r.daily_loss_pct is None else r.daily_reference.value
    hard = "" if r.daily_loss_hard or r.daily_loss_pct is None else " (soft)"
    lock = "locks at initial" if r.lock_at_initial else "no lock"
    kind = r.max_loss_kind.value if r.max_loss_kind is MaxLossKind.STATIC else f"{r.max_loss_kind.value}, {lock}"
    return (f"| `{name}` | {daily}{hard} | {reference} | {r.breach.value} | {r.max_loss_pct} %, {kind} | "
            f"{r.reset_timezone} {r.reset_time:%H:%M} | {r.source.urls[0]} |")


def test_the_operators_doc_lists_every_preset_rule_by_rule() -> None:
    doc = (PRESET_DIR.parent.parent / "docs" / "operators.md").read_text()
    missing = [preset_row(n) for n in preset_names() if preset_row(n) not in doc]
    assert not missing, "docs/operators.md is out of date; its rows should read:\n" + "\n".join(missing)


def test_legs_allowed_and_not_yet_filled_count_in_the_worst_case_of_the_next_order(registry) -> None:  # type: ignore[no-untyped-def]
    """A ladder's legs may become active seconds after their signal: a second signal's worst case must include them,
    or two orders each within the day's 5,000 would together break it."""
    agent = ComplianceAgent(registry, {"acc": load_preset("ftmo.challenge")}, {"acc": CostAllowance()})
    mids = {"EURUSD": Decimal("1.1")}
    first = agent.check({"acc": [order("3", cid="leg-1")]}, {"acc": snap()}, mids)["acc"]  # 3 lots, ~3,060 at the stop
    assert first.allowed
    second = agent.check({"acc": [order("3", at=MONDAY + NS_PER_S, cid="leg-2")]}, {"acc": snap(at=MONDAY + NS_PER_S)}, mids)["acc"]
    assert (second.allowed, second.rule) == (False, "daily_loss"), second
    later = MONDAY + 3 * MIN  # the first leg expired unfilled: the second fits again
    assert agent.check({"acc": [order("3", at=later, cid="leg-3")]}, {"acc": snap(at=later)}, mids)["acc"].allowed
