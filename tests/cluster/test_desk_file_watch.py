"""When a running desk reads its news calendar and market closures again (``Session._watch``): once a file has been
replaced (renamed over) and then stood still for a round of ``desk.watch_seconds``, not for the same bytes, never for
a file changed in place (an alert asks for `octet desk reload`), at most once a round, never with 0. What the read
does is tested on the desk (tests/integration/test_files_reload_on_desk.py)."""

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


def replace(path: Path, text: str) -> None:
    """Written whole to another name, then renamed over it (as `octet data news --out` writes)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_a_replaced_file_is_read_again_once_it_has_stood_still_for_a_round_and_not_for_the_same_bytes(
        tmp_path: Path) -> None:
    s, news, closures = desk(tmp_path, 2.0)
    assert look(s) is None, "nothing changed"
    replace(news, CALENDAR + "2026-03-12T12:30:00Z,USD,high,CPI\n")
    assert look(s) is None, "first seen changed: it may be replaced again"
    replace(news, CALENDAR + "2026-03-12T12:30:00Z,USD,high,CPI\n2026-03-13T12:30:00Z,USD,high,Retail Sales\n")
    assert look(s) is None, "changed again since the last round"
    assert look(s) == {"id": "", "action": "reload", "account": "", "who": "desk", "reason": "news_calendar replaced"}
    s._mark_read()  # what the reload does first (Session._reload)
    assert look(s) is None, "read: nothing more to do"

    replace(news, news.read_text())  # the same bytes again (a sync job): not read again
    replace(closures, closures.read_text())
    assert look(s) is None and look(s) is None and look(s) is None
    assert not s.in_place

    news.unlink()  # a file gone: its read will say it cannot be read
    assert look(s) is None
    assert look(s) == {"id": "", "action": "reload", "account": "", "who": "desk", "reason": "news_calendar replaced"}


def test_a_file_changed_in_place_is_not_read_but_alerted_until_an_operators_reload(tmp_path: Path) -> None:
    s, news, _ = desk(tmp_path, 2.0)
    with news.open("a") as f:  # an editor or a download writing into it: a read could catch it half written
        f.write("2026-03-12T12:30:00Z,USD,high,CPI\n")
    assert [look(s) for _ in range(4)] == [None] * 4
    assert list(s.in_place) == ["news_calendar"]
    s._warn(0)
    (key, (due, text)), = s.warned.items()
    assert key.startswith("in_place:news_calendar:") and due == 0
    assert text.startswith("news_calendar news.csv was changed in place and is not read: ") and \
        text.endswith("once it is whole, run `octet desk reload`")
    s._mark_read()  # an operator's reload
    s._warn(0)
    assert s.warned == {}


def test_the_watch_looks_at_most_once_a_round_and_never_with_zero(tmp_path: Path) -> None:
    s, news, _ = desk(tmp_path, 3600.0)
    assert look(s) is None
    replace(news, CALENDAR * 2)
    assert s._watch() is None and s._watch() is None, "not due for an hour: the change is not even seen"
    assert s.seen == s.watched
    (tmp_path / "off").mkdir()
    off, news_off, _ = desk(tmp_path / "off", 0.0)
    replace(news_off, CALENDAR * 3)
    assert [look(off) for _ in range(3)] == [None, None, None], "0: only `octet desk reload` reads them"
