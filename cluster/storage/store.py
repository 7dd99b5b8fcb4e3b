"""The session's writer and the read side of its records.

``SessionStore.flush`` appends, in one transaction per batch, everything the batch produced (its
record: any object with the fields of ``BatchFacts``): signals with their evidence, every saga
decision, orders, execution reports and fills, closed trades, equity and headroom per account,
breaker events, the open positions (replaced), and one audit record per fact, chained. When
``flush`` returns, the batch is durable: that is the acknowledgement (the counts of each kind made
durable so far). A writer killed before it returns leaves nothing of that batch, so a record is
never half-written and the chain never broken. After the commit, the chain's new head is signed
and appended to the anchor log (``anchors``, outside the database) and the batch's audit records
are handed to ``audit_sink`` (the session's Kafka publisher, when there is one). Queries (the API,
``octet audit``) read the tables through their own connections and never hold the writer.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, Table, create_engine, delete, event, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cluster.storage import audit, migrate
from cluster.storage import models as m
from cluster.storage.anchors import AnchorLog
from cluster.storage.audit import Appended, Entry
from cluster.storage.reads import READ_ONLY, reading
from cluster.storage.rows import (
    breaker_row,
    decision_row,
    equity_row,
    fill_row,
    headroom_row,
    json_safe,
    jsonable,
    order_row,
    position_rows,
    report_row,
    stored,
    stored_signal_row,
    trade_row,
)
from trading.breaker import BreakerEvent
from trading.compliance import Headroom
from trading.ledger import AccountSnapshot, ClosedTrade, done_orders
from trading.orders import ExecutionReport, Order, Signal
from trading.performance import PerformanceSummary

if TYPE_CHECKING:
    from cluster.config.settings import Settings

log = logging.getLogger("octet.storage")
# What the sink is given after each commit: the audit records appended, and their signed anchor
# (None when the store has no anchor log or the anchor could not be written).
AuditSink = Callable[[list[dict[str, Any]], dict[str, Any] | None], None]

RECORDS: dict[str, Table] = {
    "signals": m.SignalRow.__table__, "decisions": m.DecisionRow.__table__, "orders": m.OrderRow.__table__,
    "execution_reports": m.ReportRow.__table__, "fills": m.FillRow.__table__, "trades": m.TradeRow.__table__,
    "headroom": m.HeadroomRow.__table__, "breaker_events": m.BreakerEventRow.__table__,
    "equity_snapshots": m.EquityRow.__table__, "positions": m.PositionRow.__table__,
}


def _private_sqlite(url: str) -> None:
    """A SQLite file named by ``url`` that is not there yet is made 0600 before SQLite makes it with
    the umask's mode (its WAL and shared-memory files take the file's): the records are the desk's
    books, its owner's only, whichever command first opens them. A missing directory is left for
    SQLite to refuse, as before."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:") or \
            str(parsed.query.get("uri", "")).lower() in ("true", "1", "yes", "on"):  # a URI names its file itself
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError, NotADirectoryError):
        pass


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite(url)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # pysqlite's own BEGIN skips DDL: SQLAlchemy begins instead
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cur.execute("PRAGMA synchronous=FULL")  # a returned commit survives a crash
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            # a writer takes the write lock at once (a deferred one that read first could not take it later); a
            # reader's transaction (``reading``) takes none: in WAL it never holds up the desk's writes, however long
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)


def _upsert(engine: Engine, table: Table, keys: list[str]) -> Any:
    ins = postgresql.insert(table) if engine.dialect.name == "postgresql" else sqlite.insert(table)
    return lambda rows: ins.values(rows).on_conflict_do_update(
        index_elements=keys, set_={c.name: ins.excluded[c.name] for c in table.columns if c.name not in keys})


class DecisionFacts(Protocol):
    """A saga decision, as the store reads it (``cluster.desk.saga.Decision``)."""

    @property
    def signal_id(self) -> str: ...
    @property
    def account_id(self) -> str: ...


