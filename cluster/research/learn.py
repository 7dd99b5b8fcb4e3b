"""Learning which signals to trust, on Ray Train: samples from the store, walk-forward folds, a small
Ray Tune search, and a registry that promotes a challenger only when it beats the champion.

1. **Samples** (``samples_from_store``): every recorded signal of the chosen runs with its features as
   the desk knew them at the signal (``trading.trust``) and the outcome of its trades (R over all of
   them; ``won`` is the label). Signals none of whose trades closed are left out.
2. **Training** (``train``): each Ray Tune trial is one Ray Train ``XGBoostTrainer`` run over Ray Data.
   Inside it, for every walk-forward fold (``trading.trust.walk_forward``: expanding training, an
   embargo and a purge of labels that reach the test block), the workers train one XGBoost model
   together on their shards of the fold's training rows; rank 0 scores the fold's test block (the
   unsplit evaluation dataset) and keeps AUC, Brier score, calibration and expectancy. Then a final
   model on every sample. The trial reports once, with its final model as the checkpoint.
3. **Judging**: the best trial (mean out-of-sample AUC) is the challenger. The champion's model, as it
   is, scores the same folds' test blocks; both are judged on the blocks after the champion's own
   data, where neither has seen them (on every block when there is none such: the champion may have
   seen some, which can only favour it). The challenger is promoted only when its fold models beat
   the champion by ``learning.margin`` on average and in most of those folds (chance, 0.5, with no
   champion), and the trades it would take are no worse on average than the champion's (every
   signal's, with no champion; ``trading.trust.judge``). Either way it is registered with its folds and the verdict.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cluster.config.settings import Settings
from cluster.storage import models as m
from cluster.storage.reads import reading
from cluster.storage.registry import ModelInfo, ModelRegistry, RegistryError
from trading.orders import Evidence, Side, Signal
from trading.trust import (
    FEATURES,
    Context,
    Fold,
    HeadroomPoint,
    TradeOutcome,
    Verdict,
    auc,
    contexts,
    expectancy,
    features,
    judge,
    outcome,
    pooled_z,
    walk_forward,
)

NS_PER_HOUR = 3_600_000_000_000
# what a Tune trial (it only drives its Ray Train run) and each Ray Train worker (XGBoost, one thread)
# ask Ray for: a trial and its workers fit in whole CPUs (2 workers and their trial on 2 CPUs)
TRIAL_CPU = 0.05
WORKER_CPU = 0.95
# the Ray Tune search: a small grid around shallow, regularised trees (the samples are few and noisy)
SEARCH = ({"max_depth": 2, "eta": 0.1, "min_child_weight": 5.0, "subsample": 0.8},
          {"max_depth": 3, "eta": 0.05, "min_child_weight": 5.0, "subsample": 0.8},
          {"max_depth": 4, "eta": 0.05, "min_child_weight": 10.0, "subsample": 0.7},
          {"max_depth": 3, "eta": 0.1, "min_child_weight": 2.0, "subsample": 1.0},
          {"max_depth": 2, "eta": 0.03, "min_child_weight": 10.0, "subsample": 0.9},
          {"max_depth": 5, "eta": 0.03, "min_child_weight": 20.0, "subsample": 0.7})


class LearnError(ValueError):
    """Training that cannot run as asked (too few samples, no such run): one line for the operator."""


# -- samples ---------------------------------------------------------------------------------------------
def signal_of(row: m.SignalRow) -> Signal:
    ev = tuple(Evidence(str(e.get("event", "")), int(e.get("bar_ts_ns", 0)),
                        tuple((k, float(v)) for k, v in e.items()
                              if k not in ("event", "bar_ts_ns") and isinstance(v, int | float)))
               for e in (row.evidence or []) if isinstance(e, dict))
    return Signal(row.symbol, Side[row.side], row.ts_ns, Decimal(row.entry), Decimal(row.stop),
                  tuple(Decimal(str(t)) for t in row.targets or ()), row.confidence, row.setup, ev, row.atr or 0.0)


def samples_from_store(engine: Engine, runs: Sequence[str] | None = None, unlabelled: bool = False) -> pl.DataFrame:
    """One row per signal with an outcome, of ``runs`` (all runs when None), in time order; with
    ``unlabelled``, signals without one too (their labels NaN). A signal recorded by several runs (the
    same ticks run again) is one sample, the latest run's: counted once per run, every repeat would
    weigh it again and inflate the sample count the promotion's standard errors rest on."""
    rows: list[dict[str, Any]] = []
    with Session(reading(engine)) as s:
        run_ids = list(runs) if runs else list(s.scalars(select(m.Run.run_id)))
        # the latest recorded run first: its row of a repeated signal is the one kept
        latest = {r.run_id: (r.recorded_ns or 0, r.started_ns, r.run_id)
                  for r in s.scalars(select(m.Run).where(m.Run.run_id.in_(run_ids)))}
        missing = [r for r in run_ids if r not in latest]
        if missing:
            raise LearnError(f"no run {', '.join(missing)} in the store")
        initial = {a.account_id: float(a.initial_balance) for a in s.scalars(select(m.Account))}
        for run in run_ids:
            signal_rows = list(s.scalars(select(m.SignalRow).where(m.SignalRow.run_id == run)
                                         .order_by(m.SignalRow.ts_ns, m.SignalRow.id)))
            signals = [signal_of(r) for r in signal_rows]
            if not signals:
                continue
            trades: dict[str, list[tuple[int, float, float, str]]] = defaultdict(list)
            closed = []
            for t in s.scalars(select(m.TradeRow).where(m.TradeRow.run_id == run).order_by(m.TradeRow.closed_ns)):
                trades[t.signal_id].append((t.closed_ns, float(t.pnl), float(t.initial_risk), t.reason))
                if t.initial_risk > 0:
                    closed.append(TradeOutcome(t.closed_ns, float(t.pnl / t.initial_risk)))
            heads = [HeadroomPoint.of(h.ts_ns, h.account_id, float(h.daily_fraction), float(h.max_loss_headroom),
                                      initial.get(h.account_id))
                     for h in s.scalars(select(m.HeadroomRow).where(m.HeadroomRow.run_id == run)
                                        .order_by(m.HeadroomRow.ts_ns, m.HeadroomRow.id))]
            # what the desk knew at each signal, as it recorded it; built from the records for runs
            # recorded before the desk kept it (headroom then as of the batch's end: the store's rows)
            built = contexts(signals, closed, heads)
            recorded = [Context.from_record(r.context) if isinstance(r.context, dict) else b
                        for r, b in zip(signal_rows, built, strict=True)]
            for sig, ctx in zip(signals, recorded, strict=True):
                out = outcome(trades.get(sig.signal_id, []))
                if out is None and not unlabelled:
                    continue
                labels = ({"label_end_ns": out.closed_ns, "won": float(out.won), "r": out.r,
                           "target_first": float(out.target_first)} if out is not None else
                          {"label_end_ns": None, "won": math.nan, "r": math.nan, "target_first": math.nan})
                rows.append({"run_id": run, "signal_id": sig.signal_id, "ts_ns": sig.ts_ns, **labels,
                             **features(sig, ctx)})
    order = sorted(latest, key=lambda r: latest[r], reverse=True)
    rank = {r: i for i, r in enumerate(order)}
    rows.sort(key=lambda row: rank.get(row["run_id"], len(rank)))
    seen: set[tuple[str, int]] = set()
    distinct = []
    for row in rows:
        key = (row["signal_id"], row["ts_ns"])
        if key not in seen:
            seen.add(key)
            distinct.append(row)
    frame = pl.DataFrame(distinct, schema={**{c: pl.Utf8 for c in ("run_id", "signal_id")},
                                           **{c: pl.Int64 for c in ("ts_ns", "label_end_ns")},
                                           **{c: pl.Float64 for c in ("won", "r", "target_first", *FEATURES)}})
    return frame.sort("ts_ns", "signal_id")


