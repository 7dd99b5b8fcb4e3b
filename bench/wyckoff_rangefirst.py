"""A range-first reading of Wyckoff structures, from price alone: a research prototype (round 29), not
the desk's detector and not shipped.

Round 27 found the shipped detector fitted to its generators: on real bars its volume-climax trigger
misses the quiet stops analysts start most ranges with, its clocks run far longer than real ranges
last, and its range gate hides the rest. It ended on "a detector that reads real charts needs a
range-first design". This is the plainest such design, to measure whether the idea reads real bars
the way the two analysts do before anyone builds it into the machine:

- swings are fractal pivots (a bar's low under the ``pivot`` bars before it and not above the ``pivot``
  after it), known ``pivot`` bars after their bar;
- a **stop** is a pivot that ends a move of at least ``trend_atr`` ATR over the ``trend_bars`` bars
  before it (a selling climax after a fall, a buying climax after a rise: the name the analysts give the
  stop of a leg, in accumulation and re-accumulation alike); a deeper pivot before the range is known
  replaces it;
- its **automatic rally/reaction** is the next opposite pivot at least ``ar_atr`` ATR away; the two
  bound the range;
- the range is **known** at its **secondary test**: a later pivot on the stop's side, after the AR, in
  the ``st_zone`` of the range nearest the stop (the ST cannot undercut the stop: any bar beyond the
  stop before the range is known drops it, and the deeper pivot may start another). Only then are its
  stop, AR and ST reported (dated at their own bars). A close beyond either edge by more than ``depth``
  of the height, or ``max_bars`` since the stop, before that drops it;
- once known: a **spring** (below support) or **upthrust** (above resistance) is an excursion beyond
  the edge by less than ``depth`` of the height that closes back inside within ``back_bars`` bars,
  dated at its extreme; a close beyond an edge by more than ``depth`` that does not come back in
  ``back_bars`` bars is the **sign of strength/weakness** (dated at its first close beyond the edge)
  and ends the range; so does a range older than ``max_bars``.

Causal: every event is reported at a bar after its own, from the bars up to then (a test feeds the bars
in prefixes and finds each prefix's events unchanged by the bars after it). No volume is read: round 27
found the real sets' climaxes 0.24-3.2x their average volume.

``python bench/wyckoff_rangefirst.py [--seeds N] [--set NAME=VALUE ...]`` scores it, beside the shipped
detector and the same with its range gate off, on the **tuning** data only: the three real tuning sets
(recall against the marks both analysts made, precision against either: the most lenient pairing,
named as such; and against the first analyst alone) and families A-I, tuning seeds 0..N-1, unperturbed
and volatility x2 (climaxes, springs and upthrusts against the labels). The scored EURUSD set and
family J are never read here, unless ``--held-out`` (the committed settings only, no ``--set``) scores the
EURUSD set as well (its first scoring, 2026-12-06, is in docs/wyckoff.md round 29; a setting changed
after it would be tuned on it). Prints its figures; only a run with every default and ``--held-out``
writes bench/results/wyckoff_rangefirst.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Event = tuple[str, int, int]  # (name, its bar, the bar at which it became known)
FAMILIES = "ABCDEFGHI"  # the tuning families (J is held out, never read here)
CSU = ("selling_climax", "buying_climax", "spring", "upthrust")
SEEDS = 60  # the families' tuning seeds a results file is made from


@dataclass(frozen=True)
class RangeFirst:
    pivot: int = 3  # bars each side of a swing's extreme
    atr_bars: int = 14
    trend_bars: int = 30  # the move into a stop is measured over these bars
    trend_atr: float = 4.0  # ... and must be at least this many ATR
    ar_atr: float = 1.5  # the AR at least this far from the stop
    st_zone: float = 0.5  # the ST within this share of the height nearest the stop
    depth: float = 0.35  # a spring or upthrust at most this share of the height beyond the edge
    back_bars: int = 6  # ... and closes back inside within these bars
    max_bars: int = 400  # a range older than this ends
    min_depth: float = 0.05  # a spring or upthrust at least this share of the height beyond the edge
    c_after: float = 2.0  # ... and not before the range is this many times as old as it was at its ST
    tests: int = 1  # at most this many springs and upthrusts a range
    min_bars: int = 0  # the ST at least this many bars after the stop
    height_ratio: float = 0.0  # if above 0: the range's height at most this share of the move into the stop

    def __post_init__(self) -> None:
        if self.pivot < 1 or self.atr_bars < 1 or self.trend_bars < 2 or self.back_bars < 1 or self.max_bars < 10:
            raise ValueError("pivot, atr_bars, back_bars must be at least 1, trend_bars 2, max_bars 10")
        if not (self.trend_atr > 0 and self.ar_atr > 0 and 0 < self.st_zone <= 1 and 0 < self.depth < 1):
            raise ValueError("trend_atr and ar_atr above 0, st_zone in (0, 1], depth in (0, 1)")
        if not (0 <= self.min_depth < self.depth and self.c_after >= 0 and self.tests >= 0 and self.min_bars >= 0
                and self.height_ratio >= 0):
            raise ValueError("min_depth in [0, depth), c_after, tests, min_bars and height_ratio at least 0")


def atr(high: npt.NDArray[Any], low: npt.NDArray[Any], close: npt.NDArray[Any], n: int) -> npt.NDArray[np.float64]:
    """Wilder's average true range, causal (bar i from bars 0..i)."""
    h, lo, c = (np.asarray(x, np.float64) for x in (high, low, close))
    prev = np.r_[c[0], c[:-1]]
    tr = np.maximum(h, prev) - np.minimum(lo, prev)
    out = np.empty_like(tr)
    acc = tr[0]
    for i, x in enumerate(tr):
        acc = x if i == 0 else acc + (x - acc) / n
        out[i] = acc
    return out


