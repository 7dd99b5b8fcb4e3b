"""What every blind scenario family (E, F, G) plants, checked on its bars: the label, phase and
validation definitions of family E's docstring (``trading/wyckoff/scenarios_e.py``), shared by the
families' tests (family D's use its constants, ``label`` and ``edges`` too)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from trading.wyckoff.machine import PHASES
from trading.wyckoff.scenarios import PERTURBATIONS, Scenario, perturb, undone

MINUTE_NS = 60 * 1_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
WEEK_NS = 7 * DAY_NS
CLIMAXES = {"selling_climax", "buying_climax"}
BREAKS = {"sign_of_strength", "sign_of_weakness"}
SHAKEOUTS = {"spring", "upthrust"}
BACKUPS = {"last_point_of_support", "last_point_of_supply"}
EVENTS = {
    "preliminary_support", "preliminary_supply", "selling_climax", "buying_climax", "automatic_rally",
    "automatic_reaction", "secondary_test", "spring", "upthrust", "sign_of_strength", "sign_of_weakness",
    "last_point_of_support", "last_point_of_supply",
}
EXPECTED = {"accumulation": 1, "distribution": -1, "reaccumulation": 1, "redistribution": -1}
LOW_SIDE = {"selling_climax", "spring", "last_point_of_support", "preliminary_support", "automatic_reaction"}


def label(sc: Scenario, events: set[str]) -> tuple[str, int, int, int] | None:
    for lb in sc.labels:
        if lb.event in events:
            return lb.event, lb.bar, lb.start, lb.end
    return None


def edges(sc: Scenario) -> tuple[int, int, int, int]:
    """Climax bar, end of phase B, and the range's lowest low and highest high between them."""
    climax = label(sc, CLIMAXES)
    assert climax is not None
    end_b = int(np.flatnonzero(sc.phases == PHASES.index("B"))[-1])
    bar = climax[1]
    return bar, end_b, int(sc.low[bar: end_b + 1].min()), int(sc.high[bar: end_b + 1].max())


def labels(everything: list[Scenario]) -> None:
    for sc in everything:
        assert sc.labels == sorted(sc.labels, key=lambda lb: lb.bar)
        events = [lb.event for lb in sc.labels]
        assert set(events) <= EVENTS and len(events) == len(set(events))
        for lb in sc.labels:
            assert lb.start < lb.end < len(sc) and lb.start <= lb.bar <= lb.end  # legs of two bars or more
        up = sc.direction > 0
        assert sc.direction in (1, -1) and sc.failed == (sc.direction != EXPECTED[sc.kind])
        fall_in = sc.kind in ("accumulation", "redistribution")
        expected = ["selling_climax" if fall_in else "buying_climax",
                    "automatic_rally" if fall_in else "automatic_reaction", "secondary_test"]
        if sc.spring:
            expected.append("spring" if EXPECTED[sc.kind] > 0 else "upthrust")
        expected += ["sign_of_strength" if up else "sign_of_weakness",
                     "last_point_of_support" if up else "last_point_of_supply"]
        ps = [e for e in events if e.startswith("preliminary")]
        assert ps in ([], ["preliminary_support" if fall_in else "preliminary_supply"])
        assert events == ps + expected, (sc.seed, events)  # every implied event, in order, nothing else
        assert sc.spring == ("spring" in events or "upthrust" in events)
        assert not sc.failed or sc.spring  # a failure follows a spring/upthrust
        by = {lb.event: lb for lb in sc.labels}
        assert by[expected[1]].start == by[expected[0]].end + 1  # climax, AR and ST legs touch
        assert by[expected[2]].start == by[expected[1]].end + 1
        if ps:
            assert by[ps[0]].end < by[expected[0]].start
        for lb in sc.labels:  # each label's bar is its leg's extreme on the event's side
            if lb.event in BREAKS:
                continue
            low_side = lb.event in LOW_SIDE or (lb.event == "secondary_test" and fall_in)
            seg = sc.low[lb.start: lb.end + 1] if low_side else -sc.high[lb.start: lb.end + 1]
            assert lb.start + int(np.argmin(seg)) == lb.bar, (sc.seed, lb)


def climax_is_strict_range_extreme(everything: list[Scenario]) -> None:
    for sc in everything:
        bar, end_b, lo, hi = edges(sc)
        climax = label(sc, CLIMAXES)
        assert climax is not None
        if climax[0] == "selling_climax":
            assert sc.low[bar] == lo and (sc.low[bar + 1: end_b + 1] > lo).all()
        else:
            assert sc.high[bar] == hi and (sc.high[bar + 1: end_b + 1] < hi).all()
        ps = label(sc, {"preliminary_support", "preliminary_supply"})
        if ps is not None:  # the PS is not beyond the climax
            assert sc.low[ps[1]] > lo if ps[0] == "preliminary_support" else sc.high[ps[1]] < hi


