"""Learning on Ray Train: on generated samples where one feature is planted to predict a trade's
success and every other is noise, the walk-forward job finds it out of sample; with the labels
shuffled (a leakage guard) it finds nothing; a challenger that does not beat the champion is refused,
one that does is promoted (the registry keeps both, with their folds and verdicts)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cluster.config.settings import Settings
from cluster.research.learn import planted_samples, train
from cluster.storage.registry import ModelRegistry
from cluster.storage.store import SessionStore
from trading.trust import FEATURES

pytestmark = pytest.mark.ray

@pytest.fixture(scope="module")
def learning(settings: Settings, tmp_path_factory: pytest.TempPathFactory, ray_local) -> tuple[Settings, ModelRegistry]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("learn")
    s = settings.model_copy(update={"learning": settings.learning.model_copy(
        update={"storage_path": root / "models", "folds": 3, "tune_trials": 1, "boost_rounds": 60, "margin": 0.02})})
    store = SessionStore(f"sqlite:///{root / 'octet.db'}")
    return s, ModelRegistry(store.engine, s.models_path())


def mean_auc(folds: list[dict[str, object]]) -> float:
    return float(np.mean([float(f["auc"]) for f in folds]))  # type: ignore[arg-type]


def test_the_planted_feature_is_found_out_of_sample_and_the_first_model_promoted(learning) -> None:  # type: ignore[no-untyped-def]
    settings, registry = learning
    result = train(planted_samples(), settings, registry, name="planted")
    folds = result.challenger.folds
    assert len(folds) == 3 and all(f["test_from_ns"] > 0 for f in folds)
    assert mean_auc(folds) >= 0.65, folds
    assert all(float(f["auc"]) >= 0.6 for f in folds)  # every fold, not just on average
    assert result.promoted and result.champion_before is None
    champion = registry.champion("planted")
    assert champion is not None and champion.version == result.challenger.version == 1
    assert (Path(champion.artifact) / "model.json").stat().st_mode & 0o777 == 0o600
    assert Path(champion.artifact).stat().st_mode & 0o777 == 0o700
    assert champion.samples == 1200 and champion.code_version and champion.features == list(FEATURES)
    # the trades the model would take earn more than taking every signal, out of sample
    assert all(f["taken_mean_r"] > f["all_mean_r"] for f in folds)


def test_shuffled_labels_find_nothing_and_the_worse_challenger_is_refused(learning) -> None:  # type: ignore[no-untyped-def]
    settings, registry = learning
    assert registry.champion("planted") is not None, "runs after the planted test"
    result = train(planted_samples(seed=8, shuffle=True, after=1200), settings, registry, name="planted")
    assert mean_auc(result.challenger.folds) <= 0.55, result.challenger.folds
    assert not result.promoted and "over the champion" in result.verdict and "had seen" not in result.verdict
    champion = registry.champion("planted")
    assert champion is not None and champion.version == 1  # unchanged
    refused = registry.get("planted", result.challenger.version)
    assert refused.role == "challenger" and refused.verdict == result.verdict
    # the champion's model was scored on the same test blocks, out of sample (after its own data)
    assert result.champion_before is not None and result.champion_before.version == 1
    assert all(0.4 <= float(f["champion_auc"]) <= 0.6 for f in refused.folds)


def test_a_better_challenger_is_promoted_over_the_champion(learning) -> None:  # type: ignore[no-untyped-def]
    settings, registry = learning
    # the refused model of the shuffled labels made champion by hand (as an operator could), then a
    # challenger trained on informative labels
    noise = max(v.version for v in registry.versions("planted") if v.role == "challenger")
    registry.promote("planted", noise, "set as champion by the test")
    two = settings.model_copy(update={"learning": settings.learning.model_copy(update={"workers": 2})})
    second = train(planted_samples(seed=9, after=2400), two, registry, name="planted")  # data-parallel, 2 workers
    assert second.promoted, second.verdict
    champion = registry.champion("planted")
    assert champion is not None and champion.version == second.challenger.version
    assert registry.get("planted", noise).role == "retired"
    assert [v.role for v in registry.versions("planted")].count("champion") == 1
    assert not math.isnan(mean_auc(second.challenger.folds))