PLANTED = "test.volume_ratio"  # the feature planted_samples makes predictive


def planted_samples(n: int = 1200, seed: int = 7, shuffle: bool = False, strength: float = 1.6,
                    after: int = 0) -> pl.DataFrame:
    """Generated samples to check the job with (tests, the notebook, the bench): ``n`` signals an hour
    apart, from ``after`` hours on; every feature noise, except PLANTED: P(won) = sigmoid(strength * it)."""
    rng = np.random.default_rng(seed)
    ts = 1_767_571_200_000_000_000 + (after + np.arange(n, dtype=np.int64)) * 3_600_000_000_000
    cols = {f: rng.normal(size=n) for f in FEATURES}
    won = (rng.random(n) < 1 / (1 + np.exp(-strength * cols[PLANTED]))).astype(np.float64)
    if shuffle:
        won = rng.permutation(won)
    return pl.DataFrame({"run_id": ["gen"] * n, "signal_id": [f"s{i}" for i in range(n)], "ts_ns": ts,
                         "label_end_ns": ts + 6 * 3_600_000_000_000, "won": won, "r": np.where(won > 0, 2.0, -1.0),
                         "target_first": won, **cols})


# -- the Ray Train run ---------------------------------------------------------------------------------------
def _train_loop(config: dict[str, Any]) -> None:
    """One trial, on each Ray Train worker: every fold, then the final model; rank 0 reports."""
    import ray.train
    import xgboost

    from trading.trust import Fold, fold_metrics

    feats: list[str] = config["features"]
    shard = ray.train.get_dataset_shard("train").materialize().to_pandas()
    full = ray.train.get_dataset_shard("eval").materialize().to_pandas().sort_values("row")
    rank = ray.train.get_context().get_world_rank()
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist", "nthread": 1,
              "seed": int(config["seed"]), **config["params"]}
    rounds = int(config["rounds"])

    def fit(rows: set[int] | None) -> Any:
        part = shard if rows is None else shard[shard["row"].isin(rows)]
        return xgboost.train(params, xgboost.DMatrix(part[feats], label=part["won"], missing=np.nan), rounds)

    folds_out: list[dict[str, Any]] = []
    for f in config["folds"]:
        fold = Fold(f["index"], np.asarray(f["train"]), np.asarray(f["test"]), f["test_from_ns"], f["test_to_ns"])
        model = fit(set(fold.train.tolist()))
        if rank == 0:
            test = full.iloc[fold.test]
            # (no DMatrix here: building one is a collective call every worker must make)
            p = model.inplace_predict(test[feats].to_numpy(dtype=np.float64), missing=np.nan)
            folds_out.append({"index": fold.index, "train_n": int(len(fold.train)), "test_from_ns": fold.test_from_ns,
                              "test_to_ns": fold.test_to_ns,
                              "threshold": f["threshold"], "p": [float(v) for v in p],
                              **fold_metrics(test["won"].to_numpy(), p, test["r"].to_numpy(), f["threshold"])})
    final = fit(None)
    aucs = [f["auc"] for f in folds_out if not math.isnan(f["auc"])]
    metrics = {"mean_auc": float(np.mean(aucs)) if aucs else math.nan, "folds": folds_out}
    if rank == 0:
        with tempfile.TemporaryDirectory() as d:
            final.save_model(os.path.join(d, "model.json"))
            with open(os.path.join(d, "folds.json"), "w") as fh:
                json.dump(folds_out, fh)
            ray.train.report({"mean_auc": metrics["mean_auc"]}, checkpoint=ray.train.Checkpoint.from_directory(d))
    else:
        ray.train.report({})


