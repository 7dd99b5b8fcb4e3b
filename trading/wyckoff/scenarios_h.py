"""Family H of labelled Wyckoff scenarios: a Kyle insider in a self-exciting tick stream, MetaTrader-5 FX and gold bars.

Blindness
---------
Written blind to the detector: of the repository only ``trading/wyckoff/scenarios.py`` (whole), the
module docstrings (the text before the first import) of ``scenarios_e.py``, ``scenarios_f.py`` and
``scenarios_g.py``, ``tests/trading/scenario_contract.py`` and ``tests/trading/test_scenarios_g.py``
(whole), the two definitions ``PHASES`` and ``KINDS`` in ``trading/wyckoff/machine.py`` and
``pyproject.toml`` were read. Nothing of the detector, its features, gate, parameters, scoring,
charts, real bars, the other families' code, ``docs/wyckoff.md``, the benchmarks or their results
was read, imported or run, and the detector was never run on these scenarios. Only ``PHASES`` is
imported from the machine (``KINDS`` here is the tuple of the four kind names).

Purpose
-------
A held-out test family built differently from the others (A: Brownian bridges between leg targets
on 1-minute bars; B: GARCH paths around target paths; C: regime-switching drift segments; D: an
agent-based order-flow model on 30-minute bars; E: a variance-gamma particle between soft walls on
15m-4h FX bars; F: Hawkes market orders through a limit-order book on index-CFD 5m/1h/daily bars;
G: heterogeneous agents around an operator's hidden value on crypto and stock bars). Here the bars
are what a retail broker's MetaTrader 5 terminal shows: bid bars aggregated from a quote (tick)
stream of FX majors, crosses and gold, with the volume the bar's *tick count* (not traded size), on
the forex week with its Sunday gap, its thin rollover hour with a widened spread and its scheduled
releases. The tick stream is a Cox process whose intensity is self-exciting at the bar level; every
tick moves the mid by a whole number of points. The composite operator is a Kyle (1985) insider:
it knows the hidden schedule's next value and when it is announced, and trades toward it at the
Kyle rate ``(value - mid) / (time left)``, hidden among the noise ticks (its clips are ticks
too, so its effort is volume). There are no walls, no order book and no price impact rule other
than "a tick moves the quote": the range holds because the insider's next value stays inside it,
the climax is made by the public's one-sided ticks and the insider's absorption, and the schematic
proportions vary widely (ranges from 20 to about 1000 bars, phase B from 4 % to 90 % of them,
heights of 5 to 42 bar sigmas, a PS in about half).

Calendar and bars
-----------------
Per scenario (``BAR_CHOICES``, weights ``BAR_WEIGHTS``): 15-minute (40 %), 1-hour (35 %) or 4-hour
(25 %) bars, the scenario's ``bar_ns``. The forex week runs from Sunday 22:00 to Friday 22:00 UTC
(``WEEK_OPEN_NS``, ``TRADING_NS``: 120 hours), bars aligned to the Sunday open (a broker on
GMT+2 server time: 4-hour bars start at 22, 02, 06, 10, 14 and 18 UTC), no bars at the weekend. The
first bar is the Sunday 22:00 UTC open ``seed % 250`` weeks after the week of ``START_NS``
(``START_NS - 2 h + (seed % 250)`` weeks); ``end_ns = start_ns + bar_ns``; consecutive bars are
``bar_ns`` apart except across a weekend (``bar_ns + 48 h``). The symbol (``INSTRUMENTS``, uniform):
EURUSD, GBPUSD, AUDUSD, EURGBP (5 digits), USDJPY, EURJPY, GBPJPY (3 digits) or XAUUSD (2 digits), at
a level uniform in its range; prices are integer ``price * SCALE`` on the symbol's point grid
(10, 1000 or 10000 units a point). The bar sigma is 0.035-0.07 % of the level (log-uniform) per 15
minutes, times sqrt(bar length / 15 min) and the symbol's factor (EURGBP 0.75 to gold 1.7).
Volume is the bar's tick count times 100 (the ``Scenario`` field's hundredths of a tick).

The tick stream
---------------
Noise ticks per bar: Poisson(``lambda_t``), at least one, ``lambda_t = rate x session_t x act_t x
liq_t x news_t x max(0.3, 1 + n e_t)``: ``rate`` 50-160 (15m), 150-450 (1h) or 400-1100 (4h) ticks
a bar (times the symbol's factor: EURGBP 0.55 to gold 1.4); ``session_t`` the mean over the bar's
hours of an activity profile by UTC hour (Sydney/Tokyo 0.55-0.7, the London morning 1.15-1.35, the
London/New York overlap 1.4-1.7, the New York afternoon 0.6-1.05, 21:00-23:00 0.3-0.45 around the
rollover; the first two hours of the week x0.6, Friday's last two x0.75); ``act_t`` the leg's
participation (below); ``liq_t`` an AR(1) liquidity factor (0.97, sd 0.05 in log); ``e_t`` the
self-excitation, an exponentially decaying (0.5-0.85 a bar) memory of past bars' excess tick count
(insider clips and news included) over their exogenous intensity, with branching ``n`` 0.2-0.5.
Each noise tick moves the mid by 1 + Geometric points (the mean set so that a bar of ``rate`` ticks
has the bar sigma), up with probability ``(1 + bias_t) / 2``: ``bias_t`` the public's one-sided flow
(``push_t`` bar sigmas over the bar's ticks, clipped to +-0.9). Ticks within a bar are a Cox
process with a constant intensity, so arrivals are uniform in the bar; their times only matter at
the rollover. The insider's clips are ticks of a fixed size (0.8-1.4 x the mean noise tick) inserted
at uniformly random places among the bar's noise ticks. The weekly open jumps the mid by a normal
gap (sd 0.5-3 bar sigmas). Bars are of the bid: ``bid = mid - spread / 2``, the spread 5-35
points by symbol, widened (x 4-11 at the peak, decaying with a 6-minute scale) for ticks near the
22:00 UTC rollover, so the bars around it dip on the bid. Open = the first tick's bid (one tick
after the previous close), close = the last, high/low = the extremes.

Scheduled news (UTC, unlabelled distractors): US data at 12:30 (Tuesday-Friday, 35 % each),
European data at 09:00 (Tuesday-Thursday, 20 %), payrolls at 12:30 on the first Friday of the month,
the FOMC at 18:00 on a Wednesday every sixth week, the ECB at 12:15 on a Thursday every sixth week;
the bar holding a release gets 1 + 2.5 x strength x 0.6-1.4 times the ticks (strength 0.5-2.4) and
a push of 1-3 x sqrt(strength) bar sigmas either way (x0.35 inside the structure, where the insider
takes it back).

The insider (canonical frame: the break expected up, the shakeout below support, in points)
-------------------------------------------------------------------------------------------------
Each leg of the hidden schedule (below) has a goal and a profile (linear; accelerating in the
climax; decelerating in the AR); it is cut into announcement periods of 2-12 bars (1-3 in the
climax, 1-6 in the AR, 1-2 in the snap back after a spring), each with the value on the profile at
its end. In bar ``t`` of a period ending at ``T`` the insider trades ``(value - mid) / (T - t +
slack)`` points (slack 0-1.5 bars: it does not always finish), capped at the leg's pace (the
scenario's 1.2-3 bar sigmas a bar, x3 in the snap) and at twice the noise ticks plus five, in
clips. The noise stretches have no insider. The kinds that resolve down are the canonical mid
mirrored before the spread is taken off.

The hidden schedule (canonical frame; heights H of the planned range)
--------------------------------------------------------------------
H is 8-42 bar sigmas (log-uniform), 5-8 in 12 % of the draws. No leg is planned shorter than 1.3 x
its distance over the pace. Goals are in heights from the climax edge before the range, and in
fractions of the range (0 support, 1 resistance) from the AR on, re-anchored on the realised mid:
at the AR's start on the climax's extreme, at the ST's start on the AR's, at phase C's start on
the range so far. Legs: noise (60-360 bars); the trend (1.5-5.1 H before the edge, 40-300 bars),
in 35 % cut by an unlabelled pause (a counter-move of 12-35 % H; half of them after a
climax-like burst of 1-3 bars, participation 2-3.5, a push of 1.5-3.5 sigma); in 55 % a PS (3-15
bars to 0.15-1 H from the edge, its last 1-2 bars participation 1.3-2.2 and a push of 0.5-1.5
sigma) and its rally (0.15-0.45 H); the climax (3-25 bars to the edge, its last 1-4 bars a burst:
participation rising to 1.6-4.5 and the public's push of 1.8-5.5 sigma a bar, which the insider,
its value at the edge, absorbs); the AR (0.8-1.15 H, its first 1-2 bars participation 1.2-2.6 and a
push of 0.5-2 sigma); the ST (4-40 % of H from the climax side, at least 1.5 sigma). The range
(climax to break) is planned log-uniform 20-1000 bars, phase B 5-60 % of it (in 20 % 60-88 %), the
rest split by Dirichlet weights among the AR, ST, phase-C legs and the break. Phase B: swings about
one per 25-90 bars (odd after a fall, even after a rise, so B ends with a rise; at most 15), AR-side
swings to 55-95 % (in 25 % a probe 1-8 % beyond the AR: unlabelled, it counts in the edges),
climax-side swings to 12-50 % (in 25 % a test within 4-12 %, at least 2 sigma), participation
0.45-0.9. Phase C: a spring (55 % of the draws) 4-30 % of H below support (log-uniform, at least 1.5
sigma, at most 35 % and 8 sigma), quiet (participation 0.5-0.9) or loud (its last 1-3 bars
participation 1.3-2.3 and a push of 0.4-1.5 sigma), then a snap back to 10-25 % in 2-5 bars; a
failure (25 % of the springs) rallies to 30-60 % and breaks down (the SOW 30-70 % of H below the
spring's goal), an LPSY (-30 to +10 %) and the markdown; otherwise in half a rally (30-75 %) and a
test (10-35 %) before the SOS. Without a spring: in 60 % of those with H of at least 12 sigma an
unconfirmed shakeout (14-34 % of H plus 2 sigma below support, a hold of 18-33 bars with the value
55-70 % as deep, a rally of 30-60 % and a test), else a test at 5-30 % (at least 2 sigma), in half
followed by a rally and a second test. The break: the SOS 20-70 % of H above resistance
(participation 1.3-2.2, a push of 0.4-1.3 sigma on its first 1-3 bars); the LPS at 72-110 %; the
markup 1-2.5 H beyond the range in 30-300 bars (phase E); noise (20-200 bars). Long draws are
trimmed in their noise and markup to ``MAX_BARS``, short ones get a longer first noise. Kinds are
uniform.

Labels and phases (all measured on the final integer bars)
----------------------------------------------------------
As family E. From the PS (or the climax) on, every leg with a turning point ends at its extreme in
the real frame (the first lowest low of a trough, the first highest high of a peak) over the bars
from its start to the middle of the next leg; the next leg starts on the bar after it; the snap, the
shakeout's hold and the markup end where planned. A label's ``start`` and ``end`` are its leg's
first and last bar and its ``bar`` the leg's extreme on the event's side, except sign_of_strength /
sign_of_weakness, whose ``bar`` is the first bar of the leg that closes beyond the range edge (the
highest high and lowest low from the climax bar to the end of phase B). Event names:
preliminary_support / preliminary_supply, selling_climax + automatic_rally (a fall into the range)
or buying_climax + automatic_reaction (a rise), secondary_test (the first ST only), spring /
upthrust, sign_of_strength + last_point_of_support (a break up) or sign_of_weakness +
last_point_of_supply (down), named by the actual break. Nothing else is labelled: not the trend's
pause and burst, the phase-B probes and tests, the news, the rollover dips, the weekend gaps, the
snap, rally and test after a spring, nor an unconfirmed shakeout. Phases (np.int8, index into
``PHASES``): "" in the noise and the trend; A from the PS (or climax) leg through the first ST; B the
swings; C from the leg into the spring/test to the bar before the SOS/SOW leg (an unconfirmed
shakeout and its hold included); D that leg and the back-up; E the markup/markdown; "" after.
``structure`` = (first bar of phase A, last bar of phase E); ``direction`` +1 if the break is up;
``failed`` = the break went against the kind (always after a spring/upthrust); ``spring`` = a
spring/upthrust is labelled.

Validation
----------
A draw is kept only if, on the measured bars: every turning leg has at least two bars and, from the
climax on, moves at least 8 % of the range height; the climax is the range's strict extreme on its
side (through the end of phase B) and at least 30 bars in; the PS is not beyond it; the AR moves at
least half the height; a spring/upthrust goes beyond its edge by at most half the height, is phase
C's extreme (its first bar at that depth), closes back inside within ``SHAKEOUT_BARS`` (10) bars and
nothing in phase C goes beyond that edge from ``SHAKEOUT_BARS`` + 1 bars after it; without one,
anything of phase C beyond the edge is an unconfirmed shakeout (no close back inside within
``SLOW_BARS`` (12) bars of its extreme, back inside before the break and staying inside); nothing in
phase C reaches beyond the other edge; the SOS/SOW leg closes beyond its edge; the back-up stays on
the break side of the middle; the range (climax bar to SOS/SOW bar) lasts ``RANGE_BARS`` (20-1300)
bars; the climax's volume ratio (the highest tick count within two bars of it over the mean of the 24
bars ending three bars before it) is in ``CLIMAX_RATIO`` (1.4-30) and its own bar's at least that
mean; the markup ends before the last bar; ``scenarios.undone`` is "". Otherwise the scenario is
redrawn from the same random stream (seeded from the seed and ``SALT``; at most ``MAX_TRIES``, then
RuntimeError).

Measured over seeds 0-299
-------------------------
2.13 draws per kept scenario (the most common rejections: a climax without its tick count, a
climax that phase A or B ties or passes, a phase-C dip that is neither a spring nor slow, or comes
back and goes out again); ``generate`` takes about 95 ms on average. Kinds 89/69/78/64
(accumulation, distribution, reaccumulation, redistribution). A spring/upthrust in 61 % of the kept
scenarios, a failure in 13 % (21 % of those with a spring), an unconfirmed shakeout in 11 %, a PS in
54 %. Bars: 15m 50 %, 1h 33 %, 4h 16 %; 374-1693 bars a scenario (median 888). The range lasts
28-893 bars (median about 137; under 60 in 11 %, over 600 in 5 %); phase B is 7-88 % of it; the
structure (phase A to E) 110-1165 bars. Climax tick-count ratio 1.41-23.5 (10th/50th/90th
percentile 1.7/3.0/6.2); a neighbour within two bars has more ticks than the climax bar in 61 %, and
the climax bar is phase A's heaviest in only 21 % (the AR's first bars, the PS, the news or the
climax's other burst bars are heavier). The spring/upthrust bar has 0.23-30 x the median tick count
of the 50 bars before it (10th/50th/90th percentile 0.8/1.65/4.0): quiet and loud springs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from trading.wyckoff.machine import PHASES
from trading.wyckoff.scenarios import SHAKEOUT_BARS, START_NS, Label, Scenario, undone

MINUTE_NS = 60 * 1_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
WEEK_NS = 7 * DAY_NS
WEEK_OPEN_NS = START_NS - 2 * HOUR_NS  # Sunday 2026-01-04 22:00 UTC: the FX week opens
TRADING_NS = 120 * HOUR_NS  # Sunday 22:00 to Friday 22:00 UTC
ROLLOVER_HOUR = 22  # the daily rollover (17:00 New York), also the week's open
BAR_CHOICES = (15 * MINUTE_NS, HOUR_NS, 4 * HOUR_NS)
BAR_WEIGHTS = (0.4, 0.35, 0.25)
KINDS = ("accumulation", "distribution", "reaccumulation", "redistribution")
MIN_BARS, MAX_BARS = 300, 2500
RANGE_BARS = (20, 1300)  # climax bar to SOS/SOW bar
SLOW_BARS = 12  # an unconfirmed shakeout's closes stay beyond the edge this many bars from its extreme
CLIMAX_RATIO = (1.4, 30.0)
MAX_TRIES = 60
SALT = 0x4D5435  # "MT5"
__all__ = ["BAR_CHOICES", "KINDS", "MAX_BARS", "MIN_BARS", "PHASES", "RANGE_BARS", "SHAKEOUT_BARS", "SLOW_BARS",
           "generate", "scenarios"]

# symbol: (lowest level, highest level, digits, volatility factor, spread in points, ticks factor)
INSTRUMENTS: dict[str, tuple[float, float, int, float, tuple[int, int], float]] = {
    "EURUSD": (1.03, 1.22, 5, 1.0, (5, 12), 1.0),
    "GBPUSD": (1.20, 1.40, 5, 1.15, (8, 16), 0.9),
    "AUDUSD": (0.62, 0.78, 5, 1.1, (6, 14), 0.7),
    "USDJPY": (135.0, 160.0, 3, 1.1, (6, 14), 0.9),
    "EURJPY": (150.0, 175.0, 3, 1.15, (10, 22), 0.7),
    "GBPJPY": (180.0, 205.0, 3, 1.35, (16, 32), 0.75),
    "EURGBP": (0.82, 0.92, 5, 0.75, (8, 16), 0.55),
    "XAUUSD": (1800.0, 2700.0, 2, 1.7, (15, 35), 1.4),
}
# noise ticks a bar at a session factor of 1, by bar length (a retail broker's filtered feed)
TICK_RATES = {15 * MINUTE_NS: (50.0, 160.0), HOUR_NS: (150.0, 450.0), 4 * HOUR_NS: (400.0, 1100.0)}
# activity by UTC hour: Sydney/Tokyo, the London open, the London/New York overlap, the New York
# afternoon, the thin rollover hour (21:00-23:00)
SESSION = np.array([0.6, 0.65, 0.65, 0.6, 0.55, 0.55, 0.7, 1.15, 1.35, 1.3, 1.2, 1.15,
                    1.45, 1.7, 1.6, 1.4, 1.05, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.45])
CODE = {p: i for i, p in enumerate(PHASES)}


class _Reject(Exception):
    """A draw whose measured bars do not show the planned schematic: redrawn."""


@dataclass
class _Leg:
    """One leg of the hidden schedule in the canonical frame (the break expected up, the
    shakeout below support). ``goal`` is where the insider's value ends: ``("none", 0)`` no
    insider (noise), ``("pre", x)`` x heights from the climax edge away from the range,
    ``("rng", f)`` a fraction of the range (0 support, 1 resistance) anchored at the leg's start."""

    role: str
    bars: int
    phase: str
    turn: int  # -1 a trough, +1 a peak, 0 no turning point (ends where planned)
    goal: tuple[str, float]
    act: npt.NDArray[np.float64]  # the public's participation per bar
    push: npt.NDArray[np.float64]  # the public's one-sided flow per bar, in bar sigmas (canonical, + = up)
    cap: float = 1.0  # the insider's pace, in multiples of the scenario's pace
    chunk: tuple[int, int] = (2, 12)  # bars between the schedule's announcements
    profile: str = "linear"
    label: str = ""  # the canonical role's label ("ps", "climax", "ar", "st", "shake", "brk", "backup")
    extra: dict[str, float] = field(default_factory=dict)


