"""Family J of labelled Wyckoff scenarios: a propagator with rough volatility and an operator's metaorders, index and commodity CFDs.

Blindness
---------
Written blind to the detector: of the repository only ``trading/wyckoff/scenarios.py`` (whole), the
module docstrings (the text before the first import) of ``scenarios_e.py``, ``scenarios_f.py``,
``scenarios_g.py``, ``scenarios_h.py`` and ``scenarios_i.py``, ``tests/trading/scenario_contract.py`` and
``tests/trading/test_scenarios_i.py`` (whole), the two definitions ``PHASES`` and ``KINDS`` in
``trading/wyckoff/machine.py`` and ``pyproject.toml`` were read. Nothing of the detector, its features,
gate, parameters, scoring, charts, real bars, the rest of the machine, the other families' code,
``docs/wyckoff.md``, the benchmarks or their results, nor the git history of any of them was read,
imported or run, and the detector was never run on these scenarios. Only ``PHASES`` is imported from
the machine (``KINDS`` here is the tuple of the four kind names).

Purpose
-------
A held-out test family built differently from the others (A: Brownian bridges between leg targets
on 1-minute bars; B: GARCH paths around target paths; C: regime-switching drift segments; D: an
agent-based order-flow model; E: a variance-gamma particle between soft walls; F: Hawkes market orders
through a limit-order book; G: heterogeneous agents around an operator's hidden value; H: a Kyle insider
in an MT5 tick stream; I: dealers' inventory in exchange-traded futures). Here the market is a stock-index
or commodity CFD (DE40, US500, UK100, XAUUSD, USOIL) as a retail FX/CFD broker serves it, and prices come
from a **propagator (transient-impact) model**: every order moves the log price by its impact
``sign x sqrt(size)`` times Bouchaud's kernel ``G(lag)``, which decays as a power law, so most of an
order's impact fades. The background order flow has long-memory signs and its activity a **rough
volatility** (a fractional Ornstein-Uhlenbeck log-volatility, Hurst about 0.1). The Wyckoff composite
operator runs **metaorders**: it works child orders toward a hidden schedule and, because impact decays,
it has to keep trading to hold a level. The climax is a public stop-loss cascade the operator partly
absorbs; the automatic rally (reaction) is the decay of the cascade's impact plus the operator's first
buying (selling); a spring (upthrust) is a stop run the operator sets off and absorbs; scheduled
releases jump the price on a burst of quotes and some are taken back in full. Volume is the broker's
tick volume (quote updates), not traded size.

Calendar and bars
-----------------
``market(seed)`` draws the instrument (``INSTRUMENTS``, uniform) and the bar length (``BAR_CHOICES``,
weights ``BAR_WEIGHTS``: 15 minutes 40 %, 1 hour 35 %, 4 hours 25 %) from its own stream; the redraws keep
them. The broker's day is anchored on New York (US daylight saving time from the tz database): the CFD
quotes from 18:00 New York the evening before to 17:00 on the trade date (Sunday 18:00 for Monday), so
every weekday a maintenance break of ``_BREAK_HOURS`` (1) hour with no bars, and no bars from Friday 17:00
to Sunday 18:00. No holidays. Bars are aligned to the 18:00 open (23 hours: 92 bars of 15 minutes, 23 of
an hour, 6 of 4 hours, the last 14:00-18:00 bar holding three hours of quotes); ``end_ns = start_ns +
bar_ns``. The first bar is the Sunday 18:00 New York open ``seed % 250`` weeks after ``START_NS``'s week
(22:00 UTC in summer, 23:00 in winter). The underlying's cash session, in its own time zone with its own
daylight saving time, drives the activity: Xetra 09:00-17:30 Europe/Berlin (DE40), NYSE 09:30-16:00
America/New_York (US500), LSE 08:00-16:30 Europe/London (UK100), the London bullion day 08:00-16:30
Europe/London (XAUUSD), NYMEX 09:00-14:30 America/New_York (USOIL); in the weeks when Europe and the US
switch on different dates the European opens move by an hour against the broker's bars. Prices are
integer ``price * SCALE`` on the broker's quote grid (0.1 for DE40 and UK100, 0.01 for US500 and gold,
0.001 for crude), the first open log-uniform in the instrument's ``level`` range. A bar opens at the
previous close except the week's first bar (the weekend's news: a jump of sd 1.5 bar sigmas) and a bar
that starts at the cash open (the opening print: below). ``MIN_BARS``-``MAX_BARS`` (300-2500) bars.

Price model (canonical frame: log price in bar sigmas, the break expected up, the shakeout below support)
-------------------------------------------------------------------------------------------------------
Each bar is ``SUBSTEPS`` (4) substeps; a closed substep (the 4-hour bar's last hour) carries no orders.
The log price is ``x_t = sum_{s <= t} G(t - s) q_s + J_t``:

* ``G(l) = g + (1 - g) (1 + l)^-beta`` (``propagator``; beta 0.30-0.45, permanent part g 0-0.12 per
  scenario; ``_DECAY`` = 0 makes impact permanent, G = 1). With beta near ``(1 - gamma) / 2`` for the
  signs' correlation exponent gamma, the decay balances the flow's long memory (Bouchaud's "efficiency"):
  the 10-bar variance ratio of the bars before the structure is about 1 (median 1.02 over seeds 0-299 and
  1000-1299), and 2.6-3.3 with the decay switched off (the same long-memory flow then trends).
* background flow ``q = sign x sqrt(size) x act^0.25 x exp(X - nu^2) / c``: ``sign`` from ``_signs``, one
  of four equally likely Markov sign streams flipping with probability 0.3, 0.05, 0.008 and 0.0015 a
  substep (sign autocorrelation 0.20, 0.135, 0.059, 0.017 at lags 1, 10, 100, 400: a slow, nearly power-law
  decay); ``size`` lognormal (sd 0.6); ``act`` the quote activity (Volume, below); ``X`` the rough
  log-volatility per bar: ``_rough_log_vol``, the Riemann-Liouville kernel ``(t - s)^(H - 1/2)`` integrated
  exactly over each step, damped by ``exp(-k lag)`` (k 0.002-0.01) and cut at 1000 lags, convolved with
  Gaussian noise and scaled to sd nu (0.2-0.35; ``_VOL_OF_VOL`` = 0 switches it off), H 0.07-0.14. The
  variogram estimate of H (``hurst_estimate``, lags 1-16) on 2500 steps is 0.16-0.19 for H = 0.1 (the
  discretisation lifts it) against 0.50 for H = 0.5. ``c`` calibrates the background alone to a median
  bar sigma of 1 (1.4826 x the MAD of its bar returns).
* ``J_t`` are level shifts (information, not flow): the weekend's jump and the cash open's opening print
  (normal, sd 0.5-1.5 bar sigmas per scenario, ``_CASH_GAP``), and 60-80 % of a release's move (below).
* public flow: the trend into the structure is an open-loop one-sided flow at a constant rate, planned at
  the trend's start to reach its goal in expectation; the climax's cascade and a spring's stops (below).
* the operator (closed loop): the schedule's legs are cut into chunks of 1-4 bars; at a chunk's start the
  operator computes, from all the flow so far and the kernel, where the price will be at the chunk's end
  without it, and trades a constant child-order rate over the chunk so that the expected price lands on
  the leg's path (a smooth step from the leg's start to its goal; fast-first for the AR) plus a share
  ``1 - gain`` (gain 0.4-1 per leg) of its last miss, so the path is not pinned and the deviations persist;
  at most 4 bar sigmas of impact a substep. The background inside a chunk is unknown to it. Since impact
  decays, holding a level costs a steady flow, and the operator's accumulated impact fades when it stops.
* bars: the path's substep ends give the close; each substep's high and low are the exact law of a Brownian
  bridge's maximum (minimum) between its ends with a wiggle of sd half a bar sigma (x act^0.25 x vol); mirrored
  (``x -> -x``) for the kinds that resolve down, then ``price = level x exp(sigma x (x - x_0))`` with sigma the
  instrument's daily sigma (DE40 0.9-1.5 %, US500 0.8-1.3 %, UK100 0.7-1.1 %, gold 0.8-1.4 %, crude 1.6-2.6 %)
  over the square root of bars a day.

Scheduled releases (New York time): the payrolls at 08:30 on the first Friday, the CPI at 08:30 on the
Wednesday from the 10th to the 16th, the jobless claims at 08:30 on other Thursdays, and for crude the EIA's
inventories at 10:30 on other Wednesdays (``release``). In the substep holding it a release moves the price by
2-4 (claims), 5-12 (payrolls), 4-9 (CPI) or 3-7 (EIA) 15-minute bar sigmas (times sqrt(15 min / bar), capped at
8 % of the range's height inside the planned phases A-D, as are the gaps), either way: 20-40 % of it a burst of
orders through the propagator (transient) and the rest a level shift (``_NEWS`` = 0 makes every release move
nothing, keeping the draws); outside phases A-D 35-55 % of the releases per scenario (``_NEWS_REVERT``) are misread
and taken back in full over the next 2-6 bars: the level shift is undone and as many orders as the burst's go the
other way. Which releases are misread follows a golden-ratio sequence from a random start (release j of the
scenario outside A-D is misread if ``(u + 0.618 j) mod 1`` is below the share), so every run of releases holds
close to the share. The release's substep also carries 1.5-4 bars' worth of quotes x sqrt(|move| / 3). Measured
on 15-minute and 1-hour bars (seeds 0-299 / 1000-1299): a release bar trades 3.3 x the median of its time of day;
a payrolls or CPI bar before the structure moves 2.3 median bar ranges close to close. Of the releases before the
structure that move the close over 1.5 median bar ranges, measured exactly against the same draws with the releases
moving nothing (``_NEWS`` = 0) so that the background cancels: eight bars later a misread one has at most 4 % of its
own move left, the others 75 % or more (the burst's transient part decays); the misread ones are 27-55 % of them on
each of 20 blocks of 18 seeds (0-19000), and without the reversion they are the same moves as the others. (Their
plain retracement eight bars later, without that pairing, is dominated by eight bars of background: its median over
the misread ones of a block of 40 seeds ranges 0.35-1.9.)

Volume
------
Tick volume, the broker's count of quote updates, times 100 (the ``Scenario`` field's hundredths of a tick):
per substep ``ticks ~ base x (act x vol^2 + f (|public flow| + |release burst| + 0.6 |operator flow|) +
release quotes + climax quotes)``, summed over the bar, times lognormal noise (sd 0.15), Poisson; ``base`` 150-600 a
15-minute bar (x (bar / 15 min)^0.8), ``f`` 0.15-0.3 per bar sigma of impact units. Quote updates follow the
variance (``vol^2``) and the number of child orders (impact units ``sqrt(size)``), not the size. The activity
``act`` (``_CASH_VOLUME`` = 0 makes it flat): 0.25-0.45 outside the cash session, in it 1 + 1.4 exp(-minutes
since the open / 40) + 0.5 exp(-minutes to the close / 30) (the open's burst, the close's pick-up). Measured
(15-minute and 1-hour bars, seeds 0-299 / 1000-1299): a bar that starts at the cash open trades a median 4.8 /
4.7 x the bar before it (0.95-0.99 with a flat activity) and gaps a median 0.56 median bar ranges from the last
close (0 without the opening print). The median correlation of log volume and log range over a scenario is 0.6. The climax's stop
cascade carries 1.5-3 bars' worth of quotes more (its fills and the quotes' flicker), spread like the cascade
(so mostly on the panic's last bar): the climax bar trades at least ``CLIMAX_VOLUME`` (2.5 x the median tick
volume of the 20 bars before it; validated), a median 8.2 x, and is the busiest of those 20 bars in 91 %
(seeds 0-399 and 5000-5399).

The hidden schedule (canonical frame; positions in heights H of the range, 0 support, 1 resistance)
------------------------------------------------------------------------------------------------------
H is 10-40 bar sigmas (log-uniform, at most 12 % of the price). ``c`` is the climax's side: +1 after a fall
(accumulation, and distribution mirrored), -1 after a rise. Legs: noise (60-300 bars, background only; longer to
reach ``MIN_BARS``); the trend (40-250 bars, at least the distance at 0.6 x the pace, from 1.6-3.5 H beyond the
climax edge to 0.35-1 H inside it); in 55 % a PS (3-12 bars to 0.15-0.45 H from the climax edge, at least 3.5
sigma) and its rally (0.15-0.35 H); the climax leg: at its start the operator moves the climax edge beyond the
extreme the trend and the PS realised (by ``_RUN_IN_MARGIN``, 1 bar sigma, if they reached it), so the climax is the
extreme of the move into it; an approach (2-10 bars) to 0.25-0.6 H from the edge, then a panic of 1 (35 %), 2
(40 %) or 3 (25 %) bars: a public stop cascade building up to the panic's last bar (stops set off stops: weights
``exp(-|lag to the last substep but one| / (1-4 substeps))``, spent before the bar's end), sized to carry the expected price to 0-4 % beyond the edge although the operator takes
30-60 % of it (``_ABSORPTION``), and on the panic's last substep the operator's first buying (selling) of 4-12 %
of H; the AR (0.9-1.1 H from the realised climax extreme, re-anchored; fast first); the ST (to 6-45 %, in 30 %
6-14 %, at least 3 sigma); phase B: swings of about 15-60 bars (each x 0.6-1.4, at least 6) filling 25-75 % of a planned range of 40-900 bars
(log-uniform), alternating away from the climax (to 55-92 %, in 15 % a probe to 95-104 %, or to 93-98 % when the far edge is the
shakeout's, i.e. after a rise into the range) and back (15-45 %, at least 3.5 sigma). Phase C is re-anchored on the range measured so far. A spring (60 % of the draws): an approach
to 10-30 % (at least 3 sigma), the plunge (2-4 bars) to 5-30 % of H below support (at least 2.5 sigma, at most 42
%), in half with public stops of up to 30 % of H on its last bar that the operator absorbs, a snap back (3-6 bars)
to 15-35 %; then a failure (22 % of the springs) rallies to 30-60 % and breaks down: a drift (2-7 bars) onto 8 % of
H (at least 2 sigma) above support and a public stop cascade of 1-2 bars to 30-60 % of H below it, a back-up (LPSY) to -15-25 % (below
the middle), the markdown 1.5-3 H below support; otherwise in half a rally (35-70 %) and a test (15-35 %). Without a
spring, when H is at least 11 sigma, in 45 % an unconfirmed shakeout: an approach, a drop to 15-30 % of H below
support (at least 5 sigma) and a hold at 55-70 % of that depth for 16-27 bars, a rally to 30-50 % and a test;
else 1-2 rallies (40-70 %) and tests (10-30 %). The break: the SOS to 1.2-1.6 H, the LPS back to 0.65-1 (above
the middle), the markup to 2-3.5 H (30-250 bars, phase E), and noise after (30-150 bars) in which the operator
loosely holds the level it reached. Kinds are uniform; ``kind`` given to ``generate`` is honoured.

Labels and phases (measured on the final integer bars)
------------------------------------------------------
A label's ``start`` is its leg's planned first bar (or the bar after the previous swing's end), its ``bar`` the
leg's extreme on the event's side (the first such bar) and its ``end`` that extreme: every swing's leg (PS, climax,
AR, ST, spring, back-up) ends where the swing realised its extreme, measured over the leg and the first half of the
next, and the next leg starts on the bar after it, so a label sits where its swing turns, not where the schedule
meant it to (the phases follow: A ends with the ST's leg, D with the back-up's). The exception is
sign_of_strength / sign_of_weakness, whose ``bar`` is the first close of the leg beyond the range's edge (the
highest high and lowest low from the climax's bar to the end of phase B). Event names by the real direction: preliminary_support /
preliminary_supply, selling_climax + automatic_rally or buying_climax + automatic_reaction, secondary_test,
spring / upthrust, sign_of_strength + last_point_of_support or sign_of_weakness + last_point_of_supply. Nothing
else is labelled (not the releases, gaps, the approach, snap, rallies and tests of phase C, nor an unconfirmed
shakeout). Phases (np.int8, index into ``PHASES``): "" in the noise and the trend; A from the PS (or the climax)
leg through the ST's extreme; B the swings; C from phase C's first leg to the bar before the SOS/SOW leg; D that leg
and the back-up to its extreme; E the markup (markdown); "" after. ``structure`` = (first bar of A, last bar of E); ``direction`` +1 if
the break is up; ``failed`` = the break went against the kind (only after a spring/upthrust); ``spring`` = a
spring/upthrust is labelled.

Validation
----------
A draw is kept only if, on the final bars: every labelled leg has two bars or more; the climax is at least 30 bars
in and the range's strict extreme on its side through the end of phase B; the PS is not beyond it; the AR moves at
least half the height; nothing in phase C goes beyond the far edge; a spring/upthrust is phase C's extreme (its
first bar at that depth), beyond its edge by at most half the height, closes back inside within ``SHAKEOUT_BARS``
(10) bars, is brief (at most ``BRIEF_CLOSES`` (4) closes in a row beyond the edge right before its extreme; by
construction its plunge lasts 2-4 bars from above support) and nothing of phase C goes beyond that edge from
``SHAKEOUT_BARS`` + 1 bars after it; without one, anything of phase C beyond the edge is an unconfirmed shakeout
(no close back inside within ``SLOW_BARS`` (12) bars of its extreme, back inside before the break and staying
inside); after phase C no bar trades beyond the shakeout-side edge, from the SOS/SOW leg's first bar to the SOS/SOW
bar and, after a break away from that side, through the end of phase E (so nothing after phase C reaches the
labelled spring's extreme); the SOS/SOW leg closes beyond its edge; the back-up stays on the break side of the
middle; the range (climax bar to SOS/SOW bar) lasts ``RANGE_BARS`` (20-1300) bars; the climax's volume ratio (the
highest volume within two bars of it over the mean of the 24 bars ending three bars before it) is in
``CLIMAX_RATIO`` (1.3-40) and its own bar's at least that mean; the highest high is within 3 x the lowest low;
bars follow the markup; the climax is the strict extreme of the ``RUN_IN_BARS`` (60) bars before it (the move into
it); the climax bar trades at least ``CLIMAX_VOLUME`` (2.5 x the median volume of the 20 bars before it); every
label but the SOS/SOW sits where its swing turns (``TURN``: from its bar the price goes less than 5 % of the height
beyond it before first reversing 15 % of the height; ``turn_overshoot``); phase B stays inside phase A's range
(climax bar to the ST's end) on the shakeout's side: no close beyond its edge and no bar more than ``B_SLACK`` (3 %)
of its height beyond it; phase E does not trade back to the range's middle; ``scenarios.undone`` is "". Otherwise the scenario is redrawn from the same random stream
(seeded from the seed and ``SALT``; at most ``MAX_TRIES`` (40) draws, then RuntimeError).

Measured over seeds 0-299 (1000-1299 in brackets)
--------------------------------------------------
2.33 (2.6) draws per kept scenario (rejections: a climax that a later bar of phase A or B ties or passes 42 %
(45 %); phase B beyond phase A on the shakeout's side 13 % (10 %); the back-up past the middle 11 % (8 %); a
phase-C dip neither a spring nor slow 7 %; phase C beyond the far edge 6 %; a spring too deep 6 %, not phase C's
extreme 5 % (6 %); the climax's volume, the run-in and the swings' turns 1-2 % each); ``generate`` takes about 20
(22) ms. Kinds 84/71/74/71 (80/70/77/73) accumulation, distribution, reaccumulation, redistribution; bars 15m 38 %
(39), 1h 36 % (39), 4h 26 % (22); 431-1329 bars (462-1431), median 804 (774). A spring / upthrust in 63 % (59 %), a
failure in 14 % (14 %), an unconfirmed shakeout in 15 % (16 %), a PS in 57 % (60 %). The range lasts 57-592 bars
(70-722; median 165 (160)). Climax volume ratio 2.2-25.8 (2.4-30.8; 10th/50th/90th percentile 3.7/6.5/12.6;
1000-1299: 3.6/6.4/12.1); a neighbour within two bars trades more than the climax bar in 1 % (2 %). Effort around
the climax (volume per unit of range within two bars, over the 60 bars before phase A) has a median of 0.76-0.81
over seeds 0-39, 1000-1039 and 5000-5039, and 0.61-0.66 with the absorption switched off (higher in all of the
same scenarios). Over seeds 0-399 and 5000-5399 no climax has a lower low (higher high) in the 40 bars before it,
no LPS/LPSY or AR goes on 5 % of the height past its label before reversing a quarter of it, no phase E trades
back past the middle, a spring/upthrust has at most 4 closes in a row beyond its edge right before its extreme
(median 1), phase B goes beyond phase A's shakeout-side edge in 9 and 7 of 400 (by at most 2.8 % of
phase A's height). Volatility clusters beyond the time of day: the mean autocorrelation
(lags 1-10) of the log bar range over its time of day's median before the structure is 0.18-0.21 on 4-hour bars
(0.055-0.07 without rough volatility).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from trading.wyckoff.machine import PHASES
from trading.wyckoff.scenarios import SCALE, Label, Scenario, undone

__all__ = ["BAR_CHOICES", "BAR_WEIGHTS", "B_SLACK", "BRIEF_CLOSES", "CLIMAX_RATIO", "CLIMAX_VOLUME", "INSTRUMENTS", "KINDS", "MAX_BARS",
           "MAX_TRIES", "MIN_BARS", "PHASES", "RANGE_BARS", "RUN_IN_BARS", "SCALE", "SHAKEOUT_BARS", "SLOW_BARS",
           "SUBSTEPS", "TURN", "Instrument", "generate", "hurst_estimate", "market", "propagator", "release",
           "scenarios", "turn_overshoot"]

KINDS = ("accumulation", "distribution", "reaccumulation", "redistribution")
# (context, resolution): +1 context = a fall into the range, +1 resolution = the break expected up
_SIGNS = {"accumulation": (1, 1), "distribution": (-1, -1), "reaccumulation": (-1, 1), "redistribution": (1, -1)}
MINUTE_NS = 60 * 1_000_000_000
BAR_CHOICES = (15 * MINUTE_NS, 60 * MINUTE_NS, 240 * MINUTE_NS)
BAR_WEIGHTS = (0.4, 0.35, 0.25)
SUBSTEPS = 4
MIN_BARS, MAX_BARS = 300, 2500
SHAKEOUT_BARS = 10
SLOW_BARS = 12
RANGE_BARS = (20, 1300)
CLIMAX_RATIO = (1.3, 40.0)
CLIMAX_VOLUME = (20, 2.5)  # the climax bar trades at least 2.5 x the median tick volume of the 20 bars before it
RUN_IN_BARS = 60  # the climax is the strict extreme of the 60 bars before it (the move into it)
TURN = (0.15, 0.05)  # a swing goes less than 5 % of the height beyond its label before reversing 15 % of it
BRIEF_CLOSES = 4  # at most 4 closes in a row beyond the edge right before a spring's (upthrust's) extreme
B_SLACK = 0.03  # phase B's lows (highs) beyond phase A's range on the shakeout's side, in heights of phase A
MAX_TRIES = 40
SALT = 0x4A0C
NEW_YORK = ZoneInfo("America/New_York")
FIRST_SUNDAY = date(2026, 1, 4)  # the Sunday before START_NS (2026-01-05, a Monday)
SESSION_END = 17 * 60  # the broker's day ends 17:00 New York; the next opens after the maintenance break

# Switches of the mechanisms (tests set them to show that a check fails without the mechanism)
_ABSORPTION = 1.0  # x the operator's share of the public's panic and stop runs that it takes
_DECAY = 1.0  # 0: impact is permanent (G = 1), no transient part
_VOL_OF_VOL = 1.0  # 0: no rough volatility (constant volatility apart from the session)
_CASH_GAP = 1.0  # x the opening print's jump at the cash open
_CASH_VOLUME = 1.0  # 0: a flat activity profile (no cash session in the quote activity)
_BREAK_HOURS = 1  # the daily maintenance break
_NEWS_REVERT = 1.0  # x the share of releases that fully revert
_NEWS = 1.0  # x the releases' moves (0: releases move nothing; the draws are kept)
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_RUN_IN_MARGIN = 1.0  # bar sigmas the planned climax edge lies beyond the extreme of the move into it


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    level: tuple[float, float]  # price range of the first bar
    point: float  # the broker's quote grid
    tz: str  # the underlying cash market's time zone
    cash: tuple[int, int]  # cash session, minutes after local midnight
    daily_sigma: tuple[float, float]  # a day's log sigma
    eia: bool = False  # the weekly crude inventories (Wednesday 10:30 New York)


INSTRUMENTS = {
    "DE40": Instrument("DE40", (14_000.0, 24_000.0), 0.1, "Europe/Berlin", (9 * 60, 17 * 60 + 30), (0.009, 0.015)),
    "US500": Instrument("US500", (3_800.0, 6_800.0), 0.01, "America/New_York", (9 * 60 + 30, 16 * 60),
                        (0.008, 0.013)),
    "UK100": Instrument("UK100", (7_000.0, 9_500.0), 0.1, "Europe/London", (8 * 60, 16 * 60 + 30), (0.007, 0.011)),
    "XAUUSD": Instrument("XAUUSD", (1_800.0, 3_400.0), 0.01, "Europe/London", (8 * 60, 16 * 60 + 30),
                         (0.008, 0.014)),
    "USOIL": Instrument("USOIL", (55.0, 95.0), 0.001, "America/New_York", (9 * 60, 14 * 60 + 30), (0.016, 0.026),
                        eia=True),
}
# scheduled releases: (name, New York minute, size range in 15-minute bar sigmas)
RELEASES = {"claims": (8 * 60 + 30, (2.0, 4.0)), "payrolls": (8 * 60 + 30, (5.0, 12.0)),
            "cpi": (8 * 60 + 30, (4.0, 9.0)), "eia": (10 * 60 + 30, (3.0, 7.0))}


def release(d: date, inst: Instrument) -> str:
    """The scheduled release of trade date ``d`` ("" if none): the payrolls on the first Friday, the CPI on the
    Wednesday from the 10th to the 16th, the jobless claims on other Thursdays; for crude the EIA's inventories
    on other Wednesdays."""
    if d.weekday() == 4 and d.day <= 7:
        return "payrolls"
    if d.weekday() == 2 and 10 <= d.day <= 16:
        return "cpi"
    if d.weekday() == 3:
        return "claims"
    if d.weekday() == 2 and inst.eia:
        return "eia"
    return ""


def market(seed: int) -> tuple[str, int]:
    """The instrument and bar length of a seed (its own stream: the redraws keep them)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SALT, 1]))
    symbol = list(INSTRUMENTS)[int(rng.integers(0, len(INSTRUMENTS)))]
    return symbol, BAR_CHOICES[int(rng.choice(len(BAR_CHOICES), p=BAR_WEIGHTS))]


