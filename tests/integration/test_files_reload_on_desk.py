"""A running desk reads its news calendar and market closures again at an operator's `octet desk reload` (the desk's
loop, in-process agents and rust_exec): the week's export written after the calendar ran out is alerted as changed on
disk and, once read, lets the accounts of a firm with a news rule trade again, with no restart; a reload that cannot
read one file takes neither and raises an alert until a good one is read."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from cluster.adapters.feeds.paced import ReplayFeed
from cluster.adapters.feeds.replay import generate_ticks
from cluster.config.secrets import state_key
from cluster.config.settings import PRESET_DIR, load_settings
from cluster.desk.desk import DeskFiles
from cluster.desk.session import Session, SessionResult
from tests.conftest import ROOT
from trading.market import NS_PER_S, datetime_to_ts

DAY = 86_400 * NS_PER_S
START = datetime(2026, 3, 6, 8, tzinfo=UTC)  # a Friday
RAN_OUT = datetime_to_ts(datetime(2026, 3, 8, tzinfo=UTC))  # the first calendar covers the week before this Sunday
REWRITE = datetime_to_ts(datetime(2026, 3, 9, 12, tzinfo=UTC))  # Monday noon: the next week's export is written
BREAK = datetime_to_ts(datetime(2026, 3, 10, 12, tzinfo=UTC))  # Tuesday noon: a calendar cut short
FIX = datetime_to_ts(datetime(2026, 3, 11, 12, tzinfo=UTC))  # Wednesday noon: a good one again
TICKS = 150_000  # to Thursday 12 March

HEADER = "time_utc,currency,impact,title\n"
WEEK_1 = "2026-03-04T13:15:00Z,USD,high,ADP Employment\n2026-03-06T13:30:00Z,USD,high,Non-Farm Payrolls\n"
WEEK_2 = "2026-03-12T12:30:00Z,USD,high,CPI\n"  # Thursday 12:30: a window the desk must keep to


Step = Callable[[Session, DeskFiles], None]


def desk_run(tmp_path: Path, watch_seconds: float, steps: dict[int, Step]) -> tuple[Session, SessionResult]:
    """The desk (in-process agents, rust_exec) on ``TICKS`` generated ticks from START, its news calendar
    WEEK_1; ``steps`` maps an instant to what is done (given the desk and its files) once the desk's clock has
    passed it, each once."""
    news = tmp_path / "news.csv"
    news.write_text(HEADER + WEEK_1)
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["firms"]["trailing_funded"].update(news={"minutes_before": 2, "minutes_after": 2})
    doc["agents"]["compliance"]["news_calendar"] = str(news)
    closures = tmp_path / "closures.csv"
    closures.write_text((PRESET_DIR / "market_closures.csv").read_text())
    doc["agents"]["compliance"]["market_closures"] = str(closures)
    doc.setdefault("desk", {}).update(watch_seconds=watch_seconds, warn_news_days=2)
    doc["session"].update(start=START.isoformat(), ticks=TICKS, seed=3)
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(doc))
    settings = load_settings(path, runtime__data_dir=str(tmp_path / "var"), session__batch_size=500)
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), TICKS, 3, START)
    files = DeskFiles(tmp_path / "var", state_key(tmp_path / "var"))
    holder: list[Session] = []
    left = dict(sorted(steps.items()))

    def on_batch(_p: Any, _topo: Any) -> None:
        for at in [at for at in left if holder[0].clock >= at]:
            left.pop(at)(holder[0], files)

    session = Session(settings, run_id="reload", keep_records=True, desk=files.for_run("reload"), in_process=True,
                      on_batch=on_batch)
    holder.append(session)
    result = session.run(ReplayFeed(ticks))
    assert not left, f"the ticks did not reach {sorted(left)}"
    return session, result


def replace(path: Path, text: str) -> None:
    """Write ``path`` whole, to another name, then rename it over (as `octet data news --out` does)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def refused_at(result: SessionResult, account: str, rule: str) -> list[int]:
    """When ``rule`` refused ``account`` a signal: the signals' instants."""
    at = {s.signal_id: s.ts_ns for s in result.signals}
    return sorted(at[d.signal_id] for d in result.decisions if d.account_id == account and d.rule == rule)


def notes_of(result: SessionResult, kind: str) -> list[tuple[int, dict[str, Any]]]:
    assert result.records is not None
    return [(ts, dict(note)) for r in result.records for k, ts, note in r.notes if k == kind]


