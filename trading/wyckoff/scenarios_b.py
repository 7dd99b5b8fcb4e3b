"""Family B: a second, independently built generator of labelled Wyckoff schematics.

Fifteen-minute bars of an FX-like instrument on the FX week (closed Friday 22:00 to Sunday 22:00
UTC; the Monday open may gap), integer prices in points of ``1 / SCALE``. A scenario is noise, a
trend into the structure, the schematic (phases A to E), the move out of it and more noise. Kinds,
by the trend before the range and the way it is planned to resolve: accumulation (fall, up),
distribution (rise, down), reaccumulation (rise, up), redistribution (fall, down).

Price model. Bar returns carry GARCH(1,1) volatility (unit long-run variance, scaled by a
per-scenario base sigma and a 24-hour session profile) with standardized Student-t innovations
(df 3-6). Every leg has a target path (zigzag waypoints in trends and phase B, shaped curves for
the events) that advances in business time (fast in busy sessions); the close is the target plus
a deviation that follows an AR(1) (Ornstein-Uhlenbeck) process: a strong pull inside the range,
a weak one in trends (drift plus noise). Legs may carry bounds: the range edges reject closes
(they reflect back inside) and stop wicks, the last turning point bounds the leg's back side, and
after the breakout closes stay beyond the broken edge. Fast legs get wider bars. Highs and lows
are the body plus exponential wicks scaled by the bar's volatility. Weekend gaps are t(3)
shocks. News spikes (unlabelled distractors, 0-3 a scenario) are single bars stretched to 3-8
times the median range with 3-10 times the volume, mid-range in phase B or as wicks in the trends
and the noise, that close where they were.

Volume model (ticks, stored in hundredths): log volume is a per-scenario base (spread over 10x)
plus an AR(1) term, the session profile (quiet Asia, busy London, busiest London/New York
overlap), a term in the bar's log range, each leg's activity (climax and breakout high, tests
and phase B low) and lognormal noise. The climax bar is set to a per-scenario multiple (1.8-6,
log-uniform) of the mean of the 20 bars before it; PS, spring (quiet or shakeout), breakout and
spikes get their own multiples, the secondary test and the LPS are kept below the climax and the
SOS leg.

Schematic. Proportions vary per seed: a trend of 80-300 bars, the range (climax to the breakout
leg) 100-700 bars, its height 6-30 times the median bar range (taller for longer ranges, about as
the square root of the length). Phase A: preliminary support / supply (60%), the climax
(accelerating, wide bars), the automatic rally / reaction (the other edge), the secondary test
(short of the climax or a little beyond it, at most 8% of the height). Phase B: 2-6 swings (ending
on the breakout side), some touching the edges, sometimes (45%) an upthrust-like wick poke above
the top (4-12% of the height, closes stay inside). Phase C: a spring / upthrust 5-45% of the height
beyond the edge that closes back inside within 15 bars (quiet or shakeout volume), optionally
followed by a rally and an unlabelled test; or, without a spring, a higher low / lower high. Failed
schematics (20%): (a) the spring / upthrust closes back inside, then the range breaks the other
way; (b) a poke beyond the spring-side edge that never closes back inside and becomes the break.
Phase D: the SOS / SOW (widening bars, rising volume) then a pull-back (LPS / LPSY) on lower
volume. Phase E: the markup / markdown (100-300 bars).

Labelling conventions. All levels and bars are computed from the generated bars, not the plan.
Legs run between turning points: a leg starts the bar after the previous leg's extreme and ends at
its own extreme (the highest high or lowest low up to the end of its simulated bars; each leg is
simulated again until it turns beyond the previous turning point and passes its checks, and a
scenario that fails the final checks is drawn again from the same stream). A label's ``bar`` is its
leg's extreme, except the SOS / SOW: its bar is the first bar of its leg that closes beyond the
range edge. The range edges are the extremes of the bars from the climax bar to the end of phase B
(so the ST, phase B touches and pokes count; phase C does not): the spring / upthrust goes beyond
the spring-side edge, the SOS / SOW breaks the edge in the direction of the resolution (the
spring-side edge when the schematic fails). Names follow the context for PS / climax / AR (after a
fall: preliminary_support, selling_climax, automatic_rally; after a rise: preliminary_supply,
buying_climax, automatic_reaction), the planned resolution for the phase-C event (spring or
upthrust; without one, last_point_of_support / last_point_of_supply in phase C) and the actual
break for the SOS / SOW and the LPS / LPSY. Phases per bar: "" for noise and the trend in; A from
the PS leg (or the climax leg) through the secondary test; B the swings; C from the leg into the
spring / upthrust / phase-C test until the SOS / SOW leg begins (none for failure b); D the SOS /
SOW leg and the LPS leg; E the markup / markdown; "" after. ``structure`` is the first bar of phase
A and the last of phase E; ``direction`` the actual break (+1 up, -1 down). ``failed`` marks both
kinds of failure; ``spring`` that a spring / upthrust was labelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trading.wyckoff.scenarios import SCALE, START_NS, Label, Scenario

KINDS = ("accumulation", "distribution", "reaccumulation", "redistribution")
PHASES = ("", "A", "B", "C", "D", "E")
BAR_NS = 900 * 1_000_000_000
_SALT = 0x5EED_0B0B  # family B's own stream
_MIN = 60 * 1_000_000_000
_CLOSED = (4 * 1440 + 22 * 60, 6 * 1440 + 22 * 60)  # minutes from Monday 00:00 UTC: Fri 22:00 - Sun 22:00
_INF = math.inf
_A, _B, _C, _D, _E = 1, 2, 3, 4, 5

# by UTC hour: volatility (relative) and volume (relative) of an FX major
_VOL_HOUR = (0.55, 0.55, 0.6, 0.6, 0.55, 0.55, 0.65, 0.9, 1.25, 1.2, 1.1, 1.05,
             1.15, 1.45, 1.55, 1.5, 1.3, 1.0, 0.85, 0.75, 0.65, 0.5, 0.45, 0.5)
_VOLU_HOUR = (0.45, 0.5, 0.55, 0.55, 0.5, 0.5, 0.65, 1.0, 1.5, 1.45, 1.3, 1.2,
              1.35, 1.85, 2.0, 1.9, 1.6, 1.15, 0.9, 0.75, 0.6, 0.35, 0.3, 0.4)

Bound = float | list[float]
FloatArray = npt.NDArray[np.float64]


def _u(rng: np.random.Generator, a: float, b: float) -> float:
    return float(rng.uniform(a, b))


def _logu(rng: np.random.Generator, a: float, b: float) -> float:
    return float(math.exp(rng.uniform(math.log(a), math.log(b))))


def _ri(rng: np.random.Generator, a: int, b: int) -> int:
    """A random integer in [a, b]."""
    return int(rng.integers(a, b + 1))


def _path(a: float, b: float, n: int, shape: str = "lin", power: float = 2.0) -> list[float]:
    """n target values moving from a (before the first bar) to b (at the last bar)."""
    x = np.arange(1, n + 1, dtype=np.float64) / n
    if shape == "acc":
        f = x**power
    elif shape == "dec":
        f = 1.0 - (1.0 - x) ** power
    elif shape == "smooth":
        f = x * x * (3.0 - 2.0 * x)
    else:
        f = x
    return [float(v) for v in a + (b - a) * f]


def _zigzag(rng: np.random.Generator, a: float, b: float, n: int, frac: float, absw: float = 0.0,
            lo: float = -_INF, hi: float = _INF) -> list[float]:
    """A target path from a to b in pieces of 8-30 bars whose waypoints wander off the straight line."""
    k = min(n - 1, max(1, round(n / rng.uniform(8.0, 30.0))))
    if k <= 1:
        return _path(a, b, n, "smooth")
    cuts = np.sort(rng.choice(np.arange(1, n), k - 1, replace=False)).astype(np.float64)
    taper = np.minimum(1.0, 4.0 * (1.0 - cuts / n))  # calmer toward the end: the leg ends near b
    off = rng.uniform(-1.0, 1.0, k - 1) * (frac * abs(b - a) / k + absw) * taper
    way = np.clip(a + (b - a) * cuts / n + off, lo, hi)
    xs = np.concatenate(([0.0], cuts, [float(n)]))
    ys = np.concatenate(([a], way, [b]))
    return [float(v) for v in np.interp(np.arange(1, n + 1, dtype=np.float64), xs, ys)]


def _full(b: Bound, n: int) -> list[float]:
    return list(b) if isinstance(b, list) else [b] * n


def _timeline(start_ns: int, n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Start times of n open 15-minute bars, their UTC hour and whether each opens after a closure."""
    count = n * 7 // 5 + 2 * 7 * 96
    t = start_ns + np.arange(count, dtype=np.int64) * BAR_NS
    mow = ((t - START_NS) // _MIN) % (7 * 1440)
    t = t[(mow < _CLOSED[0]) | (mow >= _CLOSED[1])][:n]
    hour = ((t - START_NS) // _MIN) % 1440 // 60
    gap = np.zeros(n, dtype=np.bool_)
    gap[1:] = np.diff(t) > BAR_NS
    return t, hour, gap


def _box(*sides: tuple[int, float]) -> tuple[float, float]:
    """Wick bounds (low, high) from (side, level) pairs: side +1 caps the highs, -1 floors the lows."""
    lo, hi = -_INF, _INF
    for sgn, level in sides:
        if sgn > 0:
            hi = level
        else:
            lo = level
    return lo, hi


class _Sim:
    """Bar-by-bar price process: GARCH-t shocks, an AR(1) deviation from a target, bounded legs."""

    def __init__(self, rng: np.random.Generator, n: int, p0: float, sigma: float,
                 vol: FloatArray, gap: list[bool]) -> None:
        self.rng = rng
        self.sigma = sigma
        self.vol: FloatArray = np.asarray(vol, dtype=np.float64)
        self.vol_l: list[float] = self.vol.tolist()
        self.gap = gap
        self.df = _ri(rng, 3, 6)
        self.tscale = math.sqrt((self.df - 2) / self.df)
        self.alpha = _u(rng, 0.04, 0.12)
        self.beta = _u(rng, 0.8, 0.94 - self.alpha)
        self.omega = 1.0 - self.alpha - self.beta
        self.wick = _u(rng, 0.3, 0.6)
        self.gap_size = _u(rng, 0.2, 1.2)
        self.o: FloatArray = np.zeros(n)
        self.h: FloatArray = np.zeros(n)
        self.l: FloatArray = np.zeros(n)
        self.c: FloatArray = np.zeros(n)
        self.i = 0
        self.p = p0
        self.var = 1.0
        self.z2 = 1.0

    def state(self) -> tuple[int, float, float, float]:
        return self.i, self.p, self.var, self.z2

    def reset(self, s: tuple[int, float, float, float]) -> None:
        self.i, self.p, self.var, self.z2 = s

    def run(self, tau: list[float], kappa: float, mult: Bound = 1.0, box: tuple[Bound, Bound] = (-_INF, _INF),
            cbox: tuple[Bound, Bound] = (-_INF, _INF), lock: tuple[float, int] | None = None) -> tuple[int, int]:
        """Simulate len(tau) bars toward the targets; returns the first and last bar.

        ``box`` bounds the wicks (low, high), ``cbox`` the closes (which also stay inside ``box``), per bar
        or for all; once a close is beyond ``lock`` (level, side) the closes stay beyond it.
        """
        n = len(tau)
        wlo, whi = box
        clo, chi = cbox
        # the target moves in business time: fast in the busy sessions, slowly in the quiet ones
        clock = np.cumsum(self.vol[self.i:self.i + n])
        tau = np.interp(clock * (n / clock[-1]), np.arange(n + 1, dtype=np.float64), [self.p, *tau]).tolist()
        rng = self.rng
        eps = (np.clip(rng.standard_t(self.df, n), -9.0, 9.0) * self.tscale).tolist()
        wk = (rng.exponential(self.wick, (n, 2))).tolist()
        shade = rng.uniform(0.0, 0.4, (n, 2)).tolist()  # bars stopped by a bound stop short of it by chance
        gaps = (np.clip(rng.standard_t(3, n), -6.0, 6.0) * self.gap_size * self.sigma).tolist()
        mu, wl, wh, cl, ch = _full(mult, n), _full(wlo, n), _full(whi, n), _full(clo, n), _full(chi, n)
        speed = abs(tau[-1] - self.p) / n / (self.sigma * float(self.vol[self.i:self.i + n].mean()))
        if speed > 0.6:  # fast legs come with wider bars
            widen = math.sqrt(speed / 0.6)
            mu = [m * widen for m in mu]
        phi = 1.0 - kappa
        first = self.i
        o_, h_, l_, c_ = self.o, self.h, self.l, self.c
        p, var, z2 = self.p, self.var, self.z2
        x = 0.0  # deviation of the close from the target; the first target moves from p
        locked = False
        for k in range(n):
            i = first + k
            lo_w, hi_w = wl[k], wh[k]
            o = p
            if self.gap[i]:
                o = min(max(p + gaps[k], lo_w), hi_w)
                x += o - p
            var = self.omega + self.alpha * z2 + self.beta * var
            s = self.sigma * self.vol_l[i] * math.sqrt(var) * mu[k]
            e = eps[k]
            x = phi * x + s * e
            c = tau[k] + x
            lo_c, hi_c = max(cl[k], lo_w), min(ch[k], hi_w)
            if locked and lock is not None:
                if lock[1] > 0:
                    lo_c = max(lo_c, lock[0])
                else:
                    hi_c = min(hi_c, lock[0])
            if c > hi_c:  # rejected at the bound: reflected, by at most about a bar
                c = hi_c - min(0.5 * (c - hi_c), s * shade[k][0] * 2.0)
            if c < lo_c:
                c = lo_c + min(0.5 * (lo_c - c), s * shade[k][1] * 2.0)
            if c > hi_c or c < lo_c:
                c = 0.5 * (lo_c + hi_c) if hi_c < _INF and lo_c > -_INF else min(max(c, lo_c), hi_c)
            x = c - tau[k]
            top, bot = max(o, c), min(o, c)
            hi = top + s * wk[k][0]
            if hi > hi_w:
                hi = max(top, hi_w - s * shade[k][0])
            lo = bot - s * wk[k][1]
            if lo < lo_w:
                lo = min(bot, lo_w + s * shade[k][1])
            if lock is not None and not locked and (c - lock[0]) * lock[1] > 0:
                locked = True
            o_[i], h_[i], l_[i], c_[i] = o, hi, lo, c
            p = c
            z2 = min(e * e, 25.0)
        self.i, self.p, self.var, self.z2 = first + n, p, var, z2
        return first, first + n - 1

    def ext(self, a: int, b: int, sign: int) -> tuple[int, float]:
        """The bar and value of the highest high (sign +1) or lowest low (-1) of bars a..b."""
        if sign > 0:
            k = a + int(np.argmax(self.h[a:b + 1]))
            return k, float(self.h[k])
        k = a + int(np.argmin(self.l[a:b + 1]))
        return k, float(self.l[k])


@dataclass
class _Leg:
    role: str
    n: int
    phase: int
    sign: int  # +1 the leg ends at a high, -1 at a low, 0 no turning point
    first: int = 0  # planned (simulated) bars
    last: int = 0
    turn: int = -1
    start: int = 0  # span between turning points
    end: int = 0


class _Retry(Exception):
    pass


def _ext(h: npt.NDArray[np.int64], lo: npt.NDArray[np.int64], a: int, b: int, sign: int) -> tuple[int, int]:
    if sign > 0:
        k = a + int(np.argmax(h[a:b + 1]))
        return k, int(h[k])
    k = a + int(np.argmin(lo[a:b + 1]))
    return k, int(lo[k])


def _build(rng: np.random.Generator, seed: int, kind: str) -> Scenario:
    cs = 1 if kind in ("distribution", "reaccumulation") else -1  # the trend into the range
    rs = 1 if kind in ("accumulation", "reaccumulation") else -1  # the planned resolution
    mode = "none"
    if rng.random() < 0.2:
        mode = "a" if rng.random() < 0.5 else "b"
    spring = mode == "a" or (mode == "none" and rng.random() < 0.62)
    test = mode == "none" and spring and rng.random() < 0.5
    dr = -rs if mode != "none" else rs

    sigma = _logu(rng, 250.0, 900.0)  # points per bar, before the session and GARCH scaling
    typ = 0.95 * sigma  # about the median bar range in the structure
    has_ps = rng.random() < 0.6
    rlen = _ri(rng, 100, 700)
    height = min(max(_logu(rng, 0.45, 1.5) * math.sqrt(rlen), 6.5), 30.0) * typ  # wider ranges last longer
    p0 = _u(rng, 1.08, 1.38) * SCALE - cs * height

    legs: list[_Leg] = [_Leg("pre", _ri(rng, 40, 250), 0, 0), _Leg("trend", _ri(rng, 80, 300), 0, 0)]
    if has_ps:
        legs += [_Leg("ps", _ri(rng, 8, 35), _A, cs), _Leg("bounce", _ri(rng, 5, 25), _A, -cs)]
    n_ar = max(6, round(rlen * _u(rng, 0.04, 0.12)))
    n_st = max(8, round(rlen * _u(rng, 0.05, 0.15)))
    legs += [_Leg("climax", _ri(rng, 6, 30), _A, cs), _Leg("ar", n_ar, _A, -cs), _Leg("st", n_st, _A, cs)]
    c_legs: list[_Leg] = []
    if spring:
        c_legs.append(_Leg("spring", max(5, round(rlen * _u(rng, 0.025, 0.07))), _C, -rs))
        if mode == "a" or test:
            c_legs.append(_Leg("recovery", max(4, round(rlen * _u(rng, 0.02, 0.07))), _C, rs))
        if test:
            c_legs.append(_Leg("test", max(5, round(rlen * _u(rng, 0.03, 0.08))), _C, -rs))
    elif mode == "none":
        c_legs.append(_Leg("lpsc", max(8, round(rlen * _u(rng, 0.05, 0.12))), _C, -rs))
    n_b = max(36, rlen - n_ar - n_st - sum(leg.n for leg in c_legs))
    odd = cs == -rs  # phase B starts away from the climax and ends on the breakout side
    choices = [m for m in ((3, 5) if odd else (2, 4, 6)) if m * 12 <= n_b]
    m = int(rng.choice(choices))
    share = rng.dirichlet(np.full(m, 2.5))
    b_lens = [max(10, round(n_b * float(f))) for f in share]
    sign = -cs
    for j, nb in enumerate(b_lens):
        legs.append(_Leg(f"b{j}", nb, _B, sign))
        sign = -sign
    legs += c_legs
    n_sos = min(70, max(10, round(rlen * _u(rng, 0.05, 0.14))))
    legs += [_Leg("sos", n_sos, _D, dr), _Leg("lps", _ri(rng, 8, 50), _D, -dr),
             _Leg("markup", _ri(rng, 100, 300), _E, 0), _Leg("post", _ri(rng, 30, 200), 0, 0)]
    n = sum(leg.n for leg in legs)
    start = START_NS + (seed % 500) * 7 * 86_400 * 1_000_000_000
    t0, hour, gap_at = _timeline(start, n)
    amp = _u(rng, 0.7, 1.2)
    vol = np.array(_VOL_HOUR)[hour] ** amp
    sim = _Sim(rng, n, p0, sigma, vol, [bool(g) for g in gap_at])
    byrole = {leg.role: leg for leg in legs}

    pivot = [-1]  # the last turning point (-1 after a leg without one)

    def attempt(leg: _Leg, make: Callable[[], tuple[int, int]], check: Callable[[], bool], tries: int = 30,
                strict: bool = True) -> None:
        """Simulate the leg until it passes its check; a labelled (strict) leg must turn late in its own bars
        and beyond the whole bar of the last turning point, an unlabelled one only after that bar."""
        state = sim.state()
        for _ in range(tries):
            sim.reset(state)
            leg.first, leg.last = make()
            if leg.sign:
                a = pivot[0] + 1 if pivot[0] >= 0 else leg.first
                leg.turn = sim.ext(a, leg.last, leg.sign)[0]
                if strict and leg.turn < leg.first + 0.4 * leg.n:
                    continue
                if strict and pivot[0] >= 0 and sim.ext(pivot[0], leg.last, leg.sign)[0] != leg.turn:
                    continue
            if check():
                pivot[0] = leg.turn if leg.sign else -1
                return
        raise _Retry

    def prev_ext(leg: _Leg) -> float:
        return float(sim.h[leg.turn] if leg.sign > 0 else sim.l[leg.turn])

    def prev_ext_sign(leg: _Leg, sgn: int) -> float:
        return sim.ext(leg.first, leg.last, sgn)[1]

    tiny = max(3.0, 0.004 * height)

    def ok() -> bool:
        return True

    def own_turn(leg: _Leg) -> Callable[[], bool]:
        return lambda: leg.turn >= leg.first

    def b_run(n_leg: int, to: float, kb: float, shape: str, lo_w: float, hi_w: float,
              top: float, bot: float) -> Callable[[], tuple[int, int]]:
        def run() -> tuple[int, int]:
            if shape == "zigzag":
                tau = _zigzag(rng, sim.p, to, n_leg, 0.6, _u(rng, 0.03, 0.15) * (top - bot), bot, top)
            else:
                tau = _path(sim.p, to, n_leg, shape)
            return sim.run(tau, kb, box=(lo_w, hi_w), cbox=(bot + tiny, top - tiny))

        return run

    # noise, then the trend in
    pre = byrole["pre"]
    attempt(pre, lambda: sim.run([sim.p] * pre.n, 0.03), ok)
    tr = byrole["trend"]
    move = min(max(_u(rng, 0.8, 2.5) * height, tr.n * sigma * 0.08), tr.n * sigma * 0.4)
    k_tr = _u(rng, 0.015, 0.04)
    attempt(tr, lambda: sim.run(_zigzag(rng, sim.p, p0 + cs * move, tr.n, _u(rng, 0.5, 1.5)), k_tr,
                                box=_box((cs, p0 + cs * (move + 0.3 * height)))), ok)
    # phase A: the climax goes g heights beyond the trend's extreme, the PS part of the way
    g = _u(rng, 0.5, 1.1)
    t_ext = prev_ext_sign(tr, cs)
    c_plan = t_ext + cs * g * height
    last: _Leg = tr
    if has_ps:
        ps, bn = byrole["ps"], byrole["bounce"]
        lvl = c_plan - cs * min(_u(rng, 0.4, 0.8) * g, 0.5) * height  # between the trend's extreme and the SC
        pw = _u(rng, 1.5, 2.5)
        attempt(ps, lambda: sim.run(_path(sim.p, lvl, ps.n, "acc", pw), _u(rng, 0.15, 0.3),
                                    mult=_path(1.0, _u(rng, 1.2, 1.8), ps.n, "acc", 3.0),
                                    box=_box((cs, c_plan - cs * 0.12 * height))),
                lambda: sim.ext(tr.first, ps.last, cs)[0] == ps.turn)
        pse = prev_ext(ps)
        bn_to = pse - cs * min(_u(rng, 0.15, 0.35) * height, 0.65 * height - abs(pse - c_plan))  # below the AR
        if (sim.p - bn_to) * cs < 0.12 * height:  # a move up from where the PS leg left off
            bn_to = sim.p - cs * min(0.12 * height, abs(c_plan - cs * 0.8 * height - sim.p))
        attempt(bn, lambda: sim.run(_path(sim.p, bn_to, bn.n, "dec"), _u(rng, 0.15, 0.3),
                                    box=_box((cs, pse - cs * tiny), (-cs, c_plan - cs * 0.85 * height))), ok,
                strict=False)
        last = bn
    cl = byrole["climax"]
    back = _box((-cs, prev_ext(last) + cs * tiny)) if last.sign else _box()
    wide = _ri(rng, 1, min(3, cl.n - 1))
    cmult = [1.0] * (cl.n - wide) + [_u(rng, 1.8, 3.5) for _ in range(wide)]
    cpw = _u(rng, 2.0, 3.5)

    def climax_ok() -> bool:
        k = cl.turn
        if sim.ext(tr.first, cl.last, cs)[0] != k:
            return False
        rng_k = sim.h[k] - sim.l[k]
        return bool(rng_k >= 1.4 * float(np.median(sim.h[k - 40:k] - sim.l[k - 40:k])))

    attempt(cl, lambda: sim.run(_path(sim.p, c_plan, cl.n, "acc", cpw), _u(rng, 0.2, 0.4), mult=cmult, box=back),
            climax_ok)
    climax = prev_ext(cl)
    ar = byrole["ar"]
    a_plan = climax - cs * height
    attempt(ar, lambda: sim.run(_path(sim.p, a_plan, ar.n, "dec", _u(rng, 1.5, 2.5)), _u(rng, 0.12, 0.3),
                                box=_box((cs, climax - cs * tiny))),
            lambda: 0.6 * height <= abs(prev_ext(ar) - climax) <= 1.4 * height)
    a_lvl = prev_ext(ar)
    hgt = abs(a_lvl - climax)
    st = byrole["st"]
    if rng.random() < 0.35:  # a little beyond the climax
        st_to, st_bound = climax + cs * _u(rng, 0.01, 0.07) * hgt, climax + cs * 0.08 * hgt
    else:
        st_to, st_bound = climax - cs * _u(rng, 0.03, 0.25) * hgt, climax - cs * tiny
    attempt(st, lambda: sim.run(_path(sim.p, st_to, st.n, "smooth"), _u(rng, 0.1, 0.25),
                                box=_box((cs, st_bound), (-cs, a_lvl + cs * tiny))), ok)
    last = st
    # phase B
    b_legs = [leg for leg in legs if leg.phase == _B]
    pokes = [leg for leg in b_legs if leg.sign > 0]  # an upthrust-like poke above the range
    poke = pokes[int(rng.integers(len(pokes)))] if pokes and rng.random() < 0.45 else None
    for leg in b_legs:
        _, top = sim.ext(cl.turn, sim.i - 1, 1)
        _, bot = sim.ext(cl.turn, sim.i - 1, -1)
        hb = top - bot
        edge = top if leg.sign > 0 else bot
        back_lvl = prev_ext(last) + leg.sign * tiny  # the other side: not beyond the last turn
        if leg is poke:
            to = edge + leg.sign * _u(rng, 0.01, 0.05) * hb
            wick_bound = edge + leg.sign * _u(rng, 0.04, 0.12) * hb
        else:
            frac = _u(rng, 0.01, 0.07) if rng.random() < 0.35 else _u(rng, 0.1, 0.45)
            to = edge - leg.sign * frac * hb
            if (to - sim.p) * leg.sign < 0.3 * hb:  # a swing, not a drift
                to = min(max(sim.p + leg.sign * 0.3 * hb, bot + 0.01 * hb), top - 0.01 * hb)
            wick_bound = edge + leg.sign * _u(rng, -0.02, 0.02) * hb
        kb = _u(rng, 0.04, 0.15)
        shape = "zigzag" if rng.random() < 0.75 else "smooth"
        lo_w, hi_w = (back_lvl, wick_bound) if leg.sign > 0 else (wick_bound, back_lvl)
        attempt(leg, b_run(leg.n, to, kb, shape, lo_w, hi_w, top, bot), own_turn(leg), strict=False)
        last = leg
    b_end = last
    _, s_lvl = sim.ext(cl.turn, b_end.last, -rs)  # the spring-side edge
    _, e_lvl = sim.ext(cl.turn, b_end.last, rs)  # the breakout-side edge
    hr = abs(e_lvl - s_lvl)

    def fr(u: float) -> float:
        return s_lvl + rs * u * hr

    inner_e = e_lvl - rs * tiny
    depth = 0.0
    sp_low = 0.0
    shake = rng.random() < 0.45
    # phase C
    if spring:
        sp = byrole["spring"]
        dive = min(sp.n - 1, _ri(rng, 1, 5))
        wick_only = dive == 1 and rng.random() < 0.3
        d_plan = _u(rng, 0.05, 0.33)
        ua = _u(rng, 0.03, 0.2)
        back_lvl = prev_ext(last) - rs * tiny
        n_in = sp.n - dive
        guard = fr(0) + rs * tiny

        def make_spring() -> tuple[int, int]:
            tau = _path(sim.p, fr(ua), n_in, "smooth") + _path(fr(ua), fr(-d_plan), dive, "acc", 1.5)
            far = [guard] * n_in + [fr(-0.44)] * dive
            lo_w, hi_w = (far, [back_lvl] * sp.n) if rs > 0 else ([back_lvl] * sp.n, far)
            mult = [1.0] * n_in + [_u(rng, 1.5, 2.5) if shake else _u(rng, 0.8, 1.2) for _ in range(dive)]
            if wick_only:
                cb = [-_INF if rs > 0 else _INF] * n_in + [guard]
                return sim.run(tau, _u(rng, 0.2, 0.4), mult=mult, box=(lo_w, hi_w),
                               cbox=(cb, _INF) if rs > 0 else (-_INF, cb))
            return sim.run(tau, _u(rng, 0.2, 0.4), mult=mult, box=(lo_w, hi_w))

        attempt(sp, make_spring, lambda: 0.05 * hr <= (s_lvl - prev_ext(sp)) * rs <= 0.45 * hr)
        sp_low = prev_ext(sp)
        depth = (s_lvl - sp_low) * rs / hr
        last = sp

        def back_inside(upto: int) -> bool:
            below = [k for k in range(sp.first, upto + 1) if (s_lvl - (sim.l[k] if rs > 0 else sim.h[k])) * rs > 0]
            if not below:
                return False
            k0 = below[0]
            for k in range(k0, min(upto, k0 + 14) + 1):
                if (sim.c[k] - s_lvl) * rs > 0:
                    return True
            return False

        if mode == "a" or test:
            rc = byrole["recovery"]
            u_r = _u(rng, 0.35, 0.8)
            attempt(rc, lambda: sim.run(_path(sim.p, fr(u_r), rc.n, "dec", _u(rng, 2.5, 3.5)), _u(rng, 0.2, 0.35),
                                        box=_box((-rs, sp_low + rs * tiny), (rs, inner_e))),
                    lambda: back_inside(rc.last))
            last = rc
        if test:
            te = byrole["test"]
            u_t = _u(rng, -0.4 * depth, 0.2)
            attempt(te, lambda: sim.run(_path(sim.p, fr(u_t), te.n, "smooth"), _u(rng, 0.15, 0.3),
                                        box=_box((-rs, fr(-0.6 * depth)), (rs, prev_ext(rc) - rs * tiny))), ok)
            last = te
    elif mode == "none":
        lp = byrole["lpsc"]
        u_l = _u(rng, 0.08, 0.35)
        attempt(lp, lambda: sim.run(_path(sim.p, fr(u_l), lp.n, "smooth"), _u(rng, 0.15, 0.3),
                                    box=_box((-rs, fr(0.04)), (rs, prev_ext(last) - rs * tiny))), ok)
        last = lp
    # phase D: the break out of the range, the pull-back
    so = byrole["sos"]
    edge = e_lvl if mode == "none" else s_lvl
    far_end = edge + dr * _u(rng, 0.2, 0.55) * hr
    if mode == "a":
        far_end = sp_low + dr * _u(rng, 0.15, 0.45) * hr
    spread = _path(1.0, _u(rng, 1.4, 2.2), so.n, "acc", 1.5)
    k_so = _u(rng, 0.12, 0.3)
    back_so = prev_ext(last) + dr * tiny
    quick = spring and not test and mode == "none"

    def make_sos() -> tuple[int, int]:
        if quick:  # straight from the spring: back inside fast, then the break
            k = min(so.n - 2, _ri(rng, 1, 6))
            tau = _path(sim.p, fr(0.15), k, "dec") + _path(fr(0.15), far_end, so.n - k, "acc", _u(rng, 1.3, 2.0))
        elif mode == "b":  # a poke beyond the edge that never closes back inside
            hold = _ri(rng, 2, 8)
            k = max(2, round((so.n - hold) * _u(rng, 0.5, 0.7)))
            near = edge + dr * _u(rng, 0.04, 0.1) * hr
            tau = (_path(sim.p, near, k, "acc", 1.5) + [near] * hold
                   + _path(near, far_end, max(2, so.n - k - hold), "acc", 1.5))[:so.n]
        else:
            tau = _path(sim.p, far_end, so.n, "acc", _u(rng, 1.3, 2.2))
        return sim.run(tau, k_so, mult=spread, lock=(edge + 2.0 * dr, dr), box=_box((-dr, back_so)))

    def sos_ok() -> bool:
        first = [k for k in range(so.first, so.turn + 1) if (sim.c[k] - edge) * dr > 0]
        if not first or (prev_ext(so) - edge) * dr < 0.1 * hr:
            return False
        if quick and not back_inside(so.turn):
            return False
        return not (mode == "a" and (prev_ext(so) - sp_low) * dr <= 0)

    attempt(so, make_sos, sos_ok)
    top_so = prev_ext(so)
    lps = byrole["lps"]
    attempt(lps, lambda: sim.run(_path(sim.p, edge + dr * _u(rng, -0.1, 0.5) * abs(top_so - edge), lps.n, "smooth"),
                                 _u(rng, 0.12, 0.25),
                                 mult=_u(rng, 0.7, 0.9),
                                 box=_box((dr, top_so - dr * tiny), (-dr, edge - dr * 0.25 * hr))), ok)
    lps_lvl = prev_ext(lps)
    mk = byrole["markup"]
    move2 = min(max(_u(rng, 1.0, 3.0) * hr, mk.n * sigma * 0.08), mk.n * sigma * 0.4)
    ramp = [lps_lvl + dr * (tiny + 0.25 * abs(top_so - lps_lvl) * min(1.0, k / 25)) for k in range(mk.n)]
    mk_box: tuple[Bound, Bound] = (ramp, _INF) if dr > 0 else (-_INF, ramp)
    attempt(mk, lambda: sim.run(_zigzag(rng, sim.p, sim.p + dr * move2, mk.n, _u(rng, 0.5, 1.5)), _u(rng, 0.015, 0.04),
                                box=mk_box), ok)
    post = byrole["post"]
    attempt(post, lambda: sim.run([sim.p] * post.n, 0.03), ok)

    # integer bars
    o = np.rint(sim.o).astype(np.int64)
    c = np.rint(sim.c).astype(np.int64)
    h = np.maximum(np.rint(sim.h).astype(np.int64), np.maximum(o, c))
    lo = np.minimum(np.rint(sim.l).astype(np.int64), np.minimum(o, c))
    # spans between turning points (from the integer bars)
    prev: _Leg | None = None
    for leg in legs:
        leg.start = leg.first if prev is None or not prev.sign else prev.turn + 1
        if leg.sign:
            leg.turn = _ext(h, lo, leg.start, leg.last, leg.sign)[0]
            leg.end = leg.turn
        else:
            leg.end = leg.last
        prev = leg
    hr_i = float(abs(_ext(h, lo, cl.turn, b_end.end, 1)[1] - _ext(h, lo, cl.turn, b_end.end, -1)[1]))
    med = float(np.median(h - lo))

    # news spikes: distractors
    n_spk = int(rng.choice([0, 1, 1, 2, 2, 3]))
    spikes: list[int] = []
    mid_b = [k for leg in b_legs for k in range(leg.start + 1, leg.end)]
    s_i, e_i = _ext(h, lo, cl.turn, b_end.end, -rs)[1], _ext(h, lo, cl.turn, b_end.end, rs)[1]
    band_lo, band_hi = min(s_i, e_i) + 0.1 * hr_i, max(s_i, e_i) - 0.1 * hr_i
    climax_i = _ext(h, lo, cl.first, cl.last, cs)[1]
    lps_i = _ext(h, lo, lps.first, lps.last, -dr)[1]
    for _ in range(n_spk):
        where = rng.random()
        if where < 0.4 and mid_b:
            k = mid_b[int(rng.integers(len(mid_b)))]
            lim_lo, lim_hi = band_lo, band_hi
        elif where < 0.7:
            k = _ri(rng, pre.first + 5, tr.first + int(0.7 * tr.n))
            lim_lo, lim_hi = (-_INF, climax_i - 0.3 * hgt) if cs > 0 else (climax_i + 0.3 * hgt, _INF)
        elif where < 0.9:
            k = _ri(rng, mk.start + mk.n // 2, mk.end - 1)
            lim_lo, lim_hi = (lps_i + 0.15 * hr_i, _INF) if dr > 0 else (-_INF, lps_i - 0.15 * hr_i)
        else:
            k = _ri(rng, post.first, post.last)
            lim_lo, lim_hi = -_INF, _INF
        if k in spikes or k - 1 in spikes or k + 1 in spikes:
            continue
        want = _u(rng, 3.0, 8.0) * med
        extra = want - float(h[k] - lo[k])
        if extra <= 0:
            continue
        up = _u(rng, 0.0, 1.0)
        nh, nl = float(h[k]) + extra * up, float(lo[k]) - extra * (1.0 - up)
        if nh > lim_hi:
            nl -= nh - lim_hi
            nh = lim_hi
        if nl < lim_lo:
            nh = min(lim_hi, nh + lim_lo - nl)
            nl = lim_lo
        for leg in legs:  # stay within the leg's own extremes
            if leg.first <= k <= leg.last and leg.sign:
                nh = min(nh, float(_ext(h, lo, leg.first, leg.last, 1)[1]) - 1.0)
                nl = max(nl, float(_ext(h, lo, leg.first, leg.last, -1)[1]) + 1.0)
        if nh - nl < 3.0 * med or nh < h[k] or nl > lo[k]:
            continue
        h[k], lo[k] = round(nh), round(nl)
        spikes.append(k)

    # volume
    vu = np.array(_VOLU_HOUR)[hour] ** _u(rng, 0.8, 1.3)
    act = np.zeros(n)
    for leg in legs:
        a, b = leg.first, leg.last + 1
        r = leg.role
        if r == "trend":
            act[a:b] = _u(rng, 0.0, 0.25)
        elif r == "ps":
            act[a:b] = np.linspace(0.1, 0.5, leg.n)
        elif r == "bounce" or r == "recovery":
            act[a:b] = 0.05
        elif r == "climax":
            act[a:b] = np.linspace(0.2, 0.9, leg.n)
        elif r == "ar":
            act[a:b] = np.linspace(0.5, 0.1, leg.n)
        elif r == "st":
            act[a:b] = _u(rng, -0.5, -0.2)
        elif leg.phase == _B:
            act[a:b] = -0.1 - 0.3 * (a - b_legs[0].first) / max(1, b_end.last - b_legs[0].first) + _u(rng, -0.1, 0.1)
        elif r == "spring":
            act[a:b] = -0.3
            act[b - 3:b] = 0.6 if shake else -0.35
        elif r in ("test", "lpsc"):
            act[a:b] = _u(rng, -0.55, -0.3)
        elif r == "sos":
            act[a:b] = np.linspace(0.0, _u(rng, 0.3, 0.7), leg.n)
        elif r == "lps":
            act[a:b] = _u(rng, -0.6, -0.3)
        elif r == "markup":
            act[a:b] = _u(rng, 0.1, 0.3)
    ar1 = np.zeros(n)
    phi_v, sd_v = _u(rng, 0.5, 0.85), _u(rng, 0.12, 0.25)
    shocks = rng.normal(0.0, sd_v, n).tolist()
    acc = 0.0
    for k in range(n):
        acc = phi_v * acc + shocks[k]
        ar1[k] = acc
    gamma = _u(rng, 0.4, 0.9)
    lrange = np.log(np.maximum(h - lo, 1).astype(np.float64) / med)
    v = np.exp(math.log(_logu(rng, 200.0, 2000.0)) + ar1 + np.log(vu) + gamma * lrange + act
               + rng.normal(0.0, _u(rng, 0.15, 0.3), n))

    def recent(k: int) -> float:
        return float(v[max(0, k - 20):k].mean())

    if has_ps:
        k = byrole["ps"].turn
        v[k] = max(v[k], recent(k) * _u(rng, 1.3, 2.5))
    climax_mult = _logu(rng, 1.8, 6.0)
    k_sc = cl.turn
    if k_sc + 1 < n:
        v[k_sc + 1] = max(v[k_sc + 1], recent(k_sc) * climax_mult * _u(rng, 0.3, 0.7))
    v[k_sc] = recent(k_sc) * climax_mult
    k_st = st.turn
    v[k_st] = min(v[k_st], v[k_sc] * _u(rng, 0.25, 0.7))
    if spring:
        k = byrole["spring"].turn
        v[k] = recent(k) * (_u(rng, 1.8, 4.5) if shake else _u(rng, 0.35, 0.85))
    edge_i = _ext(h, lo, cl.turn, b_end.end, dr)[1]
    k_bo = next(k for k in range(so.start, so.end + 1) if (c[k] - edge_i) * dr > 0)
    v[k_bo] = max(v[k_bo], recent(k_bo) * _u(rng, 1.4, 3.0))
    k_lps = lps.turn
    v[k_lps] = min(v[k_lps], float(v[so.start:so.end + 1].mean()) * _u(rng, 0.35, 0.75))
    for k in spikes:
        v[k] = recent(k) * _u(rng, 3.0, 10.0)
    volume = np.maximum(np.rint(v), 1).astype(np.int64) * 100

    # labels and phases
    ctx = "support" if cs < 0 else "supply"
    names = {"ps": f"preliminary_{ctx}", "climax": "selling_climax" if cs < 0 else "buying_climax",
             "ar": "automatic_rally" if cs < 0 else "automatic_reaction", "st": "secondary_test",
             "spring": "spring" if rs > 0 else "upthrust",
             "lpsc": "last_point_of_support" if rs > 0 else "last_point_of_supply",
             "lps": "last_point_of_support" if dr > 0 else "last_point_of_supply"}
    labels: list[Label] = []
    phases = np.zeros(n, dtype=np.int8)
    for leg in legs:
        phases[leg.start:leg.end + 1] = leg.phase
        if leg.role in names:
            labels.append(Label(names[leg.role], leg.turn, leg.start, leg.end))
        elif leg.role == "sos":
            labels.append(Label("sign_of_strength" if dr > 0 else "sign_of_weakness", k_bo, leg.start, leg.end))
    first_a = next(leg.start for leg in legs if leg.phase == _A)
    sc = Scenario(seed=seed, kind=kind, spring=spring, failed=mode != "none", start_ns=t0,
                  end_ns=t0 + BAR_NS, open=o, high=h, low=lo, close=c, volume=volume, labels=labels,
                  phases=phases, structure=(first_a, mk.end), direction=dr, bar_ns=BAR_NS)
    if not _valid(sc, cs, rs):
        raise _Retry
    return sc


def _valid(sc: Scenario, cs: int, rs: int) -> bool:
    """The labels agree with the bars (the conventions in the module docstring)."""
    h, lo, c, o = sc.high, sc.low, sc.close, sc.open
    if not (np.all(h >= np.maximum(o, c)) and np.all(lo <= np.minimum(o, c)) and np.all(np.diff(sc.end_ns) > 0)):
        return False
    if np.any(sc.volume < 100):
        return False
    lab = {x.event: x for x in sc.labels}
    climax = lab["selling_climax" if cs < 0 else "buying_climax"]
    ar = lab["automatic_rally" if cs < 0 else "automatic_reaction"]
    st = lab["secondary_test"]
    dr = sc.direction
    if any(not (x.start <= x.bar <= x.end) for x in sc.labels):
        return False
    if _ext(h, lo, 0, ar.bar, cs)[0] != climax.bar or _ext(h, lo, climax.bar, st.bar, -cs)[0] != ar.bar:
        return False
    if sc.volume[st.bar] >= sc.volume[climax.bar]:
        return False
    b_end = int(np.nonzero(sc.phases == _B)[0][-1])
    s_lvl = _ext(h, lo, climax.bar, b_end, -rs)[1]
    e_lvl = _ext(h, lo, climax.bar, b_end, rs)[1]
    hr = abs(e_lvl - s_lvl)
    sos = lab["sign_of_strength" if dr > 0 else "sign_of_weakness"]
    if sc.spring:
        sp = lab["spring" if rs > 0 else "upthrust"]
        depth = (s_lvl - (lo[sp.bar] if rs > 0 else h[sp.bar])) * rs
        if not 0.05 * hr <= depth <= 0.45 * hr or _ext(h, lo, climax.bar, sos.start - 1, -rs)[0] != sp.bar:
            return False
        beyond = np.nonzero((s_lvl - (lo[sp.start:] if rs > 0 else h[sp.start:])) * rs > 0)[0]
        k0 = sp.start + int(beyond[0])
        if not np.any((c[k0:k0 + 15] - s_lvl) * rs > 0):
            return False
    edge = _ext(h, lo, climax.bar, b_end, dr)[1]
    beyond = np.nonzero((c[sos.start:sos.end + 1] - edge) * dr > 0)[0]
    if not len(beyond) or sos.start + int(beyond[0]) != sos.bar:
        return False
    if (_ext(h, lo, sos.start, sos.end, dr)[1] - edge) * dr <= 0:
        return False
    lps = [x for x in sc.labels if x.event.startswith("last_point") and x.start > sos.start][0]
    if _ext(h, lo, lps.start, sc.structure[1], -dr)[0] != lps.bar:
        return False
    return bool(sc.volume[lps.bar] < sc.volume[sos.start:sos.end + 1].mean())


def generate(seed: int, kind: str | None = None) -> Scenario:
    """One labelled family-B scenario, deterministic in (seed, kind)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SALT]))
    if kind is None:
        kind = KINDS[int(rng.integers(len(KINDS)))]
    elif kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    for _ in range(100):
        try:
            return _build(rng, seed, kind)
        except _Retry:
            continue
    raise RuntimeError(f"family B: no valid scenario for seed {seed}")


def scenarios(count: int, first_seed: int = 0) -> Iterator[Scenario]:
    """``count`` scenarios, seeds first_seed, first_seed + 1, ..."""
    for seed in range(first_seed, first_seed + count):
        yield generate(seed)
