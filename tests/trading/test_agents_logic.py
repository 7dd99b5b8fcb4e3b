"""Sizing, exposure, execution style, breaker, performance and learning, without Ray."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from trading.breaker import Breaker, BreakerState, Tier
from trading.execution_style import ExecutionProfile, apply_profile
from trading.exposure import ReturnsWindow, correlated_gross, currency_legs, fit_scale, net_by_currency
from trading.fx import ConversionRates
from trading.learning import PatternBook
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.orders import CloseReason, Evidence, OrderIntent, Side, Signal
from trading.performance import EquityCurve, summarize
from trading.sizing import RiskParameters, RiskState, size_intent

TS = 1_772_409_600_000_000_000


def signal(conf: float = 0.8, stop: str = "1.09800", atr: float = 0.0002) -> Signal:
    return Signal("EURUSD", Side.BUY, TS, Decimal("1.10000"), Decimal(stop), (Decimal("1.10400"),), conf, "spring",
                  (Evidence("spring", TS, (("volume_ratio", 1.2),)),), atr)


def snap(equity: str = "100000") -> AccountSnapshot:
    return AccountSnapshot("acc", "USD", TS, Decimal(100_000), Decimal(100_000), Decimal(equity), (), 0)


def test_size_is_the_risk_budget_over_the_stop_value(eurusd) -> None:
    d = size_intent(signal(conf=1.0), snap(), eurusd, ConversionRates({}), RiskParameters(), RiskState(), Decimal(5000))
    # 0.5 % of 100,000 = 500 over a 20-pip stop worth 200 per lot = 2.5 lots.
    assert d.intent is not None and d.intent.lots == Decimal("2.50")
    assert dict(d.inputs)["budget"] == pytest.approx(500.0)


def test_risk_is_cut_as_drawdown_deepens_and_capped_by_headroom(eurusd) -> None:
    state = RiskState(peak_equity=Decimal(100_000))
    d = size_intent(signal(conf=1.0), snap("97000"), eurusd, ConversionRates({}), RiskParameters(), state, Decimal(5000))
    assert d.intent is not None and d.intent.lots == Decimal("1.25")  # drawdown 3 % > 2 %: 2.5 halved
    d = size_intent(signal(conf=1.0), snap(), eurusd, ConversionRates({}), RiskParameters(), RiskState(), Decimal(400))
    assert d.intent is not None and d.intent.lots == Decimal("0.50")  # a quarter of 400 headroom


def test_the_lots_are_cut_to_the_firms_lots_room_and_the_budget_to_a_share_of_its_risk_room(eurusd) -> None:
    """A scaling plan's step (``Headroom.lots_room``) and an open-risk cap (``risk_room``): the desk trades what they
    leave rather than an order the compliance agent would refuse."""
    def size(lots_room: str | None = None, risk_room: str | None = None):  # type: ignore[no-untyped-def]
        return size_intent(signal(conf=1.0), snap(), eurusd, ConversionRates({}), RiskParameters(), RiskState(),
                           Decimal(5000), lots_room=None if lots_room is None else Decimal(lots_room),
                           risk_room=None if risk_room is None else Decimal(risk_room))
    assert size().intent.lots == Decimal("2.50")  # type: ignore[union-attr]
    assert size(lots_room="5").intent.lots == Decimal("2.50")  # type: ignore[union-attr]
    cut = size(lots_room="2.005")
    assert cut.intent is not None and cut.intent.lots == Decimal("2.00") and dict(cut.inputs)["lots_room"] == 2.005
    none = size(lots_room="0.005")
    assert none.intent is None and none.rule == "lots_cap" and "leaves 0.005" in none.reason
    risky = size(risk_room="1200")  # a quarter of 1,200 = 300 over 200 a lot
    assert risky.intent is not None and risky.intent.lots == Decimal("1.50") and dict(risky.inputs)["risk_room"] == 1200
    full = size(risk_room="0")
    assert (full.intent, full.rule) == (None, "open_risk") and "leaves 0.00" in full.reason


def test_a_drawdown_cut_is_restored_a_step_per_winning_trade_not_at_once(eurusd) -> None:
    state = RiskState(peak_equity=Decimal(100_000))
    rates, params = ConversionRates({}), RiskParameters()
    deep = size_intent(signal(conf=1.0), snap("95000"), eurusd, rates, params, state, Decimal(5000))
    assert dict(deep.inputs)["drawdown_factor"] == 0.25  # 5 % down: a quarter of the risk
    recovered = size_intent(signal(conf=1.0), snap("100000"), eurusd, rates, params, state, Decimal(5000))
    assert dict(recovered.inputs)["drawdown_factor"] == 0.25, "back at the peak, but not trusted yet"
    state.record(trade("300"))
    state.record(trade("300"))
    after_two = size_intent(signal(conf=1.0), snap("100000"), eurusd, rates, params, state, Decimal(5000))
    assert dict(after_two.inputs)["drawdown_factor"] == 0.75
    state.record(trade("-100"))
    state.record(trade("300"))
    assert dict(size_intent(signal(conf=1.0), snap("100000"), eurusd, rates, params, state,
                            Decimal(5000)).inputs)["drawdown_factor"] == 1.0


def test_low_confidence_or_a_budget_below_one_micro_lot_is_not_traded(eurusd) -> None:
    d = size_intent(signal(conf=0.1), snap(), eurusd, ConversionRates({}), RiskParameters(), RiskState(), Decimal(5000))
    assert d.intent is None and "confidence" in d.reason
    d = size_intent(signal(), snap(), eurusd, ConversionRates({}), RiskParameters(), RiskState(), Decimal("0.5"))
    assert d.intent is None and "less than" in d.reason


def test_an_account_whose_own_trades_show_no_edge_is_vetoed_under_kelly_unless_the_cap_is_off(eurusd) -> None:
    state = RiskState()
    for pnl in ["300"] * 2 + ["-100"] * 18:  # 2 of 20 won, at 3x the loss: Kelly 0.1 - 0.9 / 3 < 0
        state.record(trade(pnl))
    d = size_intent(signal(conf=1.0), snap(), eurusd, ConversionRates({}), RiskParameters(), state, Decimal(5000))
    assert d.intent is None and d.rule == "kelly" and dict(d.inputs)["kelly_cap"] == 0.0
    assert d.reason.startswith("fractional Kelly cap 0: this account's 20 trades (2 won, the average win 3.00x")
    off = size_intent(signal(conf=1.0), snap(), eurusd, ConversionRates({}), RiskParameters(kelly_fraction=Decimal(0)),
                      state, Decimal(5000))
    assert off.intent is not None and off.intent.lots == Decimal("2.50") and dict(off.inputs)["kelly_cap"] == -1.0
    few = size_intent(signal(conf=1.0), snap(), eurusd, ConversionRates({}), RiskParameters(kelly_min_trades=21),
                      state, Decimal(5000))
    assert few.intent is not None, "fewer trades than kelly_min_trades: no cap yet"
    poor = size_intent(signal(), snap(), eurusd, ConversionRates({}), RiskParameters(), RiskState(), Decimal("0.5"))
    assert poor.rule == "sizing"  # a budget too small for a micro lot is not the Kelly rule


def test_currency_exposure_nets_long_eur_against_short_usd(eurusd) -> None:
    rates = ConversionRates({"EURUSD": eurusd})
    rates.update("EURUSD", Decimal("1.1"))
    legs = currency_legs(eurusd, Side.BUY, Decimal(1), Decimal("1.1"), rates, "USD")
    assert legs["EUR"] == pytest.approx(110_000) and legs["USD"] == pytest.approx(-110_000)
    net = net_by_currency([legs, currency_legs(eurusd, Side.SELL, Decimal(1), Decimal("1.1"), rates, "USD")])
    assert net["EUR"] == pytest.approx(0) and net["USD"] == pytest.approx(0)
    assert fit_scale({"EUR": 900_000.0}, {"EUR": 200_000.0}, 1_000_000) == pytest.approx(0.5)


def test_opposite_bets_on_correlated_pairs_offset() -> None:
    window = ReturnsWindow()
    for i in range(100):
        window.add("A", 1 + 0.001 * (i % 7))
        window.add("B", 2 + 0.002 * (i % 7))
    assert window.correlation("A", "B") == pytest.approx(1.0, abs=1e-6)
    assert correlated_gross({"A": 100.0, "B": -100.0}, window) == pytest.approx(0.0, abs=1e-3)


def test_the_style_ladder_splits_size_and_never_adds_risk(eurusd) -> None:
    intent = OrderIntent(signal(), "acc", Decimal("1.00"), Decimal("1.09800"), Decimal(200))
    profile = ExecutionProfile("l", delay_seconds=(1, 20), take_profit_ladder=((Decimal("0.5"), 0), (Decimal("0.5"), 1)),
                               size_variance_pct=Decimal(5))
    legs = apply_profile(intent, profile, eurusd)
    assert len(legs) == 2 and sum(o.lots for o in legs) <= Decimal("1.00")
    assert sum(o.lots for o in legs) >= Decimal("0.95")
    assert legs == apply_profile(intent, profile, eurusd)  # seeded: the same every time
    assert TS + 1e9 <= legs[0].not_before_ns <= TS + 20e9
    assert len({o.client_order_id for o in legs}) == 2


def test_a_breaker_opens_cools_down_probes_and_closes() -> None:
    s = 10**9
    b = Breaker(Tier.ACCOUNT, "acc", cooldown_s=60, probation_s=60)
    assert b.trip(0, "loss", "stop") is not None and b.state is BreakerState.OPEN
    assert b.tick(30 * s, True) == []
    assert [(e.to_state, e.ts_ns) for e in b.tick(61 * s, True)] == [(BreakerState.HALF_OPEN, 60 * s)]  # when due
    assert [(e.to_state, e.ts_ns) for e in b.tick(70 * s, False)] == [(BreakerState.OPEN, 70 * s)]
    assert [(e.to_state, e.ts_ns) for e in b.tick(129 * s, True)] == []
    assert [(e.to_state, e.ts_ns) for e in b.tick(200 * s, True)] == [(BreakerState.HALF_OPEN, 130 * s),
                                                                      (BreakerState.CLOSED, 190 * s)]


def test_a_breaker_is_in_the_same_state_at_any_time_however_often_it_is_reviewed() -> None:
    s = 10**9
    for reviews in ([300], [100, 300], [61, 119, 121, 300], list(range(1, 301))):
        b = Breaker(Tier.ACCOUNT, "acc", cooldown_s=60, probation_s=60)
        b.trip(0, "loss", "stop")
        moves = [(e.to_state, e.ts_ns) for t in reviews for e in b.tick(t * s, True)]
        assert moves == [(BreakerState.HALF_OPEN, 60 * s), (BreakerState.CLOSED, 120 * s)], reviews


def trade(pnl: str, closed: int = TS) -> ClosedTrade:
    return ClosedTrade("p", "acc", "EURUSD", Side.BUY, Decimal(1), Decimal(1), Decimal(1), TS, closed,
                       Decimal(pnl), Decimal(0), CloseReason.STOP_LOSS, "EURUSD-1-spring-buy", Decimal(100))


def test_performance_tracks_drawdown_and_win_rate() -> None:
    curve = EquityCurve(Decimal(1000))
    for i, eq in enumerate(["1000", "1100", "990", "1050"]):
        curve.add(TS + i * 86_400 * 10**9, Decimal(eq))
    s = summarize("acc", curve, [trade("100"), trade("-110"), trade("60")])
    assert curve.max_drawdown == Decimal(110) and s.win_rate == pytest.approx(2 / 3)
    assert s.net_pnl == Decimal(50) and s.profit_factor == pytest.approx(160 / 110)
    assert s.max_drawdown_pct == pytest.approx(10.0)  # 110 of the 1,100 it fell from


def test_sortino_with_no_losing_day_is_infinite_as_the_profit_factor_with_no_loss_and_zero_when_flat() -> None:
    rising, flat = EquityCurve(Decimal(1000)), EquityCurve(Decimal(1000))
    for i, eq in enumerate(["1010", "1030", "1035"]):
        rising.add(TS + i * 86_400 * 10**9, Decimal(eq))
        flat.add(TS + i * 86_400 * 10**9, Decimal(1000))
    s = summarize("acc", rising, [trade("35")])
    assert s.sortino == math.inf and s.profit_factor == math.inf and 0 < s.sharpe < math.inf
    f = summarize("acc", flat, [])
    assert f.sortino == 0.0 and f.sharpe == 0.0 and f.profit_factor == 0.0


def test_drawdown_percent_is_of_the_peak_the_fall_began_at_not_the_highest_peak() -> None:
    curve = EquityCurve(Decimal(100_000))
    for i, eq in enumerate(["90000", "200000", "190000"]):
        curve.add(TS + i * 86_400 * 10**9, Decimal(eq))
    s = summarize("acc", curve, [])
    assert curve.max_drawdown == Decimal(10_000) and s.max_drawdown_pct == pytest.approx(10.0)


def test_learning_pairs_signals_with_their_outcomes() -> None:
    book = PatternBook()
    sig = Signal("EURUSD", Side.BUY, 1, Decimal("1.1"), Decimal("1.0"), (), 0.5, "spring",
                 (Evidence("spring", 1, (("volume_ratio", 1.5),)),))
    book.on_signal(sig)
    t = trade("50")
    sample = book.on_trade(ClosedTrade(**{**{f: getattr(t, f) for f in ClosedTrade.__slots__},  # type: ignore[attr-defined]
                                          "signal_id": sig.signal_id}))
    assert sample is not None and sample.won and ("spring.volume_ratio", 1.5) in sample.features
    assert book.trust()["spring"]["samples"] == 1
