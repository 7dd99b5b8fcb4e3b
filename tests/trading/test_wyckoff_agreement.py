"""Two analysts' marks compared as the detector is scored: a mark agrees only with one of its own name
within the scorer's tolerance, each once; and every second analyst's mark names a real bar."""

from __future__ import annotations

import pytest

from bench.wyckoff_agreement import SECOND, SETS, agreement, draw, precision_either
from trading.wyckoff.realbars import MissingData, marked
from trading.wyckoff.scoring import TOLERANCE


def test_a_mark_agrees_only_with_one_of_its_name_within_the_tolerance_and_only_once() -> None:
    first = [("selling_climax", 100), ("spring", 200), ("sign_of_strength", 300), ("upthrust", 400)]
    second = [("selling_climax", 100 + TOLERANCE),  # agrees: at the tolerance's edge
              ("selling_climax", 100 - 1),  # the closer one takes the first's SC: this pair, not the one above
              ("spring", 200 + TOLERANCE + 1),  # one bar too far
              ("secondary_test", 300),  # the same bar, another name
              ("buying_climax", 500)]
    a = agreement(first, second, TOLERANCE)
    assert a["selling_climax"] == {"first": 1, "second": 2, "both": 1, "precision": 0.5, "recall": 1.0}
    assert a["spring"] == {"first": 1, "second": 1, "both": 0, "precision": 0.0, "recall": 0.0}
    assert a["sign_of_strength"]["both"] == 0 and a["sign_of_strength"]["precision"] is None
    assert a["secondary_test"]["recall"] is None and a["upthrust"]["precision"] is None
    # the four events the targets name, together: SC x2, spring, BC of the second's; SC, spring, upthrust of the first's
    assert a["climaxes_springs_upthrusts"] == {"first": 3, "second": 4, "both": 1, "precision": 0.25,
                                               "recall": round(1 / 3, 4)}
    assert agreement(first, first, TOLERANCE)["climaxes_springs_upthrusts"]["precision"] == 1.0


def test_a_detection_is_made_by_either_analyst_when_it_matches_one_and_each_mark_takes_one_detection() -> None:
    first = [("selling_climax", 100), ("spring", 200)]
    second = [("selling_climax", 101), ("upthrust", 400)]
    seen = [("selling_climax", 100), ("selling_climax", 102),  # the first's SC takes one, the second's the other
            ("spring", 300), ("upthrust", 403), ("secondary_test", 200)]  # a test is not one of the four
    assert precision_either(first, second, seen) == {"detected": 4, "either": 3, "precision": 0.75}
    assert precision_either(first, second, [])["precision"] is None


@pytest.mark.parametrize("key", sorted(SECOND))
def test_the_second_analysts_marks_name_the_bars_of_their_set(key: str) -> None:
    ts = next(t for t in SETS if t.key == key)
    try:
        bars = ts.load()
    except MissingData as e:  # pragma: no cover - the dev dependencies are installed by make
        pytest.fail(str(e))
    truth = marked(bars, SECOND[key])  # every stamp names a bar, or it raises
    assert truth.ranges and truth.labels
    assert all(r.first <= r.last and r.direction in (1, -1) for r in truth.ranges)


def test_the_chart_of_two_analysts_marks_is_a_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ts = next(t for t in SETS if t.key == "googl")
    bars = ts.load()
    out = tmp_path / "googl.png"
    draw(out, ts.name, bars, marked(bars, ts.marks), marked(bars, SECOND["googl"]))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
