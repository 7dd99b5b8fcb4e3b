"""The phase-C gate (round 20): its shipped trees read the detector's spring/upthrust features, each
spring or upthrust it lets through scored at least ``c_gate_min`` from the bars known then, the rest
are tests of the edge, and both modes agree."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trading.wyckoff import WyckoffParams, detect_points, gate
from trading.wyckoff.scenarios import SCALE, perturb

C_EVENTS = ("spring", "upthrust")


def c_events(events):  # type: ignore[no-untyped-def]
    return [e for e in events if e.event in C_EVENTS]


def test_the_shipped_phase_c_gate_reads_the_detectors_features_and_says_what_it_was_trained_on() -> None:
    trees = gate.load(gate.C_MODEL, gate.C_FEATURES)
    assert trees.features == gate.C_FEATURES and len(trees.nodes) > 0
    assert trees.meta["never_read"] == "family J" and "A, B, C, D, E, F, G, H, I," in trees.meta["trained_on"]
    p = WyckoffParams()
    assert {k: getattr(p, k) for k in trees.meta["use_with"]} == trees.meta["use_with"], \
        "trained on the springs of the detector as it ships"
    with pytest.raises(ValueError, match="other features than the detector gives it: retrain it .*wyckoff_c_gate"):
        gate.load(gate.MODEL, gate.C_FEATURES)  # the range gate's trees read as the phase-C gate's


def test_the_defaults_are_round_24s_and_the_shipped_phase_c_trees_were_folded_at_them() -> None:
    """Round 24 ships the phase-C gate on for the shallow candidates only (docs/wyckoff.md): the floors
    halved, ``c_gate_min`` 0.01, ``c_gate_shallow_min`` 0.5; the shipped trees' folds ran at those thresholds
    and kept the detector-level figures the next round compares with."""
    p = WyckoffParams()
    assert (p.spring_min_penetration, p.spring_min_penetration_atr, p.c_gate_min, p.c_gate_shallow_min) == \
        (0.05, 0.25, 0.01, 0.5)
    meta = gate.load(gate.C_MODEL, gate.C_FEATURES).meta
    assert meta["with"] == ["c_gate_min=0.01"] and meta["varied"] == "c_gate_shallow_min" and 0.5 in meta["tried"]
    assert all("0.5" in fold["detector"] for fold in meta["folds_left_one_family_out"].values())


def test_a_detector_with_the_phase_c_gate_on_refuses_unreadable_trees_before_any_bar(registry, tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """On, the batch mode refuses on bars too few for any spring, and a live detector when it is built;
    off, the trees are never read."""
    from tests.trading.test_wyckoff import FAMILIES
    from trading.wyckoff import WyckoffDetector

    sc = FAMILIES["A"](3)
    inst = registry["EURUSD"]

    def run(params: WyckoffParams, k: int = len(sc)):  # type: ignore[no-untyped-def]
        return detect_points("EURUSD", sc.start_ns[:k], sc.end_ns[:k], sc.open[:k], sc.high[:k], sc.low[:k],
                             sc.close[:k], sc.volume[:k], SCALE, params)

    top = gate.load(gate.C_MODEL, gate.C_FEATURES).highest()
    too_high = dataclasses.replace(WyckoffParams(), c_gate_min=min(top + 0.001, 0.9999))
    for refused in (lambda: run(too_high, 5), lambda: WyckoffDetector(inst, too_high)):
        with pytest.raises(ValueError, match="above the highest score the phase-C gate gives .*would be a test"):
            refused()
    shallow_too_high = dataclasses.replace(WyckoffParams(), c_gate_min=0.2, c_gate_shallow_min=min(top + 0.001, 0.9999))
    for refused in (lambda: run(shallow_too_high, 5), lambda: WyckoffDetector(inst, shallow_too_high)):
        with pytest.raises(ValueError, match="c_gate_shallow_min .* above the highest score the phase-C gate gives "
                                             ".*every shallow spring and upthrust would be a test"):
            refused()
    monkeypatch.setattr(gate, "C_MODEL", tmp_path / "gone.json")
    on = dataclasses.replace(WyckoffParams(), c_gate_min=0.3)
    for refused in (lambda: run(on, 5), lambda: WyckoffDetector(inst, on)):
        with pytest.raises(ValueError, match="phase-C gate's trees cannot be read.*c_gate_min to 0"):
            refused()
    off = dataclasses.replace(WyckoffParams(), c_gate_min=0.0)
    assert c_events(run(off).events), "off: the trees are never read"
    WyckoffDetector(inst, off)


CASES = [("A", 3), ("A", 5), ("D", 3), ("E", 3), ("F", 10), ("H", 7)]


def test_each_spring_or_upthrust_let_through_scored_at_least_c_gate_min_from_the_bars_known_then(registry) -> None:
    """Off, springs and upthrusts carry no score. On, each one reported carries the phase-C
    gate's score (``c_trust``), at least ``c_gate_min``, computed from the bars up to its confirmation
    alone; on these scenarios some that the gate-off detector reported are gone; and the incremental
    mode emits what the batch mode does, event, signal and phase."""
    from tests.trading.test_wyckoff import FAMILIES, batch, incremental, structural

    inst = registry["EURUSD"]
    off_params = dataclasses.replace(WyckoffParams(), c_gate_min=0.0)
    on = dataclasses.replace(WyckoffParams(), c_gate_min=0.4, c_gate_shallow_min=0.0)
    off_n = on_n = 0
    for family, seed in CASES:
        sc = FAMILIES[family](seed)
        off = c_events(batch(inst, sc, off_params).events)
        assert all("c_trust" not in dict(e.numbers) for e in off)
        d = batch(inst, sc, on)
        kept = c_events(d.events)
        off_n, on_n = off_n + len(off), on_n + len(kept)
        for e in kept:
            assert dict(e.numbers)["c_trust"] >= on.c_gate_min
            k = sc.bar_of(e.known_ns) + 1  # the bars up to the one that confirmed it
            part = detect_points("EURUSD", sc.start_ns[:k], sc.end_ns[:k], sc.open[:k], sc.high[:k], sc.low[:k],
                                 sc.close[:k], sc.volume[:k], SCALE, on, inst)
            assert [q for q in c_events(part.events) if q.bar_ts_ns == e.bar_ts_ns] == [e]
        events, signals, phases = incremental(inst, sc, on)
        assert structural(events) == d.events and signals == d.signals and phases == d.phase_names()
    assert on_n < off_n, "the gate turned some into tests of the edge"


def test_the_trainer_samples_each_spring_and_upthrust_the_detector_reports_labelled_by_a_planted_one() -> None:
    """``bench/wyckoff_c_gate.py``'s samples on a few scenarios: with the gate off, one row for each spring
    or upthrust the detector reports, with ``C_FEATURES``' numbers, labelled 1 exactly when one of its name
    is planted within the scorer's tolerance of its extreme; the detector's own features are left as found."""
    from bench.wyckoff_accuracy import detect, generator
    from bench.wyckoff_c_gate import c_samples, sampled
    from bench.wyckoff_gate import CANDIDATES
    from trading.wyckoff.scoring import TOLERANCE

    params = sampled(dataclasses.replace(WyckoffParams(), **CANDIDATES))
    real = gate.c_features
    labels = []
    for family, seeds in (("A", [3, 4, 5, 6]), ("D", [3, 6])):
        rows = c_samples((family, "original", seeds, params))
        assert gate.c_features is real
        want = []
        for seed in seeds:
            sc = generator(family)(seed)
            for e in c_events(detect(sc, params).events):
                bar = sc.bar_of(e.bar_ts_ns)
                want.append(int(any(lab.event == e.event and abs(lab.bar - bar) <= TOLERANCE for lab in sc.labels)))
        assert [r[2] for r in rows] == want and want
        assert all(len(r[3]) == len(gate.C_FEATURES) and r[:2] == (family, "original") for r in rows)
        labels += want
    assert set(labels) == {0, 1}, "planted ones and false ones both"


def test_a_shallow_spring_or_upthrust_needs_c_gate_shallow_min_and_a_deeper_one_c_gate_min(registry) -> None:
    """Round 23: with the floors halved, one shallower than twice them (round 10's floors) is let through
    only at ``c_gate_shallow_min``, a deeper one at ``c_gate_min``; some shallow ones the lower threshold let
    through are tests now, and the incremental mode still emits what the batch mode does."""
    from tests.trading.test_wyckoff import FAMILIES, batch, incremental, structural

    inst = registry["EURUSD"]
    loose = dataclasses.replace(WyckoffParams(), spring_min_penetration=0.05, spring_min_penetration_atr=0.25,
                                c_gate_min=0.2, c_gate_shallow_min=0.0)
    strict = dataclasses.replace(loose, c_gate_shallow_min=0.6)
    shallow_before = shallow_after = deep_low = 0
    # F seed 17 at volatility x2 has a spring shallow by the ATR floor alone (0.397 ATR, 0.122 of the height)
    scenarios = [FAMILIES[family](seed) for family, seed in CASES] + [perturb(FAMILIES["F"](17), "volatility_x2")]
    for sc in scenarios:
        for params in (loose, strict):
            d = batch(inst, sc, params)
            for e in c_events(d.events):
                n = dict(e.numbers)
                shallow = n["penetration_atr"] < 0.5 or n["penetration_height"] < 0.1
                if params is strict:
                    assert n["c_trust"] >= (0.6 if shallow else 0.2)
                    shallow_after += shallow
                    deep_low += not shallow and n["c_trust"] < 0.6
                else:
                    shallow_before += shallow
        events, signals, phases = incremental(inst, sc, strict)
        d = batch(inst, sc, strict)
        assert structural(events) == d.events and signals == d.signals and phases == d.phase_names()
    assert shallow_after < shallow_before, "some shallow ones are tests under the higher threshold"
    assert deep_low > 0, "a deeper one still needs only c_gate_min"


def test_the_trainer_and_the_scorer_refuse_phase_c_thresholds_as_a_settings_file_would_before_any_work(
        tmp_path: Path) -> None:
    """``bench/wyckoff_c_gate.py`` and ``bench/wyckoff_accuracy.py`` refuse, in one line and with exit code 2
    before they collect or score anything, the phase-C thresholds a settings file refuses: one that would do
    nothing, one out of range, one the trees never reach; and the trainer a gate threshold on its samples
    (taken with the gate off) or a --with of the threshold --try sets."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    trainer = ["bench/wyckoff_c_gate.py", "--seeds", "1", "--quick", "--out", str(tmp_path / "trees.json")]
    scorer = ["bench/wyckoff_accuracy.py", "--tuning", "--scenarios", "1", "--variants", "original", "--workers", "1"]
    cases = [(trainer + ["--with", "c_gate_min=0.4", "--vary", "c_gate_shallow_min", "--try", "0.3"],
              "at c_gate_shallow_min 0.3: c_gate_shallow_min: has no effect unless the phase-C gate is on"),
             (trainer + ["--with", "c_gate_min=0.2", "--vary", "c_gate_shallow_min", "--try", "0.999"],
              "c_gate_shallow_min 0.999 is above the highest score the phase-C gate gives"),
             (trainer + ["--set", "c_gate_min=0.2"], "the samples are taken with the phase-C gate off; its thresholds "
                                                    "go in --with"),
             (trainer + ["--vary", "c_gate_min", "--with", "c_gate_min=0.3"], "--try sets c_gate_min"),
             (scorer + ["--set", "c_gate_min=0", "--set", "c_gate_shallow_min=0.4"],
              "--set: c_gate_shallow_min: has no effect unless"),
             (scorer + ["--set", "c_gate_min=1.5"], "--set: c_gate_min: the phase-C gate's least score for a spring "
                                                   "or upthrust, from 0 (off) to below 1 (got 1.5)")]
    for args, said in cases:
        done = subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and said in done.stderr.splitlines()[-1], (args, done.stderr[-500:])
        assert "Traceback" not in done.stderr and not done.stdout, args
    assert not (tmp_path / "trees.json").exists()
