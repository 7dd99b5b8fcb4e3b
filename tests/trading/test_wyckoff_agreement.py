"""Two analysts' marks compared as the detector is scored: a mark agrees only with one of its own name
within the scorer's tolerance, each once, closest first; the pooled figures are sums; the detector is
scored with its gate on and off; every second analyst's mark names a real bar and a known event."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench.wyckoff_agreement import (
    CSU,
    DETECTORS,
    SECOND,
    SETS,
    agreed,
    agreement,
    draw,
    events,
    hits,
    load_marks,
    outside,
    pooled,
    precision_either,
    ranges_overlap,
)
from trading.wyckoff.realbars import MarkedRange, MarkedTruth, marked
from trading.wyckoff.scenarios import Label
from trading.wyckoff.scoring import TOLERANCE


def test_a_mark_agrees_only_with_one_of_its_name_within_the_tolerance_and_only_once() -> None:
    first = [("selling_climax", 100), ("spring", 200), ("sign_of_strength", 300), ("upthrust", 400)]
    second = [("selling_climax", 100 + TOLERANCE), ("selling_climax", 100 - 1),  # one SC of the first: one pair
              ("spring", 200 + TOLERANCE + 1),  # one bar too far
              ("secondary_test", 300),  # the same bar, another name
              ("buying_climax", 500)]
    a = agreement(first, second, TOLERANCE)
    assert a["selling_climax"] == {"first": 1, "second": 2, "both": 1, "precision": 0.5, "recall": 1.0}
    assert a["spring"] == {"first": 1, "second": 1, "both": 0, "precision": 0.0, "recall": 0.0}
    assert a["sign_of_strength"]["both"] == 0 and a["sign_of_strength"]["precision"] is None
    assert a["secondary_test"]["recall"] is None and a["upthrust"]["precision"] is None
    # the four events the targets name, together: SC x2, spring, BC of the second's; SC, spring, upthrust of the first's
    assert a[CSU] == {"first": 3, "second": 4, "both": 1, "precision": 0.25, "recall": round(1 / 3, 4)}
    assert agreement(first, first, TOLERANCE)[CSU]["precision"] == 1.0
    assert agreement(first, second, TOLERANCE, with_precision=False)[CSU]["precision"] is None


def test_the_closest_pair_is_taken_first() -> None:
    """Taken in order, the second's SC at 103 would pair with the first's at 100 and leave its 99 and the
    first's 104 apart (5 bars); closest first, 103 pairs with 104 and 99 with 100."""
    first, second = [("selling_climax", 100), ("selling_climax", 104)], [("selling_climax", 103), ("selling_climax", 99)]
    assert agreement(first, second, TOLERANCE)["selling_climax"]["both"] == 2
    assert hits(first, second) == ({0, 1}, {0, 1})
    assert hits(first, [("selling_climax", 107)]) == ({1}, {0}) and hits(first, [("spring", 104)]) == (set(), set())


def test_a_detection_is_made_by_either_analyst_when_it_matches_one_and_each_mark_takes_one_detection() -> None:
    first = [("selling_climax", 100), ("spring", 200)]
    second = [("selling_climax", 101), ("upthrust", 400)]
    seen = [("selling_climax", 100), ("selling_climax", 102),  # the first's SC takes one, the second's the other
            ("spring", 300), ("upthrust", 403), ("secondary_test", 200)]  # a test is not one of the four
    assert precision_either(first, second, seen) == {"detected": 4, "either": 3, "precision": 0.75}
    assert precision_either(first, second, [])["precision"] is None
    # a detection both analysts made counts once
    assert precision_either(first, second, [("selling_climax", 100)]) == {"detected": 1, "either": 1, "precision": 1.0}


def test_the_marks_both_made_are_the_firsts_that_the_second_matched() -> None:
    first = [("selling_climax", 100), ("spring", 200), ("upthrust", 300), ("secondary_test", 400)]
    second = [("selling_climax", 102), ("upthrust", 310), ("secondary_test", 400)]
    assert agreed(first, second) == [("selling_climax", 100)]


