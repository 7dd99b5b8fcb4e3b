"""Wyckoff detection: both modes agree bar for bar, nothing looks ahead, the planted structure
is found, and every signal carries its evidence."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import numpy as np
import pytest

from cluster.adapters.feeds.replay import generate_ticks
from trading.bars import BarAggregator
from trading.market import Bar
from trading.wyckoff import (
    PHASES,
    WyckoffDetector,
    WyckoffParams,
    bars_frame,
    detect,
    detect_points,
    scenarios_b,
    scenarios_c,
    scenarios_d,
    scenarios_e,
    scenarios_f,
    scenarios_g,
    scenarios_h,
    scenarios_i,
    scenarios_j,
)
from trading.wyckoff.chart import chart
from trading.wyckoff.features import FEATURES, Extreme, RankWindow, Tracker, WindowSum, compute
from trading.wyckoff.machine import pnf_columns
from trading.wyckoff.scenarios import PERTURBATIONS, SCALE, Label, generate, perturb
from trading.wyckoff.scoring import Score, match, outcome

FAMILIES = {"A": generate, "B": scenarios_b.generate, "C": scenarios_c.generate, "D": scenarios_d.generate,
            "E": scenarios_e.generate, "F": scenarios_f.generate, "G": scenarios_g.generate,
            "H": scenarios_h.generate, "I": scenarios_i.generate, "J": scenarios_j.generate}
SETUP_OF = {"spring": "spring", "last_point_of_support": "spring", "upthrust": "upthrust",
            "last_point_of_supply": "upthrust"}


def bars_of(settings, symbol: str, n: int = 120_000) -> tuple[list[Bar], list]:  # type: ignore[no-untyped-def]
    reg = settings.registry()
    ticks, labels = generate_ticks(reg, settings.generator_profiles(), n, 7, datetime(2026, 3, 2, tzinfo=UTC))
    inst = reg[symbol]
    m = ticks.inst == reg.index(symbol)
    agg = BarAggregator(symbol, 60 * 10**9, inst.price_precision)
    return agg.add(ticks.ts[m], ticks.bid[m], ticks.ask[m], ticks.volume[m]), [e for e in labels if e.symbol == symbol]


def run(settings, bars: list[Bar], symbol: str):  # type: ignore[no-untyped-def]
    det = WyckoffDetector(settings.registry()[symbol], settings.wyckoff_params())
    events, signals, phases = [], [], []
    for bar in bars:
        e, s = det.update(bar)
        events.extend(e)
        signals.extend(s)
        phases.append(det.phase)
    return events, signals, phases


def incremental(inst, sc, params: WyckoffParams):  # type: ignore[no-untyped-def]
    det = WyckoffDetector(inst, params)
    events, signals, phases = [], [], []
    for k in range(len(sc)):
        e, s = det.update_points(int(sc.start_ns[k]), int(sc.end_ns[k]), int(sc.open[k]), int(sc.high[k]),
                                 int(sc.low[k]), int(sc.close[k]), int(sc.volume[k]))
        events.extend(e)
        signals.extend(s)
        phases.append(det.phase)
    return events, signals, phases


def batch(inst, sc, params: WyckoffParams):  # type: ignore[no-untyped-def]
    return detect_points(inst.symbol, sc.start_ns, sc.end_ns, sc.open, sc.high, sc.low, sc.close, sc.volume,
                         SCALE, params, inst)


def structural(events):  # type: ignore[no-untyped-def]
    return [e for e in events if not e.event.startswith("swing")]


# ------------------------------------------------------------------ the two modes agree
@pytest.mark.parametrize("params", [WyckoffParams(), WyckoffParams(climax_rank=0.0),
                                    WyckoffParams(climax_rank=0.9, rank_bars=30, climax_bars=2),
                                    WyckoffParams(fall_rank=0.8, fall_bars=25),
                                    WyckoffParams(rank_min_bars=30),
                                    WyckoffParams(rank_min_bars=5, rank_bars=30, fall_bars=25, climax_bars=2)],
                         ids=["defaults", "no-effort-rank", "short-effort-rank", "short-fall-rank",
                              "ranks-from-30-bars", "ranks-from-5-bars"])
def test_features_are_the_same_numbers_in_both_modes(registry, params: WyckoffParams) -> None:
    p = params
    sc = generate(3)
    cols = compute(sc.end_ns, sc.open, sc.high, sc.low, sc.close, sc.volume, sc.start_ns, 60 * 10**9, p)
    tracker = Tracker(p, 60 * 10**9)
    for k in range(len(sc)):
        row = tracker.add(int(sc.end_ns[k]), int(sc.start_ns[k]), int(sc.open[k]), int(sc.high[k]), int(sc.low[k]),
                          int(sc.close[k]), int(sc.volume[k]))
        assert row == cols.at(k), (k, [f for f in FEATURES if getattr(row, f) != getattr(cols.at(k), f)])
        for order in p.swing_orders:
            assert tracker.swings_out[order] == (bool(cols.cols[f"swing_high_{order}"][k]),
                                                 bool(cols.cols[f"swing_low_{order}"][k]))


@pytest.mark.parametrize("family,seed", [("A", s) for s in (0, 1, 2, 5, 8, 13, 21, 34)]
                         + [("B", s) for s in (0, 3, 7)] + [("C", s) for s in (0, 4)] + [("D", s) for s in (1, 2)]
                         + [("E", s) for s in (2, 3, 5)] + [("F", s) for s in (1, 3, 20)]
                         + [("G", s) for s in (1000, 1001, 1002)] + [("H", s) for s in (1000, 1001)]
                         + [("I", s) for s in (1001, 1002)] + [("J", s) for s in (1001, 1002)])
def test_batch_and_incremental_emit_the_same_events_bar_for_bar(registry, family: str, seed: int) -> None:
    """On every scenario family: 1-minute bars, 15-minute bars over FX weekends, hourly bars,
    30-minute bars; family E's 15-minute, hourly and 4-hour bars; family F's 5-minute, hourly
    and daily bars of an index CFD's sessions; family G's 24/7 30-minute to 4-hour bars and a
    stock's daily bars; family H's forex-week bars with tick-count volume; family I's futures
    sessions, limit days and rolls (seeds outside the 0-299 the benchmark scores)."""
    inst = registry["EURUSD"]
    p = WyckoffParams()
    sc = FAMILIES[family](seed)
    d = batch(inst, sc, p)
    events, signals, phases = incremental(inst, sc, p)
    assert structural(events) == d.events
    assert signals == d.signals
    assert phases == d.phase_names()
    swings = d.swings()
    inc_swings = [(e.event, int(dict(e.numbers)["order"]), e.bar_ts_ns, e.known_ns) for e in events
                  if e.event.startswith("swing")]
    assert sorted(inc_swings) == sorted(zip(swings["event"], swings["order"], swings["bar_ts_ns"], swings["known_ns"],
                                            strict=True))
    assert d.events, "the scenario's structure was found"


def test_both_modes_agree_on_bars_aggregated_from_ticks(settings) -> None:
    """The float path the session uses (Bar objects) and the batch frame path agree too."""
    inst = settings.registry()["GBPUSD"]
    bars, _ = bars_of(settings, "GBPUSD", 60_000)
    events, signals, phases = run(settings, bars, "GBPUSD")
    d = detect(bars_frame(bars), "GBPUSD", inst.price_precision, settings.wyckoff_params(), inst)
    assert structural(events) == d.events and signals == d.signals and phases == d.phase_names()
    assert len(d.signals) >= 2


# ------------------------------------------------------------------ no look-ahead
@pytest.mark.parametrize("family,seed", [("A", 8), ("B", 5), ("C", 2), ("D", 3), ("E", 9), ("F", 3), ("G", 1003),
                                         ("H", 1003), ("I", 1003), ("J", 1003)])
def test_truncating_the_data_never_changes_what_was_already_emitted(registry, family: str, seed: int) -> None:
    """Cut the bars anywhere: every feature column up to the cut, and every event, signal and phase
    known by then, are what the whole series gave."""
    inst = registry["EURUSD"]
    p = WyckoffParams()
    sc = FAMILIES[family](seed)
    full = batch(inst, sc, p)
    for cut in (len(sc) // 3, len(sc) // 2, sc.structure[0] + 300, len(sc) - 7):
        part = detect_points(inst.symbol, sc.start_ns[:cut], sc.end_ns[:cut], sc.open[:cut], sc.high[:cut],
                             sc.low[:cut], sc.close[:cut], sc.volume[:cut], SCALE, p, inst)
        end = int(sc.end_ns[cut - 1])
        for name in FEATURES:
            assert (part.columns.cols[name] == full.columns.cols[name][:cut]).all(), (cut, name)
        assert part.events == [e for e in full.events if e.known_ns <= end]
        assert part.signals == [s for s in full.signals if s.ts_ns <= end]
        assert part.phase_names() == full.phase_names()[:cut]
    assert all(e.bar_ts_ns <= e.known_ns for e in full.events)
    assert any(e.bar_ts_ns < e.known_ns for e in full.events), "some events are only known later, and say so"


def test_a_future_bar_cannot_change_the_past(registry) -> None:
    """Rewrite everything after a bar (a crash instead of the markup): what was known up to
    that bar stays the same."""
    inst = registry["EURUSD"]
    p = WyckoffParams()
    sc = generate(8)
    full = batch(inst, sc, p)
    cut = sc.structure[0] + 250
    fall = sc.close[cut] - np.arange(len(sc) - cut) * 40
    o, h, lo, c = (a.copy() for a in (sc.open, sc.high, sc.low, sc.close))
    o[cut:], h[cut:], lo[cut:], c[cut:] = fall + 20, fall + 60, fall - 60, fall
    other = detect_points(inst.symbol, sc.start_ns, sc.end_ns, o, h, lo, c, sc.volume * 2, SCALE, p, inst)
    end = int(sc.end_ns[cut - 1])
    assert [e for e in other.events if e.known_ns <= end] == [e for e in full.events if e.known_ns <= end]
    assert other.phase_names()[:cut] == full.phase_names()[:cut]


# ------------------------------------------------------------------ finds what was planted
def test_planted_structure_is_found_on_labelled_scenarios(registry) -> None:
    score = Score()
    for seed in range(1000, 1150):
        sc = generate(seed)
        d = batch(registry["EURUSD"], sc, WyckoffParams())
        score.add(sc, d.events, d.phases, d.ranges, kind=sc.kind)
    precision, recall = score.precision(), score.recall()
    # strict: at their own bar +-3. The precision floor is 0.75 since round 10 (docs/wyckoff.md): counting springs
    # from a range as old as its phase A (min_range_ratio 1.0, was 1.5) proves more ranges by a spring, and the
    # BCs of a few that are not structures are reported too (BC precision here 0.80 -> 0.78)
    for event in ("selling_climax", "buying_climax", "spring", "upthrust"):
        assert precision[event] >= 0.75 and recall[event] >= 0.8, (event, precision, recall)
    assert score.phase_accuracy >= 0.7
    assert score.kind_accuracy >= 0.9


def test_signals_from_ticks_follow_planted_springs_and_upthrusts(settings) -> None:
    hits = total = 0
    for symbol in ("EURUSD", "GBPUSD", "USDJPY"):
        bars, labels = bars_of(settings, symbol)
        _, signals, _ = run(settings, bars, symbol)
        planted = [e for e in labels if e.event in ("spring", "upthrust")]
        for s in signals:
            total += 1
            hits += any(p.event == SETUP_OF[s.setup] and 0 <= s.ts_ns - p.ts_ns <= 3 * 3600 * 10**9 for p in planted)
    assert total >= 10
    assert hits / total >= 0.8


def test_signals_carry_their_evidence(registry) -> None:
    signals = []
    for seed in range(40):
        signals.extend(batch(registry["EURUSD"], generate(seed), WyckoffParams()).signals)
    assert {s.setup for s in signals} >= {"spring", "upthrust", "last_point_of_support", "last_point_of_supply"}
    for s in signals:
        names = [e.event for e in s.evidence]
        assert names[-1] == "cause" and names[-2] == "structure" and names[-3] == s.setup
        assert {"selling_climax", "buying_climax"} & set(names) and {"automatic_rally", "automatic_reaction"} & set(names)
        assert all(e.bar_ts_ns <= s.ts_ns for e in s.evidence), "no evidence from after the signal"
        assert (s.entry - s.stop) * s.side > 0 and 0 < s.confidence <= 0.95
        assert s.targets and all((t - s.entry) * s.side > 0 for t in s.targets)
        assert list(s.targets) == sorted(s.targets, key=lambda t: t * s.side), "nearest target first"
        cause = dict(s.evidence[-1].numbers)
        assert cause["pnf_columns"] >= 1 and cause["htf_regime"] != -s.side, "the higher timeframe agrees"
        assert cause["reward_risk"] >= WyckoffParams().min_reward_risk, "the first target pays for the risk"
        assert float((s.targets[0] - s.entry) / (s.entry - s.stop)) >= WyckoffParams().min_reward_risk
        structure = dict(s.evidence[-2].numbers)
        assert structure["direction"] in (0.0, float(s.side)), "never against the direction the range established"
        assert structure["direction"] == (0.0 if s.setup in ("spring", "upthrust") else float(s.side))
        if s.setup in ("spring", "upthrust"):
            assert dict(s.evidence[-3].numbers)["penetration_atr"] >= 0.5


def test_the_higher_timeframe_holds_back_signals_against_it(registry) -> None:
    blocked = emitted = 0
    for seed in range(60):
        d = batch(registry["EURUSD"], generate(seed), WyckoffParams())
        blocked += d.blocked
        emitted += len(d.signals)
    assert emitted > 0 and blocked > 0
    loose = WyckoffParams(htf_period=10_000)  # a higher timeframe that never trends: nothing is held back
    assert sum(batch(registry["EURUSD"], generate(seed), loose).blocked for seed in range(60)) == 0


# ------------------------------------------------------------------ the parts
def test_point_and_figure_count() -> None:
    assert pnf_columns([100, 101, 102], 1, 3) == 1  # one rising column
    assert pnf_columns([100, 103, 104, 101, 100, 103], 1, 3) == 3
    assert pnf_columns([100, 102, 100, 102], 1, 3) == 1  # no reversal of three boxes
    assert pnf_columns([], 1, 3) == 0


def test_volume_spread_and_regime_features() -> None:
    p = WyckoffParams(atr_period=3, volume_period=3, trend_lookback=3, regime_period=4, swing_orders=(1,))
    n = 12
    c = np.array([100, 110, 120, 130, 140, 150, 160, 170, 171, 160, 159, 158], np.int64)
    h, lo = c + 10, c - 10
    v = np.array([500] * 8 + [100, 900, 50, 100], np.int64)
    h[8], lo[8] = 175, 168  # a narrow up bar on less volume than the two before: no demand
    h[10], lo[10] = 161, 157  # a narrow down bar, quieter than the two before: no supply
    t = np.arange(1, n + 1, dtype=np.int64) * 60
    cols = compute(t, c, h, lo, c, v, t - 60, 60, p)
    assert cols.no_demand.tolist() == [i == 8 for i in range(n)]
    assert cols.no_supply.tolist() == [i == 10 for i in range(n)]
    assert cols.regime[5] == 1 and cols.regime[2] == 0  # a steady rise trends once warm; before, no call


def test_chart_draws_a_png(tmp_path, registry) -> None:
    sc = generate(8)
    d = batch(registry["EURUSD"], sc, WyckoffParams())
    out = chart(d, tmp_path / "c.png", sc.structure[0] - 100, sc.structure[1],
                labels=[(lab.event, lab.bar) for lab in sc.labels])
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    frame = d.frame()
    assert frame.height == len(sc) and set(frame["phase"].unique()) <= set(PHASES)
    with pytest.raises(ValueError, match="empty bar span"):
        chart(d, tmp_path / "x.png", 10, 10)


# ------------------------------------------------------------------ defects found from the outside
def bars_from(segments: list[tuple[int, int, int, int]], start: int = 1_100_000):  # type: ignore[no-untyped-def]
    """Bars from segments of (bars, close step per bar, half the bar's range, volume): the
    arrays ``detect_points`` takes, one-minute bars."""
    closes, half, vols = [], [], []
    c = start
    for n, step, h, v in segments:
        for _ in range(n):
            c += step
            closes.append(c)
            half.append(h)
            vols.append(v)
    close = np.array(closes, np.int64)
    open_ = np.r_[start, close[:-1]].astype(np.int64)
    hw = np.array(half, np.int64)
    high = np.maximum(open_, close) + hw
    low = np.minimum(open_, close) - hw
    t = (np.arange(len(close), dtype=np.int64) + 1) * 60 * 10**9
    return t - 60 * 10**9, t, open_, high, low, close, np.array(vols, np.int64) * 100


def test_a_single_wide_bar_is_never_its_own_automatic_rally(registry) -> None:
    """A news bar (a fall of ~40 ATR in one bar on 18x volume) after a rise: the rally that
    makes an AR must come from the bars after the climax, not from the climax bar's own high.
    Here the bars after it drift, then rally: the AR is that later rally's top. (The range then
    holds long enough to prove itself, which is when its climax and AR are reported.)"""
    start, end, o, h, lo, c, v = bars_from([(200, 10, 15, 1000), (1, -1500, 20, 18_000), (40, 1, 15, 1000),
                                            (30, 40, 20, 1200), (30, -25, 15, 900), (400, 0, 15, 900)])
    d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, WyckoffParams(), registry["EURUSD"])
    news = int(end[200])
    assert d.columns.cols["sc"][200], "the news bar is a climax candidate"
    assert [e.bar_ts_ns for e in d.events if e.event == "selling_climax"] == [news]
    ar = [e for e in d.events if e.event == "automatic_rally"]
    assert len(ar) == 1 and ar[0].bar_ts_ns == int(end[270]), "the rally's top, 70 bars after the news bar"


def test_a_deeper_climax_restarts_the_automatic_rally_clock(registry) -> None:
    """A first climax candidate, a slow slide for 100 bars, a deeper climax, then the rally
    ~40 bars later: more than ``ar_max_bars`` after the first candidate but well within it of
    the climax that stands. The range is found, with its climax at the deeper one."""
    p = WyckoffParams()
    start, end, o, h, lo, c, v = bars_from([
        (300, -8, 20, 1000), (1, -300, 40, 5000), (100, -6, 20, 1000), (1, -300, 40, 6000),
        (35, 40, 25, 1200), (30, -25, 20, 900), (200, 0, 20, 900)])
    d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"])
    deeper = int(end[401])
    assert 401 - 300 + 35 + 30 > p.ar_max_bars, "the AR comes after the first candidate's clock ran out"
    sc = [e for e in d.events if e.event == "selling_climax"]
    assert [e.bar_ts_ns for e in sc] == [deeper], [(e.event, (e.bar_ts_ns - int(end[0])) // (60 * 10**9)) for e in d.events]
    assert any(e.event == "automatic_rally" for e in d.events)


def test_signs_of_strength_and_weakness_are_stamped_at_the_break(registry) -> None:
    """An SOS/SOW is dated at the first bar that closed beyond the range's edge (and known when
    the break is confirmed, later): scored at its own bar, it matches the planted one."""
    score = Score()
    for seed in range(1000, 1080):
        sc = generate(seed)
        d = batch(registry["EURUSD"], sc, WyckoffParams())
        score.add(sc, d.events, d.phases, d.ranges, kind=sc.kind)
        for r in d.ranges:
            if r.sos is None or r.sos.event not in ("sign_of_strength", "sign_of_weakness"):
                continue
            i = sc.bar_of(r.sos.bar_ts_ns)
            side = 1 if r.sos.event == "sign_of_strength" else -1
            edge = r.resistance if side > 0 else r.support
            assert (sc.close[i] - edge) * side > 0, "the SOS/SOW bar closed beyond the edge"
            assert r.sos.known_ns >= r.sos.bar_ts_ns
    for event in ("sign_of_strength", "sign_of_weakness"):
        assert score.precision()[event] >= 0.6 and score.recall()[event] >= 0.6, (event, score.precision(), score.recall())


# ------------------------------------------------------------------ the strict scorer
def test_events_match_at_their_own_bar_closest_first_each_once() -> None:
    assert match([10, 14], [13], 3) == [(1, 0)], "the closest detection takes the label"
    assert match([10], [14], 3) == [], "four bars off is a miss"
    assert match([10, 11, 12], [11, 30], 3) == [(1, 0)], "a label is matched once"
    assert sorted(match([5, 9], [6, 8], 3)) == [(0, 0), (1, 1)]


def test_a_signal_reaches_its_target_or_its_stop_and_a_bar_with_both_is_the_stop() -> None:
    from decimal import Decimal

    from trading.orders import Side, Signal
    from trading.wyckoff.scenarios import Scenario

    # bar 0 is the signal's; then: a quiet bar, a bar that trades 100 and 120, a bar that trades 130
    high = np.array([110, 111, 120, 130], np.int64) * 1000
    low = np.array([105, 104, 100, 125], np.int64) * 1000
    t = np.arange(4, dtype=np.int64) * 60 + 60
    z = np.zeros(4, np.int64)
    truth = Scenario(0, "accumulation", True, False, t - 60, t, z, high, low, z, z, [], np.zeros(4, np.int8), (0, 3), 1, 60)

    def buy(stop: int, target: int) -> Signal:
        return Signal("EURUSD", Side.BUY, 60, Decimal("0.108"), Decimal(stop * 1000) / SCALE,
                      (Decimal(target * 1000) / SCALE,), 0.5, "spring")

    assert outcome(truth, buy(90, 115), SCALE) == "target"
    assert outcome(truth, buy(101, 118), SCALE) == "stop", "stop and target in one bar: the stop"
    assert outcome(truth, buy(103, 128), SCALE) == "stop"
    assert outcome(truth, buy(90, 129), SCALE) == "target"
    assert outcome(truth, buy(90, 200), SCALE) == "open"


# ------------------------------------------------------------------ the scenarios and the real bars
@pytest.mark.parametrize("family", ["A", "B", "C"])
def test_scenarios_are_valid_bars_with_labels_at_their_own_bars(family: str) -> None:
    for seed in range(12):
        sc = FAMILIES[family](seed)
        assert (sc.high >= np.maximum(sc.open, sc.close)).all() and (sc.low <= np.minimum(sc.open, sc.close)).all()
        assert (np.diff(sc.start_ns) > 0).all() and (sc.end_ns - sc.start_ns == sc.bar_ns).all()
        assert sc.direction in (1, -1) and 0 <= sc.structure[0] < sc.structure[1] < len(sc)
        for lab in sc.labels:
            assert lab.start <= lab.bar <= lab.end, lab
        names = {lab.event for lab in sc.labels}
        assert {"selling_climax", "buying_climax"} & names and {"automatic_rally", "automatic_reaction"} & names
        sos = [lab for lab in sc.labels if lab.event in ("sign_of_strength", "sign_of_weakness")]
        assert len(sos) == 1
        side = 1 if sos[0].event == "sign_of_strength" else -1
        assert side == sc.direction
        assert FAMILIES[family](seed).labels == sc.labels, "deterministic per seed"


@pytest.mark.parametrize("variant", PERTURBATIONS)
def test_perturbations_keep_valid_bars_and_labels_that_name_their_bars(variant: str) -> None:
    sc = generate(5)
    pv = perturb(sc, variant)
    assert (pv.high >= np.maximum(pv.open, pv.close)).all() and (pv.low <= np.minimum(pv.open, pv.close)).all()
    assert (np.diff(pv.start_ns) > 0).all() and len(pv.phases) == len(pv)
    assert [lab.event for lab in pv.labels] == [lab.event for lab in sc.labels]
    for lab, orig in zip(pv.labels, sc.labels, strict=True):
        if lab.event in ("selling_climax", "spring") and variant != "gaps":  # a low stays the leg's lowest low
            assert pv.low[lab.bar] == pv.low[lab.start:lab.end + 1].min()
        if variant in ("volume_noise", "gaps"):
            assert lab == orig, "the prices' extremes did not move"
    if variant == "volume_noise":
        assert not (pv.volume == sc.volume).all() and (pv.volume >= 100).all()
    if variant == "bars_x3":
        assert len(pv) == len(sc) // 3 and pv.bar_ns == 3 * sc.bar_ns and pv.volume.sum() <= sc.volume.sum()
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb(sc, "volatility_x9")


def test_labels_follow_the_extreme_on_their_own_side() -> None:
    """A high-side label (BC, AR after an SC, UTAD) follows the highest high, never the leg's low
    that its bar may also hold; volume alone moves no label (family F seeds 290, 127, 145)."""
    from trading.wyckoff.scenarios import FOLLOW_BARS, label_side

    for seed in (290, 127, 145):
        sc = scenarios_f.generate(seed)
        assert perturb(sc, "volume_noise").labels == sc.labels
        pv = perturb(sc, "volatility_x2")
        for lab in pv.labels:
            side = label_side(lab, pv.labels)
            hi = min(lab.end + FOLLOW_BARS, len(pv) - 1) + 1
            if side > 0:
                assert pv.high[lab.bar] == pv.high[lab.start:hi].max(), lab
            elif side < 0:
                assert pv.low[lab.bar] == pv.low[lab.start:hi].min(), lab


def test_a_perturbation_that_undoes_the_planted_spring_is_told_apart() -> None:
    """Doubled noise can leave a labelled spring inside the range, put another bar of phase C past
    it, or keep the SOS from closing beyond the range: ``undone`` names why, on the perturbed bars,
    where the original held; a label whose extreme only moved a bar or two is followed, not undone."""
    from trading.wyckoff.scenarios import undone

    cases = ((scenarios_d.generate, 21, "the spring is not below support"),
             (scenarios_d.generate, 24, "the upthrust is not above resistance"),
             (scenarios_d.generate, 5, "the sign of weakness never closes beyond the range"),
             (scenarios_e.generate, 8, "the upthrust is not phase C's highest high"),
             (scenarios_f.generate, 16, "the spring is not phase C's lowest low"))
    for gen, seed, why in cases:
        sc = gen(seed)
        assert undone(sc) == "", "the generator planted it"
        pv = perturb(sc, "volatility_x2")
        assert undone(pv) == why, (seed, undone(pv))
        climax = next(lab for lab in pv.labels if lab.event.endswith("_climax"))
        last_b = int(np.flatnonzero(np.isin(pv.phases, [1, 2]))[-1])
        low, high = pv.low[climax.bar:last_b + 1].min(), pv.high[climax.bar + 1:last_b + 1].max()
        if climax.event == "buying_climax":
            low, high = pv.low[climax.bar + 1:last_b + 1].min(), pv.high[climax.bar:last_b + 1].max()
        in_c = pv.phases == 3
        named = {lab.event: lab for lab in pv.labels}
        if "spring" in why:
            bar = named["spring"].bar
            assert pv.low[bar] >= low or pv.low[in_c].min() < pv.low[bar], "the bars agree"
        elif "upthrust" in why:
            bar = named["upthrust"].bar
            assert pv.high[bar] <= high or pv.high[in_c].max() > pv.high[bar], "the bars agree"
        else:
            sos = named.get("sign_of_strength") or named["sign_of_weakness"]
            closes = pv.close[sos.start:sos.end + 1]
            assert (closes <= high).all() if sos.event == "sign_of_strength" else (closes >= low).all()
    # D seed 2: doubled noise moves the spring's low three bars on, past its leg: followed, not undone
    sc = scenarios_d.generate(2)
    pv = perturb(sc, "volatility_x2")
    spring = next(lab for lab in pv.labels if lab.event == "spring")
    assert undone(pv) == "" and spring.bar > spring.start and pv.low[spring.bar] == pv.low[pv.phases == 3].min()
    with pytest.raises(ValueError, match="do not fit"):
        undone(dataclasses.replace(sc, phases=sc.phases[:-1]))


def test_the_benchmark_leaves_out_only_perturbed_scenarios_the_perturbation_undid() -> None:
    """Counted, scored in the every-scenario figures, and never an unperturbed scenario."""
    import sys

    from tests.conftest import ROOT

    sys.path.insert(0, str(ROOT / "bench"))
    import wyckoff_accuracy as wa

    _, _, kept, _, undone_n, every = wa.score_chunk(("D", "volatility_x2", [20, 21, 22], WyckoffParams()))
    assert undone_n == 1 and every.truths == 3 and kept.truths == 2, "seed 21's spring was undone"
    _, _, kept, _, undone_n, every = wa.score_chunk(("A", "original", [0, 1, 2, 3], WyckoffParams()))
    assert undone_n == 0 and kept.truths == every.truths == 4
    with pytest.raises(ValueError, match="no scenario family"):
        wa.generator("K")


def test_the_hand_marks_name_real_bars() -> None:
    from trading.wyckoff.realbars import MARKS, eurusd_h1, marked

    bars = eurusd_h1()
    assert len(bars) == 5000 and bars.times[0] == "2017-04-19 09:00:00"
    truth = marked(bars, MARKS)
    assert len(truth.ranges) >= 10 and len(truth.labels) >= 50
    for lab in truth.labels:
        assert 0 <= lab.bar < len(bars)
    for a, b, direction in truth.spans():
        assert a <= b and direction in (1, -1)
    assert all(isinstance(lab, Label) for lab in truth.labels)
    with pytest.raises(KeyError, match="no bar stamped"):
        bars.index("2017-04-19 09:30:00")


def test_the_real_tuning_bars_end_before_the_scored_ones_and_their_marks_name_them() -> None:
    """The tuning set (gym-anytrading's 2017 EURUSD hours) is cut before the scored file's first bar,
    so no bar is in both; where the files overlap (from 2017-04-19 09:00) they are the same market,
    stamped alike; every mark names a bar."""
    from trading.wyckoff.realbars import (
        EARLY_FILE,
        EARLY_MARKS,
        EARLY_PACKAGE,
        csv_path,
        eurusd_h1,
        eurusd_h1_early,
        marked,
    )

    early, scored = eurusd_h1_early(), eurusd_h1()
    assert early.times[0] == "2017-01-01 22:00:00" and early.times[-1] == "2017-04-18 23:00:00" and len(early) == 1851
    assert early.start_ns[-1] < scored.start_ns[0] and not set(early.times) & set(scored.times)
    assert (np.diff(early.start_ns) > 0).all() and (early.low <= early.high).all() and (early.volume > 0).all()
    with csv_path(EARLY_PACKAGE, EARLY_FILE).open() as f:  # the same bar in both files: 2017-04-19 09:00
        row = next(line for line in f if line.startswith("19.04.2017 09:00"))
    o, h, lo, c = (float(x) for x in row.split(",")[1:5])
    assert abs(o - scored.open[0] / SCALE) <= 3e-5 and abs(c - scored.close[0] / SCALE) <= 3e-5  # ask vs mid
    truth = marked(early, EARLY_MARKS)
    assert len(truth.ranges) == 9 and len(truth.labels) == 49
    firsts = [r.first for r in truth.ranges]
    assert firsts == sorted(firsts) and all(r.first < r.last for r in truth.ranges)
    assert {r.direction for r in truth.ranges} == {1, -1}


def test_the_daily_goog_tuning_bars_and_their_marks() -> None:
    """Google's daily bars load as one-day bars in file order, and every mark names one of them."""
    from trading.wyckoff.realbars import DAY_NS, GOOG_MARKS, goog_d1, marked

    bars = goog_d1()
    assert len(bars) == 2148 and bars.times[0] == "2004-08-19 00:00:00" and bars.symbol == "GOOG"
    assert ((bars.end_ns - bars.start_ns) == DAY_NS).all() and (np.diff(bars.start_ns) > 0).all()
    assert bars.close[0] == 100_340_000  # 100.34 at SCALE
    truth = marked(bars, GOOG_MARKS)
    assert len(truth.ranges) == 11 and len(truth.labels) == 51
    assert [r.first for r in truth.ranges] == sorted(r.first for r in truth.ranges)


def test_the_later_googl_tuning_bars_start_after_the_goog_ones_and_their_marks_name_them() -> None:
    """gym-anytrading's GOOGL bars are cut after goog_d1's last day (no day in both) and every mark
    names one of them at its high, low or close."""
    from trading.wyckoff.realbars import GOOGL_MARKS, goog_d1, googl_d1_late, marked

    bars, before = googl_d1_late(), goog_d1()
    assert len(bars) == 1385 and bars.times[0] == "2013-03-04 00:00:00" and bars.times[-1] == "2018-08-29 00:00:00"
    assert bars.start_ns[0] > before.start_ns[-1] and not set(bars.times) & set(before.times)
    truth = marked(bars, GOOGL_MARKS)
    assert len(truth.ranges) == 7 and len(truth.labels) == 34
    doc = json.loads(GOOGL_MARKS.read_text())
    for r in doc["ranges"]:
        for e in r["events"]:
            i = bars.index(e["time"])
            assert min(abs(e["price"] * SCALE - x) for x in (bars.high[i], bars.low[i], bars.close[i])) < 0.006 * SCALE


def test_a_halted_market_with_flat_bars_is_read_without_error(registry) -> None:
    """Twenty-odd bars with no range (a halt: the ATR is 0), then a climax-sized bar: both modes
    read it, agree, and measure nothing against a zero ATR (a family-B scenario raised
    ZeroDivisionError here)."""
    p = WyckoffParams()
    inst = registry["EURUSD"]
    start, end, o, h, lo, c, v = bars_from([(300, -8, 20, 1000), (30, 0, 0, 0), (1, -400, 50, 8000),
                                            (60, 30, 20, 1500), (60, -10, 20, 900)])
    v[v == 0] = 100
    d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, inst)
    det = WyckoffDetector(inst, p)
    events, signals, phases = [], [], []
    for k in range(len(c)):
        e, s = det.update_points(int(start[k]), int(end[k]), int(o[k]), int(h[k]), int(lo[k]), int(c[k]), int(v[k]))
        events.extend(structural(e))
        signals.extend(s)
        phases.append(det.phase)
    assert events == d.events and signals == d.signals and phases == d.phase_names()
    assert d.columns.cols["atr"][330] == 0 and not d.columns.cols["sc"][330]


