"""Train the Wyckoff range gate on the tuning families; check it on the family each fold leaves out.

The gate: ``trading.wyckoff.gate``'s ``FEATURES`` and ``gate_model.json``.

Samples: every range the detector reports with the gate off (``gate_min`` 0), at the bar where it
proves itself, with its ``gate.FEATURES``; labelled 1 when its climax is a labelled climax of the
same name within the scorer's tolerance (+-3 bars), else 0. Families A-I only (the tuning set since
round 10), seeds 0-``--seeds``, unperturbed and in every perturbation; family J is never read.

Folds: one per tuning family, trained on the others and scored on the one left out: on its
ranges (AUC; the share of true climaxes among the ranges kept at ``gate_min``, and of true
climaxes kept) and through the whole detector (``bench/wyckoff_accuracy.py``'s strict scorer on
its seeds 0-``--seeds``, every variant, with the fold's trees at ``gate_min`` and at each of
``--also``). ``--baseline`` scores round 5's detector (no gate) the same way instead. These are the
figures the candidates' thresholds and ``gate_min`` were chosen on (docs/wyckoff.md). Then the
shipped model is trained on all nine and written to ``trading/wyckoff/gate_model.json`` with what
it was trained on and its folds (``--out`` writes elsewhere). ``--quick`` skips the
detector-level folds. Prints its figures; never fails on a number.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wyckoff_accuracy import (  # noqa: E402
    TARGET_EVENTS,
    VARIANTS,
    detect,
    generator,
    jobs,
    override,
    positive,
    report,
    run,
    shortfall,
)
from trading.trust import auc  # noqa: E402
from trading.wyckoff import WyckoffParams, gate  # noqa: E402
from trading.wyckoff.scenarios import perturb  # noqa: E402
from trading.wyckoff.scoring import TOLERANCE  # noqa: E402

TUNING = "ABCDEFGHI"
# the detector's settings the gate was chosen with (rounds 6-11: docs/wyckoff.md): looser candidates than
# round 5's (since round 8, a climax's effort ranked against the bars before it; since round 10, a fall into it
# ranked the same way, and springs counted from a range as old as its phase A), which the gate then sorts;
# the detector's defaults (round 11's spring_gate_min and round 19's c_replaced_by_opposite, each chosen on its
# folds, ship off: docs/wyckoff.md)
CANDIDATES = {"ar_min_atr": 4.0, "climax_volume": 2.5, "climax_rank": 0.95, "fall_rank": 0.9, "fall_bars": 300,
              "min_range_ratio": 1.0, "gate_min": 0.2}
BOOST = {"max_depth": 3, "eta": 0.05, "subsample": 0.8, "min_child_weight": 5, "objective": "binary:logistic",
         "eval_metric": "logloss", "seed": 0, "nthread": 1}
ROUNDS = 150
ROUND_5 = {"ar_min_atr": 6.0, "climax_volume": 3.0, "gate_min": 0.0}  # the detector before the gate was on


def samples(job: tuple[str, str, list[int], WyckoffParams]) -> list[tuple[str, str, int, list[float]]]:
    family, variant, seeds, params = job
    out = []
    for seed in seeds:
        sc = generator(family)(seed)
        if variant != "original":
            sc = perturb(sc, variant)
        d = detect(sc, params)
        for r in d.ranges:
            if not r.gate or r.climax is None:
                continue
            bar = sc.bar_of(r.climax.bar_ts_ns)
            hit = any(lab.event == r.climax.event and abs(bar - lab.bar) <= TOLERANCE for lab in sc.labels)
            out.append((family, variant, int(hit), list(r.gate)))
    return out


Sampler = Callable[[tuple[str, str, list[int], WyckoffParams]], list[tuple[str, str, int, list[float]]]]


def collect(families: str, seeds: int, params: WyckoffParams, workers: int, sampler: Sampler = samples,
            what: str = "ranges") -> tuple[Any, Any, Any, Any]:
    """``sampler``'s rows on ``families``' seeds 0-``seeds``, every variant: family, variant, label, features."""
    todo = [j for f in families for j in jobs(f, range(seeds), VARIANTS, params)]
    rows: list[tuple[str, str, int, list[float]]] = []
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for n, part in enumerate(pool.map(sampler, todo), 1):
            rows += part
            if n % 20 == 0 or n == len(todo):
                print(f"  {n}/{len(todo)} chunks, {len(rows)} {what}, {time.perf_counter() - started:.0f} s", flush=True)
    fam = np.array([r[0] for r in rows])
    var = np.array([r[1] for r in rows])
    y = np.array([r[2] for r in rows], dtype=np.float64)
    x = np.array([r[3] for r in rows], dtype=np.float64)
    return fam, var, y, x


def fit(x: Any, y: Any) -> Any:
    import xgboost as xgb

    return xgb.train(BOOST, xgb.DMatrix(x, label=y), ROUNDS)


def predict(booster: Any, x: Any) -> Any:
    import xgboost as xgb

    return booster.predict(xgb.DMatrix(x))


def to_trees(booster: Any, meta: dict[str, Any], names: tuple[str, ...] = gate.FEATURES) -> gate.Trees:
    cfg = json.loads(booster.save_config())
    base_score = float(cfg["learner"]["learner_model_param"]["base_score"].strip("[]"))
    margin = float(np.log(base_score / (1 - base_score)))
    dump = [json.loads(t) for t in booster.get_dump(dump_format="json")]
    return gate.from_dump(dump, margin, names, meta)


def kept(y: Any, p: Any, threshold: Any) -> dict[str, float]:
    """Precision before and after keeping the scores at least ``threshold`` (one, or one per sample)."""
    keep = p >= threshold
    return {"precision_before": round(float(y.mean()), 4) if len(y) else 0.0,
            "precision_after": round(float(y[keep].mean()), 4) if keep.any() else 0.0,
            "true_kept": round(float(y[keep].sum() / y.sum()), 4) if y.sum() else 0.0}


def through_detector(held: str, seeds: int, params: WyckoffParams, workers: int,
                     path: Path | None, c_path: Path | None = None) -> dict[str, Any]:
    """The strict scorer's figures on ``held``'s seeds 0-``seeds``, every variant, with the trees at ``path``
    (None: the shipped ones, for a run with the gate off) and the phase-C gate's at ``c_path``."""
    scored = run([(held, range(seeds))], VARIANTS, params, workers, gate_model=path,
                 c_gate_model=c_path)  # each worker reads them
    out = {}
    for (_, variant), (score, _, _, _) in sorted(scored.items()):
        r = report(score)
        out[variant] = {"shortfall": shortfall(r), "phase_accuracy": r["phase_accuracy"],
                        **{k: {e: r[k].get(e, 0.0) for e in TARGET_EVENTS} for k in ("precision", "recall")}}
        c_gate = f" c_gate_min {params.c_gate_min}" if params.c_gate_min else ""
        c_gate += f" shallow {params.c_gate_shallow_min}" if params.c_gate_shallow_min else ""
        print(f"  {held} gate_min {params.gate_min}{c_gate} {variant:16s} shortfall {shortfall(r):.3f}  " + "  ".join(
            f"{e[:5]} {r['precision'].get(e, 0):.2f}/{r['recall'].get(e, 0):.2f}" for e in TARGET_EVENTS), flush=True)
    return out


