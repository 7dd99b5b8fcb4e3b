"""Storage benchmark: ticks and fills persisted to a real PostgreSQL, batched, as the desk writes them.

* ticks/s: replay ticks written through ``TimeSeries.write_ticks`` (COPY into day partitions) in
  batches of 2,000 (the session's batch size) and of 20,000;
* fills/s: execution reports with their fills, their orders and one audit record per report,
  hash-chained, written through ``SessionStore.flush`` (the session's own writer) in batches of
  100 and 1,000 reports, one transaction each.

The same runs against the embedded SQLite file give the ratio PostgreSQL/SQLite. A local PostgreSQL
is started under a temporary directory. Prints its figures and writes bench/results/storage.json;
it never fails on a time.

The floors, in the same run and on the same PostgreSQL, alternated with the store's runs (five
rounds of store, COPY, INSERT, each on a fifth of the rows): the same rows written with raw psycopg 3 into plain tables of the same columns and indexes (no
partitions), in the same batches, one transaction each, once with ``cursor.copy`` (``write_row``)
and once with ``executemany`` INSERT. For ticks the rows are the same ticks' (symbol, ts_ns, bid,
ask); for fills they are the rows the store wrote for them (orders, execution reports, fills and
audit records, read back from its tables). The rows are Python tuples before the clock starts, so
a floor is the database's cost alone; ``ratio_to_raw_copy`` and ``ratio_to_raw_insert`` = the
store's rate over the floor's (below 1: the store is slower than the floor).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402

TICKS = 1_000_000
FILLS = 40_000
ROUNDS = 5  # PostgreSQL's runs and their floors alternate in rounds of a fifth of the rows each


def bench_ticks(url: str, ticks: Any, registry: Any, batch: int) -> float:
    """Seconds to write ``ticks`` through ``TimeSeries.write_ticks`` in batches of ``batch``."""
    from cluster.storage.store import SessionStore
    from cluster.storage.timeseries import TimeSeries

    store = SessionStore(url)
    series = TimeSeries(store.engine, registry)
    started = time.perf_counter()
    for i in range(0, len(ticks), batch):
        series.write_ticks(ticks.take(slice(i, i + batch)))
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def bench_fills(url: str, batch: int, run_id: str, first: int = 0, count: int = FILLS) -> float:
    """Seconds to flush reports ``first`` to ``first + count`` of run ``run_id`` (with their fills,
    an order for every other one, and their audit records) in batches of ``batch`` reports."""
    from cluster.desk.record import BatchLog
    from cluster.storage.store import SessionStore
    from trading.orders import CloseReason, ExecutionReport, Fill, FillKind, Order, OrderStatus, OrderType, Side

    store = SessionStore(url)
    result = BatchLog()  # the batch's orders and reports, sealed into a record at each flush
    t0 = 1_772_409_600 * 10**9
    started = time.perf_counter()
    for i in range(first, first + count):
        coid = f"{run_id}-{i}"
        side = Side.BUY
        price = Decimal("1.08500") + Decimal(i % 50) / 100_000
        if i % 2 == 0:  # an order for every other report: opens and their closes
            result.orders.append(Order(coid, "acc", "EURUSD", side, Decimal("1.25"), OrderType.MARKET,
                                       price - Decimal("0.00200"), price + Decimal("0.00400"), f"sig-{i}", price, 15,
                                       t0 + i, t0 + i + 10**9))
        fill = Fill(coid, "acc", "EURUSD", side, Decimal("1.25"), price, t0 + i, FillKind.OPEN if i % 2 == 0
                    else FillKind.CLOSE, CloseReason.ENTRY if i % 2 == 0 else CloseReason.TAKE_PROFIT,
                    Decimal("4.38"), Decimal("0") if i % 2 == 0 else Decimal("125.00"))
        result.reports.append(ExecutionReport(coid, "acc", OrderStatus.FILLED, t0 + i, "", fill))
        if (i + 1) % batch == 0:
            store.flush(run_id, result.seal((i + 1) // batch, 0, snapshots={}, headrooms={}))
            result = BatchLog()
    if result.reports:  # a last, partial batch
        store.flush(run_id, result.seal((first + count) // batch + 1, 0, snapshots={}, headrooms={}))
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


# The store's record tables a fill's rows go to, in the order the store writes them, with the
# columns it writes (their ``id`` comes from the table's default, as in the store).
FILL_TABLES = {
    "orders": ("run_id", "client_order_id", "account_id", "symbol", "side", "lots", "order_type", "stop_loss",
               "take_profit", "limit_price", "reference_price", "signal_id", "profile", "seed", "leg",
               "not_before_ns", "expires_ns", "min_hold_ns", "max_slippage_points"),
    "execution_reports": ("run_id", "client_order_id", "account_id", "status", "ts_ns", "reason"),
    "fills": ("run_id", "client_order_id", "account_id", "symbol", "side", "lots", "price", "ts_ns", "kind",
              "reason", "commission", "realized_pnl"),
    "audit": ("seq", "run_id", "kind", "ts_ns", "signal_id", "order_id", "account_id", "payload", "prev_hash",
              "hash"),
}
RawBatches = list[list[tuple[str, list[tuple[Any, ...]]]]]  # per transaction: (table, its rows)


def raw_connect(url: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    return psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                           autocommit=True)


def raw_tables(conn: Any) -> None:
    """Plain tables like the store's: ticks with its columns and indexes but no partitions, and the
    record tables with their columns, defaults, keys and indexes (``LIKE ... INCLUDING ALL``)."""
    for how in ("copy", "insert"):
        conn.execute(f"CREATE TABLE raw_{how}_ticks (LIKE ticks)")  # its columns, not its partitioning
        conn.execute(f"CREATE INDEX ON raw_{how}_ticks (symbol, ts_ns)")
        conn.execute(f"CREATE INDEX ON raw_{how}_ticks USING brin (ts_ns)")
        for table in FILL_TABLES:
            conn.execute(f"CREATE TABLE raw_{how}_{table} (LIKE {table} INCLUDING ALL)")


def raw_write(conn: Any, how: str, batches: RawBatches, columns: dict[str, tuple[str, ...]]) -> float:
    """Seconds to write ``batches`` into the ``raw_{how}_*`` tables, one transaction per batch."""
    cur = conn.cursor()
    started = time.perf_counter()
    for batch in batches:
        with conn.transaction():
            for table, rows in batch:
                cols = columns[table]
                if how == "copy":
                    with cur.copy(f"COPY raw_copy_{table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    cur.executemany(f"INSERT INTO raw_insert_{table} ({', '.join(cols)}) "
                                    f"VALUES ({', '.join(['%s'] * len(cols))})", rows)
    return time.perf_counter() - started


def tick_rows(ticks: Any, registry: Any, batch: int) -> RawBatches:
    symbols = registry.symbols
    out: RawBatches = []
    for i in range(0, len(ticks), batch):
        part = ticks.take(slice(i, i + batch))
        rows = list(zip([symbols[k] for k in part.inst.tolist()], part.ts.tolist(), part.bid.tolist(),
                        part.ask.tolist(), strict=True))
        out.append([("ticks", rows)])
    return out


def fill_rows(conn: Any, run_id: str, batch: int, first: int, count: int) -> RawBatches:
    """The rows the store wrote for reports ``first`` to ``first + count`` of run ``run_id``,
    grouped as its flushes were (report ``i`` is in flush ``i // batch``; its client order id, and
    its audit records' order id, end in ``-i``)."""
    out: dict[int, dict[str, list[tuple[Any, ...]]]] = {
        k: {t: [] for t in FILL_TABLES} for k in range(first // batch, (first + count) // batch)}
    for table, cols in FILL_TABLES.items():
        key, order = {"audit": ("order_id", "seq"), "orders": ("client_order_id", "not_before_ns")}.get(
            table, ("client_order_id", "id"))
        select = ", ".join("payload::text" if c == "payload" else c for c in cols)
        rows = conn.execute(f"SELECT {select} FROM {table} WHERE run_id = %s ORDER BY {order}", (run_id,)).fetchall()
        at = cols.index(key)
        for row in rows:
            if row[at] is None:
                raise RuntimeError(f"bench: a {table} row of {run_id} names no order; the grouping needs one")
            i = int(row[at].rsplit("-", 1)[1])
            if first <= i < first + count:
                out[i // batch][table].append(tuple(row))
    if not any(b["fills"] for b in out.values()):
        raise RuntimeError(f"bench: the store wrote no fills for {run_id} {first}..{first + count}")
    return [[(t, b[t]) for t in FILL_TABLES if b[t]] for _, b in sorted(out.items())]


def main() -> None:
    from cluster.adapters.feeds.replay import generate_ticks
    from cluster.config.settings import load_settings
    from cluster.devservers.services import LocalPostgres
    from cluster.storage.store import SessionStore

    settings = load_settings(ROOT / "octet.yaml")
    registry = settings.registry()
    ticks, _ = generate_ticks(registry, settings.generator_profiles(), TICKS, 11, settings.session.start)
    base = Path(tempfile.mkdtemp(prefix="octet-bench-pg-"))
    tmp = Path(tempfile.mkdtemp(prefix="octet-bench-sqlite-"))
    pg = LocalPostgres(base)
    try:
        pg_url = pg.start()
        out: dict[str, Any] = {"benchmark": "storage", "machine": machine(), "ticks": TICKS, "fills": FILLS}
        figures: dict[str, dict[str, float]] = {"postgresql": {}, "sqlite": {}}
        floors: dict[str, dict[str, float]] = {}  # PostgreSQL's figures next to their floors
        SessionStore(pg_url).close()  # the migration makes the tables the raw ones are like
        raw = raw_connect(pg_url)
        raw_tables(raw)
        tick_cols: dict[str, tuple[str, ...]] = {"ticks": ("symbol", "ts_ns", "bid", "ask")}

        def report(key: str, what: str, count: int, store_s: float, copy_s: float, insert_s: float) -> None:
            store, copy, ins = count / store_s, count / copy_s, count / insert_s
            figures["postgresql"][key] = round(store)
            floors[key] = {"store": round(store), "raw_copy": round(copy), "raw_insert": round(ins),
                           "ratio_to_raw_copy": round(store / copy, 3), "ratio_to_raw_insert": round(store / ins, 3)}
            print(f"{'postgresql':10s} {what}: {store:>12,.0f}/s; floors: raw COPY {copy:,.0f}/s (store "
                  f"x{store / copy:.3f}), raw executemany INSERT {ins:,.0f}/s (store x{store / ins:.3f})", flush=True)

        # PostgreSQL: the store and its floors in ROUNDS rounds (store, raw COPY, raw INSERT, each on
        # the round's share of the rows), so that the day's drift touches all three alike
        share = TICKS // ROUNDS
        for batch in (2_000, 20_000):
            rows = tick_rows(ticks, registry, batch)
            per = share // batch
            spent = [0.0, 0.0, 0.0]
            for r in range(ROUNDS):
                spent[0] += bench_ticks(pg_url, ticks.take(slice(r * share, (r + 1) * share)), registry, batch)
                spent[1] += raw_write(raw, "copy", rows[r * per:(r + 1) * per], tick_cols)
                spent[2] += raw_write(raw, "insert", rows[r * per:(r + 1) * per], tick_cols)
            report(f"ticks_per_s_batch_{batch}", f"ticks, batches of {batch:>6,}", TICKS, *spent)
        share = FILLS // ROUNDS
        for batch in (100, 1_000):
            spent = [0.0, 0.0, 0.0]
            for r in range(ROUNDS):
                spent[0] += bench_fills(pg_url, batch, f"fills{batch}", r * share, share)
                rows = fill_rows(raw, f"fills{batch}", batch, r * share, share)
                spent[1] += raw_write(raw, "copy", rows, FILL_TABLES)
                spent[2] += raw_write(raw, "insert", rows, FILL_TABLES)
            report(f"fills_per_s_batch_{batch}", f"fills (report + fill + order + audit), batches of {batch:>5,}",
                   FILLS, *spent)
        counts = {t: raw.execute(f"SELECT count(*) FROM raw_copy_{t}").fetchone()[0] for t in ("ticks", *FILL_TABLES)}
        print(f"{'':10s} rows the floors wrote (COPY): " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        raw.close()
        url = f"sqlite:///{tmp / 'octet.db'}"
        for batch in (2_000, 20_000):
            rate = TICKS / bench_ticks(url, ticks, registry, batch)
            figures["sqlite"][f"ticks_per_s_batch_{batch}"] = round(rate)
            print(f"{'sqlite':10s} ticks, batches of {batch:>6,}: {rate:>12,.0f} ticks/s", flush=True)
        for batch in (100, 1_000):
            rate = FILLS / bench_fills(url, batch, f"fills{batch}")
            figures["sqlite"][f"fills_per_s_batch_{batch}"] = round(rate)
            print(f"{'sqlite':10s} fills (report + fill + order + audit), batches of {batch:>5,}: "
                  f"{rate:>10,.0f} fills/s", flush=True)
        pgf, lite = figures["postgresql"], figures["sqlite"]
        out.update({
            "raw_copy_ticks_per_s": floors["ticks_per_s_batch_2000"]["raw_copy"],
            "raw_insert_ticks_per_s": floors["ticks_per_s_batch_2000"]["raw_insert"],
            "raw_copy_fills_per_s": floors["fills_per_s_batch_100"]["raw_copy"],
            "raw_insert_fills_per_s": floors["fills_per_s_batch_100"]["raw_insert"],
            "ratio_to_raw_copy": {"ticks_per_s": floors["ticks_per_s_batch_2000"]["ratio_to_raw_copy"],
                                  "fills_per_s": floors["fills_per_s_batch_100"]["ratio_to_raw_copy"]},
            "ratio_to_raw_insert": {"ticks_per_s": floors["ticks_per_s_batch_2000"]["ratio_to_raw_insert"],
                                    "fills_per_s": floors["fills_per_s_batch_100"]["ratio_to_raw_insert"]},
            "postgresql_floors": floors,
            "ticks_per_s": pgf["ticks_per_s_batch_2000"], "fills_per_s": pgf["fills_per_s_batch_100"],
            "postgresql": pgf, "sqlite": lite, "timeseries_layout": "partitioned (no TimescaleDB on this machine)",
            "ratios_same_run": {k: round(pgf[k] / lite[k], 2) for k in pgf},
            "notes": "ticks_per_s: COPY into day partitions, batches of 2,000 (the session's); fills_per_s: "
                     "SessionStore.flush with an audit record per report, batches of 100, one transaction each. "
                     "Floors (PostgreSQL, same run, alternated with the store in 5 rounds of a fifth of the rows): the same rows with raw psycopg 3 "
                     "into plain tables of the same columns and indexes, the same batches, one transaction each, "
                     "by cursor.copy (write_row) and by executemany INSERT; for fills the orders, reports, fills and "
                     "audit rows the store wrote, read back. Rows are tuples before the clock starts. "
                     "ratio_to_raw_* = store rate / floor rate (postgresql_floors has every batch size).",
        })
        results = ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        (results / "storage.json").write_text(json.dumps(out, indent=2) + "\n")
        print(f"PostgreSQL: {out['ticks_per_s']:,} ticks/s, {out['fills_per_s']:,} fills/s -> bench/results/storage.json")
    finally:
        pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
