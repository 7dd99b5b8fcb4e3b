"""The two modes of the Wyckoff detector, one set of definitions.

- ``detect(frame, ...)``: batch mode on a polars frame of bars (research, backtests). Features
  are whole-column operations; the state machine runs only at the bars where its state has
  something to decide, found a chunk of bars at a time by the same ``wake`` predicate.
- ``WyckoffDetector.update(bar)``: incremental mode, one closed bar at a time (the actor).

Both turn prices into integer points (``10 ** (precision + 1)`` per unit, the precision of a
bar's mid price) and volumes into hundredths, so the features are exact and both modes emit the
same events, signals and phases bar for bar (``tests/trading/test_wyckoff.py`` proves it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from trading.instruments import Instrument
from trading.market import Bar
from trading.orders import Signal
from trading.wyckoff import gate
from trading.wyckoff.features import Columns, Slice, Tracker, compute
from trading.wyckoff.machine import PHASES, Machine, TradingRange, WyckoffEvent
from trading.wyckoff.params import WyckoffParams

if TYPE_CHECKING:  # polars is loaded by the batch mode's functions only (a live detector needs none)
    import polars as pl

VOLUME_UNITS = 100  # volumes are kept in hundredths, exactly


def price_scale(precision: int) -> int:
    return int(10 ** (precision + 1))


@dataclass
class Detection:
    """What the batch mode found in one instrument's bars."""

    symbol: str
    scale: int
    columns: Columns
    phases: npt.NDArray[np.int8]  # index into ``PHASES``, per bar, as known at that bar
    events: list[WyckoffEvent]
    signals: list[Signal]
    ranges: list[TradingRange]
    blocked: int  # signals held back by the higher timeframe
    wakeups: int
    short_reward: int = 0  # signals dropped: no target at the minimum reward-to-risk

    def phase_names(self) -> list[str]:
        return [PHASES[k] for k in self.phases.tolist()]

    def swings(self) -> pl.DataFrame:
        """Swing points at every scale, at the bar that confirms them (``known_ns``)."""
        import polars as pl

        parts = []
        c = self.columns.cols
        for name, flags in c.items():
            if not name.startswith(("swing_high_", "swing_low_")):
                continue
            kind, order = name.rsplit("_", 1)
            k = int(order)
            at = np.flatnonzero(flags)
            src = at - k
            price = (c["h"] if kind == "swing_high" else c["l"])[src] / self.scale
            parts.append(pl.DataFrame({"event": kind, "order": k, "bar_ts_ns": c["t"][src], "price": price,
                                       "known_ns": c["t"][at]}))
        if not parts:
            return pl.DataFrame()
        return pl.concat(parts).sort(["known_ns", "order", "event"])

    def frame(self) -> pl.DataFrame:
        """Per bar: the prices, the features a researcher filters on, and the phase."""
        import polars as pl

        c = self.columns.cols
        return pl.DataFrame({
            "end_ns": c["t"], "open": c["o"] / self.scale, "high": c["h"] / self.scale, "low": c["l"] / self.scale,
            "close": c["c"] / self.scale, "volume": c["v"] / VOLUME_UNITS, "atr": c["atr"] / self.scale,
            "volume_ratio": np.divide(c["v"], c["vbase"], out=np.zeros(len(c["v"])), where=c["vbase"] > 0),
            "regime": c["regime"], "htf_regime": c["htf"], "no_demand": c["no_demand"],
            "no_supply": c["no_supply"], "effort_no_result": c["effort_no_result"],
            "phase": pl.Series(self.phases).replace_strict(dict(enumerate(PHASES)), return_dtype=pl.Utf8),
        })


def _points(values: npt.NDArray[np.float64], scale: int) -> npt.NDArray[np.int64]:
    return np.rint(values * scale).astype(np.int64)


def detect_points(symbol: str, start: npt.NDArray[np.int64], end: npt.NDArray[np.int64],
                  o: npt.NDArray[np.int64], h: npt.NDArray[np.int64], low: npt.NDArray[np.int64],
                  c: npt.NDArray[np.int64], v: npt.NDArray[np.int64], scale: int,
                  params: WyckoffParams | None = None, instrument: Instrument | None = None) -> Detection:
    """Batch mode on integer points and volume units."""
    p = params or WyckoffParams()
    gate.ready(p.gate_min)  # a gate that cannot be read, or never scores that high, is refused before any bar
    gate.c_ready(p.c_gate_min, p.c_gate_shallow_min)
    n = len(c)
    bar_ns = int(end[0] - start[0]) if n else 1
    if bar_ns <= 0:
        raise ValueError(f"a bar must end after it starts: the first bar spans {start[0]}..{end[0]} ns")
    cols = compute(end, o, h, low, c, v, start, bar_ns, p)
    closes = cols.cols["c"]
    m = Machine(symbol, scale, p, instrument.price if instrument is not None else None,
                lambda a, b: closes[a:b].tolist())
    phases = np.zeros(n, np.int8)
    code = {name: k for k, name in enumerate(PHASES)}
    i = 0
    wakeups = 0
    while i < n:
        found = -1
        j, chunk = i, 64
        while j < n:
            b = min(n, j + chunk)
            hits = np.flatnonzero(m.wake(Slice(cols, j, b)))
            if len(hits):
                found = j + int(hits[0])
                break
            j, chunk = b, min(chunk * 4, 1 << 16)
        end_i = found if found >= 0 else n
        phases[i:end_i] = code[m.phase]
        if found < 0:
            break
        m.step(cols.at(found))
        wakeups += 1
        phases[found] = code[m.phase]
        i = found + 1
    return Detection(symbol, scale, cols, phases, m.events, m.signals, m.ranges, m.blocked, wakeups, m.short_reward)


