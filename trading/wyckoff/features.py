"""Per-bar features, computed two ways that give the same numbers to the last bit.

Prices are integer points and volumes integer units, so every rolling sum, minimum and
maximum is exact in both modes: the batch mode takes them from cumulative sums and polars'
rolling windows over whole columns; the incremental mode keeps running sums and short
windows. A float appears only as one division of two integers (ATR, baseline), which IEEE
arithmetic rounds the same way in numpy and in Python.

Feature definitions at bar i (every baseline is over bars *before* i):
- ``atr``: mean true range of bars i-n..i-1 (n = ``atr_period``); ``vbase``: mean volume of
  bars i-m..i-1 (m = ``volume_period``).
- ``hi_close``/``lo_close``: highest/lowest close of bars i-L..i-1 (L = ``trend_lookback``; the
  bars there are, at the start); ``high_prev``/``low_prev``: highest high/lowest low of the same
  bars.
- swing high of order k, known at bar i: bar j = i-k has a high strictly above the k bars on
  each side; swing low the mirror. ``sw_hi``/``sw_lo`` are the minor (first) order's.
- ``regime``: +1/-1 when the efficiency ratio |c_i - c_{i-N}| / sum|dc| over N =
  ``regime_period`` bars is at least ``er_trend`` (up/down), else 0 (range).
- ``htf``: the same regime over the closes of completed higher-timeframe bars
  (``htf_factor`` base bars each, by time bucket; a bucket is complete once a bar of a later
  bucket arrives).
- volume-spread analysis: ``no_demand`` is an up bar (close above the previous close) with a
  narrow range (< ``vsa_narrow`` ATR) on volume below each of the two previous bars';
  ``no_supply`` the down-bar mirror; ``effort_no_result`` is volume >= ``effort_volume``
  baselines on a narrow range (absorption).
- ``burst``: for some k in 2..``burst_bars``, the k bars up to i carry a mean volume of at least
  ``burst_volume`` times the mean of the ``volume_period`` bars before the last ``burst_bars``
  (whatever k), and span (highest
  high to lowest low) at least ``burst_span`` * sqrt(k) ATR: a climax whose volume and range are
  spread over a few bars (or a coarser bar size's share of one), not piled on one bar; none of
  the ``burst_bars`` - 1 bars before i is a one-bar climax (the bars after one belong to it).
- ``effort_top``: the largest effort (volume x range) of bars i-``climax_bars``+1..i beats the
  effort of at least ``climax_rank`` of the ``rank_bars`` bars i-``rank_bars``..i-1 (ties do not
  count; false until ``rank_bars`` bars came before, or with ``climax_rank`` 0): heavy against the
  instrument's own recent bars, whatever the multiples of its baselines.
- ``fall_top``: the fall ``hi_close`` - close is positive and exceeds the fall of at least
  ``fall_rank`` of the ``fall_bars`` bars i-``fall_bars``..i-1 (each measured at its own bar; false
  until ``fall_bars`` bars came before, or with ``fall_rank`` 0); ``rise_top`` the mirror (close -
  ``lo_close``). Bar 0, with no close before it, has a fall and a rise of 0. Integers, so exact in
  both modes.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from trading.wyckoff.params import WyckoffParams

IntArray = npt.NDArray[np.int64]

# Names of the columns that the machine and the predicates read, in both modes.
FEATURES = (
    "i", "t", "o", "h", "l", "c", "v", "rng", "prev_c", "atr", "vbase", "warm",
    "hi_close", "lo_close", "high_prev", "low_prev", "v_peak", "vsum_lag",
    "sw_hi", "sw_hi_px", "sw_hi_v", "sw_hi_t", "sw_lo", "sw_lo_px", "sw_lo_v", "sw_lo_t",
    "regime", "htf", "no_demand", "no_supply", "effort_no_result", "burst", "effort_top",
    "fall_top", "rise_top", "sc", "bc", "ps", "psy",
)


_FLOATS = ("atr", "vbase")
_FLOAT_AT = FEATURES.index("atr")
_BLOCK_BITS = 14
assert FEATURES.index("vbase") == _FLOAT_AT + 1


def _rolling(values: npt.NDArray[Any], window: int, how: str, partial: bool = False) -> npt.NDArray[Any]:
    """max/min of values[i-window+1..i] (exact on integers; floats stay floats, anything else comes
    back as int64); the first window-1 are 0, or with ``partial`` the max/min of the values so far."""
    import polars as pl  # the batch mode only: a live detector's process does not load polars

    s = pl.Series(values)
    least = 1 if partial else window
    out = s.rolling_max(window, min_samples=least) if how == "max" else s.rolling_min(window, min_samples=least)
    return out.fill_null(0).to_numpy().astype(np.float64 if values.dtype.kind == "f" else np.int64)


def _window_sum_before(values: IntArray, window: int) -> IntArray:
    """sum of values[i-window..i-1], exact; 0 where fewer than ``window`` bars came before."""
    cs = np.concatenate([[0], np.cumsum(values)])
    out = np.zeros(len(values), np.int64)
    if len(values) > window:
        out[window:] = cs[window:-1] - cs[: len(values) - window]
    return out


def _shift(values: IntArray, k: int, fill: int = 0) -> IntArray:
    out = np.full(len(values), fill, values.dtype)
    if k < len(values):
        out[k:] = values[: len(values) - k]
    return out


def regime_of(net: Any, path: Any, p: WyckoffParams, ok: Any) -> Any:
    """+1 up trend, -1 down trend, 0 range, from a net move and the path travelled (integers)."""
    up = ok & (net > 0) & (net >= p.er_trend * path)
    down = ok & (net < 0) & (-net >= p.er_trend * path)
    if isinstance(up, np.ndarray):
        return np.where(up, 1, np.where(down, -1, 0)).astype(np.int8)
    return 1 if up else (-1 if down else 0)


def swings(h: IntArray, low: IntArray, k: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Swing highs/lows of order k flagged at the bar that confirms them (k bars later)."""
    n = len(h)
    left_max = _shift(_rolling(h, k, "max"), 1)  # max of h[j-k..j-1] at j
    left_min = _shift(_rolling(low, k, "min"), 1)
    right_max = _rolling(h, k, "max")  # max of h[i-k+1..i] at i = j+k
    right_min = _rolling(low, k, "min")
    hi = np.zeros(n, bool)
    lo = np.zeros(n, bool)
    if n > 2 * k:
        j = np.arange(k, n - k)
        hi[j + k] = (h[j] > left_max[j]) & (h[j] > right_max[j + k])
        lo[j + k] = (low[j] < left_min[j]) & (low[j] < right_min[j + k])
    return hi, lo


