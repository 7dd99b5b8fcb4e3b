"""Migrations up and down on real PostgreSQL and on SQLite, the models matching them, and the audit
chain: intact when written, refused changes, and a tampered or missing record named by number
(the chain alone; its anchors are tests/storage/test_audit_anchors.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import DBAPIError

from cluster.storage import audit, migrate
from cluster.storage.audit import Entry
from cluster.storage.models import TIMESERIES, Base, outside_models
from cluster.storage.store import SessionStore, StoreError
from tests.conftest import ROOT

RECORD_TABLES = {t for t in Base.metadata.tables if t not in TIMESERIES}


def test_migrations_go_up_and_down_and_up_again(url: str) -> None:
    engine = create_engine(url)
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head(engine) == "0008"
    names = set(inspect(engine).get_table_names())
    assert RECORD_TABLES | {"ticks", "bars", "bars_1h", "octet_meta"} <= names
    with engine.connect() as conn:
        layout = conn.execute(text("SELECT value FROM octet_meta")).scalar()
    assert layout == ("partitioned" if engine.dialect.name == "postgresql" else "plain")  # no TimescaleDB here
    migrate.downgrade(engine, "0001")
    assert "ticks" not in set(inspect(engine).get_table_names()) and migrate.current(engine) == "0001"
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"} and migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == "0008"


def test_the_models_are_what_the_migrations_make(url: str) -> None:
    engine = create_engine(url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": outside_models})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], diff


def test_a_database_from_before_migrations_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE runs (run_id text)"))
    with pytest.raises(StoreError, match="before schema migrations"):
        SessionStore(f"sqlite:///{tmp_path / 'old.db'}")


def _chain(url: str, n: int = 30) -> SessionStore:
    store = SessionStore(url)
    with store.engine.begin() as conn:
        audit.append(conn, "r1", [Entry("order", i, {"lots": f"{i}.10", "price": "1.08501"}, f"s{i}", f"o{i}", "acc")
                                  for i in range(n // 2)])
    with store.engine.begin() as conn:  # a second transaction continues the same chain
        audit.append(conn, "r2", [Entry("trade", i, {"pnl": str(-i)}, None, f"o{i}", "acc") for i in range(n // 2)])
    return store


def test_an_orders_story_is_of_one_run_the_latest_unless_named(url: str) -> None:
    """Client order ids repeat when the same data runs again: a story never mixes runs."""
    store = _chain(url)  # o0..o14 in run r1 (orders), then again in run r2 (trades)
    assert audit.runs_of_order(store.engine, "o3") == ["r1", "r2"]
    assert [(r.run_id, r.kind) for r in audit.story(store.engine, "o3")] == [("r2", "trade")]
    assert [(r.run_id, r.kind) for r in audit.story(store.engine, "o3", "r1")] == [("r1", "order")]
    assert audit.story(store.engine, "o3", "r9") == [] and audit.story(store.engine, "nope") == []
    assert audit.runs_of_order(store.engine, "nope") == []
    cli = [sys.executable, "-m", "cluster.cli", "audit", "show", "--order", "o3", "--url", url]
    env = {"COLUMNS": "200", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(cli, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert shown.returncode == 0 and "placed in 2 runs (latest first: r2, r1)" in shown.stdout, shown.stdout + shown.stderr
    assert "(run r2)" in shown.stdout and "(run r1)" not in shown.stdout
    picked = subprocess.run([*cli, "--run", "r1"], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert picked.returncode == 0 and "(run r1)" in picked.stdout and "placed in" not in picked.stdout
    other = subprocess.run([*cli, "--run", "r9"], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert other.returncode == 1 and "in run r9" in other.stdout + other.stderr
    assert "(it is in runs r2, r1)" in other.stdout + other.stderr and "Traceback" not in other.stdout + other.stderr
    # a run still going writes a late record of its order after another run placed the same id: the latest is
    # still the run that placed it last; text from the store is shown as text, not as markup
    with store.engine.begin() as conn:
        audit.append(conn, "r1", [Entry("report", 99, {"status": "FILLED"}, None, "o3", "acc[/i]")])
    assert audit.runs_of_order(store.engine, "o3") == ["r1", "r2"]
    late = subprocess.run([*cli, "--run", "r1"], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert late.returncode == 0 and "acc[/i]" in late.stdout, late.stdout + late.stderr


def test_the_audit_chain_verifies_and_the_database_refuses_to_change_it(url: str) -> None:
    store = _chain(url)
    assert audit.verify(store.engine) == audit.Verdict(True, 30)
    for sql in ("UPDATE audit SET payload = payload WHERE seq = 3", "DELETE FROM audit WHERE seq = 3"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert audit.verify(store.engine).ok


def _behind_the_guard(store: SessionStore, sql: str) -> None:
    """What an attacker with the database owner's rights could do: drop the guard, change a row."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit DISABLE TRIGGER USER"))
            conn.execute(text(sql))
            conn.execute(text("ALTER TABLE audit ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_no_update"))
            conn.execute(text("DROP TRIGGER audit_no_delete"))
            conn.execute(text(sql))


