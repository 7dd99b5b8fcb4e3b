"""Family G scenarios (heterogeneous agents around a hidden value, Heston noise and news jumps; 24/7 crypto
30m/2h/4h bars and weekday stock daily bars): validity of bars, calendar, labels and phases, determinism,
the perturbations and the population's shares."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trading import scenario_contract as contract
from tests.trading.scenario_contract import (
    BREAKS,
    CLIMAXES,
    DAY_NS,
    WEEK_NS,
    label,
)
from trading.wyckoff import scenarios_g
from trading.wyckoff.scenarios import START_NS, Scenario
from trading.wyckoff.scenarios_g import (
    BAR_CHOICES,
    CRYPTO_BARS,
    KINDS,
    MAX_BARS,
    MIN_BARS,
    PHASES,
    RANGE_BARS,
    SHAKEOUT_BARS,
    SLOW_BARS,
    generate,
    scenarios,
)

SEEDS = range(60)


@pytest.fixture(scope="module")
def by_seed() -> list[Scenario]:
    return list(scenarios(len(SEEDS), SEEDS[0]))


@pytest.fixture(scope="module")
def by_kind() -> list[Scenario]:
    return [generate(seed, kind) for kind in KINDS for seed in range(2000, 2008)]


@pytest.fixture(scope="module")
def everything(by_seed: list[Scenario], by_kind: list[Scenario]) -> list[Scenario]:
    return by_seed + by_kind


def test_deterministic_and_api(by_seed: list[Scenario], by_kind: list[Scenario]) -> None:
    assert KINDS == ("accumulation", "distribution", "reaccumulation", "redistribution")
    assert PHASES == ("", "A", "B", "C", "D", "E")
    assert SHAKEOUT_BARS == 10 and SLOW_BARS > SHAKEOUT_BARS
    contract.honours_its_api(scenarios_g, by_seed, by_kind)


def test_gives_up_after_bounded_redraws(monkeypatch: pytest.MonkeyPatch) -> None:
    contract.gives_up_after_bounded_redraws(scenarios_g, monkeypatch)


def test_bars_valid(everything: list[Scenario]) -> None:
    for sc in everything:
        n = len(sc)
        assert MIN_BARS <= n <= MAX_BARS and sc.bar_ns in BAR_CHOICES
        for arr in (sc.open, sc.high, sc.low, sc.close, sc.volume, sc.start_ns, sc.end_ns):
            assert arr.dtype == np.int64 and len(arr) == n
        assert (sc.low > 0).all() and (sc.low <= sc.high).all()
        assert ((sc.low <= sc.open) & (sc.open <= sc.high)).all()
        assert ((sc.low <= sc.close) & (sc.close <= sc.high)).all()
        assert (sc.volume >= 1).all()
        assert (sc.end_ns == sc.start_ns + sc.bar_ns).all()
        assert (sc.high > sc.low).mean() > 0.9  # bars trade over more than one tick
        tick = str(int(np.gcd.reduce(np.r_[sc.open, sc.high, sc.low, sc.close])))  # a power-of-ten tick grid
        assert tick[0] == "1" and set(tick[1:]) <= {"0"}
        if sc.bar_ns in CRYPTO_BARS:  # continuous trading: a bar opens at the last close
            assert np.array_equal(sc.open[1:], sc.close[:-1])
        else:  # stock daily bars open with an overnight gap
            assert (sc.open[1:] != sc.close[:-1]).mean() > 0.8


def test_calendar(everything: list[Scenario]) -> None:
    for sc in everything:
        monday = START_NS + (sc.seed % 250) * WEEK_NS
        assert sc.start_ns[0] == monday
        step = np.diff(sc.start_ns)
        assert (step > 0).all()
        if sc.bar_ns in CRYPTO_BARS:  # 24/7, aligned to the UTC day, no gaps
            assert (step == sc.bar_ns).all()
            assert (sc.start_ns % sc.bar_ns == 0).all()
        else:
            weekday = (sc.start_ns // DAY_NS + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
            assert (weekday < 5).all() and (sc.start_ns % DAY_NS == 0).all()
            assert set(step.tolist()) <= {DAY_NS, 3 * DAY_NS}


def test_labels(everything: list[Scenario]) -> None:
    contract.labels(everything)


def test_climax_is_strict_range_extreme(everything: list[Scenario]) -> None:
    contract.climax_is_strict_range_extreme(everything)


def test_spring_and_break(everything: list[Scenario]) -> None:
    contract.spring_and_break(everything, SHAKEOUT_BARS, RANGE_BARS)


def test_phase_c_has_no_unlabelled_spring(everything: list[Scenario]) -> None:
    """Beyond the spring-side edge in phase C: either the labelled spring/upthrust (and nothing
    beyond it after its ten bars), or an unconfirmed shakeout whose closes stay beyond for at least
    ``SLOW_BARS`` bars from its extreme; nothing in phase C goes beyond the other edge."""
    contract.phase_c_has_no_unlabelled_spring(everything, SHAKEOUT_BARS, SLOW_BARS)


def test_phases(everything: list[Scenario]) -> None:
    contract.phases(everything)


def test_undone_and_perturb(everything: list[Scenario]) -> None:
    contract.undone_and_perturb(everything)


def test_population(by_seed: list[Scenario]) -> None:
    n = len(by_seed)
    counts = {k: sum(sc.kind == k for sc in by_seed) for k in KINDS}
    assert min(counts.values()) >= 6, counts
    springs = sum(sc.spring for sc in by_seed) / n
    failed = sum(sc.failed for sc in by_seed) / n
    assert 0.35 <= springs <= 0.75, springs
    assert 0.04 <= failed <= 0.3, failed
    assert any(sc.spring and not sc.failed for sc in by_seed)
    assert {sc.bar_ns for sc in by_seed} == set(BAR_CHOICES)
    assert len({sc.direction for sc in by_seed}) == 2
    ratios, own, top = [], [], []
    for sc in by_seed:
        climax = label(sc, CLIMAXES)
        assert climax is not None
        bar = climax[1]
        before = sc.volume[bar - 27: bar - 3].mean()
        ratios.append(sc.volume[bar - 2: bar + 3].max() / before)
        own.append(sc.volume[bar] / before)
        a = sc.structure[0]
        st_end = next(lb.end for lb in sc.labels if lb.event == "secondary_test")
        top.append(sc.volume[bar] >= sc.volume[a: st_end + 1].max())
    assert min(ratios) >= 1.4 and max(ratios) <= 30.0
    assert min(ratios) < 2.5 and max(ratios) > 6.0  # the climax volume varies
    assert min(own) >= 1.0
    assert 0.3 <= np.mean([o < r for o, r in zip(own, ratios, strict=True)]) <= 0.85  # often a neighbour trades more
    assert 0.1 <= np.mean(top) <= 0.6  # the climax bar is often not phase A's heaviest
    lengths = [sc.structure[1] - sc.structure[0] for sc in by_seed]
    assert max(lengths) > 4 * min(lengths)  # proportions vary
    ranges = []
    for sc in by_seed:
        climax = label(sc, CLIMAXES)
        brk = label(sc, BREAKS)
        assert climax is not None and brk is not None
        ranges.append(brk[1] - climax[1])
    assert min(ranges) < 80 and max(ranges) > 400  # very short and very long ranges
