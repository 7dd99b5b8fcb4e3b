"""The evidence-bound phase readers of Wyckoff round 30 (bench/wyckoff_phase_ceiling.py): on a hand-built
run of phases, each reader shows each phase from the bar its evidence allows and no other (the fourth
shows A before it knows anything), shows the later of two phases known at once, and the bench refuses
what it cannot score."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bench.wyckoff_phase_ceiling import segments, shown
from tests.conftest import ROOT
from trading.wyckoff.scenarios import Label

# bars 0-1 none, A 2-6 (PS at 2, SC at 3, AR at 5), B 7-11, C 12-16 (the spring at 14), D 17-19, E 20-21, none 22
TRUTH = np.array([0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 5, 5, 0], dtype=np.int8)
LABELS = [Label("preliminary_support", 2, 2, 2), Label("selling_climax", 3, 3, 3),
          Label("automatic_rally", 5, 4, 5), Label("secondary_test", 8, 7, 8), Label("spring", 14, 13, 15),
          Label("sign_of_strength", 18, 17, 19)]


def test_segments_are_the_runs_of_one_phase() -> None:
    assert segments(TRUTH) == [(0, 1, 0), (2, 6, 1), (7, 11, 2), (12, 16, 3), (17, 19, 4), (20, 21, 5), (22, 22, 0)]
    assert segments(np.array([], dtype=np.int8)) == []


def test_hindsight_but_c_shows_every_phase_from_its_first_bar_but_c_from_its_spring() -> None:
    assert shown(TRUTH, LABELS, "hindsight_but_c").tolist() == \
        [0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 0]


def test_one_bar_shows_each_phase_a_bar_after_the_first_reader() -> None:
    assert shown(TRUTH, LABELS, "one_bar").tolist() == \
        [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5]


def test_one_bar_ar_waits_for_the_automatic_rally_before_phase_a() -> None:
    assert shown(TRUTH, LABELS, "one_bar_ar").tolist() == \
        [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5]


def test_the_a_first_reader_is_the_third_showing_a_wherever_it_knows_nothing_yet() -> None:
    third = shown(TRUTH, LABELS, "one_bar_ar")
    assert shown(TRUTH, LABELS, "one_bar_ar_a_first").tolist() == [1] * 6 + third[6:].tolist()
    assert shown(np.zeros(4, dtype=np.int8), [], "one_bar_ar_a_first").tolist() == [1, 1, 1, 1]  # nothing ever known


def test_a_phase_c_with_no_labelled_event_is_never_shown_and_no_older_phase_comes_back() -> None:
    no_spring = [lab for lab in LABELS if lab.event != "spring"]
    assert shown(TRUTH, no_spring, "hindsight_but_c")[12:17].tolist() == [2, 2, 2, 2, 2]  # B until D begins
    # an A whose AR is labelled after B has begun (a label outside its segment): A from its first bar, not later
    late_ar = [Label("automatic_rally", 9, 9, 9) if lab.event == "automatic_rally" else lab for lab in LABELS]
    assert shown(TRUTH, late_ar, "one_bar_ar")[3:9].tolist() == [1, 1, 1, 1, 1, 2]
    # C's event after C has ended (at 14, where D now begins): C and D known at the same bar, D shown
    truth = TRUTH.copy()
    truth[14:17] = 4
    assert shown(truth, LABELS, "hindsight_but_c")[12:17].tolist() == [2, 2, 4, 4, 4]
    assert shown(truth, LABELS, "one_bar")[12:18].tolist() == [2, 2, 2, 4, 4, 4]


def test_an_unknown_reader_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reader 'oracle'"):
        shown(TRUTH, LABELS, "oracle")


def test_the_bench_refuses_a_scenario_count_that_is_not_positive() -> None:
    out = subprocess.run([sys.executable, "bench/wyckoff_phase_ceiling.py", "--scenarios", "0"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--scenarios" in out.stderr
