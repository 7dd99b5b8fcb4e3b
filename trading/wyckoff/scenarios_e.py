"""Family E of labelled Wyckoff scenarios: a heavy-tailed particle between soft walls, 15m-4h bars.

Purpose
-------
A held-out test family for a Wyckoff detector, built differently from the other families (A:
Brownian bridges between leg targets on 1-minute bars; B: GARCH paths around target paths; C:
regime-switching drift segments; D: an agent-based order-flow model on 30-minute bars) and
written without looking at the detector. Here each bar's return is a variance-gamma draw (a
Gaussian in a random business time, with skew) with stochastic volatility; a hidden schedule sets
a drift toward each leg's goal, and inside the range *soft walls* at the measured edges (resting
orders) absorb the pushes and repel the price. Volume follows the same business time (a
mixture-of-distributions model) plus stop runs beyond recent extremes. Proportions are random
per seed, much narrower and much wider, shorter and longer than the other families'.

Calendar and bars
-----------------
The bar length is drawn per scenario: 15 minutes (40 %), 1 hour (35 %) or 4 hours (25 %), and is
the scenario's ``bar_ns`` (``BAR_CHOICES``). The calendar is the 24/5 FX week, Sunday 22:00 to
Friday 22:00 UTC, with bars aligned to the Sunday open and no weekend bars; the first bar of a
scenario is the Sunday 22:00 UTC open ``seed % 250`` weeks after the week of ``START_NS`` (so the
first bar starts at ``START_NS - 2 h + (seed % 250)`` weeks). ``end_ns = start_ns + bar_ns``.
Consecutive bars are ``bar_ns`` apart except across a weekend, where the first bar of the week
opens with a gap (normal, sd 0.5-3 bar sigmas, per scenario). The instrument is FX-like (levels
EURUSD 1.03-1.22, AUDUSD 0.62-0.78, USDCAD 1.25-1.45, NZDUSD 0.55-0.68, EURGBP 0.82-0.92); prices
are integer points, ``price * SCALE``. Volume is the bar's tick count times 100 (hundredths of a
tick). At most ``MAX_BARS`` (2500) bars; the kept scenarios have about 440-1600.

Prices
------
Everything is simulated in a canonical frame (the break expected upward, the shakeout below
support) in log price, and mirrored for the kinds that resolve down. Per bar ``t``:

    r_t = drift_t + sig_t * (theta * (G_t - 1) + sqrt(G_t) * Z_t),   close = open + r_t

* ``G_t`` is the business time, Gamma(1/nu, nu) with mean 1 (nu 0.2-1.2 per scenario: the tails);
  ``theta`` the leg's skew (toward the climax in the climax leg, 0.2-0.7; small elsewhere); ``Z_t``
  standard normal. The climax's burst bars and the PS's last bar have their business time
  multiplied (1.5-4 x, resp. 1.5-3 x).
* ``sig_t = sigma * sqrt(session_t) * exp(h_t)``, ``h_t`` an AR(1) log-volatility (0.97, sd 0.08),
  ``session_t`` the intraday profile below. ``sigma`` is 0.035-0.07 % per 15 minutes times
  sqrt(bar length / 15 min), times a volatility perturbation log-uniform in x0.5-x2.
* High and low are drawn from the exact law of the maximum (minimum) of a Brownian bridge from
  the open to the close with the bar's variance ``v = sig_t^2 G_t``:
  ``high = open + (r + sqrt(r^2 + 2 v E1)) / 2``, ``low = open + (r - sqrt(r^2 + 2 v E2)) / 2``
  with E1, E2 standard exponentials (no intrabar sub-steps).
* Drift: ``rate_t * (goal - open)``, where ``rate_t`` follows the leg's profile (accelerating,
  decelerating, bell-shaped, flat; over a leg the drift closes about 1 - exp(-kappa) of the
  distance, kappa 2-5, 1-2 before the climax's burst; a shakeout's recovery starts with 25-45 % a
  bar), capped at the leg's pace (1.2-3 bar sigmas a bar; 6 in the climax's burst bars; none in the
  noise). The path is never pinned: legs stop short or overshoot and every label is measured.
* Walls (resting orders) inside the structure: near a floor (ceiling) a push toward it fades
  linearly over a band of max(8 % of the range height, 3 sigma), a repulsion
  ``k * sig_t * exp(-distance / sig_t)`` (k 0.4-0.9) grows, and beyond it half the overshoot is
  pushed back per bar. In the ST and phase B the climax side is walled max(4 % of the height,
  2 sigma) inside the climax extreme, the other side at the AR's extreme plus the leg's allowance;
  in phase C the far edge is walled 4-5 % inside, a test that holds at max(3 %, 2 sigma) inside
  support, a shakeout at 1.3 x its planned depth (+5 %) below it; the back-up beyond the middle.
  Wicks and heavy-tailed bars still cross the walls; the validation below decides.
* News (unlabelled distractors): single huge bars, business time 10-35 (in phase B capped so the
  bar's sigma is at most 12 % of the height) and a move of 1-2.2 of that bar's sigma either way;
  0-2 in the noise, 0-2 in the trend, 0-2 in phase B, 0-1 in the noise after. The drift (inside
  the structure) takes them back; in the noise they stay.

Volume
------
``ticks = base x session x participation x exp(l_t) x (G_t^gamma + stops_t) x noise``: base 150-900
ticks per 15 minutes (times the bar length in quarter hours); ``session`` the mean over the bar's
quarter hours of an intraday profile by UTC hour (Sydney/Tokyo quiet, the London open, the New-York
data releases and the London/New-York overlap busiest, the late New-York afternoon quiet; thinner
for the first 3 h of the week and after Friday 18:00); ``participation`` the leg's (trend 1-1.2, its
small consolidation 0.7-1.3, PS 1.3-1.9, climax rising through its leg to 1.2-2.2, AR 1.2-1.6, ST
0.7-1, B 0.5-0.9, spring quiet 0.6-0.9 or shakeout 1.2-2, test 0.6-0.9, break 1.3-2, back-up
0.6-0.9, markup 1-1.2); ``l_t`` an AR(1) liquidity factor (0.98, sd 0.04); ``G_t`` the bar's
business time (the same as the price's; gamma 0.6-1); ``stops_t = k (overshoot / sig_t)^0.8`` (k
0.3-0.9), the overshoot beyond the highest high / lowest low of the previous 12-48 bars (stop runs:
new extremes, climaxes, shakeouts and breaks trade more); lognormal noise (sd 0.2-0.45); and
unlabelled spikes (0.4 % of the bars, 2.5-7 x). The climax volume is not set but measured: the
highest volume within two bars of the climax bar over the mean of the 24 bars ending three bars
before it lies in 1.6-12 (median about 5), and the climax bar's own ratio is at least 1.1; in about
40 % of the scenarios the climax bar is not the highest-volume bar of that window (the climax is
spread over 1-3 bars).

The hidden schedule (canonical frame, heights H of the planned range)
-------------------------------------------------------------------
H is 7-40 bar sigmas (log-uniform, at most 8 % of the price). Legs, each with a goal:
noise (80-400 bars, no drift; the schedule starts wherever it ends), the trend into the
structure (1.2-4 H, 40-350 bars), in 35 % interrupted by an unlabelled small consolidation (2 or
4 swings of 12-35 % of H; in 40 % of those a poke out of its trend-side edge that comes back in)
before the trend resumes through it; in half a PS group (the trend's last low, a bounce, the PS,
its rally); the climax leg (3-20 bars, its last 1-3 bars a burst carrying the bulk of the move);
the AR (0.8-1.15 H from the measured climax extreme); the first ST (2-35 % of the measured height
from the climax edge); phase B: 1-9 swings (odd after a fall into the range, even after a rise, so
that B ends with a rise; at least one per 50 bars), each covering 25-80 % of the height, with
30 % of the AR-side swings probing 1-8 % beyond the AR's extreme and closing back (unlabelled
"upthrust/spring actions" of phase B: they count in the range edges) and, after a fall into the
range, 30 % of the B lows coming within 3-12 % of the climax; phase C: a spring/upthrust 4-35 % of the height beyond support (the
edges measured at the end of phase B), quiet or on a shakeout, or a test that holds inside; then
(55 %, and always when failing or after an unconfirmed shakeout) a rally and a test that holds;
the SOS/SOW leg (20-70 % of the height beyond the edge), the back-up (LPS/LPSY), the markup/
markdown (1-3.5 heights, 40-300 bars) and noise (30-250 bars). The range (climax to break) is
planned log-uniform in 40-600 bars with phase B 10-75 % of it, split by Dirichlet weights; no leg
is shorter than its distance at its pace, so tall ranges take more bars. Unconfirmed shakeouts
(unlabelled distractors, 40 % of the draws without a spring): the phase-C leg goes beyond support
and its closes stay beyond for at least ``SLOW_BARS`` (12) bars from its extreme (a hold leg of
28-45 bars), then it comes back inside, tests and breaks the planned way: by the 10-bar rule it
is *not* a spring, so it has no label and ``spring`` is False. Failures: a spring/upthrust, a rally
(25-60 % of the height), then the break the other way (the SOW after a spring, the SOS after an
upthrust), the back-up and the markdown/markup. Planned shares: a spring in 62 % of the draws, a
failure in 23 % of those; after the validation about 67 % of the kept scenarios have a
spring/upthrust, about 15 % fail and about 8 % have an unconfirmed shakeout (over 600 seeds).
Kinds are drawn uniformly.

Labels (all measured on the final integer bars)
-----------------------------------------------
Every leg's turning point is measured: the extreme (lowest low at a trough, highest high at a
peak) over the bars from the previous turning point up to the middle of the next leg (legs
without a turning point end where planned). A leg runs from the bar after the previous turning
point to its own turning point; a label's ``start`` and ``end`` are its leg's first and last bar
and its ``bar`` the leg's extreme on the event's side (lowest low for SC, spring, ST after an SC,
LPS, PS of accumulation, automatic reaction; highest high for BC, upthrust, AR after an SC, ST
after a BC, LPSY, preliminary supply), except sign_of_strength / sign_of_weakness, whose ``bar``
is the first bar of its leg that closes beyond the range edge. Range edges are the highest high
and the lowest low from the climax bar to the end of phase B. Event names: preliminary_support /
preliminary_supply (by the climax side), selling_climax + automatic_rally (a fall into the
climax) or buying_climax + automatic_reaction (a rise), secondary_test (the first ST only),
spring (below support) / upthrust (above resistance), sign_of_strength + last_point_of_support
(break up) or sign_of_weakness + last_point_of_supply (break down), named by the actual break.
Nothing else is labelled: not the trend's consolidation, the phase-B probes, the news bars, the
volume spikes, the rally and test after a spring, nor an unconfirmed shakeout.

Phases (np.int8, index into ``PHASES``): "" in the noise and the trend; A from the PS (or
climax) leg through the first ST; B the swings after it; C from the leg into the spring/test up
to the bar before the SOS/SOW leg (an unconfirmed shakeout and its hold included); D that leg and
the back-up; E the markup/markdown; "" after. ``structure`` = (first bar of phase A, last bar of
phase E); ``direction`` = +1 if the break is up, -1 if down; ``failed`` = the break went against
the kind's expected direction (always after a spring/upthrust); ``spring`` = a spring/upthrust
is labelled.

Validation: a draw is kept only if, on the measured bars, the climax is the extreme of the range on
its side (strictly: no other bar of the range ties it); every turning leg after the trend has at
least two bars and moves at least 8 % of the range height; the PS is not beyond the climax; a
spring/upthrust goes beyond the edge (by at most half the height), is the extreme of phase C, closes
back inside within ``SHAKEOUT_BARS`` (10) bars of its extreme, and no bar of phase C from
``SHAKEOUT_BARS`` + 1 bars after its extreme goes beyond that edge again; an unconfirmed shakeout's extreme (the extreme of phase C) is beyond the
edge, no close is back inside within ``SLOW_BARS`` bars of it, and once back inside the price stays
inside until the break leg; a test without either stays inside; the phase-C test after a rally
holds; no bar of phase C reaches beyond the opposite edge; the SOS/SOW leg closes beyond its edge;
the back-up stays on the break side of the range's middle; the range (climax bar to SOS/SOW bar)
lasts 40-600 bars; the climax volume ratios are as above; the markup ends before the last bar.
Otherwise the scenario is redrawn from the same random stream (seeded from the seed and the family's
salt; about 3 draws on average, at most ``MAX_TRIES``, then RuntimeError).
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
BAR_CHOICES: tuple[int, ...] = (15 * MINUTE_NS, 60 * MINUTE_NS, 240 * MINUTE_NS)
BAR_WEIGHTS: tuple[float, ...] = (0.4, 0.35, 0.25)
WEEK_NS = 7 * 24 * 60 * MINUTE_NS
MAX_BARS = 2500
MAX_TRIES = 400
SHAKEOUT_BARS = 10  # a spring/upthrust closes back inside within this many bars of its extreme
SLOW_BARS = 12  # an unconfirmed shakeout closes beyond the edge for at least this many bars
_SALT = 0xE7A11
_SESSION_OPEN_NS = START_NS - 2 * 60 * MINUTE_NS  # Sunday 22:00 UTC before START_NS (a Monday)
_TRADING_NS = 5 * 24 * 60 * MINUTE_NS

_EXPECTED = {"accumulation": 1, "distribution": -1, "reaccumulation": 1, "redistribution": -1}
_TREND_IN = {"accumulation": -1, "distribution": 1, "reaccumulation": 1, "redistribution": -1}
# instruments: (low, high) of the price level
_LEVELS = ((1.03, 1.22), (0.62, 0.78), (1.25, 1.45), (0.55, 0.68), (0.82, 0.92))

# the fastest drift of a leg, in the bar's sigmas (the climax's burst bars: 6)
_PACE = {"noise": 0.0, "post": 0.0, "trend": 1.2, "mini": 1.2, "ps": 2.0, "climax": 2.0, "ar": 2.5, "c1": 2.0,
         "c2": 3.0, "brk": 2.5, "out": 1.2}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class _Reject(Exception):
    """The draw breaks a rule; draw again from the same stream."""


@dataclass
class _Leg:
    """One leg of the hidden schedule, canonical frame (climax side and break as for accumulation
    or reaccumulation: shakeout below support, break above resistance)."""

    name: str  # noise, trend, mini, pre, bounce, ps, psr, climax, ar, st, b, c1, hold, c2, c3, brk, bu, out, post
    dur: int
    turn: int  # +1 the leg ends at a peak, -1 at a trough, 0 no turning point
    goal: float = 0.0  # where the leg aims; its meaning depends on the leg (see _simulate)
    kappa: float = 3.0  # the share of the remaining distance closed over the leg, ~ 1 - exp(-kappa)
    profile: str = "flat"  # flat, accel, decel, smooth, burst, none (no drift)
    act: float = 1.0  # participation (volume) multiplier
    skew: float = 0.0  # variance-gamma skew of the innovations (canonical sign)
    boost: float = 1.0  # business-time multiplier of the burst bars (climax) or the last bar (PS)
    burst: int = 0  # climax: the number of final bars that carry the bulk of the move
    allow: float = 0.0  # phase B: how far beyond the edge on the AR side the wall sits (range heights)


# ----------------------------------------------------------------------------------------------
# calendar and session



def _ar1(phi: float, shocks: FloatArray) -> FloatArray:
    """x_t = phi * x_(t-1) + shocks_t, from x_(-1) = 0."""
    out = np.empty(len(shocks))
    x = 0.0
    for t, shock in enumerate(shocks):
        x = phi * x + shock
        out[t] = x
    return out

def _bar_times(first_ns: int, n: int, bar_ns: int) -> IntArray:
    """``n`` consecutive bar starts of ``bar_ns`` on the 24/5 calendar from ``first_ns``."""
    m = int(n * 1.45) + WEEK_NS // bar_ns + 8
    cand = first_ns + bar_ns * np.arange(m, dtype=np.int64)
    ok = (cand - _SESSION_OPEN_NS) % WEEK_NS < _TRADING_NS
    return np.asarray(cand[ok][:n], dtype=np.int64)


def _bump(hour: FloatArray, centre: float, width: float) -> FloatArray:
    d = np.abs(hour - centre)
    d = np.minimum(d, 24.0 - d)
    return np.asarray(np.exp(-0.5 * (d / width) ** 2), dtype=np.float64)


def _season(start_ns: IntArray, bar_ns: int) -> FloatArray:
    """Participation by time of day (mean over the bar's quarter hours): Sydney/Tokyo quiet, the
    London open, the New York data releases and the London/New-York overlap busiest, the late New
    York afternoon quiet; Friday evening and the Sunday open thinner still."""
    k = max(1, bar_ns // (15 * MINUTE_NS))
    t = start_ns[:, None] + (np.arange(k, dtype=np.int64) * 15 * MINUTE_NS + 7 * MINUTE_NS)[None, :]
    hour = ((t % (24 * 60 * MINUTE_NS)) / (60 * MINUTE_NS)).astype(np.float64)
    prof = (0.32 + 0.25 * _bump(hour, 1.0, 2.0) + 0.85 * _bump(hour, 7.8, 0.9) + 0.55 * _bump(hour, 10.5, 2.2)
            + 1.0 * _bump(hour, 13.6, 0.8) + 0.7 * _bump(hour, 15.0, 1.8) + 0.15 * _bump(hour, 19.0, 1.5))
    since_open = ((t - _SESSION_OPEN_NS) % WEEK_NS) / (60 * MINUTE_NS)
    prof = prof * np.where(since_open < 3.0, 0.6, 1.0) * np.where(since_open > 116.0, 0.7, 1.0)
    return np.asarray(prof.mean(axis=1), dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# the hidden schedule


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _ilog(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(round(_loguniform(rng, lo, hi)))


def _plan(rng: np.random.Generator, climax_low: bool, spring: bool, failed: bool, slow: bool,
          h_sig: float) -> list[_Leg]:
    """The legs of one scenario. Before the climax the goals are levels in planned range heights
    (the climax edge at 0 or 1); after it they are relative to the edges measured on the path.
    ``h_sig`` is the planned range height in bar sigmas: no leg is planned shorter than its
    distance at its pace."""
    u = rng.uniform
    c = -1 if climax_low else 1  # the climax is a trough (-1) or a peak (+1)
    edge = 0.0 if climax_low else 1.0

    def lvl(depth: float) -> float:  # ``depth`` planned heights on the trend's near side of the climax edge
        return edge - c * depth

    def need(dist: float, name: str) -> int:  # bars to cover ``dist`` heights at the leg's pace
        return int(math.ceil(1.3 * abs(dist) * h_sig / _PACE.get(name, 1.5))) + 1

    def mk(name: str, dur: int, turn: int, goal: float, dist: float, **kw: float | str | int) -> _Leg:
        return _Leg(name, max(dur, need(dist, name)), turn, goal, **kw)  # type: ignore[arg-type]

    legs: list[_Leg] = []
    t_in = u(1.2, 4.0)
    legs.append(_Leg("noise", _ilog(rng, 80, 400), 0, lvl(t_in), profile="none"))
    has_ps = bool(rng.random() < 0.5)
    if has_ps:
        ps_level = lvl(u(0.25, 0.7))
        pre = ps_level - c * u(0.1, 0.3)
        trend_goal, trend_turn = pre, c
    else:
        trend_goal, trend_turn = lvl(u(0.35, 0.9)), 0
    pos = lvl(t_in)
    if rng.random() < 0.35:  # an unlabelled small consolidation on the way
        m = lvl(t_in * u(0.4, 0.7))
        a = u(0.12, 0.35)
        legs.append(mk("trend", _ilog(rng, 30, 160), 0, m, m - pos, kappa=u(2.5, 4.0), profile="smooth",
                       act=u(1.0, 1.2)))
        pos = m
        for k in range(2 * int(rng.integers(1, 3))):
            goal = m - c * a * u(0.7, 1.0) if k % 2 == 0 else m - c * a * u(0.0, 0.3)
            legs.append(mk("mini", int(rng.integers(6, 40)), 0, goal, goal - pos, kappa=u(2.5, 4.0), profile="flat",
                           act=u(0.7, 0.95)))
            pos = goal
        if rng.random() < 0.4:  # a poke out of its trend-side edge that comes back in
            for goal, prof, act in ((m + c * a * u(0.1, 0.35), "flat", u(0.9, 1.3)),
                                    (m - c * a * u(0.4, 0.8), "decel", u(0.8, 1.0))):
                legs.append(mk("mini", int(rng.integers(3, 20)), 0, goal, goal - pos, kappa=u(3.0, 4.0),
                               profile=prof, act=act))
                pos = goal
        legs.append(mk("trend", _ilog(rng, 30, 200), trend_turn, trend_goal, trend_goal - pos, kappa=u(2.5, 4.0),
                       profile="smooth", act=u(1.0, 1.2)))
    else:
        legs.append(mk("trend", _ilog(rng, 40, 350), trend_turn, trend_goal, trend_goal - pos, kappa=u(2.5, 4.0),
                       profile="smooth", act=u(1.0, 1.2)))
    pos = trend_goal
    if has_ps:
        bounce = pre - c * u(0.12, 0.3)
        psr = ps_level - c * u(0.15, 0.4)
        legs.append(mk("bounce", _ilog(rng, 4, 18), -c, bounce, bounce - pos, kappa=u(2.5, 4.0), profile="decel"))
        legs.append(mk("ps", _ilog(rng, 4, 22), c, ps_level, ps_level - bounce, kappa=u(2.5, 4.0), profile="accel",
                       act=u(1.3, 1.9), skew=0.3 * c, boost=u(1.5, 3.0)))
        legs.append(mk("psr", _ilog(rng, 4, 22), -c, psr, psr - ps_level, kappa=u(2.5, 4.0), profile="decel",
                       act=u(1.0, 1.3)))
        pos = psr
    burst = int(rng.integers(1, 4))
    # the burst bars carry the last part of the fall (rise) into the climax; the rest is paced
    dur_cl = max(_ilog(rng, 3, 20), need(0.5 * (edge - pos), "climax") + burst)
    legs.append(_Leg("climax", dur_cl, c, edge + c * u(0.0, 0.08), u(1.0, 2.0), "burst", act=u(1.2, 2.2),
                     skew=c * u(0.2, 0.7), boost=u(1.5, 4.0), burst=burst))
    # the range, climax to the break: 40-600 bars with random proportions
    r_total = _ilog(rng, 40, 600)
    b_bars = max(6, int(r_total * u(0.1, 0.75)))
    n_b_max = max(2, min(9, b_bars // 8))
    n_b_min = min(n_b_max, b_bars // 50)  # a long phase B swings more than once
    odd = climax_low  # B starts away from the climax side and ends with a rise
    choices = [k for k in range(1, 10) if k % 2 == (1 if odd else 0) and n_b_min <= k <= n_b_max] or [1 if odd else 2]
    n_b = int(rng.choice(choices))
    with_test = bool(rng.random() < 0.55) or failed or slow
    n_c = 1 + (1 if failed else 2 if with_test else 0)
    rest = max(12, r_total - b_bars)
    w = rng.dirichlet(np.full(3 + n_c, 2.0))  # AR, ST, the C legs, the break
    di = iter([max(3, int(round(x * rest))) for x in w])
    d_b = iter([max(4, int(round(x * b_bars))) for x in rng.dirichlet(np.full(n_b, 2.0))])
    ar_h = u(0.8, 1.15)
    legs.append(mk("ar", next(di), -c, ar_h, ar_h, kappa=u(2.5, 4.0), profile="decel", act=u(1.2, 1.6)))
    st = u(0.02, 0.35)
    legs.append(mk("st", next(di), c, st, 1.0 - st, kappa=u(2.5, 4.0), profile="smooth", act=u(0.7, 1.0),
                   skew=0.1 * c))
    pos = st if climax_low else 1.0 - st  # in range fractions from the low edge
    d = 1 if climax_low else -1
    for _ in range(n_b):
        probe = bool(rng.random() < 0.3)
        swing = u(0.25, 0.8)  # each swing covers a quarter of the range or more
        if climax_low:
            if d > 0:
                goal = 1.0 + u(0.01, 0.08) if probe else min(0.97, max(0.45, pos + swing))
            else:
                goal = u(0.03, 0.12) if rng.random() < 0.3 else max(0.12, min(0.6, pos - swing))
        else:
            if d < 0:
                goal = -u(0.01, 0.08) if probe else max(0.03, min(0.55, pos - swing))
            else:
                goal = min(0.93, max(0.45, pos + swing))
        probe = probe and (d > 0) == climax_low
        allow = abs(goal - (1.0 if goal > 0.5 else 0.0)) + 0.04 if probe else 0.02
        legs.append(mk("b", next(d_b), d, goal, goal - pos, kappa=u(2.0, 3.5), profile="smooth", act=u(0.5, 0.9),
                       allow=allow))
        pos = goal
        d = -d
    if spring or slow:
        quiet = bool(rng.random() < 0.5)
        depth = u(0.04, 0.35) if spring else u(0.1, 0.35)
        legs.append(mk("c1", min(next(di), int(rng.integers(3, 25))), -1, depth, pos + depth, kappa=u(2.5, 4.0),
                       profile="accel", act=u(0.6, 0.9) if quiet else u(1.2, 2.0), skew=-0.3))
        pos = -depth
    else:
        test = u(0.03, 0.35)
        legs.append(mk("c1", next(di), -1, test, pos - test, kappa=u(2.5, 4.0), profile="smooth", act=u(0.6, 0.9)))
        pos = test
    if slow:
        legs.append(_Leg("hold", int(rng.integers(2 * SLOW_BARS + 4, 46)), 0, u(0.4, 0.8), u(2.0, 3.0), "flat",
                         act=u(0.8, 1.2)))
    if failed:
        rally = u(0.25, 0.6)
        legs.append(mk("c2", next(di), 1, rally, rally - pos, kappa=u(3.5, 5.0), profile="snap", act=u(0.8, 1.1)))
        drop = u(0.3, 0.7)
        legs.append(mk("brk", next(di) + int(rng.integers(3, 15)), -1, drop, rally + drop, kappa=u(2.5, 4.0),
                       profile="accel", act=u(1.3, 2.0), skew=-0.2))
        legs.append(mk("bu", _ilog(rng, 4, 40), 1, u(-0.25, 0.12), 0.4, kappa=u(2.5, 4.0), profile="smooth",
                       act=u(0.6, 0.9)))
    else:
        if with_test:
            rally, test = u(0.35, 0.75), u(0.06, 0.35)
            legs.append(mk("c2", next(di), 1, rally, rally - pos, kappa=u(3.5, 5.0), profile="snap",
                           act=u(0.8, 1.1)))
            legs.append(mk("c3", next(di), -1, test, rally - test, kappa=u(2.5, 4.0), profile="smooth",
                           act=u(0.6, 0.85)))
            pos = test
        rise = u(0.2, 0.7)
        legs.append(mk("brk", next(di) + int(rng.integers(3, 15)), 1, rise, 1.0 + rise - pos, kappa=u(2.5, 4.0),
                       profile="accel", act=u(1.3, 2.0), skew=0.2))
        legs.append(mk("bu", _ilog(rng, 4, 40), -1, u(-0.15, 0.25), 0.4, kappa=u(2.5, 4.0), profile="smooth",
                       act=u(0.6, 0.9)))
    out = -1 if failed else 1
    t_out = u(1.0, 3.5)
    legs.append(mk("out", _ilog(rng, 40, 300), out, t_out, t_out, kappa=u(2.5, 4.0), profile="smooth",
                   act=u(1.0, 1.2)))
    legs.append(_Leg("post", _ilog(rng, 30, 250), 0, 0.0, profile="none"))
    return legs


def _rates(leg: _Leg, rng: np.random.Generator) -> FloatArray:
    """Per bar of the leg, the share of the remaining distance to the goal closed by the drift."""
    n = leg.dur
    x = (np.arange(1, n + 1, dtype=np.float64) - 0.5) / n
    if leg.profile == "none":
        return np.zeros(n)
    if leg.profile == "accel":
        shape = 3.0 * x**2 + 0.1
    elif leg.profile == "decel":
        shape = 2.0 * (1.0 - x) + 0.1
    elif leg.profile == "smooth":
        shape = 6.0 * x * (1.0 - x) + 0.3
    elif leg.profile == "burst":
        k = leg.burst
        r = np.full(n, min(0.9, leg.kappa / max(1, n - k)))
        r[n - k:] = rng.uniform(0.35, 0.7, k)
        return np.asarray(r, dtype=np.float64)
    elif leg.profile == "snap":  # a fast turn (the recovery after a shakeout), then a slower approach
        r = np.full(n, min(0.85, leg.kappa / n))
        r[: min(n, 6)] = np.maximum(r[: min(n, 6)], rng.uniform(0.25, 0.45))
        return np.asarray(r, dtype=np.float64)
    else:
        shape = np.ones(n)
    return np.asarray(np.minimum(0.85, leg.kappa / n * shape), dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# the price process


@dataclass
class _Path:
    open: FloatArray  # canonical log prices relative to the start
    high: FloatArray
    low: FloatArray
    close: FloatArray
    business: FloatArray  # the bar's business time (variance-gamma subordinator, mean 1)
    sig: FloatArray  # the bar's diffusion scale
    floor: FloatArray  # the wall below (nan: none), for diagnostics
    ceil: FloatArray


def _simulate(rng: np.random.Generator, legs: list[_Leg], h: float, sigma: float, season: FloatArray,
              week_start: npt.NDArray[np.bool_], news: dict[int, float], nu: float) -> _Path:
    """The bars in the canonical frame. Per bar: drift toward the leg's goal, soft walls at the
    measured range edges, variance-gamma innovations with stochastic volatility."""
    n = sum(leg.dur for leg in legs)
    leg_of = np.repeat(np.arange(len(legs)), [leg.dur for leg in legs])
    starts = np.concatenate([[0], np.cumsum([leg.dur for leg in legs])])[:-1]
    rate = np.concatenate([_rates(leg, rng) for leg in legs])
    skew = np.array([legs[j].skew for j in leg_of])
    # business time: gamma(1/nu, nu), the climax burst and the PS's last bar boosted
    g = rng.gamma(1.0 / nu, nu, n)
    for j, leg in enumerate(legs):
        e = starts[j] + leg.dur
        if leg.name == "climax":
            g[e - leg.burst: e] *= leg.boost * rng.uniform(0.6, 1.4, leg.burst)
        elif leg.name == "ps":
            g[e - 1] *= leg.boost
    z = rng.standard_normal(n)
    for bar, size in news.items():  # a single huge bar
        g[bar] = size
        z[bar] = (1 if rng.random() < 0.5 else -1) * rng.uniform(1.0, 2.2)
    # stochastic volatility: AR(1) log factor, and the session's volatility profile
    sv = _ar1(0.97, rng.normal(0.0, 0.08, n))
    sig = sigma * np.sqrt(season / season.mean()) * np.exp(sv)
    noise = sig * (skew * (g - 1.0) + np.sqrt(g) * z)
    gap = np.where(week_start, sigma * rng.uniform(0.5, 3.0) * rng.standard_normal(n), 0.0)
    e1 = rng.exponential(1.0, n)
    e2 = rng.exponential(1.0, n)
    var = sig * sig * g
    xo = np.empty(n)
    xh = np.empty(n)
    xl = np.empty(n)
    xc = np.empty(n)
    wf = np.full(n, np.nan)
    wc = np.full(n, np.nan)
    pace = np.concatenate([np.full(leg.dur, _PACE.get(leg.name, 1.5)) for leg in legs])
    for j, leg in enumerate(legs):
        if leg.name == "climax":
            pace[starts[j] + leg.dur - leg.burst: starts[j] + leg.dur] = 6.0
    rate_l, noise_l, gap_l, var_l, e1_l, e2_l, sig_l, cap_l = (
        v.tolist() for v in (rate, noise, gap, var, e1, e2, sig, pace))
    kw = 0.5
    k_rep = rng.uniform(0.4, 0.9)
    x = 0.0
    anchor = 0.0
    goal = 0.0
    floor: float | None = None
    ceil: float | None = None
    band = 0.08 * h
    cl_start = cb = 0
    lo_e = hi_e = width = guard = 0.0  # edges after the AR
    r_lo = r_hi = w2 = 0.0  # edges at the end of phase B
    c1_start = 0
    c1_low = 0.0
    climax_low = legs[[lg.name for lg in legs].index("climax")].turn < 0
    j = -1
    for t in range(n):
        if j + 1 < len(legs) and t == starts[j + 1]:
            j += 1
            leg = legs[j]
            floor = ceil = None
            name = leg.name
            if name == "noise":
                goal = 0.0
            elif name in ("trend", "mini", "bounce", "ps", "psr", "climax"):
                if t == legs[0].dur:
                    anchor = x - legs[0].goal * h  # the schedule starts where the noise left the price
                goal = anchor + leg.goal * h
                if name == "climax":
                    cl_start = t
            elif name == "ar":
                seg_l, seg_h = xl[cl_start:t], xh[cl_start:t]
                cb = cl_start + int(np.argmin(seg_l) if climax_low else np.argmax(seg_h))
                ext = xl[cb] if climax_low else xh[cb]
                goal = ext + (leg.goal if climax_low else -leg.goal) * h
            elif name in ("st", "b"):
                if name == "st":
                    lo_e, hi_e = float(xl[cb:t].min()), float(xh[cb:t].max())
                    width = hi_e - lo_e
                    if width < 0.4 * h:
                        raise _Reject("range too narrow after the AR")
                    band = max(0.08 * width, 3.0 * sigma)
                    guard = max(0.04 * width, 2.0 * sigma)  # the climax stays the extreme on its side
                if name == "st":
                    goal = lo_e + leg.goal * width if climax_low else hi_e - leg.goal * width
                    floor, ceil = (lo_e + guard, hi_e + 0.03 * width) if climax_low else \
                        (lo_e - 0.03 * width, hi_e - guard)
                else:
                    goal = lo_e + leg.goal * width
                    if climax_low:
                        floor, ceil = lo_e + guard, hi_e + leg.allow * width
                    else:
                        floor, ceil = lo_e - leg.allow * width, hi_e - guard
            else:
                if name == "c1":
                    r_lo, r_hi = float(xl[cb:t].min()), float(xh[cb:t].max())
                    w2 = r_hi - r_lo
                    band = max(0.08 * w2, 3.0 * sigma)
                    c1_start = t
                if name in ("hold", "c2") and c1_start:
                    c1_low = float(xl[c1_start:t].min())
                if name == "c1":
                    if leg.profile == "accel":  # a shakeout beyond support, absorbed before it runs away
                        goal, ceil = r_lo - leg.goal * w2, r_hi - 0.04 * w2
                        floor = r_lo - (1.3 * leg.goal + 0.05) * w2
                    else:
                        hold = max(0.03 * w2, 2.0 * sigma)  # a test that holds above support
                        goal, floor, ceil = r_lo + hold + leg.goal * w2, r_lo + hold, r_hi - 0.04 * w2
                elif name == "hold":
                    goal, ceil = c1_low + leg.goal * (r_lo - c1_low), r_lo - 0.04 * w2
                elif name == "c2":
                    goal, ceil = r_lo + leg.goal * w2, r_hi - 0.05 * w2
                elif name == "c3":
                    hold = max(0.03 * w2, 2.0 * sigma)
                    goal, floor, ceil = r_lo + hold + leg.goal * w2, r_lo + hold, r_hi - 0.04 * w2
                elif name == "brk":
                    if leg.turn > 0:
                        goal, floor = r_hi + leg.goal * w2, r_lo + 0.02 * w2
                    else:
                        goal, ceil = min(r_lo, c1_low) - leg.goal * w2, r_hi - 0.05 * w2
                elif name == "bu":
                    mid = 0.5 * (r_lo + r_hi)
                    if leg.turn < 0:
                        goal, floor = r_hi - leg.goal * w2, mid + 0.1 * w2
                    else:
                        goal, ceil = r_lo + leg.goal * w2, mid - 0.1 * w2
                elif name == "out":
                    goal = x + leg.turn * leg.goal * w2
                else:  # post
                    goal = x
        xo_t = x + gap_l[t]
        s_t = sig_l[t]
        drift = rate_l[t] * (goal - xo_t)
        drift = max(-cap_l[t] * s_t, min(cap_l[t] * s_t, drift))  # no leg moves faster than its pace
        if floor is not None:  # resting bids: the push fades, and a repulsion grows, near the floor
            if drift < 0.0:
                drift *= min(1.0, max(0.0, (xo_t - floor) / band))
            drift += k_rep * s_t * math.exp(max(-30.0, min(1.0, (floor - xo_t) / s_t)))
            if xo_t < floor:
                drift += kw * (floor - xo_t)
        if ceil is not None:
            if drift > 0.0:
                drift *= min(1.0, max(0.0, (ceil - xo_t) / band))
            drift -= k_rep * s_t * math.exp(max(-30.0, min(1.0, (xo_t - ceil) / s_t)))
            if xo_t > ceil:
                drift -= kw * (xo_t - ceil)
        r = drift + noise_l[t]
        x = xo_t + r
        v = var_l[t]
        xo[t] = xo_t
        xc[t] = x
        if floor is not None:
            wf[t] = floor
        if ceil is not None:
            wc[t] = ceil
        xh[t] = xo_t + 0.5 * (r + math.sqrt(r * r + 2.0 * v * e1_l[t]))
        xl[t] = xo_t + 0.5 * (r - math.sqrt(r * r + 2.0 * v * e2_l[t]))
    return _Path(xo, xh, xl, xc, g, sig, wf, wc)


# ----------------------------------------------------------------------------------------------
# volume


def _volume(rng: np.random.Generator, legs: list[_Leg], path: _Path, season: FloatArray, bar_ns: int) -> IntArray:
    """Ticks per bar: information flow (the bar's business time) plus stop runs beyond recent
    extremes, times the session, the leg's participation and a persistent liquidity factor."""
    n = len(path.close)
    act = np.concatenate([np.full(leg.dur, leg.act) for leg in legs])
    i = 0
    for leg in legs:  # participation builds up through the climax leg
        if leg.name == "climax":
            ramp = (np.arange(1, leg.dur + 1) / leg.dur) ** 2
            act[i: i + leg.dur] = 1.0 + (leg.act - 1.0) * ramp
        i += leg.dur
    gamma = rng.uniform(0.6, 1.0)
    window = int(rng.integers(12, 49))
    ks = rng.uniform(0.3, 0.9)
    hi_prev = np.full(n, np.inf)
    lo_prev = np.full(n, -np.inf)
    for t in range(1, n):
        a = max(0, t - window)
        hi_prev[t] = path.high[a:t].max()
        lo_prev[t] = path.low[a:t].min()
    over = np.maximum(0.0, path.high - hi_prev) + np.maximum(0.0, lo_prev - path.low)
    stops = ks * (over / path.sig) ** 0.8
    liq = _ar1(0.98, rng.normal(0.0, 0.04, n))
    base = rng.uniform(150.0, 900.0) * (bar_ns / (15 * MINUTE_NS))
    s = rng.uniform(0.2, 0.45)
    noise = rng.lognormal(-0.5 * s * s, s, n)
    ticks = base * season / season.mean() * act * np.exp(liq) * (path.business**gamma + stops) * noise
    spikes = rng.random(n) < 0.004  # unrelated bursts (block trades, fixings): unlabelled
    ticks[spikes] *= rng.uniform(2.5, 7.0, int(spikes.sum()))
    return np.asarray(np.maximum(1, np.round(ticks)).astype(np.int64) * 100, dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# measurement, validation, labels


def _measure_pivots(legs: list[_Leg], clo: IntArray, chi: IntArray) -> list[int]:
    """Measured last bar of every leg, in the canonical frame (lows ``clo``, highs ``chi``)."""
    n = len(clo)
    planned = np.cumsum([leg.dur for leg in legs]) - 1
    piv: list[int] = []
    prev = -1
    for i, leg in enumerate(legs):
        b = int(planned[i])
        if leg.turn == 0 or i == len(legs) - 1:
            p = max(b, prev + 1)
        else:
            nxt = legs[i + 1].dur
            lo_i = prev + 1
            hi_i = min(n - 1, b + max(1, nxt // 2))
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

    climax_ratio: float  # highest volume within 2 bars of the climax bar / mean of the 24 bars before
    climax_bar_ratio: float  # the climax bar's own volume / the same mean
    range_bars: int  # climax bar to SOS/SOW bar
    height_sigmas: float
    slow: bool


def _draw(rng: np.random.Generator, seed: int, kind: str) -> tuple[Scenario, _Stats]:
    e = _EXPECTED[kind]
    climax_low = _TREND_IN[kind] * e < 0
    spring = bool(rng.random() < 0.62)
    failed = spring and bool(rng.random() < 0.23)
    slow = not spring and bool(rng.random() < 0.4)
    bar_ns = int(rng.choice(np.array(BAR_CHOICES), p=np.array(BAR_WEIGHTS)))
    per_15m = math.sqrt(bar_ns / (15 * MINUTE_NS))
    sigma = rng.uniform(0.00035, 0.0007) * per_15m * _loguniform(rng, 0.5, 2.0)
    h_sig = min(_loguniform(rng, 7.0, 40.0), 0.08 / sigma)
    legs = _plan(rng, climax_low, spring, failed, slow, h_sig)
    n = sum(leg.dur for leg in legs)
    if n > MAX_BARS:
        raise _Reject("too many bars")
    names = [leg.name for leg in legs]
    h = sigma * h_sig
    lo_lvl, hi_lvl = _LEVELS[int(rng.integers(len(_LEVELS)))]
    level = rng.uniform(lo_lvl, hi_lvl)
    first_ns = _SESSION_OPEN_NS + (seed % 250) * WEEK_NS
    start_ns = _bar_times(first_ns, n, bar_ns)
    week_start = np.zeros(n, dtype=bool)
    week_start[1:] = np.diff(start_ns) > bar_ns
    season = _season(start_ns, bar_ns)
    nu = rng.uniform(0.2, 1.2)
    # news: single huge bars in the noise, the trend and phase B (in B kept inside the range)
    bounds = np.concatenate([[0], np.cumsum([leg.dur for leg in legs])])
    news: dict[int, float] = {}
    for roles, count in ((("noise",), int(rng.integers(0, 3))), (("trend", "mini"), int(rng.integers(0, 3))),
                         (("b",), int(rng.integers(0, 3))), (("post",), int(rng.integers(0, 2)))):
        idx = [k for k, nm in enumerate(names) if nm in roles]
        for _ in range(count):
            k = int(rng.choice(idx))
            a0, a1 = int(bounds[k]), int(bounds[k + 1])
            if a1 - a0 < 4:
                continue
            size = rng.uniform(10.0, 35.0)
            if roles == ("b",):
                size = min(size, (0.12 * h_sig) ** 2)
            news[int(rng.integers(a0 + 1, a1 - 1))] = size
    path = _simulate(rng, legs, h, sigma, season, week_start, news, nu)
    vol = _volume(rng, legs, path, season, bar_ns)
    lx = math.log(level)
    if e > 0:
        ho, hh, hl, hc = path.open, path.high, path.low, path.close
    else:
        ho, hh, hl, hc = -path.open, -path.low, -path.high, -path.close

    def points(v: FloatArray) -> IntArray:
        return np.asarray(np.round(np.exp(lx + v) * SCALE).astype(np.int64), dtype=np.int64)

    o, hi, lo, cl = points(ho), points(hh), points(hl), points(hc)
    clo, chi, ccl = (lo, hi, cl) if e > 0 else (-hi, -lo, -cl)
    piv = _measure_pivots(legs, clo, chi)
    first = [0] + [p + 1 for p in piv[:-1]]

    def leg(name: str) -> int:
        return names.index(name)

    j_cl, j_ar, j_st = leg("climax"), leg("ar"), leg("st")
    j_bs = [k for k, nm in enumerate(names) if nm == "b"]
    j_c1, j_brk, j_bu, j_out = leg("c1"), leg("brk"), leg("bu"), leg("out")
    j_ps = leg("ps") if "ps" in names else -1
    j_c3 = leg("c3") if "c3" in names else -1
    climax_bar = piv[j_cl]
    end_b = piv[j_bs[-1]]
    r_lo = int(clo[climax_bar: end_b + 1].min())
    r_hi = int(chi[climax_bar: end_b + 1].max())
    # the climax is the extreme of the range on its side, strictly (no other bar ties it)
    if climax_low:
        if (clo[climax_bar + 1: end_b + 1] <= clo[climax_bar]).any():
            raise _Reject("climax not the range low")
    elif (chi[climax_bar + 1: end_b + 1] >= chi[climax_bar]).any():
        raise _Reject("climax not the range high")
    labelled = [j_cl, j_ar, j_st, j_c1, j_brk, j_bu] + ([j_ps] if j_ps >= 0 else [])
    if any(piv[k] - first[k] < 1 for k in labelled) or any(piv[k] < first[k] for k in range(len(legs))):
        raise _Reject("a leg under two bars")
    height = r_hi - r_lo
    for k in range(names.index("trend") + 1, len(legs)):  # every swing is a swing: two bars, a real move
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
    deepest = end_b + 1 + int(np.argmin(clo[phase_c]))  # the lowest low of phase C (canonical)
    if spring:
        if not clo[c1_bar] < r_lo:
            raise _Reject("spring not beyond the edge")
        if deepest != c1_bar:  # the labelled spring is the shakeout's extreme
            raise _Reject("spring not the extreme of phase C")
        if r_lo - clo[c1_bar] > 0.5 * height:  # a shakeout, not a breakout
            raise _Reject("spring too deep")
        if not (ccl[c1_bar: c1_bar + SHAKEOUT_BARS + 1] > r_lo).any():
            raise _Reject("spring does not close back inside")
        if (clo[c1_bar + SHAKEOUT_BARS + 1: brk_start] < r_lo).any():  # no second shakeout after it
            raise _Reject("second shakeout")
    elif slow:
        if not clo[deepest] < r_lo or (ccl[deepest: deepest + SLOW_BARS + 1] > r_lo).any():
            raise _Reject("slow shakeout closes back too soon")
        back = ccl[deepest: brk_start] > r_lo
        if not back.any() or (clo[deepest + int(np.argmax(back)) + 1: brk_start] < r_lo).any():
            raise _Reject("slow shakeout does not stay back inside")
    elif (clo[phase_c] < r_lo).any():  # a test without a spring stays inside
        raise _Reject("test goes beyond the edge")
    if j_c3 >= 0 and clo[piv[j_c3]] < r_lo:
        raise _Reject("phase-C test beyond the edge")
    if (chi[phase_c] > r_hi).any():  # nothing pokes out of the far edge before the break leg
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
    if not 40 <= brk_bar - climax_bar <= 600:
        raise _Reject("range length")
    if climax_bar < 30:
        raise _Reject("climax too early")
    before = float(vol[climax_bar - 27: climax_bar - 3].mean())
    ratio = float(vol[climax_bar - 2: climax_bar + 3].max()) / before
    own = float(vol[climax_bar]) / before
    if not (1.6 <= ratio <= 12.0 and own >= 1.1):
        raise _Reject("climax volume")
    # labels, named in the actual frame
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
    return sc, _Stats(ratio, own, brk_bar - climax_bar, h_sig, slow)


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
    raise RuntimeError(f"family E: no valid scenario for seed {seed} ({k}) in {MAX_TRIES} tries")


def generate(seed: int, kind: str | None = None) -> Scenario:
    """One family-E scenario, deterministic per ``seed`` (and ``kind``, drawn from the seed if None)."""
    return _generate(seed, kind)[0]


def scenarios(count: int, first_seed: int = 0) -> Iterator[Scenario]:
    """``generate(seed)`` for ``count`` consecutive seeds from ``first_seed``."""
    for seed in range(first_seed, first_seed + count):
        yield generate(seed)