def fit_trial(config: dict[str, Any]) -> dict[str, Any]:
    """One Ray Train run of ``config`` (see ``_train_loop``): its folds' metrics and final model."""
    import ray.train
    from ray.train.xgboost import XGBoostTrainer

    samples = config["samples"]
    trainer = XGBoostTrainer(
        _train_loop, train_loop_config={k: v for k, v in config.items() if k not in ("samples", "workers",
                                                                                      "storage")},
        scaling_config=ray.train.ScalingConfig(num_workers=int(config["workers"]),
                                               resources_per_worker={"CPU": WORKER_CPU}),
        datasets={"train": samples, "eval": samples},
        dataset_config=ray.train.DataConfig(datasets_to_split=["train"]),
        run_config=ray.train.RunConfig(storage_path=config["storage"], name=f"trial-{time.time_ns()}"))
    result = trainer.fit()
    assert result.checkpoint is not None
    with result.checkpoint.as_directory() as d:
        model = Path(d, "model.json").read_bytes()
        folds = json.loads(Path(d, "folds.json").read_text())
    aucs = [f["auc"] for f in folds if not math.isnan(f["auc"])]
    return {"mean_auc": float(np.mean(aucs)) if aucs else math.nan, "folds": folds, "model": model}


@dataclass
class LearnResult:
    challenger: ModelInfo
    champion_before: ModelInfo | None
    promoted: bool
    verdict: str
    trials: list[dict[str, Any]]  # every trial's params and mean out-of-sample AUC
    samples: int
    seconds: float


