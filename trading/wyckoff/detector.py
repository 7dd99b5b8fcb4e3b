"""Incremental Wyckoff detector: swings, climaxes, trading ranges, springs and upthrusts.

Definitions (every threshold is a ``WyckoffParams`` field; ATR and volume baselines are taken
from the bars *before* the one being judged, so a bar never judges itself against itself):

- swing high/low: a bar whose high (low) is the extreme of the ``swing_order`` bars on each
  side; known only ``swing_order`` bars later, and emitted then.
- selling climax (SC): range >= ``climax_range`` x ATR, volume >= ``climax_volume`` x baseline,
  the lowest low of ``trend_lookback`` bars, after a fall of at least ``trend_min_atr`` ATR
  from the highest close of that window. Buying climax (BC) is the mirror. A climax starts a
  trading range: its extreme is support (SC) or resistance (BC).
- automatic rally (AR) / automatic reaction: the first swing high (low) after an SC (BC); its
  extreme is the range's other edge.
- secondary test (ST): a swing low (high) in the range's outer 25 % next to the climax, on
  volume below the baseline.
- spring: after at least ``min_range_bars`` of an accumulation range, price trades below
  support by at least ``spring_min_penetration_atr`` ATR and at most ``spring_max_penetration``
  of the range height, and closes back above support within ``spring_recovery_bars`` bars.
  Upthrust after distribution (UTAD) is the mirror above resistance.
- sign of strength (SOS) / weakness (SOW): a close beyond the far edge by ``breakout`` of the
  range height; it ends the range. A close beyond the near edge by more than the spring limit
  is a breakdown (breakout) of the range, which also ends it.

Springs emit buy signals and upthrusts sell signals: entry at the close, stop beyond the
excursion's extreme by ``stop_buffer_atr`` ATR, targets at the far edge and one range height
beyond it (the range's cause).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from trading.instruments import Instrument
from trading.market import Bar
from trading.orders import Evidence, Side, Signal


@dataclass(frozen=True, slots=True)
class WyckoffParams:
    """Detector thresholds; see the module docstring for what each one defines."""

    atr_period: int = 20
    volume_period: int = 20
    swing_order: int = 3
    trend_lookback: int = 60
    trend_min_atr: float = 6.0
    climax_range: float = 1.8
    climax_volume: float = 2.5
    min_range_bars: int = 30
    max_range_bars: int = 1200
    spring_min_penetration_atr: float = 0.5
    spring_max_penetration: float = 0.6
    spring_recovery_bars: int = 12
    stop_buffer_atr: float = 0.5
    breakout: float = 0.25


@dataclass(frozen=True, slots=True)
class WyckoffEvent:
    """A detected event on the bar that closed at ``bar_ts_ns``, with the numbers behind it."""

    symbol: str
    event: str
    bar_ts_ns: int
    price: float
    numbers: tuple[tuple[str, float], ...] = ()

    def evidence(self) -> Evidence:
        return Evidence(self.event, self.bar_ts_ns, self.numbers)


@dataclass
class TradingRange:
    """A range opened by a climax. ``kind`` is accumulation (after an SC) or distribution."""

    kind: str
    climax: WyckoffEvent
    near_edge: float  # support for accumulation, resistance for distribution
    far_edge: float | None = None
    far_event: WyckoffEvent | None = None
    bars: int = 0
    bars_since_far: int = 0
    tests: list[WyckoffEvent] = field(default_factory=list)
    excursion_extreme: float | None = None
    excursion_bars: int = 0
    excursion_volume: float = 0.0

    @property
    def sign(self) -> int:
        """+1 for accumulation (near edge below), -1 for distribution."""
        return 1 if self.kind == "accumulation" else -1

    @property
    def height(self) -> float:
        return abs(self.far_edge - self.near_edge) if self.far_edge is not None else 0.0


@dataclass
class WyckoffDetector:
    """Feeds on one symbol's closed bars, in order; returns events and signals per bar."""

    instrument: Instrument
    params: WyckoffParams = field(default_factory=WyckoffParams)
    atr: float = 0.0
    bars_seen: int = 0
    prev_close: float | None = None
    window: deque[Bar] = field(default_factory=deque)
    volumes: deque[float] = field(default_factory=deque)
    closes: deque[float] = field(default_factory=deque)
    range: TradingRange | None = None

    def update(self, bar: Bar) -> tuple[list[WyckoffEvent], list[Signal]]:
        p = self.params
        events: list[WyckoffEvent] = []
        signals: list[Signal] = []
        warm = self.bars_seen >= max(p.atr_period, p.volume_period, p.trend_lookback)
        atr = self.atr
        vol_base = sum(self.volumes) / len(self.volumes) if self.volumes else 0.0
        self.window.append(bar)
        while len(self.window) > 2 * p.swing_order + 1:
            self.window.popleft()
        if warm and atr > 0 and vol_base > 0:
            swing = self._swing()
            if swing is not None:
                events.append(swing)
            events.extend(self._climax(bar, atr, vol_base))
            if self.range is not None:
                ev, sig = self._in_range(bar, atr, vol_base, swing)
                events.extend(ev)
                signals.extend(sig)
        self._advance(bar)
        return events, signals

    def _advance(self, bar: Bar) -> None:
        p = self.params
        tr = bar.range if self.prev_close is None else max(
            bar.range, abs(bar.high - self.prev_close), abs(bar.low - self.prev_close))
        self.atr = tr if self.bars_seen == 0 else self.atr + (tr - self.atr) / p.atr_period
        self.prev_close = bar.close
        self.volumes.append(bar.volume)
        if len(self.volumes) > p.volume_period:
            self.volumes.popleft()
        self.closes.append(bar.close)
        if len(self.closes) > p.trend_lookback:
            self.closes.popleft()
        self.bars_seen += 1
        if self.range is not None:
            self.range.bars += 1
            if self.range.far_edge is not None:
                self.range.bars_since_far += 1
            if self.range.bars > p.max_range_bars:
                self.range = None

    def _ev(self, name: str, bar: Bar, price: float, **numbers: float) -> WyckoffEvent:
        return WyckoffEvent(self.instrument.symbol, name, bar.end_ns, price,
                            tuple((k, round(v, 6)) for k, v in numbers.items()))

    def _swing(self) -> WyckoffEvent | None:
        k = self.params.swing_order
        if len(self.window) < 2 * k + 1:
            return None
        bars = list(self.window)
        mid = bars[k]
        others = bars[:k] + bars[k + 1:]
        if mid.high > max(b.high for b in others):
            return self._ev("swing_high", mid, mid.high, volume=mid.volume)
        if mid.low < min(b.low for b in others):
            return self._ev("swing_low", mid, mid.low, volume=mid.volume)
        return None

    def _climax(self, bar: Bar, atr: float, vol_base: float) -> list[WyckoffEvent]:
        p = self.params
        range_ratio = bar.range / atr
        vol_ratio = bar.volume / vol_base
        if range_ratio < p.climax_range or vol_ratio < p.climax_volume:
            return []
        fell = max(self.closes) - bar.close
        rose = bar.close - min(self.closes)
        lows = min(b.low for b in list(self.window)[:-1])
        highs = max(b.high for b in list(self.window)[:-1])
        numbers = {"range_atr": range_ratio, "volume_ratio": vol_ratio}
        if fell >= p.trend_min_atr * atr and bar.low <= lows and bar.low <= min(self.closes):
            ev = self._ev("selling_climax", bar, bar.low, trend_atr=fell / atr, **numbers)
            if self.range is None or self.range.kind != "accumulation" or bar.low < self.range.near_edge:
                self.range = TradingRange("accumulation", ev, bar.low)
            return [ev]
        if rose >= p.trend_min_atr * atr and bar.high >= highs and bar.high >= max(self.closes):
            ev = self._ev("buying_climax", bar, bar.high, trend_atr=rose / atr, **numbers)
            if self.range is None or self.range.kind != "distribution" or bar.high > self.range.near_edge:
                self.range = TradingRange("distribution", ev, bar.high)
            return [ev]
        return []

    def _in_range(self, bar: Bar, atr: float, vol_base: float,
                  swing: WyckoffEvent | None) -> tuple[list[WyckoffEvent], list[Signal]]:
        p = self.params
        rng = self.range
        assert rng is not None
        s = rng.sign
        events: list[WyckoffEvent] = []
        if rng.far_edge is None:
            # Before the automatic rally/reaction, a deeper extreme extends the climax.
            extreme = bar.low if s > 0 else bar.high
            if (extreme - rng.near_edge) * s < 0 and rng.climax.bar_ts_ns != bar.end_ns:
                rng.near_edge = extreme
            if swing is not None and swing.event == ("swing_high" if s > 0 else "swing_low") \
                    and (swing.price - rng.near_edge) * s > 2 * atr:
                name = "automatic_rally" if s > 0 else "automatic_reaction"
                rng.far_edge = swing.price
                rng.far_event = self._ev(name, bar, swing.price, height_atr=abs(swing.price - rng.near_edge) / atr)
                events.append(rng.far_event)
            return events, []
        height = rng.height
        # Secondary test: a swing back into the outer quarter next to the climax, on low volume.
        if swing is not None and swing.event == ("swing_low" if s > 0 else "swing_high"):
            depth = (swing.price - rng.near_edge) * s
            swing_vol = dict(swing.numbers).get("volume", 0.0)
            if 0 <= depth <= 0.25 * height and swing_vol < vol_base:
                st = self._ev("secondary_test", bar, swing.price, volume_ratio=swing_vol / vol_base)
                rng.tests.append(st)
                events.append(st)
        near_close = (bar.close - rng.near_edge) * s  # > 0 inside the range
        excursion = (rng.near_edge - (bar.low if s > 0 else bar.high)) * s  # > 0 beyond the near edge
        # Range ends: a sign of strength/weakness through the far edge.
        if (bar.close - rng.far_edge) * s > p.breakout * height:
            events.append(self._ev("sign_of_strength" if s > 0 else "sign_of_weakness", bar, bar.close,
                                   volume_ratio=bar.volume / vol_base, height_atr=height / atr))
            self.range = None
            return events, []
        signals: list[Signal] = []
        if rng.excursion_extreme is not None or excursion >= p.spring_min_penetration_atr * atr:
            extreme = bar.low if s > 0 else bar.high
            if rng.excursion_extreme is None or (extreme - rng.excursion_extreme) * s < 0:
                rng.excursion_extreme = extreme
            rng.excursion_bars += 1
            rng.excursion_volume = max(rng.excursion_volume, bar.volume / vol_base)
            penetration = (rng.near_edge - rng.excursion_extreme) * s
            if penetration > p.spring_max_penetration * height or rng.excursion_bars > p.spring_recovery_bars:
                events.append(self._ev("breakdown" if s > 0 else "breakout", bar, bar.close,
                                       penetration_height=penetration / height))
                self.range = None
                return events, []
            if near_close > 0 and rng.bars_since_far >= p.min_range_bars \
                    and penetration >= p.spring_min_penetration_atr * atr:
                name = "spring" if s > 0 else "upthrust"
                ev = self._ev(name, bar, rng.excursion_extreme, penetration_atr=penetration / atr,
                              penetration_height=penetration / height, volume_ratio=rng.excursion_volume,
                              recovery_bars=float(rng.excursion_bars), tests=float(len(rng.tests)))
                events.append(ev)
                sig = self._signal(rng, ev, bar, atr, penetration / height)
                if sig is not None:
                    signals.append(sig)
                rng.excursion_extreme = None
                rng.excursion_bars = 0
                rng.excursion_volume = 0.0
            elif near_close > 0:
                rng.excursion_extreme = None  # a poke inside the noise, before the range matured
                rng.excursion_bars = 0
                rng.excursion_volume = 0.0
        return events, signals

    def _signal(self, rng: TradingRange, ev: WyckoffEvent, bar: Bar, atr: float,
                depth: float) -> Signal | None:
        p = self.params
        inst = self.instrument
        s = rng.sign
        assert rng.far_edge is not None and rng.excursion_extreme is not None
        entry = inst.price(bar.close)
        stop = inst.price(rng.excursion_extreme - s * p.stop_buffer_atr * atr)
        targets = (inst.price(rng.far_edge), inst.price(rng.far_edge + s * rng.height))
        if any((t - entry) * s <= 0 for t in targets) or (entry - stop) * s <= 0:
            return None
        confidence = 0.5
        confidence += 0.1 * min(len(rng.tests), 2)
        confidence += 0.1 if depth < 0.3 else 0.0
        confidence += 0.1 if (bar.close - bar.low if s > 0 else bar.high - bar.close) > 0.5 * bar.range else 0.0
        evidence = [rng.climax.evidence()]
        if rng.far_event is not None:
            evidence.append(rng.far_event.evidence())
        evidence.extend(t.evidence() for t in rng.tests[-2:])
        evidence.append(ev.evidence())
        return Signal(inst.symbol, Side.BUY if s > 0 else Side.SELL, bar.end_ns, entry, stop, targets,
                      round(min(confidence, 0.95), 4), ev.event, tuple(evidence),
                      atr=round(atr, inst.price_precision + 2))
