"""What phase accuracy readers that know every labelled event score when they wait for the bars that
show a phase (issue 19, round 30).

Issue 19 asks for phase accuracy >= 0.7, scored per bar on the phase a reader shows *as known at
that bar* (``trading.wyckoff.scoring``), over the bars of the labelled structure only. A reader that
shows a phase only once the bars reveal it loses the bars between the phase's first bar and that
evidence, even if it never errs on an event. This bench computes that loss from the labels alone (no
detector runs), for three such readers, each less generous than the one before:

- ``hindsight_but_c``: shows every labelled phase from its first bar, except phase C, shown from the
  bar of the first event labelled inside it (its spring, upthrust or test: until then the leg toward
  it is a phase-B swing to any reader);
- ``one_bar``: the same, one bar later each (a bar is a low, a high or a test only once the next bar
  has not gone past it);
- ``one_bar_ar``: the same, with phase A shown only from the bar after its automatic rally or
  reaction (a climax is a stop, not one more low or high of the trend, only once price has turned
  from it).

They are not upper bounds for any causal reader: the bars outside the labelled structure are not
scored, so a reader may show anything there for free. The fourth, ``one_bar_ar_a_first``, is the third
showing phase A wherever it knows nothing yet (every bar before the first phase it knows): it shows
how much a reader gains by guessing a structure where no evidence is, which the score cannot see.

Scored on exactly the scenarios ``bench/wyckoff_accuracy.py`` scores (family J seeds 0-299, A-I seeds
100,000-100,299; every variant, less the scenarios a perturbation undid), and printed beside the
shipped detector's phase accuracy from ``bench/results/wyckoff.json`` (its last full run). The
readers' figures are what readers with those delays would score, not a detector's.

``python bench/wyckoff_phase_ceiling.py [--scenarios N] [--workers K]``; only a full run (300)
writes ``bench/results/wyckoff_phase_ceiling.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from bench.wyckoff_accuracy import TARGETS, UNSEEN, VARIANTS, generator, positive  # noqa: E402
from trading.wyckoff.machine import PHASES  # noqa: E402
from trading.wyckoff.scenarios import Label, perturb, undone  # noqa: E402

READERS = ("hindsight_but_c", "one_bar", "one_bar_ar", "one_bar_ar_a_first")
PHASE_A, PHASE_C = PHASES.index("A"), PHASES.index("C")
AR = frozenset({"automatic_rally", "automatic_reaction"})


def segments(phases: npt.NDArray[np.int8]) -> list[tuple[int, int, int]]:
    """(first bar, last bar, phase) of each run of one phase, in order."""
    if len(phases) == 0:
        return []
    cuts = np.flatnonzero(np.diff(phases)) + 1
    starts = np.r_[0, cuts]
    ends = np.r_[cuts - 1, len(phases) - 1]
    return [(int(s), int(e), int(phases[s])) for s, e in zip(starts, ends, strict=True)]


def shown(phases: npt.NDArray[np.int8], labels: list[Label], reader: str) -> npt.NDArray[np.int8]:
    """The phase ``reader`` shows at each bar: that of the latest labelled phase whose evidence has
    traded by then (0 before any)."""
    if reader not in READERS:
        raise ValueError(f"unknown reader {reader!r}: one of {', '.join(READERS)}")
    late = 0 if reader == "hindsight_but_c" else 1
    known: list[tuple[int, int, int]] = []  # (bar it is known at, order, phase)
    for k, (s, e, p) in enumerate(segments(phases)):
        at = s
        if p == PHASE_C:  # from its first event: never, within C, if none is labelled there
            at = min((lab.bar for lab in labels if s <= lab.bar <= e), default=e + 1)
        elif p == PHASE_A and reader.startswith("one_bar_ar"):
            at = min((lab.bar for lab in labels if lab.event in AR and s <= lab.bar <= e), default=s)
        known.append((at + late, k, p))
    out = np.zeros(len(phases), dtype=np.int8)
    for at, _, p in sorted(known):  # no phase is known after the next one begins: at a tie the later wins
        out[min(at, len(out)):] = p
    if reader == "one_bar_ar_a_first":  # A wherever it knows nothing yet (free where no bar is scored)
        out[:int(np.argmax(out > 0)) if (out > 0).any() else len(out)] = PHASE_A
    return out


def score_chunk(job: tuple[str, str, list[int]]) -> tuple[str, str, dict[str, int], int, int]:
    """Bars scored, bars each reader shows right, and the scenarios left out as undone."""
    family, variant, seeds = job
    hits = dict.fromkeys(READERS, 0)
    bars = left_out = 0
    for seed in seeds:
        sc = generator(family)(seed)
        if variant != "original":
            original, sc = sc, perturb(sc, variant)
            if undone(sc) and not undone(original):  # as bench/wyckoff_accuracy.py leaves it out
                left_out += 1
                continue
        truth = np.asarray(sc.phases, dtype=np.int8)
        inside = truth > 0
        bars += int(inside.sum())
        for r in READERS:
            hits[r] += int((shown(truth, sc.labels, r)[inside] == truth[inside]).sum())
    return family, variant, hits, bars, left_out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", type=positive, default=300, help="per family and variant (default 300)")
    ap.add_argument("--workers", type=positive, default=2)
    args = ap.parse_args()
    n = args.scenarios
    plan = [("J", range(n)), *((f, range(UNSEEN, UNSEEN + n)) for f in "ABCDEFGHI")]
    todo = [(f, v, list(seeds[i:i + 50])) for f, seeds in plan for v in VARIANTS for i in range(0, n, 50)]
    started = time.perf_counter()
    totals: dict[tuple[str, str], list[Any]] = {}
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for family, variant, hits, bars, left_out in pool.map(score_chunk, todo):
            t = totals.setdefault((family, variant), [dict.fromkeys(READERS, 0), 0, 0])
            for r in READERS:
                t[0][r] += hits[r]
            t[1] += bars
            t[2] += left_out
    shipped = json.loads((ROOT / "bench" / "results" / "wyckoff.json").read_text())["families"]
    families: dict[str, dict[str, Any]] = {}
    print(f"{'family':<7}{'variant':<17}" + "".join(f"{r:>19}" for r in READERS) + f"{'detector':>10}")
    for (family, variant), (hits, bars, left_out) in sorted(totals.items()):
        row = {r: round(hits[r] / bars, 4) for r in READERS}
        detector = shipped.get(family, {}).get(variant, {}).get("phase_accuracy") if n == 300 else None
        families.setdefault(family, {})[variant] = {**row, "bars": bars, "undone_by_perturbation": left_out,
                                                    "detector": detector}
        print(f"{family:<7}{variant:<17}" + "".join(f"{row[r]:>19.3f}" for r in READERS)
              + (f"{detector:>10.3f}" if detector is not None else f"{'-':>10}"))
    worst = {r: min(((f, v) for f in families for v in families[f]), key=lambda fv: families[fv[0]][fv[1]][r])
             for r in READERS}
    for r, (f, v) in worst.items():
        print(f"worst for {r}: family {f}, {v}: {families[f][v][r]:.3f}")
    if n != 300:
        print("(a partial run: nothing written)")
        return
    out = {
        "what": "phase accuracy of readers that know every labelled event and show a phase once the bars reveal it "
                "(the fourth also shows A wherever it knows nothing yet: the score sees only the labelled structure's "
                "bars; see the module's docstring), beside the shipped detector's (bench/results/wyckoff.json)",
        "scored_on": "family J seeds 0-299, A-I seeds 100,000-100,299, every variant, less the scenarios a perturbation "
                     "undid (as bench/wyckoff_accuracy.py scores them)",
        "target": TARGETS["phase_accuracy"],
        "worst": {r: {"family": f, "variant": v, "phase_accuracy": families[f][v][r]} for r, (f, v) in worst.items()},
        "families": families,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
    }
    path = ROOT / "bench" / "results" / "wyckoff_phase_ceiling.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"-> {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
