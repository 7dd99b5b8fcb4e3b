"""The range-first prototype of Wyckoff round 29 (bench/wyckoff_rangefirst.py; research, not the desk's
detector): it reads a hand-built selling climax, automatic rally, secondary test, spring and sign of
strength at their bars and no sooner than they can be known, it never looks ahead (each prefix of real bars
gives the events known by its end), and its settings and its bench refuse what they cannot use."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from bench.wyckoff_rangefirst import RangeFirst, atr, read
from tests.conftest import ROOT
from trading.wyckoff.realbars import eurusd_h1_early, goog_d1


def schematic() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fall, a selling climax at bar 40 (low 110), a rally to 140 at bar 47, a secondary test at bar 55
    (low 118), a range between ~121 and ~134, a spring at bar 100 (low 105, closing back inside at bar 101),
    and a break: closes above 140 from bar 120 on."""
    close: list[float] = [200 - 2 * i for i in range(40)]  # bars 0-39: a steady fall to 122
    close += [113]  # bar 40: the climax bar (low 110 below)
    close += [113 + 26 * (j + 1) / 7 for j in range(7)]  # 41-47: the rally to 139
    close += [139 - 20 * (j + 1) / 8 for j in range(8)]  # 48-55: back to 119
    close += [119 + 8.5 * (j + 1) / 3 for j in range(3)]  # 56-58: up to 127.5
    close += [127.5 + 5 * math.sin(j / 3) for j in range(41)]  # 59-99: inside the range
    close += [108, 115]  # 100: the spring bar (closes below), 101: back inside
    close += [127.5 + 5 * math.sin(j / 3) for j in range(18)]  # 102-119
    close += [142 + 4 * j for j in range(16)]  # 120-135: the break
    c = np.array(close)
    high, low = c + 1, c - 1
    low[40], low[100], high[100] = 110.0, 105.0, 123.0
    low[55] = 118.0
    return high, low, c