def test_breaks_back_and_forth_cannot_keep_a_range_alive_past_its_age(registry) -> None:
    """After its SOS a range's price swings through both edges for thousands of bars (each failed
    break a new one). The range ends at ``max_range_bars``, so the incremental mode's bounded
    history still holds the range's closes and both modes count its cause the same (they
    disagreed on an LPS's point-and-figure target before)."""
    inst, p = registry["EURUSD"], WyckoffParams()
    sc = generate(8)
    r = next(r for r in batch(inst, sc, p).ranges if r.sos is not None)
    sup, res = r.support, r.resistance
    ht, a = res - sup, r.sos_i + 3
    path: list[float] = []
    cur, target = float(sc.close[a - 1]), sup - 0.4 * ht
    for _ in range(30):
        path += list(np.linspace(cur, target, 60)[1:])
        cur, target = target, (res + 0.4 * ht if target < sup else sup - 0.4 * ht)
    for tgt, n in ((res + 0.45 * ht, 40), (res + 0.05 * ht, 15), (res + 0.45 * ht, 30), (res + 0.5 * ht, 30)):
        path += list(np.linspace(cur, tgt, n)[1:])
        cur = tgt
    tail = np.array(path).round().astype(np.int64)
    n = a + len(tail)
    start = sc.start_ns[0] + np.arange(n, dtype=np.int64) * sc.bar_ns
    c = np.r_[sc.close[:a], tail]
    o = np.r_[sc.open[:a], sc.close[a - 1], tail[:-1]]
    w = int(0.03 * ht)
    h, lo = np.r_[sc.high[:a], np.maximum(o[a:], tail) + w], np.r_[sc.low[:a], np.minimum(o[a:], tail) - w]
    for k in range(a + 1, n - 1):  # turning bars are strict extremes: swings
        lo[k] -= 5 * (c[k] < c[k - 1] and c[k] <= c[k + 1])
        h[k] += 5 * (c[k] > c[k - 1] and c[k] >= c[k + 1])
    v = np.r_[sc.volume[:a], np.full(len(tail), int(np.median(sc.volume)))]
    d = detect_points("EURUSD", start, start + sc.bar_ns, o, h, lo, c, v, SCALE, p, inst)
    assert all(r.end < 0 or r.end - r.start <= p.max_range_bars + 1 for r in d.ranges)
    assert max(r.end - r.start for r in d.ranges if r.end >= 0) > p.max_range_bars // 2, "a long range was built"
    det = WyckoffDetector(inst, p)
    events, signals, phases = [], [], []
    for k in range(n):
        e, s = det.update_points(int(start[k]), int(start[k] + sc.bar_ns), int(o[k]), int(h[k]), int(lo[k]),
                                 int(c[k]), int(v[k]))
        events.extend(structural(e))
        signals.extend(s)
        phases.append(det.phase)
    assert events == d.events and signals == d.signals and phases == d.phase_names()


