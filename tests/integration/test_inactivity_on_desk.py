"""The inactivity rule on the desk (`octet backtest`'s in-process agents and rust_exec): an account whose
firm closes it after a stretch without a trade entered is recorded as breached at the instant the stretch
ran out, from the trades the desk entered, and an account's last trade before the desk (the operator's
`accounts[].last_trade`) starts its clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cluster.adapters.feeds.replay import generate_ticks
from cluster.cli import app
from cluster.config.settings import load_settings
from cluster.desk.session import Session
from tests.conftest import ROOT
from trading.market import NS_PER_S, datetime_to_ts

DAY = 86_400 * NS_PER_S
START = datetime(2026, 3, 6, 8, tzinfo=UTC)  # a Friday: no tick over the weekend, so no trade either


def settings_file(tmp_path: Path) -> Path:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["firms"]["trailing_funded"]["activity"] = {"max_idle_days": 1}
    doc["accounts"][0].update(firm="fundednext.funded", last_trade=(START - timedelta(days=31)).isoformat())
    doc["session"].update(start=START.isoformat(), ticks=60_000, seed=3)
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_weekend_without_a_trade_breaches_a_one_day_rule_at_its_instant_and_an_old_last_trade_at_once(tmp_path: Path) -> None:
    path = settings_file(tmp_path)
    settings = load_settings(path, runtime__data_dir=str(tmp_path / "var"))
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), 60_000, 3, START)
    session = Session(settings, run_id="idle", keep_records=True, in_process=True)
    result = session.run(ticks)
    assert int(ticks.ts[-1]) > datetime_to_ts(datetime(2026, 3, 9, tzinfo=UTC)), "the ticks reach Monday"

    weekend = result.compliance["funded-50k"]
    entered = sorted(t.opened_ns for t in result.trades if t.account_id == "funded-50k")
    friday = [e for e in entered if e < datetime_to_ts(datetime(2026, 3, 7, tzinfo=UTC))]
    assert friday, "the account trades on Friday"
    # one breach, stamped a day after Friday's last entry (not at the resets the desk cut at over the weekend)
    assert weekend["breaches"] == [f"inactivity at {friday[-1] + DAY}: no trade entered for 1 day (the last at {friday[-1]})"]
    assert weekend["idle_deadline_ns"] == max(entered) + DAY
    assert session.status()["accounts"]["funded-50k"]["idle_deadline_ns"] == max(entered) + DAY  # `desk status`

    old = result.compliance["ftmo-100k"]  # FundedNext's 30 days ran out the day before the desk's first tick
    first = int(ticks.ts[0])
    last_trade = datetime_to_ts(START - timedelta(days=31))
    assert old["breaches"][0] == (f"inactivity at {last_trade + 30 * DAY}: no trade entered for 30 days "
                                  f"(the last at {last_trade})")
    assert first > last_trade + 30 * DAY


def test_a_backtest_with_an_inactivity_breach_names_it_in_utc_and_exits_1(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["backtest", "--config", str(settings_file(tmp_path))],
                             env={"OCTET_RUNTIME__DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"})
    assert out.exit_code == 1, out.output
    assert "2 hard-rule breach(es)" in out.output
    assert ("ftmo-100k: inactivity at 2026-03-05 08:00:00 UTC: no trade entered for 30 days "
            "(the last at 2026-02-03 08:00:00 UTC)") in out.output
    assert "funded-50k: inactivity at 2026-03-07 " in out.output  # a day after Friday's last entry
    assert "funded-50k: its firm closes it after 1 day without a trade entered: the next by 2026-03-" in out.output