def test_a_tampered_audit_record_is_found_and_named(url: str) -> None:
    store = _chain(url)
    _behind_the_guard(store, "UPDATE audit SET payload = '{\"lots\": \"9.20\", \"price\": \"1.08501\"}' WHERE seq = 10")
    v = audit.verify(store.engine)
    assert not v.ok and v.first_bad == 10 and v.records == 9 and "changed after it was written" in v.reason


def test_a_deleted_audit_record_is_found_and_named(url: str) -> None:
    store = _chain(url)
    _behind_the_guard(store, "DELETE FROM audit WHERE seq = 17")
    v = audit.verify(store.engine)
    assert not v.ok and v.first_bad == 17 and "missing" in v.reason


def test_a_record_rewritten_with_its_own_hash_recomputed_breaks_the_next_link(url: str) -> None:
    """Rewriting a record and recomputing its own hash (not those after it) breaks the next record's
    link. A tail rewritten with every hash after it recomputed does chain: the anchors find that
    (tests/storage/test_audit_anchors.py)."""
    store = _chain(url)
    with store.engine.connect() as conn:
        r = conn.execute(text("SELECT * FROM audit WHERE seq = 5")).mappings().one()
    forged = audit.record_hash(r["prev_hash"], 5, r["run_id"], Entry(r["kind"], r["ts_ns"], {"lots": "99"},
                                                                       r["signal_id"], r["order_id"], r["account_id"]))
    _behind_the_guard(store, f"UPDATE audit SET payload = '{{\"lots\": \"99\"}}', hash = '{forged}' WHERE seq = 5")
    v = audit.verify(store.engine)
    assert not v.ok and v.first_bad == 6 and "previous-hash" in v.reason


def test_octet_audit_verify_no_anchors_checks_the_chain_alone_and_names_the_record(url: str) -> None:
    store = _chain(url)
    cli = [sys.executable, "-m", "cluster.cli", "audit", "verify", "--url", url, "--no-anchors"]
    ok = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "intact: 30 records" in ok.stdout and "anchors not checked" in ok.stdout
    _behind_the_guard(store, "UPDATE audit SET ts_ns = ts_ns + 1 WHERE seq = 21")
    bad = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and "broken at record 21" in bad.stdout, bad.stdout + bad.stderr


def test_summaries_are_stored_as_strict_json() -> None:
    """A profit factor with no losing trade is infinite; strict JSON (PostgreSQL's) holds null."""
    import math
    from decimal import Decimal

    from cluster.storage.rows import json_safe

    assert json_safe({"pf": math.inf, "r": [Decimal("1.50"), -math.inf, math.nan, 2.5], "n": 1}) == \
        {"pf": None, "r": ["1.50", None, None, 2.5], "n": 1}


def test_a_run_started_through_the_api_is_never_running_without_who_started_it(url: str, settings) -> None:  # type: ignore[no-untyped-def]
    """The start record is written with the run's row, in one transaction: a session host that dies
    before the run's first batch still finds it (``interrupt_runs`` by host) and marks it
    interrupted; the session's own note of it, with its first batch, is not written twice."""
    from cluster.desk.record import BatchLog

    store = SessionStore(url)
    try:
        start = {"who": "k-admin", "reason": "test", "kind": "backtest", "host": "host-1"}
        store.begin_run("ba0000000001", settings, 1_000, start)  # the host dies here
        store.begin_run("ba0000000002", settings, 2_000, {**start, "host": "host-2"})
        lost = store.interrupt_runs({"host": "host-1"}, "the host's process ended")
        assert set(lost) == {"ba0000000001"} and lost["ba0000000001"]["who"] == "k-admin"
        with store.engine.connect() as conn:
            status = dict(conn.execute(text("SELECT run_id, status FROM runs")).all())
            assert status == {"ba0000000001": "interrupted", "ba0000000002": "running"}
        log = BatchLog()  # run 2 goes on: its first batch carries the session's note of the start
        log.notes.append(("operator", 2_000, {"action": "start", "run_id": "ba0000000002", "outcome": "started",
                                              **start, "host": "host-2"}))
        log.notes.append(("operator", 2_500, {"action": "halt", "run_id": "ba0000000002", "who": "k-admin"}))
        store.flush("ba0000000002", log.seal(1, 10, snapshots={}, headrooms={}))
        with store.engine.connect() as conn:
            trail = audit.audit
            ops = [r[0]["action"] for r in conn.execute(select(trail.c.payload).where(
                trail.c.run_id == "ba0000000002", trail.c.kind == "operator").order_by(trail.c.seq))]
        assert ops == ["start", "halt"], "the start once, from begin_run"
    finally:
        store.close()