def test_a_bar_that_ends_when_it_starts_is_refused_in_both_modes(registry) -> None:
    inst = registry["EURUSD"]
    start, end, o, h, lo, c, v = bars_from([(5, 1, 2, 100)])
    with pytest.raises(ValueError, match="must end after it starts"):
        detect_points("EURUSD", start, start, o, h, lo, c, v, SCALE, WyckoffParams(), inst)
    with pytest.raises(ValueError, match="must end after it starts"):
        WyckoffDetector(inst, WyckoffParams()).update_points(int(start[0]), int(start[0]), 1, 2, 0, 1, 100)


# the detector's saved shape at each STATE_FORMAT since 9: a format is one shape, for good, once a commit has it
# (a state saved by one shape and read by another loads its dataclasses' fields by position: wrong values, or a
# crash later); a new shape takes a new number, never a re-pin of the current one
SHAPES = {9: "25999760988f7f91",  # with its windows since round 11
          10: "2bafc2e7e721130d",  # rank_min_bars (round 14)
          11: "e42dc2477939777f",  # c_replaced_by_opposite, c_replaced_by_same, c_replace_depth, c_replace_toward_context
          12: "3112ca087f940c01",  # c_gate_min (round 20)
          13: "7b0b846a6093da3c",  # c_gate_shallow_min (round 23)
          14: "f228c7bbc0b2bb03",  # lps_starts_e, e_until_proven and the machine's e_shown (round 25)
          15: "d14dae45e7791b26",  # the machine's e_held for e_until_proven (round 25, after the real bars' charts)
          16: "d14dae45e7791b26",  # the detector as at 15: a firm's holding rules gained max_break_minutes
          17: "d14dae45e7791b26",  # the detector as at 15: a firm's rules gained activity (inactivity)
          18: "d14dae45e7791b26",  # the detector as at 15: a firm's size limits gained scaling (a scaling plan)
          19: "d14dae45e7791b26"}  # the detector as at 15: the desk keeps its deadline alerts
