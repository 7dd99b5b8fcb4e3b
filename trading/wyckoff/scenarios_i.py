"""Family I of labelled Wyckoff scenarios: dealers' inventory and a composite operator in exchange-traded futures.

Blindness
---------
Written blind to the detector: of the repository only ``trading/wyckoff/scenarios.py`` (whole), the
module docstrings (the text before the first import) of ``scenarios_e.py``, ``scenarios_f.py``,
``scenarios_g.py`` and ``scenarios_h.py``, ``tests/trading/scenario_contract.py`` and
``tests/trading/test_scenarios_h.py`` (whole), the two definitions ``PHASES`` and ``KINDS`` in
``trading/wyckoff/machine.py`` and ``pyproject.toml`` were read. Nothing of the detector, its features,
gate, parameters, scoring, charts, real bars, the other families' code, ``docs/wyckoff.md``, the
benchmarks or their results was read, imported or run, and the detector was never run on these
scenarios. Only ``PHASES`` is imported from the machine (``KINDS`` here is the tuple of the four kind
names).

Purpose
-------
A held-out test family built differently from the others (A: Brownian bridges between leg targets
on 1-minute bars; B: GARCH paths around target paths; C: regime-switching drift segments; D: an
agent-based order-flow model on 30-minute bars; E: a variance-gamma particle between soft walls on
15m-4h FX bars; F: Hawkes market orders through a limit-order book on index CFDs; G: heterogeneous
agents around an operator's hidden value on crypto and stock bars; H: a Kyle insider in an MT5 tick
stream). Here the market is an exchange-traded future (crude oil, gold, the 10-year note, the
E-mini S&P 500, corn) as a data vendor delivers it: a back-adjusted continuous contract on the CME's
sessions, with its maintenance break, weekends, holidays and half-days, daily settlements, price
limits and the volume's dips and jumps at the rolls. Prices are made by liquidity providers in a
Ho-Stoll / Avellaneda-Stoikov style: dealers take the other side of the order flow, learn a value from
it and skew their quotes by their inventory, so the mid moves with the flow (a permanent and a
transient impact) and volatility comes from the flow, not from a drawn return distribution. The flow
comes from noise traders, seasonal hedgers, trend followers (CTAs, a moving-average signal, so trends
feed themselves), the public's one-sided bursts (panic, short covering, supply, stop runs) and a
composite operator who works orders toward a hidden Wyckoff schedule and takes the other side of the
public (absorption: heavy volume, small net change). Scheduled reports are one-bar shocks.

Calendar and bars
-----------------
``market(seed)`` draws the contract (``INSTRUMENTS``, uniform) and the bar length (``BAR_CHOICES``,
weights ``BAR_WEIGHTS``: 30 minutes 40 %, 2 hours 30 %, daily 30 %) from its own stream; the redraws
keep them. Sessions are in Chicago time with US daylight saving time (UTC-6 or UTC-5): Globex (CL, GC,
ZN, ES) from 17:00 the evening before the trade date (Sunday for a Monday) to 16:00, so a one-hour
maintenance break each day and the weekend closed; the CBOT grains (ZC) 19:00-07:45 and 08:30-13:20.
Holidays, simplified from the CME's: no session on New Year's Day, Good Friday and Christmas (moved to
a weekday as observed); the session ends at 12:00 on Martin Luther King Day, Presidents' Day, Memorial
Day, Juneteenth, Independence Day, Labor Day and Thanksgiving, at 12:15 on the day after Thanksgiving
and on Christmas Eve. Intraday bars are aligned to each session's (or session part's) open; a
session's last bar can be short (Globex 2-hour bars end with 15:00-16:00; the grains' night ends
07:45, so its last 2-hour bar's nominal end passes the 08:30 open); ``end_ns = start_ns + bar_ns``.
A daily bar is one trade date, stamped 00:00 UTC of the date: it opens on the session's first trade
(the evening before), its high and low cover the whole session and it closes on the settlement
(CL 13:30, GC 12:30, ZN 14:00, ES 15:00, ZC 13:15 Chicago time). The first bar is the first session of
the first trade date on or after the Monday ``seed % 250`` weeks after ``START_NS``. Prices are
integer points, ``price * SCALE``, on the contract's tick grid (CL 0.01, GC 0.10, ZN 1/64, ES 0.25,
corn 1/4 cent, quoted in cents a bushel). The series stands for a back-adjusted continuous contract
but no adjustment is made: there is no calendar premium to divide out, the price is simulated as one
continuous series without roll gaps (what a ratio back-adjusted series looks like), and the whole history
is scaled so that the last bar is on the current contract's level (its close drawn in ``Instrument.level``;
the history is kept within a factor 3 from top to bottom). Volume is the number of contracts, at least 1, traded in the month the
continuous contract follows. ``MIN_BARS``-``MAX_BARS`` (300-2500) bars.

Rolls: the continuous contract switches to the next month on the first trade date on or after the
14th (CL, every month), the 25th (GC: January, March, May, July, September, November), the 22nd (ZN:
February, May, August, November; ZC: February, April, June, August, November) or on the second Thursday
(ES: March, June, September, December, eight days before the expiry). The front month's share of the
day's volume falls along a logistic in trade dates (half 1-3 days before the switch, width 0.7-1.2
days) and the next month's rises; the continuous series shows the front's share before the switch and
the next month's from it, plus the calendar-spread trades of the roll (10-30 % of a day's volume at
the crossover): its volume dips for one or two trade dates (measured over seeds 0-299, the median trade
date's volume against its median 8-15 trade dates before the switch: 0.37-0.43 the day before the switch, 0.63-0.69 two
days before, 0.81-0.92 three days before) and jumps back on the switch date.

The market (canonical frame: the break expected up, the shakeout below support)
--------------------------------------------------------------------------------------
Prices move in bar sigmas ``s = s_d / sqrt(bars in a normal day)``, ``s_d`` the daily sigma (log; CL
1.5-2.5 %, GC 0.8-1.4 %, ZN 0.30-0.55 %, ES 0.8-1.6 %, ZC 1.1-1.8 %). Each bar is cut into
``SUBSTEPS`` (8) substeps: equal times on intraday bars, eight equal stretches of the session on a
daily bar (weighted by their activity).

* Dealers: a value ``v`` and an inventory ``I``; they take the other side of every order, learn from
  the flow (``v += pi q``, pi 0.35-0.7) and skew their quotes by their inventory (``mid = v - (1 - pi)
  I``, ``I -= q``), laying it off with a half-life of 0.5-3 trading hours. A unit of flow moves the
  mid one bar sigma at once; the transient part decays as the inventory goes.
* Noise traders: a gross activity ``act x participation x liquidity x Gamma(k, 1/k)`` (k 3-8;
  liquidity an AR(1) in log, 0.96-0.99, sd 0.04-0.07: volatility and volume cluster) and a net flow
  per substep, normal with that variance: the bars' volatility and their volume come from the same
  orders. ``act`` is the session's activity by Chicago minute over the bar (mean 1 over a normal day):
  the night 0.12-0.28, the London open (02:00-04:00) 1.4-2.3 x that, the Globex reopen 1.1-1.5 x, a
  ramp from 06:00 to 0.45-0.7 and then the day session (CL 08:00-13:30, GC 07:20-12:30, ZN
  07:20-14:00, ES 08:30-15:15, ZC 08:30-13:20) U-shaped, ``1 + (1.5-3.5) exp(-x / 15-40 min) +
  (1-2.5) exp(-(end - x) / 10-30 min)`` (the open and the close into the settlement heavy), 0.3-0.5
  after it. The leg's participation: trend and markup 1-1.2, PS push bars 1.3-2.2, climax panic bars
  up to 1.8-4, AR 1.2-1.6 (its first 1-2 bars 1.2-2.6), ST 0.7-1, B 0.45-0.9, phase C 0.5-0.9 (snap
  0.8-1.3, stop-run bars 1.3-2.3), break 1.3-2.2, back-up 0.6-0.9.
* Hedgers: a seasonal flow (0.05-0.2 daily sigmas a day, a period of 40-250 trade dates) and a slowly
  wandering one (AR(1), 0.95 a day, sd 0.02-0.06), spread over the session by activity.
* Trend followers: a position ``size x tanh((EMA_fast - EMA_slow) / sqrt(4 span))`` (span 6-39 bars,
  the slow EMA 3-6 times longer, size 1-3.5), traded the bar after the signal: trends feed themselves.
* The public's one-sided flow (bar sigmas, times ``sqrt(act)`` clipped to 0.6-1.4): the climax's
  panic (below), the PS's 1-2 bars (0.5-1.5), the AR's short covering (1-2 bars of 0.5-2), a steady
  supply in the ST, phase B and phase C's down legs (0.2-0.8 a bar), a loud spring's stop run (1-3 bars
  of 0.4-1.5), the break's eagerness (1-3 bars of 0.4-1.3), the trend's climax-like bursts.
* The composite operator (absent in the noise): each leg of the hidden schedule is a path from the
  price at the leg's start to its goal (linear, smooth, accelerating or decelerating); each bar it works
  an order so that the dealers' expected mid ends on the path plus ``1 - rho`` of the present deviation
  (rho per leg: 0.05-0.2 in the trend and markup, 0.1-0.3 in phase B and the trend's pause, 0.25-0.65
  elsewhere, 0.7-0.9 in the snap), its own steering capped at twice the leg's pace, and it takes the other
  side of a share of the others' directional flow (0.6-0.95 inside the range, 0.45-0.85 in the climax,
  0.3-0.7 in the PS, the pause, a loud spring and the back-up, 0.2-0.5 at the break, 0-0.3 in the trend
  and markup): absorption. Its resting orders hold the expected
  mid inside a level: max(3 % of the height, 1.5-2.5 bar sigmas) inside the climax from the AR through
  phase B, 4 % inside the far edge in phase C, above support before and after a spring (max(3 %, 1.2 sigma)),
  no deeper than 1.3 x the planned spring, beyond support through an unconfirmed shakeout's hold, above
  the middle (62 %) for an LPS, below it (38 %) for an LPSY.
* Scheduled reports: the EIA's petroleum status (Wednesdays 09:30 Chicago, CL), payrolls (the first
  Friday, 07:30), CPI (the first trade date from the 11th, 07:30) and the FOMC (a Wednesday every sixth
  week, 13:00) for GC, ZN and ES, the USDA's WASDE (the first trade date from the 9th, 11:00) and grain
  stocks (the last trade date of March, June and September, and January's from the 12th, 1.3 x) for
  corn. The news is a jump of the dealers' value at the release's substep, normal with sd 0.25-0.6
  (EIA), 0.35-0.8 (payrolls), 0.3-0.7 (CPI), 0.3-0.8 (FOMC), 0.4-1.0 (WASDE), 0.7-1.5 (stocks) daily
  sigmas (at most 12 % of the height inside the structure, where the operator takes it back; outside
  it lets it stand), and the bar's activity is multiplied by 1 + 1.5-4 x that sd (daily bars 1 +
  0.15-0.4 x): a one-bar shock.
* Session gaps: news over the break, a jump of the value at each session's reopen (sd 0.05-0.15 daily
  sigmas; 0.25-0.6 after a weekend or a holiday).
* Daily limits, simplified: fixed bands around the previous settlement (CL 10 %, GC 6 %, ZC 7 %, 1.5 x
  after a limit close) that lock the market like the grains' limits; the CME's CL and GC limits are
  dynamic circuit breakers (a short halt, then wider bands) and are modelled as locked bands all the
  same, and ES's 7 % overnight limit and equity circuit breakers are left out (no limit for ZN and ES).
  Beyond the band the price is pinned at the limit and the pinned substeps trade only 2-8 % of their
  volume; the value runs on, so the next session opens further (over seeds 0-299, 3 of the 68
  scenarios with a pinned bar have a limit episode locked on two trade dates running; the others one). In
  40 % of the commodity draws a report outside the schematic (the noise, 10-60 % into the trend, the
  markup from 30 %, the tail) carries news of 1.15-2 limits (the trend's or markup's way) and 2-4 x
  the activity. A draw with a pinned bar in the planned phases A-D, or a daily bar settling at the limit in
  the measured ones, is redrawn.
* Bars: a trade prints at the end of each substep at the ask (a buyer-initiated net flow) or the bid
  (a tick below) around the mid; the open is the first trade at the opening mid (a tick from the last
  close inside a session, gapped after a break), high and low the extreme prints, the close the last
  print (the settlement's on daily bars). The kinds that resolve down are the canonical path mirrored
  (log price x -> -x) before the prints.
* Volume: ``ADV / bars a day x (noise activity + hedgers' base 0.05-0.15 act + (0.1-0.25) x (|hedgers|
  + |trend followers| + |operator| + |public| + dealers' lay-off))`` times the roll's share and the
  limit's shrink; ADV CL 250-700 k, GC 120-350 k, ZN 0.9-2.2 M, ES 1-2.5 M, ZC 150-450 k contracts a day.
  The climax's volume is not set but measured (below).

The hidden schedule (canonical frame; heights H of the planned range)
--------------------------------------------------------------------
H is 8-40 bar sigmas (log-uniform; 6-9 in 10 % of the draws), planned at most 4 % (30 minutes), 8 % (2
hours) or 15 % (daily) of the price (the realised range exceeds that in 46/50/66 % of the kept 30-minute/
2-hour/daily scenarios of seeds 0-299). The pace (bar sigmas a bar) is 0.3-0.8 on 30-minute bars, 0.5-1.3 on
2-hour and 1-2.5 on daily bars (a few daily sigmas a day at most): no leg is planned shorter than 1.3 x
its distance over its pace (the trend and markup at 0.6 x the pace, the AR at 1.5-3 x and the ST at 1-2 x,
capped at 1.5, 2 and 2.8 bar sigmas a bar; in phase C the spring's plunge at 2-3 x, capped alike, the snap
at 3 x, an unconfirmed shakeout's rally at 1.5 x), so tall ranges take more bars. Goals are in heights from the
planned climax edge before the range, and in fractions of the range (0 support, 1 resistance) from the
AR on, re-anchored on the operator's view of the realised bars: at the AR's start on the climax's
extreme, at the ST's and each B swing's start on the AR's side, at phase C's start on the range so far.
Legs: noise (60-360 bars, no operator; lengthened to reach ``MIN_BARS``, and on intraday bars in 70 %
slid so that the climax's panic ends in the day session); the trend (40-300 bars, starting 1-3 H
beyond its end), in 35 % cut by an unlabelled pause (a counter-move of 12-35 % of H; in half after a
climax-like burst of 1-3 bars, 1.5-3.5 sigma a bar); in 50 % a PS (3-15 bars to 0.15-1 H from the
edge, a push on its last 1-2 bars) and its rally (0.15-0.45 H), else the trend ends 0.3-1.4 H out; the
climax: an approach (2-21 bars) and a panic of 1 (35 %), 2 (25 %), 3 (25 %) or 4 (15 %) bars whose
public flow (3-8, 2.5-6 or 1.5-4 bar sigmas times the panic's bars^0.6 on 30-minute, 2-hour or daily
bars) is heaviest first, so in a multi-bar panic the extreme bar is usually not the heaviest; the AR
(0.8-1.15 H from the climax's extreme); the ST (30 %: 2-6 % of the height from the climax, at least
1.5 sigma, under the climax bar's close; else 10-55 %, log-uniform). The range (climax to break) is
planned log-uniform 30-900 bars, phase B 5-60 % of it (in 20 % 60-88 %); its swings about one per
25-90 bars (odd after a fall, even after a rise, so B ends on the AR's side; at most 15), AR-side swings
to 55-95 % (in 25 % a probe 1-8 % beyond the AR: unlabelled, it counts in the edges), climax-side swings
to 12-50 % (in 25 % a test within 4-12 %, at least 2 sigma); phase C and the break share the rest by
Dirichlet weights. Phase C: a spring (58 % of the draws): an approach to 6-15 % of H above support (at
least 1 sigma; the operator's bids hold it above support), then the spring itself, a brief plunge planned
in 2-4 bars to 4-30 % of H below support (log-uniform, at least 1.5 sigma, at most 35 % and 8 sigma),
quiet or (half) on a stop run, then a snap back to 10-25 % planned in 3-6 bars; a failure (25 % of the springs) rallies to 30-60 % and the test fails: the SOW breaks
30-70 % of H below support, an LPSY at -30 to +10 %, the markdown; otherwise in half a rally (30-75 %)
and a test (10-35 %) before the SOS. Without a spring: in 45 % of those with H of at least 12 sigma an
unconfirmed shakeout (14-34 % of H plus 2 sigma below support, held beyond for 18-33 bars at 55-70 % of
its depth, then a rally of 30-60 % and a test), else a test at 5-30 % (at least 2 sigma) that holds (a
phase-C LPS: unlabelled, as family E provides no phase-C label), in half followed by a rally and a
second test. The break: the SOS 20-70 % of H above resistance; the LPS at 72-110 % (3-40 bars); the
markup 1-2.5 H beyond the range in 30-300 bars (phase E); noise (20-200 bars). Long draws are trimmed
in their noise and markup to ``MAX_BARS``. Kinds are uniform; ``kind`` given to ``generate`` is honoured.

Labels and phases (all measured on the final integer bars)
----------------------------------------------------------
As family E. From the PS (or the climax) on, every leg with a turning point ends at its extreme in the
real frame (the first lowest low of a trough, the first highest high of a peak) over the bars from its
start to the middle of the next planned leg; the next leg starts on the bar after it; the spring's approach, the
snap, the shakeout's hold, the markup and the noise end where planned (so the spring's label covers the
plunge). A label's ``start`` and ``end`` are its
leg's first and last bar and its ``bar`` the leg's extreme on the event's side, except
sign_of_strength / sign_of_weakness, whose ``bar`` is the first bar of the leg that closes beyond the
range edge (the highest high and lowest low from the climax bar to the end of phase B). Event names:
preliminary_support / preliminary_supply, selling_climax + automatic_rally (a fall into the range) or
buying_climax + automatic_reaction (a rise), secondary_test (the first ST only), spring / upthrust,
sign_of_strength + last_point_of_support (a break up) or sign_of_weakness + last_point_of_supply (down),
named by the actual break. Nothing else is labelled: not the trend's pause and bursts, the phase-B
probes and tests, the reports, the limit days, the rolls, the session gaps, the approach, snap, rally and
test around a spring, a phase-C test without a spring, nor an unconfirmed shakeout. Phases (np.int8, index
into ``PHASES``): "" in the noise and the trend; A from the PS (or climax) leg through the first ST; B
the swings; C from the leg into the spring/test to the bar before the SOS/SOW leg (an unconfirmed
shakeout and its hold included); D that leg and the back-up; E the markup/markdown; "" after.
``structure`` = (first bar of phase A, last bar of phase E); ``direction`` +1 if the break is up;
``failed`` = the break went against the kind (always after a spring/upthrust; ``kind`` stays the
planned one); ``spring`` = a spring/upthrust is labelled.

Validation
----------
A draw is kept only if, on the final bars: every turning leg has at least two bars and, from phase A
on, moves at least 8 % of the range's height (the spring from the turning point before its approach); the climax is the range's strict extreme on its side
(through the end of phase B) and at least 30 bars in; the PS is not beyond it; the AR moves at least
half the height; phase C is one stretch; a spring/upthrust goes beyond its edge by at most half the
height, is phase C's extreme (its first bar at that depth), closes back inside within
``SHAKEOUT_BARS`` (10) bars, is a brief excursion (at most ``SHAKEOUT_BARS`` closes in a row beyond the
edge right before its extreme) and nothing in phase C goes beyond that edge from ``SHAKEOUT_BARS`` + 1
bars after it; without one, anything of phase C beyond the edge is an unconfirmed shakeout (no close
back inside within ``SLOW_BARS`` (12) bars of its extreme, back inside before the break and staying
inside); nothing in phase C reaches beyond the other edge; after phase C no bar trades beyond the shakeout-side
edge (below support for an accumulation or reaccumulation, above resistance for a distribution or
redistribution; "beyond" strictly, as family E's edges: no tolerance), from the SOS/SOW leg's first bar to
the SOS/SOW bar and, after a break away from that side, through the end of phase E (so nothing after
phase C reaches the labelled spring/upthrust's extreme); the SOS/SOW leg closes beyond its edge; the
back-up stays on the break side of the middle; the range (climax bar to SOS/SOW bar) lasts
``RANGE_BARS`` (20-1300) bars; the climax's volume ratio (the highest volume within two bars of it over
the mean of the 24 bars ending three bars before it) is in ``CLIMAX_RATIO`` (1.4-30) and its own bar's
at least that mean; no limit day falls in phases A-D (no pinned substep in the planned ones, no
daily bar settling at the limit, within two ticks and at its extreme, in the measured ones); the markup ends before the last bar;
``scenarios.undone`` is "". Otherwise the scenario is redrawn from the same random stream (seeded from
the seed and ``SALT``; at most ``MAX_TRIES``, then RuntimeError).

Measured over seeds 0-299
-------------------------
3.04 draws per kept scenario (the most common rejections: a climax that phase A or B ties or passes,
44 %; a phase-C dip that is neither a spring nor slow, 9 %; a limit day inside the schematic, 9 %; a
history wandering beyond a factor 3, 8 %; the climax's volume, 8 %; phase D or E beyond the
shakeout-side edge, 5 %; phase C beyond the edge again after a spring, 4 %); ``generate`` takes about
21 ms on average (300 scenarios in about 6.3 s on one core). Kinds 87/75/71/67 (accumulation,
distribution, reaccumulation, redistribution); contracts CL 53, GC 57, ZN 59, ES 58, ZC 73; bars 30m
42 %, 2h 27 %, daily 31 %; 440-2500 bars a scenario (median 979). A spring/upthrust in 62 % of the kept
scenarios, a failure in 11 % (18 % of those with a spring), an unconfirmed shakeout in 12 %, a PS in
53 %; limit days in 37 % of the commodity scenarios. The closes beyond the edge right before a
spring/upthrust's extreme: 0-8 in a row (median 2, 90th percentile 4); no bar beyond the shakeout-side
edge after phase C (as validated; also none over seeds 0-1199). The range lasts 36-1042 bars (median
182; under 60 in 5 %, over 600 in 8 %); phase B is 5-83 % of it; the structure (phase A to E) 140-1667
bars; the height is 0.6-36 % of the price (median 5.7 %), 5-51 median bar ranges. Climax volume ratio
1.41-28.6 (10th/50th/90th percentile 2.2/5.2/17.0); a neighbour within two bars trades more than the
climax bar in 62 %, and the climax bar is phase A's heaviest (through the ST) in 23 %. The ST undercuts
the climax bar's close (holding its low) in 22 % and stays more than a fifth of the height away in 33 %.
The spring/upthrust bar trades 0.3-15 x the median of the 50 bars before it (10th/50th/90th percentile
0.9/1.7/5.0): quiet and loud springs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from trading.wyckoff.machine import PHASES as PHASES  # re-exported for the tests
from trading.wyckoff.scenarios import SCALE, START_NS, Label, Scenario, undone

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

SALT = 0x1F0_7E5
KINDS = ("accumulation", "distribution", "reaccumulation", "redistribution")
MINUTE_NS = 60 * 1_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
BAR_CHOICES = (30 * MINUTE_NS, 2 * HOUR_NS, DAY_NS)
BAR_WEIGHTS = (0.4, 0.3, 0.3)
MIN_BARS, MAX_BARS = 300, 2500
RANGE_BARS = (20, 1300)  # climax bar to SOS/SOW bar
SHAKEOUT_BARS = 10
SLOW_BARS = 12
CLIMAX_RATIO = (1.4, 30.0)
MAX_TRIES = 40
SUBSTEPS = 8
_ABSORPTION = 1.0  # scales the operator's absorption (a knob for the tests: 0 switches it off)
GLOBEX_OPEN, GLOBEX_CLOSE = 17 * 60, 16 * 60  # CT minutes: the session runs 17:00 (the day before) to 16:00
GRAIN_NIGHT = (19 * 60, 7 * 60 + 45)  # CBOT grains: 19:00 (the day before) to 07:45 CT ...
GRAIN_DAY = (8 * 60 + 30, 13 * 60 + 20)  # ... and 08:30 to 13:20 CT
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Instrument:
    level: tuple[float, float]  # the current (last) contract's price range
    tick: int  # points (price * SCALE) a tick
    daily_vol: tuple[float, float]  # sd of a day's log return
    adv: tuple[float, float]  # contracts a day, all months
    grain: bool  # CBOT grain hours instead of Globex's
    rth: tuple[int, int]  # the day (pit) session, CT minutes
    settle: int  # settlement time, CT minute
    limit: float  # daily price limit, a fraction of the previous settlement (0: none)
    roll_months: tuple[int, ...]  # months in which the continuous contract switches to the next month
    roll_day: int  # on the first trade date on or after this day of the month (0: the second Thursday)
    reports: tuple[str, ...]


INSTRUMENTS: dict[str, Instrument] = {
    "CL": Instrument(  # crude oil
        (45.0, 110.0), 10_000, (0.015, 0.025), (250e3, 700e3), False, (480, 810), 810,
        0.10, tuple(range(1, 13)), 14, ("eia",)),
    "GC": Instrument(  # gold
        (1600.0, 3400.0), 100_000, (0.008, 0.014), (120e3, 350e3), False, (440, 750), 750,
        0.06, (1, 3, 5, 7, 9, 11), 25, ("payrolls", "cpi", "fomc")),
    "ZN": Instrument(  # 10-year note
        (104.0, 126.0), 15_625, (0.003, 0.0055), (900e3, 2.2e6), False, (440, 840),
        840, 0.0, (2, 5, 8, 11), 22, ("payrolls", "cpi", "fomc")),
    "ES": Instrument(  # E-mini S&P 500
        (3800.0, 6800.0), 250_000, (0.008, 0.016), (1.0e6, 2.5e6), False,
        (510, 915), 900, 0.0, (3, 6, 9, 12), 0, ("payrolls", "cpi", "fomc")),
    "ZC": Instrument(  # corn, cents a bushel
        (340.0, 720.0), 250_000, (0.011, 0.018), (150e3, 450e3), True,
        (510, 800), 795, 0.07, (2, 4, 6, 8, 11), 22, ("wasde", "stocks")),
}
# scheduled reports: CT minute of the release and the sd of its news (daily sigmas)
REPORTS: dict[str, tuple[int, tuple[float, float]]] = {
    "eia": (9 * 60 + 30, (0.25, 0.6)),  # EIA petroleum status, Wednesdays 10:30 ET
    "payrolls": (7 * 60 + 30, (0.35, 0.8)),  # the first Friday, 08:30 ET
    "cpi": (7 * 60 + 30, (0.3, 0.7)),  # the first trade date from the 11th
    "fomc": (13 * 60, (0.3, 0.8)),  # a Wednesday every sixth week, 14:00 ET
    "wasde": (11 * 60, (0.4, 1.0)),  # USDA supply/demand, the first trade date from the 9th, 12:00 ET
    "stocks": (11 * 60, (0.7, 1.5)),  # USDA grain stocks: end of March/June/September, January's annual
}


class _Reject(Exception):
    """A draw whose measured bars do not show the planned schematic (redrawn)."""


# --------------------------------------------------------------------------------------------- calendar


def _day(d: date) -> int:
    return (d - EPOCH).days


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 the last) given weekday (Monday 0) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month = (h + el - 7 * m + 114) // 31
    return date(year, month, (h + el - 7 * m + 114) % 31 + 1)


def _holidays(first_year: int, last_year: int) -> tuple[set[int], dict[int, int]]:
    """CME-style holidays (simplified): trade dates with no session (New Year's Day, Good Friday,
    Christmas) and early closes (CT minute) on the Monday holidays, Juneteenth, Independence Day,
    Thanksgiving (12:00), the day after Thanksgiving and Christmas Eve (12:15)."""
    closed: set[int] = set()
    early: dict[int, int] = {}
    for y in range(first_year, last_year + 1):
        ny, xmas = date(y, 1, 1), date(y, 12, 25)
        if ny.weekday() < 5:
            closed.add(_day(ny))
        elif ny.weekday() == 6:
            closed.add(_day(ny) + 1)
        closed.add(_day(_easter(y)) - 2)
        closed.add(_day(xmas) + {5: -1, 6: 1}.get(xmas.weekday(), 0))
        thanksgiving = _nth_weekday(y, 11, 3, 4)
        for d in (_nth_weekday(y, 1, 0, 3), _nth_weekday(y, 2, 0, 3), _nth_weekday(y, 5, 0, -1),
                  date(y, 6, 19), date(y, 7, 4), _nth_weekday(y, 9, 0, 1), thanksgiving):
            k = _day(d) + {5: -1, 6: 1}.get(d.weekday(), 0)
            early[k] = 12 * 60
        early[_day(thanksgiving) + 1] = 12 * 60 + 15
        eve = date(y, 12, 24)
        if eve.weekday() < 5 and _day(eve) not in closed:
            early[_day(eve)] = 12 * 60 + 15
    return closed, early


def _year_of(days: IntArr) -> IntArr:
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _daylight(days: IntArr) -> BoolArr:
    """US daylight saving time on these dates (from the second Sunday of March to the first of November)."""
    years = _year_of(days) - 1970
    march = (years.astype("datetime64[Y]").astype("datetime64[M]") + 2).astype("datetime64[D]").astype(np.int64)
    nov = (years.astype("datetime64[Y]").astype("datetime64[M]") + 10).astype("datetime64[D]").astype(np.int64)
    start = march + (6 - (march + 3) % 7) % 7 + 7
    end = nov + (6 - (nov + 3) % 7) % 7
    return (days >= start) & (days < end)


def _trade_dates(first: int, count: int) -> tuple[IntArr, dict[int, int]]:
    days = first + np.arange(int(count * 1.45) + 30, dtype=np.int64)
    years = _year_of(days)
    closed, early = _holidays(int(years[0]), int(years[-1]))
    ok = ((days + 3) % 7 < 5) & ~np.isin(days, np.fromiter(closed, np.int64))
    return days[ok][:count], early


@dataclass(slots=True)
class _Calendar:
    bar_ns: int
    start: IntArr  # bar start, UTC ns
    dur: IntArr  # trading time in the bar, ns (a session's last bar can be short)
    day: IntArr  # trade-date index of the bar
    dates: IntArr  # trade dates, days since 1970
    offset: IntArr  # UTC minus Chicago time on each trade date, ns
    reopen: BoolArr  # the bar opens a session segment (after the maintenance break or a pause)
    closure: BoolArr  # the bar opens after a weekend or a holiday
    segments: list[tuple[IntArr, IntArr]]  # per segment kind: open and close UTC ns on each trade date


def _sessions(inst: Instrument, dates: IntArr, early: dict[int, int]) -> tuple[IntArr, list[tuple[IntArr, IntArr]]]:
    offset = np.where(_daylight(dates), 5, 6).astype(np.int64) * HOUR_NS
    prev = dates - 1  # the evening before (Sunday for a Monday)
    last = np.array([early.get(int(d), 24 * 60) for d in dates], np.int64)
    if inst.grain:
        night = (prev * DAY_NS + GRAIN_NIGHT[0] * MINUTE_NS + offset, dates * DAY_NS + GRAIN_NIGHT[1] * MINUTE_NS + offset)
        day_close = np.minimum(GRAIN_DAY[1], last)
        day = (dates * DAY_NS + GRAIN_DAY[0] * MINUTE_NS + offset, dates * DAY_NS + day_close * MINUTE_NS + offset)
        return offset, [night, day]
    close = np.minimum(GLOBEX_CLOSE, last)
    return offset, [(prev * DAY_NS + GLOBEX_OPEN * MINUTE_NS + offset, dates * DAY_NS + close * MINUTE_NS + offset)]


def _calendar(inst: Instrument, bar_ns: int, first_day: int, n: int) -> _Calendar:
    per_day = 1 if bar_ns == DAY_NS else 8
    dates, early = _trade_dates(first_day, n // per_day + 40)
    offset, segs = _sessions(inst, dates, early)
    if bar_ns == DAY_NS:
        start = dates * DAY_NS
        dur = sum((b - a for a, b in segs), np.zeros(len(dates), np.int64))
        day = np.arange(len(dates), dtype=np.int64)
        reopen = np.ones(len(dates), bool)
        first_open = segs[0][0]
        closure = np.r_[False, first_open[1:] - segs[-1][1][:-1] > 30 * HOUR_NS]
    else:
        opens = np.stack([a for a, _ in segs], axis=1).ravel()
        closes = np.stack([b for _, b in segs], axis=1).ravel()
        seg_day = np.repeat(np.arange(len(dates), dtype=np.int64), len(segs))
        counts = -((opens - closes) // bar_ns)  # ceil
        first = np.repeat(np.cumsum(counts) - counts, counts)
        k = np.arange(int(counts.sum()), dtype=np.int64) - first
        start = np.repeat(opens, counts) + k * bar_ns
        dur = np.minimum(bar_ns, np.repeat(closes, counts) - start)
        day = np.repeat(seg_day, counts)
        reopen = k == 0
        idle = np.r_[0, opens[1:] - closes[:-1]]
        closure = np.repeat(idle > 30 * HOUR_NS, counts) & reopen
    if len(start) < n:
        raise ValueError("calendar too short")  # pragma: no cover - sized generously above
    return _Calendar(bar_ns, start[:n], dur[:n], day[:n], dates, offset, reopen[:n], closure[:n], segs)


def _profile(inst: Instrument, rng: np.random.Generator) -> FloatArr:
    """Trading intensity by Chicago minute: a thin overnight with the London open, the U-shaped day
    session (heavy open, heavy close into the settlement), a quiet afternoon after it."""
    u = rng.uniform
    m = np.arange(1440, dtype=np.float64)
    prof = np.full(1440, u(0.12, 0.28))
    prof[120:240] *= u(1.4, 2.3)  # London open, 02:00-04:00 CT
    prof[1020:1080] *= u(1.1, 1.5)  # the Globex reopen
    a, b = inst.rth
    prof[360:a] = np.linspace(prof[359], u(0.45, 0.7), a - 360)  # Europe and the US morning data
    x = m[a:b] - a
    span = b - a
    prof[a:b] = 1.0 + u(1.5, 3.5) * np.exp(-x / u(15, 40)) + u(1.0, 2.5) * np.exp(-(span - 1 - x) / u(10, 30))
    prof[b:GLOBEX_CLOSE] = u(0.3, 0.5)
    return prof


def _integral(prof: FloatArr, ct_start: IntArr, minutes: IntArr) -> FloatArr:
    cum: FloatArr = np.r_[0.0, np.cumsum(np.r_[prof, prof])]
    out: FloatArr = cum[ct_start + minutes] - cum[ct_start]
    return out


def _session_minutes(cal: _Calendar, d: int) -> IntArr:
    """The Chicago minutes of a trade date's session, in order."""
    off = int(cal.offset[d])
    return np.concatenate([(int((a[d] - off) // MINUTE_NS) + np.arange(int((b[d] - a[d]) // MINUTE_NS))) % 1440
                           for a, b in cal.segments])


def _activity(cal: _Calendar, prof: FloatArr) -> tuple[FloatArr, FloatArr, int]:
    """Each bar's share of a normal day's trading intensity times the bars in a normal day (mean 1
    over a normal day), the substep weights of a daily bar, and the bars in a normal day."""
    off = cal.offset
    day_minutes = [((b - a) // MINUTE_NS) for a, b in cal.segments]
    normal = int(np.argmax(sum(day_minutes)))  # a trade date with a full session
    seg_int = [_integral(prof, ((a - off) // MINUTE_NS) % 1440, (b - a) // MINUTE_NS) for a, b in cal.segments]
    full = float(sum(s[normal] for s in seg_int))
    # the substeps of a daily bar: the normal day's session cut into SUBSTEPS equal stretches of time
    chunks = np.array_split(prof[_session_minutes(cal, normal)], SUBSTEPS)
    weights = np.array([c.sum() for c in chunks]) / full
    if cal.bar_ns == DAY_NS:
        act = sum(seg_int, np.zeros(len(cal.dates)))[cal.day] / full
        return act, weights, 1
    per_day = int(sum(-((a[normal] - b[normal]) // cal.bar_ns) for a, b in cal.segments))
    ct = ((cal.start - off[cal.day]) // MINUTE_NS) % 1440
    act = _integral(prof, ct, cal.dur // MINUTE_NS) / (full / per_day)
    return act, weights, per_day


def _releases(inst: Instrument, cal: _Calendar, rng: np.random.Generator) -> list[tuple[int, int, float]]:
    """Scheduled reports falling in a bar: (bar, substep of the release, sd of the news in daily sigmas)."""
    dates = cal.dates[: int(cal.day[-1]) + 1]
    dt = dates.astype("datetime64[D]")
    month = dt.astype("datetime64[M]").astype(np.int64)
    dom = (dt - dt.astype("datetime64[M]")).astype(np.int64) + 1
    moy = month % 12 + 1
    wd = (dates + 3) % 7

    def first_from(day_of_month: int, months: set[int] | None = None) -> IntArr:
        """The first trade date of each month on or after that day (not the data's first date)."""
        turn = np.r_[False, (dom[:-1] < day_of_month) | (month[1:] != month[:-1])]
        out = np.flatnonzero((dom >= day_of_month) & turn)
        return out if months is None else out[np.isin(moy[out], list(months))]

    fomc_phase = int(rng.integers(0, 6))
    picks: list[tuple[IntArr, str, float]] = []
    for name in inst.reports:
        if name == "eia":
            picks.append((np.flatnonzero(wd == 2), name, 1.0))
        elif name == "payrolls":
            picks.append((np.flatnonzero((wd == 4) & (dom <= 7)), name, 1.0))
        elif name == "cpi":
            picks.append((first_from(11), name, 1.0))
        elif name == "fomc":
            picks.append((np.flatnonzero((wd == 2) & ((dates // 7) % 6 == fomc_phase)), name, 1.0))
        elif name == "wasde":
            picks.append((first_from(9), name, 1.0))
        else:  # grain stocks: the last trade date of March, June and September, and January's annual report
            last = len(month) - 1 - np.unique(month[::-1], return_index=True)[1]
            picks.append((last[np.isin(moy[last], [3, 6, 9])], name, 1.0))
            picks.append((first_from(12, {1}), name, 1.3))
    out: list[tuple[int, int, float]] = []
    for idx, name, boost in picks:
        minute, (lo, hi) = REPORTS[name]
        for d in idx.tolist():
            size = float(rng.uniform(lo, hi)) * boost
            t = int(dates[d]) * DAY_NS + minute * MINUTE_NS + int(cal.offset[d])
            if cal.bar_ns == DAY_NS:
                mins = _session_minutes(cal, d)
                where = np.flatnonzero(mins == minute)
                if len(where):
                    out.append((d, int(where[0]) * SUBSTEPS // len(mins), size))
                continue
            bar = int(np.searchsorted(cal.start, t, side="right")) - 1
            if 0 <= bar < len(cal.start) and t < cal.start[bar] + cal.dur[bar]:
                out.append((bar, int((t - cal.start[bar]) * SUBSTEPS // cal.dur[bar]), size))
    return sorted(out)


def _roll_volume(inst: Instrument, cal: _Calendar, rng: np.random.Generator) -> FloatArr:
    """The continuous contract's share of the day's volume (front month before the switch, the next
    month from it) plus the calendar-spread trades of the roll, per trade date."""
    dates = cal.dates
    dt = dates.astype("datetime64[D]")
    month = dt.astype("datetime64[M]").astype(np.int64)
    dom = (dt - dt.astype("datetime64[M]")).astype(np.int64) + 1
    moy = month % 12 + 1
    if inst.roll_day:  # the first trade date of the month from the roll day (not the data's first date)
        sw = np.flatnonzero((dom >= inst.roll_day) & (np.r_[True, dom[:-1] < inst.roll_day] | np.r_[True, month[1:] != month[:-1]]))
        sw = sw[sw > 0]
    else:  # the E-mini's roll date: the Thursday eight days before the third Friday
        sw = np.flatnonzero(((dates + 3) % 7 == 3) & (dom >= 8) & (dom <= 14))
    sw = sw[np.isin(moy[sw], inst.roll_months)]
    ahead, width, spread = rng.uniform(1.0, 3.0), rng.uniform(0.7, 1.2), rng.uniform(0.1, 0.3)
    d = np.arange(len(dates), dtype=np.float64)
    if not len(sw):
        return np.ones(len(dates))
    nxt = np.searchsorted(sw, d, side="right")  # the next switch is sw[nxt] (> d) ...
    prv = nxt - 1  # ... the last one sw[prv] (<= d)
    big = 1e9
    r_next = np.where(nxt < len(sw), sw[np.minimum(nxt, len(sw) - 1)], big)
    r_prev = np.where(prv >= 0, sw[np.maximum(prv, 0)], -big)
    front = 1.0 / (1.0 + np.exp(np.clip((d - (r_next - ahead)) / width, -50, 50)))  # front's share before the switch
    after = 1.0 - 1.0 / (1.0 + np.exp(np.clip((d - (r_prev - ahead)) / width, -50, 50)))  # the new front's after
    near = np.where(r_next - d < d - r_prev, r_next, r_prev) - ahead
    mult: FloatArr = np.minimum(front, after) + spread * np.exp(-0.5 * ((d - near) / 1.5) ** 2)
    return mult


# --------------------------------------------------------------------------------------------- the schedule


@dataclass(slots=True)
class _Leg:
    role: str
    bars: int
    turn: int = 0  # -1 a trough, +1 a peak (canonical frame), 0 no turning point (ends where planned)
    goal: tuple[str, float, float] | None = None  # (frame, fraction, at least this many bar sigmas); None: no operator
    phase: str = ""
    rho: float = 0.0  # the share of the gap to its path the operator closes a bar
    pace: float = 2.0  # bar sigmas a bar the operator's own steering may move the price
    absorb: float = 0.0  # the share of the others' directional flow the operator takes the other side of
    part: float = 1.0  # participation: the leg's noise-trader activity
    push: tuple[float, ...] = ()  # the public's one-sided flow (bar sigmas of impact) on its last (first) bars
    push_first: bool = False
    push_part: tuple[float, ...] = ()  # participation on the push bars
    floor: tuple[str, float, float] | None = None  # the operator's resting bids (canonical frame)
    ceil: tuple[str, float, float] | None = None  # and offers
    supply: float = 0.0  # the public's steady one-sided flow over the whole leg (absorbed by the operator)
    profile: str = "linear"
    label: str = ""
    news: str = "fight"  # "accept": the operator shifts its path by a report's news; "fight": takes it back


@dataclass(slots=True)
class _Plan:
    legs: list[_Leg]
    start_x: float  # the trend's start, heights from the climax edge
    spring: bool
    failed: bool


_PROFILES = ("linear", "smooth", "accel", "decel")


def _shape(profile: str, x: float) -> float:
    if profile == "accel":
        return x * x
    if profile == "decel":
        return 1.0 - (1.0 - x) ** 2
    if profile == "smooth":
        return x * x * (3.0 - 2.0 * x)
    return x


def _plan(rng: np.random.Generator, c: int, hs: float, pace: float, fast: float, panic: tuple[float, float]) -> _Plan:
    """The hidden schedule in the canonical frame (the break expected up, the shakeout below
    support); ``c`` +1 for a fall into the range (the climax is support), -1 for a rise (resistance)."""
    u = rng.uniform

    def need(dist: float, speed: float = pace) -> int:
        return max(2, math.ceil(1.3 * abs(dist) * hs / speed))

    def logu(a: float, b: float) -> float:
        return math.exp(u(math.log(a), math.log(b)))

    inside = u(0.6, 0.95)  # the operator's absorption inside the structure
    supply = -u(0.2, 0.8)  # the public's supply (canonical), absorbed in the ST, phase B and phase C's tests
    legs = [_Leg("noise", int(rng.integers(60, 361)), news="accept")]
    has_ps = rng.random() < 0.5
    ps_x = u(0.15, 1.0)
    trend_end = ps_x + u(0.2, 0.6) if has_ps else u(0.3, 1.4)
    start_x = trend_end + u(1.0, 3.0)
    trend_bars = max(int(rng.integers(40, 301)), need(start_x - trend_end, 0.6 * pace))

    def trend(bars: int, x: float, push: tuple[float, ...] = (), push_part: tuple[float, ...] = ()) -> _Leg:
        return _Leg("trend", bars, goal=("edge", x, 0.0), rho=u(0.05, 0.2), pace=pace, absorb=u(0.0, 0.3),
                    push=push, push_part=push_part, profile=_PROFILES[int(rng.integers(0, 2))], news="accept")

    if rng.random() < 0.35:  # an unlabelled pause, in half after a climax-like burst
        x1 = trend_end + (start_x - trend_end) * u(0.3, 0.7)
        back = u(0.12, 0.35)
        first = max(int(trend_bars * u(0.3, 0.7)), need(start_x - x1, 0.6 * pace))
        nb = int(rng.integers(1, 4)) if rng.random() < 0.5 else 0
        legs.append(trend(first, x1, tuple(-c * u(1.5, 3.5) for _ in range(nb)), tuple(u(2.0, 3.5) for _ in range(nb))))
        legs.append(_Leg("pause", max(int(rng.integers(8, 41)), need(back)), goal=("edge", x1 + back, 0.0),
                         rho=u(0.15, 0.3), pace=pace, absorb=u(0.3, 0.7), news="accept"))
        legs.append(trend(max(trend_bars - first, need(x1 + back - trend_end, 0.6 * pace)), trend_end))
    else:
        legs.append(trend(trend_bars, trend_end))
    climb = trend_end
    if has_ps:
        npush = int(rng.integers(1, 3))
        legs.append(_Leg("ps", max(int(rng.integers(3, 16)), need(trend_end - ps_x)), turn=-c, goal=("edge", ps_x, 0.0),
                         phase="A", rho=u(0.25, 0.45), pace=pace, absorb=u(0.3, 0.7),
                         push=tuple(-c * u(0.5, 1.5) for _ in range(npush)),
                         push_part=tuple(u(1.3, 2.2) for _ in range(npush)), label="ps"))
        rally = u(0.15, 0.45)
        climb = ps_x + rally
        legs.append(_Leg("ps_rally", max(int(rng.integers(5, 26)), need(rally)), turn=c, goal=("edge", climb, 0.0),
                         phase="A", rho=u(0.25, 0.45), pace=pace, absorb=inside, profile="decel"))
    # the climax: an approach, then a panic of 1-4 bars whose heaviest push comes first
    npanic = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.25, 0.25, 0.15]))
    total = u(*panic) * npanic ** 0.6
    shares = np.sort(rng.dirichlet(np.full(npanic, 3.0)))[::-1] if npanic > 1 else np.ones(1)
    top = u(1.8, 4.0)
    approach = max(int(rng.integers(2, 22)), need(climb) - npanic)
    legs.append(_Leg("climax", approach + npanic, turn=-c, goal=("edge", 0.0, 0.0), phase="A", rho=u(0.35, 0.6),
                     pace=1.5 * pace, absorb=u(0.45, 0.85), push=tuple(float(-c * total * s) for s in shares),
                     push_part=tuple(float(1 + (top - 1) * s / shares[0]) for s in shares), profile="accel",
                     label="climax"))
    # the range: the AR, the ST, phase B's swings, phase C and the break, planned together
    r_plan = logu(30.0, 900.0)
    b_share = u(0.6, 0.88) if rng.random() < 0.2 else u(0.05, 0.6)
    guard = 0.03, u(1.5, 2.5)  # the operator's bids a little inside the climax

    def hold(leg: _Leg) -> _Leg:
        if c > 0:
            leg.floor = ("into", *guard)
        else:
            leg.ceil = ("into", *guard)
        return leg

    ar_f = u(0.8, 1.15)
    nshort = int(rng.integers(1, 3))
    ar_pace = min(pace * u(1.5, 3.0), fast)  # the AR is a reflex: quicker than the rest
    st_pace = min(pace * u(1.0, 2.0), fast)
    ar = hold(_Leg("ar", int(need(ar_f, ar_pace) * u(1.0, 2.0)), turn=c, goal=("ar", ar_f, 0.0), phase="A",
                   rho=u(0.3, 0.5), pace=ar_pace, absorb=inside,
              part=u(1.2, 1.6), push=tuple(c * u(0.5, 2.0) for _ in range(nshort)), push_first=True,
              push_part=tuple(u(1.2, 2.6) for _ in range(nshort)), profile="decel", label="ar"))
    st_f = u(0.02, 0.06) if rng.random() < 0.3 else logu(0.1, 0.55)  # close to the climax (under its close), or above
    st = hold(_Leg("st", int(need(ar_f - st_f, st_pace) * u(1.0, 2.5)), turn=-c, goal=("into", st_f, 1.5), phase="A",
                   rho=u(0.25, 0.45), pace=st_pace,
                   absorb=inside, part=u(0.7, 1.0), supply=supply, label="st"))
    b_bars = b_share * r_plan
    k = int(np.clip(round(b_bars / u(25.0, 90.0)), 1, 15))
    if (k % 2 == 0) == (c > 0):  # odd after a fall, even after a rise: B ends on the AR's (canonical) top
        k = k + 1 if k < 15 else k - 1
    k = max(k, 2 if c < 0 else 1)
    b_legs: list[_Leg] = []
    prev = st_f
    for i in range(k):
        ar_side = i % 2 == 0
        if ar_side:
            f = 1 + u(0.01, 0.08) if rng.random() < 0.25 else u(0.55, 0.95)
        else:
            f = u(0.04, 0.12) if rng.random() < 0.25 else u(0.12, 0.5)
        b_legs.append(hold(_Leg("b", need(f - prev), turn=c if ar_side else -c, goal=("into", f, 2.0 if not ar_side else 0.0),
                                phase="B", rho=u(0.1, 0.3), pace=pace, absorb=inside, part=u(0.45, 0.9), supply=supply,
                                profile=_PROFILES[int(rng.integers(0, 4))])))
        prev = f
    # phase C (range frame: 0 support, 1 resistance)
    spring = rng.random() < 0.58
    failed = spring and rng.random() < 0.25
    slow = not spring and hs >= 12 and rng.random() < 0.45
    far = ("range", 0.96, 0.0)
    safe = ("range", 0.03, 1.2)
    c_legs: list[_Leg] = []
    rho_c = u(0.3, 0.5)

    def c_leg(role: str, goal: float, turn: int, smin: float = 0.0, floor: tuple[str, float, float] | None = None,
              ceil: tuple[str, float, float] | None = far, rho: float = rho_c, speed: float = 1.0,
              label: str = "") -> _Leg:
        return _Leg(role, 2, turn=turn, goal=("range", goal, smin), phase="C", rho=rho, pace=pace * speed,
                    absorb=inside, part=u(0.5, 0.9), floor=floor, ceil=ceil, profile="smooth", label=label,
                    supply=supply if turn < 0 or role == "hold" else 0.0)

    if spring:  # an approach held above support, a brief spring 4-30 % of the height below it, the snap back
        depth = float(np.clip(logu(0.04, 0.30), 1.5 / hs, min(0.35, 8.0 / hs)))
        lead = c_leg("approach", u(0.06, 0.15), 0, 1.0, floor=safe)
        shake = c_leg("spring", -depth, -1, floor=("range", -(1.3 * depth + 0.04), 0.0), speed=min(u(2.0, 3.0), fast / pace),
                      label="shake")
        shake.bars = int(rng.integers(2, 5))
        c_legs.append(lead)
        if rng.random() < 0.5:
            npush = int(rng.integers(1, 4))
            shake.push = tuple(-u(0.4, 1.5) for _ in range(npush))
            shake.push_part = tuple(u(1.3, 2.3) for _ in range(npush))
            shake.absorb = u(0.4, 0.7)
        snap = c_leg("snap", u(0.1, 0.25), 0, rho=u(0.7, 0.9), speed=3.0)
        snap.bars, snap.part = int(rng.integers(3, 7)), u(0.8, 1.3)
        c_legs += [shake, snap]
        if failed:  # a rally, then the test fails: the break goes the other way
            c_legs.append(c_leg("rally", u(0.3, 0.6), 1, floor=safe))
        elif rng.random() < 0.5:
            c_legs += [c_leg("rally", u(0.3, 0.75), 1, floor=safe), c_leg("test", u(0.1, 0.35), -1, 1.5, floor=safe)]
    elif slow:  # an unconfirmed shakeout: beyond support and held there, back inside, a test
        depth = u(0.14, 0.34) + 2.0 / hs
        hold_leg = c_leg("hold", -depth * u(0.55, 0.7), 0, floor=("clow", 0.0, 0.6), ceil=("range", -0.25 * depth, 1.2))
        hold_leg.bars = int(rng.integers(18, 34))
        c_legs += [c_leg("shakeout", -depth, -1, floor=("range", -(depth + 0.12), 0.0)), hold_leg,
                   c_leg("rally", u(0.3, 0.6), 1, rho=u(0.45, 0.65), speed=1.5),
                   c_leg("test", u(0.1, 0.35), -1, 1.5, floor=safe)]
    else:  # a test that holds (a phase-C LPS, unlabelled), in half followed by a rally and a second test
        c_legs.append(c_leg("test", u(0.05, 0.3), -1, 2.0, floor=("range", 0.02, 1.2)))
        if rng.random() < 0.5:
            c_legs += [c_leg("rally", u(0.3, 0.75), 1, floor=safe), c_leg("test", u(0.1, 0.35), -1, 1.5, floor=safe)]
    nbreak = int(rng.integers(1, 4))
    out = -1 if failed else 1
    brk = _Leg("break", 2, turn=out, goal=("range", 1 + u(0.2, 0.7) if out > 0 else -u(0.3, 0.7), 0.0), phase="D",
               rho=u(0.3, 0.5), pace=pace, absorb=u(0.2, 0.5), part=u(1.3, 2.2),
               push=tuple(out * u(0.4, 1.3) for _ in range(nbreak)), push_first=True,
               push_part=tuple(u(1.3, 2.2) for _ in range(nbreak)), label="break")
    if out > 0:
        backup = _Leg("backup", 2, turn=-1, goal=("range", u(0.72, 1.1), 0.0), phase="D", rho=u(0.3, 0.5), pace=pace,
                      absorb=u(0.3, 0.7), part=u(0.6, 0.9), floor=("range", 0.62, 0.0), label="backup")
    else:
        backup = _Leg("backup", 2, turn=1, goal=("range", u(-0.3, 0.1), 0.0), phase="D", rho=u(0.3, 0.5), pace=pace,
                      absorb=u(0.3, 0.7), part=u(0.6, 0.9), ceil=("range", 0.38, 0.0), label="backup")
    dist_up = u(1.0, 2.5)
    markup = _Leg("markup", 2, goal=("range", 1 + dist_up if out > 0 else -dist_up, 0.0), phase="E",
                  rho=u(0.05, 0.2), pace=pace, absorb=u(0.0, 0.3), part=u(1.0, 1.2), news="accept")
    # durations: phase B gets its share of the range, the other legs Dirichlet shares of the rest
    b_w = rng.dirichlet(np.full(len(b_legs), 2.0))
    for leg, w in zip(b_legs, b_w, strict=True):
        leg.bars = max(leg.bars, int(round(w * b_bars)))
    # no leg faster than its planned distance (range frame) at the pace
    prev_goal = 0.8
    for leg in c_legs + [brk, backup]:
        assert leg.goal is not None
        leg.bars = max(leg.bars, need(leg.goal[1] - prev_goal, leg.pace))
        prev_goal = leg.goal[1]
    free = [leg for leg in c_legs if leg.role not in ("spring", "snap", "hold")] + [brk]
    w_free = rng.dirichlet(np.full(len(free), 2.0)) * max(0.0, (1 - b_share) * r_plan - ar.bars - st.bars)
    for leg, w in zip(free, w_free, strict=True):
        leg.bars = max(int(round(w)), leg.bars)
    backup.bars = max(int(rng.integers(3, 41)), backup.bars)
    markup.bars = max(int(rng.integers(30, 301)), need(dist_up, 0.6 * pace))
    legs += [ar, st] + b_legs + c_legs + [brk, backup, markup, _Leg("tail", int(rng.integers(20, 201)), news="accept")]
    return _Plan(legs, start_x, spring, failed)


# --------------------------------------------------------------------------------------------- the market


def market(seed: int) -> tuple[str, int]:
    """The seed's contract (a key of ``INSTRUMENTS``) and bar length; its redraws keep them."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SALT, 1]))
    symbol = list(INSTRUMENTS)[int(rng.integers(0, len(INSTRUMENTS)))]
    return symbol, BAR_CHOICES[int(rng.choice(len(BAR_CHOICES), p=BAR_WEIGHTS))]


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> FloatArr:
    e = rng.normal(0.0, sd, n).tolist()
    out = [0.0] * n
    x = 0.0
    for t in range(n):
        x = phi * x + e[t]
        out[t] = x
    return np.array(out)


@dataclass(slots=True)
class _Drivers:
    """Everything that moves the market but the operator and the trend followers, per bar (bar sigmas)."""
    leg_of: IntArr
    in_structure: BoolArr
    grel: FloatArr  # the noise traders' gross activity (1 on an average bar)
    noise: FloatArr  # (n, SUBSTEPS) their net order flow
    push: FloatArr  # the public's one-sided flow (panic, short covering, supply, stop runs, eagerness)
    jump: FloatArr  # the reports' news, an information jump of the dealers' value ...
    jsub: IntArr  # ... at this substep
    gap: FloatArr  # the news over a break or a weekend, at the bar's open
    hedge: FloatArr  # the hedgers' flow


def _drivers(rng: np.random.Generator, plan: _Plan, starts: IntArr, cal: _Calendar, act: FloatArr, w: FloatArr,
             per_day: int, hs: float, s_log: float, inst: Instrument) -> _Drivers:
    u = rng.uniform
    legs = plan.legs
    n = len(act)
    part, push = np.ones(n), np.zeros(n)
    leg_of = np.empty(n, np.int64)
    in_structure = np.zeros(n, bool)
    for i, leg in enumerate(legs):
        a0, b0 = int(starts[i]), int(starts[i]) + leg.bars
        part[a0:b0], push[a0:b0], leg_of[a0:b0] = leg.part, leg.supply, i
        in_structure[a0:b0] = leg.phase in ("A", "B", "C", "D")
        k = min(len(leg.push), leg.bars)
        if k:
            idx = a0 + np.arange(k) if leg.push_first else b0 - k + np.arange(k)
            sel = slice(0, k) if leg.push_first else slice(len(leg.push) - k, None)
            push[idx], part[idx] = leg.push[sel], leg.push_part[sel]
    push *= np.clip(np.sqrt(act), 0.6, 1.4)  # a panic in the thin night moves less
    liq = np.exp(_ar1(rng, n, u(0.96, 0.99), u(0.04, 0.07)))  # liquidity: volatility and volume cluster
    kg = u(3.0, 8.0)
    grel = act * part * liq * rng.gamma(kg, 1.0 / kg, n)
    jump, jsub = np.zeros(n), np.full(n, SUBSTEPS, np.int64)
    releases = [r for r in _releases(inst, cal, rng) if r[0] < n]
    intraday = cal.bar_ns != DAY_NS
    for bar, sub, size in releases:
        j = rng.normal() * size * math.sqrt(per_day)
        if in_structure[bar]:  # the operator takes it back; capped so the schematic survives
            j = float(np.clip(j, -0.12 * hs, 0.12 * hs))
        jump[bar], jsub[bar] = j, sub
        grel[bar] *= 1.0 + (u(1.5, 4.0) if intraday else u(0.15, 0.4)) * size
    if inst.limit and rng.random() < 0.4:  # a report beyond the daily limit, away from the schematic
        window = {"noise": (0.0, 0.7), "trend": (0.1, 0.6), "markup": (0.3, 1.0), "tail": (0.0, 1.0)}
        ok = []
        for bar, sub, _ in releases:
            leg = legs[leg_of[bar]]
            lo, hi = window.get(leg.role, (1.0, 0.0))
            if lo <= (bar - starts[leg_of[bar]]) / leg.bars < hi:
                ok.append((bar, sub, leg.role))
        if ok:
            bar, sub, role = ok[int(rng.integers(0, len(ok)))]
            c = 1 if next(lg for lg in legs if lg.role == "climax").turn < 0 else -1
            sign = -c if role == "trend" else (-1 if plan.failed else 1) if role == "markup" else 1 - 2 * int(rng.integers(0, 2))
            jump[bar], jsub[bar] = sign * inst.limit * u(1.15, 2.0) / s_log, sub
            grel[bar] *= u(2.0, 4.0)
    noise = np.sqrt(grel)[:, None] * np.sqrt(w)[None, :] * rng.standard_normal((n, SUBSTEPS))
    gap = np.zeros(n)
    reopen, closure = cal.reopen[:n], cal.closure[:n]
    gap[reopen] = rng.normal(0.0, u(0.05, 0.15) * math.sqrt(per_day), int(reopen.sum()))
    gap[closure] = rng.normal(0.0, u(0.25, 0.6) * math.sqrt(per_day), int(closure.sum()))
    gap[0] = 0.0
    # hedgers: a seasonal and a slowly wandering flow (daily sigmas a day), spread over the session
    day = cal.day[:n]
    ndays = int(day[-1]) + 1
    season = u(0.05, 0.2) * np.sin(2 * np.pi * np.arange(ndays) / u(40.0, 250.0) + u(0, 2 * np.pi))
    hedge = (season + _ar1(rng, ndays, 0.95, u(0.02, 0.06)))[day] * act / math.sqrt(per_day)
    return _Drivers(leg_of, in_structure, grel, noise, push, jump, jsub, gap, hedge)


@dataclass(frozen=True, slots=True)
class _Dealers:
    """The liquidity providers: a value they learn from the flow (permanent impact ``pi``) and an
    inventory they skew their quotes by (transient impact ``gp``) and lay off (``a_s`` a bar)."""
    pi: float
    gp: float
    a_s: float
    a: float  # per substep
    w: FloatArr  # the substeps' share of a bar's activity (and of its directional flow)

    @property
    def rev(self) -> FloatArr:
        return np.power(self.a, np.arange(SUBSTEPS - 1, -1, -1, dtype=np.float64))

    @property
    def c_w(self) -> float:
        return float(self.rev @ self.w)

    @property
    def eff(self) -> float:
        """The mid's move over a bar per unit of flow spread over it."""
        return self.pi + self.gp * self.c_w


def _simulate(legs: list[_Leg], start_x: float, c: int, hs: float, dl: _Dealers, dr: _Drivers,
              cta: tuple[float, float, float, float]) -> tuple[FloatArr, ...]:
    """Bar by bar, in bar sigmas of the canonical frame: the dealers' value ``v`` and inventory ``inv``
    (the mid is ``v - gp * inv``), the trend followers' position and the operator's working orders.
    Returns each bar's value and inventory at its open, its directional flow, the operator's and the
    trend followers' flow."""
    n = len(dr.leg_of)
    pi, gp, a_s, c_w, eff = dl.pi, dl.gp, dl.a_s, dl.c_w, dl.eff
    alpha_f, alpha_s, norm, size = cta
    leg_of, gap, jump, hedge, push = (x.tolist() for x in (dr.leg_of, dr.gap, dr.jump, dr.hedge, dr.push))
    nsum, ninv = dr.noise.sum(axis=1).tolist(), (dr.noise @ dl.rev).tolist()
    cum = np.cumsum(dr.noise, axis=1)
    bridge = cum - cum[:, -1:] * (np.arange(1, SUBSTEPS + 1) / SUBSTEPS)
    br_lo, br_hi = np.minimum(bridge.min(axis=1), 0.0).tolist(), np.maximum(bridge.max(axis=1), 0.0).tolist()
    out_v, out_i, out_q, out_o, out_c = ([0.0] * n for _ in range(5))
    est_lo, est_hi = [0.0] * n, [0.0] * n  # the operator's view of each bar's extremes
    v = inv = m = pos = ema_f = ema_s = flow_cta = 0.0
    edge = clx = sup = res = hr = c_low = 0.0
    clx_start = ar_start = c_start = 0
    edge_set = False
    inf = math.inf
    g0 = goal = rho = cap = absorb = 0.0
    floor, ceil = -inf, inf
    profile = "linear"
    length = j0 = 0
    has_op = accept = before = False
    cur = -1

    def level(spec: tuple[str, float, float]) -> float:
        frame, f, smin = spec
        if frame == "edge":
            return edge + c * f * hs
        if frame == "ar":
            return clx + c * f * hs
        mag = math.copysign(max(abs(f) * hr, smin), f if f else 1.0)
        if frame == "into":
            return clx + c * mag
        if frame == "clow":
            return c_low + mag
        return sup + mag

    for t in range(n):
        i = leg_of[t]
        if i != cur:  # a new leg: re-anchor on the measured range, set the operator's path
            cur = i
            leg = legs[i]
            role = leg.role
            length, j0 = leg.bars, t
            if role == "trend" and not edge_set:
                edge, edge_set = m - c * start_x * hs, True
            if role == "climax":
                clx_start = t
            elif role == "ar":
                clx = min(est_lo[clx_start:t]) if c > 0 else max(est_hi[clx_start:t])
                sup, res = (clx, clx + hs) if c > 0 else (clx - hs, clx)
                hr, ar_start = hs, t
            elif role in ("st", "b"):
                if c > 0:
                    res = max(est_hi[ar_start:t])
                else:
                    sup = min(est_lo[ar_start:t])
                hr = res - sup
            elif leg.phase == "C" and not c_start:
                c_start = t
                sup = min(est_lo[clx_start if c > 0 else ar_start:t])
                res = max(est_hi[ar_start if c > 0 else clx_start:t])
                hr = res - sup
            if role == "hold":
                c_low = min(est_lo[c_start:t])
            has_op, accept, before = leg.goal is not None, leg.news == "accept", not leg.phase
            if leg.goal is not None:
                g0, goal = m, level(leg.goal)
                floor = level(leg.floor) if leg.floor else -inf
                ceil = level(leg.ceil) if leg.ceil else inf
                rho, cap, absorb, profile = leg.rho, 2.0 * leg.pace, leg.absorb * _ABSORPTION, leg.profile
        v += gap[t]
        v_open, i_open = v, inv
        m_open = v - gp * inv
        m_drift = v - gp * a_s * inv  # where the mid goes with no flow: the dealers lay off inventory
        others = hedge[t] + flow_cta + push[t]
        op = 0.0
        if has_op:
            j = t - j0
            g_t = g0 + (goal - g0) * _shape(profile, (j + 1) / length)
            g_p = g0 + (goal - g0) * _shape(profile, j / length)
            steer = max(-cap, min(cap, g_t + (1.0 - rho) * (m_open - g_p) - m_drift))
            want = min(max(m_drift + steer + (1.0 - absorb) * eff * others, floor), ceil)
            op = (want - m_drift) / eff - others
        flow = others + op
        v += pi * (flow + nsum[t]) + jump[t]
        inv = a_s * inv - (c_w * flow + ninv[t])
        m = v - gp * inv
        if jump[t] and accept and has_op:  # outside the range the operator lets the news stand
            g0 += jump[t]
            goal += jump[t]
            if before:
                edge += jump[t]
        est_lo[t] = min(m_open, m) + br_lo[t]
        est_hi[t] = max(m_open, m) + br_hi[t]
        out_v[t], out_i[t], out_q[t], out_o[t], out_c[t] = v_open, i_open, flow, op, flow_cta
        ema_f += alpha_f * (m - ema_f)
        ema_s += alpha_s * (m - ema_s)
        target = size * math.tanh((ema_f - ema_s) / norm)
        flow_cta, pos = target - pos, target
    return tuple(np.array(x) for x in (out_v, out_i, out_q, out_o, out_c))


def _limits(mid: FloatArr, open_: FloatArr, day: IntArr, settle_bar: IntArr, kc: int,
            limit: float) -> tuple[BoolArr, BoolArr, FloatArr, FloatArr]:
    """Pin the (log) prices of each trade date inside its limits (``limit`` of the previous
    settlement either way, half as much again after a limit close), in place. Returns the pinned
    substeps, the pinned opens and each bar's band (log; +-inf where no limit binds)."""
    n = len(open_)
    first = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    last = np.r_[first[1:], n] - 1
    nd = len(first)
    settle = mid[settle_bar, kc].copy()
    locked = np.zeros(nd, bool)
    dmax = np.maximum.reduceat(np.maximum(mid.max(axis=1), open_), first)
    dmin = np.minimum.reduceat(np.minimum(mid.min(axis=1), open_), first)
    queue = (np.flatnonzero((dmax[1:] > settle[:-1] + math.log1p(limit))
                            | (dmin[1:] < settle[:-1] + math.log1p(-limit))) + 1).tolist()
    pin_mid, pin_open = np.zeros(mid.shape, bool), np.zeros(n, bool)
    band_lo, band_hi = np.full(n, -np.inf), np.full(n, np.inf)
    d = queue[0] if queue else nd
    while d < nd:
        lx = limit * (1.5 if locked[d - 1] else 1.0)
        lo, hi = settle[d - 1] + math.log1p(-lx), settle[d - 1] + math.log1p(lx)
        sl = slice(int(first[d]), int(last[d]) + 1)
        before = settle[d]
        pin_mid[sl] = (mid[sl] > hi) | (mid[sl] < lo)
        pin_open[sl] = (open_[sl] > hi) | (open_[sl] < lo)
        np.clip(mid[sl], lo, hi, out=mid[sl])
        np.clip(open_[sl], lo, hi, out=open_[sl])
        band_lo[sl], band_hi[sl] = lo, hi
        settle[d] = mid[settle_bar[d], kc]
        locked[d] = settle[d] >= hi - 1e-12 or settle[d] <= lo + 1e-12
        if locked[d] or settle[d] != before:  # the next day's band moved: check it too
            d += 1
        else:
            d = next((x for x in queue if x > d), nd)
    return pin_mid, pin_open, band_lo, band_hi


def _draw(seed: int, kind: str, symbol: str, cal: _Calendar, rng: np.random.Generator) -> Scenario:
    """One draw of the schedule and the market, measured and validated (``_Reject`` if it fails)."""
    inst = INSTRUMENTS[symbol]
    u = rng.uniform
    bar_ns = cal.bar_ns
    intraday = bar_ns != DAY_NS
    c = 1 if kind in ("accumulation", "distribution") else -1
    mirrored = kind in ("distribution", "redistribution")
    s_d = u(*inst.daily_vol)
    act_all, w_day, per_day = _activity(cal, _profile(inst, rng))
    s_log = s_d / math.sqrt(per_day)  # the bar sigma (log) of an average bar
    hs = math.exp(u(math.log(6), math.log(9))) if rng.random() < 0.1 else math.exp(u(math.log(8), math.log(40)))
    hs = min(hs, {30 * MINUTE_NS: 0.04, 2 * HOUR_NS: 0.08, DAY_NS: 0.15}[bar_ns] / s_log)
    pace = u(*{30 * MINUTE_NS: (0.3, 0.8), 2 * HOUR_NS: (0.5, 1.3), DAY_NS: (1.0, 2.5)}[bar_ns])
    fast = {30 * MINUTE_NS: 1.5, 2 * HOUR_NS: 2.0, DAY_NS: 2.8}[bar_ns]  # at most a few daily sigmas a day
    panic = {30 * MINUTE_NS: (3.0, 8.0), 2 * HOUR_NS: (2.5, 6.0), DAY_NS: (1.5, 4.0)}[bar_ns]
    plan = _plan(rng, c, hs, pace, fast, panic)
    legs = plan.legs
    n = sum(leg.bars for leg in legs)
    if n < MIN_BARS:
        legs[0].bars += MIN_BARS - n + int(rng.integers(0, 60))
    if intraday and rng.random() < 0.7:  # most panics come in the day session: slide the schedule
        climax = next(i for i, leg in enumerate(legs) if leg.role == "climax")
        panic_end = sum(leg.bars for leg in legs[:climax + 1]) - 1
        ct = ((cal.start - cal.offset[cal.day]) // MINUTE_NS) % 1440
        rth = np.flatnonzero((ct >= inst.rth[0]) & (ct < inst.rth[1]) & (np.arange(len(ct)) >= panic_end))
        if len(rth):
            legs[0].bars += int(rth[0]) - panic_end
    for leg, least in ((legs[-1], 20), (legs[0], 60), (legs[-2], 30)):  # trim the noise and the markup
        leg.bars = max(least, leg.bars - max(0, sum(lg.bars for lg in legs) - MAX_BARS))
    n = sum(leg.bars for leg in legs)
    if n > MAX_BARS:
        raise _Reject("too long")
    starts = np.cumsum([0] + [leg.bars for leg in legs])[:-1]
    act = act_all[:n]
    day = cal.day[:n]
    w = w_day if not intraday else np.full(SUBSTEPS, 1.0 / SUBSTEPS)
    dr = _drivers(rng, plan, starts, cal, act, w, per_day, hs, s_log, inst)
    a_s = 0.5 ** (float(cal.dur[:n].mean()) / HOUR_NS / u(0.5, 3.0))  # inventory half-life 0.5-3 trading hours
    pi = u(0.35, 0.7)
    dl = _Dealers(pi, 1.0 - pi, a_s, a_s ** (1.0 / SUBSTEPS), w)
    span = int(rng.integers(6, 40))
    cta = (2.0 / (span + 1), 2.0 / (span * u(3.0, 6.0) + 1), math.sqrt(span * 4.0), u(1.0, 3.5))
    v_open, i_open, flow, op, flow_cta = _simulate(legs, plan.start_x, c, hs, dl, dr, cta)
    # the substeps: flows, the dealers' value and inventory, the mid
    q = flow[:, None] * w[None, :] + dr.noise
    ks = np.arange(SUBSTEPS)
    tri = np.where(ks[:, None] >= ks[None, :], dl.a ** np.maximum(ks[:, None] - ks[None, :], 0), 0.0)
    v_path = v_open[:, None] + pi * np.cumsum(q, axis=1) + dr.jump[:, None] * (ks[None, :] >= dr.jsub[:, None])
    mid = v_path - dl.gp * (i_open[:, None] * dl.a ** (ks + 1)[None, :] - q @ tri.T)
    m_open = v_open - dl.gp * i_open
    # the real frame in log price: mirrored for the kinds that resolve down, anchored on the last contract
    sgn = -1.0 if mirrored else 1.0
    kc = SUBSTEPS - 1
    if not intraday:  # a daily bar closes on the settlement
        mins = _session_minutes(cal, int(np.argmax(cal.dur)))
        at = np.flatnonzero(mins == inst.settle)
        kc = min(SUBSTEPS - 1, int(at[0]) * SUBSTEPS // len(mins)) if len(at) else kc
    lp, lp_open = sgn * s_log * mid, sgn * s_log * m_open
    shift = math.log(u(*inst.level)) - lp[-1, kc]
    lp += shift
    lp_open += shift
    if lp.max() - lp.min() > math.log(3.0):
        raise _Reject("the back-adjusted history wanders too far")
    pin, pin_open = np.zeros((n, SUBSTEPS), bool), np.zeros(n, bool)
    band_lo, band_hi = np.full(n, -np.inf), np.full(n, np.inf)
    if inst.limit:
        first = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
        last = np.r_[first[1:], n] - 1
        settle_at = cal.dates[day[first]] * DAY_NS + inst.settle * MINUTE_NS + cal.offset[day[first]]
        sb = np.clip(np.searchsorted(cal.start[:n], settle_at, side="right") - 1, first, last) if intraday else first
        pin, pin_open, band_lo, band_hi = _limits(lp, lp_open, day, sb, kc, inst.limit)
        if (pin.any(axis=1) | pin_open)[dr.in_structure].any():
            raise _Reject("a limit day inside the schematic")
    # trade prints on the tick grid: at the ask for a buyer-initiated substep, at the bid for a seller
    per_tick = SCALE / inst.tick
    side = (sgn * q > 0).astype(np.int64)
    ticks = np.floor(np.exp(lp) * per_tick).astype(np.int64) + side
    open_t = np.floor(np.exp(lp_open) * per_tick).astype(np.int64) + side[:, 0]
    bound = np.isfinite(band_lo)
    if bound.any():
        lo_t = np.ceil(np.exp(band_lo[bound]) * per_tick - 1e-9).astype(np.int64)
        hi_t = np.floor(np.exp(band_hi[bound]) * per_tick + 1e-9).astype(np.int64)
        ticks[bound] = np.clip(ticks[bound], lo_t[:, None], hi_t[:, None])
        open_t[bound] = np.clip(open_t[bound], lo_t, hi_t)
    high = np.maximum(ticks.max(axis=1), open_t) * inst.tick
    low = np.minimum(ticks.min(axis=1), open_t) * inst.tick
    if low.min() <= 0:
        raise _Reject("a price at or below zero")
    # volume: contracts of the month the continuous contract follows, all participants' gross trades
    roll = _roll_volume(inst, cal, rng)
    flows = (np.abs(dr.hedge) + np.abs(flow_cta) + np.abs(op) + np.abs(dr.push)
             + (1.0 - a_s) * np.abs(i_open))  # the dealers laying off inventory trade too
    vol = u(*inst.adv) / per_day * (dr.grel + u(0.05, 0.15) * act + u(0.1, 0.25) * flows) * roll[day]
    pinned = pin.mean(axis=1)
    vol *= (1.0 - pinned) + u(0.02, 0.08) * pinned  # a locked market hardly trades
    start_ns = cal.start[:n].copy()
    return _measure(seed, kind, plan, starts, mirrored, start_ns, start_ns + bar_ns, open_t * inst.tick, high, low,
                    ticks[:, kc] * inst.tick, np.maximum(np.rint(vol), 1).astype(np.int64), bar_ns)


# --------------------------------------------------------------------------------------------- labels


def _names(kind: str, direction: int) -> dict[str, str]:
    fall_in = kind in ("accumulation", "redistribution")
    up = direction > 0
    return {
        "ps": "preliminary_support" if fall_in else "preliminary_supply",
        "climax": "selling_climax" if fall_in else "buying_climax",
        "ar": "automatic_rally" if fall_in else "automatic_reaction",
        "st": "secondary_test",
        "shake": "spring" if kind in ("accumulation", "reaccumulation") else "upthrust",
        "break": "sign_of_strength" if up else "sign_of_weakness",
        "backup": "last_point_of_support" if up else "last_point_of_supply",
    }


def _measure(seed: int, kind: str, plan: _Plan, starts: IntArr, mirrored: bool, start_ns: IntArr,
             end_ns: IntArr, open_: IntArr, high: IntArr, low: IntArr, close: IntArr, volume: IntArr,
             bar_ns: int) -> Scenario:
    """Measure every turning point on the final bars (canonical frame), label, phase and validate."""
    legs = plan.legs
    n = len(close)
    clo, chi, ccl = (-high, -low, -close) if mirrored else (low, high, close)
    i0 = next(i for i, leg in enumerate(legs) if leg.phase)
    s = int(starts[i0])
    ends: list[int] = []
    begins: list[int] = []
    for i in range(i0, len(legs)):
        leg = legs[i]
        if leg.turn:
            w_end = min(n - 1, int(starts[i + 1]) + legs[i + 1].bars // 2) if i + 1 < len(legs) else n - 1
            if w_end <= s:
                raise _Reject(f"no room for the {leg.role}'s turning point")
            seg = clo[s:w_end + 1] if leg.turn < 0 else -chi[s:w_end + 1]
            e = s + int(np.argmin(seg))
        else:
            e = int(starts[i]) + leg.bars - 1 if i + 1 < len(legs) else n - 1
        if e < s + (1 if leg.turn or leg.label else 0):
            raise _Reject(f"the {leg.role} leg has no bars")
        begins.append(s)
        ends.append(e)
        s = e + 1
    code = {p: k for k, p in enumerate(PHASES)}
    phases = np.zeros(n, np.int8)
    for k, i in enumerate(range(i0, len(legs))):
        phases[begins[k]:ends[k] + 1] = code[legs[i].phase]
    measured = {legs[i].label: (begins[k], ends[k]) for k, i in enumerate(range(i0, len(legs))) if legs[i].label}
    climax_bar = measured["climax"][1]
    end_b = int(np.flatnonzero(phases == code["B"])[-1])
    lo_c, hi_c = int(clo[climax_bar:end_b + 1].min()), int(chi[climax_bar:end_b + 1].max())
    height = hi_c - lo_c
    # every turning leg from phase A on moves at least 8 % of the height (the spring from the turn before its approach)
    for k, i in enumerate(range(i0, len(legs))):
        if legs[i].turn and k:
            prev, e = ends[k - 2 if legs[i - 1].role == "approach" else k - 1], ends[k]
            move = chi[e] - clo[prev] if legs[i].turn > 0 else chi[prev] - clo[e]
            if move < 0.08 * height:
                raise _Reject(f"the {legs[i].role} leg hardly moves")
    out = -1 if plan.failed else 1
    direction = -out if mirrored else out
    names = _names(kind, direction)
    labels = []
    for role, (b0, e0) in measured.items():
        bar = e0
        if role == "break":
            beyond = np.flatnonzero(ccl[b0:e0 + 1] > hi_c if out > 0 else ccl[b0:e0 + 1] < lo_c)
            if not len(beyond):
                raise _Reject("the break never closes beyond the range")
            bar = b0 + int(beyond[0])
        labels.append(Label(names[role], bar, b0, e0))
    labels.sort(key=lambda lb: lb.bar)
    a_struct = begins[0]
    b_struct = int(np.flatnonzero(phases == code["E"])[-1])
    sc = Scenario(seed, kind, plan.spring, plan.failed, start_ns, end_ns, open_, high, low, close, volume, labels,
                  phases, (a_struct, b_struct), direction, bar_ns)
    _validate(sc)
    return sc


def _held_at_limit(sc: Scenario, inst: Instrument) -> BoolArr:
    """Daily bars that settle at the day's limit (within two ticks of the last settlement's band, half as
    wide again after such a day) and at their extreme on that side."""
    close = sc.close.astype(np.float64)
    tick = 2 * inst.tick
    held = np.zeros(len(close), bool)
    for i in range(1, len(close)):
        lx = inst.limit * (1.5 if held[i - 1] else 1.0)
        held[i] = ((abs(close[i] - close[i - 1] * (1 + lx)) <= tick and sc.close[i] == sc.high[i])
                   or (abs(close[i] - close[i - 1] * (1 - lx)) <= tick and sc.close[i] == sc.low[i]))
    return held


def _validate(sc: Scenario) -> None:
    """The plants hold on the final bars, by the definitions of family E (``scenario_contract``)."""
    n = len(sc)
    by = {lb.event: lb for lb in sc.labels}
    climax = by.get("selling_climax") or by["buying_climax"]
    sell = climax.event == "selling_climax"
    bar = climax.bar
    ph = sc.phases
    end_b = int(np.flatnonzero(ph == PHASES.index("B"))[-1])
    lo, hi = int(sc.low[bar:end_b + 1].min()), int(sc.high[bar:end_b + 1].max())
    height = hi - lo
    if bar < 30:
        raise _Reject("the climax comes too early")
    if sell and not (sc.low[bar] == lo and (sc.low[bar + 1:end_b + 1] > lo).all()):
        raise _Reject("the selling climax is not the range's strict low")
    if not sell and not (sc.high[bar] == hi and (sc.high[bar + 1:end_b + 1] < hi).all()):
        raise _Reject("the buying climax is not the range's strict high")
    ps = by.get("preliminary_support") or by.get("preliminary_supply")
    if ps is not None and not (sc.low[ps.bar] > lo if sell else sc.high[ps.bar] < hi):
        raise _Reject("the PS is beyond the climax")
    ar = by.get("automatic_rally") or by["automatic_reaction"]
    if (sc.high[ar.bar] - lo if sell else hi - sc.low[ar.bar]) < 0.5 * height:
        raise _Reject("the AR is too small")
    in_c = np.flatnonzero(ph == PHASES.index("C"))
    if not len(in_c) or (np.diff(in_c) != 1).any():
        raise _Reject("no phase C")
    a, b = int(in_c[0]), int(in_c[-1]) + 1
    down = sc.kind in ("accumulation", "reaccumulation")  # the shakeout's side is support
    depth = lo - sc.low[a:b] if down else sc.high[a:b] - hi
    far = sc.high[a:b] - hi if down else lo - sc.low[a:b]
    if (far > 0).any():
        raise _Reject("phase C reaches beyond the far edge")
    shake = by.get("spring") or by.get("upthrust")
    if (depth > 0).any():
        ext = a + int(np.argmax(depth))
        if sc.spring:
            window = sc.close[ext:ext + SHAKEOUT_BARS + 1]
            inside = window > lo if down else window < hi
            if shake is None or shake.bar != ext or not inside.any():
                raise _Reject("the spring is not phase C's extreme or does not close back inside")
            if (depth[ext - a + SHAKEOUT_BARS + 1:] > 0).any():
                raise _Reject("phase C goes beyond the edge again after the spring")
            if depth[ext - a] > 0.5 * height:
                raise _Reject("the spring is too deep")
            run = 0  # a brief excursion: at most SHAKEOUT_BARS closes beyond the edge in a row before its extreme
            while run <= SHAKEOUT_BARS and ext - 1 - run >= 0 and (
                    sc.close[ext - 1 - run] < lo if down else sc.close[ext - 1 - run] > hi):
                run += 1
            if run > SHAKEOUT_BARS:
                raise _Reject("the spring stays beyond the edge too long before its extreme")
        else:
            window = sc.close[ext:ext + SLOW_BARS + 1]
            if (window > lo if down else window < hi).any():
                raise _Reject("a phase-C dip closes back inside too soon to be an unconfirmed shakeout")
            back = sc.close[ext:b] > lo if down else sc.close[ext:b] < hi
            if not back.any():
                raise _Reject("the shakeout never comes back inside")
            first_in = ext + int(np.argmax(back))
            if (depth[first_in - a + 1:] > 0).any():
                raise _Reject("the shakeout comes back and goes out again")
    elif sc.spring:
        raise _Reject("the spring does not go beyond the edge")
    brk = by.get("sign_of_strength") or by["sign_of_weakness"]
    # no unlabelled shakeout after phase C: from the SOS/SOW leg's first bar to its SOS/SOW bar (after a
    # break away from the shakeout's side, through the end of phase E) nothing trades beyond the shakeout-side edge
    stop = brk.bar if sc.failed else sc.structure[1] + 1
    after = sc.low[b:stop] < lo if down else sc.high[b:stop] > hi
    if after.any():
        raise _Reject("phase D or E goes beyond the shakeout-side edge")
    if not RANGE_BARS[0] <= brk.bar - bar <= RANGE_BARS[1]:
        raise _Reject("the range's length is out of bounds")
    backup = by.get("last_point_of_support") or by["last_point_of_supply"]
    mid = (lo + hi) / 2
    if not (sc.low[backup.bar] > mid if brk.event == "sign_of_strength" else sc.high[backup.bar] < mid):
        raise _Reject("the back-up crosses the middle of the range")
    base = float(sc.volume[bar - 27:bar - 3].mean())
    ratio = float(sc.volume[bar - 2:bar + 3].max()) / base
    if not CLIMAX_RATIO[0] <= ratio <= CLIMAX_RATIO[1] or sc.volume[bar] < base:
        raise _Reject("the climax lacks its volume")
    inst = INSTRUMENTS[market(sc.seed)[0]]
    if inst.limit and sc.bar_ns == DAY_NS and _held_at_limit(sc, inst)[(ph >= 1) & (ph <= 4)].any():
        raise _Reject("a daily bar settles at the limit in phases A-D")
    if not 0 < sc.structure[0] < sc.structure[1] < n - 1:
        raise _Reject("the structure touches the ends")
    why = undone(sc)
    if why:
        raise _Reject(why)


# --------------------------------------------------------------------------------------------- API


def generate(seed: int, kind: str | None = None) -> Scenario:
    """One scenario; the kind is drawn from the seed unless given. The contract and bar length are
    the seed's (``market``); a draw whose bars do not show the plan is redrawn, up to ``MAX_TRIES``."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, SALT]))
    drawn = KINDS[int(rng.integers(0, len(KINDS)))]
    kind = kind or drawn
    symbol, bar_ns = market(seed)
    cal = _calendar(INSTRUMENTS[symbol], bar_ns, START_NS // DAY_NS + 7 * (seed % 250), MAX_BARS)
    for _ in range(MAX_TRIES):
        try:
            return _draw(seed, kind, symbol, cal, rng)
        except _Reject:
            continue
    raise RuntimeError(f"scenario {seed}: no valid draw in {MAX_TRIES} tries")


def scenarios(count: int, first_seed: int = 0) -> list[Scenario]:
    return [generate(seed) for seed in range(first_seed, first_seed + count)]