def test_the_next_weeks_calendar_is_read_at_an_operators_reload_and_a_broken_one_is_refused_whole(tmp_path: Path) -> None:
    news, closures = tmp_path / "news.csv", tmp_path / "closures.csv"
    seen: dict[str, dict[str, Any]] = {}
    outage = "2026-03-13T20:00:00Z,2026-03-13T21:00:00Z,*,announced outage\n"

    def rewrite(_desk: Session, _files: DeskFiles) -> None:
        replace(news, HEADER + WEEK_1 + WEEK_2)
        replace(closures, closures.read_text() + outage)  # and a break the firms announced

    def ask(desk: Session, files: DeskFiles) -> None:  # an hour later: the change is alerted, not read
        seen["before"] = desk.status()
        files.request("reload", "", "the week's export", "ops")

    def broken(_desk: Session, _files: DeskFiles) -> None:
        replace(news, HEADER + WEEK_1 + "2026-03-12T12:3")  # cut short: a download broken off
        replace(closures, closures.read_text() + outage.replace("13T2", "14T2"))  # and one more break, well formed

    def fix(desk: Session, files: DeskFiles) -> None:
        seen["broken"] = desk.status()  # the refusal's alert stands until this
        replace(news, HEADER + WEEK_1 + WEEK_2 + "2026-03-19T12:30:00Z,USD,high,Retail Sales\n")
        files.request("reload", "", "fixed", "ops")

    def reload(_desk: Session, files: DeskFiles) -> None:
        files.request("reload", "", "the week's export, whole this time", "ops")

    hour = 3600 * NS_PER_S
    desk, result = desk_run(tmp_path, 0.01, {REWRITE: rewrite, REWRITE + hour: ask, BREAK: broken,
                                            BREAK + hour: reload, FIX: fix})
    reloads = [(ts, n) for ts, n in notes_of(result, "operator") if n["action"] == "reload"]
    assert [n["who"] for _, n in reloads] == ["ops"] * 3, reloads
    (read_at, read), (broke_at, refused), (fixed_at, fixed) = reloads
    assert read["outcome"] == ("read news_calendar news.csv: 3 events, covers orders until 2026-03-15 00:00 UTC; "
                               "market_closures closures.csv: 11 breaks")
    assert REWRITE + hour <= read_at < REWRITE + 2 * hour and not [n for _, n in notes_of(result, "desk")
                                                                   if n["action"] == "reload"], "read when asked only"
    assert refused["outcome"].startswith("refused: news_calendar news.csv: not read (news.csv:4=")  # its name only
    assert refused["outcome"].endswith("market_closures closures.csv: not read either, the one before kept")
    assert fixed["outcome"] == ("read news_calendar news.csv: 4 events, covers orders until 2026-03-22 00:00 UTC; "
                                "market_closures closures.csv: 12 breaks")

    # until the read, the change on disk was alerted and the calendar that ran out on Sunday still refused orders
    changed = [w for w in seen["before"]["warnings"] if "was changed on disk and is not read" in w]
    assert {w.split(" ")[0] for w in changed} == {"news_calendar", "market_closures"}, seen["before"]["warnings"]
    assert seen["before"]["files"]["news_calendar"] == {"path": "news.csv", "entries": 2, "error": None,
                                                        "on_disk": "changed"}
    refused_orders = refused_at(result, "funded-50k", "news_calendar")
    assert refused_orders and all(RAN_OUT <= t <= read_at for t in refused_orders), "refused only while uncovered"
    entered = [t.opened_ns for t in result.trades if t.account_id == "funded-50k"]
    assert any(t > read_at for t in entered), "funded-50k trades again once the new week is read"
    cpi = datetime_to_ts(datetime(2026, 3, 12, 12, 30, tzinfo=UTC))
    assert not [t for t in entered if cpi - 2 * 60 * NS_PER_S <= t <= cpi + 2 * 60 * NS_PER_S], \
        "the new week's window is kept"

    # the refused reload took neither file (the closures' new break too) and raised an alert, standing until the fix
    assert seen["broken"]["files"]["market_closures"]["entries"] == 11, "all or nothing"
    assert seen["broken"]["files"]["news_calendar"]["error"].startswith("news_calendar could not be read (news.csv:4=")
    broken_alerts = [(ts, w) for ts, w in notes_of(result, "warning") if "could not be read" in w["text"]]
    assert len(broken_alerts) == 1 and broke_at <= broken_alerts[0][0] < fixed_at, broken_alerts
    assert broken_alerts[0][1]["rule"] == "news_calendar" and broken_alerts[0][1]["due_ns"] is None
    final = desk.status()
    assert not [w for w in final["warnings"] if "could not be read" in w or "on disk" in w or "covers no orders" in w]
    assert final["files"]["news_calendar"] == {"path": "news.csv", "entries": 4, "error": None, "on_disk": None}
    # the desk's closures, its compliance agent's and its breaker's
    assert final["files"]["market_closures"]["entries"] == 12
    assert desk.topo.agents["compliance"].query("calendars")["closures"] == 12
    shut = desk.closures.spans(desk.registry.symbols, every=True)
    assert desk.topo.agents["breaker"].query("calendars")["desk_closed_spans"] == len(shut) == 12


def test_with_no_watch_a_change_is_not_alerted_and_a_reload_naming_an_account_is_refused(tmp_path: Path) -> None:
    news = tmp_path / "news.csv"

    def rewrite(_desk: Session, _files: DeskFiles) -> None:
        replace(news, HEADER + WEEK_1 + WEEK_2)

    def ask(_desk: Session, files: DeskFiles) -> None:
        files.request("reload", "", "the week's export", "tester")
        files.request("reload", "funded-50k", "one account", "tester")

    _, result = desk_run(tmp_path, 0.0, {REWRITE: rewrite, BREAK: ask})
    reloads = [(ts, n) for ts, n in notes_of(result, "desk") + notes_of(result, "operator") if n["action"] == "reload"]
    assert [(n["who"], n["outcome"][:40]) for _, n in sorted(reloads, key=lambda x: x[0])] == [
        ("tester", "read news_calendar news.csv: 3 events, c"),
        ("tester", "refused: reload reads the desk's files, ")], reloads
    at = reloads[0][0]
    assert at >= BREAK, "read when asked"
    assert not [w for _, w in notes_of(result, "warning") if "on disk" in w["text"]], "watch_seconds 0: never looks"
    refused = refused_at(result, "funded-50k", "news_calendar")
    assert refused and max(refused) <= at and max(refused) > REWRITE, "refused until the operator's reload"