NOT_THE_DETECTOR = {16, 17, 18, 19}  # formats bumped for another agent's state


def test_the_detectors_saved_shape_is_pinned_with_the_state_format(registry) -> None:
    """The analysis agent saves its detectors: a change to the names they keep must come with a
    new ``STATE_FORMAT`` (cluster/desk/session.py), so a run saved by older code is refused in one
    line rather than failing to unpickle. Add the new digest under the new number when you bump it."""
    import dataclasses
    import hashlib

    from cluster.desk.session import STATE_FORMAT
    from trading.wyckoff.machine import Excursion, Machine, Pending, TradingRange, WyckoffEvent

    det = WyckoffDetector(registry["EURUSD"], WyckoffParams())
    det.update_points(0, 60 * 10**9, 100, 110, 90, 105, 100)
    assert det.machine is not None and det.tracker is not None
    shape = {cls.__name__: [f.name for f in dataclasses.fields(cls)]
             for cls in (TradingRange, Excursion, Pending, WyckoffEvent, WyckoffDetector, WyckoffParams)}
    shape |= {"Row": list(FEATURES), "Tracker": sorted(vars(det.tracker)), Machine.__name__: sorted(vars(det.machine))}
    # and the windows the tracker keeps (pinned since round 11)
    shape |= {"Extreme": list(Extreme.__slots__), "WindowSum": list(WindowSum.__slots__),
              "RankWindow": sorted(vars(RankWindow(1)))}
    digest = hashlib.sha256(repr(sorted(shape.items())).encode()).hexdigest()[:16]
    assert max(SHAPES) == STATE_FORMAT
    assert all(SHAPES[k] == SHAPES[k - 1] for k in NOT_THE_DETECTOR)
    assert len({v for k, v in SHAPES.items() if k not in NOT_THE_DETECTOR}) == len(SHAPES) - len(NOT_THE_DETECTOR)
    assert digest == SHAPES[STATE_FORMAT], f"the detector's state changed shape ({digest}): bump STATE_FORMAT"



