"""The champion model in the desk's order path: loaded at the start, a newly promoted one picked up
during the run without a restart, its version named in every account's ``learning`` decision and in
the audit trail; a signal below ``learning.skip_below`` goes no further. With no champion, or
``learning.use_model: false``, the desk places exactly the orders it places without a model.

The desk runs in this process (the backtest's agents, rust_exec's paper venue) on the SMA reference
set-up; the models are real XGBoost boosters registered in the run's own store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from cluster.adapters.feeds.paced import read_data_file
from cluster.config.settings import Settings, load_settings
from cluster.desk.session import Session
from cluster.storage import models as m
from cluster.storage.registry import ModelRegistry
from cluster.storage.store import SessionStore
from tests.integration.test_cross_engine import CONFIG, hourly_bars
from trading.trust import FEATURES

xgboost = pytest.importorskip("xgboost")


def constant_model(label: float) -> bytes:
    """A booster trained on labels all ``label``: it says about the same probability of every signal."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURES)))
    booster = xgboost.train({"objective": "binary:logistic", "base_score": 0.5, "nthread": 1},
                            xgboost.DMatrix(x, label=np.full(200, label)), 20)
    return bytes(booster.save_raw("json"))


def nan_model() -> bytes:
    """A booster whose first trees' leaves are NaN: it answers NaN for every signal."""
    raw = json.loads(constant_model(1.0))
    for tree in raw["learner"]["gradient_booster"]["model"]["trees"][:4]:
        tree["split_conditions"] = tree["base_weights"] = [float("nan")] * len(tree["split_conditions"])
    return json.dumps(raw).encode()


