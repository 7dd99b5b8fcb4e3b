"""Sweeps and walk-forward: the grid's trials are backtests of the desk; each window's choice is the
best on its training stretch and is judged once on the test stretch after it; on Ray the trials give
the figures they give in this process."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from cluster.config.settings import load_settings
from cluster.research.sweep import SweepError, _score, local_runner, ray_runner, sweep, with_params, write_sweep
from tests.conftest import ROOT, replay_ticks

H = 3_600 * 10**9
AXES = {"fast": [5, 10], "slow": [20, 30]}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):  # type: ignore[no-untyped-def]
    settings = load_settings(ROOT / "octet.yaml", session__ticks=60_000,
                             runtime__data_dir=str(tmp_path_factory.mktemp("sweep")))
    return settings, replay_ticks(settings)


def test_a_walk_forward_chooses_on_training_and_judges_on_the_test_after_it(setup) -> None:  # type: ignore[no-untyped-def]
    settings, ticks = setup
    result = sweep(settings, ticks, "sma_cross", AXES, "net_pnl", "ftmo-100k", local_runner(ticks, "ftmo-100k", lambda t: None),
                   walk=(12 * H, 6 * H, False))
    assert len(result.windows) >= 2
    train = [t for t in result.trials if t.part == "train"]
    tests = [t for t in result.trials if t.part == "test"]
    assert len(train) == 4 * len(result.windows) and len(tests) == len(result.windows)
    for w, test in zip(result.windows, tests, strict=True):
        mine = [t for t in train if t.window == w["window"]]
        assert w["params"] == max(mine, key=lambda t: _score(t, "net_pnl")).params
        assert test.params == w["params"] and test.from_ns == w["train_to_ns"] and test.to_ns == w["test_to_ns"]
        assert all(t.to_ns <= test.from_ns for t in mine)  # chosen before the test stretch, never after
    assert sum(t.metrics["trades"] for t in train) > 0


def test_a_window_where_nothing_trades_is_written_as_having_no_valid_choice(setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings, ticks = setup
    # a confidence under every account's minimum: the risk agent refuses every signal, nothing trades
    result = sweep(settings, ticks, "sma_cross", {"confidence": [0.1]}, "net_pnl", "ftmo-100k",
                   local_runner(ticks, "ftmo-100k", lambda t: None), walk=(12 * H, 6 * H, False))
    assert result.windows and all(w["no_valid_choice"] and w["train_score"] is None for w in result.windows)
    page = write_sweep(result, tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert saved["windows"][0]["train_score"] is None and page.exists()


def test_parameters_the_settings_refuse_are_named(setup) -> None:  # type: ignore[no-untyped-def]
    settings, _ = setup
    with pytest.raises(SweepError, match=r"sma_cross \{'fast': 40, 'slow': 30\}: strategy.sma_cross: fast"):
        with_params(settings, "sma_cross", {"fast": 40, "slow": 30})
    with pytest.raises(SweepError, match="strategy.sma_cross.nope: Extra inputs are not permitted"):
        with_params(settings, "sma_cross", {"nope": 1})
    # the Wyckoff thresholds' check names each mistake itself: on one line, each once
    with pytest.raises(SweepError) as caught:
        with_params(settings, "wyckoff", {"climax_volume": 1e12, "atr_period": 0})
    assert str(caught.value).startswith("wyckoff {'climax_volume': 1000000000000.0, 'atr_period': 0}: agents.analysis.")
    assert "\n" not in str(caught.value) and "Value error" not in str(caught.value)
    assert "agents.analysis.climax_volume: a number above 0" in str(caught.value)
    assert "; agents.analysis.atr_period: a whole number from 1" in str(caught.value)


def test_the_sweep_command_writes_its_results_and_refuses_bad_options(tmp_path) -> None:
    runner, config = CliRunner(), str(ROOT / "octet.yaml")
    env = {"OCTET_RUNTIME__DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    out = runner.invoke(app, ["sweep", "--config", config, "--strategy", "sma_cross", "--grid", "fast=5,10",
                              "--grid", "slow=30", "--ticks", "30000", "--local", "--objective", "net_pnl"], env=env)
    assert out.exit_code == 0, out.output
    found = list(tmp_path.glob("sweeps/*/sweep.json"))
    assert len(found) == 1 and len(json.loads(found[0].read_text())["trials"]) == 2
    assert (found[0].parent / "sweep.html").stat().st_mode & 0o777 == 0o600
    assert not any((tmp_path / "exec").iterdir())  # no trial's venue journal is left where no run names it
    for args, message in [(["--grid", "fast"], "write name=v1,v2"),
                          (["--grid", "fast=5", "--objective", "luck"], "objective 'luck'"),
                          (["--grid", "fast=50"], "fast (50) must be below slow"),
                          (["--grid", "fast=5", "--walk-forward", "1w"], "write TRAIN:TEST"),
                          (["--grid", "fast=5", "--walk-forward", "30d:7d"], "no whole training and test window"),
                          (["--grid", "fast=5", "--grid", "fast=10"], "fast is already an axis"),
                          (["--grid", "fast=5,8,5.0"], "5.0 repeats 5"),
                          (["--grid", "fast=5", "--grid", "stop_pips=ab,AB"], "AB repeats ab"),
                          (["--grid", "fast=5", "--out", "/proc/octet-sweep"], "--out /proc/octet-sweep: cannot write")]:
        bad = runner.invoke(app, ["sweep", "--config", config, "--strategy", "sma_cross", "--ticks", "5000", "--local",
                                  *args], env=env)
        assert bad.exit_code == 2, (args, bad.output)
        assert message in bad.output.replace("\n", " ") and "Traceback" not in bad.output
        if "--walk-forward" not in args:  # refused before the data are read and a progress bar is drawn
            assert "reading ticks" not in bad.output and "backtests" not in bad.output, (args, bad.output)


@pytest.mark.ray
def test_trials_on_ray_give_the_figures_they_give_in_process(ray_local, setup) -> None:  # type: ignore[no-untyped-def]
    settings, ticks = setup
    on_ray = sweep(settings, ticks, "sma_cross", AXES, "sharpe", "ftmo-100k", ray_runner(ticks, "ftmo-100k", lambda t: None))
    local = sweep(settings, ticks, "sma_cross", AXES, "sharpe", "ftmo-100k", local_runner(ticks, "ftmo-100k", lambda t: None))
    assert [(t.params, t.metrics) for t in on_ray.trials] == [(t.params, t.metrics) for t in local.trials]
    assert len(on_ray.trials) == 4