# ------------------------------------------------------------------ phases as shown (round 25)
SHOWN_OFF = {"lps_starts_e": False, "e_until_proven": False}


@pytest.mark.parametrize("family,seed,variant", [("A", 2, "original"), ("B", 3, "original"), ("D", 1, "volatility_x2"),
                                                 ("F", 3, "original"), ("F", 28, "original"),
                                                 ("I", 1009, "bars_x3")])
def test_the_phases_as_shown_change_no_event_signal_or_range_and_both_modes_agree(registry, family: str, seed: int,
                                                                                  variant: str) -> None:
    """``lps_starts_e`` and ``e_until_proven`` change the phase a bar shows and nothing else: the same
    events, signals and ranges (but a range's own phase) as with both off; the incremental detector
    shows the batch's phases bar for bar with them on. Both ship on (round 25)."""
    assert WyckoffParams().lps_starts_e and WyckoffParams().e_until_proven
    inst = registry["EURUSD"]
    sc = FAMILIES[family](seed)
    if variant != "original":
        sc = perturb(sc, variant)
    off = WyckoffParams(**SHOWN_OFF)
    on = dataclasses.replace(off, lps_starts_e=True, e_until_proven=True)
    d_off, d_on = batch(inst, sc, off), batch(inst, sc, on)
    assert d_on.events == d_off.events and d_on.signals == d_off.signals
    assert [dataclasses.replace(r, phase="") for r in d_on.ranges] == [dataclasses.replace(r, phase="")
                                                                      for r in d_off.ranges]
    assert d_on.phase_names() != d_off.phase_names(), "a scenario whose phases the options change"
    events, signals, phases = incremental(inst, sc, on)
    assert structural(events) == d_on.events and signals == d_on.signals and phases == d_on.phase_names()


def test_phase_e_starts_at_the_lps_and_holds_until_a_range_proves_itself(registry) -> None:
    """Family A seed 2 (an accumulation): the LPS (its swing low at bar 597) is known at bar 600, where
    phase E starts with ``lps_starts_e`` (bar 614 without: the close beyond the best price since the
    break). Phase E ends by the regime at bar 742; with ``e_until_proven`` it holds through the next,
    provisional range's phase A (A without) and that range shows its phase B (it never proves itself,
    and once it is dropped phase E shows again). In seed 12 a range proves itself while phase E is
    shown: from that bar the range's own phase shows. In family D seed 4 a close back under the middle
    of the range the markup broke out of ends phase E as shown, and the provisional range there shows
    its phase A; in family B seed 27 it ends the shown phase E of a markdown the machine is still in; in
    family F seed 28 that close is a bar with nothing else to decide. In family A seed 5 price leaving a
    range against the phase E shown ends it."""
    inst = registry["EURUSD"]
    sc = FAMILIES["A"](2)
    off = WyckoffParams(**SHOWN_OFF)
    lps = batch(inst, sc, dataclasses.replace(off, lps_starts_e=True)).phase_names()
    plain = batch(inst, sc, off).phase_names()
    lps_event = next(e for e in batch(inst, sc, off).events if e.event == "last_point_of_support")
    assert (sc.bar_of(lps_event.bar_ts_ns), sc.bar_of(lps_event.known_ns)) == (597, 600)
    assert lps[599] == plain[599] == "D" and lps[600:614] == ["E"] * 14 and plain[600:614] == ["D"] * 14
    assert plain[614] == "E"
    held = batch(inst, sc, dataclasses.replace(off, e_until_proven=True)).phase_names()
    assert held[600:614] == ["D"] * 14, "phase E from the LPS is lps_starts_e's alone"
    assert plain[741] == "E" and plain[742:749] == [""] * 7 and plain[749:784] == ["A"] * 35 and plain[784] == "B"
    assert held[742:784] == ["E"] * 42 and held[784:791] == ["B"] * 7 and plain[791:] == [""] * (len(sc) - 791)
    assert set(held[791:]) == {"E"}

    def walk(family: str, seed: int, stop):  # type: ignore[no-untyped-def]
        """The incremental detector up to the bar where ``stop(detector, events, e_held before)``: that
        bar, and the machine's e_held and phase before it."""
        sc = FAMILIES[family](seed)
        det = WyckoffDetector(inst, dataclasses.replace(off, e_until_proven=True))
        for k in range(len(sc)):
            before = (det.machine.e_held if det.machine is not None else None, det.phase)
            events, _ = det.update_points(int(sc.start_ns[k]), int(sc.end_ns[k]), int(sc.open[k]),
                                          int(sc.high[k]), int(sc.low[k]), int(sc.close[k]), int(sc.volume[k]))
            if stop(det, events, before[0]):
                return sc, det, k, before
        raise AssertionError("never stopped")

    _, det, k, (held_before, phase_before) = walk("A", 12, lambda det, ev, _: any(e.event == "selling_climax" for e in ev))
    assert det.machine is not None and det.machine.range is not None
    assert (k, phase_before) == (917, "E") and held_before is not None
    assert det.machine.e_held is None and det.phase == det.machine.range.phase == "B"

    sc, det, k, (held_before, phase_before) = walk("D", 4, lambda det, ev, held: held is not None
                                                   and det.machine.e_held is None and det.phase == "A")
    assert det.machine is not None and det.machine.range is not None and held_before is not None
    side, middle = held_before
    assert (k, phase_before, side) == (435, "E", 1) and sc.close[k] < middle <= sc.close[k - 1]
    # in family B seed 27 it ends a markdown the machine is still in (its regime has not turned), which round 24
    # showed as phase E
    sc, det, k, (held_before, phase_before) = walk("B", 27, lambda det, ev, held: held is not None
                                                   and det.machine.e_held is None)
    assert det.machine is not None and det.machine.range is None and held_before is not None
    side, middle = held_before
    assert (k, phase_before, side) == (928, "E", -1) and sc.close[k] > middle >= sc.close[k - 1]
    assert det.phase == "" and (det.machine.outside, det.machine.trend) == ("E", -1)
    assert batch(inst, sc, off).phase_names()[928] == "E"
    # in family A seed 5 a range that price leaves upward (bar 985) ends the markdown's phase E before any close
    # past the middle
    sc, det, k, (held_before, phase_before) = walk("A", 5, lambda det, ev, held: held is not None
                                                   and det.machine.e_held is None)
    assert held_before is not None
    side, middle = held_before
    assert (k, phase_before, side, det.phase) == (985, "E", -1, "") and sc.close[k] <= middle
    # phase E entered when the LPS window ends beyond the edge is held too (family G seed 310, volatility x2)
    assert batch(inst, perturb(FAMILIES["G"](310), "volatility_x2"), WyckoffParams()).phase_names()[659:663] == ["E"] * 4
    # a range reported at once (report_after_phase_a off) has proved itself: no phase E held over it (A seed 300)
    shown = batch(inst, FAMILIES["A"](300), WyckoffParams(report_after_phase_a=False)).phase_names()
    assert shown[399] == "A" and shown[400:406] == [""] * 6
    # in family F seed 28 that close (bar 764) is a bar with nothing else to decide: it wakes the machine itself
    shown = batch(inst, FAMILIES["F"](28), dataclasses.replace(off, e_until_proven=True)).phase_names()
    assert shown[763] == "E" and shown[764:768] == [""] * 4


FALL_INTO_A_CLIMAX = [(300, -8, 20, 1000), (1, -300, 40, 5000)]  # a trend down, then a heavy wide bar


def test_the_climax_is_dated_at_the_stopping_actions_extreme_not_its_heaviest_bar(registry) -> None:
    """Three lighter bars after the heavy one trade lower still: the selling climax is the low of
    the stopping action (where an analyst marks it). Without the effort rank it carries the heavy
    bar's numbers; with it (the default), the lighter bars outdo the even trend before them, so each
    is a deeper candidate and the climax carries the last one's."""
    start, end, o, h, lo, c, v = bars_from([*FALL_INTO_A_CLIMAX, (3, -30, 20, 1500), (35, 40, 20, 1200),
                                            (30, -25, 20, 900), (400, 0, 20, 900)])
    for p, candidates, heavy_before in ((WyckoffParams(climax_rank=0.0), [300], 3),
                                        (WyckoffParams(), [300, 301, 302, 303], 0)):
        d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"])
        assert np.flatnonzero(d.columns.cols["sc"][290:310]).tolist() == [k - 290 for k in candidates]
        sc = [e for e in d.events if e.event == "selling_climax"]
        assert [e.bar_ts_ns for e in sc] == [int(end[303])], "the lowest low, three bars after the heavy bar"
        assert dict(sc[0].numbers)["heavy_bar_bars_before"] == heavy_before
        assert sc[0].price == int(lo[303]) / SCALE


