"""The compliance agent's reading of the news calendar and the market closures at a running desk's reload
(``ComplianceAgent.reload_files``): checked as `desk start` checks them, all or nothing, and a refusal worded for
the viewers who see it in an alert (the file's name, one line, bounded)."""

from __future__ import annotations

from pathlib import Path

from actors.compliance import ComplianceAgent
from trading.compliance import CostAllowance
from trading.instruments import InstrumentRegistry
from trading.presets import PRESET_DIR, load_preset

CALENDAR = "time_utc,currency,impact,title\n2026-03-06T13:30:00Z,USD,high,Non-Farm Payrolls\n"
HEADER = "start_utc,end_utc,symbols,title\n"


def agent(registry: InstrumentRegistry, news: Path, closures: Path) -> ComplianceAgent:
    news.write_text(CALENDAR)
    closures.write_text((PRESET_DIR / "market_closures.csv").read_text())
    return ComplianceAgent(registry, {"acc": load_preset("ftmo.funded")}, {"acc": CostAllowance()},
                           news_calendar=str(news), closures=str(closures))


def test_a_reload_that_cannot_read_one_file_takes_neither(tmp_path: Path, registry: InstrumentRegistry) -> None:
    news, closures = tmp_path / "news.csv", tmp_path / "closures.csv"
    a = agent(registry, news, closures)
    before = len(a.accounts["acc"].closures)
    news.write_text(CALENDAR + "2026-03-12T12:30:00Z,USD,high,CPI\n")  # good
    closures.write_text(HEADER + "2026-03-13T20:00:00Z,2026-03-13T21:00:00Z,EURUDS,a typo\n")  # an unknown instrument
    read = a.reload_files(str(news), None, str(closures))
    assert read.errors == (("market_closures", "closures.csv:2='EURUDS': unknown instrument (known: EURUSD, GBPUSD, "
                                                "USDJPY)"),)
    assert len(read.news) == len(a.news) == len(a.accounts["acc"].news) == 1, "the good calendar is not taken either"
    assert len(read.closures) == len(a.accounts["acc"].closures) == before

    closures.write_text(HEADER + "2026-03-13T20:00:00Z,2026-03-13T21:00:00Z,*,announced outage\n")
    read = a.reload_files(str(news), None, str(closures))
    assert read.errors == () and len(a.accounts["acc"].news) == 2 and len(a.accounts["acc"].closures) == 1


def test_a_refusal_names_the_file_not_its_folder_in_one_bounded_line(tmp_path: Path, registry: InstrumentRegistry) -> None:
    news, closures = tmp_path / "news.csv", tmp_path / "closures.csv"
    a = agent(registry, news, closures)
    news.write_text(CALENDAR + "2026-03-12T12:3," + "x" * 130_000 + "\n")
    ((name, why),) = a.reload_files(str(news), None, str(closures)).errors
    assert name == "news_calendar" and why.startswith("news.csv:3=") and str(tmp_path) not in why
    assert len(why) <= 240 and "\n" not in why
    news.unlink()
    ((_, why),) = a.reload_files(str(news), None, str(closures)).errors
    assert why == "news.csv='': cannot read the news calendar (No such file or directory)"