def test_pooled_figures_are_sums_of_the_sets_counts() -> None:
    def one(first: int, second: int, both: int) -> dict[str, dict[str, int]]:
        return {CSU: {"first": first, "second": second, "both": both}}

    keys = ["second_vs_first", *(f"{d}_vs_{w}" for d in DETECTORS for w in ("first", "second", "agreed"))]
    sets = {"a": {k: one(10, 4, 2) for k in keys}, "b": {k: one(2, 8, 2) for k in keys}}
    p = pooled(sets)
    assert p["second_vs_first"] == {"first": 12, "second": 12, "both": 4, "precision": round(4 / 12, 4),
                                    "recall": round(4 / 12, 4)}  # a mean of the sets' ratios would be 0.375 / 0.6
    assert p["gate_off_vs_agreed"]["precision"] is None and p["gate_off_vs_agreed"]["recall"] == round(4 / 12, 4)


def test_the_detectors_are_the_shipped_one_and_the_same_with_its_gate_off() -> None:
    assert DETECTORS["shipped"].gate_min > 0 and DETECTORS["gate_off"].gate_min == 0
    assert dataclasses.replace(DETECTORS["gate_off"], gate_min=DETECTORS["shipped"].gate_min) == DETECTORS["shipped"]


def truth(ranges: list[tuple[int, int, int, str]], labels: list[tuple[str, int]]) -> MarkedTruth:
    return MarkedTruth(None, [Label(n, b, b, b) for n, b in labels],  # type: ignore[arg-type]
                       [MarkedRange(k, "x", a, b, d, c) for k, (a, b, d, c) in enumerate(ranges, 1)])


def test_every_mark_counts_even_outside_a_range_and_a_shared_bar_belongs_to_the_later_range() -> None:
    t = truth([(0, 50, 1, "low"), (50, 90, 1, "high")],
              [("selling_climax", 10), ("buying_climax", 50), ("last_point_of_support", 120)])
    assert events(t) == [("selling_climax", 10), ("buying_climax", 50), ("last_point_of_support", 120)]
    assert events(t, "low") == [("selling_climax", 10)] and events(t, "high") == [("buying_climax", 50)]


def test_ranges_overlap_only_with_the_same_direction() -> None:
    a = truth([(0, 99, 1, "high"), (200, 299, -1, "high")], [])
    b = truth([(50, 149, 1, "low"), (200, 299, 1, "low")], [])
    o = ranges_overlap(a, b)
    assert o["overlapped"] == 1 and o["half_overlapped"] == 0  # 50 of 150 bars: under half; the second is opposite
    assert o["mean_best_iou"] == round((50 / 150) / 2, 4)


def test_marks_in_the_named_unmarked_stretches_are_left_out_by_day() -> None:
    times = ["2017-02-06 23:00:00", "2017-02-07 00:00:00", "2017-02-14 23:00:00", "2017-02-15 00:00:00"]
    marks = [("selling_climax", 0), ("upthrust", 1), ("spring", 2), ("buying_climax", 3)]
    assert outside(marks, times, (("2017-02-07", "2017-02-14"),)) == [("selling_climax", 0), ("buying_climax", 3)]


def test_a_marks_file_with_an_unknown_event_or_bar_is_one_line(tmp_path: Path) -> None:
    ts = next(t for t in SETS if t.key == "googl")
    bars = ts.load()
    doc = json.loads(SECOND["googl"].read_text())
    doc["ranges"][0]["events"][0]["event"] = "sellng_climax"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(SystemExit, match="'sellng_climax' .* is not an event the scorer knows"):
        load_marks(bars, bad)
    doc = json.loads(SECOND["googl"].read_text())
    doc["ranges"][0]["events"][0]["time"] = "2013-03-02 00:00:00"  # a Saturday
    bad.write_text(json.dumps(doc))
    with pytest.raises(SystemExit, match="no bar stamped '2013-03-02 00:00:00'"):
        load_marks(bars, bad)
    bad.write_text("{not json")
    with pytest.raises(SystemExit, match="bad.json: "):
        load_marks(bars, bad)


@pytest.mark.parametrize("key", sorted(SECOND))
def test_the_second_analysts_marks_name_the_bars_of_their_set(key: str) -> None:
    ts = next(t for t in SETS if t.key == key)
    t = marked(ts.load(), SECOND[key])  # every stamp names a bar and every event is known, or it raises
    assert t.ranges and t.labels
    assert all(r.first <= r.last and r.direction in (1, -1) for r in t.ranges)
    assert "blind" in json.loads(SECOND[key].read_text())["marked_by"]


def test_the_chart_of_two_analysts_marks_is_a_png(tmp_path: Path) -> None:
    ts = next(t for t in SETS if t.key == "googl")
    bars = ts.load()
    out = tmp_path / "googl.png"
    draw(out, ts.name, bars, marked(bars, ts.marks), marked(bars, SECOND["googl"]))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
