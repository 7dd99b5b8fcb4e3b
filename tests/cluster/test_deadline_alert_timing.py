"""When the desk's alerts ahead of a firm's deadline come (`Session._warn`, as a review calls it): reviews every 30
minutes the market is open, the account's headroom as its trades leave it. The lead counts open market, holidays
that close every instrument included; a trader who trades every market day is not alerted on a stretch they keep;
a stretch with no open market in it is still reported once past; a calendar that starts later says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from cluster.config.settings import load_settings
from cluster.desk.session import Session
from tests.conftest import ROOT
from trading.compliance import Headroom
from trading.market import NS_PER_S, datetime_to_ts, fx_market_closed

DAY = 86_400 * NS_PER_S
STEP = 1800 * NS_PER_S
ACC = "funded-50k"


def session(tmp_path: Path, max_idle_days: int, **compliance: Any) -> Session:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["firms"]["trailing_funded"]["activity"] = {"max_idle_days": max_idle_days}
    if "news_calendar" in compliance:  # a news rule, which the calendar's alert is for
        doc["firms"]["trailing_funded"]["news"] = {"minutes_before": 2, "minutes_after": 2}
    doc["agents"]["compliance"].update(compliance)
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return Session(load_settings(path, runtime__data_dir=str(tmp_path / "var")), run_id="t", in_process=True)


def headroom(ts: int, idle_deadline: int = 0) -> Headroom:
    z = Decimal(1000)
    return Headroom(ACC, ts, z, z, z, z, z, z, z, idle_deadline_ns=idle_deadline)


def at(text: str) -> int:
    return datetime_to_ts(datetime.fromisoformat(text).replace(tzinfo=UTC))


def reviews(s: Session, start: int, end: int, deadline: Any = lambda t: 0,
            closures: tuple[tuple[int, int], ...] = ()) -> list[tuple[int, dict[str, Any]]]:
    """Review every 30 minutes the market is open (a desk reviews when ticks come); the alerts raised, with when."""
    out: list[tuple[int, dict[str, Any]]] = []
    for t in range(start, end, STEP):
        if fx_market_closed(np.array([t], np.int64), closures)[0]:
            continue
        s.headrooms = {ACC: headroom(t, deadline(t))}
        before = len(s.log.notes)
        s._warn(t)
        out += [(t, dict(n)) for kind, _, n in s.log.notes[before:] if kind == "warning"]
    return out


def test_a_deadline_on_a_holiday_is_alerted_while_the_market_is_still_open(tmp_path: Path) -> None:
    s = session(tmp_path, 1)  # the preset market closures: Christmas Day closes every instrument
    closed = s.closures.spans(s.registry.symbols, every=True)
    christmas = next((a, b) for a, b in closed if a <= at("2026-12-25T12:00:00") < b)
    deadline = at("2026-12-25T16:00:00")  # a day after the last trade, inside the break
    alerts = reviews(s, at("2026-12-24T00:00:00"), at("2026-12-29T00:00:00"), lambda t: deadline, closures=closed)
    assert [n["due_ns"] for _, n in alerts] == [deadline], alerts
    assert alerts[0][0] < christmas[0], "raised before the break, while a trade can still be entered"
    assert "with the market open" in alerts[0][1]["text"]


def daily_trader() -> Any:
    """The last entry of an account that enters a trade every market day, at 09:00 UTC one day, 11:30 the next."""
    def entry(day: datetime) -> int:
        return datetime_to_ts(day.replace(hour=9) + timedelta(minutes=150 * (day.toordinal() % 2)))

    def last_entry(t: int) -> int:
        day = datetime.fromtimestamp(t / 1e9, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        while day.weekday() >= 5 or entry(day) > t:
            day -= timedelta(days=1)
        return entry(day)
    return last_entry


@pytest.mark.parametrize("days", [2, 3, 5, 7, 30])
def test_a_trader_entering_every_market_day_is_alerted_only_of_a_weekend_they_cannot_trade_through(
        tmp_path: Path, days: int) -> None:
    s = session(tmp_path, days)
    entry = daily_trader()
    start, end = at("2026-03-02T12:00:00"), at("2026-04-27T12:00:00")  # eight weeks, the clocks changing among them
    alerts = reviews(s, start, end, lambda t: entry(t) + days * DAY)
    due = [datetime.fromtimestamp(n["due_ns"] / 1e9, UTC) for _, n in alerts]
    if days >= 5:
        assert alerts == []
    elif days == 2:  # Friday's trade leaves a deadline on Sunday, with the market shut: alerted on each Friday
        assert len(due) == 8 and all(d.weekday() == 6 for d in due), due
        assert all(datetime.fromtimestamp(t / 1e9, UTC).weekday() == 4 for t, _ in alerts)
    else:  # Friday's trade leaves a deadline on Monday morning: alerted that morning, 3 market hours before
        assert len(due) == 8 and all(d.weekday() == 0 for d in due), due
        assert all(0 < n["due_ns"] - t <= 3 * 3600 * NS_PER_S for t, n in alerts)


def test_a_stretch_with_no_open_market_is_reported_broken_once_the_desk_sees_it(tmp_path: Path) -> None:
    s = session(tmp_path, 1)
    deadline = at("2026-03-08T00:00:00")  # the last trade on Saturday: a day with the market shut throughout
    alerts = reviews(s, at("2026-03-08T20:00:00"), at("2026-03-12T00:00:00"), lambda t: deadline)
    assert len(alerts) == 1 and alerts[0][1]["text"].startswith(
        f"{ACC}: no trade entered by 2026-03-08 00:00 UTC, 1 day after its last: past its firm's inactivity rule")


def test_a_calendar_that_starts_after_the_desk_says_from_when_it_covers(tmp_path: Path) -> None:
    news = tmp_path / "later.csv"
    news.write_text("time_utc,currency,impact,title\n2026-03-25T18:00:00Z,USD,high,FOMC\n")
    s = session(tmp_path, 30, news_calendar=str(news))
    alerts = reviews(s, at("2026-03-03T00:00:00"), at("2026-03-04T00:00:00"))
    assert len(alerts) == 1 and alerts[0][1]["text"].startswith(
        "later.csv covers orders only from 2026-03-22 00:00 UTC: until then every order of funded-50k is refused")
