"""Family G of labelled Wyckoff scenarios: heterogeneous agents around an operator's hidden value, crypto 30m-4h and stock daily bars.

Blindness
---------
Written blind to the detector: of the repository only ``trading/wyckoff/scenarios.py`` (whole), the
module docstrings of ``scenarios_e.py`` and ``scenarios_f.py``, ``tests/trading/test_scenarios_f.py``,
the definitions of ``KINDS`` and ``PHASES`` in ``trading/wyckoff/machine.py`` and ``pyproject.toml``
were read. Nothing of the detector, its features, gate, parameters, scoring, charts, real bars, the
other families' code, the benchmarks or their results was read, imported or run, and the detector
was never run on these scenarios. Only ``KINDS`` and ``PHASES`` are imported from the machine.

Purpose
-------
A held-out test family built differently from the others (A: Brownian bridges between leg targets
on 1-minute bars; B: GARCH paths around target paths; C: regime-switching drift segments; D: an
agent-based order-flow model on 30-minute bars; E: a variance-gamma particle between soft walls on
15m-4h FX bars; F: Hawkes order flow through a limit-order book on index-CFD 5m/1h/daily bars).
Here a market maker sets one log return a bar from the excess demand of four groups (a Beja-Goldman /
Day-Huang style price-impact rule), and a hidden Wyckoff schedule moves only the *value* that the
fundamentalists (the composite operator) anchor to and the public's one-sided flow. There are no
walls, no pinned targets and no order book; the range holds because the operator's value stays in it
and the fundamentalists pull the price back, the climax overshoots because the public's panic and
the chartists run through that value, and volume is the agents' gross traded size, so the operator's
absorption (effort without result) is what makes a climax heavy.

Calendar and bars
-----------------
Per scenario (``BAR_CHOICES``, weights ``BAR_WEIGHTS``): 30-minute (35 %), 2-hour (25 %) or 4-hour
(15 %) bars of a 24/7 crypto pair (``CRYPTO_BARS``; BTC-, ETH-, SOL- or XRP-like levels, see
``INSTRUMENTS``), or daily bars of a single stock (25 %, 12-450 a share). Crypto bars are aligned to
the UTC day, consecutive and gapless through nights and weekends, and each opens at the previous
close. Stock bars start at 00:00 UTC on weekdays only (no holidays) and every bar opens with an
overnight gap: 15-40 % of a bar's noise variance (per scenario) falls overnight, Mondays 1.6 x
(the weekend). The first bar starts on the Monday ``seed % 250`` weeks after ``START_NS``;
``end_ns = start_ns + bar_ns``. Prices are integer points, ``price * SCALE``, on a power-of-ten tick
grid chosen so that a bar sigma is at least about 6 ticks at the scenario's lowest price; the first
close is the instrument's level (log-uniform in its range). Volume is an integer count of units
(coins x lots or shares), at least 1. Scenarios have ``MIN_BARS``-``MAX_BARS`` (300-2500) bars; the
kept ones about 360-1820 (median about 970).

The market (canonical frame: log price, the break expected up, the shakeout below support)
------------------------------------------------------------------------------------------------
Per bar ``t``, with ``x`` the log price and ``V_t`` the operator's hidden value:

    r_t = kappa_t (V_t - x) + c s_t tanh(m_t) + push_t s + s_t (sqrt(phi) Zg_t + sqrt(1 - phi) Z_t) + J_t

* fundamentalists: ``kappa_t`` = kappa (0.12-0.35 a bar per scenario) times the leg's factor (0 in
  the noise, 0.6-1.2 in the trend, 1.2-2 in the AR, 0.9-1.6 in phase B, 1.3-2.5 in phase C's
  spring, tests and rally); ``V_t`` moves from its value at the leg's start to the leg's goal along
  the leg's profile (linear, accelerating, decelerating, a step reached in the first third, or
  smooth-step), so the price lags and overshoots; the path is never pinned;
* chartists: ``c`` 0.1-0.45, ``m_t`` an EWMA (weight 0.15-0.4) of past returns in bar sigmas;
  flushed (m = 0) after the climax;
* the public's one-sided flow ``push_t`` in bar sigmas ``s`` (panic into the climax, a stop run in a
  loud spring, eager flow in the break; 20 % of it before a leg's burst bars);
* noise traders: ``s_t = s sqrt(h_t session_t) vol_leg``, ``h_t`` a Heston (CIR) variance with mean
  1 (speed 0.03-0.12, vol-of-vol 0.1-0.3, floor 0.15), its shocks correlated -0.2 to -0.6 with the
  returns in the real frame (leverage), its long-run level raised 1.6-3 x in 0-2 volatility regimes
  of 20-100 bars in the noise, trend or markup; ``session_t`` the crypto intraday profile (below,
  smoothed for 2h/4h bars; 1 for daily bars); ``phi`` the overnight share (0 for crypto);
* news: Merton jumps ``J_t`` of 3-9 bar sigmas either way (0-2 in the first noise, 0-1 per trend
  piece, 0-2 in phase B capped at 10 % of the height, 0-1 in the noise after), some with a spike
  that fades within the bar.

``s`` (log, per scenario, log-uniform): 0.25-0.6 % (30m), 0.5-1.2 % (2h), 0.7-1.7 % (4h), 1.0-2.6 %
(daily). Intrabar paths are six-step Brownian bridges from open to close with the bar's intraday sd,
the news jump at a random sub-step, plus a wick (a tent that comes back before the close) on the
climax's most extreme bar (0.6-2.5 sd beyond the close or open, whichever is further) and on a loud
spring's (0.6-1.5 sd); high/low are the extremes of the path, open and close included. The kinds
that resolve down are the canonical path mirrored (x -> -x, high <-> low).

Volume: ``base x session x participation x exp(l_t) x flow x noise``, ``flow = sqrt(h_t) (0.55 +
0.45 |Z_t|)`` (noise traders on the information flow, a mixture-of-distributions term) ``+ q_f
(|fundamentalists' demand| / s)^1.2 + q_c |chartists'| / s + q_p |push| + q_j |J| / s`` (q_f 0.3-0.8,
q_c 0.2-0.5, q_p 0.3-0.8, q_j 0.3-0.6); base 200-3000 units per 30 minutes (crypto, times the bar
length) or 0.2-5 M shares (stocks); crypto session by UTC hour (the US afternoon busiest, +30-60 %,
the European morning +10-30 %, the Asian night -15-35 %, weekends x0.55-0.8); stocks by weekday
(Monday 0.93 to Friday 1.07); ``l_t`` an AR(1) liquidity factor (0.98, sd 0.04); lognormal noise
(sd 0.15-0.35); off-exchange block prints on 0.3 % of the bars (+2-6 x the median volume). The leg's
participation: trend 1-1.25 (its climax-like bursts 2-3.5), PS 1.3-2, climax 1.3-2.6, AR 1.1-1.6
(its first 1-2 bars x1-2.2), ST 0.7-1, B 0.5-0.9, spring loud 1.3-2.2 or quiet 0.5-0.9, shakeout
1.1-1.8, test 0.5-0.9, rally 0.8-1.2, break 1.3-2.2, back-up 0.6-0.9, markup 1-1.2. The climax
volume is not set but measured (below).

The hidden schedule (canonical frame; heights H of the planned range)
--------------------------------------------------------------------
H is 9-42 bar sigmas (log-uniform), 6-9 in 12 % of the draws (compact), at most 12 % (30m), 20 %
(2h), 28 % (4h) or 35 % (daily) in log. No leg is planned shorter than 1.3 x its distance over the
scenario's pace (1.2-3 bar sigmas a bar). Goals are in heights (0 support, 1 resistance) of a
frame re-anchored on the simulated closes: at the AR's start on the climax's extreme close, at the
ST's start on the AR's, at phase C's start on the range so far (closes +- one bar sd). Legs:
noise (60-360 bars, no value); the trend (1.2-3.5 H from the climax edge, 40-300 bars) in 40 % cut
into 2-3 pieces by unlabelled pauses (a counter-move of 12-35 % H and a drift back), half of them
opened by a climax-like burst of 1-3 bars (push 2-4 sigma a bar, participation 2-3.5); in 50 % a PS
group (the trend's last low 0.35-1.5 H from the edge, a bounce of 0.15-0.35 H, the PS at 0.15-1.2 H
with a push, its rally of 0.2-0.5 H), else the climax leg starts 0.3-1.4 H out. The climax: 3-25
bars, the value falling to 8-30 % inside the range while the public's push (1.8-7 sigma a bar,
sized to overshoot the value) acts on the last 1-4 bars (30/30/25/15 %). The AR 0.8-1.15 H from the
climax's extreme close; the ST 4-40 % of the height from the climax (plus a sigma). The range
(climax to break) planned log-uniform 35-900 bars, phase B 10-60 % of it (in 20 % 60-85 %), the
rest split by Dirichlet weights among the AR, ST, phase-C legs and the break. Phase B: 1-13 swings
(odd after a fall into the range, even after a rise, so that B ends with a rise; about one per
25-90 bars), AR-side swings to 55-95 % (in 25 % a probe 1-8 % beyond the AR, unlabelled: it counts
in the edges), climax-side swings to 12-50 % (in 25 % a test within 4-12 % of the climax).
Phase C: a spring 4-28 % of the height (log-uniform, plus 1.5 sigma, at most 30 %) below support,
in 6-30 bars, quiet (half) or loud (a push of 0.4-1.5 sigma on its last 1-3 bars); or, with no
spring, in 45 % of those whose height is at least 14 sigma an unconfirmed shakeout (14-34 % below,
plus 2 sigma, then a hold of 18-33 bars with the value 55-70 % as deep) and otherwise a test
5-30 % above support that holds; then (50 %, always after a shakeout or before a failure) a rally
to 30-75 % (30-60 % before a failure; quick after a spring) and, unless failing, a test at 10-35 %
that holds. The break: the SOS 20-70 % of the height above resistance (quick after a spring
without a rally), or after a failure the SOW 30-70 % below support, with a push of 0.4-1.3 sigma
(less in long legs); the back-up (3-40 bars: an LPS at 75-115 %, an LPSY at -30 to +10 %); the
markup/markdown 1-2.5 H beyond the edge in 30-300 bars; noise (20-200 bars). Long draws are trimmed
in their noise and markup to ``MAX_BARS`` (or redrawn); short ones get a longer first noise.
Planned shares: a spring in 60 % of the draws, a failure in 25 % of those. Kinds are uniform.

Labels and phases (all measured on the final integer bars)
----------------------------------------------------------
As family E. Every leg's turning point is measured: the extreme (lowest low at a trough, highest
high at a peak) over the bars from the previous turning point up to the middle of the next leg
(legs without a turning point, the noise, trend pieces, pauses, the shakeout's hold and the markup,
end where planned). A leg runs from the bar after the previous turning point to its own turning
point; a label's ``start`` and ``end`` are its leg's first and last bar and its ``bar`` the leg's
extreme on the event's side (lowest low for SC, spring, ST after an SC, LPS, PS of accumulation,
automatic reaction; highest high for BC, upthrust, AR after an SC, ST after a BC, LPSY, preliminary
supply), except sign_of_strength / sign_of_weakness, whose ``bar`` is the first bar of its leg that
closes beyond the range edge. Range edges are the highest high and the lowest low from the climax
bar to the end of phase B. Event names: preliminary_support / preliminary_supply (by the climax
side), selling_climax + automatic_rally (a fall into the climax) or buying_climax +
automatic_reaction (a rise), secondary_test (the first ST only), spring (below support) / upthrust
(above resistance), sign_of_strength + last_point_of_support (break up) or sign_of_weakness +
last_point_of_supply (break down), named by the actual break. Nothing else is labelled: not the
trend's pauses and climax-like bursts, the phase-B probes and tests, the news, the blocks, the
volatility regimes, the rally and test after a spring, nor an unconfirmed shakeout.

Phases (np.int8, index into ``PHASES``): "" in the noise and the trend; A from the PS (or climax)
leg through the first ST; B the swings after it; C from the leg into the spring/test up to the bar
before the SOS/SOW leg (an unconfirmed shakeout and its hold included); D that leg and the back-up;
E the markup/markdown; "" after. ``structure`` = (first bar of phase A, last bar of phase E);
``direction`` = +1 if the break is up, -1 if down; ``failed`` = the break went against the kind's
expected direction (always after a spring/upthrust; ``kind`` stays the planned one); ``spring`` = a
spring/upthrust is labelled.

Validation
----------
A draw is kept only if, on the measured bars (seen in the canonical frame), every turning point
lies within its window; the climax is the extreme of the range on its side (strictly: no other bar
from it to the end of phase B ties it); the AR moves at least 35 % of the range height; every
labelled leg has at least two bars and every turning leg from the PS (or climax) on moves at least
8 % of the height; the PS is not beyond the climax; a spring/upthrust goes beyond the edge (by at
most half the height), is phase C's extreme (its first bar at that depth), closes back inside
within ``SHAKEOUT_BARS`` (10) bars of its extreme, and no bar of phase C from ``SHAKEOUT_BARS`` + 1
bars after it goes beyond that edge again; an unconfirmed shakeout's extreme (phase C's) is beyond
the edge, no close within ``SLOW_BARS`` (12) bars of it is back inside, it is back inside before the
break and stays inside from then on; a test without either stays inside; no bar of phase C reaches
beyond the opposite edge; the SOS/SOW leg closes beyond its edge; the back-up stays on the break
side of the range's middle; the range (climax bar to SOS/SOW bar) lasts ``RANGE_BARS`` (30-1200)
bars; the climax is at least 30 bars in, its volume ratio (the highest volume within two bars of
it over the mean of the 24 bars ending three bars before it) is in ``CLIMAX_RATIO`` (1.4-30) and its
own bar's ratio at least 1; the markup ends before the last bar. Otherwise the scenario is redrawn
from the same random stream (seeded from the seed and ``SALT``; at most ``MAX_TRIES``, then
RuntimeError). ``scenarios.undone`` is "" on every kept scenario.

Measured over seeds 0-299
-------------------------
1.61 draws per kept scenario (the most common rejections: a spring too deep or not beyond support,
a climax without its volume, a back-up across the middle); ``generate`` takes 5-7 ms on average.
Kinds 73/69/86/72 (accumulation, distribution, reaccumulation, redistribution). A spring/upthrust
in 54 % of the kept scenarios, a failure in 12.7 % (23 % of those with a spring), an unconfirmed
shakeout in 8.3 % (18 % of those without a spring), a PS in 44 %. Bars: 30m 36 %, 2h 22 %, 4h 16 %,
daily 26 %; 361-1823 bars a scenario (median 966). The range lasts 39-850 bars (median about 185;
under 60 in 5 %, over 600 in 7 %); phase B is 5-86 % of it (over 60 % in 17 %); the structure
(phase A to E) 145-1204 bars; the measured height is 8-53 bar sigmas (median 22). Climax volume
ratio 1.5-17.8 (10th/50th/90th percentile 2.1/3.5/6.9); a neighbour within two bars trades more than
the climax bar in 64 %, and the climax bar is phase A's heaviest in only 26 % (the AR's first bars,
the PS or the trend's bursts trade more).
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
_CONTEXT: dict[str, tuple[int, int]] = {v: k for k, v in _MACHINE_KINDS.items()}

MINUTE_NS = 60 * 1_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
WEEK_NS = 7 * DAY_NS
BAR_CHOICES = (30 * MINUTE_NS, 2 * HOUR_NS, 4 * HOUR_NS, DAY_NS)
BAR_WEIGHTS = (0.35, 0.25, 0.15, 0.25)
CRYPTO_BARS = frozenset(BAR_CHOICES[:3])  # 24/7 crypto pairs; daily bars are single stocks (weekdays)
# log sd of a bar's return (per scenario, log-uniform) and the cap on the range's height (log)
_SIGMA = {BAR_CHOICES[0]: (0.0025, 0.006), BAR_CHOICES[1]: (0.005, 0.012), BAR_CHOICES[2]: (0.007, 0.017),
          DAY_NS: (0.010, 0.026)}
_HEIGHT_CAP = {BAR_CHOICES[0]: 0.12, BAR_CHOICES[1]: 0.2, BAR_CHOICES[2]: 0.28, DAY_NS: 0.35}
INSTRUMENTS = {  # price range at the first close, in price units
    "btc": (18_000.0, 95_000.0), "eth": (900.0, 4_500.0), "sol": (15.0, 250.0), "xrp": (0.3, 3.0),
    "stock": (12.0, 450.0),
}

SALT = 0x6_1A7E
SHAKEOUT_BARS = 10  # a spring/upthrust closes back inside within this many bars of its extreme
SLOW_BARS = 12  # an unconfirmed shakeout's closes stay beyond the edge at least this many bars
RANGE_BARS = (30, 1200)  # climax bar to SOS/SOW bar
MIN_BARS = 300
MAX_BARS = 2500
MAX_TRIES = 40
SUBSTEPS = 6
CLIMAX_RATIO = (1.4, 30.0)

# leg profiles: how the hidden value moves from its start to the leg's goal over the leg
_LINEAR, _EASE_IN, _EASE_OUT, _STEP, _BELL = range(5)
# re-anchoring of the range frame at a leg's start
_ANCHOR_CLIMAX, _ANCHOR_AR, _ANCHOR_RANGE = 1, 2, 3


class _Reject(Exception):
    """A draw that does not show its plan on the measured bars: redraw."""


@dataclass(frozen=True, slots=True)
class _Leg:
    bars: int
    goal: float  # where the hidden value goes, in heights (0 support, 1 resistance); nan: no value (noise)
    pull: float = 1.0  # the fundamentalists' pull, times the scenario's
    push: float = 0.0  # the public's one-sided flow, bar sigmas a bar (+ up)
    burst: int = 0  # the push acts only on the leg's last ``burst`` bars (0: all of them, at 20 % before)
    act: float = 1.0  # participation (volume)
    vol: float = 1.0  # variance factor
    label: str = ""
    phase: str = ""
    turn: int = 0  # +1 the leg ends at a peak, -1 at a trough, 0 where planned
    profile: int = _LINEAR
    anchor: int = 0
    head: int = 0  # the first ``head`` bars trade ``head_act`` times more
    head_act: float = 1.0
    news: int = 0  # how many news jumps the leg may carry
    news_cap: float = math.inf  # a news jump's size cap, in heights


_SWAP = {
    "preliminary_support": "preliminary_supply", "selling_climax": "buying_climax",
    "automatic_rally": "automatic_reaction", "spring": "upthrust", "sign_of_strength": "sign_of_weakness",
    "last_point_of_support": "last_point_of_supply", "secondary_test": "secondary_test",
}
_SWAP |= {v: k for k, v in _SWAP.items()}


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _plan(rng: np.random.Generator, fall_in: bool, spring: bool, failed: bool, shake: bool, h_sig: float,
          pace: float) -> tuple[list[_Leg], float]:
    """The hidden schedule in the canonical frame (break expected up, the shakeout below support)."""
    u = rng.uniform

    def into(p: float) -> float:  # p heights into the range from the climax edge
        return p if fall_in else 1.0 - p

    def span(dist: float, planned: float, floor: int = 2) -> int:
        """No leg is shorter than its distance at the scenario's pace."""
        return max(floor, int(round(planned)), int(math.ceil(1.3 * abs(dist) * h_sig / pace)))

    margin = 1.3 / h_sig  # about a bar sigma, in heights: lows reach below the closes
    out = -1 if fall_in else 1  # the side the climax is on (-1 below the range)
    legs: list[_Leg] = [_Leg(int(rng.integers(60, 360)), math.nan, pull=0.0, news=int(rng.integers(0, 3)))]
    # the trend into the structure
    top = u(1.2, 3.5)
    ps = rng.random() < 0.5
    last = u(0.35, 1.5) if ps else u(0.3, 1.4)
    trend_bars = span(top - last, u(40, 300))
    pieces = 1 + (int(rng.integers(1, 3)) if rng.random() < 0.4 else 0)
    pos = top
    for j in range(pieces):
        goal = top + (last - top) * (j + 1) / pieces
        turn = out if (j == pieces - 1 and ps) else 0
        legs.append(_Leg(max(2, trend_bars // pieces), into(goal), pull=u(0.6, 1.2), act=u(1.0, 1.25),
                         news=int(rng.integers(0, 2)), turn=turn))
        if j < pieces - 1:  # an unlabelled pause, half of them opened by a climax-like burst
            if rng.random() < 0.5:
                legs.append(_Leg(int(rng.integers(1, 4)), into(goal - u(0.1, 0.3)), push=out * u(2.0, 4.0),
                                 act=u(2.0, 3.5), vol=1.5, profile=_STEP))
            back = u(0.12, 0.35)
            legs.append(_Leg(span(back, u(8, 40)), into(goal + back), pull=1.3, act=0.8, profile=_EASE_OUT))
            legs.append(_Leg(int(rng.integers(6, 30)), into(goal + back * u(0.2, 0.6)), act=0.7))
        pos = goal
    if ps:  # the trend's last low, a bounce, the PS, its rally
        bounce = pos + u(0.15, 0.35)
        legs.append(_Leg(span(bounce - pos, u(5, 25)), into(bounce), turn=-out, profile=_EASE_OUT))
        ps_at = max(0.15, min(bounce - 0.15, u(0.15, 1.2)))
        name = "preliminary_support" if fall_in else "preliminary_supply"
        legs.append(_Leg(span(bounce - ps_at, u(4, 20)), into(ps_at), push=out * u(0.3, 1.2), act=u(1.3, 2.0),
                         label=name, phase="A", turn=out, head=0))
        rally = ps_at + u(0.2, 0.5)
        legs.append(_Leg(span(rally - ps_at, u(5, 25)), into(rally), act=0.9, phase="A", turn=-out))
        pos = rally
    # the climax: the public's flow runs through the operator's value into a burst
    value = u(0.08, 0.3)
    burst = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.3, 0.25, 0.15]))
    burst_push = float(np.clip((value + u(0.0, 0.25)) * h_sig / burst * u(0.8, 1.4), 1.8, 7.0))
    legs.append(_Leg(span(pos - value, int(rng.integers(2, 22)) + burst, floor=burst + 2), into(value),
                     push=out * burst_push, burst=burst, act=u(1.3, 2.6), vol=u(1.2, 2.0),
                     label="selling_climax" if fall_in else "buying_climax", phase="A", turn=out,
                     profile=_EASE_IN))
    # the range: climax to break, planned log-uniform, phase B a share of it
    r_bars = _loguniform(rng, 35, 900)
    b_share = u(0.6, 0.85) if rng.random() < 0.2 else u(0.1, 0.6)
    b_bars = r_bars * b_share
    n_c = 1 + (2 if (failed or shake or rng.random() < 0.5) else 0) + (1 if shake else 0)
    w = rng.dirichlet(np.full(3 + n_c, 2.0)) * (r_bars - b_bars)
    ar = u(0.8, 1.15)
    legs.append(_Leg(span(ar, w[0], floor=5), into(ar), pull=u(1.2, 2.0), act=u(1.1, 1.6), phase="A", turn=-out,
                     label="automatic_rally" if fall_in else "automatic_reaction", profile=_EASE_OUT,
                     anchor=_ANCHOR_CLIMAX, head=int(rng.integers(1, 3)), head_act=u(1.0, 2.2)))
    st = u(0.04, 0.4) + margin
    legs.append(_Leg(span(1 - st, w[1]), into(st), act=u(0.7, 1.0), phase="A", turn=out, label="secondary_test",
                     anchor=_ANCHOR_AR, profile=int(rng.integers(0, 5))))
    # phase B: swings, odd after a fall into the range, even after a rise: B ends with a rise
    count = int(np.clip(round(b_bars / u(25, 90)), 1, 13))
    if count % 2 != (1 if fall_in else 0):
        count += 1 if count < 13 else -1
    count = max(count, 1 if fall_in else 2)
    weights = rng.dirichlet(np.full(count, 3.0)) * b_bars
    side = -out  # the first B swing leaves the climax side
    prev = st
    news_left = int(rng.integers(0, 3))
    for j in range(count):
        if side == -out:  # toward the AR's side: 25 % probe 1-8 % beyond it (unlabelled)
            p = u(1.01, 1.08) if rng.random() < 0.25 else u(0.55, 0.95)
        else:  # toward the climax: 25 % test it within 4-12 %
            p = (u(0.04, 0.12) if rng.random() < 0.25 else u(0.12, 0.5)) + margin
        news = 1 if news_left and rng.random() < 0.4 else 0
        news_left -= news
        legs.append(_Leg(span(p - prev, weights[j], floor=3), into(p), pull=u(0.9, 1.6), act=u(0.5, 0.9),
                         vol=u(0.7, 1.0), phase="B", turn=side,
                         profile=int(rng.integers(0, 5)), news=news, news_cap=0.1))
        prev, side = p, -side
    # phase C, in heights of the range measured at its start (0 support, 1 resistance)
    wc = list(w[2:2 + n_c])
    y = 1.0  # B ends with a rise
    if spring:
        d = min(_loguniform(rng, 0.04, 0.28) + 1.5 * margin, 0.3)
        loud = rng.random() < 0.5
        legs.append(_Leg(span(y + d, min(wc.pop(0), u(6, 30))), -d, push=-u(0.4, 1.5) if loud else 0.0,
                         burst=int(rng.integers(1, 4)), pull=u(1.5, 2.5),
                         act=u(1.3, 2.2) if loud else u(0.5, 0.9), vol=u(1.1, 1.5) if loud else 0.9,
                         label="spring", phase="C", turn=-1, anchor=_ANCHOR_RANGE,
                         profile=int(rng.choice([_BELL, _EASE_OUT]))))
        y = -d
    elif shake:
        d = u(0.14, 0.34) + 2 * margin
        legs.append(_Leg(span(y + d, min(wc.pop(0), u(8, 45))), -d, push=-u(0.5, 1.5), burst=int(rng.integers(1, 4)),
                         act=u(1.1, 1.8), phase="C", turn=-1,
                         anchor=_ANCHOR_RANGE, profile=_EASE_OUT))
        legs.append(_Leg(int(rng.integers(18, 34)), -d * u(0.55, 0.7), pull=0.7, act=u(0.6, 0.9), phase="C"))
        wc.pop(0)
        y = -0.5 * d
    else:
        t = u(0.05, 0.3) + margin
        legs.append(_Leg(span(y - t, wc.pop(0)), t, act=u(0.5, 0.9), phase="C", turn=-1, anchor=_ANCHOR_RANGE,
                         pull=u(1.3, 2.2), vol=u(0.7, 0.9),
                         profile=int(rng.integers(0, 5))))
        y = t
    snap = _STEP if spring else _EASE_OUT  # the way back from a spring is quick
    if wc:  # a rally and a test that holds
        rally = u(0.3, 0.6) if failed else u(0.3, 0.75)
        legs.append(_Leg(span(rally - y, wc.pop(0), floor=3), rally, pull=u(1.3, 2.0), act=u(0.8, 1.2), phase="C",
                         turn=1, profile=snap))
        snap = -1
        y = rally
        if not failed:
            test = u(0.1, 0.35) + margin
            legs.append(_Leg(span(rally - test, wc.pop(0)), test, act=u(0.5, 0.8), phase="C", turn=-1,
                             pull=u(1.3, 2.2), vol=u(0.7, 0.9)))
            y = test
    # the break, the back-up, the markup/markdown, noise
    brk = w[-1]
    if failed:
        g = -u(0.3, 0.7) - 2 * margin
        bb = span(y - g, brk, floor=3)
        legs.append(_Leg(bb, g, push=-u(0.4, 1.3) * min(1.0, 10 / bb), act=u(1.3, 2.2), phase="D", turn=-1,
                         label="sign_of_weakness"))
        back = u(-0.3, 0.1)
        legs.append(_Leg(span(back - g, u(3, 40), floor=3), back, act=u(0.6, 0.9), phase="D", turn=1,
                         label="last_point_of_supply", profile=_EASE_OUT))
        end = -u(1.0, 2.5)
    else:
        g = 1 + u(0.2, 0.7) + 2 * margin
        bb = span(g - y, brk, floor=3)
        legs.append(_Leg(bb, g, push=u(0.4, 1.3) * min(1.0, 10 / bb), act=u(1.3, 2.2), phase="D", turn=1,
                         label="sign_of_strength", pull=1.5 if snap == _STEP else 1.0,
                         profile=_STEP if snap == _STEP else int(rng.choice([_LINEAR, _STEP, _EASE_OUT]))))
        back = u(0.75, 1.15)
        legs.append(_Leg(span(g - back, u(3, 40), floor=3), back, act=u(0.6, 0.9), phase="D", turn=-1,
                         label="last_point_of_support", profile=_EASE_OUT))
        end = 1 + u(1.0, 2.5)
    legs.append(_Leg(span(end - back, u(30, 300)), end, pull=u(0.5, 1.0), act=u(1.0, 1.2), phase="E"))
    legs.append(_Leg(int(rng.integers(20, 200)), math.nan, pull=0.0, news=int(rng.integers(0, 2))))
    return legs, into(top)