@dataclass
class Columns:
    """Whole feature columns of one instrument's bars (the batch mode)."""

    cols: dict[str, np.ndarray]

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            column: np.ndarray = self.__dict__["cols"][name]
            return column
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(self.cols["c"])

    def at(self, i: int) -> Row:
        """Bar i's features as Python scalars, the same values the incremental mode makes (flags
        come as 0/1). Rows are read from blocks of stacked columns: one conversion per row."""
        block = i >> _BLOCK_BITS
        cache = self.__dict__.get("_block")
        if cache is None or cache[0] != block:
            a = block << _BLOCK_BITS
            b = min(a + (1 << _BLOCK_BITS), len(self))
            ints = np.column_stack([self.cols[k][a:b].astype(np.int64) for k in FEATURES if k not in _FLOATS])
            floats = np.column_stack([self.cols[k][a:b] for k in _FLOATS])
            cache = self.__dict__["_block"] = (block, a, ints, floats)
        _, a, ints, floats = cache
        values = ints[i - a].tolist()
        values[_FLOAT_AT:_FLOAT_AT] = floats[i - a].tolist()
        return Row(*values)


@dataclass(frozen=True, slots=True)
class Slice:
    """Rows a..b-1 of some columns, sliced lazily: the predicates read a few columns only."""

    cols: Columns
    a: int
    b: int

    def __getattr__(self, name: str) -> np.ndarray:
        return self.cols.cols[name][self.a:self.b]


