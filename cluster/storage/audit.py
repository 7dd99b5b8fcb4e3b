"""The audit trail: append-only records, each chained to the previous one by a SHA-256 hash.

A record's hash covers its sequence number, its fields and its payload (canonical JSON), and the
previous record's hash. Records are written in the same transaction as the rows they describe,
under a lock that keeps the chain single-file (an advisory lock on PostgreSQL; SQLite has one
writer). The database refuses updates and deletes (triggers from the first migration); ``verify``
still recomputes the whole chain, so a row changed behind those triggers is found, by number.
A deleted tail, or a tail rewritten with every hash after it recomputed, still chains: the heads
signed outside the database (``cluster.storage.anchors``) find those.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text

from cluster.storage.models import AuditRow
from cluster.storage.reads import reading

GENESIS = "0" * 64
CHAIN_LOCK = 0x6F63746574  # "octet": the advisory lock that serialises appends on PostgreSQL
audit = AuditRow.__table__


@dataclass(frozen=True, slots=True)
class Entry:
    """One record to append: what happened (``kind``), to what, and its content."""

    kind: str
    ts_ns: int
    payload: dict[str, Any]
    signal_id: str | None = None
    order_id: str | None = None
    account_id: str | None = None


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(prev_hash: str, seq: int, run_id: str, e: Entry) -> str:
    body = canonical([seq, run_id, e.kind, e.ts_ns, e.signal_id, e.order_id, e.account_id, e.payload])
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Appended:
    """The chain's head after an append (``seq``, ``hash``) and the records it appended (as rows)."""

    seq: int
    hash: str
    rows: list[dict[str, Any]]


def append(conn: Connection, run_id: str, entries: list[Entry]) -> int:
    """Append ``entries`` in the caller's transaction; returns the last sequence number."""
    return write(conn, run_id, entries).seq


def write(conn: Connection, run_id: str, entries: list[Entry]) -> Appended:
    """Append ``entries`` in the caller's transaction; returns the new head and the rows written."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
    head = conn.execute(select(audit.c.seq, audit.c.hash).order_by(audit.c.seq.desc()).limit(1)).first()
    seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
    if not entries:
        return Appended(seq, prev, [])
    rows: list[dict[str, Any]] = []
    for e in entries:
        seq += 1
        h = record_hash(prev, seq, run_id, e)
        rows.append(dict(seq=seq, run_id=run_id, kind=e.kind, ts_ns=e.ts_ns, signal_id=e.signal_id,
                         order_id=e.order_id, account_id=e.account_id, payload=e.payload, prev_hash=prev, hash=h))
        prev = h
    conn.execute(insert(audit), rows)
    return Appended(seq, prev, rows)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    records: int
    first_bad: int | None = None
    reason: str = ""
    found: dict[int, str] = field(default_factory=dict, compare=False, repr=False)  # hashes of watched records


def _rows(engine: Engine, chunk: int = 20_000) -> Iterator[Any]:
    """Every record in order, read in one transaction that holds no write lock (a walk of a long chain never holds
    up the desk's writes)."""
    last = 0
    with reading(engine).connect() as conn:
        while True:
            batch = conn.execute(select(audit).where(audit.c.seq > last).order_by(audit.c.seq).limit(chunk)).all()
            if not batch:
                return
            yield from batch
            last = int(batch[-1].seq)


def verify(engine: Engine, watch: Collection[int] = ()) -> Verdict:
    """Walk the chain from the first record; the verdict names the first record that does not hold.

    The chain alone cannot show a deleted tail or a tail rewritten with its hashes recomputed: that
    takes the anchors (``cluster.storage.anchors.check``). The hashes of the records in ``watch``
    that hold are returned in ``found``."""
    prev, expected, n = GENESIS, 1, 0
    found: dict[int, str] = {}
    for r in _rows(engine):
        if r.seq != expected:
            return Verdict(False, n, expected, f"record {expected} is missing (next is {r.seq})", found)
        if r.prev_hash != prev:
            return Verdict(False, n, r.seq, "its previous-hash does not match the record before it", found)
        e = Entry(r.kind, r.ts_ns, r.payload, r.signal_id, r.order_id, r.account_id)
        if record_hash(prev, r.seq, r.run_id, e) != r.hash:
            return Verdict(False, n, r.seq, "its content does not match its hash (changed after it was written)",
                           found)
        if r.seq in watch:
            found[r.seq] = r.hash
        prev, expected, n = r.hash, expected + 1, n + 1
    return Verdict(True, n, found=found)


def runs_of_order(engine: Engine, order_id: str) -> list[str]:
    """The runs that hold audit records of ``order_id``, by when each placed it (its first record there), the
    latest last (client order ids are deterministic: the same data run again places the same ids)."""
    with reading(engine).connect() as conn:
        rows = conn.execute(select(audit.c.run_id, func.min(audit.c.seq).label("first"))
                            .where(audit.c.order_id == order_id).group_by(audit.c.run_id)).all()
    return [r.run_id for r in sorted(rows, key=lambda r: r.first)]  # by when each run placed it


def story(engine: Engine, order_id: str, run_id: str | None = None) -> list[Any]:
    """Every audit record of one order in one run (by default the latest that holds it), from the signal
    behind it to its last fill, in order."""
    if run_id is None:
        runs = runs_of_order(engine, order_id)
        if not runs:
            return []
        run_id = runs[-1]
    with reading(engine).connect() as conn:
        mine = conn.execute(select(audit).where(audit.c.order_id == order_id, audit.c.run_id == run_id)
                            .order_by(audit.c.seq)).all()
        if not mine:
            return []
        signal_id, account_id = mine[0].signal_id, mine[0].account_id
        before = conn.execute(select(audit).where(audit.c.signal_id == signal_id, audit.c.run_id == run_id,
                                                  audit.c.order_id.is_(None),
                                                  (audit.c.account_id == account_id) | audit.c.account_id.is_(None))
                              .order_by(audit.c.seq)).all()
    return sorted([*before, *mine], key=lambda r: r.seq)
