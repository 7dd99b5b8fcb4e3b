"""Economic calendar exports (ForexFactory, Investing.com-style, Octet's own) read with their zones,
each firm's window applied, and a missing or stale calendar refused, not passed silently."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cluster.cli import app
from cluster.config.settings import SettingsError, load_settings
from trading.compliance import AccountRules, CostAllowance
from trading.errors import InvalidValue
from trading.fx import ConversionRates
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot
from trading.market import NS_PER_S, datetime_to_ts
from trading.news import NewsCalendar, read_calendar
from trading.orders import Order, OrderType, Side
from trading.passodds import read_trades_csv
from trading.presets import load_preset

ROOT = Path(__file__).resolve().parents[2]
MIN = 60 * NS_PER_S

# a weekly ForexFactory export, written by hand as its CSV comes (times in the zone it was made in)
FOREXFACTORY = """Title,Country,Date,Time,Impact,Forecast,Previous
ECB Press Conference,EUR,03-05-2026,8:45am,High,,
Non-Farm Employment Change,USD,03-06-2026,8:30am,High,160K,143K
Bank Holiday,GBP,03-06-2026,All Day,Holiday,,
German Factory Orders m/m,EUR,03-06-2026,2:00am,Low Impact Expected,0.6%,-1.2%
FOMC Member Speaks,USD,03-06-2026,Tentative,Medium,,
"""
INVESTING = """id,date,time,zone,currency,importance,event,actual,forecast,previous
1,06/03/2026,13:30,united states,USD,high,Nonfarm Payrolls (Feb),,160K,143K
2,05/03/2026,All Day,euro zone,EUR,low,Holiday,,,
3,05/03/2026,12:45,euro zone,EUR,high,ECB Interest Rate Decision (Mar),,2.15%,2.15%
"""


def utc(*args: int) -> int:
    return datetime_to_ts(datetime(*args, tzinfo=UTC))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_forexfactory_export_is_read_in_the_zone_it_was_made_in(tmp_path: Path) -> None:
    path = write(tmp_path, "ff_calendar_thisweek.csv", FOREXFACTORY)
    read = read_calendar(path, "America/New_York")
    assert read.layout == "forexfactory"
    by_title = {e.title: e for e in read.calendar.events}
    # 8:30 New York on Friday 6 March 2026 is 13:30 UTC (daylight saving starts on the 8th)
    assert by_title["Non-Farm Employment Change"].ts_ns == utc(2026, 3, 6, 13, 30)
    assert by_title["ECB Press Conference"].ts_ns == utc(2026, 3, 5, 13, 45)
    assert by_title["German Factory Orders m/m"].impact == "low"
    assert read.skipped == [(4, "no time (All Day)"), (6, "no time (Tentative)")]
    assert "covers 2026-03-01 to 2026-03-07" in read.summary() and "2 high, 1 low" in read.summary()
    with pytest.raises(InvalidValue, match=r"ff_calendar_thisweek\.csv:2.*carries no zone"):
        read_calendar(path, None)


def test_forexfactory_times_with_their_offset_need_no_zone(tmp_path: Path) -> None:
    path = write(tmp_path, "ff.csv", "Title,Country,Date,Time,Impact\n"
                                     "Non-Farm Employment Change,USD,2026-03-06T08:30:00-05:00,,High\n")
    assert read_calendar(path).calendar.events[0].ts_ns == utc(2026, 3, 6, 13, 30)


def test_an_investing_export_is_read_day_first(tmp_path: Path) -> None:
    read = read_calendar(write(tmp_path, "investing.csv", INVESTING), "UTC")
    assert read.layout == "investing"
    assert [(e.currency, e.impact, e.ts_ns) for e in read.calendar.events] == [
        ("EUR", "high", utc(2026, 3, 5, 12, 45)), ("USD", "high", utc(2026, 3, 6, 13, 30))]
    assert read.skipped == [(3, "no time (All Day)")]


def test_bad_files_and_rows_are_named_with_their_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="not a calendar layout"):
        read_calendar(write(tmp_path, "x.csv", "when,what\n2026-01-01,x\n"))
    bad_date = FOREXFACTORY.replace("03-06-2026,8:30am", "2026/03/06,8:30am")
    with pytest.raises(InvalidValue, match=r"ff\.csv:3=.*not a forexfactory calendar row"):
        read_calendar(write(tmp_path, "ff.csv", bad_date), "America/New_York")
    with pytest.raises(InvalidValue, match=r"impact 'Huge'"):
        read_calendar(write(tmp_path, "ff2.csv", FOREXFACTORY.replace("8:30am,High", "8:30am,Huge")),
                      "America/New_York")
    with pytest.raises(InvalidValue, match="not a time zone"):
        read_calendar(write(tmp_path, "ff3.csv", FOREXFACTORY), "New York")
    with pytest.raises(InvalidValue, match="cannot read"):
        read_calendar(tmp_path / "missing.csv")


def test_unreadable_files_and_clocks_are_named_with_their_line_not_a_traceback(tmp_path: Path) -> None:
    big = FOREXFACTORY + 'Long,USD,03-06-2026,9:00am,High,"' + "x" * 200_000 + '",\n'
    with pytest.raises(InvalidValue, match=r"big\.csv:7.*not a CSV file.*field larger"):
        read_calendar(write(tmp_path, "big.csv", big), "America/New_York")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(FOREXFACTORY.replace("German", "G\u00e9rman").encode("latin-1"))
    with pytest.raises(InvalidValue, match=r"latin\.csv:5.*not UTF-8"):
        read_calendar(latin, "America/New_York")
    for clock in ("25:00am", "13:30pm", "0:30am"):
        with pytest.raises(InvalidValue, match=r"c\.csv:3.*12-hour clock"):
            read_calendar(write(tmp_path, "c.csv", FOREXFACTORY.replace("8:30am", clock)), "America/New_York")
    octet = write(tmp_path, "o.csv", "time_utc,currency,impact,title\n2026-03-06T13:30:00Z,US,high,NFP\n"
                                     "2026-13-01T10:00:00+00:00,USD,high,Far\n")
    with pytest.raises(InvalidValue, match=r"o\.csv:3"):
        read_calendar(octet)
    octet.write_text("time_utc,currency,impact,title\n2026-03-06T13:30:00Z,US,high,NFP\n")
    assert read_calendar(octet).skipped == [(2, "not a currency (US)")]
    # a typo's year is refused, as in market closures (it would make the calendar look as if it ran to then)
    octet.write_text("time_utc,currency,impact,title\n3026-03-06T13:30:00Z,USD,high,NFP\n")
    with pytest.raises(InvalidValue, match=r"o\.csv:2.*a year from 1971 to 2200"):
        read_calendar(octet)
    ff = FOREXFACTORY.replace("03-06-2026,8:30am", "2926-03-06T08:30:00-05:00,8:30am")  # the ISO form of its date
    with pytest.raises(InvalidValue, match=r"ff4\.csv:3.*a year from 1971 to 2200"):
        read_calendar(write(tmp_path, "ff4.csv", ff), "America/New_York")
    assert read_calendar(write(tmp_path, "ff5.csv", ff.replace("2926-", "2026-")), "America/New_York").calendar.events


def test_a_calendar_covers_the_weeks_it_has_events_in_with_sunday_evening_in_the_next(tmp_path: Path) -> None:
    # two weekly exports with a week missing between them; the second week's first release is on
    # Sunday evening (New Zealand), which belongs to the export of the week it opens
    text = ("time_utc,currency,impact,title\n2026-03-06T13:30:00Z,USD,high,NFP\n"
            "2026-03-15T21:45:00Z,NZD,low,Visitor Arrivals\n2026-03-19T12:30:00Z,USD,medium,Claims\n")
    cal = read_calendar(write(tmp_path, "two.csv", text)).calendar
    assert cal.covers(utc(2026, 3, 4, 10), utc(2026, 3, 4, 11)) == ""
    gap = cal.covers(utc(2026, 3, 10, 10), utc(2026, 3, 10, 11))
    assert "not the week from 2026-03-08 to 2026-03-14" in gap
    assert "covers 2026-03-01 to 2026-03-21 less 1 week(s) without events" in gap
    assert cal.covers(utc(2026, 3, 15, 22), utc(2026, 3, 15, 23)) == ""  # the Sunday evening opens its week
    assert cal.covers(utc(2026, 3, 7, 23), utc(2026, 3, 8, 1)) != ""  # a window into the missing week


# -- the firm's window, and a calendar that does not cover the order ------------------------------------

def checked(news: NewsCalendar, at: int, registry: InstrumentRegistry) -> tuple[bool, str, str]:
    rules = AccountRules(load_preset("ftmo.funded"), CostAllowance(Decimal(1), Decimal("3.5"), Decimal(10)),
                         registry, news)
    order = Order("o1", "acc", "EURUSD", Side.BUY, Decimal(1), OrderType.MARKET, Decimal("1.09000"), None, "sig",
                  Decimal("1.10000"), 10, at, at + 2 * MIN)
    snap = AccountSnapshot("acc", "USD", at, Decimal(100_000), Decimal(100_000), Decimal(100_000), (), 0)
    d = rules.check([order], snap, ConversionRates(registry))
    return d.allowed, d.rule, d.reason


def test_the_firms_window_comes_from_the_imported_calendar(tmp_path: Path, registry: InstrumentRegistry) -> None:
    news = read_calendar(write(tmp_path, "ff.csv", FOREXFACTORY), "America/New_York").calendar
    # FTMO Account: no orders 2 minutes either side of high-impact news in the instrument's currencies
    assert checked(news, utc(2026, 3, 6, 13, 27), registry)[:2] == (False, "news_blackout")
    assert checked(news, utc(2026, 3, 6, 13, 20), registry)[0]
    assert checked(news, utc(2026, 3, 6, 6, 59), registry)[0]  # the low-impact German release opens no window


def test_a_missing_or_stale_calendar_refuses_orders_on_a_firm_with_a_news_rule(tmp_path: Path,
                                                                                registry: InstrumentRegistry) -> None:
    allowed, rule, reason = checked(NewsCalendar(), utc(2026, 3, 4, 10), registry)
    assert (allowed, rule) == (False, "news_calendar") and "no news calendar" in reason
    week = read_calendar(write(tmp_path, "ff.csv", FOREXFACTORY), "America/New_York").calendar
    allowed, rule, reason = checked(week, utc(2026, 3, 9, 10), registry)  # the Monday after the export's week
    assert (allowed, rule) == (False, "news_calendar") and "covers 2026-03-01 to 2026-03-07" in reason
    assert checked(week, utc(2026, 2, 27, 10), registry)[1] == "news_calendar"  # before it
    # a firm without a news rule is not held back by the calendar
    rules = AccountRules(load_preset("ftmo.challenge"), CostAllowance(), registry, NewsCalendar())
    order = Order("o1", "acc", "EURUSD", Side.BUY, Decimal(1), OrderType.MARKET, Decimal("1.09000"), None, "sig",
                  Decimal("1.10000"), 10, utc(2026, 3, 9, 10), utc(2026, 3, 9, 10) + 2 * MIN)
    snap = AccountSnapshot("acc", "USD", utc(2026, 3, 9, 10), Decimal(100_000), Decimal(100_000), Decimal(100_000),
                           (), 0)
    assert rules.check([order], snap, ConversionRates(registry)).allowed


def test_octet_data_news_checks_a_file_and_writes_octets_layout_privately(tmp_path: Path) -> None:
    path = write(tmp_path, "ff.csv", FOREXFACTORY)
    out = tmp_path / "cal" / "news.csv"
    result = CliRunner().invoke(app, ["data", "news", str(path), "--tz", "America/New_York", "--out", str(out)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "forexfactory layout, 3 events" in result.output and "skipped 2 rows" in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700 and "(its folder made, 0700)" in result.output
    again = read_calendar(out)
    assert again.layout == "octet" and [e.ts_ns for e in again.calendar.events] == \
        [e.ts_ns for e in read_calendar(path, "America/New_York").calendar.events]
    bad = CliRunner().invoke(app, ["data", "news", str(path)], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "carries no zone" in bad.output and "Traceback" not in bad.output
    parquet = CliRunner().invoke(app, ["data", "news", str(path), "--tz", "UTC", "--out", str(tmp_path / "n.parquet")],
                                 env={"COLUMNS": "200"})  # it wrote CSV under that name
    assert parquet.exit_code == 2 and "must end in .csv" in parquet.output and not (tmp_path / "n.parquet").exists()


def config_with(tmp_path: Path, **compliance: object) -> Path:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc.setdefault("agents", {}).setdefault("compliance", {}).update(compliance)
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_bad_calendar_in_the_settings_is_named_at_start(tmp_path: Path) -> None:
    path = str(write(tmp_path, "ff.csv", FOREXFACTORY))
    with pytest.raises(SettingsError, match="news_calendar.*carries no zone"):
        load_settings(config_with(tmp_path, news_calendar=path))
    ok = load_settings(config_with(tmp_path, news_calendar=path, news_calendar_tz="America/New_York"))
    assert ok.agents.compliance.news_calendar_tz == "America/New_York"


def test_a_bad_prior_or_an_oversized_monte_carlo_in_the_settings_is_named_at_start(tmp_path: Path) -> None:
    trades = write(tmp_path, "trades.csv", "closed_utc,r_multiple\n2025-06-02T15:00:00,1.0\n2025-06-31 15:00,1\n")
    with pytest.raises(SettingsError, match=r"prior_trades: .*trades\.csv:3='2025-06-31 15:00': not a closed trade"):
        load_settings(config_with(tmp_path, pass_odds={"prior_trades": str(trades)}))
    with pytest.raises(SettingsError, match="paths x .*over 1,000,000"):
        load_settings(config_with(tmp_path, pass_odds={"paths": 200_000}))
    with pytest.raises(SettingsError, match="risk_fractions_pct"):
        load_settings(config_with(tmp_path, pass_odds={"paths": 100, "risk_fractions_pct":
                                                       [round(0.1 * k, 1) for k in range(1, 60)]}))


def test_a_calendar_or_trades_file_that_is_not_a_regular_file_is_one_line_and_never_read(tmp_path: Path) -> None:
    # a FIFO blocked `octet data news` (and every command loading a settings file naming it) for good;
    # /dev/zero grew to gigabytes
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(InvalidValue, match="not a regular file: the news calendar is read from a file"):
            read_calendar(path, "UTC")
        with pytest.raises(InvalidValue, match="not a regular file: a backtest's trades is read from a file"):
            read_trades_csv(path)
    result = CliRunner().invoke(app, ["data", "news", str(fifo), "--tz", "UTC"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "not a regular file" in result.output and "Traceback" not in result.output
    with pytest.raises(SettingsError, match="news_calendar.*not a regular file"):
        load_settings(config_with(tmp_path, news_calendar=str(fifo)))


def test_an_unterminated_quote_is_named_as_a_broken_csv_file(tmp_path: Path) -> None:
    # it was read as one long field to the end of the file and reported as "1 no time (blank)"
    path = write(tmp_path, "ff.csv", 'Title,Country,Date,Time,Impact\n"Payrolls,USD,03-06-2026,8:30am,High\n')
    with pytest.raises(InvalidValue, match=r"ff\.csv:2.*not a CSV file Octet can read \(unexpected end of data\)"):
        read_calendar(path, "America/New_York")
