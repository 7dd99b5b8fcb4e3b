"""`octet report`: a run's report from the store's records, its figures the desk's own, its files
the owner's only."""

from __future__ import annotations

import csv
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from cluster.config.settings import load_settings
from cluster.desk.session import Session, SessionResult
from cluster.research.report import closest_call, load_run, monthly_returns, summary_of, write_report
from cluster.storage.store import open_store
from tests.conftest import ROOT, replay_ticks
from trading.market import NS_PER_S
from trading.passodds import read_trades_csv


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):  # type: ignore[no-untyped-def]
    var = tmp_path_factory.mktemp("var")
    settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(var), session__ticks=80_000)
    store = open_store(settings)
    result: SessionResult = Session(settings, store, keep_records=True, in_process=True).run(replay_ticks(settings))
    yield var, store, result
    store.close()


def test_the_report_holds_the_desks_own_figures(recorded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, store, result = recorded
    run = load_run(store.engine, result.run_id)
    assert set(run.accounts) == set(result.summaries)
    for account, acc in run.accounts.items():
        mine, desks = summary_of(acc), result.summaries[account]
        assert (mine.trades, mine.net_pnl, mine.wins) == (desks.trades, desks.net_pnl, desks.wins)
        assert mine.trades > 0
        # the months compound to the whole run's change of equity
        growth = Decimal(1)
        for _, pct in monthly_returns(acc):
            growth *= Decimal(1) + Decimal(str(pct)) / 100
        assert float(growth) == pytest.approx(float(acc.equity[-1][2] / acc.initial), rel=1e-9)
        call = closest_call(acc)
        assert call is not None
        assert call["max_loss"] == min(h.worst_case_max_loss_headroom for h in result.headroom if h.account_id == account)
        # the closest call (open stops hit) is never roomier than the least the rules saw: a batch records its lows,
        # not only its end (one row a batch, the report said 5,000.00 where the run's least was 3,985.72)
        least = result.compliance[account]
        assert call["max_loss"] <= least["min_max_loss_headroom"], (account, call, least)
        if least.get("min_daily_headroom") is not None:
            assert call["daily"] <= least["min_daily_headroom"], (account, call, least)
    page = write_report(run, tmp_path / "report")
    text = page.read_text()
    for part in ("Equity and drawdown", "Metrics", "Rule headroom over time", "Closest call", "Monthly returns",
                 "By signal type", "Trades", "Definitions", "data:image/png;base64,"):
        assert part in text, part
    assert "http://" not in text and "https://" not in text  # self-contained: nothing fetched
    rows = list(csv.DictReader((tmp_path / "report" / "trades.csv").open()))
    assert len(rows) == len(result.trades)
    # the report's trades.csv is what pass_odds.prior_trades reads: each close to the second, in UTC
    assert read_trades_csv(tmp_path / "report" / "trades.csv") == [
        (t.closed_ns // NS_PER_S * NS_PER_S, pytest.approx(t.r_multiple, abs=1e-4)) for a in run.accounts.values()
        for t in a.trades]
    assert stat.S_IMODE((tmp_path / "report").stat().st_mode) == 0o700
    for name in ("report.html", "equity.png", "headroom.png", "trades.csv"):
        path = tmp_path / "report" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.stat().st_size > 0
    assert (tmp_path / "report" / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_report_command_writes_the_latest_run_and_names_a_missing_one(recorded) -> None:  # type: ignore[no-untyped-def]
    var, _, result = recorded
    runner = CliRunner()
    env = {"OCTET_RUNTIME__DATA_DIR": str(var), "COLUMNS": "200"}
    out = runner.invoke(app, ["report", "--config", str(ROOT / "octet.yaml")], env=env)
    assert out.exit_code == 0, out.output
    assert (Path(var) / "reports" / result.run_id / "report.html").exists()
    missing = runner.invoke(app, ["report", "nosuchrun", "--config", str(ROOT / "octet.yaml")], env=env)
    assert missing.exit_code == 2 and f"no run 'nosuchrun' in the store (the latest first: {result.run_id}" in missing.output
    assert "Traceback" not in missing.output


def test_an_empty_store_has_no_report(tmp_path) -> None:
    out = CliRunner().invoke(app, ["report", "--config", str(ROOT / "octet.yaml")],
                             env={"OCTET_RUNTIME__DATA_DIR": str(tmp_path), "COLUMNS": "200"})
    assert out.exit_code == 2 and "the store holds no run yet" in out.output
    elsewhere = tmp_path / "none" / "octet.db"
    named = CliRunner().invoke(app, ["report", "--config", str(ROOT / "octet.yaml"), "--url", f"sqlite:///{elsewhere}"],
                               env={"OCTET_RUNTIME__DATA_DIR": str(tmp_path), "COLUMNS": "200"})
    assert named.exit_code == 2 and f"{elsewhere}: no such file" in named.output and "Traceback" not in named.output
    # file: is a path only in SQLite's URI form (uri=true); without it SQLite would make a file of that name
    rel = tmp_path / "rel.db"
    rel.write_bytes(b"")
    literal = CliRunner().invoke(app, ["report", "--config", str(ROOT / "octet.yaml"), "--url", f"sqlite:///file:{rel}",
                                       "--out", str(tmp_path / "out")], env={"OCTET_RUNTIME__DATA_DIR": str(tmp_path)})
    assert literal.exit_code == 2 and "no such file" in literal.output, literal.output
    odd = CliRunner().invoke(app, ["report", "--config", str(ROOT / "octet.yaml"), "--url",
                                   f"sqlite:///{rel}?uri=maybe"], env={"OCTET_RUNTIME__DATA_DIR": str(tmp_path)})
    assert odd.exit_code == 1 and "Traceback" not in odd.output and "database sqlite:///" in odd.output, odd.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rel.db"]  # no database made, no --out folder
    from cluster.storage.store import SessionStore

    SessionStore(f"sqlite:///{tmp_path / 'empty.db'}").close()
    none = CliRunner().invoke(app, ["report", "--config", str(ROOT / "octet.yaml"), "--url",
                                    f"sqlite:///{tmp_path / 'empty.db'}", "--out", str(tmp_path / "out")],
                              env={"OCTET_RUNTIME__DATA_DIR": str(tmp_path)})
    assert none.exit_code == 2 and "no run yet" in none.output and not (tmp_path / "out").exists(), none.output


def test_the_report_leaves_a_shared_folder_as_it_was_and_refuses_one_it_cannot_write(recorded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    var, _, result = recorded
    env = {"OCTET_RUNTIME__DATA_DIR": str(var), "COLUMNS": "200"}
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    out = CliRunner().invoke(app, ["report", result.run_id, "--config", str(ROOT / "octet.yaml"), "--out", str(shared)],
                             env=env)
    assert out.exit_code == 0, out.output
    assert shared.stat().st_mode & 0o7777 == 0o1777 and (shared / "trades.csv").stat().st_mode & 0o777 == 0o600
    # a SQLite URL in its URI form (read-only) is a store that exists
    ro = CliRunner().invoke(app, ["report", result.run_id, "--config", str(ROOT / "octet.yaml"), "--out",
                                  str(tmp_path / "ro"), "--url", f"sqlite:///file:{Path(var) / 'octet.db'}?mode=ro&uri=true"],
                            env=env)
    assert ro.exit_code == 0, ro.output
    fresh = tmp_path / "new" / "report"
    assert CliRunner().invoke(app, ["report", result.run_id, "--config", str(ROOT / "octet.yaml"), "--out",
                                    str(fresh)], env=env).exit_code == 0
    assert fresh.stat().st_mode & 0o777 == 0o700
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for where, says in ((Path("/proc/octet-report"), "cannot write there"), (a_file, "not a directory")):
        bad = CliRunner().invoke(app, ["report", result.run_id, "--config", str(ROOT / "octet.yaml"), "--out",
                                       str(where)], env=env)
        assert bad.exit_code == 2 and f"--out {where}: cannot write there" in bad.output and says in bad.output, \
            bad.output
        assert "Traceback" not in bad.output


def test_a_backtest_on_bars_reports_a_closest_call_no_roomier_than_the_least_its_rules_saw(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Headroom was recorded once a batch, at its end: a backtest on 5,000 real hours (ten batches) reported a
    closest call of 5,000.00 / 8,201.35 where its own summary's least was 4,234.29 / 7,401.33, and a shorter file
    (one batch) drew its headroom as two flat lines. A batch now records its lows too."""
    import json
    import sys

    import yaml

    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path / "var")
    config = tmp_path / "octet.yaml"
    config.write_text(yaml.safe_dump(doc))
    data = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / \
        "backtesting" / "test" / "EURUSD.csv"
    out = CliRunner().invoke(app, ["backtest", "-c", str(config), "--data", str(data), "--symbol", "EURUSD",
                                   "--format", "generic", "--columns",
                                   "ts=#1,open=Open,high=High,low=Low,close=Close,volume=Volume", "--tz", "UTC",
                                   "--bar-seconds", "3600", "--strategy", "sma_cross", "--no-report"])
    assert out.exit_code == 0, out.output
    summary = json.loads((tmp_path / "var" / "last_session.json").read_text())
    store = open_store(load_settings(config))
    try:
        run = load_run(store.engine, summary["run_id"])
    finally:
        store.close()
    acc = run.accounts["ftmo-100k"]
    assert summary["trades"] > 0
    call, least = closest_call(acc), summary["compliance"]["ftmo-100k"]
    assert call is not None
    assert call["max_loss"] <= Decimal(least["min_max_loss_headroom"]), (call, least)
    assert call["daily"] <= Decimal(least["min_daily_headroom"]), (call, least)
