"""When a running desk reads its news calendar and market closures again (``Session._watch``): only once a changed
file has stood still for a round of ``desk.watch_seconds`` (a download or an editor still writing it is left
alone), at most once a round, never with 0. What the read does is tested on the desk
(tests/integration/test_files_reload_on_desk.py)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from cluster.config.settings import PRESET_DIR, load_settings
from cluster.desk.session import Session
from tests.conftest import ROOT

CALENDAR = "time_utc,currency,impact,title\n2026-03-06T13:30:00Z,USD,high,Non-Farm Payrolls\n"


def desk(tmp_path: Path, watch_seconds: float) -> tuple[Session, Path, Path]:
    news, closures = tmp_path / "news.csv", tmp_path / "closures.csv"
    news.write_text(CALENDAR)
    closures.write_text((PRESET_DIR / "market_closures.csv").read_text())
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["agents"]["compliance"].update(news_calendar=str(news), market_closures=str(closures))
    doc.setdefault("desk", {})["watch_seconds"] = watch_seconds
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return Session(load_settings(path, runtime__data_dir=str(tmp_path / "var")), run_id="w", in_process=True), \
        news, closures


def look(s: Session) -> dict[str, object] | None:
    """One round of the watch, due now."""
    s.watch_at = 0.0
    return s._watch()


def test_a_changed_file_is_read_again_only_once_it_has_stood_still_for_a_round(tmp_path: Path) -> None:
    s, news, closures = desk(tmp_path, 2.0)
    assert look(s) is None, "nothing changed"
    news.write_text(CALENDAR + "2026-03-12T12:30:00Z,USD,high,CPI\n")
    assert look(s) is None, "first seen changed: it may still be being written"
    with news.open("a") as f:
        f.write("2026-03-13T12:30:00Z,USD,high,Retail Sales\n")
    assert look(s) is None, "changed again since the last round"
    asked = look(s)
    assert asked == {"id": "", "action": "reload", "account": "", "who": "desk", "reason": "news_calendar changed"}
    s.watched = s._signatures()  # what the reload does first (Session._reload)
    assert look(s) is None, "read: nothing more to do"

    os.utime(closures, ns=(1, 1))  # the same bytes, touched: looked at as a change (its time is part of it)
    news.unlink()  # and a file gone: its rewrite will say it cannot be read
    assert look(s) is None
    assert look(s) == {"id": "", "action": "reload", "account": "", "who": "desk",
                       "reason": "news_calendar and market_closures changed"}


def test_the_watch_looks_at_most_once_a_round_and_never_with_zero(tmp_path: Path) -> None:
    s, news, _ = desk(tmp_path, 3600.0)
    assert look(s) is None
    news.write_text(CALENDAR * 2)
    assert s._watch() is None and s._watch() is None, "not due for an hour: the change is not even seen"
    assert s.changing is None
    (tmp_path / "off").mkdir()
    off, news_off, _ = desk(tmp_path / "off", 0.0)
    news_off.write_text(CALENDAR * 3)
    assert [look(off) for _ in range(3)] == [None, None, None], "0: only `octet desk reload` reads them"
