"""Family F of labelled Wyckoff scenarios: Hawkes market orders walking a limit-order book, 5m/1h/daily bars.

Purpose
-------
A held-out test family for a Wyckoff detector, built differently from the other families (A:
Brownian bridges between leg targets on 1-minute bars; B: GARCH paths around target paths; C:
regime-switching drift segments; D: an agent-based order-flow model on 30-minute bars; E: a
variance-gamma particle between soft walls on 15m-4h FX bars) and written blind to the detector:
nothing of the detector, its features, parameters, scoring or benchmark was read or run; only
``KINDS`` and ``PHASES`` are taken from ``trading.wyckoff.machine``. Here the prices are made tick
by tick: individual market orders arrive as a self-exciting (Hawkes) point process, each one
walks a limit-order book, and the bars are aggregated from the trade prints. A hidden Wyckoff
schedule steers only the buy/sell mix of the order flow and where a composite operator rests
large passive orders (walls) that absorb aggressive flow at the range's edges and are pulled or
refilled. Volume is the traded size, so effort (volume) and result (price move) both come out of
the same orders.

Calendar and bars
-----------------
An index CFD (levels 11000-19000, 3300-5200, 6500-8500 or 5000-8000 index points). The bar length
is drawn per scenario (``BAR_CHOICES``, weights ``BAR_WEIGHTS``): 5 minutes (40 %), 1 hour (35 %)
or 1 day (25 %), and is the scenario's ``bar_ns``. Sessions (``SESSIONS``), weekdays only, no
holidays: 5-minute bars in the cash session 08:00-16:30 UTC (102 bars a day), 1-hour bars in an
extended session 07:00-21:00 UTC (14 bars a day), daily bars starting 00:00 UTC Monday to Friday.
No bars overnight or at weekends: the first bar of a session (every daily bar) opens with a gap,
normal with sd 0.5-2.5 (5m), 0.3-1.2 (1h) or 0.1-0.4 (daily) bar sigmas per scenario, added to
the bid at the session's first order. The first bar is the session's first bar on the Monday
``seed % 250`` weeks after ``START_NS``. ``end_ns = start_ns + bar_ns``. Prices are integer points,
``price * SCALE``, on a tick grid (below); volume is the bar's traded size in contracts. At most
``MAX_BARS`` (2500) bars; the kept scenarios have about 370-1970.

The order flow
--------------
Time runs in bars. Cluster roots (immigrants) arrive in each bar as Poisson(lambda_t), at least
one a bar, at uniform times, ``lambda_t = E (1 - n) session_t act_t``: E 25-55 orders a bar,
``n`` the branching ratio (0.3-0.65), ``session_t`` the time-of-day profile (the European open,
a midday lull, the US data at 12:30 and the US open at 13:30 UTC, the European close; thinner
before 08:00 and after 16:30; daily bars: Monday and Friday thinner), ``act_t`` the leg's
participation. Every order begets Poisson(n) further orders, each after an exponential delay
(mean 0.02-0.15 bar), on the same side with probability 0.72-0.92 (order splitting, herding),
else the other side (the cluster representation of a two-sided Hawkes process, simulated
generation by generation). Order sizes are Pareto-tailed clips, ``min(floor(U^(-1/alpha)), 60)``
(alpha 1.3-2.2) times the leg's size factor. Each order meets a touch queue of random size
``D = d0 depth_t Gamma(2, 1/2)`` (d0 1.2-3) in a book whose depth grows linearly away from the
touch (slope 0.3-1 per level), so it consumes ``floor((sqrt(1 + 2 slope q / D) - 1) / slope)``
levels (no move for most orders, a square-root impact for large ones). The book refills at once
with a one-tick spread: the bid moves by the levels consumed, a sell prints at the new bid, a buy
at the new ask (bid + 1 tick), so bars carry the bid-ask bounce. ``depth_t`` is the leg's factor
times exp of an AR(1) liquidity factor (0.98, sd 0.05: volatility clustering); the book is thinner
in the climax's burst (x0.45-0.85), in a shakeout (x0.6-0.9) and on news, thicker in phase B
(x1-1.4) and in the trend's pauses. The bar sigma (in ticks) is calibrated on the generated orders
with unsteered sides (1.4826 x the MAD of the per-bar sums of signed levels).

Steering. Each leg is cut into chunks (one bar in the climax leg, the first two AR bars and the
snap back after a shakeout; 2-12 bars elsewhere; the noise is one chunk). At a chunk's start the
sides of the clusters that start in it are drawn, buy with probability (1 + e) / 2, where
``e = (M - K) / W`` clipped to +-0.9: M is the chunk's share of the distance from the bid to the
leg's goal under the leg's profile (accelerating, decelerating, bell-shaped, flat, a burst at the
end, a snap at the start; capped at 1.5 x the leg's pace x bar sigma x bars), K the known signed
move in the chunk of clusters started earlier (momentum carries over), W the parity-weighted
levels of the chunk's own clusters. News clusters keep their side. The noise and the stretch after
the markup are unsteered (e = 0). The path is never pinned: every leg's extreme is measured.

Walls (the operator's resting orders). In a chunk the bid is held in [floor, ceiling]: an order
that pushes into a wall trades (its volume counts) without moving the price; the reflection is
the Skorokhod map of the free path, one wall at a time (``_regulate``). A wall is not placed
through the price except on the climax side from the AR on, where the bid may be lifted a tick or
two. Canonical frame (below): in the climax leg the operator's bids wait 0-8 % of the height beyond
the planned climax edge; once they are hit, and in a burst bar that only comes back to the low,
they stand a tick above the low (and any climax bar that would tie the running extreme is redrawn
up to three times), so the climax stays a strict extreme. From the AR through phase B the climax
side is walled one tick plus 0-3 % of the width (redrawn per chunk) inside the climax extreme; the
other side 3 % (ST) or 2 % beyond the AR's extreme, further for phase-B probes. Phase C: offers 4 %
inside the far edge; a spring's bids 1.25 x its planned depth + 4 % below support, then a tick
under the shakeout's low until the price is back at support + max(2 ticks, 3 %), then there; an
unconfirmed shakeout's offers 3 % (at least 2 ticks) under support while it holds; tests held at
support + max(2 ticks, 3 %). The break: the break side's wall is pulled; the other side's at 2 %
inside (5 % for a SOW). Back-up and markup: the middle of the range + 10 % (minus for a markdown).

News (unlabelled distractors): 0-2 in the noise, 0-2 in the trend, 0-2 in phase B, 0-1 after;
a burst of Poisson(0.8-2.5 x the bar's root rate) + 1 one-sided clusters starting 0-0.6 into the
bar (exponential spacing 0.08 bar), sizes x1.3-2, book x0.5-0.8 for that bar and the next: they
move the close about 1-11 bar sigmas (10th-90th percentile; median 4.5) on 1.3-7 x the median volume; in phase B the
walls absorb what reaches the range's edges. Off-book block trades (0.4 % of the bars) add 2-6 x
the median bar volume to a bar's volume only.

Prices and volume
-----------------
The schedule is simulated in a canonical frame (the break expected upward, the shakeout below
support) in ticks and mirrored for the kinds that resolve down. ``price = level + grain x ticks``:
``grain`` the nice number (1, 2, 2.5 or 5 x 10^k index points) nearest to ``sigma_rel x level /
sigma_ticks`` (the realised, winsorised sd of the close-to-close tick moves; ``sigma_rel``
log-uniform 0.03-0.10 % for 5m, 0.10-0.30 % for 1h, 0.6-1.4 % for daily bars), the level drawn from
the instrument's range, rounded to the grain, at the first close (raised if the path would fall
under 30 % of it). Open = first print, close = last print, high/low = extreme prints of the bar.
Volume = the bar's traded size in clips x contracts per clip (1 for 5m, 5 for 1h, 50 for daily
bars) plus blocks, at least 1. The climax volume is measured, not set: the highest volume within
two bars of the climax bar over the mean of the 24 bars ending three bars before it lies in
1.5-28 (median about 4.7); the climax bar itself is not the heaviest of that window in about 55 %
of the scenarios and not the heaviest of phase A in about 64 % (the AR's first bars, the PS or a
burst bar before it trade more); in about 4 % its own volume is under that mean.

The hidden schedule (canonical frame, heights H of the planned range)
-------------------------------------------------------------------
H is 6-45 bar sigmas (log-uniform), 5-9 in compact structures (15 % of the draws), and at most 2 %
(5m), 4 % (1h) or 8 % (daily) of the level. No leg is planned shorter than 1.4 x its distance in
bar sigmas over its pace (compact structures: 1.4 x faster), so tall ranges take more bars. Legs:
noise (60-400 bars); the trend into the structure (40-320 bars, starting 0.8-2.6 H before its last
turn; on daily bars the trend covers at most about 30 % of the level), in half the draws
stair-stepped by 1-2 unlabelled pauses (8-60 bars, a 5-25 % H counter-move); in 55 % a PS group (the
trend's last low 0.27-1.7 H from the climax edge, a bounce of 0.15-0.35 H, the PS 0.15-1.3 H from
the edge with 1.5-3 x participation on its last 1-2 bars, its rally of 0.2-0.5 H); without it the
climax leg starts 0.4-4 H (log-uniform) from the edge, so the AR can be small next to the climax
leg. The climax leg: 1-28 bars, then a burst of 1-4 bars (35/30/20/15 %) carrying 30-75 % of the
move at 3-7 bar sigmas a bar, participation ramping up to 2-5 x, sizes x1.3-2.5. The AR: 0.75-1.2 H from
the measured climax extreme (its first 1-2 bars 1.2-2.8 x participation). The first ST: in 25 %
onto the operator's wall a tick or so inside the climax, else 4-45 % of the width from it. The
range (climax to break) is planned log-uniform 30-1000 bars (compact: 25-60), phase B 5-60 % of it
(in 25 % 60-88 %: very long phase B; compact: 10-40 %), the rest split by Dirichlet weights among
the AR, ST, phase-C legs and the break. Phase B: 1-15 swings (odd after a fall into the range, even
after a rise, so that B ends with a rise; at least one per 90 bars), each 25-85 % of the width (at
least 20 %), 25 % of the AR-side swings probing 1-8 % beyond the AR's extreme (unlabelled phase-B
upthrust/spring actions: they count in the range's edges), 30 % of the climax-side swings testing
within 0-6 % of the climax; participation 0.45-0.9. Phase C: a spring/upthrust 3-38 % of the
height beyond support (at most 12 bar sigmas together with the way back), quiet (45 %,
participation 0.5-0.9) or on a shakeout (participation 1.4-2.5, sizes x1.2-2), then a snap back
to 8-25 % inside; or, without one, a test 3-35 % above support; then (50 %, always when failing or
after an unconfirmed shakeout) a rally (35-75 %) and a test that holds. Unconfirmed shakeouts
(unlabelled distractors, 40 % of the draws without a spring): 10-35 % beyond support, a hold of
28-49 bars whose closes stay beyond, then back inside, a test and the planned break: by the 10-bar
rule it is *not* a spring, it has no label and ``spring`` is False. Failures (25 % of the draws
with a spring): the spring/upthrust, a rally (30-60 %), then the break the other way (SOW after a
spring, SOS after an upthrust), the back-up and the markdown/markup. The break: 20-70 % of the
height beyond the edge (a SOW 30-70 % beyond the lower of support and the shakeout's low),
participation 1.3-2.2; the back-up (3-40 bars: an LPS aimed between 15 % above and 30 % below
resistance, an LPSY between 30 % below and 12 % above support); the markup/markdown 1-2.5 H in
30-300 bars; noise (30-250 bars). Spring planned in 60 % of the draws. Kinds are drawn uniformly.

Labels (all measured on the final integer bars)
-----------------------------------------------
As family E. Every leg's turning point is measured: the extreme (lowest low at a trough, highest
high at a peak) over the bars from the previous turning point up to the middle of the next leg
(legs without a turning point end where planned). A leg runs from the bar after the previous
turning point to its own turning point; a label's ``start`` and ``end`` are its leg's first and
last bar and its ``bar`` the leg's extreme on the event's side (lowest low for SC, spring, ST
after an SC, LPS, PS of accumulation, automatic reaction; highest high for BC, upthrust, AR after
an SC, ST after a BC, LPSY, preliminary supply), except sign_of_strength / sign_of_weakness, whose
``bar`` is the first bar of its leg that closes beyond the range edge. Range edges are the highest
high and the lowest low from the climax bar to the end of phase B. Event names:
preliminary_support / preliminary_supply (by the climax side), selling_climax + automatic_rally (a
fall into the climax) or buying_climax + automatic_reaction (a rise), secondary_test (the first ST
only), spring (below support) / upthrust (above resistance), sign_of_strength +
last_point_of_support (break up) or sign_of_weakness + last_point_of_supply (break down), named by
the actual break. Nothing else is labelled: not the trend's pauses, the phase-B probes and tests,
the news, the blocks, the snap, rally and test after a spring, nor an unconfirmed shakeout.

Phases (np.int8, index into ``PHASES``): "" in the noise and the trend; A from the PS (or climax)
leg through the first ST; B the swings after it; C from the leg into the spring/test up to the
bar before the SOS/SOW leg (an unconfirmed shakeout and its hold included); D that leg and the
back-up; E the markup/markdown; "" after. ``structure`` = (first bar of phase A, last bar of phase
E); ``direction`` = +1 if the break is up, -1 if down; ``failed`` = the break went against the
kind's expected direction (always after a spring/upthrust); ``spring`` = a spring/upthrust is
labelled.

Validation
----------
A draw is kept only if, on the measured bars, the climax is the extreme of the range on its side
(strictly: no other bar of the range ties it); the range after the AR is at least 0.35 H wide;
every labelled leg has at least two bars and every turning leg after the trend moves at least 8 %
of the range height; the PS is not beyond the climax; a spring/upthrust goes beyond the edge (by
at most half the height), is the extreme of phase C, closes back inside within ``SHAKEOUT_BARS``
(10) bars of its extreme, and no bar of phase C from then on (``SHAKEOUT_BARS`` + 1 bars after
its extreme) goes beyond that edge again; an unconfirmed
shakeout's extreme (the extreme of phase C) is beyond the edge, no close is back inside within
``SLOW_BARS`` (12) bars of it, and once back inside the price stays inside until the break leg; a
test without either stays inside; the phase-C test after a rally holds; no bar of phase C reaches
beyond the opposite edge; the SOS/SOW leg closes beyond its edge; the back-up stays on the break
side of the range's middle; the range (climax bar to SOS/SOW bar) lasts ``RANGE_BARS`` (25-1200)
bars; the climax is at least 30 bars in and its volume ratio (above) is 1.4-30; the markup ends
before the last bar. Otherwise the scenario is redrawn from the same random stream (seeded from
the seed and the family's salt; about 1.7 draws on average, at most ``MAX_TRIES``, then
RuntimeError).

Measured over seeds 0-299: a spring/upthrust in 52 % of the kept scenarios, a failure in 16 %
(31 % of those with a spring), an unconfirmed shakeout in 18 % (48 % are schematic #2, without a
spring); bars 5m 46 %, 1h 30 %, daily 24 %; the range lasts 37-1140 bars (median about 230; under
60 in 7 %, over 600 in 14 %), phase B is 3-86 % of it (over 60 % in 18 %); the AR is under half the
climax leg's move in 16 %; a scenario is 15k-80k orders; ``generate`` takes about 20-30 ms.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trading.wyckoff.machine import KINDS as _MACHINE_KINDS
from trading.wyckoff.machine import PHASES as _MACHINE_PHASES
from trading.wyckoff.scenarios import SCALE, START_NS, Label, Scenario

KINDS: tuple[str, ...] = tuple(sorted(_MACHINE_KINDS.values()))
PHASES: tuple[str, ...] = tuple(_MACHINE_PHASES)
MINUTE_NS = 60 * 1_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
WEEK_NS = 7 * DAY_NS
BAR_CHOICES: tuple[int, ...] = (5 * MINUTE_NS, HOUR_NS, DAY_NS)
BAR_WEIGHTS: tuple[float, ...] = (0.4, 0.35, 0.25)
# per bar length: (the session's first bar, in ns after 00:00 UTC; bars per weekday)
SESSIONS: dict[int, tuple[int, int]] = {5 * MINUTE_NS: (8 * HOUR_NS, 102), HOUR_NS: (7 * HOUR_NS, 14),
                                        DAY_NS: (0, 1)}
MAX_BARS = 2500
MAX_TRIES = 400
SHAKEOUT_BARS = 10  # a spring/upthrust closes back inside within this many bars of its extreme
SLOW_BARS = 12  # an unconfirmed shakeout closes beyond the edge for at least this many bars
RANGE_BARS = (25, 1200)  # climax bar to SOS/SOW bar
_SALT = 0xF1C4E5

_EXPECTED = {"accumulation": 1, "distribution": -1, "reaccumulation": 1, "redistribution": -1}
_TREND_IN = {"accumulation": -1, "distribution": 1, "reaccumulation": 1, "redistribution": -1}
# index CFDs: (low, high) of the level in index points
_LEVELS = ((11_000.0, 19_000.0), (3_300.0, 5_200.0), (6_500.0, 8_500.0), (5_000.0, 8_000.0))
# per bar length: the bar's volatility (share of the level), the largest planned range height (share
# of the level), the opening gap's sd (bar sigmas) and the contracts per simulated clip
_SIGMA = {5 * MINUTE_NS: (0.0003, 0.0010), HOUR_NS: (0.0010, 0.0030), DAY_NS: (0.006, 0.014)}
_HEIGHT_CAP = {5 * MINUTE_NS: 0.02, HOUR_NS: 0.04, DAY_NS: 0.08}
_GAP = {5 * MINUTE_NS: (0.5, 2.5), HOUR_NS: (0.3, 1.2), DAY_NS: (0.1, 0.4)}
_CLIP = {5 * MINUTE_NS: 1, HOUR_NS: 5, DAY_NS: 50}
_EMAX = 0.9  # the largest buy/sell imbalance of the steered orders
_NONE_LO = -(2**62)
_NONE_HI = 2**62
# chunk length (bars) of each leg: the imbalance is re-aimed at the start of every chunk
_CHUNK = {"noise": 10_000, "post": 10_000, "trend": 12, "pause": 8, "out": 12, "bounce": 3, "ps": 2, "psr": 3,
          "climax": 1, "ar": 3, "st": 3, "b": 5, "c1": 2, "hold": 4, "c2a": 1, "c2": 2, "c3": 3, "brk": 2,
          "bu": 3}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class _Reject(Exception):
    """The draw breaks a rule; draw again from the same stream."""


@dataclass
class _Leg:
    """One leg of the hidden schedule, canonical frame (the break expected upward, the shakeout
    below support). ``goal`` is in planned range heights before the climax and relative to the
    measured edges after it (see ``_simulate``)."""

    name: str
    dur: int
    turn: int  # +1 the leg ends at a peak, -1 at a trough, 0 no turning point
    goal: float = 0.0
    profile: str = "flat"  # none, flat, accel, decel, smooth, burst, snap
    pace: float = 1.5  # the fastest steered move, bar sigmas per bar
    act: float = 1.0  # arrival-rate multiplier of the market orders
    size: float = 1.0  # order-size multiplier
    depth: float = 1.0  # book-depth multiplier
    burst: int = 0  # climax: the final bars carrying ``share`` of the move
    share: float = 0.0
    allow: float = 0.02  # phase B: the AR-side wall beyond the AR's extreme (range heights)
    wall: float = 0.0  # climax: the operator's wall, planned heights


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _ilog(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(round(_loguniform(rng, lo, hi)))


# ----------------------------------------------------------------------------------------------
# calendar and session


def _bar_times(first_ns: int, n: int, bar_ns: int) -> IntArray:
    """``n`` bar starts from the Monday 00:00 UTC ``first_ns``: weekdays only, the session's bars."""
    open_ns, per_day = SESSIONS[bar_ns]
    i = np.arange(n, dtype=np.int64)
    day = i // per_day
    cal = day // 5 * 7 + day % 5
    return np.asarray(first_ns + cal * DAY_NS + open_ns + (i % per_day) * bar_ns, dtype=np.int64)


