"""Labelled Wyckoff scenarios: known schematics planted into realistic price paths.

A scenario is one-minute bars of an FX-like instrument (prices in points of 10^-6): a stretch
of noise, a trend into the structure, the schematic, the move out of it and more noise. The
schematic is one of four kinds, by the trend before it (context) and the way it resolves:

- accumulation (fall, then up): PS, SC, AR, ST, phase B swings, spring, test, SOS, LPS, markup;
- distribution (rise, then down): PSY, BC, AR, ST, B, upthrust (UTAD), test, SOW, LPSY, markdown;
- re-accumulation (rise, then up): BC, AR, ST, B, spring, SOS, LPS, markup;
- re-distribution (fall, then down): SC, AR, ST, B, upthrust, SOW, LPSY, markdown.

Durations, range height, depths, volumes and noise vary by seed; about a third of the schematics
have no spring/upthrust (Wyckoff's schematic #2) and some fail: the spring (upthrust) is
followed by a break the other way. Paths are Brownian bridges between the legs' targets, six
steps per bar, with volatility clustering; volume follows the intraday session, each leg's
activity and the bar's own range, with lognormal noise and the odd unrelated volume spike.

Labels: every planted event with the span of its leg and its own bar (the leg's extreme; for
an SOS/SOW the first close beyond the range's edge), and the true phase of every bar (A-E
inside the schematic, "" outside). ``trading.wyckoff.scoring`` scores detections against them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trading.wyckoff.machine import KINDS, PHASES

SCALE = 1_000_000  # points per price unit (a 5-digit FX price, one more digit for the mid)
BAR_NS = 60 * 1_000_000_000
START_NS = 1_767_571_200 * 1_000_000_000  # 2026-01-05 00:00 UTC, a Monday
SUBSTEPS = 6


@dataclass(frozen=True, slots=True)
class Label:
    event: str
    bar: int  # the bar of the leg's extreme
    start: int  # the leg's first bar
    end: int  # the leg's last bar


def bar_closing_at(end_ns: npt.NDArray[np.int64], ts_ns: int) -> int:
    """The bar that closed at ``ts_ns`` (the detector stamps an event with its bar's close)."""
    return min(int(np.searchsorted(end_ns, ts_ns)), len(end_ns) - 1)


@dataclass
class Scenario:
    seed: int
    kind: str
    spring: bool
    failed: bool
    start_ns: npt.NDArray[np.int64]
    end_ns: npt.NDArray[np.int64]
    open: npt.NDArray[np.int64]
    high: npt.NDArray[np.int64]
    low: npt.NDArray[np.int64]
    close: npt.NDArray[np.int64]
    volume: npt.NDArray[np.int64]  # hundredths of a tick
    labels: list[Label]
    phases: npt.NDArray[np.int8]  # index into PHASES
    structure: tuple[int, int]  # first and last bar of the schematic
    direction: int = 0  # the way the structure resolves: +1 up (SOS, markup), -1 down
    bar_ns: int = BAR_NS

    def __len__(self) -> int:
        return len(self.close)

    def bar_of(self, ts_ns: int) -> int:
        return bar_closing_at(self.end_ns, ts_ns)

    def spans(self) -> list[tuple[int, int, int]]:
        return [(self.structure[0], self.structure[1], self.direction)]


@dataclass(frozen=True, slots=True)
class _Leg:
    bars: int
    target: float  # in heights from the climax edge, signed toward the range
    vol: float
    activity: float
    label: str = ""
    phase: str = ""


def _legs(rng: np.random.Generator, context: int, resolution: int, spring: bool,
          failed: bool) -> list[_Leg]:
    """The schematic in units of the range height, measured from the climax edge into the range
    (so +1 is the AR's edge), for a range after a fall (context +1) or a rise (-1)."""
    c = context

    def name(up: str, down: str, side: int) -> str:
        return up if side > 0 else down

    # positions are "into the range" from the climax edge: 0 = climax edge, 1 = AR edge
    u = rng.uniform
    legs = [_Leg(int(rng.integers(150, 300)), u(1.6, 2.2), 1.0, 1.0, "", "")]  # the trend into it
    if rng.random() < 0.7:
        legs += [
            _Leg(int(rng.integers(4, 8)), u(1.05, 1.25), 1.25, 1.5, name("preliminary_support", "preliminary_supply", c),
                 "A"),
            _Leg(int(rng.integers(8, 20)), u(1.3, 1.5), 0.9, 1.0, "", "A"),
        ]
    else:
        legs.append(_Leg(int(rng.integers(30, 60)), u(1.2, 1.5), 1.0, 1.0, "", ""))
    legs += [
        _Leg(int(rng.integers(3, 6)), 0.0, u(2.0, 2.6), u(2.0, 3.0), name("selling_climax", "buying_climax", c), "A"),
        _Leg(int(rng.integers(15, 40)), 1.0, 1.1, 1.5, name("automatic_rally", "automatic_reaction", c), "A"),
        _Leg(int(rng.integers(25, 50)), u(0.05, 0.15), 0.8, 0.6, "secondary_test", "A"),
    ]
    for _ in range(int(rng.integers(3, 6))):  # phase B swings between a quarter and most of the height
        legs.append(_Leg(int(rng.integers(20, 55)), u(0.25, 0.8), 0.8, 0.8, "", "B"))
    # phase C: the spring lies beyond support, the upthrust beyond resistance
    r = resolution
    support_pos = 0.0 if c > 0 else 1.0  # where support sits, in positions from the climax edge
    resist_pos = 1.0 - support_pos

    def toward(edge_pos: float, beyond: float, side: int) -> float:
        """A position ``beyond`` heights outside the edge on ``side`` (+1 above resistance)."""
        return edge_pos + c * side * beyond

    inside_near = support_pos + c * 0.3 if r > 0 else resist_pos - c * 0.3
    edge = support_pos if r > 0 else resist_pos
    if spring:
        legs.append(_Leg(int(rng.integers(5, 10)), toward(edge, u(0.15, 0.35), -r), 1.0, u(1.0, 1.4),
                         name("spring", "upthrust", r), "C"))
        legs.append(_Leg(int(rng.integers(5, 9)), inside_near, 1.0, 1.1, "", "C"))
        legs.append(_Leg(int(rng.integers(12, 25)), toward(edge, -u(0.08, 0.15), -r), 0.7, 0.6, "", "C"))
    else:
        legs.append(_Leg(int(rng.integers(15, 30)), toward(edge, -u(0.1, 0.2), -r), 0.7, 0.6, "", "C"))
    out = -r if failed else r
    broken = resist_pos if out > 0 else support_pos
    legs.append(_Leg(int(rng.integers(25, 45)), toward(broken, u(0.4, 0.6), out), 1.1, u(1.8, 2.3),
                     name("sign_of_strength", "sign_of_weakness", out), "D"))
    legs.append(_Leg(int(rng.integers(15, 35)), toward(broken, u(0.05, 0.15), out), 0.8, 0.6,
                     name("last_point_of_support", "last_point_of_supply", out), "D"))
    legs.append(_Leg(int(rng.integers(120, 240)), toward(broken, u(1.8, 3.0), out), 1.0, 1.1, "", "E"))
    return legs


def generate(seed: int, kind: str | None = None) -> Scenario:
    """One scenario; the kind is drawn from the seed unless given."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x57C0FF]))
    kinds = list(KINDS.items())
    if kind is None:
        (context, resolution), kind = kinds[int(rng.integers(0, 4))]
    else:
        (context, resolution) = next(k for k, v in kinds if v == kind)
    spring = rng.random() < 0.7
    failed = spring and rng.random() < 0.15
    if failed:
        kind = KINDS[(context, -resolution)]
    sigma = rng.uniform(40, 80)  # points per bar (0.4-0.8 pip)
    height = rng.uniform(16, 30) * sigma
    base_volume = rng.uniform(40, 120)  # ticks per minute
    lead = int(rng.integers(120, 260))
    tail = int(rng.integers(60, 160))
    legs = [_Leg(lead, 0.0, 1.0, 1.0, "", "")] + _legs(rng, context, resolution, spring, failed) \
        + [_Leg(tail, 0.0, 1.0, 1.0, "", "")]
    # position p (in heights into the range from the climax edge) -> price: the climax edge
    # sits below the start after a fall (context +1), above it after a rise.
    start_price = 1_080_000.0 + rng.uniform(-20_000, 20_000)
    edge_price = start_price - context * rng.uniform(3.5, 5.0) * height

    def price_at(pos: float) -> float:
        return edge_price + context * pos * height

    n = sum(leg.bars for leg in legs)
    closes_sub = np.empty(n * SUBSTEPS)
    activity = np.empty(n)
    phases = np.zeros(n, np.int8)
    labels: list[Label] = []
    price = start_price
    regime = 1.0
    k = 0
    struct_lo, struct_hi = -1, -1
    code = {p: i for i, p in enumerate(PHASES)}
    for li, leg in enumerate(legs):
        if li == 0 or li == len(legs) - 1:
            target = price + rng.normal(0, 6 * sigma)  # noise stretches drift nowhere in particular
        else:
            target = price_at(leg.target)
        m = leg.bars * SUBSTEPS
        vols = np.empty(leg.bars)
        for b in range(leg.bars):  # volatility clustering, bar by bar
            regime = float(np.clip(regime * np.exp(rng.normal(0, 0.08)) * regime ** -0.05, 0.6, 1.7))
            vols[b] = regime
        step = sigma / np.sqrt(SUBSTEPS) * leg.vol * np.repeat(vols, SUBSTEPS)
        walk = np.cumsum(rng.normal(0.0, 1.0, m) * step)
        frac = np.arange(1, m + 1) / m
        path = price + walk - frac * (walk[-1] - (target - price))
        closes_sub[k * SUBSTEPS:(k + leg.bars) * SUBSTEPS] = path
        activity[k:k + leg.bars] = leg.activity
        phases[k:k + leg.bars] = code[leg.phase]
        if leg.phase and struct_lo < 0:
            struct_lo = k
        if leg.phase:
            struct_hi = k + leg.bars - 1
        if leg.label:
            seg = path.reshape(leg.bars, SUBSTEPS)
            extreme = int(np.argmin(seg.min(axis=1)) if target < price else np.argmax(seg.max(axis=1)))
            labels.append(Label(leg.label, k + extreme, k, k + leg.bars - 1))
        price = float(path[-1])
        k += leg.bars
    sub = closes_sub.reshape(n, SUBSTEPS)
    close = np.rint(sub[:, -1]).astype(np.int64)
    open_ = np.r_[np.rint(start_price), close[:-1]].astype(np.int64)
    high = np.maximum(np.rint(sub.max(axis=1)).astype(np.int64), np.maximum(open_, close))
    low = np.minimum(np.rint(sub.min(axis=1)).astype(np.int64), np.minimum(open_, close))
    minute = np.arange(n) % 1440
    session = 1.0 + 0.45 * np.sin((minute - 420) / 1440 * 2 * np.pi)  # busier in the European afternoon
    typical = np.median(high - low) or 1
    effort = 0.6 + 0.4 * (high - low) / typical
    ticks = base_volume * session * activity * effort * rng.lognormal(0.0, 0.3, n)
    spikes = rng.random(n) < 0.004  # unrelated bursts of activity (news, rollover)
    ticks[spikes] *= rng.uniform(2.0, 4.0, int(spikes.sum()))
    volume = np.maximum(np.rint(ticks), 1).astype(np.int64) * 100
    labels = [_breakout_bar(lab, labels, phases, high, low, close) for lab in labels]
    start_ns = START_NS + np.arange(n, dtype=np.int64) * BAR_NS + (seed % 1000) * 10_080 * BAR_NS
    return Scenario(seed, kind, spring, failed, start_ns, start_ns + BAR_NS, open_, high, low, close, volume,
                    labels, phases, (struct_lo, struct_hi), -resolution if failed else resolution)


def _breakout_bar(lab: Label, labels: list[Label], phases: npt.NDArray[np.int8], high: npt.NDArray[np.int64],
                  low: npt.NDArray[np.int64], close: npt.NDArray[np.int64]) -> Label:
    """An SOS (SOW) is stamped at the first close above resistance (below support) in its leg:
    the break itself, not the top of the move. The edges are the highest high and lowest low
    from the climax's bar through phase B (or A, where coarser bars left no bar of phase B)."""
    if lab.event not in ("sign_of_strength", "sign_of_weakness"):
        return lab
    climax = next(c for c in labels if c.event in ("selling_climax", "buying_climax"))
    a_or_b = np.flatnonzero((phases == PHASES.index("A")) | (phases == PHASES.index("B")))
    if not len(a_or_b):  # coarser bars can swallow a short phase A and B
        return lab
    last_b = int(a_or_b[-1])
    leg = close[lab.start:lab.end + 1]
    if lab.event == "sign_of_strength":
        beyond = np.flatnonzero(leg > high[climax.bar:last_b + 1].max())
    else:
        beyond = np.flatnonzero(leg < low[climax.bar:last_b + 1].min())
    return Label(lab.event, lab.start + int(beyond[0]), lab.start, lab.end) if len(beyond) else lab


SHAKEOUT_BARS = 10  # a planted spring/upthrust closes back inside within this many bars of its extreme


def undone(sc: Scenario) -> str:
    """Why the planted phase C and break no longer hold on these bars ("" if they do), by the
    definitions every family plants them with: with the range's edges the lowest low and highest
    high from the climax's bar to the end of phase B, a spring (upthrust) lies beyond its edge,
    is the extreme of phase C on its side and closes back inside within ``SHAKEOUT_BARS`` bars,
    and the SOS (SOW) closes beyond the edge. A perturbation can undo them (doubled noise can
    push a phase-B swing further than a shallow spring, or another bar of phase C past it); the
    labels then name events the bars do not show, and the benchmark does not score the scenario
    in that variant (it counts them)."""
    n = len(sc)
    if len(sc.phases) != n or any(not 0 <= lab.start <= lab.bar <= lab.end < n for lab in sc.labels):
        raise ValueError(f"scenario {sc.seed}: its phases or labels do not fit its {n} bars")
    named = {lab.event: lab for lab in sc.labels}
    climax = named.get("selling_climax") or named.get("buying_climax")
    if climax is None:
        return "no climax"
    a_or_b = np.flatnonzero((sc.phases == PHASES.index("A")) | (sc.phases == PHASES.index("B")))
    if not len(a_or_b) or a_or_b[-1] <= climax.bar:
        return "no phase A or B after the climax"
    last_b = int(a_or_b[-1])
    # the climax's bar sets the near edge; the far edge is the AR's and phase B's (a coarser climax
    # bar also holds the trend's last bars, whose other extreme is not the range's)
    past_climax = slice(climax.bar + 1, last_b + 1)
    if climax.event == "selling_climax":
        support, resistance = int(sc.low[climax.bar:last_b + 1].min()), int(sc.high[past_climax].max())
    else:
        support, resistance = int(sc.low[past_climax].min()), int(sc.high[climax.bar:last_b + 1].max())
    in_c = np.flatnonzero(sc.phases == PHASES.index("C"))
    for name in ("spring", "upthrust"):
        lab = named.get(name)
        if lab is None:
            continue
        after = sc.close[lab.bar:lab.bar + SHAKEOUT_BARS + 1]
        if name == "spring":
            if sc.low[lab.bar] >= support:
                return "the spring is not below support"
            if len(in_c) and sc.low[in_c].min() < sc.low[lab.bar]:
                return "the spring is not phase C's lowest low"
            if not (after > support).any():
                return "the spring does not close back above support in time"
        else:
            if sc.high[lab.bar] <= resistance:
                return "the upthrust is not above resistance"
            if len(in_c) and sc.high[in_c].max() > sc.high[lab.bar]:
                return "the upthrust is not phase C's highest high"
            if not (after < resistance).any():
                return "the upthrust does not close back below resistance in time"
    for name, side in (("sign_of_strength", 1), ("sign_of_weakness", -1)):
        lab = named.get(name)
        edge = resistance if side > 0 else support
        if lab is not None and not ((sc.close[lab.start:lab.end + 1] - edge) * side > 0).any():
            return f"the {name.replace('_', ' ')} never closes beyond the range"
    return ""


def scenarios(count: int, first_seed: int = 0) -> Iterable[Scenario]:
    for seed in range(first_seed, first_seed + count):
        yield generate(seed)


PERTURBATIONS = ("volatility_x0.5", "volatility_x2", "volume_noise", "gaps", "bars_x3")


def perturb(sc: Scenario, variant: str) -> Scenario:
    """The same schematic, harder to read (the labels follow the bars they name):

    - ``volatility_x0.5`` / ``volatility_x2``: every price's distance from a centred 5-bar
      mean of the closes is scaled (the noise around the structure, not the structure);
    - ``volume_noise``: each bar's volume times a lognormal factor (sigma 0.5);
    - ``gaps``: every 200-600 bars the market is closed for 1-48 hours and reopens 1-4 median
      bar ranges away from the last close (on the open: the bar's close stays where it was);
    - ``bars_x3``: every three bars become one (a coarser bar size: the structure lasts a third of
      the bars).
    """
    if variant not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {variant!r}: one of {', '.join(PERTURBATIONS)}")
    if len(sc) == 0:
        raise ValueError(f"scenario {sc.seed} has no bars")
    if variant == "bars_x3":
        return _coarser(sc, 3)
    rng = np.random.default_rng(np.random.SeedSequence([sc.seed, PERTURBATIONS.index(variant), 0x9E7]))
    o, h, lo, c, v = (a.copy() for a in (sc.open, sc.high, sc.low, sc.close, sc.volume))
    start = sc.start_ns.copy()
    if variant.startswith("volatility_x"):
        k = float(variant.removeprefix("volatility_x"))
        w = 5
        padded = np.pad(c.astype(float), w // 2, mode="edge")
        mean = np.convolve(padded, np.ones(w) / w, mode="valid")
        o, c = (np.rint(mean + k * (a - mean)).astype(np.int64) for a in (o, c))
        hi, low = np.rint(mean + k * (h - mean)).astype(np.int64), np.rint(mean + k * (lo - mean)).astype(np.int64)
        h, lo = np.maximum.reduce([hi, low, o, c]), np.minimum.reduce([hi, low, o, c])
    elif variant == "volume_noise":
        v = np.maximum(np.rint(v * rng.lognormal(0.0, 0.5, len(v)) / 100), 1).astype(np.int64) * 100
    else:  # gaps
        typical = float(np.median(h - lo)) or 1.0
        k = int(rng.integers(200, 600))
        while k < len(c):
            start[k:] += int(rng.integers(60, 48 * 60)) * 60_000_000_000 // sc.bar_ns * sc.bar_ns
            o[k] = c[k - 1] + int(rng.choice([-1, 1]) * rng.uniform(1, 4) * typical)
            h[k], lo[k] = max(h[k], o[k]), min(lo[k], o[k])
            k += int(rng.integers(200, 600))
    labels = [_follow(lab, sc.labels, h, lo) for lab in sc.labels] if variant.startswith("volatility_x") \
        else list(sc.labels)  # the other perturbations move no high or low that a label names
    labels = [_breakout_bar(lab, labels, sc.phases, h, lo, c) for lab in labels]
    return Scenario(sc.seed, sc.kind, sc.spring, sc.failed, start, start + sc.bar_ns, o, h, lo, c, v, labels,
                    sc.phases, sc.structure, sc.direction, sc.bar_ns)


def _coarser(sc: Scenario, k: int) -> Scenario:
    n = len(sc) // k * k
    if n == 0:
        raise ValueError(f"scenario {sc.seed} has fewer than {k} bars")

    def group(a: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return a[:n].reshape(-1, k)

    o, c = group(sc.open)[:, 0], group(sc.close)[:, -1]
    h, lo, v = group(sc.high).max(axis=1), group(sc.low).min(axis=1), group(sc.volume).sum(axis=1)
    start, phases = group(sc.start_ns)[:, 0], sc.phases[:n].reshape(-1, k)[:, -1]
    end = group(sc.end_ns)[:, -1]
    last = n // k - 1
    labels = [Label(lab.event, min(lab.bar // k, last), min(lab.start // k, last), min(lab.end // k, last))
              for lab in sc.labels]
    labels = [_breakout_bar(lab, labels, phases, h, lo, c) for lab in labels]
    structure = (min(sc.structure[0] // k, last), min(sc.structure[1] // k, last))
    return Scenario(sc.seed, sc.kind, sc.spring, sc.failed, start, end, o, h, lo, c, v, labels, phases, structure,
                    sc.direction, sc.bar_ns * k)


LOW_SIDE = frozenset({"selling_climax", "spring", "last_point_of_support", "preliminary_support",
                      "automatic_reaction"})
HIGH_SIDE = frozenset({"buying_climax", "upthrust", "last_point_of_supply", "preliminary_supply",
                       "automatic_rally"})
FOLLOW_BARS = 3  # how far past its leg's end a label may follow its extreme (the scorer's tolerance)


def label_side(lab: Label, labels: list[Label]) -> int:
    """-1 for a label at its leg's lowest low, +1 at its highest high, 0 for an SOS/SOW (a close);
    a secondary test is on its climax's side."""
    if lab.event in LOW_SIDE:
        return -1
    if lab.event in HIGH_SIDE:
        return 1
    if lab.event == "secondary_test":
        climax = next((c for c in labels if c.event in ("selling_climax", "buying_climax")), None)
        return 1 if climax is not None and climax.event == "buying_climax" else -1
    return 0


def _follow(lab: Label, labels: list[Label], h: npt.NDArray[np.int64], lo: npt.NDArray[np.int64]) -> Label:
    """A label on its leg's extreme follows the extreme of the rescaled bars on its side: over its
    leg and up to ``FOLLOW_BARS`` bars past the leg's end (a rescaled extreme can come a bar or two
    later, where the next leg begins; families E and F measure a turning point that far too)."""
    side = label_side(lab, labels)
    if side == 0:
        return lab
    a, b = lab.start, min(lab.end + FOLLOW_BARS, len(h) - 1) + 1
    k = a + int(np.argmin(lo[a:b]) if side < 0 else np.argmax(h[a:b]))
    return Label(lab.event, k, lab.start, max(lab.end, k))
