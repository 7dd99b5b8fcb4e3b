"""Which signals to trust, the pure parts: features from a signal's evidence, the context the desk
keeps as it goes equal to the one training builds from a run's records, walk-forward folds with an
embargo and a purge, the metrics against brute force, and the promotion rule."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.errors import InvalidValue
from trading.orders import Evidence, Side, Signal
from trading.trust import (
    FEATURES,
    REGIME_MIN,
    HeadroomPoint,
    LiveContext,
    TradeOutcome,
    auc,
    brier,
    calibration,
    contexts,
    expectancy,
    features,
    judge,
    session_of,
    walk_forward,
)

H = 3_600_000_000_000


def spring(ts: int, atr: float = 0.001, symbol: str = "EURUSD") -> Signal:
    return Signal(symbol, Side.BUY, ts, Decimal("1.1000"), Decimal("1.0980"), (Decimal("1.1050"),), 0.7, "spring", (
        Evidence("selling_climax", ts - 40 * H, (("volume_ratio", 4.2), ("range_atr", 2.5), ("other", 9.0))),
        Evidence("automatic_rally", ts - 30 * H, (("height_atr", 3.0), ("retrace", 0.4))),
        Evidence("spring", ts - H, (("penetration_atr", 0.6), ("volume_ratio", 0.8), ("tests", 1.0))),
        Evidence("structure", ts, (("context", 1.0), ("direction", 0.0))),
        Evidence("cause", ts, (("pnf_columns", 5.0), ("height_atr", 6.0), ("htf_regime", 1.0), ("reward_risk", 2.5))),
    ), atr=atr)


def test_features_come_from_the_evidence_by_group_and_are_missing_where_absent() -> None:
    f = features(spring(1_767_607_200_000_000_000), LiveContext().at(spring(0)))
    assert list(f) == list(FEATURES)
    assert f["climax.volume_ratio"] == 4.2 and f["test.volume_ratio"] == 0.8 and f["cause.reward_risk"] == 2.5
    assert "climax.other" not in f  # a number the schema does not name is not a feature
    assert math.isnan(f["sos.beyond_height"]) and math.isnan(f["lps.hold_height"]) and math.isnan(f["st.depth_height"])
    assert f["side"] == 1.0 and f["phase_c"] == 1.0 and f["has_test"] == 1.0 and f["has_sos"] == 0.0
    assert f["stop_atr"] == pytest.approx(2.0) and f["reward_risk_1"] == pytest.approx(2.5)
    # 2026-01-05 10:00 UTC: a Monday, London
    assert f["weekday"] == 0.0 and f["session"] == 1.0
    assert [session_of(h * H) for h in (3, 8, 13, 18, 22)] == [0.0, 1.0, 2.0, 3.0, 0.0]


def stream(seed: int, n: int = 120) -> tuple[list[Signal], list[TradeOutcome], list[HeadroomPoint]]:
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(1, 30, n)) * H // 4
    signals = [spring(int(t), atr=float(rng.uniform(0.0005, 0.002)), symbol=("EURUSD", "GBPUSD")[int(rng.integers(2))])
               for t in ts]
    closed = sorted((TradeOutcome(int(t + rng.integers(0, 40) * H // 4), float(rng.normal())) for t in ts),
                    key=lambda o: o.closed_ns)
    heads = [HeadroomPoint(int(t + rng.integers(-3, 3) * H // 8), ("a", "b")[i % 2], float(rng.uniform(0, 1)),
                           float(rng.uniform(0, 0.1))) for i, t in enumerate(ts)]
    return signals, closed, sorted(heads, key=lambda p: p.ts_ns)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_desks_live_context_equals_the_one_training_builds(seed: int) -> None:
    """The desk feeds trades and headroom as they happen; training reads them from the records: the
    features of every signal are the same both ways."""
    signals, closed, heads = stream(seed)
    offline = contexts(signals, closed, heads)
    live = LiveContext()
    events = sorted([(o.closed_ns, 0, o) for o in closed] + [(p.ts_ns, 1, p) for p in heads]
                    + [(s.ts_ns, 2, s) for s in signals], key=lambda e: (e[0], e[1]))
    got = []
    for t, kind, what in events:
        if kind == 0:
            live.on_trades([what])  # type: ignore[list-item]
        elif kind == 1:
            live.on_headroom([what])  # type: ignore[list-item]
        else:
            assert what.ts_ns == t
            got.append(live.at(what))  # type: ignore[arg-type]
    for a, b in zip(offline, got, strict=True):
        for name in ("atr_regime", "daily_fraction", "max_loss_fraction", "recent_mean_r", "recent_win_rate"):
            x, y = getattr(a, name), getattr(b, name)
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y), name
    assert sum(not math.isnan(c.atr_regime) for c in offline) > len(signals) - 2 * REGIME_MIN - 2


def test_a_trade_closing_at_the_signals_instant_is_not_yet_known() -> None:
    s = spring(100 * H)
    live = LiveContext()
    live.on_trades([TradeOutcome(99 * H, 1.0), TradeOutcome(100 * H, -1.0)])
    assert live.at(s).recent_mean_r == 1.0
    assert contexts([s], [TradeOutcome(99 * H, 1.0), TradeOutcome(100 * H, -1.0)], [])[0].recent_mean_r == 1.0


@settings(max_examples=60, deadline=None)
@given(n=st.integers(60, 400), folds=st.integers(1, 6), embargo=st.integers(0, 50), hold=st.integers(0, 30),
       seed=st.integers(0, 1000))
def test_walk_forward_never_trains_on_a_label_that_reaches_its_test_block(n: int, folds: int, embargo: int, hold: int,
                                                                        seed: int) -> None:
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(0, 5, n)).astype(np.int64) * H
    ends = ts + rng.integers(0, hold + 1, n) * H
    out = walk_forward(ts, folds, embargo * H, ends, min_train=10)
    tested: list[int] = []
    for f in out:
        assert len(f.train) >= 10 and len(f.test) > 0
        assert ts[f.train].max() < f.test_from_ns - embargo * H
        assert ends[f.train].max() < f.test_from_ns
        assert f.train.max() < f.test.min()  # train strictly before test
        tested.extend(f.test.tolist())
    assert len(tested) == len(set(tested))  # no test block overlaps another
    assert tested == sorted(tested)


def test_walk_forward_refuses_unsorted_or_nonsense() -> None:
    with pytest.raises(InvalidValue):
        walk_forward(np.array([3, 1, 2]), 2, 0)
    with pytest.raises(InvalidValue):
        walk_forward(np.arange(10), 0, 0)
    with pytest.raises(InvalidValue):
        walk_forward(np.arange(10), 2, -1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=2, max_size=60))
def test_auc_is_the_share_of_correctly_ordered_pairs_ties_a_half(pairs: list[tuple[bool, int]]) -> None:
    y = np.array([p[0] for p in pairs], dtype=np.float64)
    p = np.array([p[1] / 6 for p in pairs])
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        assert math.isnan(auc(y, p))
        return
    brute = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))
    assert auc(y, p) == pytest.approx(brute)


def test_brier_calibration_and_expectancy_by_hand() -> None:
    y = np.array([1, 0, 1, 1, 0.0])
    p = np.array([0.9, 0.2, 0.6, 0.15, 0.05])
    assert brier(y, p) == pytest.approx(((0.1) ** 2 + 0.2 ** 2 + 0.4 ** 2 + 0.85 ** 2 + 0.05 ** 2) / 5)
    cal = calibration(y, p, bins=2)  # [0, .5): .2 .15 .05 -> 1 of 3; [.5, 1]: .9 .6 -> 2 of 2
    assert cal == [{"bin": 0.0, "n": 3, "predicted": pytest.approx(0.4 / 3), "observed": pytest.approx(1 / 3)},
                   {"bin": 0.5, "n": 2, "predicted": pytest.approx(0.75), "observed": 1.0}]
    e = expectancy(np.array([2, -1, 2, 2, -1.0]), p, 0.5)
    assert e["taken_n"] == 2 and e["taken_mean_r"] == 2.0 and e["all_mean_r"] == pytest.approx(0.8)


def test_a_challenger_must_beat_the_champion_by_the_margin_on_average_and_in_most_folds() -> None:
    assert judge([0.70, 0.72, 0.69], None, 0.02).promote  # beats chance
    assert not judge([0.51, 0.50, 0.52], None, 0.02).promote
    assert judge([0.70, 0.72, 0.69], [0.60, 0.61, 0.62], 0.02).promote
    assert not judge([0.70, 0.72, 0.69], [0.69, 0.71, 0.68], 0.02).promote  # better, but under the margin
    # on average by far, but only in one fold of three
    assert not judge([0.95, 0.60, 0.60], [0.60, 0.61, 0.62], 0.02).promote
    assert not judge([math.nan, math.nan], [0.6, 0.6], 0.0).promote
    # ranked better, but the trades it would take earn less than the baseline's on average
    worse = judge([0.70, 0.72, 0.69], None, 0.02, edge=[0.1, -0.4, -0.2])
    assert not worse.promote and "worse" in worse.reason
    assert judge([0.70, 0.72, 0.69], None, 0.02, edge=[0.1, -0.05, math.nan]).promote  # (a fold taking nothing: left out)
    assert not judge([0.70, 0.72, 0.69], None, 0.02, edge=[math.nan] * 3).promote
    with pytest.raises(InvalidValue):
        judge([0.7], [0.6, 0.6], 0.0)


def test_the_auc_standard_error_matches_the_spread_of_aucs_under_chance() -> None:
    from trading.trust import auc_se, pooled_z

    assert auc_se(0.5, 100, 100) == pytest.approx(math.sqrt(201 / (12 * 100 * 100)), rel=0.01)  # Mann-Whitney's
    rng = np.random.default_rng(4)
    draws = [auc((rng.random(200) < 0.4).astype(float), rng.random(200)) for _ in range(400)]
    y = (rng.random(200) < 0.4).astype(float)
    assert np.std(draws) == pytest.approx(auc_se(0.5, int(y.sum()), int(len(y) - y.sum())), rel=0.15)
    # a real signal stands many errors above chance and above a noisy baseline; noise does not
    x = rng.normal(size=2000)
    won = (rng.random(2000) < 1 / (1 + np.exp(-1.5 * x))).astype(float)
    a, z = pooled_z(won, x)
    assert a > 0.7 and z > 10
    _, z_noise = pooled_z(won, rng.random(2000))
    assert abs(z_noise) < 3
    _, z_vs = pooled_z(won, x, rng.random(2000))
    assert z_vs > 5


def test_a_perfect_ranking_is_not_taken_for_luck() -> None:
    from trading.trust import pooled_z

    y = np.array([0, 0, 1, 1, 0, 1], dtype=float)
    a, z = pooled_z(y, np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.7]))
    assert a == 1.0 and z == math.inf
    assert judge([1.0, 1.0], None, 0.02, None, z).promote
