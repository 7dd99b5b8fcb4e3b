"""The Wyckoff state machine: trading ranges, their events and phases, and the signals.

One machine serves both modes. ``wake(x)`` says at which bars the machine has something to
decide, given its state; it is written once with operators that work on a ``Row`` of Python
scalars (incremental mode) and on a ``Slice`` of columns (batch mode, where it finds the next
wake-up among thousands of bars in one vectorised step). ``step(row)`` is called only at those
bars, in both modes, so both emit the same events, signals and phases bar for bar; a bar at
which ``wake`` is false changes nothing.

Events (s = +1 for a range that a selling climax opened after a fall, -1 for a buying climax
after a rise; "near" is the climax's edge, "far" the automatic rally/reaction's):

- A climax candidate (``features.stopping_action``) outside a range opens a provisional range.
  It shows no phase of its own (the phase outside, E or none, holds) until the rally off it has
  gone half ``ar_min_atr``; then phase A (in a markup or markdown, phase E holds until the range
  has proved itself, till then a pause in the trend; with ``report_after_phase_a`` off, until
  the AR).
  Until the automatic rally/reaction, a deeper climax candidate takes its place (and restarts
  the AR's clock) and any deeper extreme moves the near edge. A climax is told from a
  preliminary stop, and a range from a pause in the trend, only by what follows, so SC/BC, the
  PS/PSY before it, the AR and the ST are all reported once the range has proved itself: it
  has held ``proven_ratio`` times as long as phase A took (climax to AR), at least
  ``proven_bars``, from the AR (after a sharp AR, with ``ar_sharp_needs_st``, only once a
  secondary test came); or it shows a spring/upthrust; or it breaks against the trend
  that came into it (their ``known_ns``; with ``report_after_phase_a`` off, when each is
  found). Where it proves itself, the range gate (``trading.wyckoff.gate``; on by default)
  scores it from what is known then; under ``gate_min`` the range is dropped as a pause is. A break on the trend's
  side before then drops the range and reports none of its events (the phases it showed while it lasted stay shown): the trend paused, a markup or
  markdown it interrupted goes on, and the bar that broke it may open a range of its own. A
  range replaced by a deeper climax in phase A, or too old, before it proved itself, is dropped
  the same way. Each event is reported at its own bar:
- ``automatic_rally`` / ``automatic_reaction`` (AR): the highest high (lowest low) of the bars
  after the climax, once it lies at least ``ar_min_atr`` ATR from the near edge (or, if less,
  ``ar_sharp`` ATR times the square root of the bars from the near edge's bar to it, at least
  ``ar_sharp_floor`` ATR: a sharp rally, whose height over the root of its bars coarser bars
  leave unchanged), outdoes ``ar_over_trend_swing`` times the largest rally (reaction) in the
  closes of the trend lookback before the climax (a change of character), and a close has given
  back ``ar_retrace`` of that move. It sets the far edge. No AR within ``ar_max_bars`` bars of
  the standing climax and the provisional range is dropped.
- ``selling_climax`` / ``buying_climax`` (SC/BC): the deepest climax candidate before the AR,
  reported at the stopping action's extreme (the near edge: the lowest low, highest high, from
  the candidate to the AR, often a bar or more after the heaviest bar) with the candidate's
  numbers.
- ``preliminary_support`` / ``preliminary_supply`` (PS/PSY): a climax candidate undercut by the
  climax at least ``ps_gap`` bars later, or else the last candidate of
  ``features.stopping_action`` between ``ps_gap`` and ``trend_lookback`` bars before the climax.
- A new climax candidate beyond the range in phase A (and B with ``climax_replaces_in_b``)
  replaces the range: the stop before it was only preliminary. Later, such a bar is a spring or
  upthrust if price comes back inside, else a break.
- ``secondary_test`` (ST): in phase A, the first minor swing back into the ``st_zone`` of the
  height next to the climax edge, not through it, on less than ``st_volume`` of the climax
  bar's volume. It
  starts phase B (so does the AR's age reaching ``st_window_ratio`` times phase A's bars, at least
  ``st_window`` bars, without one).
- ``spring`` / ``upthrust`` (phase C): once the range, from the AR, is ``min_range_ratio`` times
  as old as phase A was (climax to AR), and at least ``min_range_bars``,
  price trades beyond support (resistance) by at least ``spring_min_penetration_atr`` ATR but
  at least ``spring_min_penetration`` and at most ``spring_max_penetration`` of the height, on at
  most ``spring_max_volume`` baselines (no limit by default: a shakeout on heavy volume is a
  spring too), and closes back inside within ``spring_recovery_bars`` bars of its extreme and
  ``spring_max_bars`` of the first bar beyond the edge; a close ``spring_confirm`` of the height
  inside, within ``spring_confirm_bars`` of that first close inside, confirms it (none in time: a
  test). A close beyond the edge again, or a new extreme, ends the wait: the excursion goes on
  (a break if it is then too long). Reported at the extreme's bar, known at the confirming
  close; its volume is that of the bars up to its first close inside. Only the first one in a
  range counts (later pokes are tests of it). While such an excursion is under way in phase B,
  the range shows phase C; if it proves no spring/upthrust, phase B again.
  A spring after a fall makes the range an accumulation, after a rise a re-accumulation; an
  upthrust (UTAD) after a rise a distribution, after a fall a re-distribution.
- phase D starts when, after a spring (upthrust), a bar closes in the range's upper (lower) half
  (never during an excursion that has not proved a spring yet).
- ``sign_of_strength`` / ``sign_of_weakness`` (SOS/SOW): price leaves the range beyond an edge
  and does not come back in time (the excursion fails the spring/upthrust limits). Reported at
  the first bar of the excursion that closed beyond the edge, known when the break is. It
  decides the range's kind by its side and the trend before the range, and puts the range in
  phase D.
- ``last_point_of_support`` / ``last_point_of_supply`` (LPS/LPSY): within ``lps_window`` bars
  after the SOS (SOW), a minor swing back toward the broken edge, at least ``lps_pullback`` of
  the height off the best price since the break, that holds within ``lps_depth`` of the height
  of the edge, on volume below ``lps_volume`` baselines.
- phase E: after the LPS (LPSY) a close beyond the best price since the break, or a close
  ``markup_height`` heights beyond the broken edge (or the LPS window over with price beyond it).
  The range is done; phase E lasts until the bars' regime and the higher timeframe's
  (``features``) have both turned against it, or a new range is confirmed. As shown (``phase``,
  never an event or a signal): with ``lps_starts_e`` the range shows phase E from the LPS (LPSY)
  on, and with ``e_until_proven`` phase E, once the machine is in it (a range left for a markup or
  markdown: not the range's own phase E from its LPS), is shown until a range proves itself or a
  close goes back beyond the middle of the range it broke out of or price leaves a range the other
  way, whichever comes first (the regime's turn ends the machine's phase E, which decides events,
  not the phase shown).
  A close back through the opposite edge after an SOS (SOW) is a break the other way.

Signals: a spring, an LPS (buy) and an upthrust, an LPSY (sell). Entry at the close; stop
``stop_buffer_atr`` ATR beyond the event's extreme; targets the far edge, one height beyond
it (the range height), and the point-and-figure count of the range's cause (columns x box x
reversal, projected from the extreme), each kept only on the profit side and at least
``min_reward_risk`` times the risk away (no target left, no signal). A signal is emitted only when
the higher timeframe's regime is not against it (``htf``); its evidence holds the direction the
range had established before it (none at a first spring/upthrust, the break's at an LPS/LPSY), which a
signal goes against only when a spring/upthrust replaces an opposite one (``c_replaced_by_opposite``, off).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from trading.orders import Evidence, Side, Signal
from trading.pickling import compact
from trading.wyckoff import gate
from trading.wyckoff.features import Row
from trading.wyckoff.params import WyckoffParams

PHASES = ("", "A", "B", "C", "D", "E")
STRUCTURE_EVENTS = (
    "preliminary_support", "preliminary_supply", "selling_climax", "buying_climax",
    "automatic_rally", "automatic_reaction", "secondary_test", "spring", "upthrust",
    "sign_of_strength", "sign_of_weakness", "last_point_of_support", "last_point_of_supply",
)
KINDS = {(1, 1): "accumulation", (1, -1): "redistribution", (-1, -1): "distribution", (-1, 1): "reaccumulation"}


@compact
@dataclass(frozen=True, slots=True)
class WyckoffEvent:
    """An event at the bar that closed at ``bar_ts_ns``, known at the bar closing at ``known_ns``
    (never earlier than the bar itself), with the numbers that triggered it."""

    symbol: str
    event: str
    bar_ts_ns: int
    price: float
    numbers: tuple[tuple[str, float], ...] = ()
    known_ns: int = 0

    def evidence(self) -> Evidence:
        return Evidence(self.event, self.bar_ts_ns, self.numbers)


@compact
@dataclass(slots=True)
class Excursion:
    side: int  # -1 below support, +1 above resistance
    start: int
    extreme: int
    extreme_t: int
    volume: float  # the highest volume ratio on the way
    broke_t: int = 0  # the first bar that closed beyond the edge (0: none yet)
    prior: str = ""  # the phase before it, when it put the range in phase C
    extreme_i: int = -1  # the bar of the extreme
    back_i: int = -1  # the first close back inside since the extreme (-1: none), a spring/upthrust waiting to be confirmed


@compact
@dataclass(slots=True)
class Pending:
    """An event whose bar is known but which is reported later (when its meaning is)."""

    t: int
    px: int
    numbers: dict[str, float]


@compact
@dataclass(slots=True)
class TradingRange:
    context: int  # +1 opened by a selling climax (after a fall), -1 by a buying climax
    start: int
    near: int  # the climax edge
    pending_climax: Pending
    climax_v: int  # the climax bar's volume, against which the secondary test is quiet
    climax_i: int
    peak: int  # the best price away from the climax since it (the AR to be)
    peak_t: int
    peak_i: int = 0  # the bar of the peak
    near_t: int = 0  # the bar of the near edge: the stopping action's extreme, where the climax is stamped
    near_i: int = 0
    pending_ps: Pending | None = None
    climax: WyckoffEvent | None = None
    far: int | None = None
    ar: WyckoffEvent | None = None
    ar_known: int = -1
    rallying: bool = False  # before the AR: the rally has gone half the AR's minimum
    sharp: bool = False  # the AR was short of ar_min_atr (a sharp one): time alone does not prove the range
    phase: str = "A"
    kind: str = ""
    direction: int = 0  # +1 after a spring or an SOS, -1 after an upthrust or an SOW
    st: WyckoffEvent | None = None  # the secondary test (one: it ends phase A)
    exc: Excursion | None = None
    c_event: WyckoffEvent | None = None
    sos: WyckoffEvent | None = None
    sos_i: int = -1
    best: int = 0  # the best price since the break, toward the LPS pullback
    lps: WyckoffEvent | None = None
    preliminary: WyckoffEvent | None = None
    held: list[WyckoffEvent] = field(default_factory=list)  # PS, climax, AR, ST until the range proves itself
    after_trend: int = 0  # the direction of the markup (markdown) the range interrupted (0: none)
    end: int = -1  # the bar at which the range was left (-1 while it lasts)
    end_t: int = 0
    gate: tuple[float, ...] = ()  # the range gate's features where it proved itself (trading.wyckoff.gate)
    trust: float = -1.0  # ... and its score there (-1: not scored, the gate is off, or not yet)

    @property
    def support(self) -> int:
        assert self.far is not None
        return self.near if self.context > 0 else self.far

    @property
    def resistance(self) -> int:
        assert self.far is not None
        return self.far if self.context > 0 else self.near

    @property
    def height(self) -> int:
        return self.resistance - self.support


def per_atr(points: float, x: Row) -> float:
    """``points`` in ATRs (0 where the bars before were flat and the ATR is 0)."""
    return points / x.atr if x.atr else 0.0


def pnf_columns(closes: Sequence[int], box: int, reversal: int) -> int:
    """Columns of a close-only point-and-figure chart (``box`` points, ``reversal`` boxes)."""
    if box <= 0 or not closes:
        return 0
    hi = lo = closes[0] // box
    d = 0
    cols = 1
    for c in closes[1:]:
        b = c // box
        if d == 0:
            if b >= hi + reversal:
                d, hi = 1, b
            elif b <= lo - reversal:
                d, lo = -1, b
        elif d > 0:
            if b > hi:
                hi = b
            elif b <= hi - reversal:
                d, lo, cols = -1, b, cols + 1
        else:
            if b < lo:
                lo = b
            elif b >= lo + reversal:
                d, hi, cols = 1, b, cols + 1
    return cols


class Machine:
    """One instrument's structure. ``closes(a, b)`` returns the closes of bars a..b-1."""

    def __init__(self, symbol: str, scale: int, params: WyckoffParams,
                 price: Callable[[float], Decimal] | None, closes: Callable[[int, int], Sequence[int]]) -> None:
        self.symbol = symbol
        self.scale = scale
        self.p = params
        self.price = price
        self.closes = closes
        self.range: TradingRange | None = None
        self.outside = ""  # the phase outside a range: "" or "E"
        self.trend = 0  # the direction of phase E
        # with e_until_proven: phase E's side and the middle of the range it broke out of, from phase E until a range
        # proves itself, a close goes back beyond that middle or price leaves a range the other way
        self.e_held: tuple[int, int] | None = None
        self.candidates: deque[tuple[int, Pending]] = deque()  # preliminary support/supply candidates
        self.events: list[WyckoffEvent] = []
        self.signals: list[Signal] = []
        self.blocked = 0  # signals held back by the higher timeframe
        self.short_reward = 0  # signals dropped: no target at ``min_reward_risk`` times the risk
        self.ranges: list[TradingRange] = []  # every range opened, for charts and scoring

    @property
    def phase(self) -> str:
        r = self.range
        # a provisional range shows phase A once the rally off its climax is under way, unless it
        # interrupts a markup (markdown), which holds until the range is confirmed; with e_until_proven
        # phase E as shown is e_held: from phase E until a range proves itself (through a range's phase A
        # too), a close goes back beyond the middle of the range it broke out of, or price leaves a range the
        # other way
        if self.p.e_until_proven:
            e = self.e_held is not None
            if r is None or (r.far is None and (e or not r.rallying)):
                return "E" if e else ""
            if r.held and e and (r.after_trend or r.phase == "A"):
                return "E"
            return r.phase
        if r is None or (r.far is None and (self.outside or not r.rallying)):
            return self.outside
        if r.held and r.after_trend:  # a pause in the markup (markdown) until it proves itself a range
            return "E"
        return r.phase

    # ------------------------------------------------- conditions (scalars or columns)
    # Each is written once and read by ``wake`` (on a chunk of columns, or a bar) and by ``step``
    # (on the bar), so the two can never disagree on what a condition means.
    def _ar_confirmed(self, x: Any, r: TradingRange) -> Any:
        move = (r.peak - r.near) * r.context
        return (x.atr > 0) & (move >= self._ar_min(r) * x.atr) \
            & ((r.peak - x.c) * r.context >= self.p.ar_retrace * move)

    def _ar_min(self, r: TradingRange) -> float:
        """The AR's least height in ATR: ``ar_min_atr``, or less for a sharp one (a move of
        ``ar_sharp`` * sqrt(bars from the climax's extreme to the peak) ATR, at least ``ar_sharp_floor``):
        how far a rally must go to stand out from the bars' noise depends on how many bars it took."""
        p = self.p
        if p.ar_sharp <= 0:
            return p.ar_min_atr
        return min(p.ar_min_atr, max(p.ar_sharp_floor, p.ar_sharp * math.sqrt(max(r.peak_i - r.near_i, 1))))

    def _secondary_test(self, x: Any, r: TradingRange) -> Any:
        p, sup, res, ht = self.p, r.support, r.resistance, r.height
        if r.context > 0:
            return x.sw_lo & (x.sw_lo_px >= sup) & (x.sw_lo_px - sup <= p.st_zone * ht) \
                & (x.sw_lo_v < p.st_volume * r.climax_v)
        return x.sw_hi & (x.sw_hi_px <= res) & (res - x.sw_hi_px <= p.st_zone * ht) \
            & (x.sw_hi_v < p.st_volume * r.climax_v)

    def _climax_beyond(self, x: Any, r: TradingRange) -> Any:
        return (x.sc & (x.l < r.support)) | (x.bc & (x.h > r.resistance))

    def _e_over(self, x: Any) -> Any:
        """Phase E is over: the bars' regime and the higher timeframe's have both turned against it
        (the higher timeframe alone lags: it still shows the trend before the range as a markup starts)."""
        return (x.regime == -self.trend) & (x.htf == -self.trend)

    def _past_half(self, x: Any, r: TradingRange) -> Any:
        """After a spring (upthrust): a close in the range's upper (lower) half."""
        if r.direction > 0:
            return 2 * (x.c - r.support) >= r.height
        return 2 * (r.resistance - x.c) >= r.height

    def _below(self, x: Any, r: TradingRange) -> Any:
        """Trading below support far enough to start an excursion (a spring, or a break)."""
        return (x.l <= r.support - self.p.spring_min_penetration_atr * x.atr) \
            | (x.c <= r.support - self.p.breakout * r.height)

    def _above(self, x: Any, r: TradingRange) -> Any:
        return (x.h >= r.resistance + self.p.spring_min_penetration_atr * x.atr) \
            | (x.c >= r.resistance + self.p.breakout * r.height)

    def _back_through(self, x: Any, r: TradingRange) -> Any:
        """After a break: a close back through the opposite edge."""
        return (x.c < r.support) if r.direction > 0 else (x.c > r.resistance)

    def _marked(self, x: Any, r: TradingRange) -> Any:
        """After a break: phase E (far enough beyond the edge, or beyond the best since the LPS)."""
        p, d = self.p, r.direction
        far = (x.c - r.resistance >= p.markup_height * r.height) if d > 0 \
            else (r.support - x.c >= p.markup_height * r.height)
        if r.lps is None:
            return far
        return far | ((x.c > r.best) if d > 0 else (x.c < r.best))

    def _last_point(self, x: Any, r: TradingRange) -> Any:
        """After a break: a swing back toward the edge that holds, on quiet volume."""
        p, ht = self.p, r.height
        assert r.sos is not None
        if r.direction > 0:
            return x.sw_lo & (x.sw_lo_t > r.sos.bar_ts_ns) & (x.sw_lo_px >= r.resistance - p.lps_depth * ht) \
                & (r.best - x.sw_lo_px >= p.lps_pullback * ht) & (x.sw_lo_v < p.lps_volume * x.vbase)
        return x.sw_hi & (x.sw_hi_t > r.sos.bar_ts_ns) & (x.sw_hi_px <= r.support + p.lps_depth * ht) \
            & (x.sw_hi_px - r.best >= p.lps_pullback * ht) & (x.sw_hi_v < p.lps_volume * x.vbase)

    def _e_void(self, x: Any) -> Any:
        """Phase E as shown ends: a close back beyond the middle of the range it broke out of (phase E is on the
        break side of it)."""
        assert self.e_held is not None
        side, middle = self.e_held
        return (x.c < middle) if side > 0 else (x.c > middle)

    # ---------------------------------------------------------------- when to wake
    def wake(self, x: Any) -> Any:
        if self.p.e_until_proven and self.e_held is not None:
            return self._wake(x) | self._e_void(x)
        return self._wake(x)

    def _wake(self, x: Any) -> Any:
        p = self.p
        r = self.range
        if r is None:
            w = x.sc | x.bc | x.ps | x.psy
            if self.outside == "E":
                w = w | self._e_over(x)
            return w
        if r.exc is not None:
            return x.i >= 0
        if r.far is None:
            beyond = (x.l < r.near) if r.context > 0 else (x.h > r.near)
            further = (x.h > r.peak) if r.context > 0 else (x.l < r.peak)
            w = (x.i - r.climax_i > p.ar_max_bars) | beyond | further | self._ar_confirmed(x, r)
            if self.outside == "E":
                w = w | self._e_over(x)
            return w
        if r.sos is not None:
            w = (x.i - r.sos_i > p.lps_window) | (x.i - r.start > p.max_range_bars) | self._marked(x, r) \
                | self._back_through(x, r)
            if r.lps is None:
                further = (x.h > r.best) if r.direction > 0 else (x.l < r.best)
                w = w | further | self._last_point(x, r)
            return w
        w = (x.i - r.start > p.max_range_bars) | self._below(x, r) | self._above(x, r)
        if r.phase == "A":
            w = w | self._secondary_test(x, r) | (x.i == self._st_due(r))
        if r.held and (r.st is not None or not (r.sharp and self.p.ar_sharp_needs_st)):
            w = w | (x.i == self._proven(r))
        if self._replaceable(r):
            w = w | self._climax_beyond(x, r)
        if r.phase == "C" and r.direction:
            w = w | self._past_half(x, r)
        return w

    # ---------------------------------------------------------------- what to do
    def step(self, x: Row) -> None:
        if self.p.e_until_proven and self.e_held is not None and self._e_void(x):
            self.e_held = None
            if not self._wake(x):
                return  # only phase E's end as shown: nothing else to decide at this bar
        r = self.range
        if r is None:
            self._outside(x)
        elif r.far is None:
            self._before_ar(x, r)
        elif r.sos is not None:
            self._after_break(x, r)
        else:
            self._in_range(x, r)

    def _ev(self, name: str, t: int, px: int, x: Row, **numbers: float) -> WyckoffEvent:
        ev = WyckoffEvent(self.symbol, name, t, px / self.scale,
                          tuple((k, round(float(v), 6)) for k, v in numbers.items()), x.t)
        self.events.append(ev)
        return ev

    def _ratios(self, x: Row) -> dict[str, float]:
        return {"range_atr": per_atr(x.rng, x), "volume_ratio": x.v / x.vbase if x.vbase else 0.0}

    def _close(self, x: Row, dropped: bool = False) -> None:
        """Leave the range; a ``dropped`` one (it never proved itself, so none of its events was
        reported) is forgotten: no chart or score sees a range the detector never reported."""
        r = self.range
        if r is not None:
            r.end, r.end_t = x.i, x.t
            if dropped:
                r.held = []
                if self.ranges and self.ranges[-1] is r:
                    self.ranges.pop()
        self.range = None

    def _enter_e(self, r: TradingRange, side: int) -> None:
        """Phase E, the markup (``side`` 1) or markdown out of range ``r``."""
        self.outside, self.trend = "E", side
        self.e_held = (side, (r.support + r.resistance) // 2)

    def _outside(self, x: Row) -> None:
        p = self.p
        if self.outside == "E" and self._e_over(x):
            self.outside, self.trend = "", 0
        if x.sc or x.bc:
            s = 1 if x.sc else -1
            edge = x.l if s > 0 else x.h
            # the rally is measured from the bars after the climax, never from the climax bar's own span
            r = TradingRange(s, x.i, edge, self._climax(x, s), x.v, x.i, edge, x.t, peak_i=x.i, near_t=x.t, near_i=x.i)
            fitting = [c for i, c in self.candidates
                       if c.numbers["side"] == s and p.ps_gap <= x.i - i <= p.trend_lookback]
            if fitting:
                r.pending_ps = fitting[-1]
            self.candidates.clear()
            self.range = r  # provisional until its AR: the phase outside (E or none) holds until then
        elif x.ps or x.psy:
            s = 1 if x.ps else -1
            while self.candidates and x.i - self.candidates[0][0] > p.trend_lookback:
                self.candidates.popleft()
            self.candidates.append((x.i, Pending(x.t, x.l if s > 0 else x.h,
                                                 {"side": s, **self._trend(x, s), **self._ratios(x)})))

    def _trend(self, x: Row, s: int) -> dict[str, float]:
        fall = (x.hi_close - x.c) if s > 0 else (x.c - x.lo_close)
        return {"trend_atr": per_atr(fall, x)}

    def _climax(self, x: Row, s: int) -> Pending:
        return Pending(x.t, x.l if s > 0 else x.h, {**self._trend(x, s), **self._ratios(x)})

    def _before_ar(self, x: Row, r: TradingRange) -> None:
        p = self.p
        s = r.context
        if self.outside == "E" and self._e_over(x):
            self.outside, self.trend = "", 0
        if x.i - r.climax_i > p.ar_max_bars:  # counted from the climax that stands (a deeper one restarts it)
            self._close(x)
            return
        if (x.l < r.near) if s > 0 else (x.h > r.near):
            r.near, r.near_t, r.near_i = (x.l if s > 0 else x.h), x.t, x.i
            if x.sc if s > 0 else x.bc:
                if x.i - r.climax_i >= p.ps_gap:  # the stop it undercuts was preliminary
                    r.pending_ps = r.pending_climax
                r.pending_climax, r.climax_v, r.climax_i = self._climax(x, s), x.v, x.i
                r.start = x.i  # the range starts at the climax that stands
            r.peak, r.peak_t, r.peak_i = r.near, x.t, x.i  # a new low restarts the rally: it starts from the bars after it
            return
        if (x.h > r.peak) if s > 0 else (x.l < r.peak):
            r.peak, r.peak_t, r.peak_i = (x.h if s > 0 else x.l), x.t, x.i
            r.rallying = r.rallying or (r.peak - r.near) * s >= 0.5 * p.ar_min_atr * x.atr
        if not self._ar_confirmed(x, r):
            return
        move = (r.peak - r.near) * s
        if move < p.ar_over_trend_swing * self._largest_swing(r, s):
            return  # not yet a change of character: the trend had rallies (reactions) as big
        # the AR is confirmed: report what the range is made of
        if r.pending_ps is not None:
            ps = r.pending_ps
            r.preliminary = self._ev("preliminary_support" if s > 0 else "preliminary_supply", ps.t, ps.px, x,
                                     **{k: v for k, v in ps.numbers.items() if k != "side"})
        c = r.pending_climax  # its numbers; the climax is the stopping action's extreme (often a bar or more later)
        r.climax = self._ev("selling_climax" if s > 0 else "buying_climax", r.near_t, r.near, x, **c.numbers,
                            heavy_bar_bars_before=float(r.near_i - r.climax_i))
        r.far = r.peak
        r.ar = self._ev("automatic_rally" if s > 0 else "automatic_reaction", r.peak_t, r.peak, x,
                        height_atr=per_atr(move, x), retrace=(r.peak - x.c) * s / move)
        r.ar_known = x.i
        r.sharp = move < p.ar_min_atr * x.atr
        r.after_trend = self.trend if self.outside == "E" else 0
        if p.report_after_phase_a:
            held = 3 if r.preliminary is not None else 2
            r.held = self.events[-held:]
            del self.events[-held:]
        self.ranges.append(r)
        self.outside, self.trend = "", 0
        if not r.held:  # reported at once (report_after_phase_a off): it has proved itself
            self.e_held = None

    def _in_range(self, x: Row, r: TradingRange) -> None:
        p = self.p
        sup, res, ht = r.support, r.resistance, r.height
        if x.i - r.start > p.max_range_bars:
            self._close(x, dropped=bool(r.held))  # never proved: nothing of it was reported
            return
        if self._replaceable(r) and self._climax_beyond(x, r):
            self._close(x, dropped=bool(r.held))  # a climax beyond the range: what stopped the trend was preliminary
            self._outside(x)
            return
        if r.phase == "A" and self._secondary_test(x, r):
            px, t, vol = (x.sw_lo_px, x.sw_lo_t, x.sw_lo_v) if r.context > 0 else (x.sw_hi_px, x.sw_hi_t, x.sw_hi_v)
            r.phase = "B"
            r.st = self._ev("secondary_test", t, px, x, volume_climax=vol / r.climax_v,
                            depth_height=abs(px - r.near) / ht)
            if r.held:  # reported with the rest of phase A once the range has proved itself
                r.held.append(self.events.pop())
        if r.phase == "A" and x.i >= self._st_due(r):
            r.phase = "B"
        if r.held and x.i >= self._proven(r) and (r.st is not None or not (r.sharp and p.ar_sharp_needs_st)):
            if not self._passes(x, r, gate.PROVEN_BY_TIME):
                self._close(x, dropped=True)
                return
            self._report_held(x, r)
        if r.phase == "C" and r.direction and self._past_half(x, r):
            r.phase = "D"
        pen = p.spring_min_penetration_atr * x.atr
        if r.exc is None:
            if self._below(x, r):
                r.exc = Excursion(-1, x.i, x.l, x.t, 0.0, extreme_i=x.i)
            elif self._above(x, r):
                r.exc = Excursion(1, x.i, x.h, x.t, 0.0, extreme_i=x.i)
            else:
                return
            if r.phase == "B" and r.c_event is None and self._mature(x, r):
                r.exc.prior, r.phase = "B", "C"  # the test of phase C is under way: a spring/upthrust or a break
        e = r.exc
        if (x.l < e.extreme) if e.side < 0 else (x.h > e.extreme):
            e.extreme, e.extreme_t, e.extreme_i = (x.l if e.side < 0 else x.h), x.t, x.i
            e.back_i = -1  # beyond its extreme again: no longer coming back
        if e.back_i < 0:  # the excursion's own bars, up to its first close back inside (not the rally after)
            e.volume = max(e.volume, x.v / x.vbase if x.vbase else 0.0)
        edge = sup if e.side < 0 else res
        if not e.broke_t and (x.c - edge) * e.side > 0:
            e.broke_t = x.t
        depth = (edge - e.extreme) * -e.side  # > 0: how far beyond the edge
        bars = x.i - e.extreme_i + 1  # a spring closes back inside soon after its extreme ...
        inside = (x.c > sup) if e.side < 0 else (x.c < res)
        too_long = bars > p.spring_recovery_bars or x.i - e.start + 1 > p.spring_max_bars  # ... and is brief
        # while a spring waits for its confirming close (back_i), only a close beyond the edge again
        # puts it back on the clock of its extreme
        if depth > p.spring_max_penetration * ht or (too_long and (e.back_i < 0 or not inside)):
            self._break(x, r, e.side, e)
            return
        if not inside:
            e.back_i = -1
            return
        bullish = e.side < 0
        allowed = self._c_open(r, bullish, e, depth / ht)  # one spring or upthrust per range; later ones test it
        shallow = depth < pen or depth < p.spring_min_penetration * ht
        test = not self._mature(x, r) or shallow or not allowed or e.volume > p.spring_max_volume
        if not test and p.spring_confirm > 0:
            # a spring is confirmed by demand coming back (a close well inside), not by one close
            # over the edge: a break whose pull-back closes just inside is a sign of weakness
            if e.back_i < 0:
                e.back_i = x.i
            if ((x.c - sup) if bullish else (res - x.c)) < p.spring_confirm * ht:
                if x.i - e.back_i < p.spring_confirm_bars:
                    return  # waiting: a confirming close, none in time (a test), or back beyond the edge
                test = True
        r.exc = None
        if e.prior:
            r.phase = e.prior  # until it proves a spring/upthrust
        if test:
            return  # a test of the edge, not a spring/upthrust
        if r.held:  # a spring or upthrust: the range has proved itself
            if not self._passes(x, r, gate.PROVEN_BY_SPRING):
                if p.spring_gate_test and r.trust >= p.gate_min:
                    # trusted as a range but not for a spring: a test of the edge, and the range waits to prove
                    # itself otherwise
                    r.gate, r.trust = (), -1.0
                    return
                self._close(x, dropped=True)
                return
        c_trust = self._c_trust(x, r, bullish, depth, e)
        # a shallow one, which looser floors admit, may be held to more
        if 0 <= c_trust < p.c_least(depth < 2 * pen or depth < 2 * p.spring_min_penetration * ht):
            # the phase-C gate does not trust it: a test of the edge, and a range it would have proved waits to
            # prove itself otherwise
            if r.held:
                r.gate, r.trust = (), -1.0
            return
        if r.held:
            self._report_held(x, r)
        name = "spring" if bullish else "upthrust"
        back = e.back_i if e.back_i >= 0 else x.i  # its first close back inside
        ev = self._ev(name, e.extreme_t, e.extreme, x, penetration_atr=per_atr(depth, x), penetration_height=depth / ht,
                      volume_ratio=e.volume, recovery_bars=float(back - e.extreme_i + 1),
                      tests=float(r.st is not None), **({"c_trust": c_trust} if c_trust >= 0 else {}))
        was, replaced = r.direction, r.c_event  # 0 and None, or the phase-C event this one replaces and its direction
        r.c_event = ev
        r.direction = 1 if bullish else -1
        r.kind = KINDS[(r.context, r.direction)]
        r.phase = "C"
        depth_frac = depth / ht
        conf = 0.5 + 0.1 * (r.st is not None) + (0.1 if depth_frac < 0.3 else 0.0) \
            + (0.1 if e.volume < 1.5 else 0.0)
        far = res if bullish else sup
        self._signal(x, r, ev, e.extreme, [far, far + r.direction * ht], conf, r.start, x.i + 1, established=was,
                     replaced=replaced)

    def _c_trust(self, x: Row, r: TradingRange, bullish: bool, depth: int, e: Excursion) -> float:
        """The phase-C gate's score of this spring or upthrust (-1 with the gate off: ``c_gate_min`` 0). Its
        features are taken either way (a few numbers, once per spring or upthrust): the trainer,
        bench/wyckoff_c_gate.py, records them here with the gate off, before any trees exist."""
        f = gate.c_features(x, r, bullish, depth, e.volume, e.extreme_i, e.back_i if e.back_i >= 0 else x.i, e.start)
        if self.p.c_gate_min <= 0:
            return -1.0
        return round(gate.load(gate.C_MODEL, gate.C_FEATURES).score(f), 6)

    def _c_open(self, r: TradingRange, bullish: bool, e: Excursion, depth_height: float) -> bool:
        """May this excursion be the range's spring (``bullish``) or upthrust? The first one always may;
        after it, before the break, with ``c_replaced_by_opposite`` an opposite one replaces it (an upthrust
        in an accumulation's phase B is its upthrust action, not its phase C; a spring in a distribution's
        the mirror), and with ``c_replaced_by_same`` one beyond the first one's extreme does (the first was
        not the low); else each later one is a test of the first. With ``c_replace_depth`` a replacement
        must also reach that many times the first one's penetration (in range heights)."""
        ev = r.c_event
        if ev is None:
            return True
        p = self.p
        if (r.direction > 0) != bullish:
            # with c_replace_toward_context, only a spring in a range a selling climax opened (an upthrust in one
            # a buying climax opened): the phase-B upthrust action before an accumulation's spring, the mirror
            toward = bullish == (r.context > 0)
            may = p.c_replaced_by_opposite and (toward or not p.c_replace_toward_context)
        else:
            first = round(ev.price * self.scale)
            may = p.c_replaced_by_same and (e.extreme < first if bullish else e.extreme > first)
        # (the first one's numbers are read only for a replacement the options allow)
        return may and depth_height >= p.c_replace_depth * dict(ev.numbers).get("penetration_height", 0.0)

    def _largest_swing(self, r: TradingRange, s: int) -> int:
        """The largest rally (s > 0; reaction, s < 0) in the closes of the trend lookback before
        the climax: the AR must outdo it to show a change of character."""
        best = 0
        extreme: int | None = None
        for c in self.closes(max(r.climax_i - self.p.trend_lookback, 0), r.climax_i):
            extreme = c if extreme is None or (c - extreme) * s < 0 else extreme
            best = max(best, (c - extreme) * s)
        return best

    @staticmethod
    def _paced(r: TradingRange, floor: int, ratio: float) -> int:
        """A duration at the range's own pace: ``ratio`` times phase A's bars (climax to the AR's
        confirmation), at least ``floor`` bars."""
        return max(floor, round(ratio * (r.ar_known - r.climax_i)))

    def _st_due(self, r: TradingRange) -> int:
        """The bar at which phase A gives way to B when no secondary test came."""
        return r.ar_known + self._paced(r, self.p.st_window, self.p.st_window_ratio)

    def _mature(self, x: Row, r: TradingRange) -> bool:
        """Old enough (from the AR) for a spring or upthrust to count."""
        return x.i - r.ar_known >= self._paced(r, self.p.min_range_bars, self.p.min_range_ratio)

    def _replaceable(self, r: TradingRange) -> bool:
        """A climax beyond the range replaces it in phase A (and B with ``climax_replaces_in_b``)."""
        return r.phase == "A" or (r.phase == "B" and self.p.climax_replaces_in_b)

    def _proven(self, r: TradingRange) -> int:
        """The bar from which the range has held long enough to be one (not a pause in the trend)."""
        return r.ar_known + self._paced(r, self.p.proven_bars, self.p.proven_ratio)

    def _passes(self, x: Row, r: TradingRange, proven_by: int) -> bool:
        """The range has proved itself by the rules: does the range gate keep it? (Its features and
        score are kept on the range, for charts and for training the gate.)"""
        r.gate = gate.features(x, r, proven_by)
        if self.p.gate_min <= 0:
            return True
        r.trust = round(gate.load(gate.MODEL).score(r.gate), 6)
        if proven_by == gate.PROVEN_BY_SPRING:
            return r.trust >= max(self.p.gate_min, self.p.spring_gate_min)
        return r.trust >= self.p.gate_min

    def _report_held(self, x: Row, r: TradingRange) -> None:
        """The range has proved itself (it held, or price left it against the trend before it), so
        the PS, the climax, the AR and the ST are reported now, known at this bar."""
        self.e_held = None
        out = [replace(e, known_ns=x.t) for e in r.held]
        self.events.extend(out)
        named = {e.event: e for e in out}
        r.preliminary = named.get(r.preliminary.event) if r.preliminary is not None else None
        r.climax = named[r.climax.event] if r.climax is not None else None
        r.ar = named[r.ar.event] if r.ar is not None else None
        r.st = named.get(r.st.event) if r.st is not None else None
        r.held = []

    def _break(self, x: Row, r: TradingRange, side: int, e: Excursion | None = None) -> None:
        r.exc = None
        if self.e_held is not None and self.e_held[0] == -side:
            self.e_held = None  # price left a range against the phase E shown: that markup (markdown) is over
        if r.held:
            if side == -r.context:  # the trend went on before the range proved itself: it was a pause
                self._close(x, dropped=True)
                if r.after_trend == side:  # the markup (markdown) it interrupted goes on
                    self._enter_e(r, side)
                self._outside(x)  # the bar that broke it may be the climax of a range of its own
                return
            if not self._passes(x, r, gate.PROVEN_BY_BREAK):
                self._close(x, dropped=True)
                self._outside(x)
                return
            self._report_held(x, r)
        name = "sign_of_strength" if side > 0 else "sign_of_weakness"
        edge = r.resistance if side > 0 else r.support
        t = e.broke_t if e is not None and e.side == side and e.broke_t else x.t  # the break's own bar
        r.sos = self._ev(name, t, x.c, x, beyond_height=(x.c - edge) * side / r.height, **self._ratios(x))
        r.sos_i = x.i
        r.best = x.h if side > 0 else x.l
        if e is not None and e.side == side:
            r.best = max(r.best, e.extreme) if side > 0 else min(r.best, e.extreme)
        r.direction = side
        r.kind = KINDS[(r.context, side)]
        r.phase = "D"
        r.lps = None

    def _after_break(self, x: Row, r: TradingRange) -> None:
        p = self.p
        sup, res, ht = r.support, r.resistance, r.height
        d = r.direction
        if self._back_through(x, r):
            self._break(x, r, -d)  # the break failed: price went through the other edge
            return
        if self._marked(x, r):
            self._close(x)
            self._enter_e(r, d)
            return
        if x.i - r.sos_i > p.lps_window or x.i - r.start > p.max_range_bars:  # breaks back and forth end too
            self._close(x)
            beyond = ((x.c - res) if d > 0 else (sup - x.c)) > 0
            if beyond:
                self._enter_e(r, d)
            else:
                self.outside, self.trend = "", 0
            return
        assert r.sos is not None
        if r.lps is not None:
            return
        if (x.h > r.best) if d > 0 else (x.l < r.best):
            r.best = x.h if d > 0 else x.l
        if not self._last_point(x, r):
            return
        px, t, vol = (x.sw_lo_px, x.sw_lo_t, x.sw_lo_v) if d > 0 else (x.sw_hi_px, x.sw_hi_t, x.sw_hi_v)
        edge = res if d > 0 else sup
        r.lps = self._ev("last_point_of_support" if d > 0 else "last_point_of_supply", t, px, x,
                         volume_ratio=vol / x.vbase, hold_height=(px - edge) * d / ht)
        if p.lps_starts_e:
            r.phase = "E"
        conf = 0.55 + 0.1 * (r.c_event is not None) + 0.1 * (vol < 0.7 * x.vbase) + 0.05 * (r.st is not None)
        self._signal(x, r, r.lps, px, [edge + d * ht, edge + 2 * d * ht], conf, r.start, r.sos_i + 1)

    def _signal(self, x: Row, r: TradingRange, ev: WyckoffEvent, extreme: int, targets: list[int],
                confidence: float, cause_from: int, cause_to: int, established: int | None = None,
                replaced: WyckoffEvent | None = None) -> None:
        p = self.p
        side = 1 if ev.event in ("spring", "last_point_of_support") else -1
        if x.htf == -side:
            self.blocked += 1
            return
        if self.price is None:
            return
        box = max(1, int(p.pnf_box_atr * x.atr))
        cols = pnf_columns(self.closes(cause_from, cause_to), box, p.pnf_reversal)
        count = extreme + side * cols * box * p.pnf_reversal
        if ev.event.startswith("last_point") and p.stop_beyond_range:
            extreme = r.support if side > 0 else r.resistance
        stop = extreme - side * p.stop_buffer_atr * x.atr
        wanted = sorted({t for t in (*targets, count) if (t - x.c) * side > 0}, key=lambda t: t * side)
        entry, stop_px = self.price(x.c / self.scale), self.price(stop / self.scale)
        prices = tuple(dict.fromkeys(self.price(t / self.scale) for t in wanted))
        risk = (entry - stop_px) * side
        prices = tuple(t for t in prices if (t - entry) * side >= Decimal(str(p.min_reward_risk)) * risk)
        if risk <= 0:
            return
        if not prices:
            self.short_reward += 1  # no target pays the minimum reward for the risk
            return
        reward_risk = float((prices[0] - entry) * side / risk)
        evidence = [e.evidence() for e in (r.preliminary, r.climax, r.ar, r.st, replaced, r.c_event, r.sos)
                    if e is not None and e is not ev]
        evidence.append(ev.evidence())
        # the direction the range had established before this signal (the spring or upthrust passes its own: 0 at
        # a first one; an LPS follows its break): a signal goes against it only when a spring or upthrust replaces
        # an opposite one (c_replaced_by_opposite), and the record shows it
        if established is None:
            established = r.direction
        # and the signal bar's market: its trend regime and volume-spread flags (features for learning)
        evidence.append(Evidence("structure", x.t, (("context", float(r.context)), ("direction", float(established)),
                                                    ("regime", float(x.regime)), ("no_demand", float(x.no_demand)),
                                                    ("no_supply", float(x.no_supply)),
                                                    ("effort_no_result", float(x.effort_no_result)))))
        evidence.append(Evidence("cause", x.t, (("pnf_columns", float(cols)), ("box_points", float(box)),
                                                ("height_atr", per_atr(r.height, x)), ("htf_regime", float(x.htf)),
                                                ("reward_risk", round(reward_risk, 4)))))
        self.signals.append(Signal(
            self.symbol, Side.BUY if side > 0 else Side.SELL, x.t, entry, stop_px, prices,
            round(min(confidence + (0.05 if x.htf == side else 0.0), 0.95), 4), ev.event, tuple(evidence),
            atr=round(x.atr / self.scale, 8)))
