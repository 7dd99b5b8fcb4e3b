"""Family D scenarios (agent-based order flow, 30-minute FX bars): validity of bars, labels and phases."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trading.scenario_contract import BREAKS, CLIMAXES, DAY_NS, EVENTS, EXPECTED, HOUR_NS, edges, label
from trading.wyckoff.scenarios import START_NS, Scenario
from trading.wyckoff.scenarios_d import BAR_NS, KINDS, MAX_BARS, PHASES, generate, scenarios

SEEDS = range(60)


@pytest.fixture(scope="module")
def by_seed() -> list[Scenario]:
    return list(scenarios(len(SEEDS), SEEDS[0]))


@pytest.fixture(scope="module")
def by_kind() -> list[Scenario]:
    return [generate(seed, kind) for kind in KINDS for seed in range(12)]


@pytest.fixture(scope="module")
def everything(by_seed: list[Scenario], by_kind: list[Scenario]) -> list[Scenario]:
    return by_seed + by_kind


def test_deterministic_and_api(by_seed: list[Scenario]) -> None:
    for seed in range(8):
        a, b = generate(seed), by_seed[seed]
        assert a.kind == b.kind and a.labels == b.labels and a.structure == b.structure
        for f in ("start_ns", "open", "high", "low", "close", "volume", "phases"):
            assert np.array_equal(getattr(a, f), getattr(b, f))
    assert generate(5, "distribution").kind == "distribution"
    with pytest.raises(ValueError):
        generate(0, "sideways")
    assert [sc.seed for sc in scenarios(3, 7)] == [7, 8, 9]


def test_bars_valid(everything: list[Scenario]) -> None:
    for sc in everything:
        n = len(sc)
        assert 0 < n <= MAX_BARS and sc.bar_ns == BAR_NS == 30 * 60 * 1_000_000_000
        for arr in (sc.open, sc.high, sc.low, sc.close, sc.volume, sc.start_ns, sc.end_ns):
            assert arr.dtype == np.int64 and len(arr) == n
        assert (sc.low > 0).all() and (sc.low <= sc.high).all()
        assert ((sc.low <= sc.open) & (sc.open <= sc.high)).all()
        assert ((sc.low <= sc.close) & (sc.close <= sc.high)).all()
        assert (sc.volume > 0).all() and (sc.volume % 100 == 0).all()
        assert (sc.end_ns == sc.start_ns + BAR_NS).all() and (np.diff(sc.start_ns) > 0).all()
        assert sc.start_ns[0] == START_NS + (sc.seed % 200) * 7 * DAY_NS
        days = sc.start_ns // DAY_NS
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        hour = (sc.start_ns % DAY_NS) // HOUR_NS
        assert not (weekday == 5).any()
        assert not ((weekday == 6) & (hour < 22)).any()
        assert not ((weekday == 4) & (hour >= 22)).any()
        assert 1.0e5 < np.median(sc.close) < 2.0e6  # a level of about 1 in points of 1e-6


def test_labels(everything: list[Scenario]) -> None:
    for sc in everything:
        assert sc.labels == sorted(sc.labels, key=lambda lb: lb.bar)
        events = [lb.event for lb in sc.labels]
        assert set(events) <= EVENTS and len(events) == len(set(events))
        for lb in sc.labels:
            assert lb.start <= lb.bar <= lb.end < len(sc)
        up = sc.direction > 0
        assert sc.direction in (1, -1) and sc.failed == (sc.direction != EXPECTED[sc.kind])
        assert ("sign_of_strength" if up else "sign_of_weakness") in events
        assert ("last_point_of_support" if up else "last_point_of_supply") in events
        assert sc.spring == ("spring" in events or "upthrust" in events)
        assert "spring" not in events or EXPECTED[sc.kind] > 0
        assert "upthrust" not in events or EXPECTED[sc.kind] < 0
        assert not sc.failed or sc.spring  # a failure follows a spring/upthrust
        fall_in = sc.kind in ("accumulation", "redistribution")
        assert ("selling_climax" if fall_in else "buying_climax") in events
        assert ("automatic_rally" if fall_in else "automatic_reaction") in events
        assert "secondary_test" in events
        # each label's bar is its leg's extreme on the event's side
        for lb in sc.labels:
            if lb.event in BREAKS:
                continue
            low_side = lb.event in ("selling_climax", "spring", "last_point_of_support", "preliminary_support",
                                    "automatic_reaction") or (lb.event == "secondary_test" and fall_in)
            seg = sc.low[lb.start: lb.end + 1] if low_side else -sc.high[lb.start: lb.end + 1]
            assert lb.start + int(np.argmin(seg)) == lb.bar, (sc.seed, lb)


def test_climax_is_range_extreme(everything: list[Scenario]) -> None:
    for sc in everything:
        bar, end_b, lo, hi = edges(sc)
        climax = label(sc, CLIMAXES)
        assert climax is not None
        if climax[0] == "selling_climax":
            assert sc.low[bar] == lo
        else:
            assert sc.high[bar] == hi


def test_spring_and_break(everything: list[Scenario]) -> None:
    for sc in everything:
        _, end_b, lo, hi = edges(sc)
        shake = label(sc, {"spring", "upthrust"})
        if shake is not None:
            event, bar, _, _ = shake
            after = sc.close[bar: bar + 11]
            if event == "spring":
                assert sc.low[bar] < lo and (after > lo).any()
            else:
                assert sc.high[bar] > hi and (after < hi).any()
        brk = label(sc, BREAKS)
        assert brk is not None
        event, bar, start, end = brk
        closes = sc.close[start: end + 1]
        beyond = closes > hi if event == "sign_of_strength" else closes < lo
        assert beyond.any() and start + int(np.argmax(beyond)) == bar
        assert 50 <= bar - edges(sc)[0] <= 350


def test_phases(everything: list[Scenario]) -> None:
    for sc in everything:
        a, b = sc.structure
        assert sc.phases.dtype == np.int8 and len(sc.phases) == len(sc)
        assert 0 < a < b < len(sc)
        assert (sc.phases[:a] == 0).all() and (sc.phases[b + 1:] == 0).all()
        inside = sc.phases[a: b + 1]
        assert (inside >= 1).all() and (np.diff(inside) >= 0).all()
        assert set(inside.tolist()) == {1, 2, 3, 4, 5}
        assert sc.labels[0].start == a
        brk = label(sc, BREAKS)
        assert brk is not None and sc.phases[brk[2]] == PHASES.index("D")


def test_population(by_seed: list[Scenario]) -> None:
    kinds = {sc.kind for sc in by_seed}
    assert kinds == set(KINDS)
    assert any(sc.failed for sc in by_seed) and any(not sc.spring for sc in by_seed)
    assert any(sc.spring and not sc.failed for sc in by_seed)
    ratios = []
    for sc in by_seed:
        climax = label(sc, CLIMAXES)
        assert climax is not None
        bar = climax[1]
        ratios.append(sc.volume[bar] / sc.volume[bar - 24: bar].mean())
    assert min(ratios) < 2.5 and max(ratios) > 3.5
    assert min(ratios) >= 1.5 and max(ratios) <= 6.0
