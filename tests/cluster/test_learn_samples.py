"""Learning's samples count each signal once: the same ticks backtested twice record every signal twice,
and counting both would weigh each again and inflate the sample count the promotion's standard errors
rest on (four runs of one seed read as 216 samples of 69 signals)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
from cluster.research.learn import samples_from_store
from cluster.storage.store import SessionStore
from tests.conftest import ROOT


def test_a_signal_recorded_by_two_runs_is_one_sample_the_latest_runs(tmp_path: Path) -> None:
    env = {"OCTET_RUNTIME__DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    for _ in range(2):
        done = CliRunner().invoke(app, ["backtest", "--config", str(ROOT / "octet.yaml"), "--ticks", "30000"], env=env)
        assert done.exit_code == 0, done.output
    store = SessionStore(f"sqlite:///{tmp_path / 'var' / 'octet.db'}")
    try:
        with store.engine.connect() as conn:
            runs = [r for (r,) in conn.exec_driver_sql("select run_id from runs order by recorded_ns")]
        assert len(runs) == 2
        each = [samples_from_store(store.engine, [r]) for r in runs]
        assert len(each[0]) == len(each[1]) > 0
        assert each[0]["signal_id"].to_list() == each[1]["signal_id"].to_list(), "the same ticks, the same signals"
        both = samples_from_store(store.engine)
        assert len(both) == len(each[1]) and set(both["run_id"]) == {runs[1]}
        assert both.drop("run_id").equals(each[1].drop("run_id"))
    finally:
        store.close()
