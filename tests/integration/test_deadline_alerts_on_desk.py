"""Alerts ahead of a firm's deadline on the desk (`octet backtest`'s in-process agents and rust_exec): the news
calendar a firm's news rule needs is about to run out, and an account that cannot trade nears its inactivity
deadline. Each is recorded once in the audit trail (``warning``), before the deadline, and `desk status` lists
those that stand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from cluster.adapters.feeds.replay import generate_ticks
from cluster.config.settings import load_settings
from cluster.desk.session import Session
from tests.conftest import ROOT
from trading.market import NS_PER_S, datetime_to_ts

DAY = 86_400 * NS_PER_S
START = datetime(2026, 3, 6, 8, tzinfo=UTC)  # a Friday
CALENDAR_END = datetime_to_ts(datetime(2026, 3, 8, tzinfo=UTC))  # the Sunday after the one week it covers
TICKS = 260_000  # to Tuesday 17 March: a second week the calendar misses


def test_the_news_calendars_end_and_an_idle_accounts_deadline_are_alerted_once_each_before_they_fall(
        tmp_path: Path) -> None:
    news = tmp_path / "news.csv"
    news.write_text("time_utc,currency,impact,title\n2026-03-04T13:15:00Z,USD,high,ADP Employment\n"
                    "2026-03-06T13:30:00Z,USD,high,Non-Farm Payrolls\n")
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["firms"]["trailing_funded"].update(activity={"max_idle_days": 4}, news={"minutes_before": 2, "minutes_after": 2})
    doc["agents"]["compliance"]["news_calendar"] = str(news)
    doc["session"].update(start=START.isoformat(), ticks=TICKS, seed=3)
    doc.setdefault("desk", {}).update(warn_idle_days=7, warn_news_days=2)  # the idle lead: half the firm's 4 days
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(doc))
    settings = load_settings(path, runtime__data_dir=str(tmp_path / "var"))
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), TICKS, 3, START)
    session = Session(settings, run_id="alerts", keep_records=True, in_process=True)
    result = session.run(ticks)
    assert result.records is not None
    warnings: list[tuple[int, dict[str, Any]]] = [(ts, dict(note)) for r in result.records
                                                  for kind, ts, note in r.notes if kind == "warning"]

    # raised before the calendar's end, and again once it has come; not once more for the next week it misses
    calendar = [(ts, w) for ts, w in warnings if w["rule"] == "news_calendar"]
    assert len(calendar) == 2, calendar
    (ts, w), (out_ts, out) = calendar
    assert ts < CALENDAR_END and w["due_ns"] == CALENDAR_END and w["accounts"] == ["funded-50k"]  # ftmo: no news rule
    assert "stops covering orders at 2026-03-08 00:00 UTC: from then every order of funded-50k is refused" in w["text"]
    assert CALENDAR_END <= out_ts < CALENDAR_END + DAY and out["due_ns"] == CALENDAR_END
    assert "covers no orders now: every order of funded-50k is refused" in out["text"]
    assert int(ticks.ts[-1]) > CALENDAR_END + 7 * DAY, "the ticks reach a second week the calendar misses"
    refused = [d for d in result.decisions if d.account_id == "funded-50k" and d.rule == "news_calendar"]
    entered = sorted(t.opened_ns for t in result.trades if t.account_id == "funded-50k")
    assert refused and entered and entered[-1] < CALENDAR_END, "funded-50k trades until the calendar runs out"

    idle = [(ts, w) for ts, w in warnings if w["rule"] == "inactivity"]
    deadline = entered[-1] + 4 * DAY
    assert int(ticks.ts[-1]) > deadline, "the ticks reach the account's deadline"
    assert [(w["account_id"], w["due_ns"]) for _, w in idle] == [("funded-50k", deadline)], idle
    raised = idle[0][0]
    assert deadline - 2 * DAY <= raised < deadline  # within the lead, before the deadline
    assert "funded-50k: its firm closes the account unless it enters a trade by " in idle[0][1]["text"]
    assert result.compliance["funded-50k"]["breaches"][0].startswith(f"inactivity at {deadline}: ")

    # `desk status`: the deadline passed, so the idle alert no longer stands; the calendar's does, worded as of now
    standing = session.status()["warnings"]
    assert len(standing) == 1 and "covers no orders now: every order of funded-50k is refused" in standing[0], standing
