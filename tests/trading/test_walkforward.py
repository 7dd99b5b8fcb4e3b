"""Walk-forward windows: every test window follows its training window, none overlaps another, only
whole windows; grids: every combination once."""

from __future__ import annotations

import pytest

from trading.errors import InvalidValue
from trading.research.walkforward import grid, windows

H = 3_600 * 10**9


def test_rolling_windows_move_by_the_test_length_and_never_test_before_training() -> None:
    ws = windows(0, 100 * H, 30 * H, 10 * H)
    assert [(w.train_from // H, w.train_to // H, w.test_to // H) for w in ws] == [
        (0, 30, 40), (10, 40, 50), (20, 50, 60), (30, 60, 70), (40, 70, 80), (50, 80, 90), (60, 90, 100)]
    for a, b in zip(ws, ws[1:], strict=False):
        assert a.test_from == a.train_to and a.test_to == b.test_from  # tests tile the data, out of sample
        assert b.train_to <= b.test_from


def test_anchored_windows_grow_from_the_start() -> None:
    ws = windows(0, 65 * H, 30 * H, 10 * H, anchored=True)
    assert [(w.train_from // H, w.train_to // H, w.test_to // H) for w in ws] == [(0, 30, 40), (0, 40, 50), (0, 50, 60)]


def test_data_too_short_for_one_window_is_named() -> None:
    with pytest.raises(InvalidValue, match="no whole training and test window fits in the 20 h of data"):
        windows(0, 20 * H, 30 * H, 10 * H)
    with pytest.raises(InvalidValue, match="at least one bar"):
        windows(0, 20 * H, 0, 10 * H)


def test_edges_fall_on_the_bar_grid_and_a_window_is_at_least_one_bar() -> None:
    # data from 00:20, hourly bars, windows of 2.5 h and 1.2 h: whole bars from 01:00
    ws = windows(H // 3, 10 * H, 5 * H // 2, 6 * H // 5, bar_ns=H)
    assert [(w.train_from, w.train_to, w.test_to) for w in ws][:2] == [(H, 3 * H, 4 * H), (2 * H, 4 * H, 5 * H)]
    with pytest.raises(InvalidValue, match=r"at least one bar \(1 h\)"):
        windows(0, 100 * H, H // 2, H, bar_ns=H)
    with pytest.raises(InvalidValue, match="more than 1000 windows over the 83.3333 d of data"):
        windows(0, 2000 * H, H, H, bar_ns=H)


def test_a_grid_is_every_combination_once() -> None:
    assert grid({"fast": [5, 10], "slow": [30, 50, 80]}) == [
        {"fast": 5, "slow": 30}, {"fast": 5, "slow": 50}, {"fast": 5, "slow": 80},
        {"fast": 10, "slow": 30}, {"fast": 10, "slow": 50}, {"fast": 10, "slow": 80}]
    assert grid({}) == [{}]
    with pytest.raises(InvalidValue):
        grid({"fast": []})
