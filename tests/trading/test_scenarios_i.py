"""Family I scenarios (dealers' inventory, trend followers, hedgers and a composite operator in exchange-traded
futures, back-adjusted continuous contracts on CME sessions, 30m/2h/daily bars): validity of bars, the exchange's
calendar (checked against the tz database), the intraday volume profile, rolls, reports and limit days, labels and
phases, determinism, the perturbations and the population's shares."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pytest

from tests.trading import scenario_contract as contract
from tests.trading.scenario_contract import BREAKS, CLIMAXES, DAY_NS, MINUTE_NS, WEEK_NS, label
from trading.wyckoff import scenarios_i
from trading.wyckoff.scenarios import START_NS, Scenario
from trading.wyckoff.scenarios_i import (
    BAR_CHOICES,
    CLIMAX_RATIO,
    INSTRUMENTS,
    KINDS,
    MAX_BARS,
    MIN_BARS,
    PHASES,
    RANGE_BARS,
    SHAKEOUT_BARS,
    SLOW_BARS,
    generate,
    market,
    scenarios,
)

SEEDS = range(60)
CHICAGO = ZoneInfo("America/Chicago")
CLOSED = {date(2026, 1, 1), date(2026, 4, 3), date(2026, 12, 25), date(2027, 1, 1), date(2027, 3, 26),
          date(2027, 12, 24), date(2028, 4, 14), date(2028, 12, 25), date(2029, 1, 1), date(2029, 3, 30),
          date(2029, 12, 25), date(2030, 1, 1), date(2030, 4, 19), date(2030, 12, 25)}  # New Year, Good Friday, Christmas
ROLLS = {"CL": (set(range(1, 13)), 14), "GC": ({1, 3, 5, 7, 9, 11}, 25), "ZN": ({2, 5, 8, 11}, 22),
         "ES": ({3, 6, 9, 12}, 0), "ZC": ({2, 4, 6, 8, 11}, 22)}


@pytest.fixture(scope="module")
def by_seed() -> list[Scenario]:
    return list(scenarios(len(SEEDS), SEEDS[0]))


@pytest.fixture(scope="module")
def by_kind() -> list[Scenario]:
    return [generate(seed, kind) for kind in KINDS for seed in range(3000, 3008)]


@pytest.fixture(scope="module")
def everything(by_seed: list[Scenario], by_kind: list[Scenario]) -> list[Scenario]:
    return by_seed + by_kind


def chicago(ns: npt.NDArray[np.int64]) -> list[datetime]:
    return [datetime.fromtimestamp(int(t) // 10**9, UTC).astimezone(CHICAGO) for t in ns]


def trade_dates(sc: Scenario) -> list[date]:
    """The exchange's trade date of each bar: the session that opens in the evening belongs to the next day."""
    if sc.bar_ns == DAY_NS:
        return [datetime.fromtimestamp(int(t) // 10**9, UTC).date() for t in sc.start_ns]
    return [(t + timedelta(hours=7)).date() for t in chicago(sc.start_ns)]


def observed(d: date) -> date:
    return d + timedelta(days={5: -1, 6: 1}.get(d.weekday(), 0))


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 the last) weekday (Monday 0) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def half_day(d: date) -> tuple[str, int] | None:
    """The half-day's name and the CT minute its session ends: 12:00 on Martin Luther King Day, Presidents'
    Day, Memorial Day, Juneteenth, Independence Day, Labor Day and Thanksgiving (as observed), 12:15 on the
    day after Thanksgiving and Christmas Eve; None on a normal day."""
    y = d.year
    thanksgiving = nth_weekday(y, 11, 3, 4)
    noon = {"mlk": nth_weekday(y, 1, 0, 3), "presidents": nth_weekday(y, 2, 0, 3), "memorial": nth_weekday(y, 5, 0, -1),
            "juneteenth": date(y, 6, 19), "july4": date(y, 7, 4), "labor": nth_weekday(y, 9, 0, 1),
            "thanksgiving": thanksgiving}
    for name, x in noon.items():
        if d == observed(x):
            return name, 12 * 60
    if d == thanksgiving + timedelta(days=1):
        return "black_friday", 12 * 60 + 15
    if d.month == 12 and d.day == 24:
        return "christmas_eve", 12 * 60 + 15
    return None


def minutes(ts: list[datetime]) -> npt.NDArray[np.int64]:
    return np.array([t.hour * 60 + t.minute for t in ts], np.int64)


def test_deterministic_and_api(by_seed: list[Scenario], by_kind: list[Scenario]) -> None:
    assert KINDS == ("accumulation", "distribution", "reaccumulation", "redistribution")
    assert PHASES == ("", "A", "B", "C", "D", "E")
    assert SHAKEOUT_BARS == 10 and SLOW_BARS > SHAKEOUT_BARS
    contract.honours_its_api(scenarios_i, by_seed, by_kind)
    for i in range(len(KINDS)):  # generate(seed, kind) keeps the seed's contract and bars
        assert all(sc.bar_ns == market(sc.seed)[1] for sc in by_kind[8 * i: 8 * i + 8])


def test_gives_up_after_bounded_redraws(monkeypatch: pytest.MonkeyPatch) -> None:
    contract.gives_up_after_bounded_redraws(scenarios_i, monkeypatch)


def test_bars_valid(everything: list[Scenario]) -> None:
    for sc in everything:
        n = len(sc)
        inst = INSTRUMENTS[market(sc.seed)[0]]
        assert MIN_BARS <= n <= MAX_BARS and sc.bar_ns == market(sc.seed)[1] and sc.bar_ns in BAR_CHOICES
        for arr in (sc.open, sc.high, sc.low, sc.close, sc.volume, sc.start_ns, sc.end_ns):
            assert arr.dtype == np.int64 and len(arr) == n
        assert (sc.low > 0).all() and (sc.low <= sc.high).all()
        assert (sc.high >= np.maximum(sc.open, sc.close)).all() and (sc.low <= np.minimum(sc.open, sc.close)).all()
        # a session's last bar can be short (the grains' night session ends 07:45, the day opens 08:30)
        assert (sc.end_ns == sc.start_ns + sc.bar_ns).all() and (np.diff(sc.start_ns) > 0).all()
        assert (sc.high > sc.low).mean() > 0.9
        assert (sc.volume >= 1).all()  # contracts
        for arr in (sc.open, sc.high, sc.low, sc.close):  # on the contract's tick grid
            assert (arr % inst.tick == 0).all()
        lo, hi = inst.level  # back-adjusted: the last bar is the current contract's price
        assert lo * 1e6 * 0.97 <= sc.close[-1] <= hi * 1e6 * 1.03
        assert sc.high.max() / sc.low.min() < 3.0
        # inside a session (intraday bars back to back on one trade date) a bar opens at the last trade, at
        # most a tick (the bid-ask) from the previous close; a daily bar opens after the settlement and the
        # maintenance break (or a weekend), with a gap
        if sc.bar_ns != DAY_NS:
            dates = np.array([d.toordinal() for d in trade_dates(sc)])
            same = (np.diff(sc.start_ns) == sc.bar_ns) & (dates[1:] == dates[:-1])
            assert same.mean() > 0.7
            assert (np.abs(sc.open[1:] - sc.close[:-1])[same] <= inst.tick).all()


def test_calendar(everything: list[Scenario]) -> None:
    """CME hours in Chicago time (so daylight saving time shifts them in UTC): Globex from 17:00 the evening
    before to 16:00 with the daily maintenance break, the grains' night and day sessions; no weekends, no
    full holidays, early closes on half-days; intraday bars aligned to each session's open."""
    half_days: dict[str, int] = {}
    for sc in everything:
        inst = INSTRUMENTS[market(sc.seed)[0]]
        monday = datetime.fromtimestamp((START_NS + (sc.seed % 250) * WEEK_NS) // 10**9, UTC).date()
        dates = trade_dates(sc)
        assert dates[0] >= monday and (dates[0] - monday).days <= 1  # the Monday (the Tuesday if it is a holiday)
        assert all(d.weekday() < 5 and d not in CLOSED for d in dates)
        if sc.bar_ns == DAY_NS:
            assert (sc.start_ns % DAY_NS == 0).all() and len(set(dates)) == len(dates)
            continue
        local = chicago(sc.start_ns)
        mins = minutes(local)
        bar_min = sc.bar_ns // MINUTE_NS
        first = 19 * 60 if inst.grain else 17 * 60
        if dates[0] == monday:  # the Sunday evening open
            assert mins[0] == first and local[0].weekday() == 6
        if inst.grain:
            night = (mins >= 19 * 60) | (mins < 7 * 60 + 45)
            day = (mins >= 8 * 60 + 30) & (mins < 13 * 60 + 20)
            assert (night | day).all()
            assert ((mins[night] - 19 * 60) % bar_min == 0).all() and ((mins[day] - 510) % bar_min == 0).all()
        else:
            assert not ((mins >= 16 * 60) & (mins < 17 * 60)).any()  # the maintenance break
            assert ((mins - 17 * 60) % bar_min == 0).all()
        weekday = np.array([t.weekday() for t in local])
        assert not (weekday == 5).any() and not ((weekday == 6) & (mins < first)).any()
        last_start: dict[date, int] = {}
        for d, m in zip(dates, mins, strict=True):
            if m < 17 * 60:
                last_start[d] = max(last_start.get(d, 0), int(m))
            half = half_day(d)
            if half is not None:  # nothing trades from the early close to the evening's reopen
                assert m < half[1] or m >= 17 * 60, (sc.seed, d, m)
        for d, m in list(last_start.items())[1:-1]:  # whole trade dates: the session runs to its close
            half = half_day(d)
            close = half[1] if half else 13 * 60 + 20 if inst.grain else 16 * 60
            assert m < close <= m + bar_min, (sc.seed, d, m)  # its last bar holds the close
            if half is not None:
                half_days[half[0]] = half_days.get(half[0], 0) + 1
    # every kind of half-day is seen (a 12:15 close on 30-minute bars has a 12:00-12:15 bar)
    assert set(half_days) == {"mlk", "presidents", "memorial", "juneteenth", "july4", "labor", "thanksgiving",
                              "black_friday", "christmas_eve"}, half_days


def test_volume_profile_u_shaped(everything: list[Scenario]) -> None:
    """On 30-minute bars the day session's first and last bars trade most, its middle less, the night least."""
    first, last, middle, night = [], [], [], []
    for sc in everything:
        if sc.bar_ns != 30 * MINUTE_NS:
            continue
        a, b = INSTRUMENTS[market(sc.seed)[0]].rth
        mins = minutes(chicago(sc.start_ns))
        rel = sc.volume / np.median(sc.volume)
        first.append(np.median(rel[mins == a - a % 30]))
        last.append(np.median(rel[(mins < b) & (mins + 30 >= b)]))
        middle.append(np.median(rel[np.abs(mins + 15 - (a + b) / 2) <= 30]))
        night.append(np.median(rel[mins < 120]))
    assert len(first) >= 10
    assert np.median(first) > 1.3 * np.median(middle) and np.median(last) > 1.3 * np.median(middle)
    assert np.median(middle) > 2.0 * np.median(night)


def test_rolls(everything: list[Scenario]) -> None:
    """The continuous contract follows the front month until the switch: its volume dips over the roll week
    as trading moves to the next month, and jumps on the switch date."""
    before, week, at = [], [], []
    for sc in everything:
        months, day = ROLLS[market(sc.seed)[0]]
        dates = trade_dates(sc)
        days = sorted(set(dates))[:-1]  # the last one may be cut short
        volume = {d: 0 for d in days}
        for d, v in zip(dates, sc.volume.tolist(), strict=True):
            if d in volume:
                volume[d] += v
        for i in range(7, len(days)):
            d, prev = days[i], days[i - 1]
            if d.month not in months:
                continue
            switch = (8 <= d.day <= 14 and d.weekday() == 3) if not day else \
                d.day >= day and (prev.day < day or prev.month != d.month)
            if switch:
                before.append(volume[prev] / volume[d])
                week.append(volume[prev] / volume[days[i - 6]])
                at.append(volume[d])
    assert len(at) > 30
    assert np.median(before) < 0.7 and np.median(week) < 0.75


def test_reports(everything: list[Scenario]) -> None:
    """Scheduled reports are one-bar shocks: the bar holding the EIA inventory report (crude), the payrolls
    (gold, notes, index) or the USDA's WASDE (corn) trades far more than that time of day on other days."""
    news: list[float] = []
    other: list[float] = []
    for sc in everything:
        if sc.bar_ns == DAY_NS:
            continue
        symbol = market(sc.seed)[0]
        local = chicago(sc.start_ns)
        mins = minutes(local)
        bar_min = sc.bar_ns // MINUTE_NS
        dates = trade_dates(sc)
        rel = sc.volume / np.median(sc.volume)
        at = {"CL": 570, "ZC": 660}.get(symbol, 450)
        holds = (mins <= at) & (mins + bar_min > at)
        for i in np.flatnonzero(holds):
            d = dates[i]
            if symbol == "CL":
                release = d.weekday() == 2
            elif symbol == "ZC":  # the first trade date from the 9th
                earlier = [x for x in dates[:i] if x != d]
                release = d.day >= 9 and bool(earlier) and (earlier[-1].day < 9 or earlier[-1].month != d.month)
            else:
                release = d.weekday() == 4 and d.day <= 7
            (news if release else other).append(rel[i])
    assert len(news) > 10
    assert np.median(news) > 1.5 * np.median(other)


def test_limit_days(everything: list[Scenario]) -> None:
    """Crude, gold and corn have daily price limits: a day's settlement never moves more than the limit
    (half as much again after a limit day) from the last; locked at the limit, the market hardly trades.
    The notes and the index have none. Limit days stay outside the schematic."""
    locked: list[float] = []
    seen = 0
    for sc in everything:
        inst = INSTRUMENTS[market(sc.seed)[0]]
        flat = (sc.open == sc.high) & (sc.high == sc.low) & (sc.low == sc.close)
        pinned = flat & np.r_[False, sc.close[1:] == sc.close[:-1]] & np.r_[flat[1:], False]
        if sc.bar_ns == DAY_NS:
            if inst.limit:
                close = sc.close.astype(float)
                ratio = close[1:] / close[:-1]
                assert ((ratio <= 1 + 1.5 * inst.limit + 1e-3) & (ratio >= 1 - 1.5 * inst.limit - 1e-3)).all()
                # a limit day: the bar settles at the limit (within two ticks; half as wide again after a limit
                # day) and at its extreme on that side: held there, not just a big move
                held = np.zeros(len(sc), bool)
                for i in range(1, len(sc)):
                    lx = inst.limit * (1.5 if held[i - 1] else 1.0)
                    held[i] = ((abs(close[i] - close[i - 1] * (1 + lx)) <= 2 * inst.tick and sc.close[i] == sc.high[i])
                               or (abs(close[i] - close[i - 1] * (1 - lx)) <= 2 * inst.tick and sc.close[i] == sc.low[i]))
                seen += int(held.any())
                assert np.isin(sc.phases[held], [0, PHASES.index("E")]).all(), sc.seed
        elif inst.limit:
            mins = minutes(chicago(sc.start_ns))  # each locked bar against the median bar at that time of day
            locked.extend(float(sc.volume[i] / np.median(sc.volume[mins == mins[i]])) for i in np.flatnonzero(pinned))
            seen += pinned.any()
            assert not np.isin(sc.phases[pinned], [1, 2, 3, 4]).any()
        else:
            assert pinned.sum() <= 2
    assert seen >= 3 and len(locked) > 10
    assert np.median(locked) < 0.15  # locked, a bar trades a small fraction of what that time of day trades


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


def test_shakeout_brief_and_alone(everything: list[Scenario]) -> None:
    contract.shakeout_brief_and_alone(everything, SHAKEOUT_BARS, min_springs=20)


def test_phases(everything: list[Scenario]) -> None:
    contract.phases(everything)


def test_undone_and_perturb(everything: list[Scenario]) -> None:
    contract.undone_and_perturb(everything)


def test_absorption(everything: list[Scenario], monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator absorbs the panic: around the climax a unit of range costs more volume than in the trend,
    and clearly more than in the same seeds generated with the operator's absorption switched off."""
    on = contract.climax_effort(everything)
    monkeypatch.setattr(scenarios_i, "_ABSORPTION", 0.0)
    off = contract.climax_effort([generate(sc.seed, sc.kind) for sc in everything])
    assert np.median(on) > 1.2 and np.mean(on > 1) > 0.65
    assert np.median(on) > 1.1 * np.median(off) and np.mean(on > off) > 0.65


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
    assert {market(sc.seed)[0] for sc in by_seed} == set(INSTRUMENTS)
    assert len({sc.direction for sc in by_seed}) == 2
    ratios, own, top, ps, under, clear = [], [], [], 0, 0, 0
    for sc in by_seed:
        climax = label(sc, CLIMAXES)
        assert climax is not None
        bar = climax[1]
        before = sc.volume[bar - 27: bar - 3].mean()
        ratios.append(sc.volume[bar - 2: bar + 3].max() / before)
        own.append(sc.volume[bar] / before)
        a = sc.structure[0]
        st = next(lb for lb in sc.labels if lb.event == "secondary_test")
        top.append(sc.volume[bar] >= sc.volume[a: st.end + 1].max())
        ps += any(lb.event.startswith("preliminary") for lb in sc.labels)
        _, _, lo, hi = contract.edges(sc)
        if climax[0] == "selling_climax":  # the ST undercuts the climax's close, or holds well above its low
            under += sc.low[st.bar] < sc.close[bar]
            clear += sc.low[st.bar] - lo > 0.2 * (hi - lo)
        else:
            under += sc.high[st.bar] > sc.close[bar]
            clear += hi - sc.high[st.bar] > 0.2 * (hi - lo)
    assert CLIMAX_RATIO[0] <= min(ratios) and max(ratios) <= CLIMAX_RATIO[1]
    assert min(ratios) < 2.0 and max(ratios) > 6.0  # the climax's volume varies
    assert min(own) >= 1.0
    assert 0.3 <= np.mean([o < r for o, r in zip(own, ratios, strict=True)]) <= 0.85  # often a neighbour is heavier
    assert 0.05 <= np.mean(top) <= 0.6  # the climax bar is often not phase A's heaviest
    assert 0.25 <= ps / n <= 0.8  # the PS is sometimes absent
    assert under >= 5 and clear >= 5
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
    # effort and result come out of the same order flow: busier bars have wider ranges
    corr = [np.corrcoef(np.log(sc.volume), np.log1p(sc.high - sc.low))[0, 1] for sc in by_seed]
    assert np.median(corr) > 0.3
