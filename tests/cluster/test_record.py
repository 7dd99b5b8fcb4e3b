"""One record per batch: the result folds the records, and the store writes each record it is handed."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.common import percentile
from cluster.desk.record import (
    KEPT_DISCREPANCIES,
    BatchLog,
    BatchRecord,
    Decision,
    LatencyHistogram,
    RecordsNotKept,
    SessionResult,
)
from cluster.storage import audit
from cluster.storage.store import RunEnd, SessionStore
from trading.ledger import AccountSnapshot, PositionView
from trading.orders import CloseReason, ExecutionReport, Fill, FillKind, Order, OrderStatus, OrderType, Side

T0 = 1_772_409_600 * 10**9
PRICE = Decimal("1.08500")


def order(coid: str, signal_id: str) -> Order:
    return Order(coid, "acc", "EURUSD", Side.BUY, Decimal("1.25"), OrderType.MARKET, PRICE - Decimal("0.002"),
                 PRICE + Decimal("0.004"), signal_id, PRICE, 15, T0, T0 + 10**9)


def filled(coid: str, kind: FillKind, ts: int) -> ExecutionReport:
    reason = CloseReason.ENTRY if kind is FillKind.OPEN else CloseReason.TAKE_PROFIT
    fill = Fill(coid, "acc", "EURUSD", Side.BUY, Decimal("1.25"), PRICE, ts, kind, reason)
    return ExecutionReport(coid, "acc", OrderStatus.FILLED, ts, "", fill)


def snapshot(*open_ids: str) -> dict[str, AccountSnapshot]:
    views = tuple(PositionView(p, "EURUSD", Side.BUY, Decimal("1.25"), PRICE, PRICE - Decimal("0.002"), None, PRICE,
                               Decimal(0), Decimal(-250), T0) for p in open_ids)
    return {"acc": AccountSnapshot("acc", "USD", T0, Decimal(100_000), Decimal(100_000), Decimal(100_000), views, 0)}


def two_batches() -> list[BatchRecord]:
    first = BatchLog()
    first.decisions += [Decision("s1", "acc", "risk", "veto", "max_risk", "too big"),
                        Decision("s2", "acc", "execution", "sent", "", "")]
    first.orders.append(order("o1", "s2"))
    first.reports.append(filled("o1", FillKind.OPEN, T0 + 1))
    first.tick_to_order_ms.append(12.5)
    first.dead_letters += ["late tick", "late tick"]
    second = BatchLog()
    second.decisions.append(Decision("s3", "acc", "compliance", "veto", "daily_loss", "no room"))
    second.reports.append(filled("o1", FillKind.CLOSE, T0 + 2))
    second.discrepancies.append("books differ")
    return [first.seal(1, 2000, snapshots=snapshot("o1"), headrooms={}),
            second.seal(2, 4000, snapshots=snapshot(), headrooms={})]


def test_the_result_keeps_counts_and_aggregates_and_lists_only_when_it_keeps_the_records() -> None:
    lean = SessionResult("r", 4000, 2, 0.0)
    kept = SessionResult("r", 4000, 2, 0.0, records=[])
    for r in two_batches():
        lean.add(r)
        kept.add(r)
    for result in (lean, kept):
        assert result.counts["decisions"] == 3 and result.counts["orders"] == 1 and result.counts["reports"] == 2
        assert result.vetoes_by_rule == {"risk:max_risk": 1, "compliance:daily_loss": 1}
        assert result.dead_letters == {"late tick": 2} and result.discrepancies == ["books differ"]
        assert result.tick_to_order.count == 1 and result.tick_to_order.max == 12.5
    with pytest.raises(RecordsNotKept, match="keep_records=True"):
        _ = lean.orders
    assert [o.client_order_id for o in kept.orders] == ["o1"] and kept.tick_to_order_ms == [12.5]
    assert [r.fill.kind for r in kept.reports if r.fill] == [FillKind.OPEN, FillKind.CLOSE]
    assert [d.signal_id for d in kept.decisions] == ["s1", "s2", "s3"]


def test_discrepancies_beyond_the_kept_ones_are_counted() -> None:
    result = SessionResult("r", 0, 1, 0.0)
    log = BatchLog()
    log.discrepancies += [f"d{i}" for i in range(KEPT_DISCREPANCIES + 5)]
    result.add(log.seal(1, 0, snapshots={}, headrooms={}))
    assert result.discrepancies == [f"d{i}" for i in range(KEPT_DISCREPANCIES)]
    assert result.counts["discrepancies"] == KEPT_DISCREPANCIES + 5


def test_the_latency_histogram_gives_percentiles_within_one_percent_of_the_exact_ones() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(3.5, 0.6) for _ in range(5000)]
    hist = LatencyHistogram()
    for v in values:
        hist.add(v)
    for q in (0.0, 0.5, 0.9, 0.99, 1.0):
        assert hist.percentile(q) == pytest.approx(percentile(values, q), rel=0.01), q
    assert hist.mean == pytest.approx(sum(values) / len(values)) and hist.max == max(values)


def test_the_store_writes_each_record_once_and_forgets_an_order_once_its_position_is_closed(tmp_path: Path) -> None:
    store = SessionStore(f"sqlite:///{tmp_path / 'octet.db'}")
    try:
        first, second = two_batches()
        acked = store.flush("r", first)
        assert acked["orders"] == 1 and acked["reports"] == 1 and acked["decisions"] == 2
        assert store._order_signal == {"o1": "s2"}  # its position is open: its close is still to come
        acked = store.flush("r", second, RunEnd(4000, 2, 1.0, {}))
        assert acked["orders"] == 1 and acked["reports"] == 2 and acked["decisions"] == 3
        assert store._order_signal == {}  # closed: no report will name it again
        back = store.read_run("r")
        assert len(back["orders"]) == 1 and len(back["execution_reports"]) == 2 and len(back["fills"]) == 2
        with store.engine.connect() as conn:
            rows = conn.execute(select(audit.audit.c.kind, audit.audit.c.signal_id)
                                .order_by(audit.audit.c.seq)).all()
        assert [k for k, _ in rows] == ["decision", "decision", "order", "report", "decision", "report", "run_end"]
        assert [s for k, s in rows if k == "report"] == ["s2", "s2"]  # the close is the order's signal's too
        assert audit.verify(store.engine).ok
    finally:
        store.close()
