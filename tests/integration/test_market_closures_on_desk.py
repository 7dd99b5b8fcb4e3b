"""An FTMO Account through Christmas 2026 on the desk (`octet backtest`'s in-process agents and rust_exec),
with no tick while spot FX is closed, as a real feed: it holds nothing over the closure, as FTMO asks of a
break longer than 2 hours, and the breaker does not read the holiday as a stale feed. Before, it held a
position into the break (the weekend rule's deadline is a day later) and the system tier halted the desk
5 minutes into it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

from cluster.adapters.feeds.replay import generate_ticks
from cluster.config.settings import load_settings
from cluster.desk.session import Session, SessionResult
from tests.conftest import ROOT
from trading.market import NS_PER_S, datetime_to_ts
from trading.orders import CloseReason

CLOSES = datetime_to_ts(datetime(2026, 12, 24, 22, tzinfo=UTC))  # 17:00 New York on Thursday
REOPENS = datetime_to_ts(datetime(2026, 12, 25, 22, tzinfo=UTC))
FLAT_BY = CLOSES - 15 * 60 * NS_PER_S


def run(tmp_path: Path, closures: bool) -> SessionResult:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["accounts"][0]["firm"] = "ftmo.funded"  # FTMO's FTMO Account: no weekend, no break over 2 hours
    tmp_path.mkdir(parents=True)
    news = tmp_path / "news.csv"  # the firm's news rule needs a calendar covering the weeks traded
    news.write_text("time_utc,currency,impact,title\n"
                    + "".join(f"{d}T13:30:00Z,USD,medium,jobless claims\n" for d in ("2026-12-22", "2026-12-29")))
    doc["agents"]["compliance"].update(news_calendar=str(news), **({} if closures else {"market_closures": None}))
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(doc))
    settings = load_settings(path, runtime__data_dir=str(tmp_path / "var"), session__ticks=120_000, session__seed=8)
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), 120_000, 8,
                              datetime(2026, 12, 23, tzinfo=UTC))  # Wednesday to the next Monday
    ticks = ticks.take(np.flatnonzero((ticks.ts < CLOSES) | (ticks.ts >= REOPENS)))  # the generator knows weekends only
    return Session(settings, run_id="christmas", keep_records=True, in_process=True).run(ticks)


def system_events(result: SessionResult) -> list[tuple[str, str]]:
    return [(e.to_state.name, e.trigger) for r in result.records or () for e in r.breaker_events if e.tier == "system"]


def test_an_ftmo_account_is_flat_before_christmas_and_the_holiday_does_not_halt_the_desk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blind = run(tmp_path / "blind", closures=False)
    ftmo = [t for t in blind.trades if t.account_id == "ftmo-100k"]
    assert any(t.opened_ns < CLOSES < t.closed_ns for t in ftmo), "without the closures it holds one into the break"
    assert system_events(blind)[:1] == [("OPEN", "stale data: EURUSD")]

    result = run(tmp_path / "closures", closures=True)
    ftmo = [t for t in result.trades if t.account_id == "ftmo-100k"]
    assert not [t for t in ftmo if t.opened_ns < CLOSES < t.closed_ns]
    flattened = [t for t in ftmo if t.closed_ns == FLAT_BY]
    assert flattened and all(t.reason is CloseReason.FLATTEN for t in flattened)
    assert system_events(result) == []
    # the account beside it (a firm with no holding rule) holds over the break, and is not vetoed for it
    assert any(t.opened_ns < CLOSES < t.closed_ns for t in result.trades if t.account_id == "funded-50k")
    assert not [d for d in result.decisions if d.rule == "market_closure" and d.account_id == "funded-50k"]