def read(high: npt.NDArray[Any], low: npt.NDArray[Any], close: npt.NDArray[Any], p: RangeFirst = RangeFirst()
         ) -> list[Event]:
    """The events of every range, each as (name, bar, known at bar), in the order they became known."""
    h, lo, c = (np.asarray(x, np.float64) for x in (high, low, close))
    n, k = len(c), p.pivot
    a = atr(h, lo, c, p.atr_bars)
    out: list[Event] = []
    move = 0.0  # the move into the stop
    stop: tuple[int, int] | None = None  # (bar, side): side -1 a low after a fall (SC), +1 a high after a rise (BC)
    ar: int | None = None
    rng: dict[str, Any] | None = None  # the known range
    for t in range(n):
        i = t - k  # the bar whose pivot is decided now
        piv_low = i >= k and lo[i] < lo[i - k:i].min() and lo[i] <= lo[i + 1:t + 1].min()
        piv_high = i >= k and h[i] > h[i - k:i].max() and h[i] >= h[i + 1:t + 1].max()
        if rng is not None:
            rng = _known(rng, t, h, lo, c, p, out)
            if rng is not None:
                continue
        if stop is not None:
            s, side = stop
            # beyond the stop before the range is known: a deeper stop, or gone
            if (side < 0 and lo[t] < lo[s]) or (side > 0 and h[t] > h[s]):
                stop, ar = None, None
            elif ar is None:  # (a pivot decided after the stop's, or the AR's, lies after it)
                if side < 0 and piv_high and h[i] - lo[s] >= p.ar_atr * a[s]:
                    ar = i
                elif side > 0 and piv_low and h[s] - lo[i] >= p.ar_atr * a[s]:
                    ar = i
            else:
                top, bottom = (h[ar], lo[s]) if side < 0 else (h[s], lo[ar])
                height = top - bottom
                if c[t] > top + p.depth * height or c[t] < bottom - p.depth * height:
                    stop, ar = None, None
                elif (piv_low if side < 0 else piv_high) and (i - s < p.min_bars or (
                        p.height_ratio > 0 and height > p.height_ratio * move)):
                    pass  # too soon or too tall for a secondary test: wait for another
                elif side < 0 and piv_low and lo[i] <= bottom + p.st_zone * height:
                    rng = _open(out, "selling_climax", "automatic_rally", s, ar, i, t, top, bottom)
                    stop, ar = None, None
                    continue
                elif side > 0 and piv_high and h[i] >= top - p.st_zone * height:
                    rng = _open(out, "buying_climax", "automatic_reaction", s, ar, i, t, top, bottom)
                    stop, ar = None, None
                    continue
                elif t - s > p.max_bars:
                    stop, ar = None, None
        if stop is None and i >= p.trend_bars:
            w = slice(max(0, i - p.trend_bars), i)
            if piv_low and h[w].max() - lo[i] >= p.trend_atr * a[i]:
                stop, move = (i, -1), h[w].max() - lo[i]
            elif piv_high and h[i] - lo[w].min() >= p.trend_atr * a[i]:
                stop, move = (i, 1), h[i] - lo[w].min()
    return out