def test_a_pause_that_the_trend_breaks_before_it_proves_a_range_reports_nothing(registry) -> None:
    """A climax, a rally, a reaction and 80 quiet bars, then the fall goes on through the low:
    the trend paused. No climax, AR or SOW is reported and no range is kept (with phase A over,
    the old detector reported all three)."""
    p = WyckoffParams()
    start, end, o, h, lo, c, v = bars_from([*FALL_INTO_A_CLIMAX, (35, 40, 25, 1200), (30, -25, 20, 900),
                                            (80, 0, 20, 900), (150, -40, 20, 1500)])
    d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"])
    assert [e.event for e in d.events] == [] and d.ranges == []
    phases = d.phase_names()
    assert "B" in phases[:445], "the pause showed its phases while it lasted"
    assert set(phases[495:]) == {""}, "and none once the trend went on"
    # the same bars with the range left to hold: it proves itself, and everything is reported
    start, end, o, h, lo, c, v = bars_from([*FALL_INTO_A_CLIMAX, (35, 40, 25, 1200), (30, -25, 20, 900),
                                            (400, 0, 20, 900)])
    held = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"])
    names = [e.event for e in held.events]
    assert {"selling_climax", "automatic_rally"} <= set(names) and len(held.ranges) == 1
    ar = held.ranges[0]
    proven = ar.ar_known + max(p.proven_bars, round(p.proven_ratio * (ar.ar_known - ar.climax_i)))
    assert {e.known_ns for e in held.events} == {int(end[proven])}, "known once the range has proved itself"
    assert proven > 445, "so the first run's break came before the range could prove itself"


def test_a_climax_that_breaks_a_pause_opens_a_range_of_its_own(registry) -> None:
    """The bar that breaks a pause is itself a selling climax: the pause is dropped and that bar
    starts the range that follows (its climax, AR and the rest are reported)."""
    start, end, o, h, lo, c, v = bars_from([*FALL_INTO_A_CLIMAX, (35, 40, 25, 1200), (30, -25, 20, 900),
                                            (100, 0, 20, 900), (1, -2500, 300, 30000), (3, -20, 20, 2000),
                                            (40, 120, 25, 1200), (40, -80, 20, 900), (400, 0, 20, 900)])
    d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, WyckoffParams(), registry["EURUSD"])
    assert d.columns.cols["sc"][466], "the breaking bar is a climax candidate"
    assert len(d.ranges) == 1 and d.ranges[0].climax_i == 466
    sc = [e for e in d.events if e.event == "selling_climax"]
    assert [e.bar_ts_ns for e in sc] == [int(end[466])], "the wide bar is the stopping action's low"
    assert any(e.event == "automatic_rally" for e in d.events)


def test_a_spring_may_linger_below_support_if_it_closes_back_inside_soon_after_its_low(registry) -> None:
    """Price slips under support and sags for 15 bars to its low, then closes back inside 3 bars
    later (and well inside the next: confirmed): a spring (counted from its low), not a break."""
    p = WyckoffParams()
    base = [*FALL_INTO_A_CLIMAX, (35, 40, 25, 1200), (30, -25, 20, 900), (300, 0, 20, 900)]
    start, end, o, h, lo, c, v = bars_from([*base, (8, -90, 20, 900), (15, -15, 20, 900), (5, 150, 20, 900),
                                            (200, 0, 20, 900)])
    d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"])
    r = d.ranges[0]
    low = len(lo) - 206 + int(np.argmin(lo[-206:]))  # the excursion's low
    beyond = np.flatnonzero(lo[:low + 1] < r.support)
    assert low - beyond[beyond > 600][0] > p.spring_recovery_bars, "longer under support than the recovery window"
    springs = [e for e in d.events if e.event == "spring"]
    assert [e.bar_ts_ns for e in springs] == [int(end[low])]
    assert not any(e.event == "sign_of_weakness" for e in d.events)
    known = int(np.searchsorted(end, springs[0].known_ns))
    assert "D" not in d.phase_names()[600:known], "under way, the excursion shows phase C, not D"


def test_a_pull_back_that_closes_just_inside_support_then_falls_is_a_break_not_a_spring(registry) -> None:
    """Price breaks under support, pulls back to close just inside (less than ``spring_confirm``
    of the height) and falls away: a sign of weakness whose pull-back touched the range, not a
    spring. The same dip that comes back well inside is a spring, known at that close."""
    p = WyckoffParams()
    base = [*FALL_INTO_A_CLIMAX, (35, 40, 25, 1200), (30, -25, 20, 900), (300, 0, 20, 900)]

    def run(back: list[tuple[int, int, int, int]]):  # type: ignore[no-untyped-def]
        start, end, o, h, lo, c, v = bars_from([*base, (8, -90, 20, 900), (2, -60, 20, 900), *back])
        d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"])
        return d, end, c

    d, end, c = run([(2, 140, 20, 900), (40, -40, 20, 900), (200, 0, 20, 900)])
    r = d.ranges[0]
    assert any(0 < x - r.support < p.spring_confirm * r.height for x in c[-242:-240]), "it closed just inside"
    names = [e.event for e in d.events]
    assert "spring" not in names and "sign_of_weakness" in names
    d, end, c = run([(5, 140, 20, 900), (200, 0, 20, 900)])
    r = d.ranges[0]
    springs = [e for e in d.events if e.event == "spring"]
    assert len(springs) == 1
    known = int(np.searchsorted(end, springs[0].known_ns))
    assert c[known] - r.support >= p.spring_confirm * r.height > c[known - 1] - r.support


def test_a_spring_waiting_for_its_confirmation_keeps_its_own_volume_and_a_close_outside_restarts_its_clock(
        registry) -> None:
    """A spring closes back just inside, waits 13 bars, and a heavy bar (3.3 baselines) closes it well
    inside: a spring whose volume is that of the dip (1 baseline), recovered in 2 bars. Had it closed
    outside support again after those bars, that bar is the break (an SOW known there), not the
    deep close after it."""
    p = WyckoffParams()
    base = [*FALL_INTO_A_CLIMAX, (35, 40, 25, 1200), (30, -25, 20, 900), (300, 0, 20, 900),
            (8, -90, 20, 900), (2, -60, 20, 900), (1, 200, 20, 900)]

    def run(back: list[tuple[int, int, int, int]]):  # type: ignore[no-untyped-def]
        start, end, o, h, lo, c, v = bars_from([*base, *back, (200, 0, 20, 900)])
        return detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"]), end, c

    d, end, c = run([(13, 0, 20, 900), (1, 500, 20, 3000)])
    springs = [e for e in d.events if e.event == "spring"]
    assert len(springs) == 1
    numbers = dict(springs[0].numbers)
    assert numbers["volume_ratio"] == 1.0 and numbers["recovery_bars"] == 2.0
    d, end, c = run([(12, 0, 20, 900), (1, -70, 20, 900), (1, 570, 20, 900)])
    r = d.ranges[0]
    sow = [e for e in d.events if e.event == "sign_of_weakness"]
    assert [e.event for e in d.events if e.event == "spring"] == [] and len(sow) == 1
    known = int(np.searchsorted(end, sow[0].known_ns))
    assert c[known] < r.support and c[known + 1] - r.support >= p.spring_confirm * r.height


def test_a_climax_spread_over_a_few_bars_with_no_heavy_wide_bar_is_a_climax_candidate(registry) -> None:
    """Four bars at the end of a fall, each under ``climax_range`` ATR and ``climax_volume``
    baselines but together heavy (2.2 baselines each) and wide: a selling climax candidate (a
    burst), where no single bar is one."""
    p = WyckoffParams()
    start, end, o, h, lo, c, v = bars_from([(300, -8, 20, 1000), (4, -45, 15, 2200), (40, 30, 20, 1000)])
    d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"])
    x = d.columns.cols
    burst = slice(300, 304)
    assert not (x["rng"][burst] >= p.climax_range * x["atr"][burst]).any(), "no bar of it is wide"
    assert (x["v"][burst] < p.climax_volume * x["vbase"][burst]).all(), "nor heavy"
    assert x["burst"][burst].any() and x["sc"][burst].any()
    assert not x["sc"][:300].any()


def test_an_excursion_too_long_under_support_is_a_break_not_a_spring(registry) -> None:
    """Price grinds lower under support, a new low every few bars, for longer than
    ``spring_max_bars``, then closes back inside: the break (SOW) came first."""
    p = WyckoffParams()
    base = [*FALL_INTO_A_CLIMAX, (35, 40, 25, 1200), (30, -25, 20, 900), (300, 0, 20, 900)]
    start, end, o, h, lo, c, v = bars_from([*base, (8, -90, 20, 900), (p.spring_max_bars + 10, -6, 20, 900),
                                            (3, 150, 20, 900), (200, 0, 20, 900)])
    d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"])
    names = [e.event for e in d.events]
    assert "sign_of_weakness" in names and "spring" not in names


def test_a_poke_under_support_shallower_than_a_tenth_of_the_range_is_a_test_not_a_spring(registry) -> None:
    """A dip under support by more than ``spring_min_penetration_atr`` ATR but less than
    ``spring_min_penetration`` of the height, closing back inside, is no spring; the same dip a
    little deeper is one."""
    p = WyckoffParams()
    base = [*FALL_INTO_A_CLIMAX, (35, 40, 25, 1200), (30, -25, 20, 900), (300, 0, 20, 900)]

    def run(depth_step: int):  # type: ignore[no-untyped-def]
        start, end, o, h, lo, c, v = bars_from([*base, (8, -90, 20, 900), (2, depth_step, 20, 900),
                                                (4, 150, 20, 900), (200, 0, 20, 900)])
        d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, p, registry["EURUSD"])
        r = d.ranges[0]
        return [e for e in d.events if e.event == "spring"], (r.support - int(lo[600:].min())) / r.height

    shallow, depth = run(-10)
    assert p.spring_min_penetration_atr * 40 < depth * 1400 and depth < p.spring_min_penetration
    assert shallow == []
    deeper, depth = run(-60)
    assert depth >= p.spring_min_penetration and len(deeper) == 1