def _act(bars: int, level: float, last: int = 0, last_level: float = 1.0, first: int = 0,
         first_level: float = 1.0) -> npt.NDArray[np.float64]:
    a = np.full(bars, level)
    if last:
        a[-last:] = np.linspace(level, last_level, last + 1)[1:]
    if first:
        a[:first] = first_level
    return a


def _push(bars: int, size: float = 0.0, last: int = 0, first: int = 0) -> npt.NDArray[np.float64]:
    p = np.zeros(bars)
    if last:
        p[-last:] = size
    if first:
        p[:first] = size
    return p


@dataclass
class _Plan:
    legs: list[_Leg]
    context: int  # +1 a fall into the range (climax low), -1 a rise (climax high), canonical
    mirror: int  # +1 the real bars are the canonical ones, -1 mirrored
    height: float  # planned range height in points
    sigma: float  # bar sigma in points
    pace: float  # the insider's pace in bar sigmas a bar
    spring: bool
    failed: bool
    slow: bool


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _plan(rng: np.random.Generator, kind: str, sigma: float) -> _Plan:
    u = rng.uniform
    mirror = 1 if kind in ("accumulation", "reaccumulation") else -1
    c = 1 if kind in ("accumulation", "distribution") else -1  # canonical context
    h_sig = _loguniform(rng, 5.0, 8.0) if rng.random() < 0.12 else _loguniform(rng, 8.0, 42.0)
    height = h_sig * sigma
    pace = u(1.2, 3.0)

    def need(dist: float, factor: float = 1.3) -> int:  # no leg faster than the pace
        return max(2, math.ceil(factor * abs(dist) * h_sig / pace))

    def flat(n: int) -> npt.NDArray[np.float64]:
        return np.zeros(n)

    spring = rng.random() < 0.55
    failed = spring and rng.random() < 0.25
    slow = not spring and h_sig >= 12 and rng.random() < 0.6
    legs: list[_Leg] = []
    n0 = int(rng.integers(60, 360))
    legs.append(_Leg("noise", n0, "", 0, ("none", 0.0), _act(n0, 1.0), flat(n0), chunk=(n0, n0)))
    has_ps = rng.random() < 0.55
    x_end = u(0.5, 1.6) if has_ps else u(0.3, 1.5)
    dist = u(1.2, 3.5) + x_end
    if rng.random() < 0.35:  # the trend pauses (unlabelled), half of them after a climax-like burst
        x_mid = (dist + x_end) / 2
        b1 = max(need(dist - x_mid), int(rng.integers(20, 150)))
        burst = int(rng.integers(1, 4)) if rng.random() < 0.5 else 0
        legs.append(_Leg("trend", b1, "", 0, ("pre", x_mid), _act(b1, u(1.0, 1.2), burst, u(2.0, 3.5)),
                         _push(b1, -c * u(1.5, 3.5), burst), extra={"dist": dist}))
        back = x_mid + u(0.12, 0.35)
        b2 = max(need(back - x_mid, 1.6), int(rng.integers(8, 50)))
        legs.append(_Leg("pause", b2, "", 0, ("pre", back), _act(b2, u(0.7, 1.0)), flat(b2)))
        b3 = max(need(back - x_end), int(rng.integers(20, 150)))
        legs.append(_Leg("trend", b3, "", 0, ("pre", x_end), _act(b3, u(1.0, 1.2)), flat(b3)))
    else:
        b1 = max(need(dist - x_end), int(rng.integers(40, 300)))
        legs.append(_Leg("trend", b1, "", 0, ("pre", x_end), _act(b1, u(1.0, 1.2)), flat(b1), extra={"dist": dist}))
    x_from = x_end
    if has_ps:
        x_ps = u(0.15, min(1.0, x_end - 0.2)) if x_end > 0.4 else u(0.15, 0.25)
        bp = max(need(x_end - x_ps), int(rng.integers(3, 15)))
        k = int(rng.integers(1, 3))
        legs.append(_Leg("ps", bp, "A", -c, ("pre", x_ps), _act(bp, u(1.0, 1.2), k, u(1.3, 2.2)),
                         _push(bp, -c * u(0.5, 1.5), k), label="ps"))
        x_from = x_ps + u(0.15, 0.45)
        br = max(need(x_from - x_ps), int(rng.integers(4, 25)))
        legs.append(_Leg("ps_rally", br, "A", c, ("pre", x_from), _act(br, u(0.8, 1.1)), flat(br)))
    kb = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.3, 0.25, 0.15]))
    bc = max(need(x_from, 0.8) + kb, int(rng.integers(3, 25)))
    legs.append(_Leg("climax", bc, "A", -c, ("pre", 0.0), _act(bc, u(1.1, 1.5), kb, u(1.6, 4.5)),
                     _push(bc, -c * u(1.8, 5.5), kb), chunk=(1, 3), profile="late", label="climax"))
    # the range: climax to break, phase B a share of it, the rest by Dirichlet weights
    span = _loguniform(rng, 20.0, 1000.0)
    b_share = u(0.6, 0.88) if rng.random() < 0.2 else u(0.05, 0.6)
    b_bars = span * b_share
    ar_f = u(0.8, 1.15)
    st_f = max(u(0.04, 0.4), 1.5 / h_sig)
    n_c = 2 if not spring else (3 if failed else 2)
    w = rng.dirichlet(np.full(3 + n_c, 1.5)) * (span - b_bars)
    ar_goal = ar_f if c > 0 else 1 - ar_f
    ba = max(need(ar_f), int(w[0]))
    ar_first = int(rng.integers(1, 3))
    legs.append(_Leg("ar", ba, "A", c, ("rng", ar_goal), _act(ba, u(1.2, 1.6), 0, 1.0, ar_first, u(1.2, 2.6)),
                     _push(ba, c * u(0.5, 2.0), 0, ar_first), chunk=(1, 6), profile="early", label="ar"))
    st_goal = st_f if c > 0 else 1 - st_f
    bs = max(need(ar_f - st_f), int(w[1]))
    legs.append(_Leg("st", bs, "A", -c, ("rng", st_goal), _act(bs, u(0.7, 1.0)), flat(bs), label="st"))
    # phase B: odd swings after a fall into the range, even after a rise (B ends with a rise)
    n_sw = max(1, round(b_bars / u(25, 90)))
    if (n_sw % 2 == 1) != (c > 0):
        n_sw += 1
    n_sw = min(n_sw, 15 if c > 0 else 14)
    ws = rng.dirichlet(np.full(n_sw, 2.0)) * b_bars
    level = st_goal
    side = c  # the first swing goes away from the ST (up after a fall)
    for i in range(n_sw):
        if side > 0:  # toward resistance
            if c > 0:  # the AR side: sometimes a probe beyond the AR
                f = 1 + u(0.01, 0.08) if rng.random() < 0.25 else u(0.55, 0.95)
            else:  # the climax side: sometimes a test near the climax
                f = 1 - max(u(0.04, 0.12), 2.0 / h_sig) if rng.random() < 0.25 else 1 - u(0.12, 0.5)
        else:
            if c > 0:
                f = max(u(0.04, 0.12), 2.0 / h_sig) if rng.random() < 0.25 else u(0.12, 0.5)
            else:
                f = -u(0.01, 0.08) if rng.random() < 0.25 else u(0.05, 0.45)
        f = max(f, 2.0 / h_sig) if side < 0 and f > 0 else f
        bb = max(need(f - level), int(ws[i]))
        legs.append(_Leg("b", bb, "B", side, ("rng", f), _act(bb, u(0.45, 0.9)), flat(bb)))
        level, side = f, -side
    # phase C (canonical: the shakeout below support); the frame is re-anchored on the range so far
    wc = list(w[3:])
    if spring:
        d = min(max(_loguniform(rng, 0.04, 0.3), 1.5 / h_sig), 0.35, 8.0 / h_sig)
        loud = rng.random() < 0.5
        bsp = min(max(need(1.0 + d), int(wc[0])), max(need(1.0 + d), 30))
        k = int(rng.integers(1, 4))
        legs.append(_Leg("shake", bsp, "C", -1, ("rng", -d),
                         _act(bsp, u(0.5, 0.9), k, u(1.3, 2.3)) if loud else _act(bsp, u(0.5, 0.9)),
                         _push(bsp, -u(0.4, 1.5), k) if loud else flat(bsp), label="shake"))
        f_snap = u(0.1, 0.25)
        bn = int(np.clip(math.ceil((d + f_snap) * h_sig / (2.5 * pace)), 2, 5))
        legs.append(_Leg("snap", bn, "C", 0, ("rng", f_snap), _act(bn, u(0.9, 1.4)), flat(bn), cap=3.0,
                         chunk=(1, 2)))
        if failed:
            f_r = u(0.3, 0.6)
            br = max(need(f_r - f_snap), int(wc[1]))
            legs.append(_Leg("rally", br, "C", 1, ("rng", f_r), _act(br, u(0.8, 1.2)), flat(br)))
            f_sow = -d - u(0.3, 0.7)
            bw = max(need(f_r - f_sow), int(wc[2]))
            legs.append(_Leg("brk", bw, "D", -1, ("rng", f_sow), _act(bw, u(1.3, 2.2)),
                             _push(bw, -u(0.4, 1.3), 0, int(rng.integers(1, 4))), label="brk"))
            f_b = max(f_sow + 0.15, u(-0.3, 0.1))
            bk = max(need(f_b - f_sow), int(rng.integers(3, 40)))
            legs.append(_Leg("backup", bk, "D", 1, ("rng", f_b), _act(bk, u(0.6, 0.9)), flat(bk), label="backup"))
            f_e = f_sow - u(1.0, 2.5)
        else:
            low_from = f_snap
            if rng.random() < 0.5:
                f_r = u(0.3, 0.75)
                br = max(need(f_r - f_snap), int(wc[1]) // 2)
                legs.append(_Leg("rally", br, "C", 1, ("rng", f_r), _act(br, u(0.8, 1.2)), flat(br)))
                f_t = max(u(0.1, 0.35), 2.0 / h_sig)
                bt = max(need(f_r - f_t), int(wc[1]) // 2)
                legs.append(_Leg("test", bt, "C", -1, ("rng", f_t), _act(bt, u(0.5, 0.9)), flat(bt)))
                low_from = f_t
            f_e = _break_and_after(rng, legs, low_from, wc[-1], need)
    else:
        if slow:
            d = u(0.14, 0.34) + 2.0 / h_sig
            bsp = min(max(need(1.0 + d), int(wc[0])), max(need(1.0 + d), 30))
            legs.append(_Leg("slow", bsp, "C", -1, ("rng", -d), _act(bsp, u(0.8, 1.4)), flat(bsp)))
            bh = int(rng.integers(18, 34))
            legs.append(_Leg("hold", bh, "C", 0, ("rng", -d * u(0.55, 0.7)), _act(bh, u(0.5, 0.8)), flat(bh),
                             chunk=(bh, bh), extra={"slack": 1.0}))
            f_r = u(0.3, 0.6)
            br = max(need(f_r + d), int(wc[1]) // 2)
            legs.append(_Leg("rally", br, "C", 1, ("rng", f_r), _act(br, u(0.8, 1.2)), flat(br)))
        else:
            f_t = max(u(0.05, 0.3), 2.0 / h_sig)
            bt = max(need(1.0 - f_t), int(wc[0]))
            legs.append(_Leg("test", bt, "C", -1, ("rng", f_t), _act(bt, u(0.5, 0.9)), flat(bt)))
            f_r = -1.0
            if rng.random() < 0.5:
                f_r = u(0.3, 0.75)
                br = max(need(f_r - f_t), int(wc[1]) // 2)
                legs.append(_Leg("rally", br, "C", 1, ("rng", f_r), _act(br, u(0.8, 1.2)), flat(br)))
        low_from = f_r
        if f_r > 0:
            f_t2 = max(u(0.1, 0.35), 2.0 / h_sig)
            bt = max(need(f_r - f_t2), int(wc[1]) // 2)
            legs.append(_Leg("test", bt, "C", -1, ("rng", f_t2), _act(bt, u(0.5, 0.9)), flat(bt)))
            low_from = f_t2
        f_e = _break_and_after(rng, legs, max(low_from, 0.0), wc[-1], need)
    be = max(need(abs(f_e), 1.0), int(rng.integers(30, 300)))
    legs.append(_Leg("trend_out", be, "E", 0, ("rng", f_e), _act(be, u(1.0, 1.2)), flat(be)))
    bz = int(rng.integers(20, 200))
    legs.append(_Leg("noise", bz, "", 0, ("none", 0.0), _act(bz, 1.0), flat(bz), chunk=(bz, bz)))
    total = sum(leg.bars for leg in legs)
    if total > MAX_BARS:  # trim the noise and the markup
        over = total - MAX_BARS
        for i in (0, len(legs) - 1, len(legs) - 2):
            floor = 40 if i == 0 else (20 if i == len(legs) - 1 else need(abs(f_e), 1.0))
            cut = min(over, legs[i].bars - floor)
            if cut > 0:
                legs[i] = _resized(legs[i], legs[i].bars - cut)
                over -= cut
        if over > 0:
            raise _Reject("too long")
    total = sum(leg.bars for leg in legs)
    if total < MIN_BARS:
        legs[0] = _resized(legs[0], legs[0].bars + MIN_BARS - total + int(rng.integers(0, 60)))
    return _Plan(legs, c, mirror, height, sigma, pace, spring, failed, slow)


def _resized(leg: _Leg, bars: int) -> _Leg:
    return _Leg(leg.role, bars, leg.phase, leg.turn, leg.goal, np.resize(leg.act, bars), np.zeros(bars),
                leg.cap, (bars, bars) if leg.role == "noise" else leg.chunk, leg.profile, leg.label, leg.extra)


def _break_and_after(rng: np.random.Generator, legs: list[_Leg], low_from: float, share: float,
                     need: Callable[..., int]) -> float:
    """The SOS leg, the LPS and the markup's goal (canonical: up)."""
    u = rng.uniform
    f_s = 1 + u(0.2, 0.7)
    bs = max(int(need(f_s - low_from)), int(share))
    legs.append(_Leg("brk", bs, "D", 1, ("rng", f_s), _act(bs, u(1.3, 2.2)),
                     _push(bs, u(0.4, 1.3), 0, int(rng.integers(1, 4))), label="brk"))
    f_b = min(u(0.72, 1.1), f_s - 0.12)
    bk = max(int(need(f_s - f_b)), int(rng.integers(3, 40)))
    legs.append(_Leg("backup", bk, "D", -1, ("rng", f_b), _act(bk, u(0.6, 0.9)), np.zeros(bk), label="backup"))
    return 1 + u(1.0, 2.5)


def _calendar(seed: int, n: int, bar_ns: int) -> npt.NDArray[np.int64]:
    """Bar starts: the FX week from its Sunday 22:00 UTC open, ``seed % 250`` weeks after START_NS's."""
    per_week = TRADING_NS // bar_ns
    i = np.arange(n, dtype=np.int64)
    first = WEEK_OPEN_NS + (seed % 250) * WEEK_NS
    return first + (i // per_week) * WEEK_NS + (i % per_week) * bar_ns


def _session(start: npt.NDArray[np.int64], bar_ns: int) -> npt.NDArray[np.float64]:
    hours = max(1, bar_ns // HOUR_NS)
    h0 = (start // HOUR_NS) % 24
    prof = SESSION[(h0[:, None] + np.arange(hours)[None, :]) % 24].mean(axis=1)
    into_week = (start - WEEK_OPEN_NS) % WEEK_NS
    prof = np.where(into_week < 2 * HOUR_NS, prof * 0.6, prof)  # the Sunday open is thin
    out: npt.NDArray[np.float64] = np.where(into_week >= TRADING_NS - 2 * HOUR_NS, prof * 0.75, prof)  # Friday evening
    return out


def _news(rng: np.random.Generator, start: npt.NDArray[np.int64], bar_ns: int) -> list[tuple[int, float]]:
    """Scheduled releases (UTC): US data at 12:30 (Tuesday-Friday, 35 % each), payrolls at 12:30
    on the first Friday of the month, the FOMC at 18:00 on a Wednesday every sixth week, the ECB at
    12:15 on a Thursday every sixth week, European data at 09:00 (Tuesday-Thursday, 20 %). Each is
    (bar, strength)."""
    events: list[tuple[int, float]] = []
    first_week = int((start[0] - WEEK_OPEN_NS) // WEEK_NS)
    last_week = int((start[-1] - WEEK_OPEN_NS) // WEEK_NS)
    u = rng.uniform
    for week in range(first_week, last_week + 1):
        monday = WEEK_OPEN_NS + week * WEEK_NS + 2 * HOUR_NS
        times: list[tuple[int, float]] = []
        for day in (1, 2, 3, 4):
            if rng.random() < 0.35:
                times.append((monday + day * DAY_NS + 12 * HOUR_NS + 30 * MINUTE_NS, u(0.6, 1.2)))
            if day < 4 and rng.random() < 0.2:
                times.append((monday + day * DAY_NS + 9 * HOUR_NS, u(0.5, 1.0)))
        friday = monday + 4 * DAY_NS
        if datetime.fromtimestamp(friday // 1_000_000_000, tz=UTC).day <= 7:
            times.append((friday + 12 * HOUR_NS + 30 * MINUTE_NS, u(1.6, 2.4)))
        if week % 6 == 3:
            times.append((monday + 2 * DAY_NS + 18 * HOUR_NS, u(1.4, 2.2)))
        if week % 6 == 1:
            times.append((monday + 3 * DAY_NS + 12 * HOUR_NS + 15 * MINUTE_NS, u(1.0, 1.8)))
        for t, s in times:
            k = int(np.searchsorted(start, t, side="right")) - 1
            if 0 <= k < len(start) and t < start[k] + bar_ns:
                events.append((k, s))
    return events


@dataclass
class _Bars:
    open: npt.NDArray[np.int64]
    high: npt.NDArray[np.int64]
    low: npt.NDArray[np.int64]
    close: npt.NDArray[np.int64]
    ticks: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]


def _simulate(rng: np.random.Generator, plan: _Plan, seed: int, bar_ns: int, level_pts: int, hs0: int,
              rate: float) -> _Bars:
    """The tick stream, bar by bar, and its bid bars (in points, real frame)."""
    u = rng.uniform
    legs = plan.legs
    n = sum(leg.bars for leg in legs)
    start = _calendar(seed, n, bar_ns)
    lam0 = rate * _session(start, bar_ns)
    act = np.concatenate([leg.act for leg in legs])
    push = np.concatenate([leg.push for leg in legs])
    leg_of = np.repeat(np.arange(len(legs)), [leg.bars for leg in legs])
    roles = [leg.role for leg in legs]
    in_structure = np.zeros(n, bool)
    first_ar = roles.index("ar")
    last_d = max(i for i, leg in enumerate(legs) if leg.phase == "D")
    in_structure[(leg_of >= first_ar) & (leg_of <= last_d)] = True
    news_mult = np.ones(n)
    news_push = np.zeros(n)
    for k, s in _news(rng, start, bar_ns):
        news_mult[k] *= 1 + 2.5 * s * u(0.6, 1.4)
        news_push[k] += rng.choice([-1.0, 1.0]) * u(1.0, 3.0) * math.sqrt(s) * (0.35 if in_structure[k] else 1.0)
    # the liquidity factor (AR(1) in log) and the Hawkes excitation of the tick arrivals
    liq = np.empty(n)
    z = rng.normal(0.0, 0.05, n)
    x = 0.0
    for t in range(n):
        x = 0.97 * x + z[t]
        liq[t] = math.exp(x)
    branching, decay = u(0.2, 0.5), u(0.5, 0.85)
    sigma = plan.sigma
    # per-tick sizes: 1 + geometric, scaled so that a bar of ``rate`` ticks moves one sigma
    rms = sigma / math.sqrt(rate)
    p_geo = (-1 + math.sqrt(1 + 8 * rms * rms)) / (2 * rms * rms) if rms > 1 else 0.999
    mean_s = 1 / p_geo
    k_ins = max(1, round(mean_s * u(0.8, 1.4)))
    pool_n = int((lam0 * act * news_mult).sum() * 1.6) + 4096
    sizes = rng.geometric(p_geo, pool_n)
    uni = rng.random(pool_n)
    signed = np.where(uni < 0.5, sizes, -sizes)
    arange = np.arange(4096)
    pos = 0
    gap_sd = u(0.5, 3.0) * sigma
    per_week = TRADING_NS // bar_ns
    spread_up = u(3.0, 10.0)
    m = plan.mirror
    o = np.empty(n, np.int64)
    hi = np.empty(n, np.int64)
    lo = np.empty(n, np.int64)
    cl = np.empty(n, np.int64)
    chi = np.empty(n, np.int64)  # canonical mid extremes, for the insider's anchors
    clo = np.empty(n, np.int64)
    ticks = np.empty(n, np.int64)
    p = 0  # canonical mid, points from the level
    exc = 0.0
    edge = 0.0
    sup, res = 0.0, plan.height
    t = 0
    roll_ns = ROLLOVER_HOUR * HOUR_NS
    for li, leg in enumerate(legs):
        # anchors: the climax's extreme sets the climax edge, the AR's the far one, phase C the range so far
        if "dist" in leg.extra:  # the trend's start: the climax edge lies ``dist`` heights ahead
            edge = p - plan.context * leg.extra["dist"] * plan.height
        if leg.role == "ar":
            a0 = t - legs[li - 1].bars
            if plan.context > 0:
                sup = float(clo[a0:t].min())
                res = sup + plan.height
            else:
                res = float(chi[a0:t].max())
                sup = res - plan.height
            climax_from = a0
        if leg.role == "st":
            if plan.context > 0:
                res = float(chi[climax_from:t].max())
            else:
                sup = float(clo[climax_from:t].min())
        if leg.phase == "C" and legs[li - 1].phase == "B":
            sup, res = float(clo[climax_from:t].min()), float(chi[climax_from:t].max())
        kind, g = leg.goal
        insider = kind != "none"
        if kind == "pre":
            goal = edge + plan.context * g * plan.height
        else:
            goal = sup + g * (res - sup)
        # the schedule's announcements: chunks of the leg, each with its value on the leg's profile
        cuts: list[int] = []
        b = 0
        while b < leg.bars:
            b = min(leg.bars, b + int(rng.integers(leg.chunk[0], leg.chunk[1] + 1)))
            cuts.append(b)
        frac = np.array(cuts, float) / leg.bars
        if leg.profile == "late":
            prof = frac ** 2
        elif leg.profile == "early":
            prof = 1 - (1 - frac) ** 2
        else:
            prof = frac
        p_start = p
        values = p_start + prof * (goal - p_start)
        slacks = rng.uniform(0.0, leg.extra.get("slack", 1.5), len(cuts))
        ci = 0
        cap = leg.cap * plan.pace * sigma
        for j in range(leg.bars):
            while cuts[ci] <= j:
                ci += 1
            lam = lam0[t] * act[t] * liq[t] * news_mult[t] * max(0.3, 1 + branching * exc)
            mm = max(1, int(rng.poisson(lam)))
            if pos + mm > pool_n:
                sizes = np.concatenate([sizes[pos:], rng.geometric(p_geo, pool_n)])
                uni = np.concatenate([uni[pos:], rng.random(pool_n)])
                signed = np.where(uni < 0.5, sizes, -sizes)
                pool_n = len(sizes)
                pos = 0
            drive = push[t] + news_push[t]
            if drive:  # the public's one-sided flow: a buy with probability (1 + bias) / 2
                bias = min(0.9, max(-0.9, drive * sigma / (mm * mean_s)))
                moves = np.where(uni[pos:pos + mm] < (1 + bias) / 2, sizes[pos:pos + mm], -sizes[pos:pos + mm])
            else:
                moves = signed[pos:pos + mm]
            pos += mm
            ins = 0
            if insider:
                want = (values[ci] - p) / (cuts[ci] - j + slacks[ci])
                ins = min(int(min(abs(want), cap) / k_ins + 0.5), 2 * mm + 5)
                if ins:  # the insider's clips arrive at random places among the noise ticks
                    slots = np.sort(rng.integers(0, mm + 1, ins)) + (arange[:ins] if ins <= len(arange) else np.arange(ins))
                    merged = np.full(mm + ins, k_ins if want > 0 else -k_ins, np.int64)
                    keep = np.ones(mm + ins, bool)
                    keep[slots] = False
                    merged[keep] = moves
                    moves = merged
            if t % per_week == 0 and t > 0:
                p += int(round(rng.normal(0.0, gap_sd)))
            path = np.cumsum(moves)
            path += p
            top, bottom = int(path.max()), int(path.min())
            chi[t], clo[t] = top, bottom
            # bid = mid - half spread; the spread widens around the 22:00 UTC rollover
            s0 = int(start[t] % DAY_NS)
            rel = (roll_ns - s0) % DAY_NS
            if rel <= bar_ns + 20 * MINUTE_NS or rel >= DAY_NS - 20 * MINUTE_NS:
                when = (s0 + np.sort(rng.random(len(path))) * bar_ns - roll_ns) % DAY_NS
                dist = np.minimum(when, DAY_NS - when)
                hs = np.rint(hs0 * (1 + spread_up * np.exp(-dist / (6 * MINUTE_NS)))).astype(np.int64)
                bid = level_pts + m * path - hs
                o[t], cl[t] = bid[0], bid[-1]
                hi[t], lo[t] = bid.max(), bid.min()
            else:
                o[t], cl[t] = level_pts + m * int(path[0]) - hs0, level_pts + m * int(path[-1]) - hs0
                hi[t] = level_pts + (top if m > 0 else -bottom) - hs0
                lo[t] = level_pts + (bottom if m > 0 else -top) - hs0
            n_t = mm + ins
            ticks[t] = n_t
            p = int(path[-1])
            exc = min(3.0, decay * exc + (1 - decay) * (n_t / (lam0[t] * act[t] * liq[t]) - 1))
            t += 1
    return _Bars(o, hi, lo, cl, ticks, start)


def _names(plan: _Plan) -> dict[str, str]:
    fall = plan.context * plan.mirror > 0  # the real trend into the range falls
    up = (-1 if plan.failed else 1) * plan.mirror > 0  # the real break goes up
    return {
        "ps": "preliminary_support" if fall else "preliminary_supply",
        "climax": "selling_climax" if fall else "buying_climax",
        "ar": "automatic_rally" if fall else "automatic_reaction",
        "st": "secondary_test",
        "shake": "spring" if plan.mirror > 0 else "upthrust",
        "brk": "sign_of_strength" if up else "sign_of_weakness",
        "backup": "last_point_of_support" if up else "last_point_of_supply",
    }


def _measure(plan: _Plan, bars: _Bars) -> tuple[list[Label], npt.NDArray[np.int8], tuple[int, int], int,
                                                 list[tuple[int, int, int]]]:
    """Turning points, legs, labels and phases on the real bars. Each turning leg ends at its
    extreme (first lowest low of a trough, first highest high of a peak, in the real frame) over
    the bars from its start to the middle of the next leg; other legs end where planned."""
    legs = plan.legs
    n = len(bars.close)
    ends = np.cumsum([leg.bars for leg in legs]) - 1
    fs = next(i for i, leg in enumerate(legs) if leg.phase)
    phases = np.zeros(n, np.int8)
    spans: list[tuple[int, int, int]] = []  # (start, end, real side of the turning point or 0)
    s = int(ends[fs - 1]) + 1
    for i in range(fs, len(legs)):
        leg = legs[i]
        pe = int(ends[i])
        if leg.turn:
            w_end = min(n - 1, pe + (legs[i + 1].bars // 2 if i + 1 < len(legs) else 0))
            side = leg.turn * plan.mirror
            if w_end < s + 1:
                raise _Reject(f"no room for the {leg.role}")
            seg = bars.low[s:w_end + 1] if side < 0 else -bars.high[s:w_end + 1]
            end = s + int(np.argmin(seg))
            if end < s + 1:
                raise _Reject(f"the {leg.role} has one bar")
        else:
            side, end = 0, pe
            if end < s:
                raise _Reject(f"the {leg.role} was overrun")
        phases[s:end + 1] = CODE[leg.phase]
        spans.append((s, end, side))
        s = end + 1
    names = _names(plan)
    by_role = {leg.label: spans[i - fs] for i, leg in enumerate(legs) if leg.label}
    climax = by_role["climax"][1]
    end_b = int(np.flatnonzero(phases == CODE["B"])[-1])
    lo, hi = int(bars.low[climax:end_b + 1].min()), int(bars.high[climax:end_b + 1].max())
    labels = []
    for role, (a, b, _) in by_role.items():
        bar = b
        if role == "brk":
            closes = bars.close[a:b + 1]
            beyond = closes > hi if names["brk"] == "sign_of_strength" else closes < lo
            if not beyond.any():
                raise _Reject("the break never closes beyond the range")
            bar = a + int(np.argmax(beyond))
        labels.append(Label(names[role], bar, a, b))
    labels.sort(key=lambda lb: lb.bar)
    structure = (spans[0][0], max(e for (_, e, _), leg in zip(spans, legs[fs:], strict=True) if leg.phase))
    direction = (-1 if plan.failed else 1) * plan.mirror
    return labels, phases, structure, direction, spans


def _problem(sc: Scenario, plan: _Plan, spans: list[tuple[int, int, int]]) -> str:
    """Why the measured bars do not show the plan ("" if they do): the family's validation."""
    by = {lb.event: lb for lb in sc.labels}
    climax = by.get("selling_climax") or by["buying_climax"]
    cb = climax.bar
    b_bars = np.flatnonzero(sc.phases == CODE["B"])
    end_b = int(b_bars[-1])
    lo, hi = int(sc.low[cb:end_b + 1].min()), int(sc.high[cb:end_b + 1].max())
    height = hi - lo
    if height <= 0:
        return "no range"
    if climax.event == "selling_climax":
        if not (sc.low[cb + 1:end_b + 1] > lo).all() or sc.low[cb] != lo:
            return "the climax is not the range's strict low"
    elif not (sc.high[cb + 1:end_b + 1] < hi).all() or sc.high[cb] != hi:
        return "the climax is not the range's strict high"
    ps = by.get("preliminary_support") or by.get("preliminary_supply")
    if ps is not None and not (sc.low[ps.bar] > lo if ps.event == "preliminary_support" else sc.high[ps.bar] < hi):
        return "the PS is beyond the climax"
    if cb < 30:
        return "the climax comes too early"
    # every turning leg from the climax on moves at least 8 % of the height
    first = next(i for i, (a, _, _) in enumerate(spans) if a == climax.start)
    prev = None
    for _, b, side in spans[first:]:
        if not side:
            prev = None
            continue
        price = int(sc.low[b]) if side < 0 else int(sc.high[b])
        if prev is not None and abs(price - prev) < 0.08 * height:
            return "a leg too small"
        prev = price
    ar = by.get("automatic_rally") or by["automatic_reaction"]
    ar_move = sc.high[ar.bar] - sc.low[cb] if ar.event == "automatic_rally" else sc.high[cb] - sc.low[ar.bar]
    if ar_move < 0.5 * height:
        return "the AR is small"
    # phase C: the labelled shakeout, an unconfirmed one, or a test that holds; nothing beyond the far edge
    c = np.flatnonzero(sc.phases == CODE["C"])
    a, b = int(c[0]), int(c[-1]) + 1
    down = sc.kind in ("accumulation", "reaccumulation")
    depth = lo - sc.low[a:b] if down else sc.high[a:b] - hi
    far = sc.high[a:b] - hi if down else lo - sc.low[a:b]
    if (far > 0).any():
        return "phase C goes beyond the far edge"
    shake = by.get("spring") or by.get("upthrust")
    if shake is not None:
        if not (depth > 0).any():
            return "the spring stays inside"
        ext = a + int(np.argmax(depth))
        if ext != shake.bar:
            return "the spring is not phase C's extreme"
        if depth[ext - a] > 0.5 * height:
            return "the spring is too deep"
        window = sc.close[ext:ext + SHAKEOUT_BARS + 1]
        if not (window > lo if down else window < hi).any():
            return "the spring does not close back inside in time"
        if (depth[ext - a + SHAKEOUT_BARS + 1:] > 0).any():
            return "phase C goes beyond the edge again"
    elif (depth > 0).any():
        ext = a + int(np.argmax(depth))
        window = sc.close[ext:ext + SLOW_BARS + 1]
        if (window > lo if down else window < hi).any():
            return "a shakeout that is neither a spring nor slow"
        back = sc.close[ext:b] > lo if down else sc.close[ext:b] < hi
        if not back.any():
            return "the shakeout never comes back"
        first_in = ext + int(np.argmax(back))
        if (depth[first_in - a + 1:] > 0).any():
            return "the shakeout comes back and goes out again"
    brk = by.get("sign_of_strength") or by["sign_of_weakness"]
    if not RANGE_BARS[0] <= brk.bar - cb <= RANGE_BARS[1]:
        return "the range's length"
    backup = by.get("last_point_of_support") or by["last_point_of_supply"]
    mid = (lo + hi) / 2
    if not (sc.low[backup.bar] > mid if backup.event == "last_point_of_support" else sc.high[backup.bar] < mid):
        return "the back-up crosses the middle"
    if sc.structure[1] >= len(sc) - 1:
        return "the markup reaches the end"
    before = sc.volume[cb - 27:cb - 3].mean()
    ratio = sc.volume[cb - 2:cb + 3].max() / before
    if not CLIMAX_RATIO[0] <= ratio <= CLIMAX_RATIO[1] or sc.volume[cb] < before:
        return "the climax's volume"
    return undone(sc)


def _draw(rng: np.random.Generator, seed: int, kind: str) -> Scenario:
    bar_ns = BAR_CHOICES[int(rng.choice(3, p=BAR_WEIGHTS))]
    symbol = list(INSTRUMENTS)[int(rng.integers(0, len(INSTRUMENTS)))]
    lowest, highest, digits, vol_factor, spread, tick_factor = INSTRUMENTS[symbol]
    level_pts = round(rng.uniform(lowest, highest) * 10 ** digits)
    sigma = _loguniform(rng, 0.035, 0.07) / 100 * math.sqrt(bar_ns / (15 * MINUTE_NS)) * vol_factor * level_pts
    rate = rng.uniform(*TICK_RATES[bar_ns]) * tick_factor
    hs0 = max(1, round(rng.uniform(*spread) / 2))
    plan = _plan(rng, kind, sigma)
    bars = _simulate(rng, plan, seed, bar_ns, level_pts, hs0, rate)
    if bars.low.min() < 0.3 * level_pts:
        raise _Reject("the price collapses")
    labels, phases, structure, direction, spans = _measure(plan, bars)
    unit = 10 ** (6 - digits)  # points to SCALE units
    sc = Scenario(seed, kind, plan.spring, plan.failed, bars.start, bars.start + bar_ns, bars.open * unit,
                  bars.high * unit, bars.low * unit, bars.close * unit, bars.ticks * 100, labels, phases,
                  structure, direction, bar_ns)
    reason = _problem(sc, plan, spans)
    if reason:
        raise _Reject(reason)
    return sc


def generate(seed: int, kind: str | None = None) -> Scenario:
    """One scenario; the kind is drawn from the seed unless given. Draws that fail the validation
    are redrawn from the same random stream (at most ``MAX_TRIES``, then RuntimeError)."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, SALT]))
    chosen = kind if kind is not None else KINDS[int(rng.integers(0, len(KINDS)))]
    for _ in range(MAX_TRIES):
        try:
            return _draw(rng, seed, chosen)
        except _Reject:
            continue
    raise RuntimeError(f"scenario {seed}: no valid draw in {MAX_TRIES} tries")


def scenarios(count: int, first_seed: int = 0) -> Iterator[Scenario]:
    for seed in range(first_seed, first_seed + count):
        yield generate(seed)
