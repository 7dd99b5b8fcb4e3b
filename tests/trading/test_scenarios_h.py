"""Family H scenarios (a Kyle insider trading against a self-exciting tick stream, aggregated into MetaTrader-5
style FX and gold bid bars of 15m/1h/4h on the forex week): validity of bars, calendar, tick volume, labels and
phases, determinism, the perturbations and the population's shares."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trading import scenario_contract as contract
from tests.trading.scenario_contract import (
    BREAKS,
    CLIMAXES,
    DAY_NS,
    HOUR_NS,
    WEEK_NS,
    label,
)
from trading.wyckoff import scenarios_h
from trading.wyckoff.scenarios import START_NS, Scenario
from trading.wyckoff.scenarios_h import (
    BAR_CHOICES,
    CLIMAX_RATIO,
    INSTRUMENTS,
    KINDS,
    MAX_BARS,
    MIN_BARS,
    PHASES,
    RANGE_BARS,
    ROLLOVER_HOUR,
    SHAKEOUT_BARS,
    SLOW_BARS,
    TRADING_NS,
    WEEK_OPEN_NS,
    generate,
    scenarios,
)

SEEDS = range(60)


@pytest.fixture(scope="module")
def by_seed() -> list[Scenario]:
    return list(scenarios(len(SEEDS), SEEDS[0]))


@pytest.fixture(scope="module")
def by_kind() -> list[Scenario]:
    return [generate(seed, kind) for kind in KINDS for seed in range(3000, 3008)]


@pytest.fixture(scope="module")
def everything(by_seed: list[Scenario], by_kind: list[Scenario]) -> list[Scenario]:
    return by_seed + by_kind


def test_deterministic_and_api(by_seed: list[Scenario], by_kind: list[Scenario]) -> None:
    assert KINDS == ("accumulation", "distribution", "reaccumulation", "redistribution")
    assert PHASES == ("", "A", "B", "C", "D", "E")
    assert SHAKEOUT_BARS == 10 and SLOW_BARS > SHAKEOUT_BARS
    assert WEEK_OPEN_NS == START_NS - 2 * HOUR_NS and TRADING_NS == 120 * HOUR_NS
    contract.honours_its_api(scenarios_h, by_seed, by_kind)


def test_gives_up_after_bounded_redraws(monkeypatch: pytest.MonkeyPatch) -> None:
    contract.gives_up_after_bounded_redraws(scenarios_h, monkeypatch)


def test_bars_valid(everything: list[Scenario]) -> None:
    grids = {10 ** (6 - digits): (lo, hi) for lo, hi, digits, *_ in INSTRUMENTS.values()}
    for sc in everything:
        n = len(sc)
        assert MIN_BARS <= n <= MAX_BARS and sc.bar_ns in BAR_CHOICES
        for arr in (sc.open, sc.high, sc.low, sc.close, sc.volume, sc.start_ns, sc.end_ns):
            assert arr.dtype == np.int64 and len(arr) == n
        assert (sc.low > 0).all() and (sc.low <= sc.high).all()
        assert (sc.high >= np.maximum(sc.open, sc.close)).all() and (sc.low <= np.minimum(sc.open, sc.close)).all()
        assert (sc.end_ns == sc.start_ns + sc.bar_ns).all()
        assert (sc.high > sc.low).mean() > 0.95  # many ticks a bar
        # volume is the bar's tick count (MetaTrader's tick volume) in hundredths
        assert (sc.volume >= 100).all() and (sc.volume % 100 == 0).all()
        # prices sit on the symbol's point grid: 5-digit FX, 3-digit yen crosses, 2-digit gold
        grid = int(np.gcd.reduce(np.r_[sc.open, sc.high, sc.low, sc.close]))
        assert grid in grids, grid
        lo, hi = grids[grid]
        assert 0.5 * lo * 1e6 < sc.close[0] < 1.5 * hi * 1e6
        # a bar opens one tick after the previous close, except across the weekend's gap
        step = np.diff(sc.start_ns)
        same_week = step == sc.bar_ns
        jump = np.abs(sc.open[1:] - sc.close[:-1])[same_week]
        assert (jump > 0).mean() > 0.5
        assert np.median(jump) < 0.2 * np.median(sc.high - sc.low)


def test_calendar(everything: list[Scenario]) -> None:
    for sc in everything:
        assert sc.start_ns[0] == WEEK_OPEN_NS + (sc.seed % 250) * WEEK_NS  # a Sunday 22:00 UTC open
        into_week = (sc.start_ns - WEEK_OPEN_NS) % WEEK_NS
        assert (into_week % sc.bar_ns == 0).all()  # aligned to the week's open (a 22:00 UTC day)
        assert (into_week + sc.bar_ns <= TRADING_NS).all()  # no bar after Friday 22:00 UTC
        weekday = (sc.start_ns // DAY_NS + 3) % 7  # Monday = 0
        assert not ((weekday == 5) | ((weekday == 6) & (sc.start_ns % DAY_NS < 22 * HOUR_NS))).any()
        step = np.diff(sc.start_ns)
        assert set(step.tolist()) == {sc.bar_ns, sc.bar_ns + 2 * DAY_NS}  # the weekend is closed
        weeks = int((sc.start_ns[-1] - sc.start_ns[0]) // WEEK_NS)
        assert int((step > sc.bar_ns).sum()) == weeks


def test_sessions_rollover_and_news(everything: list[Scenario]) -> None:
    """Tick counts follow the FX day (the London/New York overlap busy, the rollover hour thin);
    the bid dips at the rollover as the spread widens; scheduled releases are heavy bars."""
    busy, thin, open_roll, open_other, news, other = [], [], [], [], [], []
    for sc in everything:
        hour = (sc.start_ns // HOUR_NS) % 24
        minute = (sc.start_ns // (60 * 10**9)) % 60
        # where in its bar's range the bar opens: the bar of the rollover opens on the bid's dip
        where = (sc.open - sc.low) / np.maximum(sc.high - sc.low, 1)
        roll = (hour == ROLLOVER_HOUR) & (minute == 0)
        open_roll.append(np.mean(where[roll]))
        open_other.append(np.mean(where[~roll]))
        if sc.bar_ns == 4 * HOUR_NS:  # the session and the releases on 15m and 1h bars
            continue
        rel = sc.volume / np.median(sc.volume)
        busy.append(np.median(rel[(hour >= 12) & (hour < 16)]))
        thin.append(np.median(rel[hour == ROLLOVER_HOUR]))
        weekday = (sc.start_ns // DAY_NS + 3) % 7
        at_1230 = (hour == 12) & (minute <= 30) & (minute + sc.bar_ns // (60 * 10**9) > 30)
        days = sc.start_ns.astype("datetime64[ns]").astype("datetime64[D]")
        day_of_month = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
        payroll = at_1230 & (weekday == 4) & (day_of_month <= 7)  # the first Friday's 12:30 UTC
        news.extend(rel[payroll].tolist())
        other.extend(rel[(hour == 12) & ~at_1230].tolist())
    assert np.median(busy) > 1.8 * np.median(thin)
    assert 0.4 < np.mean(open_other) < 0.6 and np.mean(open_roll) < np.mean(open_other) - 0.12
    assert len(news) > 10 and np.median(news) > 1.5 * np.median(other)


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
    assert 0.4 <= springs <= 0.75, springs
    assert 0.04 <= failed <= 0.3, failed
    assert any(sc.spring and not sc.failed for sc in by_seed)
    assert {sc.bar_ns for sc in by_seed} == set(BAR_CHOICES)
    assert len({sc.direction for sc in by_seed}) == 2
    assert len({int(np.gcd.reduce(sc.close)) for sc in by_seed}) >= 2  # FX and yen crosses or gold
    ratios, own, top, ps = [], [], [], 0
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
        ps += any(lb.event.startswith("preliminary") for lb in sc.labels)
    assert CLIMAX_RATIO[0] <= min(ratios) and max(ratios) <= CLIMAX_RATIO[1]
    assert min(ratios) < 2.0 and max(ratios) > 6.0  # the climax's tick count varies
    assert min(own) >= 1.0
    assert 0.3 <= np.mean([o < r for o, r in zip(own, ratios, strict=True)]) <= 0.85  # often a neighbour is heavier
    assert 0.05 <= np.mean(top) <= 0.6  # the climax bar is often not phase A's heaviest
    assert 0.25 <= ps / n <= 0.8  # the PS is sometimes absent
    springs_rel = []
    for sc in by_seed:
        shake = label(sc, {"spring", "upthrust"})
        if shake is not None:
            springs_rel.append(sc.volume[shake[1]] / np.median(sc.volume[shake[1] - 50: shake[1]]))
    assert min(springs_rel) < 0.9 and max(springs_rel) > 1.5  # quiet and loud springs
    lengths = [sc.structure[1] - sc.structure[0] for sc in by_seed]
    assert max(lengths) > 4 * min(lengths)  # proportions vary
    ranges = []
    for sc in by_seed:
        climax = label(sc, CLIMAXES)
        brk = label(sc, BREAKS)
        assert climax is not None and brk is not None
        ranges.append(brk[1] - climax[1])
    assert min(ranges) < 60 and max(ranges) > 400  # very short and very long ranges
    # effort and result come out of the same ticks: busier bars have wider ranges
    corr = [np.corrcoef(np.log(sc.volume), np.log1p(sc.high - sc.low))[0, 1] for sc in by_seed]
    assert np.median(corr) > 0.3