class BatchFacts(Protocol):
    """What the store reads of a batch's record (``cluster.desk.record.BatchRecord``)."""

    @property
    def signals(self) -> Sequence[Signal]: ...
    @property
    def decisions(self) -> Sequence[DecisionFacts]: ...
    @property
    def orders(self) -> Sequence[Order]: ...
    @property
    def reports(self) -> Sequence[ExecutionReport]: ...
    @property
    def trades(self) -> Sequence[ClosedTrade]: ...
    @property
    def headroom(self) -> Sequence[Headroom]: ...
    @property
    def breaker_events(self) -> Sequence[BreakerEvent]: ...
    @property
    def snapshots(self) -> Mapping[str, AccountSnapshot]: ...
    @property
    def equity(self) -> Sequence[AccountSnapshot]: ...  # accounts inside the batch, in time order
    @property
    def notes(self) -> Sequence[tuple[str, int, Mapping[str, Any]]]: ...  # (kind, ts_ns, payload)
    @property
    def batch(self) -> int: ...


@dataclass(frozen=True)
class RunEnd:
    """What the run's end records besides its last batch."""

    ticks: int
    batches: int
    elapsed_s: float
    summaries: Mapping[str, PerformanceSummary]


class StoreError(RuntimeError):
    """The database cannot be used as it is; the message says why and what to do."""


def _check_legacy(engine: Engine) -> None:
    from sqlalchemy import inspect

    names = set(inspect(engine).get_table_names())
    if "runs" in names and "alembic_version" not in names:
        raise StoreError(f"{engine.url.render_as_string(hide_password=True)} holds tables from before schema "
                         "migrations (Octet 0.1 spine); move that database aside or drop its tables")