def _open(out: list[Event], climax: str, reaction: str, s: int, ar: int, st: int, t: int, top: float, bottom: float
          ) -> dict[str, Any]:
    out += [(climax, s, t), (reaction, ar, t), ("secondary_test", st, t)]
    return {"top": top, "bottom": bottom, "first": s, "st": st, "out_since": None, "out_side": 0, "extreme": None,
            "tests": 0}


def _known(r: dict[str, Any], t: int, h: npt.NDArray[np.float64], lo: npt.NDArray[np.float64],
           c: npt.NDArray[np.float64], p: RangeFirst, out: list[Event]) -> dict[str, Any] | None:
    """One bar of a known range: a spring or upthrust, a break (the range ends: None), or on."""
    top, bottom = r["top"], r["bottom"]
    height = top - bottom
    if t - r["first"] > p.max_bars:
        return None
    if r["out_since"] is None:
        if lo[t] < bottom:
            r.update(out_since=t, out_side=-1, extreme=t)
        elif h[t] > top:
            r.update(out_since=t, out_side=1, extreme=t)
        else:
            return r
    side, since = r["out_side"], r["out_since"]
    if side < 0 and lo[t] < lo[r["extreme"]]:
        r["extreme"] = t
    if side > 0 and h[t] > h[r["extreme"]]:
        r["extreme"] = t
    x = r["extreme"]
    beyond = (bottom - lo[x]) if side < 0 else (h[x] - top)
    inside = bottom <= c[t] <= top
    if inside:  # within back_bars: a break is called at back_bars below
        old_enough = x - r["first"] >= p.c_after * (r["st"] - r["first"])
        if p.min_depth * height <= beyond <= p.depth * height and old_enough and r["tests"] < p.tests:
            out.append(("spring" if side < 0 else "upthrust", x, t))
            r["tests"] += 1
        r.update(out_since=None, out_side=0, extreme=None)
        return r
    if t - since >= p.back_bars or beyond > p.depth * height:
        first_close = next((j for j in range(since, t + 1) if (c[j] < bottom if side < 0 else c[j] > top)), None)
        if first_close is not None:
            out.append(("sign_of_weakness" if side < 0 else "sign_of_strength", first_close, t))
            return None
        if t - since >= p.back_bars:  # poked beyond with no close there, for long: back to watching
            r.update(out_since=None, out_side=0, extreme=None)
    return r


# --- scoring on the tuning data --------------------------------------------------------------------------


def named(events: list[Event]) -> list[tuple[str, int]]:
    return [(e, b) for e, b, _ in events]


def counts(seen: list[tuple[str, int]], truth: list[tuple[str, int]]) -> dict[str, list[int]]:
    """Per climax/spring/upthrust name and together: [right, found, labelled], strictly (+-3 bars, once each):
    ``wyckoff_agreement.agreement``'s counts of ``seen`` against ``truth``."""
    from bench.wyckoff_agreement import CSU as TOGETHER
    from bench.wyckoff_agreement import agreement
    from trading.wyckoff.scoring import TOLERANCE

    a = agreement(truth, seen, TOLERANCE)
    none = {"both": 0, "second": 0, "first": 0}
    return {name: [g["both"], g["second"], g["first"]]
            for name, g in [*((n, a.get(n, none)) for n in CSU), ("together", a[TOGETHER])]}


def family_chunk(job: tuple[str, str, list[int], RangeFirst]) -> dict[str, Any]:
    """One family's seeds: the prototype and the shipped detector (gate on and off) against the labels."""
    from bench.wyckoff_accuracy import detect, generator
    from bench.wyckoff_agreement import DETECTORS
    from trading.wyckoff.scenarios import perturb

    family, variant, seeds, p = job
    tot: dict[str, dict[str, list[int]]] = {}
    for seed in seeds:
        sc = generator(family)(seed)
        if variant != "original":
            sc = perturb(sc, variant)
        truth = [(lab.event, lab.bar) for lab in sc.labels]
        mine = named(read(sc.high, sc.low, sc.close, p))
        first, last = sc.structure
        seen = {"range_first": mine,
                # the same, less what it reports outside the labelled structure (the lead-in and the trend out)
                "range_first_inside": [x for x in mine if first - 3 <= x[1] <= last + 3],
                # its events at random bars (same names and count, 5 draws a scenario): what chance scores
                "range_first_at_random": chance(mine, len(sc), seed, 5)}
        for name, params in DETECTORS.items():
            seen[name] = [(e.event, sc.bar_of(e.bar_ts_ns)) for e in detect(sc, params).events]
        for name, s in seen.items():
            add(tot.setdefault(name, {}), counts(s, repeated(truth, len(sc), 5 if name == "range_first_at_random" else 1)))
    return {"family": family, "variant": variant, "counts": tot}


