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

    from cluster.storage.store import reading

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