class SessionStore:
    """Writes sessions to one database (its schema migrated to the newest revision at open)."""

    def __init__(self, url: str, *, upgrade: bool = True, anchors: AnchorLog | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        if upgrade:  # looked at through a reading engine: a store at the newest revision is only read (on SQLite a
            # command that reads beside a running desk must not wait on the write lock just to open it)
            looking = reading(self.engine)
            _check_legacy(looking)
            now, newest = migrate.current(looking), migrate.head(self.engine)
            if now is not None and now != newest and not migrate.known(now):
                raise StoreError(f"its schema is at revision {now}, which this Octet does not know "
                                 f"(its newest is {newest}): a newer Octet wrote it; run that one")
            if now != newest:
                migrate.upgrade(self.engine)
        self.anchors = anchors            # where the chain's head is signed after every commit
        self.audit_sink: AuditSink | None = None
        self.anchor_errors = 0
        self._chain_id: str | None = None
        self._appended: Appended | None = None
        self.written: dict[str, int] = {}  # of each kind, what this store has committed (the acknowledgement)
        self._started: dict[str, dict[str, Any]] = {}  # run -> the start record begin_run wrote (not written again)
        self.acked: dict[str, int] = {}
        self._last_signal_ns = 0  # the latest signal's time: the run_end record's
        self._order_signal: dict[str, str] = {}  # orders a report may still concern -> their signal
        self._equity_last: dict[str, dict[str, Any]] = {}

    @staticmethod
    def sqlite(data_dir: Path) -> SessionStore:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        return SessionStore(f"sqlite:///{data_dir / 'octet.db'}")

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        if self.anchors is not None:
            self.anchors.close()
        self.engine.dispose()

    def _committed(self, run_id: str, appended: Appended) -> None:
        """After a commit: sign the chain's new head into the anchor log (one HMAC, one fsynced
        line), then hand the records and their anchor to the sink. A failed anchor write is logged
        and counted: the batch is durable, and the next anchor covers its records too."""
        if not appended.rows:
            return
        anchor = None
        if self.anchors is not None:
            try:
                anchor = self.anchors.write(appended.seq, appended.hash, self._chain(appended), run_id)
            except OSError as exc:
                self.anchor_errors += 1
                log.error("audit records up to %d are committed but not anchored in %s: %s", appended.seq,
                          self.anchors.path, exc)
        if self.audit_sink is not None:
            self.audit_sink(appended.rows, anchor)

    def _chain(self, appended: Appended) -> str:
        """The chain's name: the hash of its record 1."""
        if self._chain_id is None:
            if appended.rows[0]["seq"] == 1:
                self._chain_id = str(appended.rows[0]["hash"])
            else:
                with self.engine.connect() as conn:
                    self._chain_id = str(conn.execute(select(audit.audit.c.hash).where(audit.audit.c.seq == 1))
                                         .scalar())
        return self._chain_id

    # -- writing ------------------------------------------------------------------------------
    def begin_run(self, run_id: str, settings: Settings, started_ns: int,
                  start: Mapping[str, Any] | None = None) -> None:
        """The run, its accounts and instruments (upserted: the latest settings win); with ``start``,
        who started it (an operator record), in the same transaction: a run is never ``running``
        without it, so a host that dies at once still finds the runs it started (``interrupt_runs``)."""
        accounts = [dict(account_id=a.id, firm=a.firm, currency=a.currency, initial_balance=a.balance,
                         owner=a.owner, profile=a.profile) for a in settings.accounts]
        instruments = [dict(symbol=i.symbol, base=i.base, quote=i.quote, price_precision=i.price_precision,
                            pip_size=i.pip_size, contract_size=i.contract_size) for i in settings.instruments]
        with self.engine.begin() as conn:
            conn.execute(_upsert(self.engine, m.Account.__table__, ["account_id"])(accounts))
            conn.execute(_upsert(self.engine, m.InstrumentRow.__table__, ["symbol"])(instruments))
            conn.execute(insert(m.Run.__table__), [dict(run_id=run_id, started_ns=started_ns, status="running",
                                                        settings=json.loads(settings.model_dump_json()),
                                                        recorded_ns=time.time_ns())])
            entries = [Entry("run", started_ns, {"run_id": run_id, "accounts": len(accounts),
                                                 "instruments": len(instruments)})]
            record = start_record(run_id, start) if start is not None else None
            if record is not None:
                entries.append(Entry("operator", started_ns, record))
            appended = audit.write(conn, run_id, entries)
        self._committed(run_id, appended)
        if record is not None:  # the session's own note of it, with its first batch, is not written again
            self._started[run_id] = record

    def resume_run(self, run_id: str) -> int:
        """A desk resuming run ``run_id``: the run is running again, and the store's counts and the
        order -> signal links of its audit records continue from what is durable. Returns the last
        batch durable (a resumed desk replaying that batch does not write it again)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(m.Run.__table__.c.batches).where(m.Run.run_id == run_id)).first()
            if row is None:
                raise StoreError(f"run {run_id} is not in the store at {self.where}: it cannot be resumed")
            conn.execute(update(m.Run.__table__).where(m.Run.run_id == run_id).values(status="running"))
            for name, table in (("signals", RECORDS["signals"]), ("decisions", RECORDS["decisions"]),
                                ("orders", RECORDS["orders"]), ("reports", RECORDS["execution_reports"]),
                                ("trades", RECORDS["trades"]), ("headroom", RECORDS["headroom"]),
                                ("breaker", RECORDS["breaker_events"])):
                self.written[name] = int(conn.execute(select(func.count()).select_from(table)
                                                      .where(table.c.run_id == run_id)).scalar() or 0)
            orders = RECORDS["orders"]
            self._order_signal = {str(c): str(s) for c, s in conn.execute(
                select(orders.c.client_order_id, orders.c.signal_id).where(orders.c.run_id == run_id))}
        return int(row[0] or 0)

    def interrupt_runs(self, started_by: Mapping[str, Any], reason: str, prefixes: Sequence[str] = ("ba", "re"),
                       who: str = "octet-sessions") -> dict[str, dict[str, Any]]:
        """Runs still ``running`` whose first operator record (their start) holds every item of
        ``started_by`` are marked ``interrupted``, each with an operator record saying why, in one
        transaction a run (for runs whose process ended with no record of it). Only runs whose id
        starts with one of ``prefixes`` are looked at (the API's sessions). Returns their start
        records by run id, with the run's ``recorded_ns`` (when it began, by the wall clock)."""
        if not started_by:
            raise ValueError("interrupt_runs needs whose runs (started_by): it would settle everyone's")
        runs = m.Run.__table__
        trail = audit.audit
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            running = {str(r.run_id): r.recorded_ns for r in conn.execute(
                select(runs.c.run_id, runs.c.recorded_ns).where(
                    runs.c.status == "running", or_(*(runs.c.run_id.startswith(p) for p in prefixes))))}
            for run_id, recorded_ns in running.items():
                first = conn.execute(select(trail.c.payload).where(trail.c.run_id == run_id, trail.c.kind == "operator")
                                     .order_by(trail.c.seq).limit(1)).first()
                start = dict(first[0]) if first is not None else {}
                if start.get("action") == "start" and all(start.get(k) == v for k, v in started_by.items()):
                    out[run_id] = {**start, "recorded_ns": recorded_ns}
        for run_id in list(out):
            with self.engine.begin() as conn:
                changed = conn.execute(update(runs).where(runs.c.run_id == run_id, runs.c.status == "running")
                                       .values(status="interrupted")).rowcount
                if not changed:  # it ended meanwhile: nothing to say
                    del out[run_id]
                    continue
                appended = audit.write(conn, run_id, [Entry("operator", time.time_ns(), {  # the wall clock
                    "action": "interrupted", "run_id": run_id, "who": who, "outcome": "interrupted",
                    "reason": reason})])
            self._committed(run_id, appended)
        return out

    def append_audit(self, run_id: str, entries: list[Entry]) -> Appended:
        """Audit records of their own (not a batch's facts), in one transaction, anchored like a batch."""
        with self.engine.begin() as conn:
            appended = audit.write(conn, run_id, entries)
        self._committed(run_id, appended)
        return appended

    def flush(self, run_id: str, r: BatchFacts, end: RunEnd | None = None) -> dict[str, int]:
        """Append batch record ``r`` (and with ``end``, the run's end) in one transaction; returns
        the counts now durable (the acknowledgement). If it raises, nothing of ``r`` was written."""
        self._appended = None
        acked = self._flush(run_id, r, end)
        if self._appended is not None:  # committed: anchored outside the transaction
            self._committed(run_id, self._appended)
        if end is not None:
            self._started.pop(run_id, None)
        return acked

    def _flush(self, run_id: str, r: BatchFacts, end: RunEnd | None) -> dict[str, int]:
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in RECORDS}
        entries: list[Entry] = []
        signal_ts = {s.signal_id: s.ts_ns for s in r.signals}  # a batch's decisions are on its own signals
        order_signal = {**self._order_signal, **{o.client_order_id: o.signal_id for o in r.orders}}
        contexts = getattr(r, "contexts", {})  # what the desk knew at each signal (a record may have none)
        for s in r.signals:
            row = stored_signal_row(s, contexts)
            rows["signals"].append(row)
            entries.append(Entry("signal", s.ts_ns, jsonable(row), s.signal_id))
        for d in r.decisions:
            row = decision_row(d)
            rows["decisions"].append(row)
            entries.append(Entry("decision", signal_ts.get(d.signal_id, 0), jsonable(row), d.signal_id,
                                 None, d.account_id))
        for o in r.orders:
            row = order_row(o)
            rows["orders"].append(row)
            entries.append(Entry("order", o.not_before_ns, jsonable(row), o.signal_id, o.client_order_id,
                                 o.account_id))
        for x in r.reports:
            row = report_row(x)
            rows["execution_reports"].append(row)
            payload = jsonable(row)
            if x.fill is not None:
                fill = fill_row(x)
                rows["fills"].append(fill)
                payload["fill"] = jsonable(fill)
            entries.append(Entry("report", x.ts_ns, payload, order_signal.get(x.client_order_id),
                                 x.client_order_id, x.account_id))
        for t in r.trades:
            row = trade_row(t)
            rows["trades"].append(row)
            entries.append(Entry("trade", t.closed_ns, jsonable(row), t.signal_id, t.position_id, t.account_id))
        rows["headroom"] = [headroom_row(h) for h in r.headroom]
        for e in r.breaker_events:
            row = breaker_row(e)
            rows["breaker_events"].append(row)
            entries.append(Entry("breaker", e.ts_ns, jsonable(row), None, None,
                                 e.scope if e.tier.value == "account" else None))
        for kind, ts_ns, note in r.notes:  # an operator's control, a reconciliation, a desk's stop or resume
            if kind == "operator" and self._started.get(run_id) == dict(note):
                continue  # written with the run's row (begin_run)
            entries.append(Entry(kind, ts_ns, jsonable(dict(note)), None, None, note.get("account_id") or None))
        snapshots = r.snapshots
        last = dict(self._equity_last)
        for snap in (*r.equity, *(s for _, s in sorted(snapshots.items()))):  # in time order, the batch's end last
            row = equity_row(snap)
            if last.get(snap.account_id) != row:  # an account that did not move is not written again
                rows["equity_snapshots"].append(row)
                last[snap.account_id] = row
        for _, snap in sorted(snapshots.items()):
            rows["positions"].extend(position_rows(snap))
        written = dict(self.written)
        for name, n in (("signals", len(r.signals)), ("decisions", len(r.decisions)), ("orders", len(r.orders)),
                        ("reports", len(r.reports)), ("trades", len(r.trades)), ("headroom", len(r.headroom)),
                        ("breaker", len(r.breaker_events))):
            written[name] = written.get(name, 0) + n
        last_signal_ns = max([self._last_signal_ns, *signal_ts.values()])
        with self.engine.begin() as conn:
            for name, batch in rows.items():
                if name == "positions":
                    if snapshots:  # a read model: the open positions as of this flush
                        conn.execute(delete(RECORDS[name]).where(RECORDS[name].c.run_id == run_id))
                    else:
                        continue
                if batch:
                    conn.execute(insert(RECORDS[name]), [dict(run_id=run_id, **row) for row in batch])
            if end is None:  # how far the run is durable: a resumed desk does not write a batch twice
                conn.execute(update(m.Run.__table__).where(m.Run.run_id == run_id).values(batches=r.batch))
            else:
                summary = {a: json_safe(asdict(s)) for a, s in end.summaries.items()}
                entries.append(Entry("run_end", last_signal_ns,
                                     {"run_id": run_id, "ticks": end.ticks, "orders": written.get("orders", 0),
                                      "trades": written.get("trades", 0)}))
                conn.execute(update(m.Run.__table__).where(m.Run.run_id == run_id)
                             .values(status="done", ticks=end.ticks, batches=end.batches, elapsed_s=end.elapsed_s,
                                     summary=summary))
            self._appended = audit.write(conn, run_id, entries)
        # committed: only now does the store's own state move on
        last_seq = self._appended.seq
        for row in rows["equity_snapshots"]:
            self._equity_last[row["account_id"]] = row
        for coid in done_orders(r.reports, snapshots):
            order_signal.pop(coid, None)
        self._order_signal = order_signal
        self._last_signal_ns = last_signal_ns
        self.written = written
        self.acked = {**written, "audit_seq": last_seq}
        return self.acked

    # -- reading ------------------------------------------------------------------------------
    def read_run(self, run_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every record of a run, table by table, in the order written (without keys of our own)."""
        out: dict[str, list[dict[str, Any]]] = {}
        with reading(self.engine).connect() as conn:
            for name, table in RECORDS.items():
                order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
                rows = conn.execute(select(table).where(table.c.run_id == run_id).order_by(*order)).mappings().all()
                out[name] = [stored(row) for row in rows]
        return out

    def runs(self) -> list[dict[str, Any]]:
        with reading(self.engine).connect() as conn:
            t = m.Run.__table__
            return [dict(r) for r in conn.execute(select(t.c.run_id, t.c.status, t.c.started_ns, t.c.ticks,
                                                         t.c.elapsed_s).order_by(t.c.started_ns)).mappings()]


def store_url(settings: Settings) -> str:
    """The database the settings name: ``storage.url``, or the local PostgreSQL, or SQLite."""
    s = settings.storage
    if settings.runtime.store == "sqlite":
        path = Path(settings.runtime.data_dir) / "octet.db"
        if not path.exists():  # the records are the desk's books: its owner's only (SQLite keeps the mode)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        return f"sqlite:///{path}"
    if s.url is None:  # the command line starts a local one (cluster.cli.common.with_local_servers)
        raise StoreError("runtime.store is postgres and storage.url is not set: name the database in "
                         "storage.url (OCTET_STORAGE__URL), or start through `octet run`, which starts a local "
                         "PostgreSQL under data_dir/postgres")
    return s.url.get_secret_value()


def start_record(run_id: str, requested: Mapping[str, Any]) -> dict[str, Any]:
    """A session started through the API, as its operator record: who asked, and for what."""
    return {"action": "start", "run_id": run_id, "outcome": "started", **requested}


def open_store(settings: Settings) -> SessionStore:
    """The settings' store, migrated, with its anchor log (``AuditKeyError`` when the key cannot be
    used). An embedded SQLite file from before migrations is moved aside (kept, renamed with a
    ``.pre-migrations`` suffix) and a new one is started."""
    store = _open_store(settings)
    try:
        store.anchors = AnchorLog.for_settings(settings)
    except BaseException:
        store.close()
        raise
    return store


def _open_store(settings: Settings) -> SessionStore:
    data_dir = Path(settings.runtime.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    url = store_url(settings)
    try:
        return SessionStore(url)
    except StoreError:
        if settings.runtime.store != "sqlite":
            raise
        old = data_dir / "octet.db"
        aside = old.with_suffix(".db.pre-migrations")
        old.rename(aside)
        log.warning("moved %s (schema before migrations) to %s", old, aside)
        return SessionStore(url)