def repeated(truth: list[tuple[str, int]], bars: int, draws: int) -> list[tuple[str, int]]:
    """The labels once for each of ``chance``'s draws, each draw's bars after the one before."""
    return [(e, b + d * bars) for d in range(draws) for e, b in truth]


def chance(events: list[tuple[str, int]], bars: int, seed: int, draws: int) -> list[tuple[str, int]]:
    """``events`` placed at random bars, ``draws`` times over (scored against the truth repeated as often)."""
    rng = np.random.default_rng(seed)
    return [(e, int(b) + d * bars) for d in range(draws) for (e, _), b in zip(events, rng.integers(0, bars, len(events)),
                                                                             strict=True)]


def add(into: dict[str, list[int]], c: dict[str, list[int]]) -> None:
    for k, v in c.items():
        into[k] = [x + y for x, y in zip(into.get(k, [0, 0, 0]), v, strict=True)]


def pr(c: list[int]) -> dict[str, Any]:
    right, found, labelled = c
    return {"right": right, "found": found, "labelled": labelled,
            "precision": round(right / found, 3) if found else None, "recall": round(right / labelled, 3) if labelled else None}


def real_sets(p: RangeFirst, held_out: bool = False) -> dict[str, Any]:
    """The real tuning sets (``held_out``: the scored EURUSD set instead): recall against the marks both
    analysts made, precision against either; and against the first analyst alone, as every earlier round
    scored."""
    from bench.wyckoff_agreement import DETECTORS, SECOND, SETS, agreed, detected, events, precision_either
    from trading.wyckoff.realbars import TUNING_SETS, MissingData, marked

    out: dict[str, Any] = {}
    for ts in (SETS[0],) if held_out else TUNING_SETS:
        try:
            bars = ts.load()
        except MissingData as e:
            out[ts.key] = {"skipped": str(e)}
            continue
        first, second = marked(bars, ts.marks), marked(bars, SECOND[ts.key])
        f, s = events(first), events(second)
        both = agreed(f, s)
        full = read(bars.high, bars.low, bars.close, p)
        seen = {"range_first": named(full)}
        lags = [known - bar for name, bar, known in full if name in CSU]
        draws = 20
        at_random = chance(seen["range_first"], len(bars), 0, draws)
        out_random = {"both_found_per_draw": counts(at_random, repeated(both, len(bars), draws))["together"][0] / draws,
                      "either": precision_either(repeated(f, len(bars), draws), repeated(s, len(bars), draws), at_random)}
        seen.update((name, detected(bars, first, params)) for name, params in DETECTORS.items())
        out[ts.key] = {"name": ts.name, "bars": len(bars), "both_marked": len(both), **{
            name: {"both_found": counts(x, both)["together"][0], "either": precision_either(f, s, x),
                   "vs_first": {k: pr(v) for k, v in counts(x, f).items()}}
            for name, x in seen.items()}, "range_first_at_random": out_random,
            # bars from each climax, spring and upthrust to the bar it became known
            "range_first_delay_bars": {"median": float(np.median(lags)) if lags else None,
                                       "p90": round(float(np.percentile(lags, 90)), 1) if lags else None}}
    return out


