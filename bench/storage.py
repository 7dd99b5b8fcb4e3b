"""Storage benchmark: ticks and fills persisted to a real PostgreSQL, batched, as the desk writes them.

* ticks/s: replay ticks written through ``TimeSeries.write_ticks`` (COPY into day partitions) in
  batches of 2,000 (the session's batch size) and of 20,000;
* fills/s: execution reports with their fills, their orders and one audit record per report,
  hash-chained, written through ``SessionStore.flush`` (the session's own writer) in batches of
  100 and 1,000 reports, one transaction each.

The same runs against the embedded SQLite file give the ratio PostgreSQL/SQLite. A local PostgreSQL
is started under a temporary directory. Prints its figures and writes bench/results/storage.json;
it never fails on a time.
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


def bench_ticks(url: str, ticks: Any, registry: Any, batch: int) -> float:
    from cluster.storage.store import SessionStore
    from cluster.storage.timeseries import TimeSeries

    store = SessionStore(url)
    series = TimeSeries(store.engine, registry)
    started = time.perf_counter()
    for i in range(0, len(ticks), batch):
        series.write_ticks(ticks.take(slice(i, i + batch)))
    rate = len(ticks) / (time.perf_counter() - started)
    store.close()
    return rate


def bench_fills(url: str, batch: int, run_id: str) -> float:
    from cluster.desk.record import BatchLog
    from cluster.storage.store import SessionStore
    from trading.orders import CloseReason, ExecutionReport, Fill, FillKind, Order, OrderStatus, OrderType, Side

    store = SessionStore(url)
    result = BatchLog()  # the batch's orders and reports, sealed into a record at each flush
    t0 = 1_772_409_600 * 10**9
    started = time.perf_counter()
    for i in range(FILLS):
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
    store.flush(run_id, result.seal(FILLS // batch + 1, 0, snapshots={}, headrooms={}))
    rate = FILLS / (time.perf_counter() - started)
    store.close()
    return rate


def main() -> None:
    from cluster.adapters.feeds.replay import generate_ticks
    from cluster.config.settings import load_settings
    from cluster.devservers.services import LocalPostgres

    settings = load_settings(ROOT / "octet.yaml")
    registry = settings.registry()
    ticks, _ = generate_ticks(registry, settings.generator_profiles(), TICKS, 11, settings.session.start)
    base = Path(tempfile.mkdtemp(prefix="octet-bench-pg-"))
    tmp = Path(tempfile.mkdtemp(prefix="octet-bench-sqlite-"))
    pg = LocalPostgres(base)
    try:
        pg_url = pg.start()
        out: dict[str, Any] = {"benchmark": "storage", "machine": machine(), "ticks": TICKS, "fills": FILLS}
        figures: dict[str, dict[str, float]] = {}
        for name, url in (("postgresql", pg_url), ("sqlite", f"sqlite:///{tmp / 'octet.db'}")):
            figures[name] = {}
            for batch in (2_000, 20_000):
                rate = bench_ticks(url, ticks, registry, batch)
                figures[name][f"ticks_per_s_batch_{batch}"] = round(rate)
                print(f"{name:10s} ticks, batches of {batch:>6,}: {rate:>12,.0f} ticks/s", flush=True)
            for batch in (100, 1_000):
                rate = bench_fills(url, batch, f"fills{batch}")
                figures[name][f"fills_per_s_batch_{batch}"] = round(rate)
                print(f"{name:10s} fills (report + fill + order + audit), batches of {batch:>5,}: "
                      f"{rate:>10,.0f} fills/s", flush=True)
        pgf, lite = figures["postgresql"], figures["sqlite"]
        out.update({
            "ticks_per_s": pgf["ticks_per_s_batch_2000"], "fills_per_s": pgf["fills_per_s_batch_100"],
            "postgresql": pgf, "sqlite": lite, "timeseries_layout": "partitioned (no TimescaleDB on this machine)",
            "ratios_same_run": {k: round(pgf[k] / lite[k], 2) for k in pgf},
            "notes": "ticks_per_s: COPY into day partitions, batches of 2,000 (the session's); fills_per_s: "
                     "SessionStore.flush with an audit record per report, batches of 100, one transaction each.",
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