def upside_down(h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bars mirrored about 150: a rise for a fall, highs for lows (an accumulation becomes a distribution)."""
    return 300 - lo, 300 - h, 300 - c


def test_a_hand_built_accumulation_is_read_at_its_bars_once_each_can_be_known() -> None:
    h, lo, c = schematic()
    assert read(h, lo, c) == [("selling_climax", 40, 58), ("automatic_rally", 47, 58), ("secondary_test", 55, 58),
                              ("spring", 100, 101), ("sign_of_strength", 120, 122)]


def test_the_mirrored_schematic_is_read_as_a_distribution_at_the_same_bars() -> None:
    h, lo, c = upside_down(*schematic())
    events = read(h, lo, c)  # a rise, a buying climax, ..., an upthrust, a break
    assert events == [("buying_climax", 40, 58), ("automatic_reaction", 47, 58), ("secondary_test", 55, 58),
                      ("upthrust", 100, 101), ("sign_of_weakness", 120, 122)]
    assert not read(h, lo, c, RangeFirst(st_zone=0.2))  # the ST zone holds on this side too
    assert not read(h, lo, c, RangeFirst(ar_atr=12))  # so does the AR's distance
    assert not [e for e in read(h, lo, c, RangeFirst(trend_atr=40)) if e[1] == 40]  # and the trend's


@pytest.mark.parametrize("mirrored", [False, True])
def test_the_trend_into_a_stop_must_reach_trend_atr(mirrored: bool) -> None:
    h, lo, c = schematic()
    if mirrored:
        h, lo, c = upside_down(h, lo, c)
    a = atr(h, lo, c, RangeFirst().atr_bars)
    move = (h[10:40].max() - lo[40] if not mirrored else h[40] - lo[10:40].min()) / a[40]  # in ATR at the stop
    assert [e for e in read(h, lo, c, RangeFirst(trend_atr=0.95 * move)) if e[1] == 40]
    assert not [e for e in read(h, lo, c, RangeFirst(trend_atr=1.05 * move)) if e[1] == 40]


def test_an_upthrust_shallower_than_min_depth_is_no_upthrust() -> None:
    h, lo, c = schematic()
    lo[100], c[100] = 109.0, 112.0  # mirrored: 1 above resistance, 0.033 of the height
    h, lo, c = upside_down(h, lo, c)
    assert ("upthrust", 100, 100) in read(h, lo, c, RangeFirst(min_depth=0.0))
    assert not [e for e in read(h, lo, c) if e[0] == "upthrust"]


def test_a_secondary_test_sooner_than_min_bars_is_passed_over() -> None:
    h, lo, c = schematic()
    assert ("secondary_test", 55, 58) in read(h, lo, c, RangeFirst(min_bars=15))  # 15 bars after the climax
    later = read(h, lo, c, RangeFirst(min_bars=16))
    assert ("secondary_test", 55, 58) not in later and later[0][:2] == ("selling_climax", 40)
    assert [e for e in later if e[0] == "secondary_test"][0][1] > 58


def test_a_range_taller_than_height_ratio_of_the_fall_is_not_known() -> None:
    h, lo, c = schematic()  # the fall into the climax is 71 points over 30 bars, the range 30 high: 0.42
    assert read(h, lo, c, RangeFirst(height_ratio=0.45))[:1] == [("selling_climax", 40, 58)]
    assert not [e for e in read(h, lo, c, RangeFirst(height_ratio=0.4)) if e[1] == 40]


def test_a_stop_not_known_as_a_range_within_max_bars_is_dropped() -> None:
    h, lo, c = schematic()  # the ST is confirmed 18 bars after the climax
    assert read(h, lo, c, RangeFirst(max_bars=17))[:1] == [("selling_climax", 40, 58)]
    assert not [e for e in read(h, lo, c, RangeFirst(max_bars=15)) if e[1] == 40]


def test_a_wick_beyond_the_edge_before_the_secondary_test_does_not_drop_the_range() -> None:
    h, lo, c = schematic()
    h[51] = 153.0  # 13 above the rally's top, but the bar closes inside
    assert read(h, lo, c)[:1] == [("selling_climax", 40, 58)]


def test_a_spring_deeper_than_the_depth_is_a_break_not_a_spring() -> None:
    h, lo, c = schematic()
    lo[100] = 95.0  # 15 below support, half the 30-point height: beyond depth 0.35
    events = read(h, lo, c)
    assert ("spring", 100, 101) not in events and ("sign_of_weakness", 100, 100) in events


def test_a_spring_too_early_in_the_range_is_not_reported() -> None:
    h, lo, c = schematic()
    assert ("spring", 100, 101) in read(h, lo, c, RangeFirst(c_after=3.9))  # 60 bars old, 15 at its ST: 4x
    assert not [e for e in read(h, lo, c, RangeFirst(c_after=4.1)) if e[0] == "spring"]


def test_a_deeper_low_before_the_rally_is_known_becomes_the_climax() -> None:
    h, lo, c = schematic()
    lo[43] = 108.0  # below the bar-40 low, before the rally's top is a pivot
    events = read(h, lo, c)
    assert events[:3] == [("selling_climax", 43, 58), ("automatic_rally", 47, 58), ("secondary_test", 55, 58)]


def test_a_test_too_far_from_the_stop_is_no_secondary_test() -> None:
    h, lo, c = schematic()
    assert read(h, lo, c, RangeFirst(st_zone=0.3))[:1] == [("selling_climax", 40, 58)]  # 118 within 110 + 9
    assert not read(h, lo, c, RangeFirst(st_zone=0.2))  # 118 above 110 + 6: no range is ever known


def test_at_most_tests_springs_a_range() -> None:
    h, lo, c = schematic()
    lo[110], c[110] = 106.0, 112.0  # a second spring, closing back inside on its bar
    assert [e for e in read(h, lo, c) if e[0] == "spring"] == [("spring", 100, 101)]
    assert [e for e in read(h, lo, c, RangeFirst(tests=2)) if e[0] == "spring"] == [("spring", 100, 101),
                                                                                   ("spring", 110, 110)]


def test_a_rally_under_ar_atr_opens_no_range() -> None:
    h, lo, c = schematic()
    assert not read(h, lo, c, RangeFirst(ar_atr=12))  # the 30-point rally is some 8 ATR


def test_a_close_beyond_the_edge_before_the_secondary_test_drops_the_range() -> None:
    h, lo, c = schematic()
    h[51], c[51], lo[51] = 153.0, 152.0, 140.0  # after the rally's top is known, a close 12 above it
    assert not [e for e in read(h, lo, c) if e[1] == 40]


def test_a_range_older_than_max_bars_ends() -> None:
    h, lo, c = schematic()
    assert ("spring", 100, 101) in read(h, lo, c, RangeFirst(max_bars=61))
    assert ("spring", 100, 101) not in read(h, lo, c, RangeFirst(max_bars=59))


def test_a_poke_shallower_than_min_depth_is_no_spring() -> None:
    h, lo, c = schematic()
    lo[100], c[100] = 109.0, 112.0  # 1 below support: 0.033 of the 30-point height
    assert ("spring", 100, 100) in read(h, lo, c, RangeFirst(min_depth=0.0))
    assert not [e for e in read(h, lo, c) if e[0] == "spring"]  # min_depth 0.05


def test_closing_back_inside_later_than_back_bars_is_a_sign_of_weakness() -> None:
    h, lo, c = schematic()
    for j in range(100, 108):  # closes below support for 8 bars, then back inside
        lo[j], c[j], h[j] = 105.0, 108.0, 109.0
    events = read(h, lo, c)
    assert not [e for e in events if e[0] == "spring"] and ("sign_of_weakness", 100, 106) in events


def test_no_look_ahead_what_comes_after_a_bar_never_changes_what_was_known_by_it() -> None:
    """Each time an event became known, the bars after it are replaced by a crash and by a spike: the events
    known by then must not change (a pivot or a break decided on later bars would)."""
    bars = eurusd_h1_early()
    h, lo, c = (np.asarray(x, np.float64) for x in (bars.high, bars.low, bars.close))
    full = read(h, lo, c)
    for k in sorted({known for _, _, known in full})[:60]:
        for factor in (0.5, 2.0):
            h2, lo2, c2 = h.copy(), lo.copy(), c.copy()
            for x in (h2, lo2, c2):
                x[k + 1:] = c[k] * factor
            assert [e for e in read(h2, lo2, c2) if e[2] <= k] == [e for e in full if e[2] <= k], (k, factor)


@pytest.mark.parametrize("load", [eurusd_h1_early, goog_d1])
def test_no_look_ahead_each_prefix_gives_the_events_known_by_its_end(load) -> None:  # type: ignore[no-untyped-def]
    bars = load()
    full = read(bars.high, bars.low, bars.close)
    assert len(full) > 20
    assert all(bar <= known for _, bar, known in full)  # a spring bar that closes back inside is known at its close
    assert all(bar + 3 <= known for name, bar, known in full if name in ("selling_climax", "buying_climax"))
    for end in range(150, len(bars.close), 97):
        part = read(bars.high[:end], bars.low[:end], bars.close[:end])
        assert part == [e for e in full if e[2] < end], end


@pytest.mark.parametrize("bad", [dict(pivot=0), dict(depth=1.0), dict(st_zone=0.0), dict(trend_atr=-1.0),
                                 dict(max_bars=5), dict(min_depth=0.4), dict(tests=-1), dict(height_ratio=-0.1)])
def test_settings_it_cannot_use_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RangeFirst(**bad)  # type: ignore[arg-type]


def test_the_bench_refuses_an_unknown_or_bad_setting_in_one_line() -> None:
    for item, says in (("nope=1", "no setting 'nope'"), ("depth=2", "depth in (0, 1)"),
                       ("pivot=x", "'x' is not a whole number"), ("depth=nan", "depth in (0, 1)")):
        r = subprocess.run([sys.executable, "bench/wyckoff_rangefirst.py", "--no-families", "--set", item],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert r.returncode != 0 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    # settings are checked together, whichever order they come in
    for order in (["min_depth=0.5", "depth=0.9"], ["depth=0.9", "min_depth=0.5"]):
        r = subprocess.run([sys.executable, "bench/wyckoff_rangefirst.py", "--no-families",
                            *(x for item in order for x in ("--set", item))], capture_output=True, text=True, cwd=ROOT,
                           timeout=120)
        assert r.returncode == 0 and "written" not in r.stdout.lower(), r.stdout + r.stderr
    r = subprocess.run([sys.executable, "bench/wyckoff_rangefirst.py", "--no-families", "--held-out", "--set", "pivot=4"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode != 0 and "never tuned on" in r.stderr and "held out" not in r.stdout, r.stdout + r.stderr