def context_model() -> bytes:
    """A booster whose probability moves with what the desk knew at the signal (the account and market
    context): it tells a feature built differently live and in training."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, len(FEATURES)))
    names = list(FEATURES)
    for f in ("daily_fraction", "max_loss_fraction", "recent_mean_r", "recent_win_rate", "session"):
        x[:, names.index(f)] = rng.uniform(-1, 2, 2000)
    logit = sum(x[:, names.index(f)] for f in ("daily_fraction", "max_loss_fraction", "recent_mean_r", "recent_win_rate"))
    y = (rng.random(2000) < 1 / (1 + np.exp(-3 * logit))).astype(float)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 4, "nthread": 1}, xgboost.DMatrix(x, label=y), 60)
    return bytes(booster.save_raw("json"))


def register(registry: ModelRegistry, label: float, model: bytes | None = None) -> int:
    meta = {"features": list(FEATURES), "breakeven": 0.5, "format": "xgboost-json"}
    model = model if model is not None else constant_model(label)
    info = registry.register("signal_trust", {"model.json": model, "meta.json": json.dumps(meta).encode()},
                             features=list(FEATURES), params={}, metrics={}, folds=[], data_from_ns=None,
                             data_to_ns=None, samples=200, code_version="test")
    return info.version


def desk_settings(tmp_path: Path, name: str, bars: int = 900, **learning: Any) -> Settings:
    path = tmp_path / f"EURUSD_H1_{bars}.parquet"
    if not path.exists():
        data = hourly_bars(bars, seed=3)
        pl.DataFrame({"ts": data["ts"], "symbol": "EURUSD", **{k: data[k] for k in ("open", "high", "low", "close")},
                      "volume": 1.0}).write_parquet(path)
    doc = yaml.safe_load(CONFIG.read_text())
    doc["session"]["batch_size"] = 300  # many batches: a promotion lands in the middle of the run
    doc["strategy"]["sma_cross"].update(target_pips="40", close_on_opposite=False)
    doc["learning"] = {"poll_seconds": 0, **learning}
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    return load_settings(tmp_path / f"{name}.yaml", session__data_file=str(path),
                         runtime__data_dir=str(tmp_path / name))


def run(settings: Settings, store: SessionStore, on_batch: Any = None) -> Any:
    return Session(settings, store=store, in_process=True, keep_records=True, on_batch=on_batch).run(
        read_data_file(settings).ticks)


def test_the_desk_picks_up_a_promoted_model_without_a_restart(tmp_path: Path) -> None:
    settings = desk_settings(tmp_path, "desk")
    store = SessionStore.sqlite(settings.runtime.data_dir)
    registry = ModelRegistry(store.engine, settings.models_path())
    trusting, distrusting = register(registry, 1.0), register(registry, 0.0)
    registry.promote("signal_trust", trusting, "test: the champion at the start")
    batches: list[int] = []

    def promote_midway(progress: Any, _topology: Any) -> None:
        batches.append(progress.batch)
        if progress.batch == 4:
            registry.promote("signal_trust", distrusting, "test: promoted during the run")

    result = run(settings, store, promote_midway)
    assert max(batches) > 6
    learned = [d for d in result.decisions if d.step == "learning"]
    signals = {s.signal_id: s for s in result.signals}
    assert len(learned) == len(signals) > 10  # one account: a learning decision per signal
    versions = [dict(d.numbers)["model_version"] for d in learned]
    first_skip = versions.index(float(distrusting))
    assert set(versions[:first_skip]) == {float(trusting)} and set(versions[first_skip:]) == {float(distrusting)}
    assert first_skip >= 3 and len(versions) - first_skip >= 3  # both models decided some signals
    for d in learned[:first_skip]:
        assert d.outcome == "pass" and f"signal_trust v{trusting}" in d.reason and dict(d.numbers)["probability"] > 0.9
    for d in learned[first_skip:]:
        assert d.outcome == "skip" and f"signal_trust v{distrusting}" in d.reason and "skipped" in d.reason
    # a skipped signal goes no further: no other step, no order
    skipped = {d.signal_id for d in learned[first_skip:]}
    assert not [d for d in result.decisions if d.signal_id in skipped and d.step != "learning"]
    assert not [o for o in result.orders if o.signal_id in skipped]
    assert {o.signal_id for o in result.orders} <= {d.signal_id for d in learned[:first_skip]}
    # the signal recorded is the strategy's own (its confidence is not the model's)
    assert all(signals[d.signal_id].confidence != dict(d.numbers)["probability"] for d in learned[:first_skip])
    # the audit trail: both loads noted, the decisions with the version
    with DbSession(store.engine) as db:
        notes = [a.payload for a in db.scalars(select(m.AuditRow).where(m.AuditRow.kind == "model")
                                               .order_by(m.AuditRow.seq))]
        audited = [a.payload for a in db.scalars(select(m.AuditRow).where(m.AuditRow.kind == "decision"))
                   if a.payload.get("step") == "learning"]
    assert [n["model"] for n in notes] == [f"signal_trust v{trusting}", f"signal_trust v{distrusting}"]
    assert len(audited) == len(learned) and all("signal_trust v" in a["reason"] for a in audited)
    store.close()


def test_no_champion_or_use_model_off_leaves_the_orders_unchanged(tmp_path: Path) -> None:
    plain = desk_settings(tmp_path, "plain")
    store = SessionStore.sqlite(plain.runtime.data_dir)
    before = run(plain, store)  # the registry is empty: no model
    assert before.orders and not [d for d in before.decisions if d.step == "learning"]
    registry = ModelRegistry(store.engine, plain.models_path())
    registry.promote("signal_trust", register(registry, 0.0), "test: a champion that would skip everything")
    off = desk_settings(tmp_path, "off", use_model=False)
    off_store = SessionStore(store.url)
    after = run(off, off_store)
    assert not [d for d in after.decisions if d.step == "learning"]
    key = [(o.signal_id, o.side, o.lots, o.stop_loss, o.take_profit) for o in before.orders]
    assert [(o.signal_id, o.side, o.lots, o.stop_loss, o.take_profit) for o in after.orders] == key
    store.close()
    off_store.close()


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded-context", "context-from-records"])
def test_no_feature_uses_data_after_its_signal(tmp_path: Path, recorded: bool) -> None:
    """The features of a recorded run's signals, from the whole store and from copies of it cut at a
    signal (every signal after it, every trade closed at or after it, every headroom and equity row
    after it deleted): the signal at the cut has exactly the same features in both. Both with the
    context the desk recorded with each signal, and, as for a run recorded before it kept one, with
    the context built from the records."""
    import math
    import shutil

    from sqlalchemy import delete, update

    from cluster.research.learn import samples_from_store

    settings = desk_settings(tmp_path, "full")
    store = SessionStore.sqlite(settings.runtime.data_dir)
    run(settings, store)
    if not recorded:
        with store.engine.begin() as c:
            c.execute(update(m.SignalRow).values(context=None))
    full = samples_from_store(store.engine, unlabelled=True)
    store.close()
    assert len(full) > 20 and full["recent_mean_r"].is_not_nan().sum() > 10 and full["won"].is_not_nan().sum() > 10
    assert full["daily_fraction"].is_not_nan().all() and full["max_loss_fraction"].is_not_nan().all()
    # (the SMA strategy's signals carry no ATR: the regime is covered by tests/trading/test_trust.py)
    for k in range(5, len(full), max(1, len(full) // 8)):
        at = full.row(k, named=True)
        copy = tmp_path / f"cut{k}.db"
        shutil.copy(Path(settings.runtime.data_dir) / "octet.db", copy)
        cut_store = SessionStore(f"sqlite:///{copy}")
        with cut_store.engine.begin() as c:
            c.execute(delete(m.SignalRow).where(m.SignalRow.ts_ns > at["ts_ns"]))
            c.execute(delete(m.TradeRow).where(m.TradeRow.closed_ns >= at["ts_ns"]))
            c.execute(delete(m.HeadroomRow).where(m.HeadroomRow.ts_ns > at["ts_ns"]))
            c.execute(delete(m.EquityRow).where(m.EquityRow.ts_ns > at["ts_ns"]))
        cut = samples_from_store(cut_store.engine, unlabelled=True).row(-1, named=True)
        cut_store.close()
        assert cut["signal_id"] == at["signal_id"]
        for f in FEATURES:
            assert (math.isnan(at[f]) and math.isnan(cut[f])) or at[f] == cut[f], (k, f, at[f], cut[f])


def test_the_features_the_desk_scored_are_the_ones_training_reads(tmp_path: Path) -> None:
    """A model that reads the context: for every signal, the probability the desk decided with equals
    the model's on the features `octet learn` builds for that signal from the store."""
    from cluster.desk.trust import load_model
    from cluster.research.learn import samples_from_store

    settings = desk_settings(tmp_path, "parity", bars=1500)
    store = SessionStore.sqlite(settings.runtime.data_dir)
    registry = ModelRegistry(store.engine, settings.models_path())
    version = register(registry, 0.0, context_model())
    registry.promote("signal_trust", version, "test")
    result = run(settings, store)
    live = {d.signal_id: dict(d.numbers)["probability"] for d in result.decisions if d.step == "learning"}
    frame = samples_from_store(store.engine, unlabelled=True)
    info = registry.get("signal_trust", version)
    model = load_model(info.name, info.version, info.artifact, info.features)
    p = model.booster.inplace_predict(frame.select(model.features).to_numpy().astype(np.float64))
    offline = dict(zip(frame["signal_id"].to_list(), (round(float(v), 6) for v in p), strict=True))
    assert len(live) > 30 and set(live) == set(offline)
    assert len(set(live.values())) > 5  # the context moves the probability
    assert live == offline
    # and the context the training rows carry is the one recorded with each signal
    assert frame["recent_mean_r"].is_not_nan().sum() > 20 and frame["daily_fraction"].is_not_nan().all()
    store.close()


