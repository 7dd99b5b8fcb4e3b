"""Where the shipped detector's false springs and upthrusts lie, and whether three cues read from the
bars tell them from the true ones (issue 19, round 31).

The worst variant of issue 19's figures (family F, volatility x2) is bound by spring precision. This
bench runs the shipped detector on the **tuning** families (A-I, seeds 0-149: a diagnosis, not a
score; nothing held out is read) and sorts every spring and upthrust it reports:

- ``true``: matched to a label of its name by the strict scorer (``scoring.match_named``, 3 bars);
- ``before`` / ``after``: outside the labelled structure;
- ``on_break``: inside it, within 10 bars of the labelled break the other way (a spring near the sign
  of weakness, an upthrust near the sign of strength): the break and its pull-back into the range
  read as a shakeout (issue 19's defect 5, "schematic #2 read backwards");
- ``inside_A`` ... ``inside_E``: elsewhere inside it, by the labelled phase at its bar.

Variants: the original bars, volatility x2 (the headline's), volatility x0.5 and bars x3. For each it
measures three cues a rule could read where the event is confirmed: the closes beyond
the range's edge on the excursion up to its extreme (a break closes out; a shakeout probes), its
bars beyond the edge up to the extreme, and where the extreme bar closed in its own span (1: at the
end toward the range, a tail). Each cue's AUC says how well it orders true above false (0.5: not at
all; read either way, so 0.35 is as strong as 0.65), and what a cap on the first would cut
(``closes_beyond_cap``: true and false ones with at least K closes beyond the edge).

``python bench/wyckoff_false_c.py [--scenarios N] [--workers K]``; only a full run (150) writes
``bench/results/wyckoff_false_c.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, write_results  # noqa: E402
from bench.wyckoff_accuracy import detect, generator, positive  # noqa: E402
from trading.wyckoff.machine import PHASES  # noqa: E402
from trading.wyckoff.params import WyckoffParams  # noqa: E402
from trading.wyckoff.scenarios import Scenario, perturb, undone  # noqa: E402
from trading.wyckoff.scoring import TOLERANCE, match_named  # noqa: E402

FAMILIES = "ABCDEFGHI"
VARIANTS = ("original", "volatility_x2", "volatility_x0.5", "bars_x3")
CLOSES_CAPS = (4, 5, 6, 8)  # a rule "closes beyond the edge >= K: a break" tried in sample (the report's table)
BREAK_BARS = 10
CUES = ("closes_beyond", "bars_beyond", "close_toward_range")
BREAK = {"spring": "sign_of_weakness", "upthrust": "sign_of_strength"}


def where(sc: Scenario, event: str, bar: int, true: bool) -> str:
    """The class of a detected spring or upthrust at ``bar`` (see the module's docstring)."""
    if true:
        return "true"
    spans = sc.spans()
    if not spans or bar < spans[0][0]:
        return "before"
    if bar > spans[-1][1]:
        return "after"
    brk = [lab.bar for lab in sc.labels if lab.event == BREAK[event]]
    if any(abs(b - bar) <= BREAK_BARS for b in brk):
        return "on_break"
    return f"inside_{PHASES[int(sc.phases[bar])] or '-'}"


def cues(sc: Scenario, bullish: bool, bar: int, edge: int) -> tuple[float, float, float]:
    """``CUES`` of an excursion whose extreme is at ``bar``, beyond ``edge`` (points)."""
    closes, i = 0, bar
    while i >= 0 and ((sc.low[i] < edge) if bullish else (sc.high[i] > edge)):
        closes += int(sc.close[i] < edge) if bullish else int(sc.close[i] > edge)
        i -= 1
    h, lo, c = int(sc.high[bar]), int(sc.low[bar]), int(sc.close[bar])
    toward = ((c - lo) if bullish else (h - c)) / (h - lo) if h > lo else 0.5
    return float(closes), float(bar - i), round(toward, 4)


def classify(job: tuple[str, str, int]) -> list[tuple[str, str, str, tuple[float, float, float] | None]]:
    """(family, class, event, cues or None when its range is not reported) of every spring and upthrust
    the shipped detector reports on one scenario ([] when a perturbation undid it)."""
    family, variant, seed = job
    sc = generator(family)(seed)
    if variant != "original":
        original, sc = sc, perturb(sc, variant)
        if undone(sc) and not undone(original):
            return []
    d = detect(sc, WyckoffParams())
    found = [e for e in d.events if e.event in BREAK]
    bars = [sc.bar_of(e.bar_ts_ns) for e in found]
    matched = {i for i, _ in match_named([(e.event, b) for e, b in zip(found, bars, strict=True)],
                                         [(lab.event, lab.bar) for lab in sc.labels], TOLERANCE)}
    out: list[tuple[str, str, str, tuple[float, float, float] | None]] = []
    for k, (e, bar) in enumerate(zip(found, bars, strict=True)):
        r = next((r for r in d.ranges if r.c_event is e), None)
        bullish = e.event == "spring"
        cue = None if r is None else cues(sc, bullish, bar, r.support if bullish else r.resistance)
        out.append((family, where(sc, e.event, bar, k in matched), e.event, cue))
    return out


def auc(true: list[float], false: list[float]) -> float | None:
    """P(a true one's cue > a false one's), ties counting half (the Mann-Whitney statistic)."""
    if not true or not false:
        return None
    t, f = np.asarray(true), np.asarray(false)
    greater = (t[:, None] > f[None, :]).sum() + 0.5 * (t[:, None] == f[None, :]).sum()
    return round(float(greater) / (len(t) * len(f)), 3)


def summary(rows: list[tuple[str, str, str, tuple[float, float, float] | None]]) -> dict[str, Any]:
    classes = Counter(c for _, c, _, _ in rows)
    by_family = {f: {"detected": sum(1 for g, _, _, _ in rows if g == f),
                     "true": sum(1 for g, c, _, _ in rows if g == f and c == "true")} for f in FAMILIES}
    cue_of: dict[str, dict[str, list[float]]] = {}
    for _, c, _, cue in rows:
        if cue is None:
            continue
        for name, v in zip(CUES, cue, strict=True):
            cue_of.setdefault(name, {}).setdefault(c, []).append(v)
    table = {}
    for name in CUES:
        got = cue_of.get(name, {})
        true = got.get("true", [])
        false = [v for c, vs in got.items() if c != "true" for v in vs]
        table[name] = {"median": {c: float(np.median(v)) for c, v in sorted(got.items())},
                       "auc_true_vs_false": auc(true, false),
                       "auc_true_vs_on_break": auc(true, got.get("on_break", []))}
    caps = {}
    for k in CLOSES_CAPS:
        cut = [(c, cue[0] >= k) for _, c, _, cue in rows if cue is not None]
        caps[str(k)] = {"true_cut": sum(1 for c, x in cut if x and c == "true"),
                        "true": sum(1 for c, _ in cut if c == "true"),
                        "false_cut": sum(1 for c, x in cut if x and c != "true"),
                        "false": sum(1 for c, _ in cut if c != "true"),
                        "on_break_cut": sum(1 for c, x in cut if x and c == "on_break")}
    detected = sum(classes.values())
    return {"detected": detected, "precision": round(classes["true"] / detected, 4) if detected else None,
            "classes": dict(classes.most_common()), "by_family": by_family, "cues": table,
            "closes_beyond_cap": caps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", type=positive, default=150, help="seeds 0..N-1 of each tuning family (default 150)")
    ap.add_argument("--workers", type=positive, default=2)
    args = ap.parse_args()
    started = time.perf_counter()
    out: dict[str, Any] = {}
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for variant in VARIANTS:
            todo = [(f, variant, s) for f in FAMILIES for s in range(args.scenarios)]
            rows = [row for rs in pool.map(classify, todo, chunksize=10) for row in rs]
            out[variant] = s = summary(rows)
            print(f"{variant}: {s['detected']} springs and upthrusts, precision {s['precision']}")
            for c, n in s["classes"].items():
                print(f"  {c:<10}{n:>5}")
            for name, t in s["cues"].items():
                print(f"  {name:<20} AUC true/false {t['auc_true_vs_false']}, true/on_break "
                      f"{t['auc_true_vs_on_break']}; medians {t['median']}")
    if args.scenarios != 150:
        print("(a partial run: nothing written)")
        return
    result = {
        "what": "the shipped detector's springs and upthrusts on the tuning families, sorted by where they lie "
                "against the labels, and three cues' AUC (see the module's docstring); a diagnosis, not a score",
        "scored_on": "tuning families A-I, seeds 0-149 each, original, volatility x2 and x0.5 and bars x3 (less the "
                     "scenarios a perturbation undid)",
        **out,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
    }
    print(f"-> {write_results('wyckoff_false_c', result).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