def main() -> None:
    from bench.common import machine, write_results
    from bench.wyckoff_accuracy import positive

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=positive, default=SEEDS, help=f"tuning seeds 0..N-1 of each family A-I (default {SEEDS})")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a RangeFirst setting")
    ap.add_argument("--workers", type=positive, default=2)
    ap.add_argument("--no-families", action="store_true", help="the real tuning sets only")
    ap.add_argument("--held-out", action="store_true",
                    help="also score the held-out EURUSD set (the scored set), with the committed settings only")
    args = ap.parse_args()
    if args.held_out and args.set:
        raise SystemExit("--held-out scores the committed settings only: no --set with it (the held-out set is never "
                         "tuned on)")
    fields = {f.name: f.type for f in dataclasses.fields(RangeFirst)}
    given: dict[str, Any] = {}
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in fields:
            raise SystemExit(f"--set {item}: no setting {name!r} (one of {', '.join(fields)})")
        try:
            given[name] = int(value) if fields[name] in (int, "int") else float(value)
        except ValueError:
            kind = "a whole number" if fields[name] in (int, "int") else "a number"
            raise SystemExit(f"--set {item}: {value!r} is not {kind}") from None
    try:  # once every setting is read: whichever order they came in
        p = RangeFirst(**given)
    except ValueError as e:
        raise SystemExit(f"--set {' '.join(args.set)}: {e}") from None
    print(f"range-first prototype: {p}")
    real = real_sets(p)
    held = real_sets(p, held_out=True) if args.held_out else {}
    for key, r in [*real.items(), *(("held out: " + k, v) for k, v in held.items())]:
        if "skipped" in r:
            print(f"\n{key}: skipped ({r['skipped']})")
            continue
        print(f"\n{key.split(':')[0] + ': ' if key.startswith('held out') else ''}{r['name']} ({r['bars']} bars): {r['both_marked']} climaxes, springs and upthrusts both analysts marked")
        for name in ("range_first", "shipped", "gate_off"):
            x = r[name]
            e, t = x["either"], x["vs_first"]["together"]
            print(f"  {name:12} found {x['both_found']:2} of them; {e['either']:2} of its {e['detected']:2} either analyst "
                  f"made; against the first: {t['right']} right of {t['found']} found, {t['labelled']} marked")
        lag = r["range_first_delay_bars"]
        print(f"  range_first  its climaxes, springs and upthrusts became known {lag['median']} bars after their bar "
              f"(median; 90th percentile {lag['p90']})")
        rnd = r["range_first_at_random"]
        print(f"  at random    the prototype's events at random bars (20 draws): {rnd['both_found_per_draw']:.1f} of them a "
              f"draw; either analyst made {rnd['either']['precision']}")
    fam: dict[str, Any] = {}
    if not args.no_families:
        seeds = list(range(args.seeds))
        jobs = [(f, v, seeds[i::2], p) for f in FAMILIES for v in ("original", "volatility_x2") for i in range(2)]
        # spawned, not forked: the real sets' reading above started polars' threads in this process
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as ex:
            for r in ex.map(family_chunk, jobs):
                slot = fam.setdefault(r["variant"], {}).setdefault(r["family"], {})
                for name, c in r["counts"].items():
                    add(slot.setdefault(name, {}), c)
        for variant, by_family in fam.items():
            print(f"\nfamilies A-I, seeds 0-{args.seeds - 1}, {variant}: climaxes, springs and upthrusts, precision / recall")
            cols = ("range_first", "range_first_inside", "range_first_at_random", "shipped", "gate_off")
            print("  " + " " * 4 + " ".join(f"{c:>21}" for c in cols))
            pooled: dict[str, dict[str, list[int]]] = {}
            for f in FAMILIES:
                row = by_family[f]
                for name in row:
                    add(pooled.setdefault(name, {}), row[name])
                print(f"  {f:3} " + " ".join(f"{fmt(pr(row[n]['together'])):>21}" for n in cols))
            print("  all " + " ".join(f"{fmt(pr(pooled[n]['together'])):>21}" for n in cols))
            by_family["all"] = pooled
        fam = {v: {f: {n: {k: pr(c) for k, c in row.items()} for n, row in by.items()} for f, by in x.items()}
               for v, x in fam.items()}
    if given or args.no_families or not args.held_out or args.seeds != SEEDS:
        print(f"\n(only a run with the defaults and --held-out writes the results file: no --set, --no-families "
              f"or --seeds other than {SEEDS})")
        return
    write_results("wyckoff_rangefirst", {
        "what": "a range-first, price-only reading (research prototype, round 29; not the desk's detector) beside the "
                "shipped detector and its gate off, on tuning data (real_tuning_sets, families) and on the held-out "
                "EURUSD hours (held_out_real_set)",
        "settings": dataclasses.asdict(p), "seeds": args.seeds, "real_tuning_sets": real, "families": fam,
        "held_out_real_set": held or None,
        "machine": machine()})


def fmt(x: dict[str, Any]) -> str:
    return "-" if x["precision"] is None and x["recall"] is None else \
        f"{x['precision'] if x['precision'] is not None else '-'} / {x['recall'] if x['recall'] is not None else '-'}"


if __name__ == "__main__":
    main()
