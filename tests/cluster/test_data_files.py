"""Recorded market data in the formats traders have (tests/data/market_files, written by hand in each
format): times turned to UTC from each format's clock, bars turned to quotes by the intra-bar model,
and every unusable row skipped with its reason and line number, or the file refused in one line."""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cluster.adapters.feeds.files import DataFileError, FileSpec, load_market_files
from cluster.adapters.feeds.paced import FeedError, read_data_file
from cluster.cli import app
from cluster.config.settings import Settings, SettingsError, load_settings
from trading.market import datetime_to_ts

FILES = Path(__file__).resolve().parents[1] / "data" / "market_files"
ROOT = Path(__file__).resolve().parents[2]
H = 3_600 * 10**9


def utc(*args: int) -> int:
    return datetime_to_ts(datetime(*args, tzinfo=UTC))  # type: ignore[misc]


def load(name: str, registry, **spec):  # type: ignore[no-untyped-def]
    options = {k: spec.pop(k) for k in ("strict", "max_skipped") if k in spec}
    return load_market_files([FILES / name], FileSpec(**spec), registry, **options)


def test_mt5_bars_on_broker_server_time_cross_the_us_change_to_daylight_saving(registry) -> None:
    # NY+7: UTC+2 before Sunday 10 March 2024, UTC+3 after; the file is UTF-16 with CRLF, as terminals write
    loaded = load("EURUSD_H1_mt5.csv", registry, tz="NY+7")
    report = loaded.reports[0]
    assert (report.format, report.kind, report.rows, report.kept) == ("mt5", "bars", 4, 4)
    starts = loaded.ticks.ts[::4]
    assert starts.tolist() == [utc(2024, 3, 8, 20), utc(2024, 3, 8, 21), utc(2024, 3, 10, 21), utc(2024, 3, 10, 22)]
    assert loaded.bar_seconds == {"EURUSD": 3600}
    # the first bar rose: open, low, high, close at 0, 15, 30, 45 min; bids as written, asks over them by <SPREAD>
    assert loaded.ticks.bid[:4].tolist() == [109380, 109350, 109420, 109400]
    assert (loaded.ticks.ask[:4] - loaded.ticks.bid[:4]).tolist() == [8, 8, 8, 8]
    assert (loaded.ticks.ts[:4] - starts[0]).tolist() == [0, H // 4, H // 2, 3 * H // 4]
    assert loaded.ticks.volume[:4].tolist() == [300.0] * 4  # <TICKVOL> 1200 over four quotes
    # the second fell: open, high, low, close
    assert loaded.ticks.bid[4:8].tolist() == [109400, 109410, 109310, 109330]
    # no gap is reported across the weekend
    assert report.gap_count == 0


def test_an_mt5_export_without_a_zone_is_refused_naming_the_option(registry) -> None:
    with pytest.raises(DataFileError, match=r"EURUSD_H1_mt5.csv: an MT5 export is in the broker's server time.*--tz"):
        load("EURUSD_H1_mt5.csv", registry)


def test_mt5_ticks_carry_bid_and_ask_forward_and_skip_bad_rows_by_line(registry) -> None:
    loaded = load("EURUSD_ticks_mt5.csv", registry, tz="Europe/Athens", max_skipped=0.5)
    t0 = utc(2024, 3, 11, 8)  # 10:00 in Athens (UTC+2 in March)
    assert (loaded.ticks.ts - t0).tolist() == [228_000_000, 525_000_000, 900_000_000, 1_100_000_000]
    assert loaded.ticks.bid.tolist() == [109381, 109381, 109384, 109386]  # 10:00:00.525 gave only an ask
    assert loaded.ticks.ask.tolist() == [109390, 109392, 109393, 109393]  # 10:00:01.100 gave only a bid
    report = loaded.reports[0]
    assert [(s.reason, s.lines) for s in report.skipped] == [
        ("text '1.0938l' in number column bid", (6,)),
        ("crossed quote (bid above ask)", (7,)),  # 1.09395 / 1.09391
        ("out of order (a time before an earlier row's; is the file sorted?)", (8,)),
        ("duplicate (the same time, bid and ask as the row before)", (10,)),
    ]
    assert sorted((s.reason, s.lines) for s in report.ignored) == [
        ("before the first full quote (bid and ask not both given yet)", (2,)),
        ("no bid or ask on the row (a last-price or volume-only tick)", (5,))]
    assert (report.rows, report.kept) == (10, 4)


def test_histdata_times_are_eastern_standard_time_all_year(registry) -> None:
    bars = load("DAT_ASCII_EURUSD_M1_202403.csv", registry)
    # 16:58 EST on Friday 8 March is 21:58 UTC; 17:00 on Sunday 10 March stays UTC-5 (22:00 UTC) though
    # New York has moved to daylight saving
    assert bars.ticks.ts[::4].tolist() == [utc(2024, 3, 8, 21, 58), utc(2024, 3, 8, 21, 59), utc(2024, 3, 10, 22),
                                           utc(2024, 3, 10, 22, 1)]
    assert bars.bar_seconds == {"EURUSD": 60}
    notes = " ".join(bars.reports[0].notes)
    assert "no volume in the file" in notes and "no spread in the file" in notes
    # New York opened at 21:00 UTC; the hour before HistData's first Sunday bar is a gap, the weekend is not
    assert bars.reports[0].gap_count == 1 and bars.reports[0].gaps[0].open_s == 3600.0
    ticks = load("DAT_ASCII_USDJPY_T_202403.csv", registry)
    assert ticks.ticks.ts.tolist() == [utc(2024, 3, 11, 8) + 123_000_000, utc(2024, 3, 11, 8) + 456_000_000,
                                       utc(2024, 3, 11, 8, 0, 1) + 1_000_000]
    assert ticks.ticks.bid.tolist() == [147102, 147103, 147101] and ticks.reports[0].symbols == ["USDJPY"]
    # a clock given for other files (a broker's NY+7) does not move HistData's: the report says it is not used
    told = load("DAT_ASCII_EURUSD_M1_202403.csv", registry, tz="NY+7")
    assert told.ticks.ts.tolist() == bars.ticks.ts.tolist()
    assert "the clock given (NY+7) is not used" in " ".join(told.reports[0].notes)
    # named as HistData's layout, the clock given is the file's (a file of that layout stamped elsewhere)
    utc_file = load("DAT_ASCII_EURUSD_M1_202403.csv", registry, tz="UTC", format="histdata")
    assert utc_file.ticks.ts[0] == utc(2024, 3, 8, 16, 58)
    assert "times on the clock given, UTC" in " ".join(utc_file.reports[0].notes)


def test_dukascopy_candles_in_gmt_and_ticks_with_their_offset(registry) -> None:
    candles = load("GBPUSD_Candlestick_1_Hour_BID_11.03.2024-11.03.2024.csv", registry, spread_points=12)
    assert candles.ticks.ts[::4].tolist() == [utc(2024, 3, 11, 8), utc(2024, 3, 11, 9)]
    assert (candles.ticks.ask - candles.ticks.bid).tolist() == [12] * 8
    assert candles.ticks.volume[0] == pytest.approx(2345.67 / 4)
    ticks = load("GBPUSD_Ticks_11.03.2024-11.03.2024.csv", registry)
    assert ticks.ticks.ts.tolist() == [utc(2024, 3, 11, 10) + 17_000_000, utc(2024, 3, 11, 10) + 228_000_000]
    assert ticks.ticks.bid.tolist() == [127900, 127901] and ticks.ticks.ask.tolist() == [127912, 127913]
    assert ticks.ticks.volume.tolist() == [3.75, 2.0]  # ask and bid volume
    assert "times in UTC" in candles.reports[0].notes
    gmt_told = load("GBPUSD_Candlestick_1_Hour_BID_11.03.2024-11.03.2024.csv", registry, tz="NY+7")
    assert gmt_told.ticks.ts.tolist() == candles.ticks.ts.tolist()
    assert "times in UTC (the file's Gmt time; the clock given, NY+7, is not used)" in gmt_told.reports[0].notes
    # local times carry their offset: a clock given does not move them, and the report says which rule read them
    told = load("GBPUSD_Ticks_11.03.2024-11.03.2024.csv", registry, tz="NY+7")
    assert told.ticks.ts.tolist() == ticks.ticks.ts.tolist()
    assert "times by the offset each row gives (a row without one on NY+7)" in told.reports[0].notes


def test_a_generic_export_is_read_by_its_column_map_and_time_format(registry) -> None:
    loaded = load("broker_export_generic.csv", registry, format="generic", symbol="EURUSD", tz="Europe/London",
                  columns={"date": "Datum", "time": "Uhrzeit", "bid": "Geld", "ask": "Brief", "volume": "Menge"},
                  time_format="%d/%m/%Y %H:%M:%S")
    assert loaded.ticks.ts.tolist() == [utc(2024, 3, 11, 9), utc(2024, 3, 11, 9, 0, 1)]  # London is UTC in March
    assert loaded.ticks.volume.tolist() == [2.0, 1.0]
    with pytest.raises(DataFileError, match=r"no column\(s\) ask=Ask in the file; it has Datum, Uhrzeit"):
        load("broker_export_generic.csv", registry, symbol="EURUSD", columns={"ts": "Datum", "bid": "Geld", "ask": "Ask"})
    with pytest.raises(DataFileError, match="its name holds none .* --symbol"):
        load("broker_export_generic.csv", registry, columns={"ts": "Datum", "bid": "Geld", "ask": "Brief"})


def test_naive_times_are_refused_unless_a_zone_is_given(registry) -> None:
    with pytest.raises(DataFileError, match=r"octet_naive.csv: line 2: time '2024-03-11 10:00:00' has no zone.*--tz"):
        load("octet_naive.csv", registry)
    assert load("octet_naive.csv", registry, tz="+02:00").ticks.ts.tolist() == [utc(2024, 3, 11, 8)]


def test_a_file_with_a_nan_is_read_with_the_row_skipped_and_named(registry) -> None:
    loaded = load("octet_with_nan.csv", registry, max_skipped=0.5)
    assert [(s.reason, s.lines) for s in loaded.reports[0].skipped] == [
        ("NaN or missing price", (3,)),
        ("out of order (a time before an earlier row's; is the file sorted?)", (5,)),  # 10:00:03+01:00 is 09:00:03 UTC
    ]
    with pytest.raises(DataFileError, match=r"line 3: NaN or missing price — 2 of 4 rows cannot be used, more than the "
                                            r"1.0% allowed \(session.data_max_skipped\)"):
        load("octet_with_nan.csv", registry)
    with pytest.raises(DataFileError, match="line 3: NaN or missing price .* --strict refuses any"):
        load("octet_with_nan.csv", registry, strict=True, max_skipped=0.5)


def test_every_fault_a_bar_can_have_is_named_with_its_line(registry) -> None:
    loaded = load("EURUSD_M1_broken_mt5.csv", registry, tz="NY+7", max_skipped=0.9)
    assert [(s.reason, s.lines) for s in loaded.reports[0].skipped] == [
        ("high below low", (3,)),
        ("non-positive price", (4,)),
        ("text 'N/A' in number column high", (5,)),
        ("5 fields where the header has 9", (6,)),
        ("out of order (a time before an earlier row's; is the file sorted?)", (7,)),
        ("duplicate (the same time and values as the row before)", (9,)),
        ("duplicate time (a second bar for the same time, with other values)", (11,)),
        ("unreadable time '2024.03.12 25:07:00'", (12,)),
    ]
    report = loaded.reports[0]
    # the skipped bars leave gaps too: 10:01-10:04, 10:07, and 10:09-10:19 (the longest first)
    assert report.kept == 5 and report.gap_count == 3 and [g.line for g in report.gaps] == [14, 8, 13]
    text = "\n".join(report.lines())
    assert "skipped 1 × high below low: line 3" in text and "9.5 min open market without data" not in text
    assert "11 min open market without data after 2024-03-12 07:08 (line 14)" in text


def test_compressed_files_and_several_files_merge_in_time_order(registry, tmp_path) -> None:
    gz = tmp_path / "DAT_ASCII_USDJPY_T_202403.csv.gz"
    gz.write_bytes(gzip.compress((FILES / "DAT_ASCII_USDJPY_T_202403.csv").read_bytes()))
    archive = tmp_path / "HISTDATA_COM_ASCII_EURUSD_M1202403.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(FILES / "DAT_ASCII_EURUSD_M1_202403.csv", "DAT_ASCII_EURUSD_M1_202403.csv")
    loaded = load_market_files([gz, archive, FILES / "GBPUSD_Ticks_11.03.2024-11.03.2024.csv"], FileSpec(), registry)
    assert len(loaded.ticks) == 3 + 16 + 2 and np.all(np.diff(loaded.ticks.ts) >= 0)
    assert sorted(r.symbols[0] for r in loaded.reports) == ["EURUSD", "GBPUSD", "USDJPY"]
    with pytest.raises(DataFileError, match="both hold USDJPY from 2024-03-11 08:00"):
        load_market_files([gz, FILES / "DAT_ASCII_USDJPY_T_202403.csv"], FileSpec(), registry)


def test_files_given_in_any_order_overlap_only_when_they_share_time(registry, tmp_path) -> None:
    def quotes(name: str, *minutes: int) -> Path:
        path = tmp_path / name
        path.write_text("ts,symbol,bid,ask\n" + "".join(f"2024-02-10T10:{m:02d}:00Z,EURUSD,1.09380,1.09390\n"
                                                         for m in minutes))
        return path

    first, second, third = quotes("a.csv", 0, 1), quotes("b.csv", 5, 6), quotes("c.csv", 10, 11)
    assert len(load_market_files([first, third, second], FileSpec(), registry).ticks) == 6
    with pytest.raises(DataFileError, match="d.csv and .*a.csv both hold EURUSD"):
        load_market_files([first, third, quotes("d.csv", 1, 2)], FileSpec(), registry)


def test_a_hostile_cell_is_quoted_with_its_control_characters_escaped(registry, tmp_path) -> None:
    path = tmp_path / "esc.csv"
    path.write_text("ts,symbol,bid,ask\n2024-03-12T07:00:00Z,EURUSD,1.09380,1.09390\n"
                    "2024-03-12T07:00:01Z,EURUSD,\x1b]0;pwned\x07\x1b[2J,1.09390\n")
    text = "\n".join(load_market_files([path], FileSpec(), registry, max_skipped=0.9).reports[0].lines())
    assert "text '\\x1b]0;pwned\\x07\\x1b[2J' in number column bid: line 3" in text and "\x1b" not in text
    with pytest.raises(DataFileError) as refused:
        load_market_files([path], FileSpec(), registry, strict=True)
    assert "\x1b" not in str(refused.value) and "\\x1b" in str(refused.value)


def test_unreadable_files_are_refused_in_one_line(registry, tmp_path) -> None:
    cases = {
        "empty.csv": (b"", "the file is empty"),
        "binary.csv": (b"ts,symbol\n\xff\xfe\x00\x81", "line 2: not text"),
        "mystery.csv": (b"a,b,c\n1,2,3\n", "cannot tell the format from its first line 'a,b,c': name it with --format"),
        "XAUUSD_ticks.csv": (b"ts,symbol,bid,ask\n2024-03-11T10:00:00Z,XAUUSD,2150.1,2150.5\n",
                             "unknown instrument\\(s\\) XAUUSD: the settings define EURUSD, GBPUSD, USDJPY"),
        "data.xlsx": (b"PK", "must end in .csv, .txt, .tsv or .parquet"),
        "ticks.csv.gz": (b"not gzip", "ticks.csv.gz: not a readable gz file"),
        "HISTDATA.zip": (b"PK\x03\x04 not a zip", "HISTDATA.zip: not a readable zip file"),
        # a year past what nanoseconds hold (2262) must not wrap round to the 1800s, nor 1970 pass as a time
        "far.csv": (b"ts,symbol,bid,ask\n9999-12-31T23:59:59Z,EURUSD,1.1,1.2\n1970-01-01T00:00:00Z,EURUSD,1.1,1.2\n",
                    "line 2: time '9999-12-31T23:59:59Z' out of range \\(1971 to 2199\\)"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataFileError, match=message):
            load_market_files([path], FileSpec(), registry)
    with pytest.raises(DataFileError, match="'Mars/Olympus' is not a time zone"):
        load("EURUSD_H1_mt5.csv", registry, tz="Mars/Olympus")


def test_a_file_without_line_breaks_or_over_the_cap_is_refused_as_it_is_read(registry, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A 9 MB gzip of 2 GB of zeros was unpacked and split whole before anything looked at it (16 GB of memory):
    the reader now stops at the first 64 KiB without a line break, and at MAX_TEXT_BYTES of text."""
    import gzip
    import zipfile

    from cluster.adapters.feeds.files import formats

    zeros = b"\0" * (formats.LINE_PROBE + 1)
    (tmp_path / "bomb.csv.gz").write_bytes(gzip.compress(zeros))
    (tmp_path / "flat.csv").write_bytes(b"ts,symbol,bid,ask" + b"x" * formats.LINE_PROBE)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ticks.csv", zeros)
    for name in ("bomb.csv.gz", "flat.csv", "bomb.zip"):
        with pytest.raises(DataFileError, match=rf"{name}: no line break in its first 64 KiB"):
            load_market_files([tmp_path / name], FileSpec(), registry)
    lines = b"ts,symbol,bid,ask\n" + b"".join(b"2024-03-11T10:%02d:%02dZ,EURUSD,1.1,1.2\n" % divmod(i, 60)
                                               for i in range(200))
    (tmp_path / "long.csv.gz").write_bytes(gzip.compress(lines))
    assert len(load_market_files([tmp_path / "long.csv.gz"], FileSpec(), registry).ticks) == 200
    monkeypatch.setattr(formats, "MAX_TEXT_BYTES", 5_000)  # the cap, small: the same file is over it
    with pytest.raises(DataFileError, match=r"long\.csv\.gz: over 5,000 bytes of text unpacked: split it"):
        load_market_files([tmp_path / "long.csv.gz"], FileSpec(), registry)


def test_bars_must_fit_the_desks_bars_a_clock_that_puts_them_in_the_weekend_is_said_and_a_bad_zone_refused(tmp_path) -> None:
    def settings(**session: object) -> Settings:
        values: dict[str, object] = {"data_file": FILES / "EURUSD_H1_mt5.csv", "data_tz": "NY+7", **session}
        return load_settings(ROOT / "octet.yaml", **{f"session__{k}": v for k, v in values.items()})

    with pytest.raises(FeedError, match="its EURUSD bars are 3600 s long .* set session.bar_seconds to 3600"):
        read_data_file(settings())
    assert len(read_data_file(settings(bar_seconds=3600)).ticks) == 16
    assert len(read_data_file(settings(bar_seconds=7200)).ticks) == 16  # two file bars in each desk bar
    with pytest.raises(FeedError, match="3600 s long, which does not divide the desk's 5400 s bars"):
        read_data_file(settings(bar_seconds=5400))
    # a clock half an hour off UTC puts hourly bars across the desk's hours
    with pytest.raises(FeedError, match="bar of 2024-03-08 16:30:00 UTC starts off the 3600 s grid"):
        read_data_file(settings(bar_seconds=3600, data_tz="+05:30"))
    with pytest.raises(SettingsError, match="data_tz"):
        settings(data_tz="Middle/Earth")
    # `data check` said nothing of it, and `data convert` made quotes whose bars matched none of the file's
    runner, config = CliRunner(), str(ROOT / "octet.yaml")
    check = runner.invoke(app, ["data", "check", str(FILES / "EURUSD_H1_mt5.csv"), "--tz", "+05:30", "-c", config])
    assert check.exit_code == 0 and "bar of 2024-03-08 16:30:00 UTC starts off the 3600 s grid" in \
        " ".join(check.output.split()), check.output
    out = tmp_path / "q.csv"
    converted = runner.invoke(app, ["data", "convert", str(FILES / "EURUSD_H1_mt5.csv"), "--tz", "+05:30", "--out",
                                    str(out), "-c", config])
    assert converted.exit_code == 2 and "no quotes are made of it" in " ".join(converted.output.split())
    assert not out.exists() and "Traceback" not in converted.output
    # prices with more decimals than the instrument quotes were rounded without a word (a 0.3-point spread became 0)
    duka = tmp_path / "USDJPY_Ticks_11.03.2024-11.03.2024.csv"
    duka.write_text("Local time,Ask,Bid,AskVolume,BidVolume\n11.03.2024 08:00:00.017 GMT+0000,147.1024,147.1021,1.5,2\n"
                    "11.03.2024 08:00:01.017 GMT+0000,147.104,147.102,1,1\n")
    check = runner.invoke(app, ["data", "check", str(duka), "-c", config])
    said = " ".join(check.output.split())
    assert check.exit_code == 0 and "1 quotes' spreads under a point became 0 in the rounding" in said, check.output
    assert "2 prices have more decimals than the instrument quotes (USDJPY 3)" in said, check.output
    assert "more decimals" not in " ".join(runner.invoke(app, ["data", "check", str(FILES / "EURUSD_H1_mt5.csv"),
                                                               "--tz", "NY+7", "-c", config]).output.split())
    # a clock read wrong puts bars in the FX weekend: said (the right clock says nothing)
    for tz, shut in (("NY+7", False), ("UTC", True), ("Etc/GMT+2", True), ("Asia/Tokyo", True)):
        check = runner.invoke(app, ["data", "check", str(FILES / "EURUSD_H1_mt5.csv"), "--tz", tz, "-c", config])
        said = "8 of 16 quotes fall while the FX market is shut" in " ".join(check.output.split())
        assert check.exit_code == 0 and said == shut, (tz, check.output)


def test_the_data_commands_report_convert_and_refuse_without_a_traceback(tmp_path) -> None:
    runner = CliRunner()
    config = str(ROOT / "octet.yaml")
    check = runner.invoke(app, ["data", "check", str(FILES / "EURUSD_M1_broken_mt5.csv"), "--tz", "NY+7",
                                "--max-skipped", "0.9", "--config", config])
    assert check.exit_code == 0, check.output
    assert "8 skipped" in check.output and "text 'N/A' in number column high: line 5" in check.output
    refused = runner.invoke(app, ["data", "check", str(FILES / "EURUSD_M1_broken_mt5.csv"), "--tz", "NY+7",
                                  "--config", config])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "line 3: high below low — 8 of 13 rows cannot be used" in refused.output.replace("\n", " ")
    # the check that refuses a file lists the rows that made it refuse, before the refusal
    assert refused.output.index("text 'N/A' in number column high: line 5") < refused.output.index("error:")
    out = tmp_path / "eurusd.parquet"
    converted = runner.invoke(app, ["data", "convert", str(FILES / "EURUSD_H1_mt5.csv"), "--tz", "NY+7", "--out",
                                    str(out), "--config", config])
    assert converted.exit_code == 0, converted.output
    assert "wrote 16 quotes" in converted.output and "--bar-seconds 3600" in converted.output
    assert out.stat().st_mode & 0o777 == 0o600
    nested = tmp_path / "new" / "q.csv"
    assert runner.invoke(app, ["data", "convert", str(FILES / "EURUSD_H1_mt5.csv"), "--tz", "NY+7", "--out",
                               str(nested), "--config", config]).exit_code == 0
    assert nested.parent.stat().st_mode & 0o777 == 0o700 and nested.stat().st_mode & 0o777 == 0o600
    (tmp_path / "a_dir.csv").mkdir()
    for where, says in [(tmp_path / "a_dir.csv", "is a directory"), (Path("/proc/nope/x.csv"), "--out /proc/nope/x.csv:")]:
        bad_out = runner.invoke(app, ["data", "convert", str(FILES / "EURUSD_H1_mt5.csv"), "--tz", "NY+7", "--out",
                                      str(where), "--config", config])
        assert bad_out.exit_code == 2 and says in bad_out.output and "Traceback" not in bad_out.output
    # a refusal names the command that lists its rows, with the settings file and options it was read with
    other = ROOT / "tests" / "data" / "sma_reference.yaml"
    hinted = runner.invoke(app, ["data", "convert", str(FILES / "EURUSD_M1_broken_mt5.csv"), "--tz", "NY+7", "--out",
                                 str(tmp_path / "made" / "for" / "x.csv"), "--config", str(other)])
    assert hinted.exit_code == 2 and f"`octet data check -c {other} {FILES / 'EURUSD_M1_broken_mt5.csv'} --tz NY+7` " \
        "lists them" in " ".join(hinted.output.split()), hinted.output
    assert not (tmp_path / "made").exists()  # the folders made for a file refused are removed again
    # a bad --tz is named as the setting it is, and as given on the command line, not as the file's
    zone = runner.invoke(app, ["data", "check", str(FILES / "EURUSD_H1_mt5.csv"), "--tz", "Mars/X", "--config", config])
    assert zone.exit_code == 2 and "session.data_tz: 'Mars/X' is not a time zone" in zone.output
    assert "(given on the command line)" in zone.output.replace("\n", " ")
    # a file that names its instrument in a column is not read as another one because --symbol says so
    named = tmp_path / "quotes.csv"
    named.write_text("ts,symbol,bid,ask,volume\n2024-03-11T10:00:00Z,EURUSD,1.09380,1.09390,1\n")
    other_symbol = runner.invoke(app, ["data", "check", str(named), "--symbol", "XAUUSD", "--config", config])
    assert other_symbol.exit_code == 2 and "line 2: symbol 'EURUSD' in the file, not --symbol XAUUSD" in \
        other_symbol.output.replace("\n", " ")
    assert runner.invoke(app, ["data", "check", str(named), "--symbol", "EURUSD", "--config", config]).exit_code == 0
    again = load_market_files([out], FileSpec(), load_settings(ROOT / "octet.yaml").registry(), strict=True)
    assert len(again.ticks) == 16 and again.ticks.ts[0] == utc(2024, 3, 8, 20)
    # `octet run` on a file nothing of which can be used stops before any server starts, in one line
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,symbol,bid,ask\n2024-03-11T10:00:00Z,EURUSD,nan,1.09390\n")
    run = runner.invoke(app, ["run", "--data", str(bad), "--config", config])
    assert run.exit_code == 2 and "Traceback" not in run.output
    assert "line 2: NaN or missing price" in run.output.replace("\n", " ")


def test_a_crossed_mt5_tick_is_skipped_and_not_carried_into_the_next(registry, tmp_path) -> None:
    path = tmp_path / "EURUSD_ticks.csv"
    path.write_text("<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\n"
                    "2024.03.12\t07:00:00.000\t1.09380\t1.09390\t\t\t6\n"
                    "2024.03.12\t07:00:01.000\t1.09500\t1.09391\t\t\t6\n"  # crossed: skipped
                    "2024.03.12\t07:00:02.000\t\t1.09400\t\t\t4\n"  # ask only: the bid is line 2's
                    "2024.03.12\t07:00:03.000\t1.09385\t\t\t\t2\n")
    loaded = load_market_files([path], FileSpec(tz="UTC"), registry, max_skipped=0.5)
    assert [s.lines for s in loaded.reports[0].skipped] == [(3,)]
    assert loaded.ticks.bid.tolist() == [109380, 109380, 109385] and loaded.ticks.ask.tolist() == [109390, 109400, 109400]


def _quotes(path: Path, mids: list[float], start: int = 0) -> Path:
    rows = ["ts,symbol,bid,ask,volume"]
    for k, m in enumerate(mids):
        t = datetime.fromtimestamp(1_709_600_400 + 30 * (start + k), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{t},EURUSD,{m:.5f},{m + 0.0001:.5f},1")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_an_isolated_spike_is_skipped_by_line_and_a_jump_that_stays_is_kept(registry, tmp_path) -> None:
    rng = np.random.default_rng(3)
    mids = list(1.1 + np.cumsum(rng.normal(0, 0.0001, 400)))
    mids[199] *= 10  # a decimal shifted: line 201
    mids[300] = 1e9  # a fat finger: line 302
    mids[350:352] = [mids[350] / 10, mids[351] / 10]  # two bad prints in a row: lines 352, 353
    loaded = load_market_files([_quotes(tmp_path / "EURUSD_spiky.csv", mids)], FileSpec(), registry)
    [spikes] = loaded.reports[0].skipped
    assert spikes.reason.startswith("isolated spike") and spikes.lines == (201, 302, 352, 353) and spikes.count == 4
    assert len(loaded.ticks) == 396 and loaded.ticks.bid.max() < 1.2 * 10**5
    # a run of ten bad prints, the first and last three rows, and a bid alone (its ask good): each row by line
    edges = [11.0] * 3 + [1.1] * 30 + [11.0] * 10 + [1.1] * 30 + [11.0] * 3
    loaded = load_market_files([_quotes(tmp_path / "EURUSD_edges.csv", edges)], FileSpec(), registry, max_skipped=0.5)
    assert loaded.reports[0].skipped[0].count == 16 and len(loaded.ticks) == 60 and loaded.ticks.bid.max() < 2 * 10**5
    # runs that touch or come near an edge, and a file too short for 20 rows a side
    for name, level, bad_lines in (("EURUSD_end10.csv", [1.1] * 50 + [11.0] * 10, list(range(52, 62))),
                                   ("EURUSD_at3.csv", [1.1] * 3 + [11.0] * 10 + [1.1] * 47, list(range(5, 15))),
                                   ("EURUSD_short.csv", [1.1] * 3 + [11.0] + [1.1] * 2, [5])):
        got = load_market_files([_quotes(tmp_path / name, level)], FileSpec(), registry, max_skipped=0.5)
        assert [line for s in got.reports[0].skipped for line in s.lines] == bad_lines[:5], name  # the first five
        assert got.reports[0].skipped[0].count == len(bad_lines) and got.ticks.bid.max() < 2 * 10**5, name
    # a run longer than ten, prints on every other row, and a run of sixty: found pass after pass, or against
    # the 201 rows around them, every one (none of them kept to trade on)
    walk = list(1.1 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.0003, 600))))
    for name, rows in (("EURUSD_run13.csv", range(300, 313)), ("EURUSD_alt.csv", range(300, 360, 2)),
                       ("EURUSD_run60.csv", range(300, 360))):
        level = [m / 10 if k in rows else m for k, m in enumerate(walk)]
        got = load_market_files([_quotes(tmp_path / name, level)], FileSpec(), registry, max_skipped=0.2)
        assert got.reports[0].skipped[0].count == len(rows) and got.ticks.bid.min() > 0.5 * 10**5, name
    low_bid = tmp_path / "EURUSD_lowbid.csv"
    _quotes(low_bid, [1.1] * 40)
    text = low_bid.read_text().splitlines()
    text[21] = text[21].replace(",1.10000,", ",0.11000,", 1)  # line 22: the bid a tenth, the ask as it was
    low_bid.write_text("\n".join(text) + "\n")
    assert [s.lines for s in load_market_files([low_bid], FileSpec(), registry, max_skipped=0.05).reports[0].skipped] \
        == [(22,)]
    # half the rows one price, half another: which half is wrong is not known, so neither is skipped
    halves = load_market_files([_quotes(tmp_path / "EURUSD_halves.csv", [1.1, 11.0, 11.0, 1.1])], FileSpec(),
                               registry)
    assert halves.reports[0].skipped == []
    # a level the file starts or ends on (half the price five rows in, or five rows from the end): kept
    for name, level in (("EURUSD_start.csv", [2.2] * 5 + [1.1] * 60), ("EURUSD_end.csv", [1.1] * 60 + [0.55] * 5)):
        assert load_market_files([_quotes(tmp_path / name, level)], FileSpec(), registry).reports[0].skipped == []
    # a thin market whose bid is a third of its ask, row after row: each side is judged against its own
    wide = tmp_path / "EURUSD_wide.csv"
    wide.write_text("ts,symbol,bid,ask,volume\n" + "".join(
        f"{datetime.fromtimestamp(1_709_600_400 + 30 * k, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')},EURUSD,1.0,3.0,1\n"
        for k in range(50)))
    assert len(load_market_files([wide], FileSpec(), registry).ticks) == 50
    # with the check off (session.data_spike_factor 0), a file whose real moves double and come back is read whole
    assert len(load_market_files([_quotes(tmp_path / "EURUSD_spiky.csv", mids)], FileSpec(spike_factor=0), registry,
                                 max_skipped=0.5).ticks) == 400
    # a floor removed (-30%, and it stays there): a move, not a bad print; nor a -40% fall over twenty rows
    shift = [1.2] * 50 + [0.85] * 50 + list(np.linspace(0.85, 0.51, 20)) + [0.51] * 30
    kept = load_market_files([_quotes(tmp_path / "EURUSD_floor.csv", shift)], FileSpec(), registry)
    assert kept.reports[0].skipped == [] and len(kept.ticks) == 150
    # a bar whose wick alone is a bad print (its high ten times the close)
    bars = tmp_path / "EURUSD_bars.csv"
    lines = ["ts,symbol,open,high,low,close,volume"]
    for k in range(30):
        t = datetime.fromtimestamp(1_709_600_400 + 3600 * k, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        high = 10.95 if k == 12 else 1.1010
        lines.append(f"{t},EURUSD,1.1000,{high},1.0990,1.1005,100")
    bars.write_text("\n".join(lines) + "\n")
    wick = load_market_files([bars], FileSpec(), registry, max_skipped=0.1)
    assert [(s.reason[:14], s.lines) for s in wick.reports[0].skipped] == [("isolated spike", (14,))]


def test_real_hourly_bars_have_no_spike(registry, tmp_path) -> None:
    """5,000 real EURUSD hours (backtesting.py's file, 2017-2018: an FOMC bar of 13 ATR among them)."""
    from trading.wyckoff.realbars import SCALE, eurusd_h1

    real = eurusd_h1()
    path = tmp_path / "EURUSD_real.csv"
    rows = ["ts,symbol,open,high,low,close,volume"]
    for k in range(len(real.close)):
        t = datetime.fromtimestamp(int(real.start_ns[k]) // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        o, h, lo, c = (float(x[k]) / SCALE for x in (real.open, real.high, real.low, real.close))
        rows.append(f"{t},EURUSD,{o:.5f},{h:.5f},{lo:.5f},{c:.5f},{float(real.volume[k]) / 100:.0f}")
    path.write_text("\n".join(rows) + "\n")
    loaded = load_market_files([path], FileSpec(), registry)
    assert not [s for s in loaded.reports[0].skipped if s.reason.startswith("isolated spike")]


def test_values_are_named_for_what_is_wrong_with_them(registry, tmp_path) -> None:
    path = tmp_path / "EURUSD_odd.csv"
    body = ["ts,symbol,open,high,low,close,volume"]
    for k, (o, h, lo, c) in enumerate([("1.1", "1.1", "1.1", "1.1")] * 3 + [("1.1", "1e308", "1.1", "1.1"),
                                      ("1.1", "1" * 400, "1.1", "1.1"), ("0.000001", "1.1", "0.000001", "1.1")]
                                      + [("1.1", "1.1", "1.1", "1.1")] * 3):
        t = datetime.fromtimestamp(1_709_600_400 + 3600 * k, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body.append(f"{t},EURUSD,{o},{h},{lo},{c},1")
    path.write_text("\n".join(body) + "\n")
    loaded = load_market_files([path], FileSpec(), registry, max_skipped=0.5)
    assert [(s.reason, s.lines) for s in loaded.reports[0].skipped] == [
        ("price out of range", (5, 6)),
        ("non-positive price", (7,))]  # in points, as every entry point judges: 0.000001 is 0 at 5 decimals
    for fmt, says in (("%Q", "reads none of its times"), ("%", "reads none of its times"),
                      ("%Y-%m-%d %H", "specify both hour and minute")):
        with pytest.raises(DataFileError, match=f"--time-format '{fmt}'.*{says}"):
            load("broker_export_generic.csv", registry, format="generic", symbol="EURUSD", tz="UTC",
                 columns={"date": "Datum", "time": "Uhrzeit", "bid": "Geld", "ask": "Brief"}, time_format=fmt)
    # a bar's spread of a tenth of its price would set every ask made from it
    spread = tmp_path / "EURUSD_spread.csv"
    spread.write_text("ts,symbol,open,high,low,close,volume,spread\n" + "".join(
        f"{datetime.fromtimestamp(1_709_600_400 + 3600 * k, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')},EURUSD,1.1,1.1,1.1,1.1,1,"
        f"{99999 if k == 5 else 8}\n" for k in range(30)))
    assert [(s.reason, s.lines) for s in load_market_files([spread], FileSpec(), registry, max_skipped=0.1)
            .reports[0].skipped] == [("spread out of range (a tenth of the price or more)", (7,))]
    # formats with a zone in them are read as before (the check refuses only what reads nothing)
    for fmt, stamp in (("%Y-%m-%dT%H:%M:%S%:z", "2024-03-11T10:00:00+01:00"), ("%Y-%m-%dT%H:%M:%S%#z",
                       "2024-03-11T10:00:00+01"), ("%Y-%m-%d %H:%M:%S %Z", "2024-03-11 09:00:00 UTC")):
        zoned = tmp_path / "EURUSD_zoned.csv"
        zoned.write_text(f"Time;Bid;Ask\n{stamp};1.1;1.1001\n")
        got = load_market_files([zoned], FileSpec(format="generic", tz="UTC", time_format=fmt,
                                                  columns={"ts": "Time", "bid": "Bid", "ask": "Ask"}), registry)
        assert got.ticks.ts.tolist() == [utc(2024, 3, 11, 9)], fmt
    # an offset written +02:00 (%:z) carries its zone: no --tz needed
    zoned.write_text("Time;Bid;Ask\n2024-03-11T11:00:00+02:00;1.1;1.1001\n")
    got = load_market_files([zoned], FileSpec(format="generic", time_format="%Y-%m-%dT%H:%M:%S%:z",
                                              columns={"ts": "Time", "bid": "Bid", "ask": "Ask"}), registry)
    assert got.ticks.ts.tolist() == [utc(2024, 3, 11, 9)]
    with pytest.raises(DataFileError, match=f"{tmp_path}: not a regular file"):
        load_market_files([tmp_path], FileSpec(), registry)
    # a refusal's hint is a command that reads the file as the refused run did
    with pytest.raises(DataFileError, match=r"`octet data check .*EURUSD_M1_broken_mt5.csv --tz NY\+7` lists them"):
        load("EURUSD_M1_broken_mt5.csv", registry, tz="NY+7")


def test_data_check_json_says_why_a_file_is_refused_on_stdout_and_errors_go_to_stderr(tmp_path) -> None:
    config = str(ROOT / "octet.yaml")
    refused = CliRunner().invoke(app, ["data", "check", str(FILES / "EURUSD_M1_broken_mt5.csv"), "--tz", "NY+7",
                                       "--json", "--config", config])
    assert refused.exit_code == 2 and refused.stderr == ""
    [doc] = json.loads(refused.stdout)
    assert doc["refused"].startswith(f"{FILES / 'EURUSD_M1_broken_mt5.csv'}: line 3: high below low")
    assert {"reason": "high below low", "count": 1} in [{k: s[k] for k in ("reason", "count")} for s in doc["skipped"]]
    other = str(ROOT / "tests" / "data" / "sma_reference.yaml")
    hinted = CliRunner().invoke(app, ["data", "check", str(FILES / "EURUSD_M1_broken_mt5.csv"), "--tz", "NY+7",
                                      "--json", "--config", other])
    assert f"`octet data check -c {other} " in json.loads(hinted.stdout)[0]["refused"]
    fine = CliRunner().invoke(app, ["data", "check", str(FILES / "EURUSD_H1_mt5.csv"), "--tz", "NY+7", "--json",
                                    "--config", config])
    assert fine.exit_code == 0 and json.loads(fine.stdout)[0]["refused"] is None
    plain = CliRunner().invoke(app, ["data", "check", str(FILES / "EURUSD_M1_broken_mt5.csv"), "--tz", "NY+7",
                                     "--config", config])
    assert plain.exit_code == 2 and "error:" in plain.stderr and "error:" not in plain.stdout
