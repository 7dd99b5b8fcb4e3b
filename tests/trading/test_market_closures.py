"""Market closures besides the weekend: FTMO's FTMO Account closes positions before any market break
longer than 2 hours ("close your positions just before the markets close for the weekend or if the
rollover (market break) is longer than 2 hours", ftmo.com/en/faq/do-i-have-to-close-my-positions-overnight/),
as it does before the weekend; the breaks come from a file (trading/closures.py)."""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from trading.closures import MarketClosure, MarketClosures
from trading.compliance import AccountRules, CostAllowance
from trading.errors import InvalidValue
from trading.fx import ConversionRates
from trading.ledger import AccountSnapshot, PositionView
from trading.market import NS_PER_S, datetime_to_ts
from trading.news import NewsCalendar, NewsEvent
from trading.orders import Order, OrderType, Side
from trading.presets import PRESET_DIR, load_preset

MIN = 60 * NS_PER_S
SAMPLE = MarketClosures.from_csv(PRESET_DIR / "market_closures.csv")


def ts(*args: int) -> int:
    return datetime_to_ts(datetime(*args, tzinfo=UTC))


CHRISTMAS = ts(2026, 12, 24, 22, 0)  # Thursday 17:00 New York: spot FX closes until Friday 17:00, then the weekend
NEWS = NewsCalendar([NewsEvent(ts(2026, 12, d, 13, 30), "USD", "placeholder", "medium") for d in (21, 28)])


def snap(at: int, positions: tuple[PositionView, ...] = ()) -> AccountSnapshot:
    return AccountSnapshot("acc", "USD", at, Decimal(100_000), Decimal(100_000), Decimal(100_000), positions, 0)


def order(at: int, symbol: str = "EURUSD", expiry_min: int = 2) -> Order:
    stop, ref = ("1.09000", "1.10000") if symbol == "EURUSD" else ("149.000", "150.000")
    return Order("o1", "acc", symbol, Side.BUY, Decimal(1), OrderType.MARKET, Decimal(stop), None, "sig",
                 Decimal(ref), 10, at, at + expiry_min * MIN)


def position(symbol: str = "EURUSD", opened: int = CHRISTMAS - 3 * 60 * MIN) -> PositionView:
    return PositionView("p", symbol, Side.BUY, Decimal(1), Decimal("1.10000"), Decimal("1.09900"), None,
                        Decimal("1.10000"), Decimal(0), Decimal(-100), opened)


def account(preset: str, registry, closures: MarketClosures | None = SAMPLE):  # type: ignore[no-untyped-def]
    return AccountRules(load_preset(preset), CostAllowance(), registry, NEWS, closures=closures), \
        ConversionRates(registry)


@pytest.mark.parametrize("preset", ["ftmo.funded", "ftmo_1step.funded"])
def test_an_ftmo_account_closes_before_christmas_which_the_weekend_rule_alone_holds_over(registry, preset) -> None:  # type: ignore[no-untyped-def]
    acc, rates = account(preset, registry)
    assert acc.rules.holding.max_break_minutes == 120
    late = CHRISTMAS - 16 * MIN  # an order that may fill until 21:46, inside the 15 minutes before the close
    refused = acc.check([order(late, expiry_min=2)], snap(late), rates)
    assert (refused.allowed, refused.rule) == (False, "market_closure")
    assert "Christmas Day, Fri 25 Dec 2026" in refused.reason, refused.reason
    assert acc.check([order(late - 60 * MIN)], snap(late - 60 * MIN), rates).allowed
    held = (position(),)
    assert acc.observe(snap(CHRISTMAS - 16 * MIN, held), rates).flatten_reason == ""
    reason = acc.observe(snap(CHRISTMAS - 15 * MIN, held), rates).flatten_reason
    assert reason.startswith("market closure (Christmas Day") and "flat 15 min before the close" in reason, reason
    # Without the closures the account would hold it: the weekend rule's close is Friday's, a day later
    blind, _ = account(preset, registry, closures=None)
    assert blind.observe(snap(CHRISTMAS - 15 * MIN, held), rates).flatten_reason == ""
    assert blind.check([order(late)], snap(late), rates).allowed


