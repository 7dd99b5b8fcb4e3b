"""The prop-firm book: the best-day guard before a trade, the pass-odds monitor in the compliance
agent, ARIA steered by it and the account breaker halving risk on high breach odds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from actors.compliance import ComplianceAgent
from actors.risk import AdaptiveRiskAgent
from cluster.desk.saga import SagaContext, submit
from trading.breaker import BreakerLimits, CircuitBreakers
from trading.compliance import AccountRules, CostAllowance, Headroom
from trading.errors import InvalidValue
from trading.fx import ConversionRates
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot, ClosedTrade, PositionView
from trading.market import NS_PER_S, datetime_to_ts
from trading.news import NewsCalendar
from trading.orders import CloseReason, Order, OrderType, Side, Signal
from trading.passodds import MonitorSettings, prior_from_trades_csv
from trading.presets import PRESET_DIR, load_preset
from trading.sizing import RiskParameters, RiskState, size_intent

MIN = 60 * NS_PER_S


def ts(*args: int) -> int:
    return datetime_to_ts(datetime(*args, tzinfo=UTC))


MONDAY = ts(2026, 3, 2, 10, 0)


def snap(balance: str, equity: str | None = None, at: int = MONDAY, positions: tuple[PositionView, ...] = (),
         account: str = "acc", initial: str = "100000") -> AccountSnapshot:
    return AccountSnapshot(account, "USD", at, Decimal(initial), Decimal(balance), Decimal(equity or balance),
                           positions, 0)


def order(tp_pips: int | None, lots: str = "1") -> Order:
    tp = None if tp_pips is None else Decimal("1.10000") + Decimal(tp_pips) * Decimal("0.0001")
    return Order("o1", "acc", "EURUSD", Side.BUY, Decimal(lots), OrderType.MARKET, Decimal("1.09800"), tp, "sig",
                 Decimal("1.10000"), 10, MONDAY, MONDAY + 2 * MIN)


def guarded(preset: str, registry: InstrumentRegistry, day_start: str = "100000",
            guard: bool = True) -> tuple[AccountRules, ConversionRates]:
    rules = AccountRules(load_preset(preset), CostAllowance(Decimal(1), Decimal("3.5"), Decimal(10)), registry,
                         NewsCalendar.from_csv(PRESET_DIR / "news_2026.csv"), consistency_guard=guard)
    rates = ConversionRates(registry)
    rules.observe(snap(day_start, at=ts(2026, 3, 2, 0, 5)), rates)  # the firm day starts here (Prague)
    return rules, rates


# -- the best-day guard ------------------------------------------------------------------------------

def test_the_best_day_guard_caps_the_day_at_half_the_target_on_ftmo_1_step(registry: InstrumentRegistry) -> None:
    # FTMO 1-Step: best day at most 50 % of the total profit, target 10 % of 100k. A day of at most
    # 5,000 is at most half of any total that reaches 10,000. 4,800 made today; a take-profit 40 pips
    # away on 1 lot (400) would make it 5,200.
    rules, rates = guarded("ftmo_1step.challenge", registry)
    veto = rules.check([order(40)], snap("104800"), rates)
    assert (veto.allowed, veto.rule) == (False, "consistency")
    assert "5200" in veto.reason.replace(",", "") and "5000" in veto.reason.replace(",", "")
    assert rules.check([order(20)], snap("104800"), rates).allowed  # 5,000: exactly half meets the rule
    reached = rules.check([order(20)], snap("104800", equity="105000"), rates)
    assert (reached.allowed, reached.rule) == (False, "consistency") and "has reached" in reached.reason


def test_where_the_best_day_is_a_condition_an_order_without_a_take_profit_is_vetoed(
        registry: InstrumentRegistry) -> None:
    # Nothing bounds its profit, so the day could pass the cap; the pass odds assume it cannot.
    rules, rates = guarded("ftmo_1step.challenge", registry)
    bare = rules.check([order(None)], snap("100000"), rates)
    assert (bare.allowed, bare.rule) == (False, "consistency") and "no take-profit" in bare.reason
    plain, rates = guarded("ftmo.challenge", registry)  # no best-day condition: allowed
    assert plain.check([order(None)], snap("100000"), rates).allowed


def test_open_take_profits_count_toward_the_days_cap(registry: InstrumentRegistry) -> None:
    rules, rates = guarded("ftmo_1step.challenge", registry)
    open_tp = PositionView("p", "EURUSD", Side.BUY, Decimal(1), Decimal("1.10000"), Decimal("1.09800"),
                           Decimal("1.10300"), Decimal("1.10000"), Decimal(0), Decimal(-200), MONDAY - 30 * MIN)
    assert rules.check([order(40)], snap("104400"), rates).allowed  # 4,400 + 400
    veto = rules.check([order(40)], snap("104400", positions=(open_tp,)), rates)  # + 300 open = 5,100
    assert veto.rule == "consistency"


def test_past_the_target_the_cap_is_half_the_profit_before_the_day(registry: InstrumentRegistry) -> None:
    # 12,000 made before today (target 10,000 reached, the best day still too large): cap 6,000
    rules, rates = guarded("ftmo_1step.challenge", registry, day_start="112000")
    assert rules.day_profit_cap(snap("112000")) == Decimal(6000)
    assert rules.check([order(40)], snap("117500"), rates).allowed       # 5,900
    assert rules.check([order(60)], snap("117500"), rates).rule == "consistency"  # 6,100


def test_no_guard_without_a_best_day_condition_or_with_the_guard_off(registry: InstrumentRegistry) -> None:
    for preset, guard in (("ftmo.challenge", True), ("ftmo_1step.challenge", False), ("ftmo_1step.funded", True)):
        rules, rates = guarded(preset, registry, guard=guard)
        assert rules.day_profit_cap(snap("104800")) is None, preset
        assert rules.check([order(40)], snap("104800"), rates).allowed, preset
    topstep, _ = guarded("topstepx.combine", registry)  # best day 50 % of a 6 % target
    assert topstep.day_profit_cap(snap("100000")) == Decimal(3000)


# -- the pass-odds monitor in the compliance agent ------------------------------------------------------

def closed(day: datetime, r: float, n: int, account: str = "acc") -> ClosedTrade:
    at = datetime_to_ts(day)
    return ClosedTrade(f"p{n}", account, "EURUSD", Side.BUY, Decimal(1), Decimal("1.1"), Decimal("1.1"),
                       at - 3_600 * NS_PER_S, at, Decimal(repr(500 * r)), Decimal(0),
                       CloseReason.TAKE_PROFIT if r > 0 else CloseReason.STOP_LOSS, f"s{n}", Decimal(500))


R_SEQUENCE = (2.0, -1.0, -1.5, 3.0, -1.0, 0.5, -1.0, 2.5, -2.0, 1.0)


def feed(agent: ComplianceAgent, days: int, start: datetime = datetime(2026, 3, 2, 12, tzinfo=UTC)) -> dict:  # type: ignore[type-arg]
    balance, heads = Decimal(100_000), {}
    n, day = 0, start
    for _ in range(days):
        while day.weekday() >= 5:
            day += timedelta(days=1)
        t = closed(day, R_SEQUENCE[n % len(R_SEQUENCE)], n)
        balance += t.pnl
        heads = agent.observe({"acc": snap(str(balance), at=t.closed_ns)}, {"EURUSD": Decimal("1.1")}, [t])
        n += 1
        day += timedelta(days=1)
    return heads


def agent_with_odds(registry: InstrumentRegistry, prior: str | None = None, **kw: object) -> ComplianceAgent:
    settings = MonitorSettings(**{"paths": 2_000, "min_history_days": 5, **kw})  # type: ignore[arg-type]
    return ComplianceAgent(registry, {"acc": load_preset("ftmo.challenge")}, {"acc": CostAllowance()}, None, None,
                           settings, {"acc": 0.5}, prior)


def test_the_monitor_waits_for_enough_days_then_gives_odds_in_the_headroom(registry: InstrumentRegistry) -> None:
    agent = agent_with_odds(registry)
    head = feed(agent, 4)["acc"]
    assert head.pass_probability is None and head.hard_breach_probability is None
    assert "4 of 5 trading days" in agent.pass_odds("acc")["why_none"]  # type: ignore[operator]
    head = feed(agent_with_odds(registry), 5)["acc"]
    assert head.pass_probability is not None and 0 <= head.pass_probability <= 1
    assert head.hard_breach_probability is not None and head.pass_risk_pct in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def test_the_days_curve_is_kept_and_a_trade_later_that_day_redoes_the_current_risk(registry: InstrumentRegistry) -> None:
    agent = agent_with_odds(registry, every_minutes=60)
    feed(agent, 5)
    first = agent.pass_odds("acc")
    assert len(first["curve"]) == 6 and first["curve_at_ns"] == first["at_ns"]  # type: ignore[arg-type]
    last_day = datetime(2026, 3, 6, 12, tzinfo=UTC)  # the fifth weekday fed
    soon = closed(last_day + timedelta(minutes=30), -1.0, 90)
    agent.observe({"acc": snap("99000", at=soon.closed_ns)}, {"EURUSD": Decimal("1.1")}, [soon])
    assert agent.pass_odds("acc")["at_ns"] == first["at_ns"]  # within the hour: not re-run
    later = closed(last_day + timedelta(hours=2), -1.0, 91)
    agent.observe({"acc": snap("98500", at=later.closed_ns)}, {"EURUSD": Decimal("1.1")}, [later])
    again = agent.pass_odds("acc")
    assert again["at_ns"] == later.closed_ns and again["curve_at_ns"] == first["curve_at_ns"]
    assert again["current"] != first["current"]  # type: ignore[index]


def test_the_same_history_gives_the_same_odds_in_two_agents(registry: InstrumentRegistry) -> None:
    a, b = agent_with_odds(registry), agent_with_odds(registry)
    assert feed(a, 7)["acc"] == feed(b, 7)["acc"]
    assert a.pass_odds("acc") == b.pass_odds("acc")


def test_a_backtest_prior_gives_odds_from_the_first_day(registry: InstrumentRegistry, tmp_path: Path) -> None:
    csv = tmp_path / "trades.csv"
    rows = ["account,position_id,closed_utc,r_multiple"]
    rows += [f"acc,p{i},2025-06-{2 + i:02d}T15:00:00+00:00,{2.0 if i % 2 else -1.0}" for i in range(20)]
    csv.write_text("\n".join(rows) + "\n")
    agent = agent_with_odds(registry, prior=str(csv))
    head = feed(agent, 1)["acc"]
    assert head.pass_probability is not None
    assert agent.pass_odds("acc")["source"] == "backtest trades.csv"
    csv.write_text("closed_utc,r_multiple\n2025-06-02T15:00:00+00:00,1.0\n2025-06-03 15:00,x\n")
    with pytest.raises(InvalidValue, match=r"trades\.csv:3"):
        prior_from_trades_csv(csv, load_preset("ftmo.challenge"))
    csv.write_text("when,r\n")
    with pytest.raises(InvalidValue, match="closed_utc"):
        prior_from_trades_csv(csv, load_preset("ftmo.challenge"))


@pytest.mark.parametrize(("text", "where"), [
    ("closed_utc,r_multiple\n2025-06-02T15:00:00+00:00,1.0\n2025-06-03T15:00:00+00:00\n", r"trades\.csv:3"),  # short
    ("closed_utc,r_multiple\n9999-12-31T23:00:00+00:00,1.0\n", r"trades\.csv:2.*a year from 1971 to 2200"),
    ("closed_utc,r_multiple\n2025-06-02T15:00:00+00:00,\"" + "1" * 200_000 + "\"\n", r"trades\.csv:2.*not a CSV"),
])
def test_a_bad_backtest_prior_is_named_by_its_line_not_a_traceback(tmp_path: Path, text: str, where: str) -> None:
    csv = tmp_path / "trades.csv"
    csv.write_text(text)
    with pytest.raises(InvalidValue, match=where):
        prior_from_trades_csv(csv, load_preset("ftmo.challenge"))
    csv.write_bytes("closed_utc,r_multiple\n2025-06-02T15:00:00+00:00,1.0 \u00e9\n".encode("latin-1"))
    with pytest.raises(InvalidValue, match="not UTF-8"):
        prior_from_trades_csv(csv, load_preset("ftmo.challenge"))


# -- ARIA and the breaker ------------------------------------------------------------------------------

SIGNAL = Signal("EURUSD", Side.BUY, MONDAY, Decimal("1.10000"), Decimal("1.09800"), (Decimal("1.10400"),), 1.0,
                "spring", atr=0.0015)


def lots(registry: InstrumentRegistry, params: RiskParameters, pass_risk: float | None, factor: float = 1.0):  # type: ignore[no-untyped-def]
    decision = size_intent(SIGNAL, snap("100000"), registry["EURUSD"], ConversionRates(registry), params, RiskState(),
                           Decimal(10_000), pass_risk, factor)
    assert decision.intent is not None
    return decision.intent.lots, dict(decision.inputs)


def test_aria_takes_the_monitors_risk_only_when_asked_and_never_above_its_own(registry: InstrumentRegistry) -> None:
    base, steer = RiskParameters(risk_per_trade_pct=Decimal("0.5")), RiskParameters(pass_odds_risk=True)
    plain, inputs = lots(registry, base, 0.25)
    assert "pass_odds_risk_pct" not in inputs
    steered, inputs = lots(registry, steer, 0.25)
    assert steered == plain / 2 and inputs["pass_odds_risk_pct"] == 0.25
    assert lots(registry, steer, 1.5)[0] == plain  # the configured risk stays the ceiling
    assert lots(registry, steer, None)[0] == plain
    halved, inputs = lots(registry, base, None, 0.5)
    assert halved == plain / 2 and inputs["breaker_risk_factor"] == 0.5


def test_the_account_breaker_halves_risk_while_breach_odds_are_high(registry: InstrumentRegistry) -> None:
    breakers = CircuitBreakers({"acc": load_preset("ftmo.challenge")}, ["EURUSD"], BreakerLimits(hard_breach_reduce=0.25))
    head = Headroom("acc", MONDAY, Decimal(5000), Decimal(95_000), Decimal(5000), Decimal(90_000), Decimal(10_000),
                    Decimal(5000), Decimal(10_000))
    assert breakers.review(MONDAY, {}, {"acc": head}).reduced_accounts == frozenset()
    high = breakers.review(MONDAY + MIN, {}, {"acc": replace(head, hard_breach_probability=0.31)})
    assert high.reduced_accounts == {"acc"}
    assert [(e.trigger, e.action) for e in high.events] == [("hard-breach odds 31% at or above 25%", "halve risk")]
    assert not high.blocked_accounts  # it reduces risk, it does not stop the account
    still = breakers.review(MONDAY + 2 * MIN, {}, {"acc": head})  # no fresh odds: the reduction stays
    assert still.reduced_accounts == {"acc"} and not still.events
    low = breakers.review(MONDAY + 3 * MIN, {}, {"acc": replace(head, hard_breach_probability=0.1)})
    assert low.reduced_accounts == frozenset() and low.events[0].action == "full risk"
    off = CircuitBreakers({"acc": load_preset("ftmo.challenge")}, ["EURUSD"], BreakerLimits(hard_breach_reduce=0))
    assert off.review(MONDAY, {}, {"acc": replace(head, hard_breach_probability=0.9)}).reduced_accounts == frozenset()


def test_the_saga_hands_the_breakers_reductions_to_aria(registry: InstrumentRegistry) -> None:
    aria = AdaptiveRiskAgent(registry, {"acc": RiskParameters()})
    sized = {}

    def call(agent: str, method: str, *args: object) -> object:
        if agent == "risk":
            sized["out"] = getattr(aria, method)(*args)
        return None

    head = Headroom("acc", MONDAY, None, None, None, Decimal(90_000), Decimal(10_000), None, Decimal(10_000))
    mids = {"EURUSD": Decimal("1.1"), "GBPUSD": Decimal("1.27"), "USDJPY": Decimal("150")}
    for reduced in (frozenset(), frozenset({"acc"})):
        submit(SagaContext(SIGNAL, ["acc"], {"acc": snap("100000")}, mids, {"acc": head}, call, reduced))
        sized[reduced] = sized["out"]["acc"].intent.lots
    assert sized[frozenset({"acc"})] == sized[frozenset()] / 2


# -- one book across accounts: conduct caps, what was allowed -------------------------------------------

def conduct_agent(registry: InstrumentRegistry, accounts: dict[str, tuple[str, str, str, str]]) -> ComplianceAgent:
    """accounts: id -> (preset, owner, balance, currency)."""
    return ComplianceAgent(registry, {a: load_preset(p) for a, (p, _, _, _) in accounts.items()},
                           {a: CostAllowance() for a in accounts}, {a: o for a, (_, o, _, _) in accounts.items()},
                           str(PRESET_DIR / "news_2026.csv"),
                           capital={a: (Decimal(b), c) for a, (_, _, b, c) in accounts.items()})


def legs_for(accounts: list[str], at: int = MONDAY, side: Side = Side.BUY) -> dict[str, list[Order]]:
    stop = Decimal("1.09800") if side is Side.BUY else Decimal("1.10200")
    tp = Decimal("1.10200") if side is Side.BUY else Decimal("1.09800")
    return {a: [Order(f"o-{a}", a, "EURUSD", side, Decimal(1), OrderType.MARKET, stop, tp, "sig", Decimal("1.10000"),
                      10, at, at + 2 * MIN)] for a in accounts}


MIDS = {"EURUSD": Decimal("1.1"), "GBPUSD": Decimal("1.27"), "USDJPY": Decimal("150")}


def test_topstep_allows_five_funded_accounts_a_person_and_vetoes_the_sixth_by_name(registry: InstrumentRegistry) -> None:
    accounts = {f"x{i}": ("topstepx.funded", "ann", "50000", "USD") for i in range(1, 7)}
    accounts["y1"] = ("topstepx.funded", "bob", "50000", "USD")
    accounts["c1"] = ("topstepx.combine", "ann", "50000", "USD")  # evaluations are not counted
    agent = conduct_agent(registry, accounts)
    # one at a time: copying between ann's own accounts is allowed, and each is its own placement
    for i, acc in enumerate(sorted(accounts)):
        at = MONDAY + i * 5 * MIN
        out = agent.check(legs_for([acc], at), {a: snap("50000", at=at, account=a, initial="50000") for a in accounts},
                          MIDS)
        if acc == "x6":
            assert (out[acc].allowed, out[acc].rule) == (False, "max_accounts_per_owner")
            assert "ann holds 6 accounts at Topstep" in out[acc].reason and "allows 5" in out[acc].reason
        else:
            assert out[acc].allowed, (acc, out[acc].reason)
    assert "account 5 of 5 for ann at Topstep" in agent.check(legs_for(["x5"], MONDAY + 99 * MIN),
                                                               {"x5": snap("50000", account="x5", initial="50000")},
                                                               MIDS)["x5"].reason


def test_ftmo_counts_capital_across_its_programs_in_its_own_currency_equivalents(registry: InstrumentRegistry) -> None:
    accounts = {"f1": ("ftmo.funded", "ann", "200000", "USD"), "f2": ("ftmo_1step.funded", "ann", "160000", "EUR"),
                "f3": ("ftmo.funded", "ann", "50000", "USD"), "f4": ("ftmo.funded", "ann", "10000", "SGD"),
                "g1": ("ftmo.funded", "bob", "400000", "USD")}
    agent = conduct_agent(registry, accounts)
    # 200,000 USD is half of 400,000 USD; 160,000 EUR is half of 320,000 EUR: the cap is used up
    out = agent.check(legs_for(list(accounts)), {a: snap(b, account=a, initial=b) for a, (_, _, b, _) in accounts.items()},
                      MIDS)
    assert out["f1"].allowed and "ann uses 50%" in out["f1"].reason
    assert out["f2"].allowed and "ann uses 100%" in out["f2"].reason
    assert (out["f3"].rule, out["f4"].rule) == ("max_capital_per_owner", "max_capital_per_owner")
    assert "112%" in out["f3"].reason and "cannot be counted" in out["f4"].reason
    assert out["g1"].allowed  # another person's allowance


def test_a_copy_the_firm_restricts_is_recorded_with_the_allowance(registry: InstrumentRegistry) -> None:
    agent = conduct_agent(registry, {"a": ("the5ers.phase1", "ann", "100000", "USD"),
                                     "b": ("the5ers.phase1", "ann", "100000", "USD")})
    out = agent.check(legs_for(["a", "b"]), {a: snap("100000", account=a) for a in "ab"}, MIDS)
    assert out["a"].allowed and out["a"].reason == "within all rules"
    assert out["b"].allowed and "the same EURUSD buy as on a, allowed at The5ers between one owner's accounts" \
        in out["b"].reason


def test_a_cap_in_a_custom_firm_must_name_currencies_and_positive_amounts() -> None:
    from trading.presets import rules_from_dict

    base = {"daily_loss_pct": 5, "max_loss_pct": 10, "lock_at_initial": False}
    with pytest.raises(InvalidValue, match="must map account currencies"):
        rules_from_dict("x", {**base, "conduct": {"max_capital_per_owner": 400000}})
    with pytest.raises(InvalidValue, match="currency codes"):
        rules_from_dict("x", {**base, "conduct": {"max_capital_per_owner": {"usd": 1}}})
    with pytest.raises(InvalidValue, match="positive amount"):
        rules_from_dict("x", {**base, "conduct": {"max_capital_per_owner": {"USD": 0}}})


def test_the_book_nets_instruments_and_currencies_across_accounts_and_firms(registry: InstrumentRegistry) -> None:
    from trading.exposure import BookPosition, book_view

    reg = {s: registry[s] for s in registry.symbols}
    book = book_view([
        BookPosition("a", "FTMO", "EURUSD", Side.BUY, Decimal(2), Decimal("1.10000")),
        BookPosition("b", "The5ers", "EURUSD", Side.SELL, Decimal("0.5"), Decimal("1.10000")),
        BookPosition("b", "The5ers", "USDJPY", Side.BUY, Decimal(1), Decimal("150.000")),
    ], reg)
    assert book["by_instrument"] == [
        {"symbol": "EURUSD", "net_lots": Decimal("1.5"), "long_lots": Decimal(2), "short_lots": Decimal("0.5"),
         "accounts": {"a": Decimal(2), "b": Decimal("-0.5")}},
        {"symbol": "USDJPY", "net_lots": Decimal(1), "long_lots": Decimal(1), "short_lots": Decimal(0),
         "accounts": {"b": Decimal(1)}}]
    by_ccy = {c["currency"]: c for c in book["by_currency"]}  # type: ignore[attr-defined]
    assert by_ccy["EUR"]["net"] == 150_000 and by_ccy["EUR"]["firms"] == {"FTMO": 200_000, "The5ers": -50_000}
    # USD: -220,000 (EURUSD long 2) + 55,000 (short 0.5) + 100,000 (USDJPY long 1)
    assert by_ccy["USD"]["net"] == -65_000 and by_ccy["JPY"]["net"] == -15_000_000
    assert book["by_firm"] == [{"firm": "FTMO", "accounts": ["a"], "open_lots": Decimal(2), "positions": 1},
                               {"firm": "The5ers", "accounts": ["b"], "open_lots": Decimal("1.5"), "positions": 2}]


def test_the_objectives_left_are_shown_as_a_plan(registry: InstrumentRegistry) -> None:
    # The5ers: three profitable days of at least 0.5 % of the initial balance, target 8 %
    rules = AccountRules(load_preset("the5ers.phase1"), CostAllowance(), registry,
                         consistency_guard=True)
    rates = ConversionRates(registry)
    rules.observe(snap("100000", at=ts(2026, 3, 2, 0, 5)), rates)
    rules.observe(snap("100600", at=ts(2026, 3, 2, 20)), rates)
    plan = rules.objectives(snap("100600", at=ts(2026, 3, 2, 20)))["plan"]
    assert plan == ["make 7400.00 more, to a total profit of 8000.00",
                    "2 more profitable day(s) (1 of 3), each closing at least 500.00 up"]
    # FTMO 1-Step: a 6,000 day needs a total of 12,000 for the best day to be half of it
    one, rates = guarded("ftmo_1step.challenge", registry)
    one.observe(snap("106000", at=ts(2026, 3, 2, 20)), rates)
    assert one.objectives(snap("106000", at=ts(2026, 3, 2, 20)))["plan"] == [
        "make 6000.00 more, to a total profit of 12000.00 (the best day, 6000.00, may be at most 50% of it)"]


@pytest.mark.parametrize(("preset", "peak"), [("topstepx.combine", 1.03), ("fundednext_futures.rapid", 1.04)])
def test_the_day_in_progress_raises_an_end_of_day_floor_for_the_odds(registry: InstrumentRegistry, preset: str,
                                                                      peak: float) -> None:
    # Topstep 50K: the floor trails the end-of-day balance by 2,000. 1,500 made today (the day
    # counts as done for the odds) puts it at 49,500; a -4.5R day at 1 % (-2,250) then breaks it.
    # Without today's close the floor stays at 48,000 and the same day survives.
    from trading.passodds import DailyOutcomes, simulate
    rules = AccountRules(load_preset(preset), CostAllowance(), registry)
    rates = ConversionRates(registry)
    rules.observe(snap("50000", at=ts(2026, 3, 2, 0, 5), initial="50000"), rates)
    if preset.startswith("fundednext"):  # the day's high: 52,000, then back to 51,500
        rules.observe(snap("52000", at=ts(2026, 3, 2, 14), initial="50000"), rates)
    now = snap("51500", at=ts(2026, 3, 2, 15), initial="50000")
    rules.observe(now, rates)
    state = rules.challenge_state(now, 60)
    assert state.eod_peak == pytest.approx(peak)
    [odds] = simulate(rules.rules, state, DailyOutcomes.given([(-4.5, -4.5, 0.0, True, 1.0)]), [0.01], paths=200)
    assert odds.p_fail["max_loss"] == 1.0


def test_opposite_legs_in_one_batch_on_two_topstep_accounts_are_a_hedge(registry: InstrumentRegistry) -> None:
    accounts = {"x1": ("topstepx.funded", "ann", "50000", "USD"), "x2": ("topstepx.funded", "ann", "50000", "USD")}
    agent = conduct_agent(registry, accounts)
    legs = {**legs_for(["x1"]), **legs_for(["x2"], side=Side.SELL)}
    out = agent.check(legs, {a: snap("50000", account=a, initial="50000") for a in accounts}, MIDS)
    assert out["x1"].allowed
    assert (out["x2"].allowed, out["x2"].rule) == (False, "hedging_across_accounts")
    assert "x1 has an opposite EURUSD order working" in out["x2"].reason
