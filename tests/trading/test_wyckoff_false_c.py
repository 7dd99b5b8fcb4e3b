"""Wyckoff round 31's diagnosis (bench/wyckoff_false_c.py): a false spring or upthrust is sorted by where
it lies against the labels, its cues are read from the bars of its excursion, its true ones are the
strict scorer's, and the AUC orders as the Mann-Whitney statistic does."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from bench.wyckoff_accuracy import detect
from bench.wyckoff_false_c import auc, classify, cues, where
from tests.conftest import ROOT
from trading.wyckoff.params import WyckoffParams
from trading.wyckoff.scenarios import Label, Scenario, generate
from trading.wyckoff.scoring import Score


def scenario(low: list[int], high: list[int], close: list[int], phases: list[int], labels: list[Label],
             structure: tuple[int, int], direction: int) -> Scenario:
    n = len(close)
    ts = np.arange(n, dtype=np.int64) * 60_000_000_000
    return Scenario(0, "accumulation", True, False, ts, ts + 60_000_000_000, np.array(close, dtype=np.int64),
                    np.array(high, dtype=np.int64), np.array(low, dtype=np.int64), np.array(close, dtype=np.int64),
                    np.full(n, 100, dtype=np.int64), labels, np.array(phases, dtype=np.int8), structure, direction)


# bars 0-1 before the structure, 2-13 inside it (A 2-4, B 5-7, C 8-9, D 10-11, E 12-13; its sign of
# weakness at 11: a distribution), 14 after it
FLAT = [100] * 15
SC = scenario(FLAT, FLAT, FLAT, [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 0],
              [Label("upthrust", 9, 8, 9), Label("sign_of_weakness", 11, 10, 11)], (2, 13), -1)


def test_a_false_one_is_sorted_by_where_it_lies_against_the_labels() -> None:
    assert where(SC, "spring", 9, True) == "true"
    assert where(SC, "spring", 1, False) == "before"
    assert where(SC, "upthrust", 14, False) == "after"
    assert where(SC, "spring", 3, False) == "on_break"  # 8 bars from the sign of weakness: its pull-back read as one
    assert where(SC, "upthrust", 3, False) == "inside_A"  # an upthrust is near no sign of strength
    assert where(SC, "upthrust", 6, False) == "inside_B"


def test_cues_read_the_excursion_up_to_its_extreme() -> None:
    # support 100: bars 2-4 go below it (closes 99, 101, 98), bar 4 is the extreme (low 90, high 110, close 98)
    low = [100, 101, 95, 97, 90, 101]
    high = [105, 105, 104, 103, 110, 106]
    close = [102, 103, 99, 101, 98, 104]
    sc = scenario(low, high, close, [0] * 6, [], (0, 5), 1)
    assert cues(sc, True, 4, 100) == (2.0, 3.0, 0.4)  # two closes below, three bars below, closed 8 of 20 up
    assert cues(sc, False, 4, 104) == (0.0, 1.0, 0.6)  # above resistance 104: only bar 4, which closed inside


def test_auc_is_the_share_of_true_false_pairs_ordered_with_ties_half() -> None:
    assert auc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert auc([1.0], [2.0]) == 0.0
    assert auc([2.0, 2.0], [2.0]) == 0.5
    assert auc([1.0, 3.0], [2.0]) == 0.5
    assert auc([], [1.0]) is None


def test_its_true_ones_are_the_strict_scorers() -> None:
    checked = 0
    for seed in range(6):
        rows = classify(("A", "original", seed))
        sc = generate(seed)
        d = detect(sc, WyckoffParams())
        score = Score()
        score.add(sc, d.events, d.phases, d.ranges, d.signals)
        assert sum(c == "true" for _, c, _, _ in rows) == score.true_positive["spring"] + score.true_positive["upthrust"]
        assert len(rows) == score.detected["spring"] + score.detected["upthrust"]
        checked += len(rows)
    assert checked > 0


def test_a_partial_run_writes_nothing() -> None:
    out = subprocess.run([sys.executable, "bench/wyckoff_false_c.py", "--scenarios", "2", "--workers", "1"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "original:" in out.stdout and "volatility_x2:" in out.stdout
    assert "(a partial run: nothing written)" in out.stdout