@dataclass(slots=True)
class Row:
    """One bar's features as Python scalars (the incremental mode, and batch wake-ups)."""

    i: int
    t: int
    o: int
    h: int
    l: int  # noqa: E741
    c: int
    v: int
    rng: int
    prev_c: int
    atr: float
    vbase: float
    warm: bool
    hi_close: int
    lo_close: int
    high_prev: int
    low_prev: int
    v_peak: int
    vsum_lag: int
    sw_hi: bool
    sw_hi_px: int
    sw_hi_v: int
    sw_hi_t: int
    sw_lo: bool
    sw_lo_px: int
    sw_lo_v: int
    sw_lo_t: int
    regime: int
    htf: int
    no_demand: bool
    no_supply: bool
    effort_no_result: bool
    burst: bool
    effort_top: bool
    fall_top: bool
    rise_top: bool
    sc: bool = False
    bc: bool = False
    ps: bool = False
    psy: bool = False


def vsa(rng: Any, c: Any, prev_c: Any, v: Any, v1: Any, v2: Any, atr: Any, vbase: Any,
        p: WyckoffParams, warm: Any) -> tuple[Any, Any, Any]:
    narrow = warm & (rng < p.vsa_narrow * atr)
    quiet = (v < v1) & (v < v2)
    return (narrow & (c > prev_c) & quiet, narrow & (c < prev_c) & quiet,
            narrow & (v >= p.effort_volume * vbase))


def one_bar_climax(x: Any, p: WyckoffParams) -> Any:
    """A wide bar (range >= ``climax_range`` ATR) at the end of a burst of volume (the heaviest of
    it and the ``climax_bars`` - 1 bars before >= ``climax_volume`` times the baseline before them)."""
    wide = x.rng >= p.climax_range * x.atr
    # the volume of a climax is a burst around its extreme, not always on the extreme bar itself
    heavy = (x.vsum_lag > 0) & (x.v_peak >= p.climax_volume * (x.vsum_lag / p.volume_period))
    return wide & heavy


def stopping_action(x: Any, p: WyckoffParams) -> tuple[Any, Any, Any, Any]:
    """Selling/buying climax and preliminary support/supply candidates (state-free).

    - selling climax: a wide bar (range >= ``climax_range`` ATR) at the end of a burst of volume
      (the heaviest of it and the ``climax_bars`` - 1 bars before >= ``climax_volume`` times the
      baseline before them), or the last bar of a ``burst`` (volume and range over a few bars),
      or an ``effort_top`` bar (its effort ranked against the ``rank_bars`` bars before),
      with a low under every low of the lookback, after a fall of at least ``trend_min_atr`` ATR
      from the lookback's highest close, or a ``fall_top`` (a fall steep against the ``fall_bars``
      bars before). Buying climax: the mirror.
    - preliminary support: the same fall and new low on a wide bar (>= ``ps_range`` ATR) with
      heavy volume (>= ``ps_volume`` baselines), short of a climax: the first heavy buying
      into the fall. Preliminary supply: the mirror.
    """
    moving = x.warm & (x.atr > 0)  # flat bars before (a halted market) measure nothing
    fell = moving & ((x.hi_close - x.c >= p.trend_min_atr * x.atr) | x.fall_top) & (x.l < x.low_prev)
    rose = moving & ((x.c - x.lo_close >= p.trend_min_atr * x.atr) | x.rise_top) & (x.h > x.high_prev)
    climax = one_bar_climax(x, p) | x.burst | x.effort_top
    sc = fell & climax
    bc = rose & climax & (sc == False)  # noqa: E712 (works on arrays and scalars alike)
    busy = (x.rng >= p.ps_range * x.atr) & (x.v >= p.ps_volume * x.vbase) & (climax == False)  # noqa: E712
    ps = fell & busy
    psy = rose & busy & (ps == False)  # noqa: E712
    return sc, bc, ps, psy


