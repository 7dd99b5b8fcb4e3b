"""Train the Wyckoff phase-C gate on the tuning families; check it on the family each fold leaves out.

The gate: ``trading.wyckoff.gate``'s ``C_FEATURES`` and ``c_gate_model.json`` (docs/wyckoff.md, round 20).

Samples: every spring and upthrust the detector would report with its shipped settings
(``bench/wyckoff_gate.py``'s ``CANDIDATES``, the shipped range gate) and the phase-C gate off, at the
bar where it is confirmed, with its ``gate.C_FEATURES``; labelled 1 when a spring (upthrust) is
planted within the scorer's tolerance (+-3 bars) of its extreme, else 0. Families A-I only, seeds
0-``--seeds``, unperturbed and in every perturbation; family J is never read.

Folds: one per tuning family. In each, the range gate (on ``bench/wyckoff_gate.py``'s samples) and
the phase-C gate are both trained on the other eight, and the family left out is scored through the
whole detector (``bench/wyckoff_accuracy.py``'s strict scorer, seeds 0-``--seeds``, every variant)
with both folds' trees at each ``--try`` value of ``c_gate_min`` (or of ``--vary``'s threshold, with
``--with``'s settings on the folds alone). (The candidates were collected
with the shipped range gate, which saw the family left out: a leak into which candidates exist, not
into their labels.) Then the shipped trees are trained on all nine and written to
``trading/wyckoff/c_gate_model.json`` (``--out`` elsewhere). ``--quick`` skips the detector-level
folds. Prints its figures; never fails on a number.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wyckoff_accuracy import (  # noqa: E402
    VARIANTS,
    detect,
    generator,
    override,
    refused,
)
from bench.wyckoff_gate import (  # noqa: E402
    BOOST,
    CANDIDATES,
    ROUNDS,
    TUNING,
    collect,
    fit,
    kept,
    predict,
    through_detector,
    to_trees,
    trainer_args,
)
from trading.trust import auc  # noqa: E402
from trading.wyckoff import WyckoffParams, gate  # noqa: E402
from trading.wyckoff.scenarios import perturb  # noqa: E402
from trading.wyckoff.scoring import TOLERANCE  # noqa: E402

NAMES = {True: "spring", False: "upthrust"}
GATE_KEYS = ("c_gate_min", "c_gate_shallow_min")  # the phase-C gate's thresholds: on the folds only (--with)
C_INDEX = {name: i for i, name in enumerate(gate.C_FEATURES)}


def sampled(params: WyckoffParams) -> WyckoffParams:
    """``params`` as the samples are taken: every candidate, with the phase-C gate off."""
    return dataclasses.replace(params, **dict.fromkeys(GATE_KEYS, 0.0))


def least(x: np.ndarray, params: WyckoffParams) -> np.ndarray:
    """Each sample's threshold under ``params`` (``WyckoffParams.c_least``), shallow or not by the
    sample's own penetration features, in the floors' units as the machine measures them."""
    height, atr = x[:, C_INDEX["penetration_height"]], x[:, C_INDEX["penetration_atr"]]
    shallow = (atr < 2 * params.spring_min_penetration_atr) | (height < 2 * params.spring_min_penetration)
    return np.where(shallow, params.c_least(True), params.c_least(False))


def c_samples(job: tuple[str, str, list[int], WyckoffParams]) -> list[tuple[str, str, int, list[float]]]:
    """Every spring and upthrust the detector reaches on one chunk of seeds, with its features."""
    family, variant, seeds, params = job
    seen: list[tuple[int, bool, tuple[float, ...]]] = []
    real = gate.c_features

    def record(x: Any, r: Any, bullish: bool, depth: int, volume: float, extreme_i: int, back_i: int,
               start: int) -> tuple[float, ...]:
        f = real(x, r, bullish, depth, volume, extreme_i, back_i, start)
        seen.append((extreme_i, bullish, f))
        return f

    gate.c_features = record  # this worker's detector calls it where a spring or upthrust is confirmed
    out = []
    try:
        for seed in seeds:
            sc = generator(family)(seed)
            if variant != "original":
                sc = perturb(sc, variant)
            seen.clear()
            detect(sc, params)
            for extreme_i, bullish, f in seen:
                hit = any(lab.event == NAMES[bullish] and abs(extreme_i - lab.bar) <= TOLERANCE for lab in sc.labels)
                out.append((family, variant, int(hit), list(f)))
    finally:
        gate.c_features = real
    return out


def main() -> None:
    ap = trainer_args(__doc__, gate.C_MODEL)
    ap.add_argument("--try", dest="tried", default="0.2,0.3,0.4", metavar="T1,T2",
                    help="values of --vary's threshold to score on the detector-level folds (comma-separated)")
    ap.add_argument("--vary", default="c_gate_min", metavar="NAME",
                    help="the threshold --try sets (a share: c_gate_min, c_gate_shallow_min)")
    ap.add_argument("--with", dest="fold_set", action="append", default=[], metavar="NAME=VALUE",
                    help="a threshold for the detector-level folds only (the samples are taken without it; the "
                         "phase-C gate's thresholds default to the shipped ones)")
    ap.add_argument("--results", type=Path, default=None, help="also write the folds' figures here (JSON)")
    args = ap.parse_args()
    if args.vary not in GATE_KEYS:
        ap.error(f"--vary takes {' or '.join(GATE_KEYS)}, not {args.vary!r}")
    try:
        tried = [float(t) for t in args.tried.split(",") if t.strip()]
    except ValueError:
        ap.error(f"--try takes numbers, not {args.tried!r}")
    if not tried or not all(0 < t < 1 for t in tried):
        ap.error(f"{args.vary} values lie in (0, 1)")
    params = sampled(dataclasses.replace(WyckoffParams(), **CANDIDATES))  # the shipped detector, the gate off
    for item in args.set:
        if item.partition("=")[0] in GATE_KEYS:  # the samples are every candidate, with the gate off
            ap.error(f"--set {item}: the samples are taken with the phase-C gate off; its thresholds go in --with")
        try:
            params = override(params, item)
        except ValueError as e:
            ap.error(f"--set {item}: {e}")
    shipped = WyckoffParams()
    on_folds = dataclasses.replace(params, **{k: getattr(shipped, k) for k in GATE_KEYS})  # the shipped gate's
    for item in args.fold_set:
        if item.partition("=")[0] == args.vary:
            ap.error(f"--with {item}: --try sets {args.vary}")
        try:
            on_folds = override(on_folds, item)
        except ValueError as e:
            ap.error(f"--with {item}: {e}")
    for t in tried:  # each as a settings file would take it (against the shipped trees), before minutes of work
        why = refused(dataclasses.replace(on_folds, **{args.vary: t}))
        if why:
            ap.error(f"at {args.vary} {t}: {why}")
    started = time.perf_counter()
    print("springs and upthrusts (the phase-C gate off):", flush=True)
    cfam, _, cy, cx = collect(TUNING, args.seeds, params, args.workers, c_samples, "springs and upthrusts")
    print(f"{len(cy)} springs and upthrusts, {int(cy.sum())} planted")
    if not args.quick:
        print("ranges (the range gate off), for each fold's range gate:", flush=True)
        rfam, _, ry, rx = collect(TUNING, args.seeds, dataclasses.replace(params, gate_min=0.0), args.workers)
    folds: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="octet-c-gate-") as tmp:
        for held in TUNING:
            train, test = cfam != held, cfam == held
            booster = fit(cx[train], cy[train])
            p = predict(booster, cx[test])
            folds[held] = {"auc": round(auc(cy[test], p), 4), "kept": {
                str(t): kept(cy[test], p, least(cx[test], dataclasses.replace(on_folds, **{args.vary: t})))
                for t in tried}}
            print(f"left out {held}: AUC {folds[held]['auc']:.3f}; " + "; ".join(
                f"at {t}: planted {k['precision_before']:.2f} -> {k['precision_after']:.2f}, kept {k['true_kept']:.0%}"
                for t, k in folds[held]["kept"].items()), flush=True)
            if args.quick:
                continue
            c_path = Path(tmp) / f"c_without_{held}.json"
            gate.save(to_trees(booster, {}, gate.C_FEATURES), c_path)
            r_path = Path(tmp) / f"without_{held}.json"
            gate.save(to_trees(fit(rx[rfam != held], ry[rfam != held]), {}), r_path)
            for t in tried:
                try:
                    folds[held].setdefault("detector", {})[str(t)] = through_detector(
                        held, args.seeds, dataclasses.replace(on_folds, **{args.vary: t}), args.workers, r_path, c_path)
                except ValueError as e:  # this fold's trees never score that high (the shipped ones do)
                    raise SystemExit(f"fold without {held}, {args.vary} {t}: {e}") from None
    summary = {}
    if not args.quick:
        for t in tried:
            pairs = {(f, v): d["shortfall"] for f, fold in folds.items() for v, d in fold["detector"][str(t)].items()}
            worst = min(pairs, key=lambda k: pairs[k])
            summary[str(t)] = {"mean": round(float(np.mean(list(pairs.values()))), 4), "worst": pairs[worst],
                               "worst_pair": list(worst)}
            print(f"folds through the detector at {args.vary} {t}: mean shortfall {summary[str(t)]['mean']:.4f}, "
                  f"worst {pairs[worst]:.4f} ({worst[0]} {worst[1]})")
    if args.results:
        args.results.write_text(json.dumps({"folds": folds, "summary": summary}, indent=1) + "\n")
    booster = fit(cx, cy)
    meta = {"trained_on": f"families {', '.join(TUNING)}, seeds 0-{args.seeds - 1}, variants {', '.join(VARIANTS)}",
            "never_read": "family J", "samples": int(len(cy)), "positives": int(cy.sum()), "boost": BOOST,
            "rounds": ROUNDS, "tried": tried, "varied": args.vary, "with": list(args.fold_set),
            "folded_at": {k: getattr(on_folds, k) for k in GATE_KEYS if k != args.vary},
            "label": f"a spring (upthrust) is planted within +-{TOLERANCE} bars of its extreme",
            "folds_left_one_family_out": folds, "summary": summary, "set": list(args.set),
            "use_with": {k: getattr(params, k) for k in CANDIDATES} | {
                k.split("=")[0]: getattr(params, k.split("=")[0]) for k in args.set}}
    gate.save(to_trees(booster, meta, gate.C_FEATURES), args.out)
    check = gate.load.__wrapped__(args.out, gate.C_FEATURES)
    mine = np.array([check.score(row) for row in cx[:200]])
    if not np.allclose(mine, predict(booster, cx[:200]), atol=1e-5):
        raise SystemExit("the saved trees do not score as the booster does")
    print(f"-> {args.out} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