def test_evaluation_accounts_may_hold_over_the_break(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = account("ftmo.challenge", registry)
    assert acc.rules.holding.max_break_minutes == 0
    assert acc.observe(snap(CHRISTMAS - 15 * MIN, (position(),)), rates).flatten_reason == ""
    assert acc.check([order(CHRISTMAS - 5 * MIN)], snap(CHRISTMAS - 5 * MIN), rates).allowed


def test_a_break_counts_only_when_longer_than_the_limit_and_only_for_the_symbols_it_closes(registry) -> None:  # type: ignore[no-untyped-def]
    tuesday = ts(2026, 12, 22, 18, 0)
    two_hours = MarketClosures([MarketClosure(tuesday, tuesday + 120 * MIN, None, "two hours")])
    acc, rates = account("ftmo.funded", registry, two_hours)  # FTMO: "longer than 2 hours"
    assert acc.observe(snap(tuesday - 5 * MIN, (position(),)), rates).flatten_reason == ""
    longer = MarketClosures([MarketClosure(tuesday, tuesday + 121 * MIN, frozenset({"USDJPY"}), "yen desk")])
    acc, rates = account("ftmo.funded", registry, longer)
    assert acc.observe(snap(tuesday - 5 * MIN, (position(),)), rates).flatten_reason == "", "EURUSD stays open"
    assert acc.check([order(tuesday - 10 * MIN)], snap(tuesday - 10 * MIN), rates).allowed
    assert acc.check([order(tuesday - 10 * MIN, "USDJPY")], snap(tuesday - 10 * MIN), rates).rule == "market_closure"
    yen = PositionView("p", "USDJPY", Side.BUY, Decimal(1), Decimal("150.000"), Decimal("149.000"), None,
                       Decimal("150.000"), Decimal(0), Decimal(0), tuesday - 60 * MIN)
    assert "yen desk" in acc.observe(snap(tuesday - 5 * MIN, (position(), yen)), rates).flatten_reason


@pytest.mark.parametrize("rows", [
    [(0, 90, None, "early close"), (90, 180, None, "maintenance")],  # back to back: 3 hours
    [(0, 90, None, "a"), (60, 150, None, "b")],  # overlapping: 2.5 hours
    [(0, 60, frozenset({"EURUSD"}), "EURUSD early close"), (30, 1440, None, "holiday")],  # short into long
])
def test_breaks_that_touch_or_overlap_on_a_symbol_are_one_break(registry, rows) -> None:  # type: ignore[no-untyped-def]
    at = ts(2026, 12, 22, 18, 0)
    closures = MarketClosures([MarketClosure(at + a * MIN, at + b * MIN, syms, title) for a, b, syms, title in rows])
    acc, rates = account("ftmo.funded", registry, closures)
    reason = acc.observe(snap(at - 15 * MIN, (position(),)), rates).flatten_reason
    assert reason.startswith(f"market closure ({rows[0][3]} + {rows[1][3]})"), reason
    assert acc.check([order(at - 16 * MIN)], snap(at - 16 * MIN), rates).rule == "market_closure"
    assert acc.observe(snap(at - 16 * MIN, (position(),)), rates).flatten_reason == ""


def test_an_early_close_that_runs_into_the_weekend_is_as_long_as_the_weekend(registry) -> None:  # type: ignore[no-untyped-def]
    friday_close = ts(2026, 3, 6, 22, 0)  # 17:00 New York
    early = MarketClosures([MarketClosure(friday_close - 75 * MIN, friday_close, None, "early close")])
    acc, rates = account("ftmo.funded", registry, early)
    deadline = friday_close - 75 * MIN - 15 * MIN
    assert "early close" in acc.observe(snap(deadline, (position(),)), rates).flatten_reason
    assert acc.observe(snap(deadline - MIN, (position(),)), rates).flatten_reason == ""


def test_inside_a_closure_nothing_opens_and_what_is_held_closes(registry) -> None:  # type: ignore[no-untyped-def]
    """Generated ticks, or a feed that ignores the holiday, go on through Christmas Day: the firm's
    market is closed, so no order is sent and a position held there closes."""
    acc, rates = account("ftmo.funded", registry)
    noon = ts(2026, 12, 25, 12, 0)
    refused = acc.check([order(noon)], snap(noon), rates)
    assert (refused.allowed, refused.rule) == (False, "market_closure")
    assert "Christmas" in acc.observe(snap(noon, (position(opened=noon - MIN),)), rates).flatten_reason
    after = ts(2026, 12, 27, 23, 0)  # Sunday after the reopening
    assert acc.check([order(after)], snap(after), rates).allowed


def test_the_desk_cuts_at_each_closure_deadline(registry) -> None:  # type: ignore[no-untyped-def]
    rules = load_preset("ftmo.funded")
    instants = rules.instants(ts(2026, 12, 21), ts(2027, 1, 4), SAMPLE, registry.symbols)
    for deadline in (CHRISTMAS - 15 * MIN, ts(2026, 12, 31, 21, 45)):
        assert deadline in instants
    assert ts(2026, 12, 24, 21, 45) not in rules.instants(ts(2026, 12, 21), ts(2027, 1, 4))


def test_the_sample_holds_every_weekday_christmas_and_new_year_in_fx_days() -> None:
    days = [datetime.fromtimestamp(c.end_ns / NS_PER_S, UTC) for c in SAMPLE.closures]
    assert all((d.month, d.day) in ((12, 25), (1, 1)) and d.weekday() < 5 for d in days)
    assert all(c.end_ns - c.start_ns == 24 * 60 * MIN and c.symbols is None for c in SAMPLE.closures)
    assert len(SAMPLE) == 10  # 2025/26 to 2030/31; 2027's fall on a Saturday


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "closures.csv"
    path.write_text("start_utc,end_utc,symbols,title\n" + body)
    return path


@pytest.mark.parametrize(("body", "says"), [
    ("2026-12-25T22:00:00Z,2026-12-24T22:00:00Z,*,backwards\n", "ends at or before its start"),
    ("2026-12-24T22:00:00Z,2026-12-25T22:00:00Z,,no symbols\n", "no symbols"),
    ("2026-12-24T22:00:00Z,2026-12-25T22:00:00Z,* EURUSD,both\n", "give it alone"),
    ("2026-12-24T22:00:00Z,2026-12-25T22:00:00Z,EUR/USD,slash\n", "alphanumeric"),
    ("2026-12-24T22:00:00Z,2026-12-25T22:00:00Z,*,Christmas, closed\n", "quote a title holding a comma"),
    ("24/12/2026,2026-12-25T22:00:00Z,*,not ISO\n", "not a market closure"),
    ("9999-12-31T00:00:00Z,9999-12-31T01:00:00Z,EURUSD,a typo's year\n", "a year from 1971 to 2200"),
    ('2026-12-24T22:00:00Z,2026-12-25T22:00:00Z,*,"Christmas" closed\n', "not a CSV file Octet can read"),
])
def test_a_bad_row_is_named_by_its_line(tmp_path: Path, body: str, says: str) -> None:
    path = write(tmp_path, "# a comment\n" + body)
    with pytest.raises(InvalidValue, match=f"{path}:3.*{says}"):
        MarketClosures.from_csv(path)


def test_a_file_that_is_not_a_closures_file_is_refused_in_one_line(tmp_path: Path) -> None:
    news = tmp_path / "news.csv"
    news.write_text("time_utc,currency,impact,title\n2026-12-04T13:30:00Z,USD,high,NFP\n")
    with pytest.raises(InvalidValue, match="not a market closures file: its header is start_utc,end_utc,symbols,title"):
        MarketClosures.from_csv(news)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InvalidValue, match="not a regular file"):
        MarketClosures.from_csv(fifo)
    local = write(tmp_path, "2026-12-24T22:00:00,2026-12-25T22:00:00,US500 DE40,no zone: UTC\n")
    (brk,) = MarketClosures.from_csv(local).closures
    assert (brk.start_ns, brk.symbols) == (CHRISTMAS, frozenset({"US500", "DE40"}))