def spring_and_break(everything: list[Scenario], shakeout_bars: int, range_bars: tuple[int, int]) -> None:
    for sc in everything:
        climax_bar, end_b, lo, hi = edges(sc)
        height = hi - lo
        shake = label(sc, SHAKEOUTS)
        if shake is not None:
            event, bar, _, _ = shake
            after = sc.close[bar: bar + shakeout_bars + 1]
            if event == "spring":
                assert lo - 0.5 * height <= sc.low[bar] < lo and (after > lo).any()
            else:
                assert hi < sc.high[bar] <= hi + 0.5 * height and (after < hi).any()
            assert sc.phases[bar] == PHASES.index("C")
        brk = label(sc, BREAKS)
        assert brk is not None
        event, bar, start, end = brk
        closes = sc.close[start: end + 1]
        beyond = closes > hi if event == "sign_of_strength" else closes < lo
        assert beyond.any() and start + int(np.argmax(beyond)) == bar  # the first close beyond the edge
        assert range_bars[0] <= bar - climax_bar <= range_bars[1]
        backup = label(sc, BACKUPS)
        assert backup is not None
        mid = (lo + hi) / 2  # the back-up stays on the break side of the range's middle
        assert (sc.low[backup[1]] > mid) if event == "sign_of_strength" else (sc.high[backup[1]] < mid)


def phase_c_has_no_unlabelled_spring(everything: list[Scenario], shakeout_bars: int, slow_bars: int) -> None:
    """Beyond the spring-side edge in phase C: either the labelled spring/upthrust (and nothing
    beyond it after its ten bars), or an unconfirmed shakeout whose closes stay beyond for at least
    ``slow_bars`` bars from its extreme; nothing in phase C goes beyond the other edge."""
    slow = 0
    for sc in everything:
        _, _, lo, hi = edges(sc)
        c = np.flatnonzero(sc.phases == PHASES.index("C"))
        assert len(c) and (np.diff(c) == 1).all()
        a, b = int(c[0]), int(c[-1]) + 1
        down = EXPECTED[sc.kind] > 0  # the spring side is support
        depth = lo - sc.low[a:b] if down else sc.high[a:b] - hi
        far = sc.high[a:b] - hi if down else lo - sc.low[a:b]
        assert (far <= 0).all()
        if not (depth > 0).any():
            assert not sc.spring
            continue
        ext = a + int(np.argmax(depth))
        shake = label(sc, SHAKEOUTS)
        if sc.spring:
            window = sc.close[ext: ext + shakeout_bars + 1]
            inside = window > lo if down else window < hi
            assert shake is not None and shake[1] == ext and inside.any()
            assert not (depth[ext - a + shakeout_bars + 1:] > 0).any()
        else:
            window = sc.close[ext: ext + slow_bars + 1]
            inside = window > lo if down else window < hi
            assert shake is None and not inside.any()
            back = sc.close[ext:b] > lo if down else sc.close[ext:b] < hi
            assert back.any()  # back inside before the break, and it stays inside
            first_in = ext + int(np.argmax(back))
            assert not (depth[first_in - a + 1:] > 0).any()
            slow += 1
    assert slow > 0  # the distractor occurs


def phases(everything: list[Scenario]) -> None:
    for sc in everything:
        a, b = sc.structure
        assert sc.phases.dtype == np.int8 and len(sc.phases) == len(sc)
        assert 0 < a < b < len(sc) - 1
        assert (sc.phases[:a] == 0).all() and (sc.phases[b + 1:] == 0).all()
        inside = sc.phases[a: b + 1]
        assert (inside >= 1).all() and (np.diff(inside) >= 0).all()
        assert set(inside.tolist()) == {1, 2, 3, 4, 5}
        assert sc.labels[0].start == a
        by = {lb.event: lb for lb in sc.labels}
        st = by["secondary_test"]
        assert sc.phases[st.end] == PHASES.index("A") and sc.phases[st.end + 1] == PHASES.index("B")
        brk = label(sc, BREAKS)
        assert brk is not None
        assert sc.phases[brk[2]] == PHASES.index("D") and sc.phases[brk[2] - 1] == PHASES.index("C")
        backup = by.get("last_point_of_support") or by["last_point_of_supply"]
        assert sc.phases[backup.end] == PHASES.index("D") and sc.phases[backup.end + 1] == PHASES.index("E")
        climax = label(sc, CLIMAXES)
        assert climax is not None and sc.phases[climax[1]] == PHASES.index("A")


