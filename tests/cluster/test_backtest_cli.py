"""`octet backtest`: the desk's agents in this process, no Ray, on a recorded file or the generator;
bad options are one line before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "tests" / "data" / "market_files"


def invoke(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["backtest", "--config", str(ROOT / "octet.yaml"), *args],
                              env={"OCTET_RUNTIME__DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"})


def test_a_backtest_on_a_broker_export_runs_without_ray_and_is_recorded(tmp_path) -> None:
    # in a process of its own, so that no other test's Ray is there to be seen
    code = ("import ray, sys; from typer.testing import CliRunner; from cluster.cli import app; "
            "r = CliRunner().invoke(app, sys.argv[1:]); print(r.output); print('ray started:', ray.is_initialized()); "
            "sys.exit(r.exit_code)")
    out = subprocess.run([sys.executable, "-c", code, "backtest", "--config", str(ROOT / "octet.yaml"), "--data",
                          str(FILES / "EURUSD_H1_mt5.csv"), "--tz", "NY+7", "--bar-seconds", "3600", "--strategy",
                          "sma_cross"], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "OCTET_RUNTIME__DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "mt5 bars, EURUSD; 4 rows read, 4 used" in out.stdout
    # the laddered profile holds orders 1-20 s and lets them live 180 s: on hourly bars (a quote each
    # 900 s) none would fill, and the operator is told before the run
    assert "account funded-50k (profile laddered): its orders wait 1-20 s" in " ".join(out.stdout.split())
    assert "16 ticks in" in out.stdout and "from start to end" in out.stdout
    assert "ray started: False" in out.stdout
    assert (tmp_path / "var" / "octet.db").exists() and (tmp_path / "var" / "last_session.json").exists()
    assert (tmp_path / "var" / "reports").is_dir()  # the backtest's report


def test_backtest_options_are_checked_in_one_line(tmp_path) -> None:
    cases = {
        ("--accounts", "nobody", "--ticks", "1000"): "--accounts: unknown account(s) nobody; the settings have ftmo-100k",
        # a window inside the data but shorter than a bar says where whole bars put it
        ("--from", "2026-03-02T00:10:00", "--to", "2026-03-02T00:40:00", "--ticks", "1000", "--bar-seconds", "3600"):
            "on the desk's 3600 s bars that is 2026-03-02 01:00 to 2026-03-02 00:00 UTC",
        ("--from", "2030-01-01", "--ticks", "1000"): "no ticks from 2030-01-01 00:00:00 to the end (the data runs from "
                                                     "2026-03-02 00:00",
        ("--from", "2026-03-03", "--to", "2026-03-02", "--ticks", "1000"): "is not after --from",
        # a zoned time and a naive one (UTC) compare: 2026-03-03 01:00+02:00 is 2026-03-02 23:00 UTC
        ("--from", "2026-03-03T01:00:00+02:00", "--to", "2026-03-02 23:00", "--ticks", "1000"): "is not after --from",
        ("--from", "2026-03-02 23:00", "--to", "2026-03-03T01:00:00+02:00", "--ticks", "1000"): "is not after --from",
        ("--data", str(FILES / "EURUSD_H1_mt5.csv")): "an MT5 export is in the broker's server time",
        ("--data", str(FILES / "EURUSD_H1_mt5.csv"), "--tz", "NY+7"): "set session.bar_seconds to 3600",
        ("--strategy", "martingale", "--ticks", "1000"): "strategy.default",
    }
    out = CliRunner().invoke(app, ["backtest", "--config", str(ROOT / "octet.yaml"), "--ticks", "1000"],
                             env={"OCTET_RUNTIME__DATA_DIR": "/proc/octet-var", "COLUMNS": "200"})
    assert out.exit_code == 2 and "runtime.data_dir /proc/octet-var: cannot write there" in out.output, out.output
    assert "Traceback" not in out.output
    for args, message in cases.items():
        out = invoke(tmp_path, *args)
        assert out.exit_code == 2, (args, out.output)
        assert message in out.output.replace("\n", " "), (args, out.output)
        assert "Traceback" not in out.output


def test_from_and_to_move_to_whole_bars() -> None:
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from cluster.cli.session import _window
    from trading.market import TickBatch

    hour = 3_600 * 10**9
    start = 1_700_000_000 // 3_600 * hour
    ts = start + np.arange(12, dtype=np.int64) * hour // 4  # three hourly bars, four quotes each
    ticks = TickBatch(ts, np.zeros(12, np.int16), np.full(12, 100), np.full(12, 101), np.ones(12))
    at = datetime.fromtimestamp(start // 10**9, UTC)
    cut = _window(ticks, at + timedelta(minutes=30), at + timedelta(hours=2, minutes=30), bar_ns=hour)
    assert cut.ts.tolist() == ts[4:8].tolist()  # the second bar only: neither end cuts a bar
