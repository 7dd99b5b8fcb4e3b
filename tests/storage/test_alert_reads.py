"""The alerts' acknowledgements as the gateway reads them (``serve.queries.Reader.alerts``), on real PostgreSQL
and on SQLite: picked out of the run's operator records by the database's own JSON operators."""

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