def test_holding_rules_saved_before_max_break_minutes_load_with_their_own_values() -> None:
    """A frozen slotted dataclass pickles as its values in field order: a Holding saved by an older desk
    is [weekend, overnight, flat_minutes_before, min_hold_seconds], and the new field takes its default."""
    from trading.rules import Holding

    old = object.__new__(Holding)
    old.__setstate__([False, True, 15, 30])
    assert old == Holding(weekend=False, flat_minutes_before=15, min_hold_seconds=30, max_break_minutes=0)
    funded = load_preset("ftmo.funded")
    assert pickle.loads(pickle.dumps(funded)) == funded


def test_a_resumed_desk_reads_the_closures_and_the_news_calendar_as_they_are_now(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The operator adds the break the firm announced (or loads next week's news) and starts the desk again:
    its agents come back from their saved state (actors/shell.py) and read the files again. An actor Ray
    restarts mid-run does not: its answers are the run's, whatever changed on disk."""
    from actors.compliance import ComplianceAgent
    from actors.shell import AgentShell

    closures, news = write(tmp_path, ""), tmp_path / "news.csv"
    news.write_text("time_utc,currency,impact,title\n2026-12-21T13:30:00Z,USD,medium,claims\n")
    args = (registry, {"acc": load_preset("ftmo.funded")}, {"acc": CostAllowance()}, None, str(news), None, None,
            None, True, None, None, str(closures))
    tuesday = ts(2026, 12, 22, 18, 0)
    held = {"acc": snap(tuesday - 15 * MIN, (position(opened=tuesday - 60 * MIN),))}
    marks = {"EURUSD": Decimal("1.1"), "GBPUSD": Decimal("1.27"), "USDJPY": Decimal("150")}
    shell = AgentShell("compliance", str(tmp_path / "state"), ComplianceAgent, *args, run_id="r", key=b"k" * 32)
    assert shell.call(1, "observe", held, marks)["acc"].flatten_reason == ""
    write(tmp_path, "2026-12-22T18:00:00Z,2026-12-23T18:00:00Z,*,announced outage\n")
    news.write_text("time_utc,currency,impact,title\n2026-12-28T13:30:00Z,USD,medium,claims\n")
    restarted = AgentShell("compliance", str(tmp_path / "state"), ComplianceAgent, *args, run_id="r", key=b"k" * 32)
    assert restarted.restored  # Ray restarted the actor mid-run: the run's files as it saved them, whatever changed
    assert restarted.call(2, "observe", held, marks)["acc"].flatten_reason == ""
    again = AgentShell("compliance", str(tmp_path / "state"), ComplianceAgent, *args, run_id="r", key=b"k" * 32)
    assert again.reload()  # the desk started again (Session: before its first call)
    assert "announced outage" in again.call(3, "observe", held, marks)["acc"].flatten_reason
    assert [e.ts_ns for e in again.agent.news.events] == [ts(2026, 12, 28, 13, 30)]
    after = AgentShell("compliance", str(tmp_path / "state"), ComplianceAgent, *args, run_id="r", key=b"k" * 32)
    assert len(after.agent.accounts["acc"].closures) == 1, "a restart after the reload restores what it read"


def test_an_account_saved_before_closures_were_read_resumes_without_them(registry) -> None:  # type: ignore[no-untyped-def]
    acc, rates = account("ftmo.funded", registry)
    state = acc.__dict__.copy()
    del state["closures"]
    old = AccountRules.__new__(AccountRules)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.observe(snap(CHRISTMAS - 15 * MIN, (position(),)), rates).flatten_reason == ""
    assert len(pickle.loads(pickle.dumps(acc)).closures) == len(SAMPLE)
