"""What a running desk does when its news calendar or market closures change on disk (``Session._watch``): once the
change has stood still for a round of ``desk.watch_seconds``, with bytes other than those read, an alert says so,
once, until `octet desk reload` reads the file; the desk never reads it by itself (it cannot tell a file still being
written, or cut short, from a whole one). The same bytes written again, or a touch, are no change; 0 never looks.
What the reload does is tested on the desk (tests/integration/test_files_reload_on_desk.py)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from cluster.config.settings import PRESET_DIR, load_settings
from cluster.desk.session import Session
from tests.conftest import ROOT

CALENDAR = "time_utc,currency,impact,title\n2026-03-06T13:30:00Z,USD,high,Non-Farm Payrolls\n"
CPI = "2026-03-12T12:30:00Z,USD,high,CPI\n"


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


def look(s: Session) -> dict[str, str | None]:
    """One round of the watch, due now, then the alerts a review raises: each file's change on disk."""
    s.watch_at = 0.0
    assert s._watch() is None, "the watch reads nothing"
    s._warn(0)
    return {name: how for name, (how, _) in s.on_disk.items()}


def alerts(s: Session) -> list[str]:
    return [str(note["text"]) for kind, _, note in s.log.notes if kind == "warning"]


def test_a_change_on_disk_is_alerted_once_it_stands_still_and_once_until_a_reload_and_never_read(tmp_path: Path) -> None:
    s, news, _ = desk(tmp_path, 2.0)
    assert look(s) == {} and alerts(s) == [], "nothing changed"
    with news.open("a") as f:  # a download writing into it
        f.write(CPI[:20])
    assert look(s) == {}, "still changing: looked at again next round"
    with news.open("a") as f:
        f.write(CPI[20:])
    assert look(s) == {}
    assert look(s) == {"news_calendar": "changed"}, "stood still for a round"
    (text,) = alerts(s)
    assert text.startswith("news_calendar news.csv was changed on disk and is not read: the desk keeps the one it read;")
    assert "run `octet desk reload`" in text
    with news.open("a") as f:  # changed again, and again standing still: the same alert stands, not a new one
        f.write("2026-03-13T12:30:00Z,USD,high,Retail Sales\n")
    look(s)
    assert look(s) == {"news_calendar": "changed"} and len(alerts(s)) == 1
    assert s._files_status()["news_calendar"] == {"path": "news.csv", "entries": None, "error": None,
                                                   "on_disk": "changed"}  # its name only: viewers see it
    s._mark_read()  # what `octet desk reload` does first (Session._reload)
    assert look(s) == {} and s.warned == {}, "read: the alert no longer stands"

    news.unlink()
    assert look(s) == {} and look(s) == {"news_calendar": "removed"} and "was removed on disk" in alerts(s)[-1]


def test_the_same_bytes_written_again_or_a_touch_is_no_change(tmp_path: Path) -> None:
    s, news, closures = desk(tmp_path, 2.0)
    tmp = news.with_name(".news.tmp")
    tmp.write_text(news.read_text())
    os.replace(tmp, news)  # a sync job writing the same export again
    os.utime(closures, ns=(1, 1))
    assert [look(s) for _ in range(3)] == [{}, {}, {}] and alerts(s) == []
    assert s.watched == s._signatures(), "taken as read: not hashed again each round"


def test_the_watch_looks_at_most_once_a_round_and_never_with_zero(tmp_path: Path) -> None:
    s, news, _ = desk(tmp_path, 3600.0)
    s.watch_at = 0.0
    s._watch()
    news.write_text(CALENDAR + CPI)
    s._watch()
    s._watch()
    assert s.seen == s.watched and not s.on_disk, "not due for an hour: the change is not even seen"
    (tmp_path / "off").mkdir()
    off, news_off, _ = desk(tmp_path / "off", 0.0)
    news_off.write_text(CALENDAR + CPI)
    assert [look(off) for _ in range(3)] == [{}, {}, {}] and alerts(off) == [], "0: never looks"