@functools.lru_cache(maxsize=65536)
def _ns(d: date, minute: int, tz: str) -> int:
    """UTC nanoseconds of a local wall-clock time (the tz database's offset on that date)."""
    local = datetime(d.year, d.month, d.day, minute // 60, minute % 60, tzinfo=ZoneInfo(tz))
    return int(local.timestamp()) * 1_000_000_000


@dataclass
class _Calendar:
    start_ns: npt.NDArray[np.int64]  # bar starts
    day: npt.NDArray[np.int64]  # index of the bar's trade date
    session_end: npt.NDArray[np.int64]  # per trade date
    cash_open: npt.NDArray[np.int64]
    cash_close: npt.NDArray[np.int64]
    week_open: npt.NDArray[np.bool_]  # the bar opens the week (Sunday evening)
    news: list[tuple[int, str]] = field(default_factory=list)  # (UTC ns, release)


def _calendar(seed: int, inst: Instrument, bar_ns: int) -> _Calendar:
    """``MAX_BARS`` bars of the broker's week, from the Sunday evening ``seed % 250`` weeks after START_NS."""
    length = (24 - _BREAK_HOURS) * 60 * MINUTE_NS
    per = -(-length // bar_ns)
    first = FIRST_SUNDAY + timedelta(weeks=seed % 250, days=1)
    weeks = -(-MAX_BARS // (5 * per))
    dates = [first + timedelta(days=7 * w + i) for w in range(weeks) for i in range(5)]
    ends = np.array([_ns(d, SESSION_END, "America/New_York") for d in dates], np.int64)
    starts = ((ends - length)[:, None] + np.arange(per, dtype=np.int64) * bar_ns).ravel()[:MAX_BARS]
    day = np.repeat(np.arange(len(dates), dtype=np.int64), per)[:MAX_BARS]
    week = np.zeros((len(dates), per), bool)
    week[::5, 0] = True
    news = []
    for d in dates:
        name = release(d, inst)
        if name:
            news.append((_ns(d, RELEASES[name][0], "America/New_York"), name))
    return _Calendar(starts, day, ends, np.array([_ns(d, inst.cash[0], inst.tz) for d in dates], np.int64),
                     np.array([_ns(d, inst.cash[1], inst.tz) for d in dates], np.int64), week.ravel()[:MAX_BARS],
                     news)


class _Reject(Exception):
    pass


def _rough_log_vol(rng: np.random.Generator, n: int, hurst: float, nu: float, reversion: float
                   ) -> npt.NDArray[np.float64]:
    """A fractional Ornstein-Uhlenbeck log-volatility on ``n`` steps, standardised to sd ``nu``: the
    Riemann-Liouville kernel ``(t - s)^(H - 1/2)``, integrated exactly over each step, damped by
    ``exp(-reversion lag)`` and truncated at 1000 steps, convolved with Gaussian noise (FFT)."""
    lags = np.arange(min(n, 1000), dtype=float)
    a = hurst + 0.5
    kernel = ((lags + 1) ** a - lags ** a) / a * np.exp(-reversion * lags)
    noise = rng.normal(0.0, 1.0, n + len(lags))
    m = 1 << int(math.ceil(math.log2(len(noise) + len(lags))))
    x = np.fft.irfft(np.fft.rfft(noise, m) * np.fft.rfft(kernel, m), m)[len(lags): len(lags) + n]
    return np.asarray(nu * x / math.sqrt(float((kernel ** 2).sum())))


def hurst_estimate(x: npt.NDArray[np.float64], lags: tuple[int, ...] = (1, 2, 4, 8, 16)) -> float:
    """The Hurst exponent from the variogram: ``E|x(t+l) - x(t)|^2 ~ l^(2H)`` over small lags."""
    v = [float(np.mean((x[lag:] - x[:-lag]) ** 2)) for lag in lags]
    return float(np.polyfit(np.log(lags), np.log(v), 1)[0] / 2)


def _signs(rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    """Long-memory order signs: each trade comes from one of four equally likely persistent streams (Markov sign
    chains flipping with probability 0.3, 0.05, 0.008 and 0.0015 a substep), so the sign autocorrelation is a
    sum of exponentials spanning three decades of lags (close to a power law)."""
    flips = np.array([0.3, 0.05, 0.008, 0.0015])
    streams = np.where(np.cumsum(rng.random((4, n)) < flips[:, None], axis=1) % 2 == 0, 1.0, -1.0)
    streams *= rng.choice([-1.0, 1.0], size=(4, 1))
    which = rng.integers(0, 4, size=n)
    return np.asarray(streams[which, np.arange(n)])


def propagator(n: int, beta: float, permanent: float) -> npt.NDArray[np.float64]:
    """Bouchaud's propagator: ``G(l) = g + (1 - g) (1 + l)^-beta`` (``g`` the permanent part); G = 1 without
    decay (``_DECAY`` = 0)."""
    lags = np.arange(n, dtype=float)
    g = permanent + (1 - permanent) * (1 + lags) ** -beta
    return np.asarray(_DECAY * g + (1 - _DECAY) * np.ones(n))


@dataclass
class _Leg:
    bars: int
    mode: str  # free, trend, steer, panic, hold
    goal: float = 0.0  # position: 0 support, 1 resistance (canonical frame)
    phase: str = ""
    label: str = ""  # canonical role: ps, climax, ar, st, spring, break, backup
    chunk: int = 1
    gain: float = 1.0
    lead: int = 0  # panic: bars of the approach before it (steered)
    stops: float = 0.0  # stop orders triggered on the leg's last bar, in heights
    share: float = 0.0  # the climax: the cascade's share of the fall (rise), in heights


def _plan(rng: np.random.Generator, c: int, spring: bool, failed: bool, slow: bool, height: float,
          ) -> tuple[list[_Leg], dict[str, float]]:
    """The hidden schedule in the canonical frame (the break expected up, the shakeout below support),
    positions in heights: 0 support, 1 resistance. ``c`` +1: the climax at support (a fall in), -1 at
    resistance."""
    u = rng.uniform

    def cp(p: float) -> float:  # ``p`` heights from the climax edge into the range
        return p if c > 0 else 1.0 - p

    def span(dist: float, lo: int, hi: int, pace: float) -> int:
        return max(int(rng.integers(lo, hi + 1)), int(math.ceil(abs(dist) * height / pace)))

    pace = u(0.9, 1.8)  # bar sigmas a bar the operator moves the price at most, on average
    legs: list[_Leg] = []
    trend_from = u(1.6, 3.5)
    ps = rng.random() < 0.55
    trend_to = u(0.35, 0.9) if not ps else u(0.5, 1.0)
    legs.append(_Leg(span(trend_from - trend_to, 40, 250, 0.6 * pace), "trend", cp(trend_to)))
    if ps:
        p_ps = max(u(0.15, 0.45), 3.5 / height)
        legs.append(_Leg(span(trend_to - p_ps, 3, 12, 1.5 * pace), "steer", cp(p_ps), "A", "ps", 1, u(0.7, 1)))
        back = p_ps + u(0.15, 0.35)
        legs.append(_Leg(span(back - p_ps, 4, 15, pace), "steer", cp(back), "A", "", 2, u(0.6, 1)))
        start = back
    else:
        start = trend_to
    approach = u(0.25, 0.6)  # the cascade's share of the fall (rise) into the climax
    if start < approach + 0.1:
        start = approach + 0.1
    lead = span(start - approach, 2, 10, 1.5 * pace)
    panic = int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
    legs.append(_Leg(lead + panic, "panic", cp(-u(0.0, 0.04)), "A", "climax", 1, 1.0, lead, share=approach))
    ar = u(0.9, 1.1)
    legs.append(_Leg(span(ar, 5, 35, 2 * pace), "steer", cp(ar), "A", "ar", 1, u(0.7, 1)))
    st = max(u(0.06, 0.45) if rng.random() < 0.7 else u(0.06, 0.14), 3.0 / height)
    legs.append(_Leg(span(ar - st, 6, 40, 1.5 * pace), "steer", cp(st), "A", "st", 2, u(0.6, 1)))
    range_bars = float(np.exp(u(np.log(40), np.log(900))))
    b_bars = max(10.0, range_bars * u(0.25, 0.75))
    swings = max(1, int(round(b_bars / u(15, 60))))
    side = 1  # the first swing heads away from the climax
    for _ in range(swings):
        far = u(0.55, 0.92) if rng.random() < 0.85 else (u(0.95, 1.04) if c > 0 else u(0.93, 0.98))
        near = max(u(0.15, 0.45), 3.5 / height)
        p = cp(far if side > 0 else near)
        legs.append(_Leg(max(6, int(b_bars / swings * u(0.6, 1.4))), "steer", p, "B", "", int(rng.integers(1, 4)),
                         u(0.4, 0.9)))
        side = -side
    # phase C (absolute positions: 0 support, 1 resistance)
    floor = 3.0 / height
    if spring:
        legs.append(_Leg(int(rng.integers(4, 16)), "steer", max(u(0.1, 0.3), floor), "C", "", 1, u(0.7, 1)))
        depth = min(max(u(0.05, 0.3), 2.5 / height), 0.42)
        legs.append(_Leg(int(rng.integers(2, 5)), "steer", -depth, "C", "spring", 1, 1.0,
                         stops=u(0.0, 0.3) if rng.random() < 0.5 else 0.0))
        legs.append(_Leg(int(rng.integers(3, 7)), "steer", max(u(0.15, 0.35), floor), "C", "", 1, 1.0))
        if failed:
            legs.append(_Leg(span(0.4, 5, 25, pace), "steer", u(0.3, 0.6), "C", "", 2, u(0.7, 1)))
        elif rng.random() < 0.5:
            legs.append(_Leg(span(0.4, 5, 25, pace), "steer", u(0.35, 0.7), "C", "", 2, u(0.7, 1)))
            legs.append(_Leg(span(0.3, 5, 25, pace), "steer", max(u(0.15, 0.35), floor), "C", "", 2, u(0.7, 1)))
    elif slow:
        legs.append(_Leg(int(rng.integers(4, 16)), "steer", max(u(0.1, 0.3), floor), "C", "", 1, u(0.7, 1)))
        depth = min(max(u(0.15, 0.3), 5.0 / height), 0.42)
        legs.append(_Leg(int(rng.integers(2, 5)), "steer", -depth, "C", "", 1, 1.0))
        legs.append(_Leg(int(rng.integers(SLOW_BARS + 4, SLOW_BARS + 16)), "hold", -depth * u(0.55, 0.7), "C", "",
                         1, 1.0))
        legs.append(_Leg(int(rng.integers(3, 8)), "steer", max(u(0.3, 0.5), 2 * floor), "C", "", 1, 1.0))
        legs.append(_Leg(span(0.3, 5, 25, pace), "steer", max(u(0.15, 0.35), 1.5 * floor), "C", "", 2, u(0.7, 1)))
    else:
        for _ in range(int(rng.integers(1, 3))):
            legs.append(_Leg(span(0.4, 5, 25, pace), "steer", u(0.4, 0.7), "C", "", 2, u(0.6, 1)))
            legs.append(_Leg(span(0.3, 5, 25, pace), "steer", max(u(0.1, 0.3), 1.5 * floor), "C", "", 2, u(0.6, 1)))
    if failed:  # the break is a stop cascade through support after a drift onto it
        drift = int(rng.integers(2, 8))
        legs.append(_Leg(drift + int(rng.integers(1, 3)), "panic", -u(0.3, 0.6), "D", "break", 1, 1.0, drift))
        legs.append(_Leg(span(0.3, 4, 25, pace), "steer", min(u(-0.15, 0.25), 0.5 - 2.5 / height), "D", "backup",
                         2, u(0.7, 1)))
        legs.append(_Leg(span(2.0, 30, 250, 0.8 * pace), "steer", -u(1.5, 3.0), "E", "", 3, u(0.5, 0.9)))
    else:
        sos = u(1.2, 1.6)
        legs.append(_Leg(span(sos - 0.2, 6, 40, pace), "steer", sos, "D", "break", 2, u(0.7, 1)))
        legs.append(_Leg(span(0.5, 4, 30, pace), "steer", max(u(0.65, 1.0), 0.5 + 2.5 / height), "D", "backup",
                         2, u(0.7, 1)))
        legs.append(_Leg(span(2.0, 30, 250, 0.8 * pace), "steer", u(2.0, 3.5), "E", "", 3, u(0.5, 0.9)))
    legs.append(_Leg(int(rng.integers(30, 150)), "hold", 0.0, "", "", 4, 0.15))
    return legs, {"trend_from": cp(trend_from)}


_LOW_SIDE = ("selling_climax", "spring", "last_point_of_support", "preliminary_support", "automatic_reaction")
ROLES = {"ps": ("preliminary_support", "preliminary_supply"), "climax": ("selling_climax", "buying_climax"),
         "ar": ("automatic_reaction", "automatic_rally"), "spring": ("spring", "upthrust"),
         "backup": ("last_point_of_support", "last_point_of_supply")}


def generate(seed: int, kind: str | None = None) -> Scenario:
    """One scenario; the kind is drawn from the seed unless given (the instrument and bar length are the seed's)."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    symbol, bar_ns = market(seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, SALT]))
    drawn = KINDS[int(rng.integers(0, len(KINDS)))]
    kind = kind or drawn
    cal = _calendar(seed, INSTRUMENTS[symbol], bar_ns)
    reasons: dict[str, int] = {}
    for _ in range(MAX_TRIES):
        try:
            return _draw(rng, seed, kind, symbol, bar_ns, cal)
        except _Reject as e:
            reasons[str(e)] = reasons.get(str(e), 0) + 1
    raise RuntimeError(f"scenario {seed}: no valid draw in {MAX_TRIES} tries ({reasons})")


def scenarios(count: int, first_seed: int = 0) -> Iterable[Scenario]:
    for seed in range(first_seed, first_seed + count):
        yield generate(seed)


def _draw(rng: np.random.Generator, seed: int, kind: str, symbol: str, bar_ns: int, cal: _Calendar) -> Scenario:
    inst = INSTRUMENTS[symbol]
    context, resolution = _SIGNS[kind]
    c = context * resolution  # the climax's side in the canonical frame
    spring = rng.random() < 0.6
    failed = spring and rng.random() < 0.22
    bar_min = bar_ns // MINUTE_NS
    per_day = (24 - _BREAK_HOURS) * 60 / bar_min
    sigma_rel = float(np.exp(rng.uniform(*np.log(inst.daily_sigma)))) / math.sqrt(per_day)
    height = min(float(np.exp(rng.uniform(np.log(10), np.log(40)))), 0.12 / sigma_rel)
    slow = not spring and height >= 11 and rng.random() < 0.45
    legs, extra = _plan(rng, c, spring, failed, slow, height)
    lead = int(rng.integers(60, 300))
    n = lead + sum(leg.bars for leg in legs)
    if n < MIN_BARS:
        lead += MIN_BARS - n
        n = MIN_BARS
    if n > MAX_BARS:
        raise _Reject("too long")
    legs.insert(0, _Leg(lead, "free"))
    s = SUBSTEPS
    big_n = n * s
    sub_ns = bar_ns // s
    t = (cal.start_ns[:n, None] + np.arange(s, dtype=np.int64) * sub_ns).ravel()
    day = np.repeat(cal.day[:n], s)
    is_open = t < cal.session_end[day]
    # the quote activity: the cash session (with its opening burst and closing pick-up) against the night
    quiet = rng.uniform(0.25, 0.45)
    cash_o, cash_c = cal.cash_open[day], cal.cash_close[day]
    in_cash = (t >= cash_o) & (t < cash_c)
    since = (t - cash_o) / MINUTE_NS
    until = (cash_c - t) / MINUTE_NS
    act = np.where(in_cash, 1.0 + 1.4 * np.exp(-np.maximum(since, 0) / 40) + 0.5 * np.exp(-np.maximum(until, 0) / 30),
                   quiet)
    if not _CASH_VOLUME:
        act = np.ones(big_n)
    act = np.where(is_open, act, 0.0)
    # rough volatility (per bar)
    hurst = rng.uniform(0.07, 0.14)
    nu = rng.uniform(0.2, 0.35) * _VOL_OF_VOL
    logvol = _rough_log_vol(rng, n, hurst, nu, rng.uniform(0.002, 0.01)) if nu > 0 else np.zeros(n)
    vol = np.repeat(np.exp(logvol - nu ** 2), s)
    # the background flow: long-memory signs, lognormal sizes, impact ~ sqrt(size)
    beta = rng.uniform(0.3, 0.45)
    permanent = rng.uniform(0.0, 0.12)
    g = propagator(big_n, beta, permanent)
    m = 1 << int(math.ceil(math.log2(2 * big_n)))
    g_hat = np.fft.rfft(g, m)

    def conv(flow: npt.NDArray[np.float64], upto: int = big_n) -> npt.NDArray[np.float64]:
        return np.asarray(np.fft.irfft(np.fft.rfft(flow[:upto], m) * g_hat, m)[:upto])

    bg = _signs(rng, big_n) * np.sqrt(rng.lognormal(0.0, 0.6, big_n)) * act ** 0.25 * vol
    y = conv(bg)
    bar_ret = np.diff(y[s - 1::s])
    scale = 1.4826 * float(np.median(np.abs(bar_ret - np.median(bar_ret))))
    bg /= scale if scale > 0 else 1.0
    sub_sd = 0.5 * (act / max(float(act[is_open].mean()), 1e-9)) ** 0.25 * vol  # a substep's own wiggle
    known = np.zeros(big_n)  # the public's planned flow (trend, panic, stops) and the operator's
    news = np.zeros(big_n)  # the releases' burst of orders: nobody's plan
    step = np.zeros(big_n)  # information: the level shifts of the weekend, the cash open and the releases
    op = np.zeros(big_n)
    news_ticks = np.zeros(big_n)
    gap_bar = np.zeros(n, bool)
    planned = np.zeros(n, bool)  # the planned phases A-D, where jumps are capped to a tenth of the height
    b0 = 0
    for leg in legs:
        planned[b0:b0 + leg.bars] = leg.phase in ("A", "B", "C", "D")
        b0 += leg.bars
    cap = np.where(np.repeat(planned, s), 0.08 * height, np.inf)
    # jumps: the Sunday open and the cash index's opening print
    gap_sd = rng.uniform(0.5, 1.5) * _CASH_GAP
    week = np.flatnonzero(cal.week_open[:n])
    step[week * s] += np.clip(rng.normal(0.0, 1.5, len(week)), -cap[week * s], cap[week * s])
    gap_bar[week] = True
    opens = np.unique(cal.cash_open[cal.day[:n]])
    for o in opens.tolist():
        k = int(np.searchsorted(t, o, side="right")) - 1
        if 0 <= k < big_n and t[k] <= o < t[k] + sub_ns and is_open[k] and gap_sd > 0:
            step[k] += float(np.clip(rng.normal(0.0, gap_sd), -cap[k], cap[k]))
            gap_bar[k // s] |= k % s == 0
    # scheduled releases: a one-substep jump with a burst of quotes; some fully revert over the next bars
    revert_share = rng.uniform(0.35, 0.55) * _NEWS_REVERT
    turn = rng.random()  # which releases are misread: a golden-ratio sequence, so any run of them holds the share
    misread = 0
    for when, name in cal.news:
        k = int(np.searchsorted(t, when, side="right")) - 1
        if not (0 <= k < big_n and t[k] <= when < t[k] + sub_ns and is_open[k]):
            continue
        size = min(rng.uniform(*RELEASES[name][1]) * math.sqrt(15 / bar_min), cap[k]) * rng.choice([-1.0, 1.0]) * _NEWS
        news_ticks[k] += rng.uniform(1.5, 4.0) * s * math.sqrt(abs(size) / 3)  # bars' worth of quotes
        burst = rng.uniform(0.2, 0.4)  # the share of the move that the burst of orders makes (transient)
        news[k] += burst * size
        step[k] += (1 - burst) * size
        span_k = int(rng.integers(2, 7)) * s
        if k + 1 < big_n and cap[k] == np.inf:  # outside phases A-D a misread one is taken back in full: its
            # level shift and, by as many orders the other way, its burst
            reverts = (turn + misread * _GOLDEN) % 1.0 < revert_share
            misread += 1
            if reverts:
                back = slice(k + 1, min(k + 1 + span_k, big_n))
                width = back.stop - back.start
                step[back] -= (1 - burst) * size / width
                news[back] -= burst * size / width
    # the schedule
    absorb = rng.uniform(0.3, 0.6) * _ABSORPTION
    phases = np.zeros(n, np.int8)
    code = {p: i for i, p in enumerate(PHASES)}
    legs_at: list[tuple[_Leg, int, int]] = []
    sup = 0.0
    hs = height
    shift = np.cumsum(step)
    level = conv(bg + news) + shift
    k0 = trend_k0 = 0
    total = bg + news  # all the flow placed so far

    def realised(upto: int) -> npt.NDArray[np.float64]:
        return conv(bg + news + known + op, upto) + shift[:upto]

    def expect(t0: int, t1: int) -> float:
        """The price the operator expects at substep t1 - 1 from the flow up to t0 and the planned flow."""
        gk = g[:t1][::-1]  # gk[j] = G(t1 - 1 - j)
        return float(total[:t0] @ gk[:t0] + (known[t0:t1] + op[t0:t1]) @ gk[t0:t1] + shift[max(t0 - 1, 0)])

    for li, leg in enumerate(legs):
        k1 = k0 + leg.bars * s
        b0 = k0 // s
        phases[b0: b0 + leg.bars] = code[leg.phase]
        legs_at.append((leg, b0, b0 + leg.bars - 1))
        if leg.mode == "free":
            sup = float(level[k1 - 1]) - extra["trend_from"] * hs
        elif leg.mode == "trend":
            trend_k0 = k0
            goal = sup + leg.goal * hs
            gk = g[k1 - 1 - np.arange(k0, k1)] * is_open[k0:k1]
            add = (goal - expect(k0, k1)) / float(gk.sum()) * is_open[k0:k1]
            known[k0:k1] += add
            total[k0:k1] += add
        else:
            steer_to = k1
            if leg.mode == "panic":
                steer_to = k0 + leg.lead * s
            target_end = sup + leg.goal * hs if leg.mode != "panic" else 0.0
            if leg.label == "climax":  # the climax is the extreme of the move into it: the operator moves the
                # edge it plans the climax at beyond the extreme the trend (and the PS) reached
                x = realised(k0)[trend_k0:k0]
                if c > 0:
                    sup = min(sup, float(x.min()) - _RUN_IN_MARGIN)
                else:
                    sup = max(sup + hs, float(x.max()) + _RUN_IN_MARGIN) - hs
            start_level = expect(k0, k0 + 1)
            if leg.mode == "panic":  # the approach: to a little inside the edge the cascade breaks
                if leg.label == "climax":
                    target_end = sup + (leg.share if c > 0 else 1.0 - leg.share) * hs
                else:
                    target_end = sup + max(0.08, 2.0 / hs) * hs
            chunk = leg.chunk * s
            a = k0
            if leg.stops and steer_to - s >= k0:  # the spring's stop run on its last bar, absorbed by the operator
                k = k1 - s
                flow = -leg.stops * hs / s * is_open[k:k1]
                known[k:k1] += flow
                op[k:k1] -= absorb * flow
                total[k:k1] += (1 - absorb) * flow
            carry = 0.0  # the share of the last chunk's miss the operator lets stand
            while a < steer_to:
                b = min(a + chunk, steer_to)
                frac = (b - k0) / max(steer_to - k0, 1)
                if leg.mode == "hold":  # the slow shakeout's hold; after the structure the level it reached
                    tgt = target_end if leg.phase else start_level
                elif leg.label == "ar":  # a snap: fast first, then slower
                    tgt = start_level + (target_end - start_level) * (1 - (1 - frac) ** 2)
                else:
                    smooth = frac * frac * (3 - 2 * frac)
                    tgt = start_level + (target_end - start_level) * smooth
                need = tgt + carry - expect(a, b)
                gk = g[:b][::-1][a:b] * is_open[a:b]
                eff = float(gk.sum())
                if eff > 0:
                    add = min(max(need / eff, -4.0), 4.0) * is_open[a:b]
                    op[a:b] += add
                    total[a:b] += add
                carry = (1 - leg.gain) * (float(total[:b] @ g[:b][::-1]) + shift[b - 1] - tgt)
                a = b
            if leg.mode == "panic":  # the stop cascade, heaviest first, a share absorbed by the operator
                goal = sup + leg.goal * hs
                ramp = np.arange(k1 - steer_to)
                if leg.label == "climax":  # stops set off stops: the cascade builds up to the panic's last bar
                    ramp = ramp[::-1] - 1
                w = np.exp(-np.abs(ramp) / rng.uniform(1.0, 4.0)) * is_open[steer_to:k1]
                w[-1] = 0.0  # the cascade is spent before the bar's end
                if float(w.sum()) <= 0:
                    raise _Reject("panic in a closed hour")
                gk = g[k1 - 1 - np.arange(steer_to, k1)]
                share = absorb if leg.label == "climax" else 0.0
                cascade = (goal - expect(steer_to, k1)) / ((1 - share) * float(w @ gk)) * w
                known[steer_to:k1] += cascade
                if leg.label == "climax":  # the stops' fills and the quotes' flicker: 1.5-3 bars' worth of quotes
                    news_ticks[steer_to:k1] += rng.uniform(1.5, 3.0) * s * w / float(w.sum())
                op[steer_to:k1] -= share * cascade
                total[steer_to:k1] += (1 - share) * cascade
                if leg.label == "climax":  # the operator's first buying lifts the close off the low
                    lift = c * rng.uniform(0.04, 0.12) * hs * is_open[k1 - 1]
                    op[k1 - 1] += lift
                    total[k1 - 1] += lift
        if leg.label in ("climax", "ar"):  # the operator re-anchors on the realised climax and AR
            x = realised(k1)
            if leg.label == "climax":
                if c > 0:
                    sup = float(x[k0:k1].min())
                else:
                    sup = float(x[k0:k1].max()) - hs
            else:
                if c > 0:
                    hs = max(float(x[k0:k1].max()) - sup, 0.7 * height)
                else:
                    top = sup + hs
                    sup = float(x[k0:k1].min())
                    hs = max(top - sup, 0.7 * height)
        k0 = k1
        # phase C re-anchors on the range as measured so far
        nxt = legs[li + 1] if li + 1 < len(legs) else None
        if nxt is not None and nxt.phase == "C" and leg.phase == "B":
            x = realised(k1)
            climax_start = next(b for lg, b, _ in legs_at if lg.label == "climax") * s
            lo, hi = float(x[climax_start:k1].min()), float(x[climax_start:k1].max())
            sup, hs = lo, hi - lo
    return _bars(rng, seed, kind, symbol, bar_ns, cal, n, c, resolution, failed, spring, sigma_rel, inst,
                 realised(big_n), sub_sd, gap_bar, act, vol, known, news, op, news_ticks, phases, legs_at)


def _bars(rng: np.random.Generator, seed: int, kind: str, symbol: str, bar_ns: int, cal: _Calendar, n: int, c: int,
          resolution: int, failed: bool, spring: bool, sigma_rel: float, inst: Instrument,
          x: npt.NDArray[np.float64], sub_sd: npt.NDArray[np.float64], gap_bar: npt.NDArray[np.bool_],
          act: npt.NDArray[np.float64], vol: npt.NDArray[np.float64], known: npt.NDArray[np.float64],
          news: npt.NDArray[np.float64], op: npt.NDArray[np.float64], news_ticks: npt.NDArray[np.float64],
          phases: npt.NDArray[np.int8], legs_at: list[tuple[_Leg, int, int]]) -> Scenario:
    s = SUBSTEPS
    real = resolution * x
    prev = np.r_[real[0], real[:-1]]
    e1, e2 = rng.exponential(1.0, len(x)), rng.exponential(1.0, len(x))
    var = sub_sd ** 2
    hi_sub = (prev + real + np.sqrt((real - prev) ** 2 + 2 * var * e1)) / 2
    lo_sub = (prev + real - np.sqrt((real - prev) ** 2 + 2 * var * e2)) / 2
    is_open = act > 0
    hi_sub = np.where(is_open, hi_sub, -np.inf)
    lo_sub = np.where(is_open, lo_sub, np.inf)
    first = np.zeros(len(x), bool)
    first[::s] = True
    gap_sub = np.repeat(gap_bar, s) & first  # the bar opens after its first substep's jump
    hi_sub = np.where(gap_sub, -np.inf, hi_sub)
    lo_sub = np.where(gap_sub, np.inf, lo_sub)
    level = float(np.exp(rng.uniform(*np.log(inst.level))))
    pt = int(round(inst.point * SCALE))

    def price(v: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        p = level * np.exp(sigma_rel * (v - real[0]))
        return np.asarray(np.rint(p * SCALE / pt).astype(np.int64) * pt)

    close = price(real[s - 1::s])
    open_ = np.r_[price(real[:1]), close[:-1]]
    open_[gap_bar] = price(real[::s][gap_bar])
    high = np.maximum(price(hi_sub.reshape(n, s).max(axis=1)), np.maximum(open_, close))
    low = np.minimum(price(lo_sub.reshape(n, s).min(axis=1)), np.minimum(open_, close))
    # tick volume: quote updates follow the variance of the quotes and the number of child orders (impact
    # units, sqrt of size), not the size
    base = rng.uniform(150, 600) * (bar_ns / (15 * MINUTE_NS)) ** 0.8 / s
    flow = rng.uniform(0.15, 0.3)
    lam = base * (act * vol ** 2 + flow * (np.abs(known) + np.abs(news) + 0.6 * np.abs(op)) + news_ticks)
    lam = lam * is_open
    ticks = rng.poisson(lam.reshape(n, s).sum(axis=1) * rng.lognormal(0.0, 0.15, n))
    volume = np.maximum(ticks, 1).astype(np.int64) * 100
    start_ns = cal.start_ns[:n].copy()
    labels = _labels(legs_at, c, resolution, failed, high, low, close, phases)
    a = next(b0 for lg, b0, _ in legs_at if lg.phase)
    e = max(b1 for lg, _, b1 in legs_at if lg.phase)
    direction = -resolution if failed else resolution
    sc = Scenario(seed, kind, spring, failed, start_ns, start_ns + bar_ns, open_, high, low, close, volume, labels,
                  phases, (a, e), direction, bar_ns)
    _validate(sc)
    return sc


def _labels(legs_at: list[tuple[_Leg, int, int]], c: int, r: int, failed: bool, high: npt.NDArray[np.int64],
            low: npt.NDArray[np.int64], close: npt.NDArray[np.int64], phases: npt.NDArray[np.int8]) -> list[Label]:
    """The labels on the final bars; a swing's leg (and the phase it belongs to) ends at the swing's realised
    extreme, so ``phases`` is updated in place where that moves the end of phase A or D."""
    labels: list[Label] = []
    climax_low = (c * r) > 0  # the climax is at the real low

    def low_side(role: str) -> bool:
        if role in ("ps", "climax", "st"):
            return climax_low
        if role == "ar":
            return not climax_low
        if role == "spring":
            return r > 0
        return (r > 0) != failed  # the back-up: after a break up it is a low

    code = {p: i for i, p in enumerate(PHASES)}
    legs_at = list(legs_at)
    for i in range(len(legs_at) - 1):  # a swing ends at its extreme (the bar where it turns)
        leg, b0, b1 = legs_at[i]
        if leg.label not in ROLES and leg.label != "st":
            continue
        nxt, n0, n1 = legs_at[i + 1]
        reach = b1 + max(0, (n1 - n0 - 1) // 2)
        seg = low[b0:reach + 1] if low_side(leg.label) else -high[b0:reach + 1]
        end = max(b0 + int(np.argmin(seg)), b0 + 1)
        if end > n1 - 2:
            raise _Reject("no room after the extreme")
        legs_at[i] = (leg, b0, end)
        legs_at[i + 1] = (nxt, end + 1, n1)
        phases[b0:end + 1] = code[leg.phase]
        phases[end + 1:n1 + 1] = code[nxt.phase]
    for leg, b0, b1 in legs_at:
        if not leg.label or leg.label == "break":
            continue
        side = low_side(leg.label)
        seg = low[b0:b1 + 1] if side else -high[b0:b1 + 1]
        bar = b0 + int(np.argmin(seg))
        if leg.label == "st":
            name = "secondary_test"
        else:
            name = ROLES[leg.label][0 if side else 1]
        labels.append(Label(name, bar, b0, b1))
    # the break: the first close beyond the range's edge in its leg
    leg_b = next((b0, b1) for lg, b0, b1 in legs_at if lg.label == "break")
    climax = labels[1] if labels[0].event.startswith("preliminary") else labels[0]
    end_b = int(np.flatnonzero(phases == PHASES.index("B"))[-1])
    up = (r > 0) != failed
    edge = high[climax.bar:end_b + 1].max() if up else low[climax.bar:end_b + 1].min()
    closes = close[leg_b[0]:leg_b[1] + 1]
    beyond = np.flatnonzero(closes > edge if up else closes < edge)
    if not len(beyond):
        raise _Reject("the break never closes beyond the range")
    labels.append(Label("sign_of_strength" if up else "sign_of_weakness", leg_b[0] + int(beyond[0]), *leg_b))
    return sorted(labels, key=lambda lb: lb.bar)


def turn_overshoot(high: npt.NDArray[np.int64], low: npt.NDArray[np.int64], bar: int, low_side: bool,
                   reversal: float) -> float:
    """How far the swing labelled at ``bar`` (a low if ``low_side``) goes on beyond that bar's extreme before the
    price first reverses ``reversal`` (price units) from the swing's running extreme; 0 if the bar is the turn."""
    if low_side:
        ext = np.minimum.accumulate(low[bar:].astype(np.float64))
        back = np.flatnonzero(high[bar:] - ext >= reversal)
        stop = int(back[0]) if len(back) else len(ext) - 1
        return float(low[bar] - ext[stop])
    ext = np.maximum.accumulate(high[bar:].astype(np.float64))
    back = np.flatnonzero(ext - low[bar:] >= reversal)
    stop = int(back[0]) if len(back) else len(ext) - 1
    return float(ext[stop] - high[bar])


def _validate(sc: Scenario) -> None:
    """Reject a draw whose final bars do not show what the labels name (see Validation in the module docstring)."""
    n = len(sc)
    if not MIN_BARS <= n <= MAX_BARS or (sc.low <= 0).any():
        raise _Reject("bars")
    by = {lb.event: lb for lb in sc.labels}
    if any(lb.start >= lb.end for lb in sc.labels):
        raise _Reject("a leg of one bar")
    climax = by.get("selling_climax") or by["buying_climax"]
    if climax.bar < 30:
        raise _Reject("climax too early")
    end_b = int(np.flatnonzero(sc.phases == PHASES.index("B"))[-1])
    lo, hi = int(sc.low[climax.bar:end_b + 1].min()), int(sc.high[climax.bar:end_b + 1].max())
    height = hi - lo
    after = slice(climax.bar + 1, end_b + 1)
    if climax.event == "selling_climax":
        if sc.low[climax.bar] != lo or not (sc.low[after] > lo).all():
            raise _Reject("climax not a strict extreme")
    elif sc.high[climax.bar] != hi or not (sc.high[after] < hi).all():
        raise _Reject("climax not a strict extreme")
    ps = by.get("preliminary_support") or by.get("preliminary_supply")
    if ps is not None and not (sc.low[ps.bar] > lo if ps.event == "preliminary_support" else sc.high[ps.bar] < hi):
        raise _Reject("PS beyond the climax")
    ar = by.get("automatic_rally") or by["automatic_reaction"]
    ar_move = sc.high[ar.bar] - sc.low[climax.bar] if ar.event == "automatic_rally" else \
        sc.high[climax.bar] - sc.low[ar.bar]
    if ar_move < 0.5 * height:
        raise _Reject("AR too small")
    down = sc.kind in ("accumulation", "reaccumulation")  # the shakeout's side is support
    c_bars = np.flatnonzero(sc.phases == PHASES.index("C"))
    a, b = int(c_bars[0]), int(c_bars[-1]) + 1
    depth = lo - sc.low[a:b] if down else sc.high[a:b] - hi
    far = sc.high[a:b] - hi if down else lo - sc.low[a:b]
    if (far > 0).any():
        raise _Reject("phase C beyond the far edge")
    beyond = sc.close < lo if down else sc.close > hi
    shake = by.get("spring") or by.get("upthrust")
    if sc.spring:
        assert shake is not None
        ext = a + int(np.argmax(depth))
        if depth[ext - a] <= 0:
            raise _Reject("no spring below the edge")
        if shake.bar != ext:
            raise _Reject("spring not phase C's extreme")
        if depth[ext - a] > 0.5 * height:
            raise _Reject("spring too deep")
        window = sc.close[ext: ext + SHAKEOUT_BARS + 1]
        if not (window > lo if down else window < hi).any():
            raise _Reject("spring not back in time")
        if (depth[ext - a + SHAKEOUT_BARS + 1:] > 0).any():
            raise _Reject("phase C beyond the edge again")
        run = 0
        while ext - 1 - run >= 0 and beyond[ext - 1 - run]:
            run += 1
        if run > BRIEF_CLOSES:
            raise _Reject("spring not brief")
    elif (depth > 0).any():
        ext = a + int(np.argmax(depth))
        window = sc.close[ext: ext + SLOW_BARS + 1]
        if (window > lo if down else window < hi).any():
            raise _Reject("a phase-C dip neither spring nor slow")
        back = sc.close[ext:b] > lo if down else sc.close[ext:b] < hi
        if not back.any():
            raise _Reject("slow shakeout never back")
        first_in = ext + int(np.argmax(back))
        if (depth[first_in - a + 1:] > 0).any():
            raise _Reject("slow shakeout back beyond")
    brk = by.get("sign_of_strength") or by["sign_of_weakness"]
    if not RANGE_BARS[0] <= brk.bar - climax.bar <= RANGE_BARS[1]:
        raise _Reject("range length")
    stop = brk.bar if sc.failed else sc.structure[1] + 1
    out = sc.low[brk.start:stop] < lo if down else sc.high[brk.start:stop] > hi
    if out.any():
        raise _Reject("beyond the shakeout side after phase C")
    backup = by.get("last_point_of_support") or by["last_point_of_supply"]
    mid = (lo + hi) / 2
    if not (sc.low[backup.bar] > mid if brk.event == "sign_of_strength" else sc.high[backup.bar] < mid):
        raise _Reject("back-up past the middle")
    if sc.structure[1] >= n - 1:
        raise _Reject("no bars after the markup")
    before = sc.volume[climax.bar - 27: climax.bar - 3].mean()
    ratio = sc.volume[climax.bar - 2: climax.bar + 3].max() / before
    if not CLIMAX_RATIO[0] <= ratio <= CLIMAX_RATIO[1] or sc.volume[climax.bar] < before:
        raise _Reject("climax volume")
    if sc.high.max() / sc.low.min() > 3.0:
        raise _Reject("price wanders")
    run_in = slice(max(0, climax.bar - RUN_IN_BARS), climax.bar)
    if (sc.low[run_in] <= lo).any() if climax.event == "selling_climax" else (sc.high[run_in] >= hi).any():
        raise _Reject("climax not the extreme of the move into it")
    prev = sc.volume[max(0, climax.bar - CLIMAX_VOLUME[0]): climax.bar]
    if sc.volume[climax.bar] < CLIMAX_VOLUME[1] * float(np.median(prev)):
        raise _Reject("climax volume not climactic")
    for lb in sc.labels:  # every swing's label sits where it turns
        if lb.event in ("sign_of_strength", "sign_of_weakness"):
            continue
        low_side = lb.event in _LOW_SIDE or (lb.event == "secondary_test" and climax.event == "selling_climax")
        if turn_overshoot(sc.high, sc.low, lb.bar, low_side, TURN[0] * height) >= TURN[1] * height:
            raise _Reject("a swing turns after its label")
    st = by["secondary_test"]
    a_lo, a_hi = int(sc.low[climax.bar:st.end + 1].min()), int(sc.high[climax.bar:st.end + 1].max())
    b_bars = sc.phases == PHASES.index("B")
    slack = B_SLACK * (a_hi - a_lo)
    if ((sc.low[b_bars] < a_lo - slack).any() or (sc.close[b_bars] < a_lo).any()) if down else \
            ((sc.high[b_bars] > a_hi + slack).any() or (sc.close[b_bars] > a_hi).any()):
        raise _Reject("phase B beyond phase A on the shakeout's side")
    e_bars = sc.phases == PHASES.index("E")
    if (sc.low[e_bars] <= mid).any() if brk.event == "sign_of_strength" else (sc.high[e_bars] >= mid).any():
        raise _Reject("phase E back past the middle")
    why = undone(sc)
    if why:
        raise _Reject(why)