def compute(t: IntArray, o: IntArray, h: IntArray, low: IntArray, c: IntArray, v: IntArray,
            start: IntArray, bar_ns: int, p: WyckoffParams) -> Columns:
    """Every feature column at once (vectorised)."""
    n = len(c)
    idx = np.arange(n, dtype=np.int64)
    prev_c = _shift(c, 1)
    prev_c[:1] = c[:1]
    tr = np.where(idx == 0, h - low, np.maximum(h, prev_c) - np.minimum(low, prev_c))
    atr = _window_sum_before(tr, p.atr_period) / p.atr_period
    vbase = _window_sum_before(v, p.volume_period) / p.volume_period
    L = p.trend_lookback
    cols: dict[str, np.ndarray] = {
        "i": idx, "t": t, "o": o, "h": h, "l": low, "c": c, "v": v, "rng": h - low, "prev_c": prev_c,
        "atr": atr, "vbase": vbase, "warm": idx >= p.warmup,
        # the trend lookback: the bars so far while fewer than L came before
        "hi_close": _shift(_rolling(c, L, "max", partial=True), 1),
        "lo_close": _shift(_rolling(c, L, "min", partial=True), 1),
        "high_prev": _shift(_rolling(h, L, "max", partial=True), 1),
        "low_prev": _shift(_rolling(low, L, "min", partial=True), 1),
        "v_peak": _rolling(v, p.climax_bars, "max", partial=True),
        "vsum_lag": _shift(_window_sum_before(v, p.volume_period), p.climax_bars - 1),
    }
    for order in p.swing_orders:
        hi, lo = swings(h, low, order)
        cols[f"swing_high_{order}"], cols[f"swing_low_{order}"] = hi, lo
    k = p.swing_orders[0]
    cols["sw_hi"], cols["sw_lo"] = cols[f"swing_high_{k}"], cols[f"swing_low_{k}"]
    cols["sw_hi_px"], cols["sw_lo_px"] = _shift(h, k), _shift(low, k)
    cols["sw_hi_v"] = cols["sw_lo_v"] = _shift(v, k)
    cols["sw_hi_t"] = cols["sw_lo_t"] = _shift(t, k)
    N = p.regime_period
    path = _window_sum_before(np.abs(c - prev_c), N)  # |dc| of bars i-N..i-1 ...
    path = path + np.abs(c - prev_c) - _shift(np.abs(c - prev_c), N)  # ... moved to i-N+1..i
    cols["regime"] = regime_of(c - _shift(c, N), path, p, idx >= N)
    cols["htf"] = _htf(start, c, bar_ns, p)
    v1, v2 = _shift(v, 1), _shift(v, 2)
    cols["no_demand"], cols["no_supply"], cols["effort_no_result"] = vsa(
        h - low, c, prev_c, v, v1, v2, atr, vbase, p, idx >= p.warmup)
    out = Columns(cols)
    # a burst is a climax spread over bars: one whose window holds a one-bar climax is that climax's
    one = np.asarray(one_bar_climax(out, p), bool)
    before = _shift(_rolling(one.astype(np.int64), max(p.burst_bars - 1, 1), "max", partial=True), 1)
    cols["burst"] = _burst(h, low, v, atr, p) & (before == 0)
    cols["effort_top"] = _effort_top(v.astype(np.float64) * (h - low).astype(np.float64), p)
    fall, rise = cols["hi_close"] - c, c - cols["lo_close"]
    fall[:1] = rise[:1] = 0  # bar 0 has no close before it to fall or rise from
    cols["fall_top"] = _ranked(fall, fall, p.fall_bars, p.fall_rank, p.rank_min_bars) & (fall > 0)
    cols["rise_top"] = _ranked(rise, rise, p.fall_bars, p.fall_rank, p.rank_min_bars) & (rise > 0)
    cols["sc"], cols["bc"], cols["ps"], cols["psy"] = stopping_action(out, p)
    return out