def test_a_model_that_answers_nan_is_set_aside_and_the_desk_goes_on(tmp_path: Path) -> None:
    settings = desk_settings(tmp_path, "nan")
    store = SessionStore.sqlite(settings.runtime.data_dir)
    registry = ModelRegistry(store.engine, settings.models_path())
    good, broken = register(registry, 1.0), register(registry, 0.0, nan_model())
    registry.promote("signal_trust", good, "test")

    def break_midway(progress: Any, _topology: Any) -> None:
        if progress.batch == 4:
            registry.promote("signal_trust", broken, "test: a broken champion")

    result = run(settings, store, break_midway)
    learned = [d for d in result.decisions if d.step == "learning"]
    versions = {dict(d.numbers)["model_version"] for d in learned}
    assert versions == {float(good)}  # the broken one never decided
    unscored = [s for s in result.signals if s.signal_id not in {d.signal_id for d in learned}]
    assert unscored and len(result.orders) == len(result.signals)  # after it, signals went on unscored
    with DbSession(store.engine) as db:
        notes = [a.payload for a in db.scalars(select(m.AuditRow).where(m.AuditRow.kind == "model")
                                               .order_by(m.AuditRow.seq))]
    assert notes[-2]["event"].startswith(f"model signal_trust v{broken} loaded")
    assert notes[-1]["event"].startswith(f"model signal_trust v{broken} set aside: it gave p = nan")
    assert notes[-1]["model"] is None and notes[-1]["error"] == notes[-1]["event"]
    store.close()


def test_one_champion_per_model_whatever_promotes(tmp_path: Path) -> None:
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    from cluster.storage.registry import RegistryError

    store = SessionStore.sqlite(tmp_path)
    registry = ModelRegistry(store.engine, tmp_path / "models")
    a, b, c = register(registry, 1.0), register(registry, 0.0), register(registry, 1.0)
    assert len({registry.get("signal_trust", v).artifact for v in (a, b, c)}) == 3  # a directory each
    registry.promote("signal_trust", a, "first")
    with pytest.raises(IntegrityError), store.engine.begin() as conn:  # the database itself refuses a second
        conn.execute(update(m.ModelVersion).where(m.ModelVersion.version == b).values(role="champion"))
    # a challenger judged against a that finds b champion by then is not promoted over it
    registry.promote("signal_trust", b, "rolled back by hand")
    with pytest.raises(RegistryError, match="changed to v2"):
        registry.promote("signal_trust", c, "judged against v1", replacing=a)
    assert [v.role for v in registry.versions("signal_trust")] == ["retired", "champion", "challenger"]
    registry.refuse("signal_trust", c, "refused: its trades are worse")
    registry.promote("signal_trust", c, "by hand: the operator's call")
    assert registry.get("signal_trust", c).verdict == "refused: its trades are worse; by hand: the operator's call"
    store.close()