def champion_scores(champion: ModelInfo, frame: pl.DataFrame, folds: Sequence[Fold],
                    thresholds: Sequence[float]) -> list[tuple[float, float, np.ndarray]]:
    """The champion's model as it is (its artefact), scored on each fold's test block: its AUC, the
    mean R of the trades it would take there (probability at or above the fold's threshold), and its
    probabilities."""
    from cluster.desk.trust import load_model

    try:
        model = load_model(champion.name, champion.version, champion.artifact, champion.features)
    except Exception as exc:  # any unusable artefact: one line
        raise LearnError(f"the champion {champion.label} cannot be read to judge against: {exc}") from None
    missing = [f for f in model.features if f not in frame.columns]
    if missing:
        raise LearnError(f"the champion {champion.label} takes features the samples lack: {', '.join(missing)}")
    x = frame.select(model.features).to_numpy().astype(np.float64)
    y, r = frame["won"].to_numpy(), frame["r"].to_numpy()
    out = []
    for f, threshold in zip(folds, thresholds, strict=True):
        p = np.asarray(model.booster.inplace_predict(x[f.test]), dtype=np.float64)
        out.append((auc(y[f.test], p), expectancy(r[f.test], p, threshold)["taken_mean_r"], p))
    return out


def train_storage(settings: Settings, name: str) -> tuple[str, Path | None]:
    """Where this job's Ray Train and Tune runs keep their checkpoints (``learning.train_storage``, or
    a directory of its own under the models' path, 0700), and that directory when it is local."""
    given = settings.learning.train_storage
    job = f"{name}-{time.time_ns()}"
    if given and "://" in given:  # s3://, gs://, ...: Ray's own storage; its runs are left there
        return f"{given.rstrip('/')}/{job}", None
    root = Path(given) if given else Path(settings.models_path(), "ray_train")
    for d in (*reversed(root.parents[:2]), root):  # those this creates: 0700 (an existing one is left)
        if not d.exists():
            d.mkdir(mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
    where = (root / job).resolve()
    where.mkdir(mode=0o700)
    return str(where), where


def error_line(exc: BaseException) -> str:
    """The line of a failed trial's error that says what failed (Ray wraps it in tracebacks and
    XGBoost adds a native stack trace)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    named = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception)\b.*:", ln) and "Traceback" not in ln]
    return (named[-1] if named else (lines[0] if lines else type(exc).__name__))[:300]


def breakeven(r: np.ndarray) -> float:
    """The probability of profit at which a trade of these payoffs breaks even: the mean loss over
    the mean win plus the mean loss, in R (0.5 when there are no wins or no losses to tell)."""
    wins, losses = r[r > 0], -r[r <= 0]
    if not len(wins) or not len(losses) or wins.mean() + losses.mean() <= 0:
        return 0.5
    return float(losses.mean() / (wins.mean() + losses.mean()))


def code_version() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[2])
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _clean(value: Any) -> Any:
    """JSON without NaN (the database's JSON and the API's reject it): NaN becomes null."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def train(frame: pl.DataFrame, settings: Settings, registry: ModelRegistry, *, name: str | None = None,
          feature_names: Sequence[str] = FEATURES, trials: int | None = None,
          progress: Callable[[str], None] = lambda _: None) -> LearnResult:
    """Train, judge and register a challenger on ``frame`` (``samples_from_store``'s columns); promote
    it when it beats the champion. Ray must be up (``ray.init``)."""
    import ray
    import ray.data
    from ray import tune

    began = time.perf_counter()
    cfg = settings.learning
    name = name or cfg.model
    if len(frame) < cfg.min_samples:
        raise LearnError(f"{len(frame)} samples with an outcome; training needs at least {cfg.min_samples} "
                         "(learning.min_samples): run a longer backtest first")
    unknown = [f for f in feature_names if f not in frame.columns]
    if unknown:
        raise LearnError(f"features not in the samples: {', '.join(unknown)}")
    frame = frame.sort("ts_ns", "signal_id").with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    folds = walk_forward(frame["ts_ns"].to_numpy(), cfg.folds, int(cfg.embargo_hours * NS_PER_HOUR),
                         frame["label_end_ns"].to_numpy())
    if not folds:
        raise LearnError(f"no walk-forward fold has enough training samples ({len(frame)} samples, {cfg.folds} folds)")
    champion = registry.champion(name)
    progress(f"{len(frame):,} samples, {len(folds)} folds"
             + (f"; the champion is {champion.label}" if champion else "; no champion yet"))
    r_all = frame["r"].to_numpy()
    # the probability a trade is taken from: learning.skip_below, or the break-even of the payoffs in
    # each fold's own training samples (a model's, of all its samples)
    thresholds = [cfg.skip_below if cfg.skip_below is not None else breakeven(r_all[f.train]) for f in folds]
    folds_cfg = [{"index": f.index, "train": f.train.tolist(), "test": f.test.tolist(), "test_from_ns": f.test_from_ns,
                  "test_to_ns": f.test_to_ns, "threshold": t} for f, t in zip(folds, thresholds, strict=True)]

    columns = ["row", "won", "r", *feature_names]
    dataset = ray.data.from_arrow(frame.select(columns).to_arrow())
    base = {"samples": dataset, "workers": cfg.workers, "storage": "", "folds": folds_cfg,
            "rounds": cfg.boost_rounds, "seed": cfg.seed}
    # (with one fold there is nothing to choose on apart from what judges: one trial)
    n = min(trials or cfg.tune_trials, len(SEARCH)) if len(folds) >= 2 else 1
    space: list[dict[str, Any]] = [{"features": list(feature_names), "params": p, "role": "challenger"}
                                   for p in SEARCH[:n]]

    def trial(config: dict[str, Any]) -> None:
        out = fit_trial({**base, **config["candidate"]})
        tune.report({"mean_auc": out["mean_auc"], "folds": json.dumps(out["folds"]),
                     "model": out["model"].hex()})

    cpus = float(ray.cluster_resources().get("CPU", 0))  # type: ignore[no-untyped-call]
    per_trial = TRIAL_CPU + cfg.workers * WORKER_CPU
    if per_trial > cpus + 1e-9:  # Ray would wait for them for ever
        raise LearnError(f"{cfg.workers} Ray Train worker(s) need {per_trial:g} CPUs; the Ray cluster has {cpus:g}: "
                         "ask for fewer (--workers, learning.workers)")
    storage, local = train_storage(settings, name)
    base["storage"] = storage
    tuner = tune.Tuner(tune.with_resources(trial, {"cpu": TRIAL_CPU}),  # a trial only drives its Ray Train run
                       param_space={"candidate": tune.grid_search(space)},
                       tune_config=tune.TuneConfig(max_concurrent_trials=max(1, int(cpus // per_trial))),
                       run_config=tune.RunConfig(storage_path=storage, name=f"{name}-{time.time_ns()}", verbose=0))
    progress(f"Ray Tune: {len(space)} trial(s), each a Ray Train run with {cfg.workers} worker(s)")
    try:
        grid = tuner.fit()
        results = []
        for i in range(len(grid)):
            r = grid[i]
            if r.error is not None:
                raise LearnError(f"a training trial failed: {error_line(r.error)}")
            results.append(((r.config or {})["candidate"], r.metrics or {}))
    finally:
        if local is not None:  # the checkpoints were read; the registry keeps the model
            shutil.rmtree(local, ignore_errors=True)
    # with several trials, the first half of the folds chooses among them and only the rest judge the
    # choice: a choice made on the blocks it is judged on would flatter it
    k = len(folds)
    choose = list(range(k // 2)) if len(results) > 1 and k >= 2 else list(range(k))
    judged = [i for i in range(k) if i not in choose] if len(results) > 1 and k >= 2 else list(range(k))

    def chosen_by(cm: tuple[dict[str, Any], dict[str, Any]]) -> float:
        aucs = [a for i, f in enumerate(json.loads(cm[1]["folds"])) if i in choose and not math.isnan(a := f["auc"])]
        return float(np.mean(aucs)) if aucs else -1.0

    best_cfg, best = max(results, key=chosen_by)
    best_folds = json.loads(best["folds"])
    preds = [np.asarray(f.pop("p"), dtype=np.float64) for f in best_folds]  # (not kept in the registry)
    used = judged
    champ: list[float] | None = None
    champ_p: list[np.ndarray] | None = None
    baseline = [f["all_mean_r"] for f in best_folds]  # the trades to beat: every signal's, or the champion's
    note = ""
    if champion is not None:
        scores = champion_scores(champion, frame, folds, thresholds)
        baseline = [0.0 if math.isnan(t) else t for _, t, _ in scores]  # a champion taking nothing earns 0 R
        # judged where both are out of sample: test blocks after the champion's data; with none, every
        # judged block (the champion may have trained on some of them, which can only favour it)
        unseen = [i for i in judged if champion.data_to_ns is None or folds[i].test_from_ns > champion.data_to_ns]
        used = unseen or judged
        note = "" if unseen else "; the champion had seen these test blocks (judged in its favour)"
        champ = [scores[i][0] for i in used]
        champ_p = [scores[i][2] for i in used]
        for i, (a, t, _) in enumerate(scores):
            best_folds[i]["champion_auc"], best_folds[i]["champion_taken_mean_r"] = a, t
    y_all = frame["won"].to_numpy()
    y_used = np.concatenate([y_all[folds[i].test] for i in used])
    pooled, z = pooled_z(y_used, np.concatenate([preds[i] for i in used]),
                         np.concatenate(champ_p) if champ_p is not None else None)
    edge = [best_folds[i]["taken_mean_r"] - baseline[i] for i in used]
    verdict = judge([best_folds[i]["auc"] for i in used], champ, cfg.margin, edge, z)
    verdict = Verdict(verdict.promote, verdict.reason + note)
    mean = {k: float(np.nanmean([f[k] for f in best_folds])) for k in ("auc", "brier", "all_mean_r", "taken_mean_r")
            if any(not math.isnan(f[k]) for f in best_folds)}
    metrics = _clean({"mean": mean, "champion": champion.label if champion else None,
                      "champion_mean_auc": float(np.nanmean(champ)) if champ else None, "judged_folds": used,
                      "chosen_on_folds": choose if len(results) > 1 else [], "pooled_auc": pooled, "pooled_z": z,
                      "trials": [{"params": c["params"], "mean_auc": mtr["mean_auc"]} for c, mtr in results]})
    meta = {"features": list(feature_names), "breakeven": breakeven(r_all), "format": "xgboost-json"}
    info = registry.register(name, {"model.json": bytes.fromhex(best["model"]),
                                    "meta.json": json.dumps(meta).encode()},
                             features=list(feature_names), params={"xgboost": best_cfg["params"], "rounds": cfg.boost_rounds},
                             metrics=metrics, folds=_clean(best_folds),
                             data_from_ns=int(frame["ts_ns"].min()), data_to_ns=int(frame["ts_ns"].max()),  # type: ignore[arg-type]
                             samples=len(frame), code_version=code_version())
    promoted = verdict.promote
    if promoted:  # only over the champion it was judged against (one rolled back meanwhile is not retired)
        try:
            info = registry.promote(name, info.version, verdict.reason, replacing=champion.version if champion else None)
        except RegistryError as exc:
            promoted, verdict = False, Verdict(False, f"{verdict.reason}; not promoted: {exc}")
    if not promoted:
        info = registry.refuse(name, info.version, verdict.reason)
    return LearnResult(info, champion, promoted, verdict.reason, metrics["trials"], len(frame),
                       time.perf_counter() - began)
