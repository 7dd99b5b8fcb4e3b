"""How the gateway reads the store: the alerts' acknowledgements (``serve.queries.Reader.alerts``), picked out of the
run's operator records by the database's own JSON operators on real PostgreSQL and on SQLite; and on SQLite, reads
that never hold the write lock the desk's batches need."""

from __future__ import annotations

from cluster.storage import audit
from cluster.storage.audit import Entry
from cluster.storage.models import Run
from cluster.storage.store import SessionStore
from serve.queries import Reader


def test_only_an_acknowledgement_the_desk_took_in_the_run_marks_an_alert_acknowledged(url: str) -> None:
    store = SessionStore(url)
    with store.engine.begin() as conn:
        for run in ("ra", "rb"):
            conn.execute(Run.__table__.insert().values(run_id=run, started_ns=0, status="done", settings={},
                                                       summary=None, recorded_ns=1))
        audit.append(conn, "ra", [Entry("warning", ts, {"rule": "inactivity", "text": f"w{ts}"}) for ts in (1, 2, 3, 4)])
        seq = [r.seq for r in conn.execute(audit.audit.select().where(audit.audit.c.kind == "warning")
                                           .order_by(audit.audit.c.seq))]

        def op(action: str, i: int, outcome: str, who: str) -> Entry:
            return Entry("operator", 10 + i, {"action": action, "outcome": outcome, "alert_id": f"warning-{seq[i]}",
                                              "who": who, "reason": f"note {who}"})
        audit.append(conn, "ra", [
            op("ack", 0, f"acknowledged warning-{seq[0]}", "first"),  # taken
            op("ack", 0, f"acknowledged warning-{seq[0]}", "second"),  # the first one stands
            op("ack", 1, "refused: no such alert", "refused"),  # refused: not an acknowledgement
            op("halt", 2, "halted", "other action")])  # an operator record naming the alert, not an ack
        audit.append(conn, "rb", [op("ack", 3, f"acknowledged warning-{seq[3]}", "other run")])
    reader = Reader(store.engine)
    items, cursor = reader.alerts("ra", False, 10, None)
    assert cursor is None and [(i["action"], i.get("acked_by"), i.get("ack_note")) for i in items] == [
        ("w1", "first", "note first"), ("w2", None, None), ("w3", None, None), ("w4", None, None)], items
    assert items[0]["acked_ns"] == 10
    items, cursor = reader.alerts("ra", True, 10, None)
    assert cursor is None and [i["action"] for i in items] == ["w2", "w3", "w4"], items
    store.close()