def trainer_args(doc: str, out: Path) -> argparse.ArgumentParser:
    """The options a gate's trainer takes: seeds, workers, --quick, where the trees go, --set."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--seeds", type=positive, default=300, help="seeds 0..N-1 of each tuning family")
    ap.add_argument("--workers", type=positive, default=2)
    ap.add_argument("--quick", action="store_true", help="no detector-level folds")
    ap.add_argument("--out", type=Path, default=out)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a detector threshold for the candidates (the shipped trees: CANDIDATES, round 10's)")
    return ap


def main() -> None:
    ap = trainer_args(__doc__, gate.MODEL)
    ap.add_argument("--also", default="", metavar="G1,G2",
                    help="further gate_min values to score on the detector-level folds (comma-separated)")
    ap.add_argument("--baseline", action="store_true",
                    help="only score round 5's detector (ROUND_5: no gate) on each tuning family, as the folds do")
    args = ap.parse_args()
    params = dataclasses.replace(WyckoffParams(), **CANDIDATES)
    for item in args.set:
        try:
            params = override(params, item)
        except ValueError as e:
            ap.error(f"--set {item}: {e}")
    threshold, params = params.gate_min, dataclasses.replace(params, gate_min=0.0)  # candidates: every range
    try:
        tried = [threshold, *(float(t) for t in args.also.split(",") if t.strip())]
    except ValueError:
        ap.error(f"--also takes numbers, not {args.also!r}")
    if not all(0 < t < 1 for t in tried):
        ap.error("gate_min values lie in (0, 1)")
    families = TUNING
    if args.baseline:
        r5 = dataclasses.replace(WyckoffParams(), **ROUND_5)
        base = {f: through_detector(f, args.seeds, r5, args.workers, None) for f in families}
        ratios = [v["shortfall"] for f in base.values() for v in f.values()]
        print(f"round 5's detector (no gate): mean shortfall {np.mean(ratios):.4f}, worst {min(ratios):.4f}")
        return
    started = time.perf_counter()
    fam, var, y, x = collect(families, args.seeds, params, args.workers)
    print(f"{len(y)} ranges, {int(y.sum())} with a true climax")
    folds: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="octet-gate-") as tmp:
        for held in families:
            train, test = fam != held, fam == held
            booster = fit(x[train], y[train])
            p = predict(booster, x[test])
            folds[held] = {"auc": round(auc(y[test], p), 4), **kept(y[test], p, threshold)}
            f = folds[held]
            print(f"left out {held}: AUC {f['auc']:.3f}; at {threshold}: true climaxes among the ranges "
                  f"{f['precision_before']:.2f} -> {f['precision_after']:.2f}, true climaxes kept {f['true_kept']:.0%}")
            if args.quick:
                continue
            path = Path(tmp) / f"without_{held}.json"
            gate.save(to_trees(booster, {}), path)
            for t in tried:
                f.setdefault("detector", {})[str(t)] = through_detector(
                    held, args.seeds, dataclasses.replace(params, gate_min=t), args.workers, path)
    if not args.quick:
        for t in tried:
            ratios = [v["shortfall"] for f in folds.values() for v in f["detector"][str(t)].values()]
            print(f"folds through the detector at gate_min {t}: mean shortfall {np.mean(ratios):.4f}, "
                  f"worst {min(ratios):.4f}")
    booster = fit(x, y)
    meta = {"trained_on": f"families {', '.join(families)}, seeds 0-{args.seeds - 1}, variants {', '.join(VARIANTS)}",
            "never_read": "family J", "gate_min": threshold,
            "samples": int(len(y)), "positives": int(y.sum()), "boost": BOOST, "rounds": ROUNDS,
            "label": f"the range's climax is a labelled climax of its name within +-{TOLERANCE} bars",
            "folds_left_one_family_out": folds, "candidates": CANDIDATES, "set": list(args.set),
            "use_with": {k: getattr(params, k) for k in CANDIDATES} | {"gate_min": threshold}}
    gate.save(to_trees(booster, meta), args.out)
    check = gate.load.__wrapped__(args.out)
    mine = np.array([check.score(row) for row in x[:200]])
    theirs = predict(booster, x[:200])
    if not np.allclose(mine, theirs, atol=1e-5):
        raise SystemExit(f"the saved trees do not score as the booster does (max diff {np.abs(mine - theirs).max()})")
    print(f"-> {args.out} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
