"""Alerts ahead of a firm's deadline on the desk (`octet backtest`'s in-process agents and rust_exec): the news
calendar a firm's news rule needs is about to run out, and an account that cannot trade nears its inactivity
deadline. Each is recorded once in the audit trail (``warning``), before the deadline, and `desk status` lists
those that stand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from cluster.adapters.feeds.replay import generate_ticks
from cluster.config.settings import load_settings
from cluster.desk.session import Session, SessionResult, utc_text
from tests.conftest import ROOT
from trading.market import NS_PER_S, TickBatch, datetime_to_ts, fx_open_ns

DAY = 86_400 * NS_PER_S


def opened(a: int, b: int) -> int:
    """The FX market's open time between two instants."""
    return int(fx_open_ns(np.array([a]), np.array([b]))[0])


def run_desk(tmp_path: Path, doc: dict[str, Any], ticks: int, run_id: str) -> tuple[Session, SessionResult, TickBatch]:
    """The desk in-process with rust_exec on ``doc`` (octet.yaml, edited) from START, with its records."""
    doc["session"].update(start=START.isoformat(), ticks=ticks, seed=3)
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(doc))
    settings = load_settings(path, runtime__data_dir=str(tmp_path / "var"))
    batch, _ = generate_ticks(settings.registry(), settings.generator_profiles(), ticks, 3, START)
    session = Session(settings, run_id=run_id, keep_records=True, in_process=True)
    result = session.run(batch)
    assert result.records is not None
    return session, result, batch
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
    doc.setdefault("desk", {}).update(warn_idle_days=7, warn_news_days=2)  # the idle lead: less, on 4 days
    session, result, ticks = run_desk(tmp_path, doc, TICKS, "alerts")
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
    raised = idle[0][0]  # the lead: half the open market of the 4 days (a weekend among them), under 2 days
    lead = opened(deadline - 4 * DAY, deadline) // 2
    assert lead < 2 * DAY and opened(raised, deadline) <= lead and raised < deadline, idle[0]
    assert "funded-50k: its firm closes the account unless it enters a trade by " in idle[0][1]["text"]
    assert result.compliance["funded-50k"]["breaches"][0].startswith(f"inactivity at {deadline}: ")

    # `desk status`: both stand, worded as of now: the deadline passed, the calendar covers nothing
    standing = session.status()["warnings"]
    assert len(standing) == 2, standing
    assert standing[0].startswith(f"funded-50k: no trade entered by {utc_text(deadline)}, 4 days after its last: past")
    assert "news.csv covers no orders now: every order of funded-50k is refused" in standing[1]


def test_a_deadline_that_falls_on_the_weekend_is_alerted_before_fridays_close(tmp_path: Path) -> None:
    """A one-day firm: Friday's last trade puts the deadline on Saturday, when no tick comes to review at. The lead
    counts open market (half of the day's, here), so the alert comes before the close, while a trade can be entered."""
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["firms"]["trailing_funded"]["activity"] = {"max_idle_days": 1}
    _, result, _ = run_desk(tmp_path, doc, 60_000, "weekend")
    assert result.records is not None
    close = datetime_to_ts(datetime(2026, 3, 6, 22, tzinfo=UTC))  # Friday 17:00 New York
    friday = max(t.opened_ns for t in result.trades if t.account_id == "funded-50k" and t.opened_ns < close)
    deadline = friday + DAY
    alerts = [(ts, dict(n)) for r in result.records for kind, ts, n in r.notes
              if kind == "warning" and n["rule"] == "inactivity" and n["due_ns"] == deadline]
    assert len(alerts) == 1, alerts
    raised, note = alerts[0]
    assert raised < close and opened(raised, deadline) <= opened(friday, deadline) // 2, (raised, close)
    assert "with the market open" in note["text"], note["text"]  # the words say how little of it is open
    assert result.compliance["funded-50k"]["breaches"][0].startswith(f"inactivity at {deadline}: ")


@pytest.mark.parametrize("calendar", ["none", "gap"])
def test_no_calendar_and_a_week_not_exported_are_named_as_such(tmp_path: Path, calendar: str) -> None:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["firms"]["trailing_funded"]["news"] = {"minutes_before": 2, "minutes_after": 2}
    if calendar == "gap":  # the weeks of 1 and 15 March, not the one between
        news = tmp_path / "news.csv"
        news.write_text("time_utc,currency,impact,title\n2026-03-06T13:30:00Z,USD,high,Non-Farm Payrolls\n"
                        "2026-03-18T18:00:00Z,USD,high,FOMC\n")
        doc["agents"]["compliance"]["news_calendar"] = str(news)
    else:
        doc["agents"]["compliance"]["news_calendar"] = None
    _, result, _ = run_desk(tmp_path, doc, 100_000, calendar)
    assert result.records is not None
    alerts = [(ts, dict(n)) for r in result.records for kind, ts, n in r.notes if kind == "warning"]
    if calendar == "none":  # one alert from the start, with no deadline: there is nothing to wait for
        assert [(n["rule"], n["due_ns"], n["accounts"]) for _, n in alerts] == [("news_calendar", None, ["funded-50k"])]
        assert alerts[0][1]["text"].startswith("no news calendar is loaded (agents.compliance.news_calendar is not "
                                               "set): every order of funded-50k is refused")
        return
    # ahead of the week missed, then once in it; both say it covers again from the 15th
    assert [n["due_ns"] for _, n in alerts] == [CALENDAR_END, CALENDAR_END], alerts
    (ahead, first), (_, inside) = alerts
    assert ahead < CALENDAR_END and first["text"].startswith(
        "news.csv has no events from 2026-03-08 to 2026-03-14 (1 week not exported): from 2026-03-08 00:00 UTC until "
        "2026-03-15 00:00 UTC every order of funded-50k is refused"), first["text"]
    assert inside["text"].startswith("news.csv has no events from 2026-03-08 to 2026-03-14 (1 week not exported): "
                                     "until 2026-03-15 00:00 UTC every order of funded-50k is refused")