# the sharp AR was measured (and left off) on round 5's thresholds, before the range gate and round 10's fall
# rank and younger springs: its tests keep them
ROUND_5 = {"ar_min_atr": 6.0, "climax_volume": 3.0, "gate_min": 0.0, "fall_rank": 0.0, "min_range_ratio": 1.5}


@pytest.mark.parametrize("family,seed", [("A", 10), ("D", 3), ("D", 11)])
def test_a_sharp_automatic_rally_on_coarser_bars_opens_the_range(registry, family: str, seed: int) -> None:
    """On bars three times coarser the ATR grows about sqrt(3) times and the AR takes a third of
    the bars, so the AR's height in ATR shrinks below ``ar_min_atr``; its height over the square
    root of its bars does not. With the sharp AR on (it is off by default), the planted climax is
    found at its bar through it, and is not without it."""
    sc = perturb(FAMILIES[family](seed), "bars_x3")
    climax = next(lb for lb in sc.labels if lb.event in ("selling_climax", "buying_climax"))

    def found(p: WyckoffParams) -> list:  # type: ignore[type-arg]
        d = batch(registry["EURUSD"], sc, p)
        return [e for e in d.events if e.event == climax.event and abs(sc.bar_of(e.bar_ts_ns) - climax.bar) <= 3]

    p = WyckoffParams(ar_sharp=1.5, ar_sharp_floor=4.5, ar_over_trend_swing=1.2, **ROUND_5)
    assert found(p), "the climax is found through its sharp AR"
    d = batch(registry["EURUSD"], sc, p)
    ar = min((e for e in d.events if e.event.startswith("automatic_") and sc.bar_of(e.bar_ts_ns) > climax.bar),
             key=lambda e: sc.bar_of(e.bar_ts_ns))  # the planted climax's AR
    assert dict(ar.numbers)["height_atr"] < p.ar_min_atr, "the AR is short of ar_min_atr: it is the sharp one"
    assert not found(dataclasses.replace(p, ar_sharp=0.0)), "without the sharp AR the climax is missed"


@pytest.mark.parametrize("seed", [7, 21])
def test_a_range_with_a_sharp_ar_and_no_secondary_test_is_not_proven_by_time(registry, seed: int) -> None:
    """A sharp AR (short of ``ar_min_atr``) lets a pause in a trend look like a range sooner; such
    a range proves itself by lasting only after a secondary test. Family B seeds 7 and 21: a
    range whose sharp AR had no ST is reported without the rule and held back with it."""
    sc = FAMILIES["B"](seed)
    p = WyckoffParams(ar_sharp=1.5, ar_sharp_floor=4.5, ar_over_trend_swing=1.2, **ROUND_5)
    loose = batch(registry["EURUSD"], sc, dataclasses.replace(p, ar_sharp_needs_st=False))
    strict = batch(registry["EURUSD"], sc, p)
    kept = {(e.event, e.bar_ts_ns) for e in strict.events}
    extra = [e for e in loose.events if (e.event, e.bar_ts_ns) not in kept]
    sharp = [e for e in extra if e.event.startswith("automatic_") and dict(e.numbers)["height_atr"] < p.ar_min_atr]
    assert sharp, "without the rule a range with a sharp AR is reported"
    assert not any(e.event == "secondary_test" for e in extra), "the ranges held back had no secondary test"


def test_a_climax_bars_effort_is_ranked_against_the_bars_before_it() -> None:
    """``effort_top``: the largest volume x range of the bar and the ``climax_bars`` - 1 before it
    beats at least ``climax_rank`` of the ``rank_bars`` bars before the bar, the same in both modes."""
    p = WyckoffParams(climax_rank=0.9, rank_bars=10, climax_bars=2)
    efforts = [*range(10, 20), 5, 5, 18, 19, 1, 30]  # volumes on bars one point wide
    n = len(efforts)
    t = np.arange(1, n + 1, dtype=np.int64) * 60 * 10**9
    c = np.full(n, 100, np.int64)
    v = np.array(efforts, np.int64)
    cols = compute(t, c, c + 1, c, c, v, t - 60 * 10**9, 60 * 10**9, p)
    tracker = Tracker(p, 60 * 10**9)
    rows = [tracker.add(int(t[k]), int(t[k]) - 60 * 10**9, 100, 101, 100, 100, int(v[k])) for k in range(n)]
    assert [r.effort_top for r in rows] == cols.cols["effort_top"].tolist()
    assert cols.cols["effort_top"].tolist() == [False] * 10 + [
        True,  # 5, but bar 9's 19 is within climax_bars: it beats 9 of bars 0-9 (10-18)
        False,  # 5 beats none
        False,  # 18 beats 8 of bars 2-11 (12-17 and the two 5s): short of 9
        True,  # 19 beats 9 of bars 3-12
        False,  # 1, carrying bar 13's 19, which ties bar 9's and its own (ties are not beaten): 8 of bars 4-13
        True,  # 30 beats all ten
    ]


def test_a_fall_is_steep_when_it_beats_fall_rank_of_the_falls_before_it_in_both_modes() -> None:
    """``fall_top``: the fall from the lookback's highest close to the bar's close is positive and beats (ties do
    not count) at least ``fall_rank`` of the falls of the ``fall_bars`` bars before, each at its own bar; the
    same flags in both modes. ``rise_top`` is the mirror."""
    p = WyckoffParams(trend_lookback=3, fall_rank=0.75, fall_bars=4)
    closes = [100, 100, 100, 100, 100, 98, 100, 94, 100, 100, 97, 99]
    n = len(closes)
    t = np.arange(1, n + 1, dtype=np.int64) * 60 * 10**9
    c = np.array(closes, np.int64)
    v = np.full(n, 10, np.int64)
    cols = compute(t, c, c + 1, c, c, v, t - 60 * 10**9, 60 * 10**9, p)
    tracker = Tracker(p, 60 * 10**9)
    rows = [tracker.add(int(t[k]), int(t[k]) - 60 * 10**9, closes[k], closes[k] + 1, closes[k], closes[k], 10)
            for k in range(n)]
    assert [r.fall_top for r in rows] == cols.cols["fall_top"].tolist()
    assert [r.rise_top for r in rows] == cols.cols["rise_top"].tolist()
    # the falls (highest of the 3 closes before, less the close): 0 (none before), 0, 0, 0, 0, 2, 0, 6, 0, 0, 3, 1
    assert cols.cols["fall_top"].tolist() == [False] * 5 + [
        True,  # 2 beats all four falls before it (0, 0, 0, 0)
        False,  # no fall
        True,  # 6 beats 0, 0, 2, 0
        False, False,  # no fall
        True,  # 3 beats three of 0, 6, 0, 0: 0.75 of four
        False,  # 1 beats two of 6, 0, 0, 3
    ]
    # the rises (the close less the lowest of the 3 closes before): 0, 0, 0, 0, 0, -2, 2, -4, 6, 6, 3, 2
    assert cols.cols["rise_top"].tolist() == [False] * 6 + [
        True,  # 2 beats all four rises before it (0, 0, 0, -2)
        False,  # a fall
        True,  # 6 beats 0, -2, 2, -4
        True,  # 6 beats three of -2, 2, -4, 6 (not its tie)
        False,  # 3 beats two of 2, -4, 6, 6
        False,  # 2 beats one of -4, 6, 6, 3 (not the 3 ... nor a tie)
    ]
    off = compute(t, c, c + 1, c, c, v, t - 60 * 10**9, 60 * 10**9, dataclasses.replace(p, fall_rank=0.0)).cols
    assert not off["fall_top"].any() and not off["rise_top"].any(), "0 turns both off"


def test_a_fall_that_ties_is_not_steep_and_bar_0_neither_falls_nor_rises_in_both_modes() -> None:
    """With ``fall_rank`` 0.9 of 4 bars a move must beat all four before it: a tie is not beaten, a fall of 0
    is no fall even when every fall before it is negative, and bar 0 (no close before it) has a fall and a
    rise of 0, so a rise of 1 over four flat bars beats all of them."""
    p = WyckoffParams(trend_lookback=1, fall_rank=0.9, fall_bars=4)
    closes = [100, 100, 100, 100, 101, 99, 97, 99, 99, 97, 98, 99, 100, 101, 100, 101, 102, 103, 104, 104]
    n = len(closes)
    t = np.arange(1, n + 1, dtype=np.int64) * 60 * 10**9
    c = np.array(closes, np.int64)
    cols = compute(t, c, c + 1, c, c, np.full(n, 10, np.int64), t - 60 * 10**9, 60 * 10**9, p).cols
    tracker = Tracker(p, 60 * 10**9)
    rows = [tracker.add(int(t[k]), int(t[k]) - 60 * 10**9, closes[k], closes[k] + 1, closes[k], closes[k], 10)
            for k in range(n)]
    assert [r.fall_top for r in rows] == cols["fall_top"].tolist()
    assert [r.rise_top for r in rows] == cols["rise_top"].tolist()
    # falls (the close before less the close): 0, 0, 0, 0, -1, 2, 2, -2, 0, 2, -1, -1, -1, -1, 1, -1, -1, -1, -1, 0
    steep_falls = {5: "2 beats 0, 0, 0, -1",
                   14: "1 beats four falls of -1 (bar 6's 2 ties one of 0, 0, -1, 2; bar 9's 2 ties two)"}
    # bar 19's fall of 0 beats four of -1 but is no fall
    assert [k for k in range(n) if cols["fall_top"][k]] == sorted(steep_falls)
    steep_rises = {4: "1 beats bar 0's 0 and three more 0s", 7: "2 beats 0, 1, -2, -2"}
    # bars 10-13 and 15-18 rise 1 against windows holding earlier 1s: ties
    assert [k for k in range(n) if cols["rise_top"][k]] == sorted(steep_rises)


