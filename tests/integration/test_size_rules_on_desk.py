"""The firms' size rules on the desk (`octet backtest`'s in-process agents and rust_exec): Topstep's scaling plan
and FundedNext's open-risk limit hold over a run, judged from the trades the venue filled, and an account
rust_exec may not trade an instrument on is left out of that instrument's signals (it would take the one place
a copy-trading rule gives)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from cluster.adapters.feeds.replay import generate_ticks
from cluster.config.settings import load_settings
from cluster.desk.session import Session
from tests.conftest import ROOT
from trading.market import datetime_to_ts

START = datetime(2026, 3, 2, 8, tzinfo=UTC)  # a Monday
CHICAGO = ZoneInfo("America/Chicago")


def day_began(ts_ns: int) -> int:
    """The last 17:00 in Chicago at or before ``ts_ns``: Topstep's reset."""
    local = datetime.fromtimestamp(ts_ns / 1e9, UTC).astimezone(CHICAGO)
    reset = datetime.combine(local.date(), time(17), CHICAGO)
    if local < reset:
        reset = datetime.combine(local.date() - timedelta(days=1), time(17), CHICAGO)
    return datetime_to_ts(reset)


def test_the_scaling_plan_holds_and_an_account_the_venue_refuses_an_instrument_is_left_out_of_its_signals(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["accounts"] = [
        {"id": "a-topstep", "owner": "desk", "firm": "topstepx.funded", "balance": "50000", "profile": "default",
         "risk": {"risk_per_trade_pct": "1"}},
        {"id": "b-funded", "owner": "desk", "firm": "fundednext.funded", "balance": "100000", "profile": "default"},
        {"id": "c-challenge", "owner": "desk", "firm": "fundednext.phase1", "balance": "100000", "profile": "default",
         "limits": {"instruments": ["EURUSD"]}},
    ]
    doc["session"].update(start=START.isoformat(), ticks=60_000, seed=5)
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(doc))
    settings = load_settings(path, runtime__data_dir=str(tmp_path / "var"))
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), 60_000, 5, START)
    result = Session(settings, run_id="size", keep_records=True, in_process=True).run(ticks)

    # Topstep: the lots held together at every entry within the cap of the day it began in, from the balance then
    trades = sorted((t for t in result.trades if t.account_id == "a-topstep"), key=lambda t: t.opened_ns)
    assert len(trades) >= 5, "the account trades"
    for t in trades:
        began = day_began(t.opened_ns)
        balance = Decimal(50_000) + sum((x.pnl for x in trades if x.closed_ns <= began), Decimal(0))
        cap = 5 if balance > 52_000 else 3 if balance > 51_500 else 2
        held = sum((x.lots for x in trades if x.opened_ns <= t.opened_ns < x.closed_ns), Decimal(0))
        assert held <= cap, (t.opened_ns, held, cap, balance)
    sized = [d for d in result.decisions if d.account_id == "a-topstep" and d.step == "risk" and d.outcome == "pass"]
    assert any(dict(d.numbers).get("lots_room") is not None for d in sized), "ARIA cut an order to the plan's room"

    # c may trade EURUSD only: left out of the others' signals, so b takes them without a copy-trading veto
    left_out = [d for d in result.decisions if d.account_id == "c-challenge" and d.rule == "instruments"]
    assert left_out and all("rust_exec takes only EURUSD on this account" in d.reason for d in left_out)
    refused = [d for d in result.decisions if d.account_id == "c-challenge" and d.step == "execution"
               and d.outcome not in ("sent", "veto")]
    assert not refused, refused[:3]
    b_symbols = Counter(t.symbol for t in result.trades if t.account_id == "b-funded")
    assert set(b_symbols) - {"EURUSD"}, b_symbols
    assert {t.symbol for t in result.trades if t.account_id == "c-challenge"} <= {"EURUSD"}
