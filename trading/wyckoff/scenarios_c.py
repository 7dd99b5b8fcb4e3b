"""Family C of labelled Wyckoff schematics: hourly FX bars from a regime-switching jump model.

Built independently of the other families, to score a detector on a family it was not tuned on.

**Bars.** One-hour bars of a 24-hour FX week (Sunday 21:00 to Friday 21:00 UTC, no bars over the
weekend; the first bar of a week opens with a gap), from ``START_NS`` plus ``seed % 300`` weeks.
Prices are integer points at ``SCALE`` per unit, EURUSD-like (1.05-1.35) or AUDUSD-like (0.6-0.9).

**Price model.** Every bar is simulated from 12-60 intrabar sub-steps (so highs and lows are the
extremes of a path, wicks included). The hourly volatility is a base level times a hidden Markov
chain of 2-3 persistent volatility regimes, times an hour-of-day/day-of-week profile (quiet Asia,
busy London and New York), times the leg's own factor. Returns carry compound-Poisson jumps of
2-5 sigma; news bars add a jump and a volume burst; weekend gaps open the week. The structure is
made of *drift segments*: each leg is one to several segments of constant drift, each aimed (at
its start) at the leg's goal expressed against the range edges *measured on the path so far*; the
path is never pinned, so edges, extremes and breakouts emerge from the noise and are measured.

**Volume.** Tick counts per bar from a self-exciting (Hawkes-like) intensity: a base rate times
the session profile, the regime, the leg's activity, the bar's absolute return and range, plus an
excitation fed by past excess arrivals, with gamma noise. The climax bar is set to 2-8 times the
average of the 24 bars before it (sometimes with one or two heavy neighbours); news bars (2.5-6x)
are unlabelled distractors, some placed on new extremes of the trend into the structure.

**Schematic.** noise, trend (40-200 bars), [PS leg, bounce] (half), climax leg (SC/BC), AR, first
ST, phase B (2-8 swings of 25-95% of the height, with 0-2 further, unlabelled, tests), phase C,
SOS/SOW leg, back-up (LPS/LPSY) leg, markup/markdown (60-250 bars: a lift-off, then 2-4 drift
segments, some pauses), then noise or (a quarter) an
unlabelled flag and trend continuation. The range (climax to breakout) lasts 60-400 bars and is
5-25 average bar ranges high. Phase C is a spring/upthrust (beyond the edge by 3-40% of the height,
closing back inside within 10 bars of its extreme, on low or high volume, sometimes followed by a
quiet test) or, without one, a higher low / lower high. About 20% fail: either a spring/upthrust
then a break out of the *same* side (the structure resolves the other way), or a break that looks
like one but never closes back inside (no spring, no phase C). accumulation/reaccumulation plant
springs, distribution/redistribution upthrusts; accumulation/redistribution follow a fall.

**Labels** (all measured on the final bars). A label's ``start``/``end`` is its leg's span and its
``bar`` the leg's extreme (lowest low or highest high, by the event's side), except SOS/SOW whose
bar is the first bar of its leg that closes beyond the range edge. Range edges: highest high and
lowest low from the climax bar to the end of phase B. Names: preliminary_support/supply,
selling/buying_climax, automatic_rally/reaction, secondary_test (only the first), spring/upthrust,
sign_of_strength/weakness and last_point_of_support/supply (named by the actual break direction
in phase D, by the kind's expected direction for the phase-C test without spring). Phases: "" for
noise and the trend; A from the PS (or climax) leg through the first ST; B the swings after it; C
from the leg into the spring/test until the SOS/SOW leg; D that leg and the back-up; E the
markup/markdown; "" after. ``spring`` is True when a spring/upthrust label exists, ``failed`` when
the break goes against the kind's expected direction, ``direction`` is the actual break. Any
violated condition redraws the leg (a few times) or the whole scenario, from the same stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from trading.wyckoff.scenarios import SCALE, START_NS, Label, Scenario

PHASES = ("", "A", "B", "C", "D", "E")
KINDS = ("accumulation", "distribution", "reaccumulation", "redistribution")
BAR_NS = 3_600 * 1_000_000_000
WEEK_NS = 7 * 24 * BAR_NS
_SALT = 0x0C7A11E5
_NMAX = 2_400

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
T = TypeVar("T")


def _grid() -> tuple[I64, I64, I64, npt.NDArray[np.bool_]]:
    hours = np.arange(_NMAX * 168 // 120 + 400, dtype=np.int64)  # hours from a Monday 00:00 UTC
    dow, hod = (hours // 24) % 7, hours % 24
    closed = ((dow == 4) & (hod >= 21)) | (dow == 5) | ((dow == 6) & (hod < 21))
    keep = hours[~closed][:_NMAX]
    week_open = np.zeros(_NMAX, dtype=np.bool_)
    week_open[1:] = np.diff(keep) > 1
    return keep * BAR_NS, hod[keep], dow[keep], week_open


_OFFSET_NS, _HOD, _DOW, _WEEK_OPEN = _grid()
_HOD_ACT = np.array([0.55, 0.5, 0.55, 0.6, 0.55, 0.55, 0.7, 1.0, 1.3, 1.2, 1.15, 1.1,
                     1.35, 1.7, 1.75, 1.6, 1.3, 0.95, 0.8, 0.7, 0.55, 0.3, 0.35, 0.45])
_DOW_ACT = np.array([0.92, 1.05, 1.08, 1.06, 0.97, 1.0, 0.8])  # Monday .. Sunday (evening open)
_SEASON: F64 = _HOD_ACT[_HOD] * _DOW_ACT[_DOW] * np.where((_DOW == 4) & (_HOD >= 16), 1.0 - 0.13 * (_HOD - 15), 1.0)
_VOL_SEASON: F64 = np.sqrt(_SEASON) / float(np.sqrt(_SEASON).mean())


class _Fail(Exception):
    pass


class _Path:
    """Bars appended leg by leg (prices in points, rounded), with the regime and activity per bar."""

    def __init__(self, rng: np.random.Generator, price: float, sigma: float, substeps: int,
                 regimes: F64, stay: float, jump_rate: float) -> None:
        self.rng, self.sigma, self.m = rng, sigma, substeps
        self.regimes, self.stay, self.jump_rate = regimes, stay, jump_rate
        self.o, self.h, self.l, self.c = (np.zeros(_NMAX) for _ in range(4))
        self.sig, self.act, self.ev = np.zeros(_NMAX), np.ones(_NMAX), np.ones(_NMAX)
        self.reg = np.zeros(_NMAX, dtype=np.int64)
        self.news = np.zeros(_NMAX, dtype=np.bool_)
        self.n, self.price, self.state = 0, price, int(rng.integers(len(regimes)))

    def save(self) -> tuple[int, float, int]:
        return self.n, self.price, self.state

    def load(self, s: tuple[int, float, int]) -> None:
        self.n, self.price, self.state = s

    def leg(self, bars: int, target: float, *, vol: float = 1.0, act: float = 1.0, segs: int = 1,
            wick: float = 0.0, news: float = 0.0, bias: int = 0) -> tuple[int, int]:
        """``bars`` bars in ``segs`` constant-drift segments, each aimed at ``target`` from where it starts."""
        bars = max(1, bars)
        segs = max(1, min(segs, bars))
        start = self.n
        if start + bars > _NMAX:
            raise _Fail
        cuts: list[int] = sorted(self.rng.choice(np.arange(1, bars), size=segs - 1, replace=False).tolist())
        edges = [0, *cuts, bars]
        for k in range(segs):
            left = bars - edges[k]
            drift = (target - self.price) / left
            self._bars(edges[k + 1] - edges[k], drift, vol, act, news, bias, wick if k == segs - 1 else 0.0)
        return start, self.n - 1

    def _bars(self, k: int, drift: float, vol: float, act: float, news: float, bias: int, wick: float) -> None:
        rng, m, i0, i1 = self.rng, self.m, self.n, self.n + k
        u = rng.random(k)
        hop = rng.integers(1, len(self.regimes), size=k) if len(self.regimes) > 1 else np.zeros(k, dtype=np.int64)
        regs = np.empty(k, dtype=np.int64)
        r = self.state
        for j in range(k):
            if u[j] > self.stay:
                r = (r + int(hop[j])) % len(self.regimes)
            regs[j] = r
        self.state = r
        sig = self.sigma * self.regimes[regs] * _VOL_SEASON[i0:i1] * vol
        inc = rng.standard_normal((k, m)) * (sig / math.sqrt(m))[:, None] + drift / m
        where = rng.integers(0, m, size=k)
        jump = rng.random(k) < self.jump_rate
        size = rng.uniform(2.0, 5.0, k) * np.where(rng.random(k) < 0.5, -1.0, 1.0) * sig
        inc[jump, where[jump]] += size[jump]
        hit = rng.random(k) < news
        nsize = rng.uniform(2.0, 4.5, k) * np.where(rng.random(k) < 0.5 + 0.25 * bias, 1.0, -1.0) * sig
        inc[hit, where[hit]] += nsize[hit]
        burst = rng.uniform(1.8, 4.0, k)
        if wick != 0.0:
            half = m // 2
            inc[-1, :half] += wick / half
            inc[-1, half:] -= wick / (m - half)
        gap = np.round(rng.normal(0.0, 1.5, k) * sig * _WEEK_OPEN[i0:i1])
        path = np.cumsum(inc, axis=1)
        close = np.round(self.price + np.cumsum(gap + path[:, -1]))
        prev = np.concatenate(([self.price], close[:-1]))
        opn = prev + gap
        self.o[i0:i1], self.c[i0:i1] = opn, close
        self.h[i0:i1] = np.maximum(np.round(opn + np.maximum(path.max(axis=1), 0.0)), np.maximum(opn, close))
        self.l[i0:i1] = np.minimum(np.round(opn + np.minimum(path.min(axis=1), 0.0)), np.minimum(opn, close))
        self.sig[i0:i1], self.act[i0:i1], self.reg[i0:i1] = sig, act, regs
        self.ev[i0:i1] = np.where(hit, burst, 1.0)
        self.news[i0:i1] = hit
        self.n, self.price = i1, float(close[-1])

    def ext(self, a: int, b: int, side: int) -> int:
        """The bar of the extreme of bars a..b on ``side`` (+1 highest high, -1 lowest low)."""
        return a + int(np.argmax(self.h[a:b + 1]) if side > 0 else np.argmin(self.l[a:b + 1]))

    def at(self, i: int, side: int) -> float:
        return float(self.h[i] if side > 0 else self.l[i])

    def edges(self, a: int, b: int) -> tuple[float, float]:
        return float(self.l[a:b + 1].min()), float(self.h[a:b + 1].max())


def _retry(p: _Path, tries: int, make: Callable[[], T | None]) -> T:
    s = p.save()
    for _ in range(tries):
        out = make()
        if out is not None:
            return out
        p.load(s)
    raise _Fail


def _durations(rng: np.random.Generator, amps: list[float], total: float, speed: float) -> list[int]:
    """Split ``total`` bars over legs by amplitude (in points), at most ``speed`` points per bar (AR, ST quicker)."""
    w = [a * float(rng.uniform(0.6, 1.6)) * (0.45 if i == 0 else 0.7 if i == 1 else 1.0) for i, a in enumerate(amps)]
    lo = [max(2, math.ceil(a / speed)) for a in amps]
    return [max(m, round(x / sum(w) * total)) for x, m in zip(w, lo, strict=True)]


def _attempt(rng: np.random.Generator, seed: int, kind: str) -> Scenario:
    u = rng.uniform
    d_in = -1 if kind in ("accumulation", "redistribution") else 1  # the trend into the structure
    d_exp = 1 if kind in ("accumulation", "reaccumulation") else -1  # the expected resolution
    mode = 0  # 0: as expected, 1: spring/upthrust then a break out of its side, 2: a break with no return
    if rng.random() < 0.2:
        mode = 1 if rng.random() < 0.5 else 2
    spring = mode == 1 or (mode == 0 and rng.random() < 0.55)
    side_s = -d_exp  # the spring's side (+1 the top)
    brk = d_exp if mode == 0 else -d_exp  # the side of the break
    if rng.random() < 0.5:
        price, rel = u(1.05, 1.35), u(0.0006, 0.0010)
    else:
        price, rel = u(0.60, 0.90), u(0.0007, 0.0012)
    sigma = price * SCALE * rel
    regimes = np.array([0.75, 1.4]) if rng.random() < 0.5 else np.array([0.65, 1.0, 1.75])
    p = _Path(rng, round(price * SCALE), sigma, int(rng.integers(12, 61)), regimes, u(0.965, 0.995), u(0.004, 0.02))
    phase = np.zeros(_NMAX, dtype=np.int8)
    labels: list[Label] = []

    def segs(n: int) -> int:
        return int(rng.integers(max(1, n // 14), max(1, n // 8) + 2))

    # noise, then the trend into the structure (piecewise drift, sometimes a pause)
    n0 = int(rng.integers(20, 101))
    p.leg(n0, p.price + rng.normal(0.0, 0.8) * math.sqrt(n0) * sigma, segs=int(rng.integers(1, 4)), news=0.006)
    abr = float((p.h[:p.n] - p.l[:p.n]).mean())
    h0 = abr * math.exp(u(math.log(5.5), math.log(20.0)))
    n_tr = int(rng.integers(40, 201))
    speed = u(0.8, 3.0) * h0 / n_tr / sigma
    parts = np.maximum(1, np.round(rng.dirichlet(np.ones(int(rng.integers(2, 5)))) * n_tr)).astype(int)
    t0 = p.n
    for part in parts.tolist():
        mu = u(-0.25, 0.05) if rng.random() < 0.25 else min(0.32, max(0.06, speed * u(0.6, 1.5)))
        p.leg(part, p.price + d_in * mu * part * sigma, vol=u(0.9, 1.2), act=u(1.0, 1.25), news=0.008, bias=d_in)
    run = np.minimum.accumulate(p.l[t0:p.n]) if d_in < 0 else -np.maximum.accumulate(p.h[t0:p.n])
    fresh = np.flatnonzero(np.diff(run) < 0) + t0 + 1
    fresh = fresh[fresh < p.n - 6]
    if len(fresh) and rng.random() < 0.75:
        for j in rng.choice(fresh, size=min(len(fresh), int(rng.integers(1, 3))), replace=False):
            p.ev[j] *= u(2.0, 4.5)
            p.news[j] = True

    # the plan of the range in y (0 the bottom edge, 1 the top), then the legs' durations
    y_c = 0.0 if d_in < 0 else 1.0
    y_s = 0.0 if side_s < 0 else 1.0
    y_b = 1.0 if brk > 0 else 0.0

    def inside(y_edge: float, f: float) -> float:  # f of the height inside from that edge (negative: beyond)
        return f if y_edge == 0.0 else 1.0 - f

    ys = [1.0 - y_c, inside(y_c, u(-0.03, 0.15))]  # AR, first ST
    kinds = ["ar", "st"]
    extra = int(rng.integers(0, 3))
    toward = 1.0 if y_c == 0.0 else -1.0  # the way out of the climax side, in y
    for _ in range(int(rng.integers(2, 9))):
        a = u(0.25, 0.95)
        y = ys[-1] + toward * a
        if not 0.03 <= y <= 0.97:
            y = min(0.97, max(0.03, y))
            if abs(y - ys[-1]) < 0.2:
                toward = -toward
                y = min(0.97, max(0.03, ys[-1] + toward * a))
        if (y < ys[-1]) == (y_c == 0.0) and extra and rng.random() < 0.6:
            y, extra = inside(y_c, u(0.0, 0.12)), extra - 1
        ys.append(y)
        kinds.append("b")
        toward = 1.0 if y > ys[-2] else -1.0
        toward = -toward
    if abs(ys[-1] - y_s) < 0.4:
        ys.append(inside(y_s, u(0.55, 0.9)))
        kinds.append("b")
    depth = u(0.05, 0.33)
    n_ret = int(rng.integers(1, 8))
    test = spring and rng.random() < 0.5
    if mode == 2:
        c_plan: list[tuple[str, float]] = []
    elif spring:
        c_plan = [("down", inside(y_s, -depth)), ("ret", inside(y_s, u(0.1, 0.35)))]
        if test:
            c_plan.append(("test", inside(y_s, u(0.06, 0.3))))
    else:
        c_plan = [("lps", inside(y_s, u(0.12, 0.42)))]
    y_last = c_plan[-1][1] if c_plan else ys[-1]
    amps = [abs(ys[0] - y_c)] + [abs(ys[i] - ys[i - 1]) for i in range(1, len(ys))]
    prev = ys[-1]
    for name, y in c_plan:
        amps.append(abs(y - prev) * (2.0 if name == "test" else 1.0))
        prev = y
    amps.append(abs(y_last - y_b) + 0.05)
    total = math.exp(u(math.log(70.0), math.log(360.0)))
    durs = _durations(rng, [a * h0 for a in amps], total, 1.1 * sigma)
    if sum(durs) > 390:
        raise _Fail

    # phase A: [PS leg, bounce], climax leg, AR, first ST
    def new_extreme(a: int, i: int) -> bool:  # the bar i is beyond every bar before a, on the trend's side
        return d_in * (p.at(i, d_in) - p.at(p.ext(0, a - 1, d_in), d_in)) > 0

    a_start = p.n
    ps: tuple[int, int, int] | None = None
    if rng.random() < 0.5:
        def make_ps() -> tuple[int, int, int] | None:
            a, b = p.leg(int(rng.integers(3, 11)), p.price + d_in * u(0.25, 0.6) * h0, vol=u(1.1, 1.4),
                         act=u(1.6, 2.4))
            e = p.ext(a, b, d_in)
            return (a, b, e) if new_extreme(a, e) else None
        ps = _retry(p, 8, make_ps)
        p.ev[ps[2]] *= u(1.5, 2.5)
        p.leg(int(rng.integers(3, 13)), p.price - d_in * u(0.15, 0.45) * h0, act=u(0.9, 1.2))

    def make_climax() -> tuple[int, int, int] | None:
        base = p.at(ps[2], d_in) if ps else p.price
        wick = d_in * u(1.0, 2.5) * sigma if rng.random() < 0.55 else 0.0
        a, b = p.leg(int(rng.integers(3, 13)), base + d_in * u(0.25, 0.7) * h0, vol=u(1.4, 2.2), act=u(1.7, 2.6),
                     segs=int(rng.integers(1, 3)), wick=wick)
        e = p.ext(a, b, d_in)
        if e < a + (b - a) // 2 or not new_extreme(a, e):
            return None
        if ps and d_in * (p.at(e, d_in) - p.at(ps[2], d_in)) < 0.05 * h0:
            return None
        return a, b, e
    cl = _retry(p, 12, make_climax)
    c = cl[2]
    p.ev[c] *= 3.0
    c_px = p.at(c, d_in)

    def make_ar() -> tuple[int, int, int, float] | None:
        a, b = p.leg(durs[0], c_px - d_in * h0 * u(0.92, 1.08), vol=u(0.9, 1.15), act=u(1.1, 1.5), segs=segs(durs[0]))
        e = p.ext(a, b, -d_in)
        height = abs(p.at(e, -d_in) - c_px)
        if not 0.6 * h0 <= height <= 1.4 * h0 or d_in * (p.at(p.ext(a, b, d_in), d_in) - c_px) > 0:
            return None
        return a, b, e, height
    ar = _retry(p, 10, make_ar)

    def y_px(y: float) -> float:
        lo, hi = p.edges(c, p.n - 1)
        return lo + y * (hi - lo)

    def overshoot(a: int, b: int) -> tuple[float, float]:  # beyond the climax side, beyond the other, in heights
        lo, hi = p.edges(c, a - 1)
        x_lo, x_hi = (lo - float(p.l[a:b + 1].min())) / (hi - lo), (float(p.h[a:b + 1].max()) - hi) / (hi - lo)
        return (x_lo, x_hi) if d_in < 0 else (x_hi, x_lo)

    def make_st() -> tuple[int, int, int] | None:
        a, b = p.leg(durs[1], y_px(ys[1]), vol=u(0.7, 1.0), act=u(0.55, 0.85), segs=segs(durs[1]))
        e = p.ext(a, b, d_in)
        lo, hi = p.edges(c, a - 1)
        f = d_in * ((hi if d_in > 0 else lo) - p.at(e, d_in)) / (hi - lo)
        x_c, x_o = overshoot(a, b)
        return (a, b, e) if -0.04 <= f <= 0.35 and x_o <= 0.05 else None
    st = _retry(p, 10, make_st)
    phase[a_start:st[1] + 1] = 1

    # phase B
    b_start = p.n
    for i in range(2, len(ys)):
        def make_b(i: int = i) -> bool | None:
            a, b = p.leg(durs[i], y_px(ys[i]), vol=u(0.65, 1.0), act=u(0.5, 0.9), segs=segs(durs[i]), news=0.004)
            x_c, x_o = overshoot(a, b)
            return True if x_c <= 0.03 and x_o <= 0.08 else None
        _retry(p, 8, make_b)
    b_end = p.n - 1
    phase[b_start:b_end + 1] = 2
    lo, hi = p.edges(c, b_end)
    height = hi - lo
    edge_s = hi if side_s > 0 else lo
    edge_b = hi if brk > 0 else lo

    def closes(a: int, b: int, side: int, edge: float) -> npt.NDArray[np.bool_]:  # closes beyond edge on side
        return np.asarray(side * (p.c[a:b + 1] - edge) > 0)

    def quiet(a: int, b: int) -> bool:  # no close beyond either edge
        return not (closes(a, b, 1, hi).any() or closes(a, b, -1, lo).any())

    # phase C
    k = len(ys)
    c_start = p.n
    sp: tuple[int, int, int] | None = None
    lpc: tuple[int, int, int] | None = None
    if spring:
        loud = rng.random() < 0.5

        def make_spring() -> tuple[int, int, int] | None:
            a, _ = p.leg(durs[k], lo + c_plan[0][1] * height, vol=u(0.8, 1.1),
                         act=u(1.4, 2.4) if loud else u(0.45, 0.75), segs=segs(durs[k]))
            _, b = p.leg(n_ret, lo + c_plan[1][1] * height, vol=u(0.9, 1.2), act=u(0.9, 1.3))
            e = p.ext(a, b, side_s)
            f = side_s * (p.at(e, side_s) - edge_s) / height
            back = np.flatnonzero(~closes(e, b, side_s, edge_s) & ~closes(e, b, -side_s, edge_s - side_s * height))
            if not 0.03 <= f <= 0.40 or not len(back) or back[0] > 10 or not quiet(int(back[0]) + e, b):
                return None
            if closes(a, b, -side_s, edge_s - side_s * height).any():
                return None
            return a, b, e
        sp = _retry(p, 12, make_spring)
        p.ev[sp[2]] *= u(1.8, 3.0) if loud else u(0.45, 0.7)
        if test:
            def make_test() -> bool | None:
                a, b = p.leg(durs[k + 2], lo + c_plan[2][1] * height, vol=u(0.7, 0.95), act=u(0.4, 0.7))
                return True if quiet(a, b) else None
            _retry(p, 8, make_test)
    elif mode == 0:
        def make_lps() -> tuple[int, int, int] | None:
            a, b = p.leg(durs[k], lo + c_plan[0][1] * height, vol=u(0.7, 1.0), act=u(0.5, 0.8), segs=segs(durs[k]))
            e = p.ext(a, b, side_s)
            f = side_s * (edge_s - p.at(e, side_s)) / height
            return (a, b, e) if 0.03 <= f <= 0.6 and quiet(a, b) else None
        lpc = _retry(p, 12, make_lps)
    phase[c_start:p.n] = 3

    # phase D: the break and the back-up
    d_start = p.n
    beyond = u(0.2, 0.55)

    def make_break() -> tuple[int, int, int] | None:
        n = round(durs[-1] * (amps[-1] + beyond) / amps[-1])
        a, b = p.leg(n, edge_b + brk * beyond * height, vol=u(1.0, 1.3), act=u(1.3, 2.0), segs=int(rng.integers(1, 4)))
        out = np.flatnonzero(closes(a, b, brk, edge_b))
        if not len(out) or out[0] == 0 or closes(a, a + int(out[0]) - 1, -brk, edge_b - brk * height).any():
            return None
        j = a + int(out[0])
        if mode == 2 and not closes(j, b, brk, edge_b).all():
            return None
        return a, b, j
    bo = _retry(p, 12, make_break)
    p.ev[bo[2]] *= u(1.2, 2.0)
    top = p.at(p.ext(bo[0], bo[1], brk), brk)

    def make_backup() -> tuple[int, int, int] | None:
        f = u(0.06, 0.3) if mode == 2 else u(-0.08, 0.25)
        a, b = p.leg(int(rng.integers(4, 26)), edge_b + brk * f * height, vol=u(0.8, 1.0), act=u(0.4, 0.7),
                     segs=int(rng.integers(1, 3)))
        e = p.ext(a, b, -brk)
        if e == a or brk * (top - p.at(e, -brk)) < 0.08 * height or brk * (p.at(e, -brk) - edge_b) < -0.3 * height:
            return None
        if brk * (p.at(p.ext(a, b, brk), brk) - top) > 0.1 * height:
            return None
        if mode == 2 and not closes(a, b, brk, edge_b).all():
            return None
        return a, b, e
    bu = _retry(p, 12, make_backup)
    phase[d_start:p.n] = 4

    # phase E: markup / markdown, in drift segments
    bu_px = p.at(bu[2], -brk)

    def make_markup() -> tuple[int, int] | None:
        n_e = int(rng.integers(56, 239))
        speed = u(1.0, 3.5) * height / n_e / sigma
        parts = np.maximum(1, np.round(rng.dirichlet(np.ones(int(rng.integers(2, 5)))) * n_e)).astype(int)
        a = p.n
        lift = int(rng.integers(4, 13))  # the move away from the last point of support
        p.leg(lift, p.price + brk * u(0.3, 0.6) * lift * sigma, vol=u(0.9, 1.2), act=u(1.0, 1.3))
        for part in parts.tolist():
            mu = u(-0.15, 0.05) if rng.random() < 0.2 else min(0.38, max(0.08, speed * u(0.6, 1.5)))
            p.leg(part, p.price + brk * mu * part * sigma, vol=u(0.9, 1.2), act=u(1.0, 1.3), news=0.006, bias=brk)
        b = p.n - 1
        if brk * (p.c[b] - edge_b) < 0.5 * height or brk * (p.at(p.ext(a, b, -brk), -brk) - bu_px) <= 0:
            return None
        return (a, b) if not closes(a, b, -brk, edge_b - brk * 0.05 * height).any() else None
    mk = _retry(p, 12, make_markup)
    phase[mk[0]:mk[1] + 1] = 5

    # after: a flag and a continuation (a quarter), or noise
    if rng.random() < 0.25:
        fl = int(rng.integers(10, 41))
        p.leg(fl, p.price - brk * u(0.15, 0.45) * height, vol=u(0.7, 0.95), act=u(0.6, 0.85), segs=2)
        n_c = int(rng.integers(30, 121))
        p.leg(n_c, p.price + brk * u(0.08, 0.3) * n_c * sigma, act=u(1.0, 1.3), segs=int(rng.integers(1, 4)),
              news=0.006, bias=brk)
    else:
        n1 = int(rng.integers(20, 101))
        p.leg(n1, p.price + rng.normal(0.0, 1.0) * math.sqrt(n1) * sigma, segs=int(rng.integers(1, 4)), news=0.006)
    n = p.n

    # checks on the whole
    abr_all = float((p.h[:n] - p.l[:n]).mean())
    if not 60 <= bo[2] - c <= 400 or not 5.0 <= height / abr_all <= 25.0:
        raise _Fail
    if min(p.l[:n].min(), p.o[:n].min()) <= 0:
        raise _Fail

    # volume: a self-exciting tick intensity
    sig = p.sig[:n]
    body = np.abs(p.c[:n] - p.o[:n]) / sig
    spread = (p.h[:n] - p.l[:n]) / sig
    reg_act = (np.array([0.85, 1.2]) if len(regimes) == 2 else np.array([0.8, 1.0, 1.35]))[p.reg[:n]]
    mu_t = u(1500.0, 5000.0) * _SEASON[:n] * reg_act * p.act[:n] * p.ev[:n] * (0.65 + 0.2 * body + 0.15 * spread)
    shape = u(8.0, 20.0)
    g = rng.gamma(shape, 1.0 / shape, n) * mu_t
    z = rng.standard_normal(n)
    decay, alpha = u(0.45, 0.72), u(0.08, 0.2)
    ticks = np.empty(n)
    exc = 0.0
    for i in range(n):
        lam = g[i] * (1.0 + exc)
        t = max(1.0, round(lam + math.sqrt(lam) * z[i]))
        ticks[i] = t
        exc = decay * exc + alpha * max(0.0, t / mu_t[i] - 1.0 - exc)
    mult = math.exp(u(math.log(2.0), math.log(8.0)))
    ticks[c] = max(1.0, round(mult * float(ticks[c - 27:c - 3].mean())))
    if rng.random() < 0.45:
        for j in ((-1,), (1,), (-1, 1), (1, 2))[int(rng.integers(4))]:
            ticks[c + j] = round(u(0.45, 0.85) * ticks[c])
    for j in range(c - 3, c + 4):
        if j != c and ticks[j] >= ticks[c]:
            ticks[j] = round(u(0.5, 0.9) * ticks[c])
    if ticks[bu[0]:bu[1] + 1].mean() >= ticks[bo[0]:bo[1] + 1].mean():
        raise _Fail

    # labels and phases, measured on the bars
    up = d_in > 0
    if ps:
        labels.append(Label("preliminary_supply" if up else "preliminary_support", ps[2], ps[0], ps[1]))
    labels.append(Label("buying_climax" if up else "selling_climax", c, cl[0], cl[1]))
    labels.append(Label("automatic_reaction" if up else "automatic_rally", ar[2], ar[0], ar[1]))
    labels.append(Label("secondary_test", st[2], st[0], st[1]))
    if sp:
        labels.append(Label("upthrust" if side_s > 0 else "spring", sp[2], sp[0], sp[1]))
    if lpc:
        labels.append(Label("last_point_of_support" if d_exp > 0 else "last_point_of_supply", lpc[2], lpc[0], lpc[1]))
    labels.append(Label("sign_of_strength" if brk > 0 else "sign_of_weakness", bo[2], bo[0], bo[1]))
    labels.append(Label("last_point_of_support" if brk > 0 else "last_point_of_supply", bu[2], bu[0], bu[1]))
    start_ns = (START_NS + (seed % 300) * WEEK_NS + _OFFSET_NS[:n]).astype(np.int64)
    return Scenario(
        seed=seed, kind=kind, spring=sp is not None, failed=mode != 0,
        start_ns=start_ns, end_ns=start_ns + BAR_NS,
        open=p.o[:n].astype(np.int64), high=p.h[:n].astype(np.int64), low=p.l[:n].astype(np.int64),
        close=p.c[:n].astype(np.int64), volume=(ticks * 100).astype(np.int64),
        labels=sorted(labels, key=lambda lab: (lab.bar, lab.start)), phases=phase[:n].copy(),
        structure=(a_start, mk[1]), direction=brk, bar_ns=BAR_NS,
    )


def generate(seed: int, kind: str | None = None) -> Scenario:
    """The family-C scenario of ``seed`` (its kind drawn from the seed unless given)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SALT]))
    if kind is None:
        kind = KINDS[int(rng.integers(len(KINDS)))]
    elif kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    for _ in range(500):
        try:
            return _attempt(rng, seed, kind)
        except _Fail:
            continue
    raise RuntimeError(f"family C: no valid scenario for seed {seed}")


def scenarios(count: int, first_seed: int = 0) -> Iterator[Scenario]:
    for seed in range(first_seed, first_seed + count):
        yield generate(seed)