def test_a_steep_fall_stands_for_the_trend_into_a_climax_short_of_trend_min_atr() -> None:
    """``stopping_action``: a climax bar with a new low after a fall of less than ``trend_min_atr`` ATR is a
    selling climax when the fall is ``fall_top`` and not otherwise; a buying climax the mirror with
    ``rise_top``."""
    from types import SimpleNamespace

    from trading.wyckoff.features import stopping_action

    p = WyckoffParams()
    bar = dict(warm=True, atr=10.0, rng=5, v=100, vbase=100.0, v_peak=100, vsum_lag=100 * p.volume_period,
               burst=True, effort_top=False, fall_top=False, rise_top=False,  # a climax by its burst
               h=1000, l=900, c=950, high_prev=2000, low_prev=0, hi_close=950, lo_close=950)
    short = p.trend_min_atr * 10.0 - 1  # in price points: short of trend_min_atr ATR
    falling = bar | dict(hi_close=950 + short, low_prev=901)  # a new low under the lookback's
    rising = bar | dict(lo_close=950 - short, high_prev=999)  # a new high over it
    assert stopping_action(SimpleNamespace(**falling), p)[0] is False
    assert stopping_action(SimpleNamespace(**(falling | dict(fall_top=True))), p)[0] is True
    assert stopping_action(SimpleNamespace(**(falling | dict(rise_top=True))), p)[0] is False, "a rise is no fall"
    assert stopping_action(SimpleNamespace(**rising), p)[1] is False
    assert stopping_action(SimpleNamespace(**(rising | dict(rise_top=True))), p)[1] is True
    assert stopping_action(SimpleNamespace(**(rising | dict(fall_top=True))), p)[1] is False, "a fall is no rise"
    assert stopping_action(SimpleNamespace(**(falling | dict(fall_top=True, burst=False))), p)[0] is False, \
        "the climax is still needed"


@pytest.mark.parametrize("seed", [1001, 1005])
def test_a_range_that_interrupts_a_markup_shows_phase_e_until_it_proves_itself(registry, seed: int) -> None:
    """After a structure's markup (markdown) began, a climax and its AR open a range that may be
    only a pause: until it proves itself, the phase shown stays E (the trend's), not A or B; once
    proved, it shows its own phase."""
    det = WyckoffDetector(registry["EURUSD"], WyckoffParams())
    sc = FAMILIES["A"](seed)
    paused = 0
    for k in range(len(sc)):
        det.update_points(int(sc.start_ns[k]), int(sc.end_ns[k]), int(sc.open[k]), int(sc.high[k]), int(sc.low[k]),
                          int(sc.close[k]), int(sc.volume[k]))
        r = det.range
        if r is None or r.far is None or not r.after_trend:
            continue
        if r.held:
            paused += 1
            assert det.phase == "E", (k, r.phase)
        else:
            assert det.phase == r.phase
    assert paused > 0


def test_efforts_too_large_for_64_bit_integers_rank_the_same_in_both_modes() -> None:
    """Volume (hundredths) x range (points) can pass 2**63 on a heavy market with fine points: both
    modes rank the same floats, so neither wraps around."""
    p = WyckoffParams(rank_bars=20)
    rng = np.random.default_rng(7)
    n = 120
    t = np.arange(1, n + 1, dtype=np.int64) * 60 * 10**9
    c = (10**8 + rng.integers(-10**5, 10**5, n)).astype(np.int64)
    width = rng.integers(1, 160_000, n).astype(np.int64)
    v = rng.integers(10**13, 10**14, n).astype(np.int64)
    assert (v.astype(object) * width.astype(object)).max() > 2**63, "the products overflow 64 bits"
    cols = compute(t, c, c + width, c, c, v, t - 60 * 10**9, 60 * 10**9, p)
    tracker = Tracker(p, 60 * 10**9)
    rows = [tracker.add(int(t[k]), int(t[k]) - 60 * 10**9, int(c[k]), int(c[k] + width[k]), int(c[k]), int(c[k]),
                        int(v[k])) for k in range(n)]
    assert [r.effort_top for r in rows] == cols.cols["effort_top"].tolist()
    assert 0 < sum(r.effort_top for r in rows) < n - p.rank_bars


def test_a_higher_timeframe_longer_than_int64_nanoseconds_is_one_bucket_in_both_modes() -> None:
    """1,000 bars of 150 days (the settings' largest ``htf_factor``) outlast a 64-bit count of nanoseconds:
    the batch mode divided an int64 column by it (OverflowError) where the incremental one did not."""
    p = WyckoffParams(htf_factor=1000)
    sc = generate(3)
    n, bar = 45, 150 * 86_400 * 10**9
    start = np.arange(n, dtype=np.int64) * bar
    end = start + bar
    cols = compute(end, sc.open[:n], sc.high[:n], sc.low[:n], sc.close[:n], sc.volume[:n], start, bar, p)
    tracker = Tracker(p, bar)
    for k in range(n):
        row = tracker.add(int(end[k]), int(start[k]), int(sc.open[k]), int(sc.high[k]), int(sc.low[k]),
                          int(sc.close[k]), int(sc.volume[k]))
        assert row == cols.at(k), k
    assert (cols.htf == 0).all()  # no higher-timeframe bar ever completes


def test_rank_min_bars_ranks_against_the_bars_there_are_before_the_window_fills() -> None:
    """With ``rank_min_bars`` the effort and fall ranks start once that many bars came (against all of them),
    not once the whole window did; 0 keeps them off until the window is full."""
    sc = generate(3)
    on = compute(sc.end_ns, sc.open, sc.high, sc.low, sc.close, sc.volume, sc.start_ns, 60 * 10**9,
                 WyckoffParams(rank_min_bars=30))
    off = compute(sc.end_ns, sc.open, sc.high, sc.low, sc.close, sc.volume, sc.start_ns, 60 * 10**9, WyckoffParams())
    assert not off.effort_top[:100].any() and not off.fall_top[:300].any() and not off.rise_top[:300].any()
    assert not on.effort_top[:30].any() and not (on.fall_top | on.rise_top)[:30].any()
    assert on.effort_top[30:100].any() and (on.fall_top | on.rise_top)[30:300].any()
    assert (on.effort_top[100:] == off.effort_top[100:]).all() and (on.fall_top[300:] == off.fall_top[300:]).all()
    effort = sc.volume.astype(float) * (sc.high - sc.low).astype(float)
    for i in np.flatnonzero(on.effort_top[30:100]) + 30:  # beats 95% of the i bars before it
        assert (effort[:i] < effort[max(0, i - 2): i + 1].max()).sum() >= 0.95 * i


def test_an_opposite_spring_or_upthrust_replaces_the_first_only_with_the_option_and_says_so(registry) -> None:
    """Family C's seed 1003: a range a buying climax opened takes a spring first. With
    ``c_replaced_by_opposite`` (round 19's choice on the folds, shipped off) a later upthrust before the break
    replaces it, toward the range's context: its signal's evidence names the direction it goes against (+1),
    the spring stays reported, and both modes agree; off (the default: one per range), the upthrust is a
    test and no signal."""
    inst = registry["EURUSD"]
    sc = FAMILIES["C"](1003)
    off = batch(inst, sc, WyckoffParams())
    p = WyckoffParams(c_replaced_by_opposite=True)
    on = batch(inst, sc, p)
    new = [s for s in on.signals if s not in off.signals]
    assert [s.setup for s in new] == ["upthrust", "last_point_of_supply"]  # the upthrust, then its break's LPSY
    structure = dict(next(e for e in new[0].evidence if e.event == "structure").numbers)
    assert structure["direction"] == 1.0  # against the spring's direction, and said so
    replaced = [e for e in new[0].evidence if e.event == "spring"]  # the spring it replaced, as evidence
    springs = [e for e in off.events if e.event == "spring"]
    assert len(replaced) == 1 and replaced[0].bar_ts_ns in [e.bar_ts_ns for e in springs]
    assert [e for e in on.events if e.event == "spring"] == springs  # nothing reported is taken back
    assert [s for s in off.signals if s.ts_ns < new[0].ts_ns] == [s for s in on.signals if s.ts_ns < new[0].ts_ns]
    assert all(dict(next(e for e in s.evidence if e.event == "structure").numbers)["direction"] == 0.0
               for s in off.signals if s.setup in ("spring", "upthrust"))  # off, a first one only: none established
    assert not WyckoffParams().c_replaced_by_opposite and p.c_replace_toward_context and not p.c_replaced_by_same
    assert dict(next(e for e in new[0].evidence if e.event == "structure").numbers)["context"] == -1.0  # toward it
    for q in (p, WyckoffParams(c_replaced_by_opposite=True, c_replaced_by_same=True)):
        on = batch(inst, sc, q)
        events, signals, phases = incremental(inst, sc, q)
        assert structural(events) == on.events and signals == on.signals and phases == on.phase_names()


def test_an_opposite_replacement_against_the_ranges_context_is_a_test_with_toward_context_on(registry) -> None:
    """Family A's seed 1022 (gate off, so no trees decide), with ``c_replaced_by_opposite``: a range a selling
    climax opened takes a spring, then an upthrust. Toward the context only (the default) the upthrust is a
    test of the spring; with ``c_replace_toward_context`` off it replaces the spring."""
    inst = registry["EURUSD"]
    sc = FAMILIES["A"](1022)
    toward = batch(inst, sc, WyckoffParams(gate_min=0.0, c_replaced_by_opposite=True))
    either = batch(inst, sc, WyckoffParams(gate_min=0.0, c_replaced_by_opposite=True, c_replace_toward_context=False))
    assert [(r.context, r.c_event.event if r.c_event else None) for r in toward.ranges][1] == (1, "spring")
    assert [(r.context, r.c_event.event if r.c_event else None) for r in either.ranges][1] == (1, "upthrust")
    extra = [e for e in either.events if e not in toward.events]
    assert [e.event for e in extra if e.event in ("spring", "upthrust")] == ["upthrust"]