def _profile(kind: int, u: float) -> float:
    if kind == _EASE_IN:
        return u * u
    if kind == _EASE_OUT:
        return 1.0 - (1.0 - u) ** 2
    if kind == _STEP:
        return min(1.0, 3.0 * u)
    if kind == _BELL:
        return u * u * (3.0 - 2.0 * u)
    return u


def _calendar(rng: np.random.Generator, seed: int, bar_ns: int, n: int
              ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Bar starts, the volume's session profile and the variance's (24/7 crypto, or weekday stock bars)."""
    monday = START_NS + (seed % 250) * WEEK_NS
    i = np.arange(n, dtype=np.int64)
    if bar_ns == DAY_NS:
        start = monday + (i // 5) * WEEK_NS + (i % 5) * DAY_NS
        weekday = np.array([0.93, 1.0, 1.0, 1.02, 1.07])[i % 5]
        return start, weekday * rng.uniform(0.97, 1.03), np.ones(n)
    start = monday + i * bar_ns
    hour = (start % DAY_NS + bar_ns // 2) / HOUR_NS
    us, eu, asia = rng.uniform(0.3, 0.6), rng.uniform(0.1, 0.3), rng.uniform(0.15, 0.35)
    profile = 1.0 + us * np.exp(-(((hour - 14.5) / 3.0) ** 2)) + eu * np.exp(-(((hour - 8.0) / 2.5) ** 2)) \
        - asia * np.exp(-(((hour - 3.0) / 3.0) ** 2))
    weekend = ((start // DAY_NS + 3) % 7) >= 5
    profile = profile * np.where(weekend, rng.uniform(0.55, 0.8), 1.0)
    smooth = min(1.0, 30 * MINUTE_NS / bar_ns * 2)  # longer bars average the day out
    return start, profile, 1.0 + smooth * (profile - 1.0)


@dataclass
class _Path:
    close: npt.NDArray[np.float64]
    gap: npt.NDArray[np.float64]
    sd: npt.NDArray[np.float64]  # the intraday noise's sd
    jump: npt.NDArray[np.float64]
    fund: npt.NDArray[np.float64]  # |fundamentalists' demand|, scenario sigmas
    chart: npt.NDArray[np.float64]
    public: npt.NDArray[np.float64]
    var: npt.NDArray[np.float64]
    liquidity: npt.NDArray[np.float64]
    z: npt.NDArray[np.float64]
    wick: npt.NDArray[np.float64]  # an intrabar excursion that comes back within the bar (signed, log)


def _simulate(rng: np.random.Generator, legs: list[_Leg], y0: float, fall_in: bool, sigma: float, height: float,
              vsess: npt.NDArray[np.float64], overnight: float, rho: float) -> _Path:
    """Fundamentalists pulled to the operator's hidden value, chartists on an EWMA of returns, the public's
    one-sided flow, noise traders with Heston variance, Merton news jumps: one log return a bar."""
    n = sum(leg.bars for leg in legs)
    u = rng.uniform
    kappa, chart_c, ewma = u(0.12, 0.35), u(0.1, 0.45), u(0.15, 0.4)
    kh, xi = u(0.03, 0.12), u(0.1, 0.3)
    theta = np.ones(n)
    quiet = [k for k, leg in zip(np.cumsum([0] + [lg.bars for lg in legs[:-1]]), legs, strict=True)
             if leg.phase in ("", "E") and leg.bars > 30]
    for _ in range(int(rng.integers(0, 3))):  # volatility regimes outside the range
        if quiet:
            a = int(rng.choice(quiet)) + int(rng.integers(0, 20))
            theta[a:a + int(rng.integers(20, 100))] *= u(1.6, 3.0)
    z, zg, e2 = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
    eh = rho * z + math.sqrt(1 - rho * rho) * e2
    el = rng.normal(0.0, 0.04, n)
    jumps = np.zeros(n)
    k = 0
    for leg in legs:
        for _ in range(leg.news):
            size = u(3.0, 9.0) * float(rng.choice([-1.0, 1.0]))
            cap = leg.news_cap * height / sigma
            jumps[k + int(rng.integers(0, leg.bars))] += float(np.clip(size, -cap, cap))
        k += leg.bars
    gapmult = np.ones(n)
    if overnight > 0:
        gapmult[::5] = math.sqrt(1.6)  # Mondays: a weekend's news
    close = np.empty(n)
    fund, chart, public, var, liq, sds = (np.empty(n) for _ in range(6))
    zl, zgl, ehl, ell, jl, th, vs = (a.tolist() for a in (z, zg, eh, el, jumps, theta, vsess))
    gml = gapmult.tolist()
    root_on, root_in = math.sqrt(overnight), math.sqrt(1 - overnight)
    x, m, h, lq = 0.0, 0.0, 1.0, 0.0
    v = math.nan
    lo_x, hi_x = -y0 * height, (1 - y0) * height
    t = 0
    climax_start, climax_edge = 0, 0.0
    leg_first = 0
    for leg in legs:
        if leg.anchor == _ANCHOR_CLIMAX:
            seg = close[leg_first:t]
            if fall_in:
                lo_x = float(seg.min())
                hi_x = lo_x + height
            else:
                hi_x = float(seg.max())
                lo_x = hi_x - height
            climax_start, climax_edge = t, (lo_x if fall_in else hi_x)
            m = 0.0  # the chartists are flushed out at the climax
        elif leg.anchor == _ANCHOR_AR:
            seg = close[leg_first:t]
            if fall_in:
                hi_x = float(seg.max())
            else:
                lo_x = float(seg.min())
        elif leg.anchor == _ANCHOR_RANGE:  # the range's edges so far, wicks allowed for
            seg, reach = close[climax_start:t], sds[climax_start:t]
            lo_x, hi_x = float((seg - reach).min()), float((seg + reach).max())
            lo_x, hi_x = (min(lo_x, climax_edge), hi_x) if fall_in else (lo_x, max(hi_x, climax_edge))
        leg_first = t
        free = math.isnan(leg.goal)
        v0 = x if (free or math.isnan(v)) else v
        goal = lo_x + leg.goal * (hi_x - lo_x) if not free else 0.0
        pull = kappa * leg.pull
        for i in range(leg.bars):
            if not free:
                v = v0 + (goal - v0) * _profile(leg.profile, (i + 1) / leg.bars)
            h = max(h + kh * (th[t] - h) + xi * math.sqrt(h) * ehl[t], 0.15)
            st = sigma * math.sqrt(h * vs[t]) * leg.vol
            df = 0.0 if free else pull * (v - x)
            dc = chart_c * st * math.tanh(m)
            push = leg.push if (not leg.burst or i >= leg.bars - leg.burst) else 0.2 * leg.push
            dp = push * sigma
            noise = st * (root_on * zgl[t] * gml[t] + root_in * zl[t])
            jump = jl[t] * sigma
            r = df + dc + dp + noise + jump
            x += r
            m = (1 - ewma) * m + ewma * (r / st)
            lq = 0.98 * lq + ell[t]
            close[t] = x
            sds[t] = st
            fund[t], chart[t], public[t], var[t], liq[t] = abs(df) / sigma, abs(dc) / sigma, abs(dp) / sigma, h, lq
            t += 1
        if free:
            v = math.nan
    sd = sigma * np.sqrt(var * vsess) * np.repeat([leg.vol for leg in legs], [leg.bars for leg in legs])
    gap = sd * root_on * zg * gapmult
    # wicks: the climax's panic and a loud shakeout run further within their most extreme bar and are
    # absorbed before it closes; some news bars spike and fade
    wick = np.zeros(n)
    k = 0
    for leg in legs:
        side = -1.0 if leg.push < 0 else 1.0
        if leg.label in ("selling_climax", "buying_climax") or (leg.label == "spring" and leg.push):
            a, b = k, min(k + leg.bars + 3, n)
            bar = a + int(np.argmax(close[a:b] * side))
            wick[bar] = side * u(0.6, 2.5 if leg.label != "spring" else 1.5) * sd[bar]
        k += leg.bars
    spikes = np.flatnonzero(jumps != 0)
    wick[spikes] += np.sign(jumps[spikes]) * np.abs(jumps[spikes]) * sigma * u(0.0, 0.8, len(spikes))
    return _Path(close, gap, sd * root_in, jumps * sigma, fund, chart, public, var, liq, z, wick)


@dataclass
class _Bars:
    start_ns: npt.NDArray[np.int64]
    open: npt.NDArray[np.int64]
    high: npt.NDArray[np.int64]
    low: npt.NDArray[np.int64]
    close: npt.NDArray[np.int64]
    volume: npt.NDArray[np.int64]


def _bars(rng: np.random.Generator, path: _Path, mirror: bool, level: float, sigma: float,
          start_ns: npt.NDArray[np.int64]) -> _Bars:
    """Intrabar Brownian bridges (with the news jump at a random sub-step) to OHLC, mirrored for the kinds
    that resolve down, priced from ``level`` at the first close on a power-of-ten tick grid."""
    n = len(path.close)
    close = path.close
    open_ = np.r_[0.0, close[:-1]] + path.gap
    w = np.cumsum(rng.standard_normal((n, SUBSTEPS)), axis=1) / math.sqrt(SUBSTEPS)
    frac = np.arange(1, SUBSTEPS + 1) / SUBSTEPS
    bridge = w - frac * w[:, -1:]
    at = rng.integers(1, SUBSTEPS + 1, n)
    move = close - open_ - path.jump
    steps = np.arange(1, SUBSTEPS + 1)
    peak = rng.integers(1, SUBSTEPS, n)[:, None]
    tent = np.minimum(steps / peak, (SUBSTEPS - steps) / (SUBSTEPS - peak))
    side = np.sign(path.wick)  # a wick reaches its size beyond the bar's close (or open), whichever is further
    amp = path.wick + side * np.maximum(0.0, side * move)
    sub = open_[:, None] + move[:, None] * frac + path.jump[:, None] * (steps >= at[:, None]) \
        + path.sd[:, None] * bridge + amp[:, None] * tent
    high = np.maximum(sub.max(axis=1), np.maximum(open_, close))
    low = np.minimum(sub.min(axis=1), np.minimum(open_, close))
    if mirror:
        open_, close, high, low = -open_, -close, -low, -high
    ref = close[0]
    lowest = level * math.exp(float(low.min() - ref)) * SCALE
    tick = max(1, 10 ** int(math.floor(math.log10(max(lowest * sigma / 6, 1.0)))))

    def price(a: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        grid: npt.NDArray[np.int64] = (np.rint(level * SCALE * np.exp(a - ref) / tick) * tick).astype(np.int64)
        return grid

    o, c = price(open_), price(close)
    hi = np.maximum(price(high), np.maximum(o, c))
    lo = np.maximum(np.minimum(price(low), np.minimum(o, c)), tick)
    return _Bars(start_ns, o, hi, lo, c, np.ones(n, np.int64))


class _Measured:
    """Legs' turning points, labels and phases on the integer bars, seen in the canonical frame."""

    def __init__(self, legs: list[_Leg], high: npt.NDArray[np.int64], low: npt.NDArray[np.int64],
                 close: npt.NDArray[np.int64]) -> None:
        self.high, self.low, self.close = high, low, close
        planned = np.cumsum([leg.bars for leg in legs]) - 1
        self.starts: list[int] = []
        self.ends: list[int] = []
        prev = -1
        for i, leg in enumerate(legs):
            start = prev + 1
            if leg.turn:
                stop = int(planned[i]) + (legs[i + 1].bars // 2 if i + 1 < len(legs) else 0)
                if stop < start:
                    raise _Reject("a turning point ran past the next leg")
                seg = low[start:stop + 1] if leg.turn < 0 else -high[start:stop + 1]
                end = start + int(np.argmin(seg))
            else:
                end = int(planned[i])
                if end < start:
                    raise _Reject("a leg swallowed by the previous turning point")
            self.starts.append(start)
            self.ends.append(end)
            prev = end
        self.phases = np.zeros(len(close), np.int8)
        for leg, a, b in zip(legs, self.starts, self.ends, strict=True):
            self.phases[a:b + 1] = PHASES.index(leg.phase)


def _climax_ratio(volume: npt.NDArray[np.int64], bar: int) -> tuple[float, float]:
    before = float(volume[bar - 27:bar - 3].mean())
    return float(volume[bar - 2:bar + 3].max()) / before, float(volume[bar]) / before


def _volume(rng: np.random.Generator, path: _Path, legs: list[_Leg], session: npt.NDArray[np.float64],
            bar_ns: int, crypto: bool, sigma: float) -> npt.NDArray[np.int64]:
    """Gross traded size of the three groups: noise traders on the information flow (the Heston variance:
    mixture of distributions), the fundamentalists' absorption, the chartists and the public, the news."""
    u = rng.uniform
    n = len(path.close)
    act = np.repeat([leg.act for leg in legs], [leg.bars for leg in legs])
    k = 0
    for leg in legs:
        act[k:k + leg.head] *= leg.head_act
        k += leg.bars
    base = (u(200, 3000) * bar_ns / (30 * MINUTE_NS)) if crypto else u(2e5, 5e6)
    info = np.sqrt(path.var) * (0.55 + 0.45 * np.abs(path.z))
    flow = info + u(0.3, 0.8) * path.fund ** 1.2 + u(0.2, 0.5) * path.chart + u(0.3, 0.8) * path.public \
        + u(0.3, 0.6) * np.abs(path.jump) / sigma
    ticks = base * session * act * np.exp(path.liquidity) * flow * rng.lognormal(0.0, u(0.15, 0.35), n)
    blocks = rng.random(n) < 0.003  # off-exchange / OTC prints: volume only
    ticks[blocks] += float(np.median(ticks)) * rng.uniform(2.0, 6.0, int(blocks.sum()))
    volume: npt.NDArray[np.int64] = np.maximum(np.rint(ticks), 1).astype(np.int64)
    return volume


def _draw(rng: np.random.Generator, seed: int, kind: str) -> Scenario:
    context, resolution = _CONTEXT[kind]
    fall_in = context * resolution > 0  # in the canonical frame (break expected up) the climax is low
    mirror = resolution < 0
    u = rng.uniform
    spring = rng.random() < 0.6
    failed = spring and rng.random() < 0.25
    bar_ns = int(rng.choice(BAR_CHOICES, p=BAR_WEIGHTS))
    crypto = bar_ns in CRYPTO_BARS
    sigma = _loguniform(rng, *_SIGMA[bar_ns])
    h_sig = _loguniform(rng, 6.0, 9.0) if rng.random() < 0.12 else _loguniform(rng, 9.0, 42.0)
    h_sig = min(h_sig, _HEIGHT_CAP[bar_ns] / sigma)
    shake = not spring and h_sig >= 14 and rng.random() < 0.45
    pace = u(1.2, 3.0)
    legs, y0 = _plan(rng, fall_in, spring, failed, shake, h_sig, pace)
    n = sum(leg.bars for leg in legs)
    if n > MAX_BARS:  # trim the noise and the markup
        excess = n - MAX_BARS
        for i in (0, len(legs) - 1, len(legs) - 2):
            cut = min(excess, legs[i].bars - 20)
            if cut > 0:
                lg = legs[i]
                legs[i] = _Leg(lg.bars - cut, lg.goal, lg.pull, lg.push, lg.burst, lg.act, lg.vol, lg.label, lg.phase,
                               lg.turn, lg.profile, lg.anchor, lg.head, lg.head_act, lg.news, lg.news_cap)
                excess -= cut
        if excess > 0:
            raise _Reject("too long")
    elif n < MIN_BARS:
        lg = legs[0]
        legs[0] = _Leg(lg.bars + MIN_BARS - n, lg.goal, lg.pull, news=lg.news)
    n = sum(leg.bars for leg in legs)
    start_ns, session, vsess = _calendar(rng, seed, bar_ns, n)
    overnight = 0.0 if crypto else u(0.15, 0.4)
    rho = -u(0.2, 0.6) * (-1 if mirror else 1)  # leverage: falls (in the real frame) raise the variance
    height = h_sig * sigma
    path = _simulate(rng, legs, y0, fall_in, sigma, height, vsess, overnight, rho)
    name = "stock" if not crypto else str(rng.choice(["btc", "eth", "sol", "xrp"]))
    level = _loguniform(rng, *INSTRUMENTS[name])
    bars = _bars(rng, path, mirror, level, sigma, start_ns)
    bars.volume = _volume(rng, path, legs, session, bar_ns, crypto, sigma)
    sign = -1 if mirror else 1
    high, low, close = (bars.high, bars.low, bars.close) if not mirror else (-bars.low, -bars.high, -bars.close)
    meas = _Measured(legs, high, low, close)
    labels = _validate(legs, meas, fall_in, spring, failed, shake, bars.volume)
    if mirror:
        labels = [Label(_SWAP[lb.event], lb.bar, lb.start, lb.end) for lb in labels]
    first_a = next(i for i, leg in enumerate(legs) if leg.phase == "A")
    last_e = next(i for i, leg in enumerate(legs) if leg.phase == "E")
    structure = (meas.starts[first_a], meas.ends[last_e])
    direction = (-1 if failed else 1) * sign
    return Scenario(seed, kind, spring, failed, start_ns, start_ns + bar_ns, bars.open, bars.high, bars.low,
                    bars.close, bars.volume, labels, meas.phases, structure, direction, bar_ns)


def _validate(legs: list[_Leg], meas: _Measured, fall_in: bool, spring: bool, failed: bool, shake: bool,
              volume: npt.NDArray[np.int64]) -> list[Label]:
    """The plan shows on the measured bars (canonical frame), or the draw is rejected; the labels."""
    high, low, close, phases = meas.high, meas.low, meas.close, meas.phases
    n = len(close)
    idx = {leg.label: i for i, leg in enumerate(legs) if leg.label}
    climax = "selling_climax" if fall_in else "buying_climax"
    cb = meas.ends[idx[climax]]
    in_b = np.flatnonzero(phases == PHASES.index("B"))
    end_b = int(in_b[-1])
    support, resistance = int(low[cb:end_b + 1].min()), int(high[cb:end_b + 1].max())
    height = resistance - support
    if height <= 0:
        raise _Reject("no range")
    if fall_in and not (low[cb] == support and (low[cb + 1:end_b + 1] > support).all()):
        raise _Reject("the selling climax is not the range's strict low")
    if not fall_in and not (high[cb] == resistance and (high[cb + 1:end_b + 1] < resistance).all()):
        raise _Reject("the buying climax is not the range's strict high")
    ar = idx["automatic_rally" if fall_in else "automatic_reaction"]
    ar_move = high[meas.ends[ar]] - low[cb] if fall_in else high[cb] - low[meas.ends[ar]]
    if ar_move < 0.35 * height:
        raise _Reject("a small AR")
    first_turn = min(idx.get("preliminary_support", len(legs)), idx.get("preliminary_supply", len(legs)),
                     idx[climax])
    for i in range(first_turn, len(legs)):
        leg = legs[i]
        if leg.label and meas.ends[i] - meas.starts[i] < 1:
            raise _Reject("a labelled leg of one bar")
        if leg.turn and i > 0:
            e, p = meas.ends[i], meas.ends[i - 1]
            moved = high[e] - low[p] if leg.turn > 0 else high[p] - low[e]
            if moved < 0.08 * height:
                raise _Reject("a leg that hardly turns")
    ps = idx.get("preliminary_support" if fall_in else "preliminary_supply")
    if ps is not None:
        b = meas.ends[ps]
        if (low[b] <= support) if fall_in else (high[b] >= resistance):
            raise _Reject("the PS is beyond the climax")
    in_c = np.flatnonzero(phases == PHASES.index("C"))
    a, z = int(in_c[0]), int(in_c[-1]) + 1
    if (high[a:z] > resistance).any():
        raise _Reject("phase C reaches beyond the far edge")
    depth = support - low[a:z]
    if spring:
        sb = meas.ends[idx["spring"]]
        if not 0 < support - low[sb]:
            raise _Reject("the spring is not beyond support")
        if support - low[sb] > 0.5 * height:
            raise _Reject("the spring is too deep")
        if low[a:z].min() < low[sb] or a + int(np.argmax(depth)) != sb:
            raise _Reject("the spring is not phase C's low")
        if not (close[sb:sb + SHAKEOUT_BARS + 1] > support).any():
            raise _Reject("the spring does not close back inside in time")
        if (depth[sb - a + SHAKEOUT_BARS + 1:] > 0).any():
            raise _Reject("phase C goes beyond support again")
    elif shake:
        ext = a + int(np.argmax(depth))
        if depth[ext - a] <= 0:
            raise _Reject("the shakeout stays inside")
        if (close[ext:ext + SLOW_BARS + 1] > support).any():
            raise _Reject("the shakeout comes back too soon")
        back = np.flatnonzero(close[ext:z] > support)
        if not len(back):
            raise _Reject("the shakeout never comes back before the break")
        if (depth[ext + int(back[0]) - a + 1:] > 0).any():
            raise _Reject("the shakeout goes out again")
    elif (depth > 0).any():
        raise _Reject("the test does not hold")
    brk_name = "sign_of_weakness" if failed else "sign_of_strength"
    bi = idx[brk_name]
    bs, be = meas.starts[bi], meas.ends[bi]
    beyond = close[bs:be + 1] < support if failed else close[bs:be + 1] > resistance
    if not beyond.any():
        raise _Reject("the break does not close beyond the range")
    brk_bar = bs + int(np.argmax(beyond))
    if not RANGE_BARS[0] <= brk_bar - cb <= RANGE_BARS[1]:
        raise _Reject("range length")
    backup = meas.ends[idx["last_point_of_supply" if failed else "last_point_of_support"]]
    mid = (support + resistance) / 2
    if (high[backup] >= mid) if failed else (low[backup] <= mid):
        raise _Reject("the back-up crosses the middle")
    if cb < 30:
        raise _Reject("the climax comes too early")
    ratio, own = _climax_ratio(volume, cb)
    if not CLIMAX_RATIO[0] <= ratio <= CLIMAX_RATIO[1] or own < 1.0:
        raise _Reject("climax volume")
    last_e = max(i for i, leg in enumerate(legs) if leg.phase == "E")
    if meas.ends[last_e] >= n - 1:
        raise _Reject("the markup runs to the end")
    labels = []
    for i, leg in enumerate(legs):
        if leg.label:
            bar = brk_bar if i == bi else meas.ends[i]
            labels.append(Label(leg.label, bar, meas.starts[i], meas.ends[i]))
    return labels


def generate(seed: int, kind: str | None = None) -> Scenario:
    """One scenario, deterministic in the seed; the kind is drawn uniformly unless given."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, SALT]))
    if kind is None:
        kind = KINDS[int(rng.integers(0, len(KINDS)))]
    for _ in range(MAX_TRIES):
        try:
            return _draw(rng, seed, kind)
        except _Reject:
            continue
    raise RuntimeError(f"family G: no valid scenario for seed {seed} in {MAX_TRIES} draws")


def scenarios(count: int, first_seed: int = 0) -> Iterator[Scenario]:
    for seed in range(first_seed, first_seed + count):
        yield generate(seed)
