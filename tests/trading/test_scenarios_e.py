"""Family E scenarios (variance-gamma particle between soft walls, 15m/1h/4h FX bars): validity of
bars, labels and phases."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trading import scenario_contract as contract
from tests.trading.scenario_contract import (
    BREAKS,
    CLIMAXES,
    DAY_NS,
    HOUR_NS,
    SHAKEOUTS,
    WEEK_NS,
    edges,
    label,
)
from trading.wyckoff import scenarios_e
from trading.wyckoff.scenarios import START_NS, Scenario
from trading.wyckoff.scenarios_e import (
    BAR_CHOICES,
    KINDS,
    MAX_BARS,
    PHASES,
    SHAKEOUT_BARS,
    generate,
    scenarios,
)

SEEDS = range(60)


@pytest.fixture(scope="module")
def by_seed() -> list[Scenario]:
    return list(scenarios(len(SEEDS), SEEDS[0]))


@pytest.fixture(scope="module")
def by_kind() -> list[Scenario]:
    return [generate(seed, kind) for kind in KINDS for seed in range(1000, 1008)]


@pytest.fixture(scope="module")
def everything(by_seed: list[Scenario], by_kind: list[Scenario]) -> list[Scenario]:
    return by_seed + by_kind


def test_deterministic_and_api(by_seed: list[Scenario], by_kind: list[Scenario]) -> None:
    contract.honours_its_api(scenarios_e, by_seed, by_kind, 8)


def test_gives_up_after_bounded_redraws(monkeypatch: pytest.MonkeyPatch) -> None:
    contract.gives_up_after_bounded_redraws(scenarios_e, monkeypatch)


def test_bars_valid(everything: list[Scenario]) -> None:
    for sc in everything:
        n = len(sc)
        assert 0 < n <= MAX_BARS and sc.bar_ns in BAR_CHOICES
        for arr in (sc.open, sc.high, sc.low, sc.close, sc.volume, sc.start_ns, sc.end_ns):
            assert arr.dtype == np.int64 and len(arr) == n
        assert (sc.low > 0).all() and (sc.low <= sc.high).all()
        assert ((sc.low <= sc.open) & (sc.open <= sc.high)).all()
        assert ((sc.low <= sc.close) & (sc.close <= sc.high)).all()
        assert (sc.volume > 0).all() and (sc.volume % 100 == 0).all()
        assert (sc.end_ns == sc.start_ns + sc.bar_ns).all()
        assert sc.start_ns[0] == START_NS - 2 * HOUR_NS + (sc.seed % 250) * WEEK_NS  # a Sunday 22:00 UTC open
        step = np.diff(sc.start_ns)
        assert (step > 0).all()
        # times step by bar_ns, except over a weekend: from the Friday 22:00 close to the Sunday 22:00 open
        jump = np.flatnonzero(step != sc.bar_ns)
        assert (step[jump] == sc.bar_ns + 2 * DAY_NS).all()
        assert ((sc.end_ns[jump] % DAY_NS) == 22 * HOUR_NS).all()
        days = sc.start_ns // DAY_NS
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        hour = (sc.start_ns % DAY_NS) // HOUR_NS
        assert not (weekday == 5).any()
        assert not ((weekday == 6) & (hour < 22)).any()
        assert not ((weekday == 4) & (hour >= 22)).any()
        assert ((sc.start_ns - START_NS + 2 * HOUR_NS) % sc.bar_ns == 0).all()  # aligned to the Sunday open
        assert 2.5e5 < np.median(sc.close) < 3.0e6  # an FX level (0.55-1.45 to start) in points of 1e-6


def test_labels(everything: list[Scenario]) -> None:
    contract.labels(everything)


def test_climax_is_range_extreme(everything: list[Scenario]) -> None:
    for sc in everything:
        bar, end_b, lo, hi = edges(sc)
        climax = label(sc, CLIMAXES)
        assert climax is not None
        if climax[0] == "selling_climax":
            assert sc.low[bar] == lo and (sc.low[bar + 1: end_b + 1] > lo).all()
        else:
            assert sc.high[bar] == hi and (sc.high[bar + 1: end_b + 1] < hi).all()


def test_spring_and_break(everything: list[Scenario]) -> None:
    for sc in everything:
        climax_bar, end_b, lo, hi = edges(sc)
        shake = label(sc, SHAKEOUTS)
        if shake is not None:
            event, bar, _, _ = shake
            after = sc.close[bar: bar + SHAKEOUT_BARS + 1]
            if event == "spring":
                assert sc.low[bar] < lo and (after > lo).any()
            else:
                assert sc.high[bar] > hi and (after < hi).any()
            assert sc.phases[bar] == PHASES.index("C")
        brk = label(sc, BREAKS)
        assert brk is not None
        event, bar, start, end = brk
        closes = sc.close[start: end + 1]
        beyond = closes > hi if event == "sign_of_strength" else closes < lo
        assert beyond.any() and start + int(np.argmax(beyond)) == bar
        assert 40 <= bar - climax_bar <= 600
        # the back-up stays on the break side of the range's middle
        backup = label(sc, {"last_point_of_support", "last_point_of_supply"})
        assert backup is not None
        mid = (lo + hi) / 2
        assert (sc.low[backup[1]] > mid) if event == "sign_of_strength" else (sc.high[backup[1]] < mid)


def test_phase_c_has_no_unlabelled_spring(everything: list[Scenario]) -> None:
    """Beyond the spring-side edge in phase C: either the labelled spring/upthrust (and nothing
    beyond it after its ten bars), or an unconfirmed shakeout whose closes stay beyond for more
    than ten bars from its extreme, then back inside for good; nothing in phase C goes beyond the
    other edge."""
    contract.phase_c_has_no_unlabelled_spring(everything, SHAKEOUT_BARS, SHAKEOUT_BARS)


def test_phases(everything: list[Scenario]) -> None:
    contract.phases(everything)


def test_population(by_seed: list[Scenario]) -> None:
    n = len(by_seed)
    counts = {k: sum(sc.kind == k for sc in by_seed) for k in KINDS}
    assert min(counts.values()) >= 6, counts
    springs = sum(sc.spring for sc in by_seed) / n
    failed = sum(sc.failed for sc in by_seed) / n
    assert 0.45 <= springs <= 0.85, springs
    assert 0.03 <= failed <= 0.3, failed
    assert any(sc.spring and not sc.failed for sc in by_seed)
    assert {sc.bar_ns for sc in by_seed} == set(BAR_CHOICES)
    assert len({sc.direction for sc in by_seed}) == 2
    ratios, own = [], []
    for sc in by_seed:
        climax = label(sc, CLIMAXES)
        assert climax is not None
        bar = climax[1]
        before = sc.volume[bar - 27: bar - 3].mean()
        ratios.append(sc.volume[bar - 2: bar + 3].max() / before)
        own.append(sc.volume[bar] / before)
    assert min(ratios) >= 1.6 and max(ratios) <= 12.0 and min(own) >= 1.1
    assert min(ratios) < 2.5 and max(ratios) > 5.0  # the climax volume varies
    assert any(o < r for o, r in zip(own, ratios, strict=True))  # sometimes a neighbour trades more
    lengths = [sc.structure[1] - sc.structure[0] for sc in by_seed]
    assert max(lengths) > 2 * min(lengths)  # proportions vary
