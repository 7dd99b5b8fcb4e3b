"""The intra-bar model (bars-only data to quotes) and the FX market's open time between instants."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from trading.intrabar import bar_path, bar_quotes
from trading.market import TickBatch, datetime_to_ts, fx_open_ns

H = 3_600 * 10**9


def i64(*values: int) -> np.ndarray:  # type: ignore[type-arg]
    return np.array(values, np.int64)


def test_a_rising_bar_goes_open_low_high_close_and_a_falling_one_open_high_low_close() -> None:
    ts, bid, ask, vol = bar_quotes(i64(0, H), H, o=i64(100, 200), h=i64(130, 210), low=i64(90, 150), c=i64(120, 160),
                                   volume=np.array([8.0, 4.0]), spread=i64(2, 3))
    assert bid.tolist() == [100, 90, 130, 120, 200, 210, 150, 160]
    assert (ask - bid).tolist() == [2, 2, 2, 2, 3, 3, 3, 3]
    assert ts.tolist() == [0, H // 4, H // 2, 3 * H // 4, H, H + H // 4, H + H // 2, H + 3 * H // 4]
    assert vol.tolist() == [2.0] * 4 + [1.0] * 4
    # a flat bar (close = open) counts as rising
    _, flat, _, _ = bar_quotes(i64(0), H, i64(100), i64(101), i64(99), i64(100), np.array([1.0]), i64(0))
    assert flat.tolist() == [100, 99, 101, 100]


def test_a_bars_open_jumps_and_its_other_quotes_move_along_it_and_the_flags_follow_the_quotes() -> None:
    assert bar_path(2).tolist() == [False, True, True, True, False, True, True, True]
    ts, bid, ask, vol = bar_quotes(i64(0, H), H, i64(100, 200), i64(130, 210), i64(90, 150), i64(120, 160),
                                   np.array([8.0, 4.0]), i64(0, 0))
    quotes = TickBatch(ts, np.zeros(8, np.int16), bid, ask, vol, bar_path(2))
    assert quotes.take(slice(3, 6)).path.tolist() == [True, False, True]  # type: ignore[union-attr]
    ticks = TickBatch(ts[:2], np.zeros(2, np.int16), bid[:2], ask[:2], vol[:2])
    assert ticks.path is None and TickBatch.concat([ticks, ticks]).path is None
    both = TickBatch.concat([ticks, quotes.take(slice(0, 2))])
    assert both.path is not None and both.path.tolist() == [False, False, False, True]  # ticks: each a jump


def test_the_price_side_places_the_spread() -> None:
    args = (i64(0), H, i64(100), i64(100), i64(100), i64(100), np.array([1.0]), i64(3))
    for side, (b, a) in {"bid": (100, 103), "ask": (97, 100), "mid": (98, 101)}.items():
        _, bid, ask, _ = bar_quotes(*args, side=side)  # type: ignore[arg-type]
        assert (bid[0], ask[0]) == (b, a), side


def test_the_fx_market_is_closed_from_friday_to_sunday_17_00_new_york() -> None:
    def t(*a: int) -> int:
        return datetime_to_ts(datetime(*a, tzinfo=UTC))  # type: ignore[misc]

    a = i64(t(2024, 3, 8, 21), t(2024, 3, 6, 0), t(2024, 3, 9, 12), t(2024, 3, 1, 21))
    b = i64(t(2024, 3, 10, 23), t(2024, 3, 6, 5), t(2024, 3, 9, 13), t(2024, 3, 11, 0))
    # Fri 21:00 -> Sun 23:00 UTC: open until 22:00 (17:00 EST) and again from 21:00 (17:00 EDT, the US
    # changed to daylight saving that Sunday); a Wednesday is all open; a Saturday hour is all closed;
    # across two weekends both are taken out
    hours = (fx_open_ns(a, b) / H).tolist()
    assert hours == [3.0, 5.0, 0.0, (b[3] - a[3]) / H - 47 - 48]