def test_a_long_read_holds_no_write_lock_so_the_desks_batches_never_wait_on_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """On SQLite every transaction began with BEGIN IMMEDIATE, the gateway's reads too: a viewer's audit walk held
    the write lock for its whole run, and a desk's batch waited on it (past its 30 s, the run died with 'database is
    locked'). A reader's transaction now takes no lock; a writer's still takes it at once."""
    import sqlite3

    from cluster.storage.reads import reading

    store = SessionStore.sqlite(tmp_path)
    with store.engine.begin() as conn:
        conn.execute(Run.__table__.insert().values(run_id="ra", started_ns=0, status="done", settings={}, summary=None,
                                                   recorded_ns=1))
        audit.append(conn, "ra", [Entry("warning", ts, {"rule": "inactivity", "text": "w"}) for ts in range(1, 11)])
    database = str(tmp_path / "octet.db")

    def writer_waits() -> bool:  # a batch of the desk's, from another process's connection
        other = sqlite3.connect(database, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return True
        finally:
            other.close()

    walk = audit._rows(store.engine, chunk=2)  # the audit walk (GET /audit/verify, octet audit verify)
    assert next(walk).seq == 1  # its transaction is open, mid-walk
    assert not writer_waits()
    assert sum(1 for _ in walk) == 9  # and it still reads the whole chain
    with reading(store.engine).connect() as conn:  # any read of the gateway's (Reader, KeyBook)
        conn.execute(audit.audit.select()).all()
        assert not writer_waits()
    assert Reader(store.engine).alerts("ra", False, 5, None)[0]
    with store.engine.connect() as conn:  # a writer's transaction still takes the lock at once
        conn.execute(audit.audit.select().limit(1)).all()
        assert writer_waits()
    store.close()


def test_the_command_lines_reads_hold_no_write_lock_either(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`octet report`, `octet audit story`, `octet users list`, `octet learn`'s samples, a run's records and the
    anchor check's count read the store beside a running desk: on SQLite each took the write lock for its whole
    read, and a batch of the desk's waited on it (a long report beside a desk: 'database is locked'). Checked after
    every statement each of them runs, inside its transaction."""
    import sqlite3
    from decimal import Decimal

    from sqlalchemy import event

    from cluster.research.learn import samples_from_store
    from cluster.research.report import latest_run, load_run
    from cluster.storage import anchors
    from cluster.storage.models import EquityRow
    from serve import keys

    store = SessionStore.sqlite(tmp_path)
    with store.engine.begin() as conn:
        conn.execute(Run.__table__.insert().values(run_id="ra", started_ns=0, status="done", settings={}, summary=None,
                                                   recorded_ns=1))
        conn.execute(EquityRow.__table__.insert().values(run_id="ra", account_id="acc", ts_ns=1, balance=Decimal(100),
                                                         equity=Decimal(100), min_equity=None, open_positions=0,
                                                         closed_trades=0))
        audit.append(conn, "ra", [Entry("signal", 1, {"s": 1}, signal_id="sig"),
                                  Entry("order", 2, {"o": 1}, signal_id="sig", order_id="ord", account_id="acc")])
    keys.add_key(store.engine, "viewer", "viewer", by="test")
    database = str(tmp_path / "octet.db")
    waited: list[str] = []

    def check(_conn, _cursor, statement, *_):  # type: ignore[no-untyped-def]
        other = sqlite3.connect(database, timeout=0.05, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        except sqlite3.OperationalError:
            waited.append(statement.split()[0] + " " + statement[:60])
        finally:
            other.close()

    event.listen(store.engine, "after_cursor_execute", check)
    reads = {"latest_run": lambda: latest_run(store.engine), "load_run": lambda: load_run(store.engine, "ra"),
             "story": lambda: audit.story(store.engine, "ord"), "list_keys": lambda: keys.list_keys(store.engine),
             "read_run": lambda: store.read_run("ra"), "runs": store.runs,
             "samples_from_store": lambda: samples_from_store(store.engine, unlabelled=True),
             "records": lambda: anchors.records(store.engine)}
    for name, read in reads.items():
        waited.clear()
        assert read() is not None
        assert not waited, (name, waited)
    with store.engine.begin() as conn:  # the check sees a writer's lock: the test can fail
        conn.execute(Run.__table__.select()).all()
    assert waited
    event.remove(store.engine, "after_cursor_execute", check)
    store.close()


def _bars_one_row_at_a_time(rows: list[dict], seconds: int, from_ns: int | None, to_ns: int | None,  # type: ignore[type-arg]
                            limit: int) -> tuple[list[dict], bool]:  # type: ignore[type-arg]
    """The reference: the gateway's bars as it made them before, from the first (limit + 1) x seconds/60 minutes in
    the window, one row at a time."""
    span, per = seconds * 1_000_000_000, seconds // 60
    picked = [r for r in rows if (from_ns is None or r["ts_ns"] >= from_ns - from_ns % span)
              and (to_ns is None or r["ts_ns"] < to_ns)][:(limit + 1) * per]
    out: list[dict] = []  # type: ignore[type-arg]
    for r in picked:
        start = r["ts_ns"] - r["ts_ns"] % span
        if out and out[-1]["ts_ns"] == start:
            b = out[-1]
            b["high"], b["low"] = max(b["high"], r["high"]), min(b["low"], r["low"])
            b["close"], b["volume"] = r["close"], b["volume"] + r["volume"]
        else:
            out.append({**r, "ts_ns": start})
    if len(picked) == (limit + 1) * per and len(out) > 1:
        out.pop()
    return out[:limit], len(out) > limit or len(picked) == (limit + 1) * per


def test_bars_made_by_the_database_are_the_bars_made_one_minute_at_a_time(url: str) -> None:
    """5,000 hourly bars were 300,000 minutes through Python (3.6 s); the database now makes them from the same
    minutes: the same bars and the same 'more', over gaps (a weekend, missing minutes), windows and page sizes."""
    import random

    from cluster.storage.models import BarRow

    rng = random.Random(7)
    minute, start = 60_000_000_000, 1_772_400_000_000_000_000  # 2026-03-01 21:20 UTC: not on an hour
    rows, ts, price = [], start, 1_080_000
    for _ in range(3_000):
        ts += minute * (rng.choice([1] * 30 + [2, 7]) if rng.random() > 0.002 else 2_880)  # gaps, and two days shut
        price += rng.randint(-40, 40)
        hi, lo = price + rng.randint(0, 30), price - rng.randint(0, 30)
        rows.append({"ts_ns": ts, "open": price, "high": hi, "low": lo, "close": rng.randint(lo, hi),
                     "volume": rng.randint(0, 10**12)})
    store = SessionStore(url)
    with store.engine.begin() as conn:
        conn.execute(BarRow.__table__.insert(), [{"symbol": "EURUSD", "seconds": 60, **r} for r in rows])
        conn.execute(BarRow.__table__.insert(), [{"symbol": "GBPUSD", "seconds": 60, **r} for r in rows[:50]])
    reader = Reader(store.engine)
    cases = [(300, None, None, 5000), (3600, None, None, 10), (3600, None, None, 48), (86_400, None, None, 3),
             (900, rows[400]["ts_ns"], None, 25), (3600, rows[100]["ts_ns"] + 1, rows[2_000]["ts_ns"], 5000),
             (1800, None, rows[70]["ts_ns"], 2), (3600, rows[-1]["ts_ns"] + 7 * minute, None, 10), (60, None, None, 7)]
    for seconds, lo, hi, limit in cases:
        got = reader.bars("EURUSD", seconds, lo, hi, limit)
        assert got == _bars_one_row_at_a_time(rows, seconds, lo, hi, limit), (seconds, lo, hi, limit)
    assert reader.bars("EURUSD", 3600, None, None, 48)[0], "the hours are there"
    store.close()
