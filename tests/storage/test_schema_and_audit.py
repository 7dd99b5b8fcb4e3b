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
from sqlalchemy import create_engine, inspect, text
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
    assert migrate.current(engine) == migrate.head(engine) == "0005"
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
    assert migrate.current(engine) == "0005"


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