def detect(frame: pl.DataFrame, symbol: str, precision: int, params: WyckoffParams | None = None,
           instrument: Instrument | None = None) -> Detection:
    """Batch mode on a frame with ``start_ns, end_ns, open, high, low, close, volume`` (one symbol,
    in time order), priced like the bars the session aggregates (mid prices)."""
    import polars as pl

    scale = price_scale(precision)

    def col(name: str) -> npt.NDArray[np.float64]:
        return frame[name].cast(pl.Float64).to_numpy()

    return detect_points(
        symbol, frame["start_ns"].cast(pl.Int64).to_numpy(), frame["end_ns"].cast(pl.Int64).to_numpy(),
        _points(col("open"), scale), _points(col("high"), scale), _points(col("low"), scale),
        _points(col("close"), scale), _points(col("volume"), VOLUME_UNITS), scale, params, instrument)


def bars_frame(bars: Sequence[Bar]) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame({
        "start_ns": [b.start_ns for b in bars], "end_ns": [b.end_ns for b in bars],
        "open": [b.open for b in bars], "high": [b.high for b in bars], "low": [b.low for b in bars],
        "close": [b.close for b in bars], "volume": [b.volume for b in bars],
    }, schema={"start_ns": pl.Int64, "end_ns": pl.Int64, "open": pl.Float64, "high": pl.Float64,
               "low": pl.Float64, "close": pl.Float64, "volume": pl.Float64})


@dataclass
class WyckoffDetector:
    """Incremental mode: feeds on one symbol's closed bars, in order."""

    instrument: Instrument
    params: WyckoffParams = field(default_factory=WyckoffParams)
    scale: int = 0
    tracker: Tracker | None = None
    machine: Machine | None = None
    history: deque[int] = field(default_factory=deque)  # closes since the current range began, or the lookback
    phase: str = ""
    bars_seen: int = 0

    def __post_init__(self) -> None:
        self.scale = price_scale(self.instrument.price_precision)
        p = self.params
        gate.ready(p.gate_min)  # a gate that cannot be read, or never scores that high, is refused here
        gate.c_ready(p.c_gate_min, p.c_gate_shallow_min)
        self.history = deque(maxlen=p.max_range_bars + p.ar_max_bars + p.lps_window + p.trend_lookback + 2)

    def _closes(self, a: int, b: int) -> list[int]:
        base = self.bars_seen - len(self.history)
        return list(self.history)[max(a - base, 0):b - base]

    def update(self, bar: Bar) -> tuple[list[WyckoffEvent], list[Signal]]:
        """The events known at this bar (swings of every order first) and the signals."""
        return self.update_points(bar.start_ns, bar.end_ns, round(bar.open * self.scale), round(bar.high * self.scale),
                                  round(bar.low * self.scale), round(bar.close * self.scale),
                                  round(bar.volume * VOLUME_UNITS))

    def update_points(self, start: int, end: int, o: int, h: int, low: int, c: int,
                      v: int) -> tuple[list[WyckoffEvent], list[Signal]]:
        p = self.params
        if self.tracker is None:
            if end <= start:
                raise ValueError(f"a bar must end after it starts: the first bar spans {start}..{end} ns")
            self.tracker = Tracker(p, end - start)
            self.machine = Machine(self.instrument.symbol, self.scale, p, self.instrument.price, self._closes)
        assert self.machine is not None
        row = self.tracker.add(end, start, o, h, low, c, v)
        self.history.append(c)
        self.bars_seen += 1
        events: list[WyckoffEvent] = []
        win = self.tracker.win
        for k in p.swing_orders:
            for flag, name, px in zip(self.tracker.swings_out[k], ("swing_high", "swing_low"), (0, 1), strict=True):
                if flag:
                    ref = win[-(k + 1)]
                    events.append(WyckoffEvent(self.instrument.symbol, name, ref[3], ref[px] / self.scale,
                                               (("order", float(k)),), end))
        m = self.machine
        if m.wake(row):
            m.step(row)
        if m.range is None:  # the cause count reads closes from a range's start, the AR the trend's before it
            while len(self.history) > p.trend_lookback + 1:
                self.history.popleft()
        self.phase = m.phase
        events.extend(m.events)
        signals = list(m.signals)
        m.events.clear()  # the caller has them; a live detector keeps no history of its own
        m.signals.clear()
        del m.ranges[:-2]
        return events, signals

    @property
    def range(self) -> TradingRange | None:
        return self.machine.range if self.machine is not None else None

    def price(self, points: int) -> Decimal:
        return self.instrument.price(points / self.scale)