def _bump(hour: FloatArray, centre: float, width: float) -> FloatArray:
    return np.asarray(np.exp(-0.5 * ((hour - centre) / width) ** 2), dtype=np.float64)


def _season(start_ns: IntArray, bar_ns: int) -> FloatArray:
    """Order arrivals by time of day (intraday: the European open, a midday lull, the US data at
    12:30 and the US open at 13:30 UTC, the European close; quiet before 08:00 and after 16:30)
    or by weekday (daily bars: Monday and Friday thinner); mean 1."""
    if bar_ns == DAY_NS:
        weekday = (start_ns // DAY_NS + 3) % 7
        prof = np.where(weekday == 0, 0.85, np.where(weekday == 4, 0.92, 1.0)).astype(np.float64)
    else:
        mid = start_ns + bar_ns // 2
        hour = ((mid % DAY_NS) / HOUR_NS).astype(np.float64)
        prof = (0.45 + 0.9 * _bump(hour, 8.1, 0.4) + 0.3 * _bump(hour, 9.3, 1.0) + 0.5 * _bump(hour, 12.55, 0.25)
                + 0.9 * _bump(hour, 13.7, 0.5) + 0.5 * _bump(hour, 15.2, 1.0) + 0.7 * _bump(hour, 16.35, 0.25))
        prof = prof * np.where((hour < 8.0) | (hour > 16.5), 0.55, 1.0)
    return np.asarray(prof / prof.mean(), dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# the hidden schedule


def _plan(rng: np.random.Generator, climax_low: bool, spring: bool, failed: bool, slow: bool,
          h_sig: float, compact: bool, reach: float) -> list[_Leg]:
    """The legs of one scenario. Before the climax the goals are levels in planned heights with the
    range at [0, 1] (the climax edge at 0 or 1); after it they are relative to measured edges.
    No leg is planned shorter than its distance at its pace (``h_sig``: the height in bar sigmas)."""
    u = rng.uniform
    c = -1 if climax_low else 1  # the climax is a trough (-1) or a peak (+1)
    edge = 0.0 if climax_low else 1.0

    def lvl(d: float) -> float:  # ``d`` planned heights beyond the climax edge, on the trend's side
        return edge - c * d

    quick = 1.4 if compact else 1.0  # a compact structure runs its legs faster

    def need(dist: float, pace: float) -> int:
        return int(math.ceil(1.4 * abs(dist) * h_sig / (pace * quick))) + 1

    legs: list[_Leg] = []

    def add(name: str, dur: int, turn: int, goal: float, dist: float, pace: float, **kw: float | str) -> None:
        legs.append(_Leg(name, max(int(dur), need(dist, pace), 2), turn, goal, pace=pace,
                         **kw))  # type: ignore[arg-type]

    has_ps = bool(rng.random() < 0.55)
    if has_ps:
        ps_d = u(0.15, 1.3)
        end_d = ps_d + u(0.12, 0.4)  # the trend's last low (high) before the PS
    else:
        end_d = _loguniform(rng, 0.4, 4.0)  # the climax leg covers all of it: often far more than the AR
    t_in = min(end_d + u(0.8, 2.6), max(end_d + 0.8, reach))
    legs.append(_Leg("noise", _ilog(rng, 60, 400), 0, lvl(t_in), "none", pace=0.0))
    trend_bars = _ilog(rng, 40, 320)
    pos = t_in
    n_pause = int(rng.choice([0, 0, 0, 1, 1, 2]))  # a stair-step trend: unlabelled pauses on the way
    cuts = np.sort(u(0.25, 0.8, n_pause))
    fr = np.diff(np.r_[0.0, cuts, 1.0])
    tpace = u(0.7, 1.1)
    for k in range(n_pause + 1):
        last = k == n_pause
        target = end_d if last else t_in - cuts[k] * (t_in - end_d)
        add("trend", int(trend_bars * fr[k]), c if (last and has_ps) else 0, lvl(target), target - pos, tpace,
            profile="smooth", act=u(1.0, 1.25))
        pos = target
        if not last:
            back = target + u(0.05, 0.25)
            add("pause", _ilog(rng, 8, 60), 0, lvl(back), back - pos, 0.6, profile="smooth", act=u(0.6, 0.9),
                depth=u(1.0, 1.3))
            pos = back
    if has_ps:
        bounce = end_d + u(0.15, 0.35)
        add("bounce", _ilog(rng, 3, 18), -c, lvl(bounce), bounce - end_d, 1.1, profile="decel")
        add("ps", _ilog(rng, 3, 20), c, lvl(ps_d), bounce - ps_d, 1.4, profile="accel", act=u(1.1, 1.5),
            size=u(1.1, 1.5))
        psr = ps_d + u(0.2, 0.5)
        add("psr", _ilog(rng, 3, 25), -c, lvl(psr), psr - ps_d, 1.1, profile="decel", act=u(1.0, 1.3))
        pos = psr
    burst = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))
    bpace = u(3.0, 7.0)
    ov = u(0.0, 0.08)
    dist = pos + ov
    share = min(u(0.3, 0.75), bpace * burst / max(1e-9, dist * h_sig))
    pre = max(_ilog(rng, 1, 28), need((1.0 - share) * dist, 1.6) if share < 1 else 0)
    legs.append(_Leg("climax", pre + burst, c, lvl(-(ov + u(0.03, 0.12))), "burst", pace=bpace, act=u(1.1, 1.6),
                     size=u(1.3, 2.5), depth=u(0.45, 0.85), burst=burst, share=share, wall=lvl(-ov)))
    # the range, climax to the break: 30-1000 bars (compact: 25-60), phase B 5-88 % of it (compact: 10-40 %)
    r_total = _ilog(rng, 25, 60) if compact else _ilog(rng, 30, 1000)
    b_share = u(0.1, 0.4) if compact else u(0.6, 0.88) if rng.random() < 0.25 else u(0.05, 0.6)
    b_bars = max(4, int(r_total * b_share))
    n_min = max(1, b_bars // 90)
    n_max = max(n_min, min(15, b_bars // 8))
    odd = climax_low  # B starts away from the climax side and ends with a rise
    choices = [k for k in range(1, 16) if k % 2 == (1 if odd else 0) and n_min <= k <= n_max + 1]
    n_b = int(rng.choice(choices)) if choices else (1 if odd else 2)
    with_test = bool(rng.random() < 0.5) or failed or slow
    n_c = 1 + (1 if failed else 2 if with_test else 0) + (1 if slow else 0)  # c1, [hold], [c2, [c3]]
    rest = max(10, r_total - b_bars)
    di = iter([max(2, int(round(x * rest))) for x in rng.dirichlet(np.full(3 + n_c, 2.0))])
    d_b = iter([max(3, int(round(x * b_bars))) for x in rng.dirichlet(np.full(n_b, 1.5))])
    ar_h = u(0.75, 1.2)
    add("ar", next(di), -c, ar_h, ar_h, 1.4, profile="decel", act=u(1.0, 1.5))
    st = u(0.0, 0.02) if rng.random() < 0.25 else u(0.04, 0.45)  # some tests go within a tick of the climax
    add("st", next(di), c, st, 1.0 - st, 0.9, profile="smooth", act=u(0.6, 1.0))
    pos = st if climax_low else 1.0 - st  # range fractions from the low edge
    d = 1 if climax_low else -1
    calm = u(1.0, 1.4)  # phase B: a thicker book
    for _ in range(n_b):
        r = rng.random()
        swing = u(0.25, 0.85)
        allow = 0.02
        if d > 0:
            if climax_low and r < 0.25:  # an unlabelled probe above the AR's high
                goal = 1.0 + u(0.01, 0.08)
                allow = goal - 1.0 + 0.03
            elif not climax_low and r < 0.3:  # a test right under the climax high
                goal = 1.0 - u(0.0, 0.06)
            else:
                goal = min(0.97, max(0.4, pos + swing))
            goal = max(goal, pos + 0.2)
        else:
            if not climax_low and r < 0.25:  # a probe below the AR's low
                goal = -u(0.01, 0.08)
                allow = -goal + 0.03
            elif climax_low and r < 0.3:  # a test right over the climax low
                goal = u(0.0, 0.06)
            else:
                goal = max(0.03, min(0.6, pos - swing))
            goal = min(goal, pos - 0.2)
        add("b", next(d_b), d, goal, goal - pos, 0.75, profile="smooth", act=u(0.45, 0.9), depth=calm, allow=allow)
        pos = goal
        d = -d
    if spring or slow:
        quiet = bool(rng.random() < 0.45)
        # the depth: 3-38 % of the height (10-35 % unconfirmed), and at most 12 bar sigmas with the way back
        depth = u(0.03, 0.38) if spring else u(0.1, 0.35)
        depth = min(depth, max(0.03, 12.0 / h_sig - 0.15))
        add("c1", min(next(di), _ilog(rng, 2, 22)), -1, depth, pos + depth, 1.6 if not quiet else 0.9,
            profile="accel", act=u(0.5, 0.9) if quiet else u(1.4, 2.5), size=1.0 if quiet else u(1.2, 2.0),
            depth=1.0 if quiet else u(0.6, 0.9))
        pos = -depth
    else:
        test = u(0.03, 0.35)
        add("c1", next(di), -1, test, pos - test, 0.9, profile="smooth", act=u(0.5, 0.9))
        pos = test
    if slow:
        hold = int(rng.integers(2 * SLOW_BARS + 4, 50))
        add("hold", max(hold, next(di)), 0, u(0.1, 0.45), 0.0, 1.0, profile="flat", act=u(0.7, 1.1))
    if spring or slow:  # the snap back inside
        back = u(0.08, 0.25)
        add("c2a", int(rng.integers(2, 5)), 0, back, back - pos, 2.2, profile="snap", act=u(1.0, 1.5))
        pos = back
    if failed:
        rally = u(0.3, 0.6)
        add("c2", next(di), 1, rally, rally - pos, 1.0, profile="decel", act=u(0.8, 1.1))
        drop = u(0.3, 0.7)
        add("brk", next(di) + int(rng.integers(3, 15)), -1, drop, rally + drop, 1.6, profile="accel",
            act=u(1.3, 2.2), size=u(1.0, 1.4))
        add("bu", _ilog(rng, 3, 40), 1, u(-0.3, 0.12), 0.4, 0.9, profile="smooth", act=u(0.6, 0.9))
    else:
        if with_test:
            rally, test = u(0.35, 0.75), u(0.06, 0.35)
            add("c2", next(di), 1, rally, rally - pos, 1.0, profile="decel", act=u(0.8, 1.1))
            add("c3", next(di), -1, test, rally - test, 0.8, profile="smooth", act=u(0.5, 0.85))
            pos = test
        rise = u(0.2, 0.7)
        add("brk", next(di) + int(rng.integers(3, 15)), 1, rise, 1.0 + rise - pos, 1.6, profile="accel",
            act=u(1.3, 2.2), size=u(1.0, 1.4))
        add("bu", _ilog(rng, 3, 40), -1, u(-0.15, 0.3), 0.4, 0.9, profile="smooth", act=u(0.6, 0.9))
    t_out = min(u(1.0, 2.5), max(1.0, 0.8 * reach))
    add("out", _ilog(rng, 30, 300), -1 if failed else 1, t_out, t_out, u(0.8, 1.2), profile="flat",
        act=u(1.0, 1.2))
    legs.append(_Leg("post", _ilog(rng, 30, 250), 0, 0.0, "none", pace=0.0))
    return legs


def _weights(leg: _Leg) -> FloatArray:
    """Per bar of the leg, its share of the planned move (the steering's profile)."""
    n = leg.dur
    x = (np.arange(n, dtype=np.float64) + 0.5) / n
    if leg.profile == "accel":
        return np.asarray(3.0 * x * x + 0.1)
    if leg.profile == "decel":
        return np.asarray(2.0 * (1.0 - x) + 0.1)
    if leg.profile == "smooth":
        return np.asarray(6.0 * x * (1.0 - x) + 0.3)
    if leg.profile == "burst":
        k = leg.burst
        w = np.full(n, (1.0 - leg.share) / max(1, n - k))
        w[n - k:] = max(leg.share, 1e-3) / k
        return w
    if leg.profile == "snap":
        w = np.ones(n)
        w[: min(n, 2)] = 4.0
        return w
    return np.ones(n)


def _chunks(leg: _Leg, s0: int) -> list[tuple[int, int]]:
    """The leg's bars cut into steering chunks (single bars in a climax's burst, after the climax
    and in the snap back after a shakeout)."""
    n = leg.dur
    size = _CHUNK[leg.name]
    cuts = [0]
    if leg.name == "climax":
        pre = n - leg.burst
        cuts += list(range(size, pre, size)) + list(range(pre, n))
    elif leg.name == "ar":
        cuts += [1, 2] + list(range(2 + size, n, size))
    else:
        cuts += list(range(size, n, size))
    cuts = sorted({k for k in cuts if 0 <= k < n}) + [n]
    return [(s0 + a, s0 + b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


# ----------------------------------------------------------------------------------------------
# order flow: a Hawkes process of market orders walking a limit-order book


@dataclass
class _Flow:
    bar_first: IntArray  # first event of every bar (n + 1 entries)
    imm_first: IntArray  # first immigrant (cluster root) of every bar (n + 1 entries)
    root: IntArray  # per event (time order): the immigrant that started its cluster
    parity: IntArray  # +1 the event trades the root's side, -1 the other side
    impact: IntArray  # levels the order consumes in the book
    size: FloatArray  # the order's size in clips
    fixed: IntArray  # per immigrant: a fixed side (news) or 0 (steered)


def _flow(rng: np.random.Generator, lam: FloatArray, size_b: FloatArray, depth_b: FloatArray,
          news: list[tuple[int, float, int]], n_br: float, rho: float, tau: float, alpha: float, d0: float,
          slope: float) -> _Flow:
    n = len(lam)
    counts = np.maximum(rng.poisson(lam), 1)  # at least one order a bar
    t = np.repeat(np.arange(n, dtype=np.float64), counts) + rng.random(int(counts.sum()))
    fix = np.zeros(len(t), dtype=np.int64)
    extra_t, extra_f = [t], [fix]
    for at, mult, side in news:  # a burst of one-sided orders starting somewhere in the bar
        k = int(rng.poisson(lam[at] * mult)) + 1
        t0 = rng.uniform(0.0, 0.6)
        extra_t.append(at + np.minimum(0.999, t0 + rng.exponential(0.08, k)))
        extra_f.append(np.full(k, side, dtype=np.int64))
    t = np.concatenate(extra_t)
    fix = np.concatenate(extra_f)
    order = np.argsort(t, kind="stable")
    t, fix = t[order], fix[order]
    m = len(t)
    times, roots, pars = [t], [np.arange(m, dtype=np.int64)], [np.ones(m, dtype=np.int64)]
    pt, pr, pp = times[0], roots[0], pars[0]
    while len(pt):  # the cluster representation: every order begets Poisson(n_br) orders after it
        kids = rng.poisson(n_br, len(pt))
        tot = int(kids.sum())
        if tot == 0:
            break
        idx = np.repeat(np.arange(len(pt)), kids)
        ct = pt[idx] + rng.exponential(tau, tot)
        keep = ct < n
        idx, ct = idx[keep], ct[keep]
        same = rng.random(len(idx)) < rho
        pp = np.where(same, pp[idx], -pp[idx])
        pr = pr[idx]
        pt = ct
        times.append(pt)
        roots.append(pr)
        pars.append(pp)
    t_all = np.concatenate(times)
    order = np.argsort(t_all, kind="stable")
    t_all = t_all[order]
    root = np.concatenate(roots)[order]
    parity = np.concatenate(pars)[order]
    bar = t_all.astype(np.int64)
    grid = np.arange(n + 1)
    bar_first = np.searchsorted(bar, grid).astype(np.int64)
    imm_first = np.searchsorted(t.astype(np.int64), grid).astype(np.int64)
    ne = len(t_all)
    size = np.minimum(np.floor(rng.random(ne) ** (-1.0 / alpha)), 60.0) * size_b[bar]
    size = np.maximum(1.0, np.floor(size))
    depth = d0 * depth_b[bar] * rng.gamma(2.0, 0.5, ne)  # the touch queue this order meets
    levels = (np.sqrt(1.0 + 2.0 * slope * size / depth) - 1.0) / slope  # a book whose depth grows linearly
    impact = np.floor(levels).astype(np.int64)
    return _Flow(bar_first, imm_first, root, parity, impact, size, fix)


def _regulate(x0: int, inc: IntArray, lo: int, hi: int) -> IntArray:
    """The bid after every order: ``x0 + cumsum(inc)``, held in ``[lo, hi]`` by resting walls.
    An order pushing into a wall is absorbed (it trades, the price does not move); the reflection
    is the Skorokhod map, one wall at a time."""
    path = x0 + np.cumsum(inc)
    if lo <= _NONE_LO and hi >= _NONE_HI:
        return path
    out = np.empty_like(path)
    s, off, n = 0, 0, len(path)
    while s < n:
        seg = path[s:] + off
        below = seg < lo
        above = seg > hi
        jl = int(below.argmax()) if below.any() else len(seg)
        jh = int(above.argmax()) if above.any() else len(seg)
        j = min(jl, jh)
        if j == len(seg):
            out[s:] = seg
            break
        out[s: s + j] = seg[:j]
        tail = seg[j:]
        if jl < jh:
            reg_r = np.maximum.accumulate(lo - tail)
            reg = tail + reg_r
            cross = reg > hi
        else:
            reg_r = -np.maximum.accumulate(tail - hi)
            reg = tail + reg_r
            cross = reg < lo
        if not cross.any():
            out[s + j:] = reg
            break
        k = int(cross.argmax())
        out[s + j: s + j + k] = reg[:k]
        off += int(reg_r[k])
        s += j + k
    return out


# ----------------------------------------------------------------------------------------------
# the simulation: steering chunk by chunk, walls, bars


@dataclass
class _Bars:
    open: IntArray  # canonical ticks
    high: IntArray
    low: IntArray
    close: IntArray


def _simulate(rng: np.random.Generator, legs: list[_Leg], fl: _Flow, gap_ev: IntArray, sig: float, h: float,
              climax_low: bool) -> _Bars:
    """Canonical bars in ticks. Each chunk: the imbalance of the orders whose clusters start in it
    is set so that their expected move (plus the known move of older clusters) covers the chunk's
    share of the distance to the leg's goal; the sides are drawn; the bid walks the book and the
    operator's walls hold it."""
    n = sum(leg.dur for leg in legs)
    op = np.zeros(n, dtype=np.int64)
    hi_b = np.zeros(n, dtype=np.int64)
    lo_b = np.zeros(n, dtype=np.int64)
    cl_b = np.zeros(n, dtype=np.int64)
    root_side = fl.fixed.copy()
    pimp = fl.parity * fl.impact
    x = 0
    anchor = 0.0
    c = -1 if climax_low else 1
    cl_start = cb = 0
    ext = 0
    touched = False
    lo_e = hi_e = width = 0.0
    r_lo = r_hi = w2 = 0.0
    c_low = 0
    hold = 1
    s0 = 0
    for j, leg in enumerate(legs):
        name = leg.name
        goal: float | None = None
        if name in ("noise", "post"):
            goal = None
        elif name in ("trend", "pause", "bounce", "ps", "psr", "climax"):
            if j == 1:
                anchor = x - legs[0].goal * h  # the schedule starts where the noise left the price
            goal = anchor + leg.goal * h
            if name == "climax":
                cl_start = s0
                touched = False
        elif name == "ar":
            seg = lo_b[cl_start:s0] if climax_low else -hi_b[cl_start:s0]
            cb = cl_start + int(np.argmin(seg))
            ext = int(lo_b[cb] if climax_low else hi_b[cb])
            goal = ext - c * leg.goal * h
        elif name in ("st", "b"):
            if name == "st":
                lo_e, hi_e = float(lo_b[cb:s0].min()), float(hi_b[cb:s0].max())
                width = hi_e - lo_e
                if width < 0.35 * h:
                    raise _Reject("range too narrow after the AR")
                goal = lo_e + leg.goal * width if climax_low else hi_e - leg.goal * width
            else:
                goal = lo_e + leg.goal * width
        else:
            if name == "c1":
                r_lo, r_hi = float(lo_b[cb:s0].min()), float(hi_b[cb:s0].max())
                w2 = r_hi - r_lo
                hold = max(2, int(0.03 * w2))
                c_low = int(r_lo)
            if name == "c1":
                goal = r_lo - leg.goal * w2 if leg.profile == "accel" else r_lo + hold + leg.goal * w2
            elif name == "hold":
                goal = c_low + leg.goal * (r_lo - c_low)
            elif name in ("c2a", "c2"):
                goal = r_lo + leg.goal * w2
            elif name == "c3":
                goal = r_lo + hold + leg.goal * w2
            elif name == "brk":
                goal = r_hi + leg.goal * w2 if leg.turn > 0 else min(r_lo, c_low) - leg.goal * w2
            elif name == "bu":
                goal = r_hi - leg.goal * w2 if leg.turn < 0 else r_lo + leg.goal * w2
            else:  # out
                goal = x + leg.turn * leg.goal * w2
        w = _weights(leg)
        remaining = np.cumsum(w[::-1])[::-1]
        w_mean = float(w.mean())
        for b0, b1 in _chunks(leg, s0):
            lo, hi_ = _NONE_LO, _NONE_HI  # bid limits (prints: the bid for sells, bid + 1 for buys)
            if name == "climax":  # the operator's wall; once hit, its bids step up a tick over the low
                if climax_low:
                    wall = int(lo_b[cl_start:b0].min()) + 1 if touched else int(round(anchor + leg.wall * h))
                    if touched or x >= wall:
                        lo = wall
                else:
                    wall = int(hi_b[cl_start:b0].max()) - 1 if touched else int(round(anchor + leg.wall * h))
                    if touched or x + 1 <= wall:
                        hi_ = wall - 1
            elif name == "ar":
                if climax_low:
                    lo = ext + 1
                else:
                    hi_ = ext - 2
            elif name in ("st", "b"):
                jit = 1 + int(rng.uniform(0.0, 0.03) * width)
                allow = 0.03 if name == "st" else leg.allow
                if climax_low:
                    lo, hi_ = ext + jit, int(hi_e + allow * width) - 1
                else:
                    lo, hi_ = int(lo_e - allow * width), ext - 1 - jit
            elif name in ("c1", "hold", "c2a", "c2", "c3"):
                hi_ = int(r_hi - 0.04 * w2) - 1  # nothing reaches the far edge in phase C
                if name == "c1":
                    lo = int(r_lo - (1.25 * leg.goal + 0.04) * w2) if leg.profile == "accel" else int(r_lo) + hold
                elif name == "hold":
                    # closes stay beyond support; the low may be retested, not run away from
                    # (in the last bars before the way back, not even retested)
                    late = b0 >= s0 + leg.dur - SLOW_BARS - 2
                    lo = c_low + 1 if late else int(c_low - 0.06 * w2)
                    hi_ = int(r_lo) - max(2, int(0.03 * w2)) - 1
                elif name in ("c2a", "c2"):  # bids under the spring's low, then back at support once inside
                    lo = int(r_lo) + hold if x >= r_lo + hold else c_low + 1
                else:
                    lo = int(r_lo) + hold
            elif name == "brk":
                if leg.turn > 0:
                    lo = int(r_lo + 0.02 * w2)
                else:
                    hi_ = int(r_hi - 0.05 * w2) - 1
            elif name in ("bu", "out"):  # the back-up and the markup stay on the break side of the middle
                mid = 0.5 * (r_lo + r_hi)
                if (leg.turn < 0) == (name == "bu"):
                    lo = int(mid + 0.1 * w2) + 1
                else:
                    hi_ = int(mid - 0.1 * w2) - 2
            if name in ("ar", "st", "b"):  # the climax side is held even a tick under the bid
                if climax_low:
                    hi_ = max(hi_, x)
                else:
                    lo = min(lo, x)
            elif name == "climax":
                pass
            else:  # elsewhere a wall is never placed through the price
                lo = min(lo, x)
                hi_ = max(hi_, x)
            a, b = int(fl.bar_first[b0]), int(fl.bar_first[b1])
            ia, ib = int(fl.imm_first[b0]), int(fl.imm_first[b1])
            root = fl.root[a:b]
            pd = pimp[a:b]
            rs = root_side[root]
            if goal is None:
                e = 0.0
            else:
                frac = float(w[b0 - s0: b1 - s0].sum() / remaining[b0 - s0])
                move = (goal - x) * frac
                peak = max(1.0, float(w[b0 - s0: b1 - s0].mean()) / w_mean)  # the profile's fast part
                cap = 1.5 * leg.pace * sig * (b1 - b0) * peak
                move = max(-cap, min(cap, move))
                known = float((rs * pd).sum())
                steer = float(pd[rs == 0].sum())
                e = max(-_EMAX, min(_EMAX, (move - known) / steer)) if steer > 1.0 else 0.0
            rel = fl.bar_first[b0:b1] - a
            fixed = fl.fixed[ia:ib]
            for attempt in range(4):
                draw = np.where(rng.random(ib - ia) < 0.5 * (1.0 + e), 1, -1)
                root_side[ia:ib] = np.where(fixed == 0, draw, fixed)
                side = root_side[root] * fl.parity[a:b]
                path = _regulate(x, side * fl.impact[a:b] + gap_ev[a:b], lo, hi_)
                prints = path + (side > 0)
                if name != "climax" or b0 == cl_start:
                    break
                # in the climax leg a bar makes a new extreme or stays clear of it (no ties); in the
                # burst, a bar that only reaches the extreme again finds the operator's bids a tick over it
                if climax_low:
                    ext_now = int(lo_b[cl_start:b0].min())
                    if int(prints.min()) != ext_now:
                        break
                    if b0 >= s0 + leg.dur - leg.burst and attempt >= 1:
                        touched = True
                        lo = ext_now + 1
                else:
                    ext_now = int(hi_b[cl_start:b0].max())
                    if int(prints.max()) != ext_now:
                        break
                    if b0 >= s0 + leg.dur - leg.burst and attempt >= 1:
                        touched = True
                        hi_ = ext_now - 2
            lo_b[b0:b1] = np.minimum.reduceat(prints, rel)
            hi_b[b0:b1] = np.maximum.reduceat(prints, rel)
            op[b0:b1] = prints[rel]
            cl_b[b0:b1] = prints[np.r_[rel[1:], len(prints)] - 1]
            x = int(path[-1])
            if name == "climax" and not touched:
                plan = anchor + leg.wall * h
                touched = bool(lo_b[cl_start:b1].min() <= plan) if climax_low else bool(hi_b[cl_start:b1].max() >= plan)
            if name in ("c1", "hold", "c2a", "c2", "c3"):
                c_low = min(c_low, int(lo_b[b0:b1].min()))
        s0 += leg.dur
    return _Bars(op, hi_b, lo_b, cl_b)


# ----------------------------------------------------------------------------------------------
# measurement, validation, labels


def _measure_pivots(legs: list[_Leg], clo: IntArray, chi: IntArray) -> list[int]:
    """Measured last bar of every leg, in the canonical frame (lows ``clo``, highs ``chi``): the
    extreme from the previous turning point to the middle of the next leg."""
    n = len(clo)
    planned = np.cumsum([leg.dur for leg in legs]) - 1
    piv: list[int] = []
    prev = -1
    for i, leg in enumerate(legs):
        b = int(planned[i])
        if leg.turn == 0 or i == len(legs) - 1:
            p = max(b, prev + 1)
        else:
            lo_i = prev + 1
            hi_i = min(n - 1, b + max(1, legs[i + 1].dur // 2))
            if hi_i < lo_i:
                raise _Reject("pivot window empty")
            seg = chi[lo_i: hi_i + 1] if leg.turn > 0 else -clo[lo_i: hi_i + 1]
            p = lo_i + int(np.argmax(seg))
        piv.append(min(p, n - 1))
        prev = piv[-1]
    return piv


@dataclass
class _Stats:
    """What a draw measured (the numbers quoted in the module docstring)."""

    climax_ratio: float  # highest volume within 2 bars of the climax bar / mean of the 24 bars ending 3 before
    climax_bar_ratio: float  # the climax bar's own volume / the same mean
    climax_top: bool  # the climax bar has the highest volume of phase A
    range_bars: int  # climax bar to SOS/SOW bar
    b_share: float  # phase B's share of the range
    height_sigmas: float
    slow: bool
    events: int


def _draw(rng: np.random.Generator, seed: int, kind: str) -> tuple[Scenario, _Stats]:
    e = _EXPECTED[kind]
    climax_low = _TREND_IN[kind] * e < 0
    spring = bool(rng.random() < 0.6)
    failed = spring and bool(rng.random() < 0.25)
    slow = not spring and bool(rng.random() < 0.4)
    bar_ns = int(rng.choice(np.array(BAR_CHOICES), p=np.array(BAR_WEIGHTS)))
    sig_rel = _loguniform(rng, *_SIGMA[bar_ns])
    compact = bool(rng.random() < 0.15)  # a short, low structure
    h_sig = min(_loguniform(rng, 5.0, 9.0) if compact else _loguniform(rng, 6.0, 45.0), _HEIGHT_CAP[bar_ns] / sig_rel)
    reach = 0.3 / (h_sig * sig_rel)  # the trend in travels at most ~30 % of the level (daily bars)
    legs = _plan(rng, climax_low, spring, failed, slow, h_sig, compact, reach)
    n = sum(leg.dur for leg in legs)
    if n > MAX_BARS:
        raise _Reject("too many bars")
    names = [leg.name for leg in legs]
    bounds = np.concatenate([[0], np.cumsum([leg.dur for leg in legs])]).astype(np.int64)
    first_ns = START_NS + (seed % 250) * WEEK_NS
    start_ns = _bar_times(first_ns, n, bar_ns)
    season = _season(start_ns, bar_ns)
    # per-bar arrival rate, order size and book depth from the schedule
    act = np.repeat([leg.act for leg in legs], [leg.dur for leg in legs])
    size_b = np.repeat([leg.size for leg in legs], [leg.dur for leg in legs])
    depth_b = np.repeat([leg.depth for leg in legs], [leg.dur for leg in legs])
    for k, leg in enumerate(legs):
        a0, a1 = int(bounds[k]), int(bounds[k + 1])
        if leg.name == "climax":  # panic: participation builds up into the burst, the book thins
            ramp = np.linspace(0.0, 1.0, a1 - a0) ** 2
            act[a0:a1] = leg.act * (1.0 + ramp * rng.uniform(1.0, 4.0))
            act[a1 - leg.burst: a1] *= rng.uniform(0.7, 1.5, leg.burst)
            size_b[a0: a1 - leg.burst] = 1.0 + 0.3 * (leg.size - 1.0)
            depth_b[a0: a1 - leg.burst] = 0.5 * (1.0 + leg.depth)
        elif leg.name == "ps":  # the PS's last bars trade heavily
            m = min(a1 - a0, int(rng.integers(1, 3)))
            act[a1 - m: a1] *= rng.uniform(1.5, 3.0)
        elif leg.name == "ar":  # short covering and fresh demand after the climax
            m = min(a1 - a0, int(rng.integers(1, 3)))
            act[a0: a0 + m] *= rng.uniform(1.2, 2.8)
    liq = np.empty(n)  # a slow liquidity factor (volatility clustering)
    shocks = rng.normal(0.0, 0.05, n)
    v = 0.0
    for i, s in enumerate(shocks.tolist()):
        v = 0.98 * v + s
        liq[i] = v
    depth_b = depth_b * np.exp(liq)
    events_per_bar = rng.uniform(25.0, 55.0)
    n_br = rng.uniform(0.3, 0.65)
    rho = rng.uniform(0.72, 0.92)
    lam = events_per_bar * (1.0 - n_br) * season * act
    # news: bursts of one-sided orders (unlabelled) in the noise, the trend, phase B and after
    news: list[tuple[int, float, int]] = []
    for roles, count in ((("noise",), int(rng.integers(0, 3))), (("trend", "pause"), int(rng.integers(0, 3))),
                         (("b",), int(rng.integers(0, 3))), (("post",), int(rng.integers(0, 2)))):
        idx = [k for k, nm in enumerate(names) if nm in roles]
        for _ in range(count):
            k = int(rng.choice(idx))
            a0, a1 = int(bounds[k]), int(bounds[k + 1])
            if a1 - a0 < 4:
                continue
            bar = int(rng.integers(a0 + 1, a1 - 1))
            news.append((bar, rng.uniform(0.8, 2.5), 1 if rng.random() < 0.5 else -1))
            size_b[bar] *= rng.uniform(1.3, 2.0)
            depth_b[bar: bar + 2] *= rng.uniform(0.5, 0.8)
    fl = _flow(rng, lam, size_b, depth_b, news, n_br, rho, tau=rng.uniform(0.02, 0.15), alpha=rng.uniform(1.3, 2.2),
               d0=rng.uniform(1.2, 3.0), slope=rng.uniform(0.3, 1.0))
    # the bar sigma in ticks: per-bar sums of the signed impacts with unsteered sides
    coin = np.where(rng.random(len(fl.fixed)) < 0.5, 1, -1)
    ev_bar = np.repeat(np.arange(n), np.diff(fl.bar_first))
    sums = np.bincount(ev_bar, weights=coin[fl.root] * fl.parity * fl.impact, minlength=n)
    sig = max(1.0, 1.4826 * float(np.median(np.abs(sums - np.median(sums)))))
    h = h_sig * sig
    # session gaps: the first order of a session's first bar (every bar for daily bars)
    gap_ev = np.zeros(len(fl.root), dtype=np.int64)
    opens = np.flatnonzero(np.diff(start_ns) != bar_ns) + 1 if bar_ns != DAY_NS else np.arange(1, n)
    gsd = rng.uniform(*_GAP[bar_ns]) * sig
    gap_ev[fl.bar_first[opens]] = np.rint(rng.normal(0.0, gsd, len(opens))).astype(np.int64)
    bars = _simulate(rng, legs, fl, gap_ev, sig, h, climax_low)
    # volume: the traded size, plus off-book blocks (unlabelled)
    vol_f = np.bincount(ev_bar, weights=fl.size, minlength=n).astype(np.float64)
    blocks = rng.random(n) < 0.004
    vol_f[blocks] += np.median(vol_f) * rng.uniform(2.0, 6.0, int(blocks.sum()))
    vol = np.maximum(1, np.rint(vol_f * _CLIP[bar_ns])).astype(np.int64)
    # prices: a tick grid on an index level
    lo_lvl, hi_lvl = _LEVELS[int(rng.integers(len(_LEVELS)))]
    level = rng.uniform(lo_lvl, hi_lvl)
    moves = np.diff(bars.close).astype(np.float64)  # the bar's realised sigma in ticks (winsorised)
    q1, q99 = np.percentile(moves, [1.0, 99.0])
    realised = max(1.0, float(np.std(np.clip(moves, q1, q99))))
    raw = sig_rel * level / realised
    mag = 10.0 ** math.floor(math.log10(raw))
    nice = np.array([1.0, 2.0, 2.5, 5.0, 10.0]) * mag
    grain = float(nice[int(np.argmin(np.abs(np.log(nice / raw))))])
    level = round(level / grain) * grain
    if e > 0:
        ao, ah, al, ac = bars.open, bars.high, bars.low, bars.close
    else:
        ao, ah, al, ac = -bars.open, -bars.low, -bars.high, -bars.close
    shift = level - grain * float(ac[0])  # the first close sits at the level ...
    floor_lvl = 0.3 * level - (shift + grain * float(al.min()))
    if floor_lvl > 0:  # ... unless the path would fall under 30 % of it: then the level is raised
        shift += math.ceil(floor_lvl / grain) * grain
        level = shift + grain * float(ac[0])

    def points(v: IntArray) -> IntArray:
        return np.asarray(np.rint((shift + grain * v.astype(np.float64)) * SCALE).astype(np.int64), dtype=np.int64)

    o, hi, lo, cl = points(ao), points(ah), points(al), points(ac)
    clo, chi, ccl = bars.low, bars.high, bars.close
    piv = _measure_pivots(legs, clo, chi)
    first = [0] + [p + 1 for p in piv[:-1]]

    def leg_of(name: str) -> int:
        return names.index(name)

    j_cl, j_ar, j_st = leg_of("climax"), leg_of("ar"), leg_of("st")
    j_bs = [k for k, nm in enumerate(names) if nm == "b"]
    j_c1, j_brk, j_bu, j_out = leg_of("c1"), leg_of("brk"), leg_of("bu"), leg_of("out")
    j_ps = leg_of("ps") if "ps" in names else -1
    j_c3 = leg_of("c3") if "c3" in names else -1
    climax_bar = piv[j_cl]
    end_b = piv[j_bs[-1]]
    r_lo = int(clo[climax_bar: end_b + 1].min())
    r_hi = int(chi[climax_bar: end_b + 1].max())
    if climax_low:
        if (clo[climax_bar + 1: end_b + 1] <= clo[climax_bar]).any():
            raise _Reject("climax not the range low")
    elif (chi[climax_bar + 1: end_b + 1] >= chi[climax_bar]).any():
        raise _Reject("climax not the range high")
    labelled = [j_cl, j_ar, j_st, j_c1, j_brk, j_bu] + ([j_ps] if j_ps >= 0 else [])
    if any(piv[k] - first[k] < 1 for k in labelled) or any(piv[k] < first[k] for k in range(len(legs))):
        raise _Reject("a leg under two bars")
    height = r_hi - r_lo
    j_trend = max(k for k, nm in enumerate(names) if nm == "trend")
    for k in range(j_trend + 1, len(legs)):  # every swing is a swing: two bars, a real move
        turn, prev = legs[k].turn, piv[k - 1]
        if turn == 0:
            continue
        start_lvl = ccl[prev] if legs[k - 1].turn == 0 else (clo[prev] if turn > 0 else chi[prev])
        move = chi[piv[k]] - start_lvl if turn > 0 else start_lvl - clo[piv[k]]
        if piv[k] - first[k] < 1 or move < 0.08 * height:
            raise _Reject("a swing too small")
    if j_ps >= 0:  # the PS is not beyond the climax
        if (climax_low and clo[piv[j_ps]] <= r_lo) or (not climax_low and chi[piv[j_ps]] >= r_hi):
            raise _Reject("PS beyond the climax")
    c1_bar = piv[j_c1]
    brk_start = first[j_brk]
    phase_c = slice(end_b + 1, brk_start)
    if brk_start <= end_b + 1:
        raise _Reject("no phase C")
    deepest = end_b + 1 + int(np.argmin(clo[phase_c]))
    if spring:
        if not clo[c1_bar] < r_lo:
            raise _Reject("spring not beyond the edge")
        if deepest != c1_bar:
            raise _Reject("spring not the extreme of phase C")
        if r_lo - clo[c1_bar] > 0.5 * height:
            raise _Reject("spring too deep")
        if not (ccl[c1_bar: c1_bar + SHAKEOUT_BARS + 1] > r_lo).any():
            raise _Reject("spring does not close back inside")
        if (clo[c1_bar + SHAKEOUT_BARS + 1: brk_start] < r_lo).any():
            raise _Reject("second shakeout")
    elif slow:
        if not clo[deepest] < r_lo or (ccl[deepest: deepest + SLOW_BARS + 1] > r_lo).any():
            raise _Reject("slow shakeout closes back too soon")
        back = ccl[deepest: brk_start] > r_lo
        if not back.any() or (clo[deepest + int(np.argmax(back)) + 1: brk_start] < r_lo).any():
            raise _Reject("slow shakeout does not stay back inside")
    elif (clo[phase_c] < r_lo).any():
        raise _Reject("test goes beyond the edge")
    if j_c3 >= 0 and clo[piv[j_c3]] < r_lo:
        raise _Reject("phase-C test beyond the edge")
    if (chi[phase_c] > r_hi).any():
        raise _Reject("phase C beyond the far edge")
    seg = ccl[brk_start: piv[j_brk] + 1]
    beyond = seg < r_lo if failed else seg > r_hi
    if not beyond.any():
        raise _Reject("break leg does not close beyond")
    brk_bar = brk_start + int(np.argmax(beyond))
    mid = (r_lo + r_hi) / 2.0
    bu_bar = piv[j_bu]
    if (failed and chi[bu_bar] >= mid) or (not failed and clo[bu_bar] <= mid):
        raise _Reject("back-up on the wrong side")
    if not RANGE_BARS[0] <= brk_bar - climax_bar <= RANGE_BARS[1]:
        raise _Reject("range length")
    if climax_bar < 30:
        raise _Reject("climax too early")
    before = float(vol[climax_bar - 27: climax_bar - 3].mean())
    ratio = float(vol[climax_bar - 2: climax_bar + 3].max()) / before
    own = float(vol[climax_bar]) / before
    if not 1.4 <= ratio <= 30.0:
        raise _Reject("climax volume")
    climax_is_low = climax_low if e > 0 else not climax_low
    direction = (-1 if failed else 1) * e
    labels: list[Label] = []

    def add(event: str, k: int, bar: int | None = None) -> None:
        labels.append(Label(event, piv[k] if bar is None else bar, first[k], piv[k]))

    if j_ps >= 0:
        add("preliminary_support" if climax_is_low else "preliminary_supply", j_ps)
    add("selling_climax" if climax_is_low else "buying_climax", j_cl)
    add("automatic_rally" if climax_is_low else "automatic_reaction", j_ar)
    add("secondary_test", j_st)
    if spring:
        add("spring" if e > 0 else "upthrust", j_c1)
    add("sign_of_strength" if direction > 0 else "sign_of_weakness", j_brk, brk_bar)
    add("last_point_of_support" if direction > 0 else "last_point_of_supply", j_bu)
    labels.sort(key=lambda lb: (lb.bar, lb.start))
    phases = np.zeros(n, dtype=np.int8)
    a_start = first[j_ps] if j_ps >= 0 else first[j_cl]
    out_end = piv[j_out]
    if out_end >= n - 1:
        raise _Reject("markup runs to the end")
    phases[a_start: piv[j_st] + 1] = 1
    phases[piv[j_st] + 1: end_b + 1] = 2
    phases[end_b + 1: brk_start] = 3
    phases[brk_start: bu_bar + 1] = 4
    phases[bu_bar + 1: out_end + 1] = 5
    sc = Scenario(
        seed=seed, kind=kind, spring=spring, failed=failed, start_ns=start_ns, end_ns=start_ns + bar_ns,
        open=o, high=hi, low=lo, close=cl, volume=vol, labels=labels, phases=phases,
        structure=(a_start, out_end), direction=direction, bar_ns=bar_ns,
    )
    top = bool(vol[climax_bar] >= vol[a_start: piv[j_st] + 1].max())
    b_share = (end_b - piv[j_st]) / max(1, brk_bar - climax_bar)
    return sc, _Stats(ratio, own, top, brk_bar - climax_bar, b_share, h_sig, slow, len(fl.root))


def _generate(seed: int, kind: str | None) -> tuple[Scenario, _Stats, int]:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SALT]))
    k = KINDS[int(rng.integers(len(KINDS)))]
    if kind is not None:
        k = kind
    for tries in range(1, MAX_TRIES + 1):
        try:
            sc, stats = _draw(rng, seed, k)
        except _Reject:
            continue
        return sc, stats, tries
    raise RuntimeError(f"family F: no valid scenario for seed {seed} ({k}) in {MAX_TRIES} tries")


def generate(seed: int, kind: str | None = None) -> Scenario:
    """One family-F scenario, deterministic per ``seed`` (and ``kind``, drawn from the seed if None)."""
    return _generate(seed, kind)[0]


def scenarios(count: int, first_seed: int = 0) -> Iterator[Scenario]:
    """``generate(seed)`` for ``count`` consecutive seeds from ``first_seed``."""
    for seed in range(first_seed, first_seed + count):
        yield generate(seed)