def _effort_top(effort: npt.NDArray[np.float64], p: WyckoffParams) -> npt.NDArray[np.bool_]:
    """``effort_top``: the largest effort (volume x range) of the bar and the ``climax_bars`` - 1
    before it exceeds the effort of at least ``climax_rank`` of the ``rank_bars`` bars before the bar
    (none while fewer came before, or with ``climax_rank`` 0; with ``rank_min_bars``, against the bars
    there are once that many came). Efforts are one product of two floats in both modes (an integer
    product could overflow 64 bits in numpy and not in Python)."""
    if p.climax_rank <= 0:
        return np.zeros(len(effort), bool)
    return _ranked(effort, _rolling(effort, p.climax_bars, "max", partial=True), p.rank_bars, p.climax_rank,
                   p.rank_min_bars)


def _ranked(values: npt.NDArray[Any], peak: npt.NDArray[Any], w: int, rank: float,
            least: int = 0) -> npt.NDArray[np.bool_]:
    """At bar i: ``peak[i]`` exceeds at least ``rank`` of ``values[i-w..i-1]`` (none while fewer than
    w came before, or with ``rank`` 0); with ``least`` > 0, while fewer than w but at least ``least``
    came before, at least ``rank`` of the m = i bars there are (as many of them as ``rank`` * m)."""
    n = len(values)
    top = np.zeros(n, bool)
    if rank <= 0:
        return top
    if 0 < least < w:
        for i in range(least, min(w, n)):  # at most w bars, each against the ones before it
            top[i] = int((values[:i] < peak[i]).sum()) >= rank * i
    if n <= w:
        return top
    from numpy.lib.stride_tricks import sliding_window_view

    before = sliding_window_view(values, w)[: n - w]  # values[i-w..i-1] for i = w..n-1
    step = max(1, (1 << 20) // w)  # about a million comparisons at a time, not n x w at once
    for a in range(0, n - w, step):
        b = min(a + step, n - w)
        top[w + a: w + b] = (before[a:b] < peak[w + a: w + b, None]).sum(axis=1) >= rank * w
    return top


def burst_of(sums: Any, spans: Any, base_sum: Any, atr: Any, p: WyckoffParams) -> Any:
    """``burst`` from the volume sums and spans of the last k = 2..burst_bars bars (lists, one per
    k) and the volume sum of the ``volume_period`` bars before the longest window, in both modes."""
    base = base_sum / p.volume_period
    out: Any = False
    for k, (vk, sk) in enumerate(zip(sums, spans, strict=True), start=2):
        out = out | burst_window(vk, sk, k, base, atr, p)
    return (base_sum > 0) & (atr > 0) & out


def burst_window(volume: Any, span: Any, k: int, base: Any, atr: Any, p: WyckoffParams) -> Any:
    """Whether the last ``k`` bars, of total ``volume`` and ``span`` (highest high to lowest low),
    are a burst against the volume baseline ``base`` and ``atr`` (numbers or arrays, both modes)."""
    return (volume >= p.burst_volume * k * base) & (span >= p.burst_span * math.sqrt(k) * atr)


def _burst(h: IntArray, low: IntArray, v: IntArray, atr: Any, p: WyckoffParams) -> Any:
    n = len(v)
    if p.burst_bars < 2:
        return np.zeros(n, bool)
    cs = np.concatenate([[0], np.cumsum(v)])
    idx = np.arange(n)
    sums = [cs[idx + 1] - cs[np.maximum(idx + 1 - k, 0)] for k in range(2, p.burst_bars + 1)]  # v[i-k+1..i]
    spans = [_rolling(h, k, "max", partial=True) - _rolling(low, k, "min", partial=True)
             for k in range(2, p.burst_bars + 1)]
    base_sum = _shift(_window_sum_before(v, p.volume_period), p.burst_bars - 1)
    return burst_of(sums, spans, base_sum, atr, p)


def htf_bucket(start_ns: Any, bar_ns: int, p: WyckoffParams) -> Any:
    """The higher-timeframe bucket a bar starting at ``start_ns`` is in. A bucket longer than a 64-bit count
    of nanoseconds (say 1,000 bars of 107 days) holds every time there is: bucket 0 from 1970 (-1 before),
    in both modes alike (an int64 column cannot be divided by it)."""
    size = bar_ns * p.htf_factor
    if size > np.iinfo(np.int64).max:
        return np.where(start_ns < 0, -1, 0) if isinstance(start_ns, np.ndarray) else (-1 if start_ns < 0 else 0)
    return start_ns // size


def _htf(start: IntArray, c: IntArray, bar_ns: int, p: WyckoffParams) -> npt.NDArray[np.int8]:
    n = len(c)
    if n == 0:
        return np.zeros(n, np.int8)
    bucket = htf_bucket(start, bar_ns, p)
    new = np.r_[False, bucket[1:] != bucket[:-1]]
    run = np.cumsum(new)  # index of the bucket run each bar is in
    last = np.flatnonzero(np.r_[bucket[1:] != bucket[:-1], True])  # last bar of each run
    closes = c[last]
    M = p.htf_period
    d = np.abs(np.diff(closes, prepend=closes[:1]))
    cs = np.concatenate([[0], np.cumsum(d)])
    r = np.arange(len(closes))
    ok = r >= M
    path = np.where(ok, cs[r + 1] - cs[np.maximum(r + 1 - M, 0)], 0)
    net = closes - np.where(ok, closes[np.maximum(r - M, 0)], closes)
    reg = regime_of(net, path, p, ok)
    out = np.zeros(n, np.int8)
    done = run > 0
    out[done] = reg[run[done] - 1]  # the regime of the last completed bucket
    return out


class Extreme:
    """The maximum (``sign`` +1) or minimum (-1) of the last ``size`` values pushed, kept in a
    monotonic queue: O(1) per value, exact on integers, small to pickle."""

    __slots__ = ("size", "sign", "q")

    def __init__(self, size: int, sign: int) -> None:
        self.size, self.sign = size, sign
        self.q: deque[tuple[int, int]] = deque()  # (index, value), values strictly decreasing by sign

    def push(self, i: int, value: int) -> None:
        q = self.q
        if self.sign > 0:
            while q and q[-1][1] <= value:
                q.pop()
        else:
            while q and q[-1][1] >= value:
                q.pop()
        q.append((i, value))
        while q[0][0] <= i - self.size:
            q.popleft()

    def value(self) -> int:
        return self.q[0][1]

    def __getstate__(self) -> tuple[int, int, list[tuple[int, int]]]:
        return self.size, self.sign, list(self.q)

    def __setstate__(self, state: tuple[int, int, list[tuple[int, int]]]) -> None:
        self.size, self.sign, q = state
        self.q = deque(q)


class WindowSum:
    """The exact sum of the last ``size`` values pushed."""

    __slots__ = ("q", "total")

    def __init__(self, size: int) -> None:
        self.q: deque[int] = deque(maxlen=size)
        self.total = 0

    @property
    def full(self) -> bool:
        return len(self.q) == self.q.maxlen

    def oldest(self) -> int:
        """The value the next push drops (0 while the window is filling)."""
        return self.q[0] if self.full else 0

    def push(self, value: int) -> None:
        self.total += value - self.oldest()
        self.q.append(value)

    def __getstate__(self) -> tuple[int | None, list[int], int]:
        return self.q.maxlen, list(self.q), self.total

    def __setstate__(self, state: tuple[int | None, list[int], int]) -> None:
        size, values, self.total = state
        self.q = deque(values, maxlen=size)


class RankWindow:
    """The last ``size`` values pushed, in order and sorted: how many of them a value beats."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.order: deque[float] = deque()
        self.ranked: list[float] = []

    def ranks(self, value: float, rank: float, least: int = 0) -> bool:
        """``value`` exceeds at least ``rank`` of the window's values (false until the window is full,
        or with ``least`` > 0 until that many came: then of the m there are, as the batch's ``_ranked``)."""
        m = len(self.order)
        if m < self.size and not 0 < least <= m:
            return False
        return bisect.bisect_left(self.ranked, value) >= rank * m

    def push(self, value: float) -> None:
        self.order.append(value)
        bisect.insort(self.ranked, value)
        if len(self.order) > self.size:
            del self.ranked[bisect.bisect_left(self.ranked, self.order.popleft())]


class Tracker:
    """The incremental twin of ``compute``: one bar in, that bar's ``Row`` out."""

    def __init__(self, p: WyckoffParams, bar_ns: int) -> None:
        self.p = p
        self.bar_ns = bar_ns
        self.i = 0
        L = p.trend_lookback
        self.tr, self.vol = WindowSum(p.atr_period), WindowSum(p.volume_period)  # bars i-n..i-1
        self.hi_close, self.lo_close = Extreme(L, 1), Extreme(L, -1)  # over bars i-L..i-1
        self.high_prev, self.low_prev = Extreme(L, 1), Extreme(L, -1)
        self.v_peak = Extreme(p.climax_bars, 1)
        self.e_last: deque[float] = deque(maxlen=p.climax_bars)  # effort (volume x range) of the bar and the ones before
        self.efforts = RankWindow(p.rank_bars)  # the efforts of the rank_bars bars before
        self.falls, self.rises = RankWindow(p.fall_bars), RankWindow(p.fall_bars)  # and their falls and rises
        # the volume baseline's sum at the last bars (the climax's and the burst's baselines are lagged)
        self.vsums: deque[int] = deque(maxlen=max(p.climax_bars, p.burst_bars, 1))
        self.ones: deque[bool] = deque(maxlen=max(p.burst_bars - 1, 1))  # one-bar climaxes of the bars before
        # swings of order k: the max and min of the k bars up to now, and what they were k+1 bars back
        self.swing_state: list[tuple[int, Extreme, Extreme, deque[tuple[int, int]]]] = [
            (k, Extreme(k, 1), Extreme(k, -1), deque(maxlen=k + 1)) for k in p.swing_orders]
        # (h, l, v, t) of the last bars: the swings' and the burst's
        self.win: deque[tuple[int, int, int, int]] = deque(maxlen=max(max(p.swing_orders) + 1, p.burst_bars))
        self.dc = WindowSum(p.regime_period)  # |dc| of bars i-N..i-1
        self.back: deque[int] = deque(maxlen=p.regime_period + 1)
        self.prev_c = 0
        self.v1 = self.v2 = 0
        self.bucket: int | None = None
        self.bucket_close = 0
        self.htf_closes: deque[int] = deque(maxlen=p.htf_period + 1)
        self.htf = 0
        self.swings_out: dict[int, tuple[bool, bool]] = {}
        self.warmup = p.warmup

    def add(self, t: int, start: int, o: int, h: int, low: int, c: int, v: int) -> Row:
        p = self.p
        i = self.i
        prev_c = c if i == 0 else self.prev_c
        atr = (self.tr.total if self.tr.full else 0) / p.atr_period
        vbase = (self.vol.total if self.vol.full else 0) / p.volume_period
        full = i >= 1  # the trend lookback: the bars so far while fewer than L came before
        hi_close = self.hi_close.value() if full else 0
        lo_close = self.lo_close.value() if full else 0
        high_prev = self.high_prev.value() if full else 0
        low_prev = self.low_prev.value() if full else 0
        self.v_peak.push(i, v)
        self.vsums.append(self.vol.total if self.vol.full else 0)
        vsum_lag = self.vsums[-p.climax_bars] if len(self.vsums) >= p.climax_bars else 0
        # higher timeframe: a new bucket completes the previous one
        bucket = htf_bucket(start, self.bar_ns, p)
        if self.bucket is not None and bucket != self.bucket:
            self.htf_closes.append(self.bucket_close)
            hc = self.htf_closes
            ok = len(hc) == p.htf_period + 1
            path = sum(abs(hc[j] - hc[j - 1]) for j in range(1, len(hc))) if ok else 0
            self.htf = regime_of(hc[-1] - hc[0] if ok else 0, path, p, ok)
        self.bucket, self.bucket_close = bucket, c
        # swings: bar j = i-k against the k bars on each side
        win = self.win
        win.append((h, low, v, t))
        burst = self._burst(atr) and not any(self.ones)
        sw: dict[int, tuple[bool, bool]] = {}
        for k, up, down, past in self.swing_state:
            up.push(i, h)
            down.push(i, low)
            hi_k, lo_k = up.q[0][1], down.q[0][1]
            if i >= 2 * k:
                j = win[-(k + 1)]
                left_hi, left_lo = past[0]  # the k bars before j: what the window held at j-1
                sw[k] = (j[0] > left_hi and j[0] > hi_k, j[1] < left_lo and j[1] < lo_k)
            else:
                sw[k] = (False, False)
            past.append((hi_k, lo_k))
        self.swings_out = sw
        k0 = p.swing_orders[0]
        ref = self.win[-(k0 + 1)] if i >= k0 else (0, 0, 0, 0)
        # regime over closes i-N..i
        d = abs(c - prev_c)
        path = self.dc.total + d - self.dc.oldest()
        self.back.append(c)
        ok = i >= p.regime_period
        regime = regime_of(c - self.back[0] if ok else 0, path, p, ok)
        warm = i >= self.warmup
        nd, ns, enr = vsa(h - low, c, prev_c, v, self.v1, self.v2, atr, vbase, p, warm)
        row = Row(i, t, o, h, low, c, v, h - low, prev_c, atr, vbase, warm, hi_close, lo_close, high_prev, low_prev,
                  self.v_peak.value(), vsum_lag, sw[k0][0], ref[0], ref[2], ref[3], sw[k0][1], ref[1], ref[2], ref[3],
                  regime, self.htf, bool(nd), bool(ns), bool(enr), burst, self._effort_top(float(v) * float(h - low)),
                  self._top(self.falls, hi_close - c if full else 0), self._top(self.rises, c - lo_close if full else 0))
        row.sc, row.bc, row.ps, row.psy = (bool(b) for b in stopping_action(row, p))
        self.ones.append(bool(one_bar_climax(row, p)))
        # advance
        self.tr.push(h - low if i == 0 else max(h, prev_c) - min(low, prev_c))
        self.vol.push(v)
        self.dc.push(d)
        self.hi_close.push(i, c)
        self.lo_close.push(i, c)
        self.high_prev.push(i, h)
        self.low_prev.push(i, low)
        self.prev_c = c
        self.v2, self.v1 = self.v1, v
        self.i += 1
        return row

    def _effort_top(self, effort: float) -> bool:
        """``effort_top`` for this bar (as ``_effort_top`` in the batch), then this bar's effort joins
        the window."""
        p = self.p
        if p.climax_rank <= 0:
            return False
        self.e_last.append(effort)
        top = self.efforts.ranks(max(self.e_last), p.climax_rank, p.rank_min_bars)
        self.efforts.push(effort)
        return top

    def _top(self, window: RankWindow, move: int) -> bool:
        """``fall_top`` (``rise_top``) for this bar's fall (rise), then it joins the window."""
        if self.p.fall_rank <= 0:
            return False
        top = move > 0 and window.ranks(move, self.p.fall_rank, self.p.rank_min_bars)
        window.push(move)
        return top

    def _burst(self, atr: float) -> bool:
        """``burst_of`` for this bar, in one pass over its last bars (k = 2..burst_bars, the first
        window that qualifies decides): ``burst_window`` on the same numbers as the batch's."""
        p = self.p
        if p.burst_bars < 2 or not atr > 0:
            return False
        base_sum = self.vsums[-p.burst_bars] if len(self.vsums) >= p.burst_bars else 0
        if not base_sum > 0:
            return False
        base = base_sum / p.volume_period
        win = self.win
        have = len(win)
        hi, lo, vk, _ = win[-1]  # this bar
        for k in range(2, p.burst_bars + 1):
            if k <= have:  # fewer bars so far: the window is what there is
                h, low, v, _ = win[-k]
                vk += v
                hi = h if h > hi else hi
                lo = low if low < lo else lo
            if burst_window(vk, hi - lo, k, base, atr, p):
                return True
        return False
