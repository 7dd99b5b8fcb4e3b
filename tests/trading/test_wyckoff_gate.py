"""The range gate: its trees score as XGBoost grew them, a model for other features is refused,
and the detector reports only the ranges the gate keeps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from bench.wyckoff_gate import to_trees
from trading.wyckoff import WyckoffParams, detect_points, gate, scenarios_d
from trading.wyckoff.scenarios import SCALE


def detection(seed: int, params: WyckoffParams):  # type: ignore[no-untyped-def]
    sc = scenarios_d.generate(seed)
    return sc, detect_points("EURUSD", sc.start_ns, sc.end_ns, sc.open, sc.high, sc.low, sc.close, sc.volume,
                             SCALE, params)


def test_the_trees_score_every_row_as_xgboost_does() -> None:
    """A booster grown on rows with the gate's shape, written out and read back: the plain-Python
    trees give its probabilities (to float rounding), including on thresholds' exact values."""
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, len(gate.FEATURES))).round(2)  # rounded: many rows sit on a split's value
    y = (x[:, 0] + 0.5 * x[:, 4] * x[:, 7] + rng.normal(0, 0.5, 600) > 0).astype(np.float64)
    booster = xgb.train({"max_depth": 3, "eta": 0.1, "objective": "binary:logistic", "seed": 0}, xgb.DMatrix(x, label=y), 40)
    trees = to_trees(booster, {})
    ours = np.array([trees.score(row.tolist()) for row in x])
    theirs = booster.predict(xgb.DMatrix(x))
    assert np.abs(ours - theirs).max() < 1e-5
    assert 0.05 < ours.mean() < 0.95  # the rows are not all on one side


def test_the_shipped_gate_reads_the_detectors_features_and_says_what_it_was_trained_on() -> None:
    trees = gate.load(gate.MODEL)
    assert trees.features == gate.FEATURES and len(trees.nodes) > 0
    assert "E and F" in trees.meta["never_read"] and "A, B, C, D" in trees.meta["trained_on"]


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    raw = json.loads(gate.MODEL.read_text())
    raw["features"] = [*raw["features"][:-1], "something_else"]
    path = tmp_path / "gate_model.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="other features.*retrain"):
        gate.load(path)


@pytest.mark.parametrize("seed", [0, 2])
def test_only_the_ranges_the_gate_keeps_are_reported(seed: int) -> None:
    """Off, every range that proved itself is reported, some scored under ``gate_min``; on, each
    reported range scored at least ``gate_min`` where it proved itself; a gate nothing passes
    reports no climax, AR, spring nor signal."""
    gate_min = WyckoffParams().gate_min
    _, d_off = detection(seed, dataclasses.replace(WyckoffParams(), gate_min=0.0))
    proven = [r for r in d_off.ranges if not r.held]
    assert proven and all(r.gate and 0.0 <= r.trust <= 1.0 for r in proven)
    assert min(r.trust for r in proven) < gate_min
    _, d_on = detection(seed, WyckoffParams())
    reported = [r for r in d_on.ranges if not r.held]
    assert reported and len(reported) < len(proven)
    for r in reported:
        assert r.trust >= gate_min
        assert r.trust == pytest.approx(gate.load(gate.MODEL).score(r.gate), abs=1e-6)
    _, d_none = detection(seed, dataclasses.replace(WyckoffParams(), gate_min=1.0))
    structure = {"selling_climax", "buying_climax", "automatic_rally", "automatic_reaction", "spring", "upthrust"}
    assert not [r for r in d_none.ranges if not r.held] and not d_none.signals
    assert not [e for e in d_none.events if e.event in structure]