def undone_and_perturb(everything: list[Scenario]) -> None:
    """Nothing planted is undone on the unperturbed bars, and every perturbation keeps the labels
    and valid bars (whether it undoes the plant is a reason, or "")."""
    for sc in everything:
        assert undone(sc) == "", (sc.seed, undone(sc))
    for sc in everything[:12]:
        for variant in PERTURBATIONS:
            p = perturb(sc, variant)
            assert len(p.labels) == len(sc.labels) and (p.high >= p.low).all()
            assert isinstance(undone(p), str)


def honours_its_api(family: ModuleType, by_seed: list[Scenario], by_kind: list[Scenario], seeds: int = 6) -> None:
    """``generate(seed)`` gives the same scenario twice, ``generate(seed, kind)`` the kind asked for (``by_kind``:
    8 seeds of each of ``family.KINDS`` in turn), an unknown kind is refused, and ``scenarios(count, first)``
    runs over consecutive seeds (families E-J)."""
    regenerates_the_same(family.generate, by_seed, seeds)
    for i, kind in enumerate(family.KINDS):
        assert {sc.kind for sc in by_kind[8 * i: 8 * i + 8]} == {kind}
    assert family.generate(5, "distribution").kind == "distribution"
    with pytest.raises(ValueError):
        family.generate(0, "sideways")
    assert [sc.seed for sc in family.scenarios(3, 7)] == [7, 8, 9]


def regenerates_the_same(generate: Callable[[int], Scenario], by_seed: list[Scenario], seeds: int = 6) -> None:
    """``generate(seed)`` gives, field for field, what the fixture holds for its first ``seeds``
    seeds, and two seeds give different bars."""
    for seed in range(seeds):
        a, b = generate(seed), by_seed[seed]
        assert a.kind == b.kind and a.labels == b.labels and a.structure == b.structure and a.bar_ns == b.bar_ns
        assert (a.spring, a.failed, a.direction) == (b.spring, b.failed, b.direction)
        for f in ("start_ns", "end_ns", "open", "high", "low", "close", "volume", "phases"):
            assert np.array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(by_seed[0].close[:50], by_seed[1].close[:50])


def gives_up_after_bounded_redraws(family: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """A family whose every draw is rejected stops after ``MAX_TRIES`` draws with an error."""
    calls = []

    def never(*args: object) -> None:
        calls.append(1)
        raise family._Reject("always")

    monkeypatch.setattr(family, "_draw", never)
    with pytest.raises(RuntimeError):
        family.generate(3)
    assert len(calls) == family.MAX_TRIES


def shakeout_brief_and_alone(everything: list[Scenario], shakeout_bars: int, min_springs: int) -> None:
    """A spring/upthrust is brief: at most ``shakeout_bars`` closes in a row beyond its edge before its extreme.
    After phase C nothing trades beyond the shakeout-side edge (so never beyond the labelled spring/upthrust):
    from the SOS/SOW leg's first bar to the SOS/SOW bar, and after a break away from that side through the end
    of phase E (families I and J)."""
    springs = 0
    for sc in everything:
        _, _, lo, hi = edges(sc)
        down = EXPECTED[sc.kind] > 0  # the shakeout's side is support
        beyond = sc.close < lo if down else sc.close > hi
        shake = label(sc, SHAKEOUTS)
        if shake is not None:
            springs += 1
            run = 0
            while shake[1] - 1 - run >= 0 and beyond[shake[1] - 1 - run]:
                run += 1
            assert run <= shakeout_bars, (sc.seed, run)
        brk = label(sc, BREAKS)
        assert brk is not None
        stop = brk[1] if sc.failed else sc.structure[1] + 1
        after = sc.low[brk[2]:stop] < lo if down else sc.high[brk[2]:stop] > hi
        assert not after.any(), (sc.seed, brk[2] + int(np.argmax(after)))
    assert springs >= min_springs


def climax_effort(scs: list[Scenario]) -> np.ndarray:
    """Volume per unit of range within two bars of the climax over the same in the 60 bars before phase A
    (families I and J's absorption checks)."""
    ratios = []
    for sc in scs:
        climax = label(sc, CLIMAXES)
        assert climax is not None
        a = sc.structure[0]

        def effort(idx: np.ndarray, sc: Scenario = sc) -> float:
            return float(sc.volume[idx].sum() / np.maximum(sc.high[idx] - sc.low[idx], 1).sum())

        ratios.append(effort(np.arange(climax[1] - 2, climax[1] + 3)) / effort(np.arange(max(0, a - 60), a)))
    return np.array(ratios)
