"""rust_exec benchmark: SubmitOrder -> accepted round trip from Python over loopback.

One client submits orders one after another through the desk's own client
(``GrpcExecutionClient.submit``: conversion, gRPC, the engine, the journal's fsync, the reply);
p50/p99/p99.9 come from those round trips. Then 8 client processes submit at once, each on its
own channel, for the throughput under concurrency. Both runs are repeated with the journal's
fsync off, to show what durability costs. Prints its figures and writes
bench/results/exec_latency.json. It never fails on a time.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402

T0 = 1_772_409_600 * 1_000_000_000


def bench_config() -> dict[str, Any]:
    from cluster.exec_service import exec_config
    from cluster.settings import load_settings

    cfg = exec_config(load_settings(ROOT / "octet.yaml"))
    cfg["accounts"].append({"id": "bench", "max_order_lots_e6": 100_000_000, "max_open_notional_usd_cents": 10**17,
                           "instruments": []})
    return cfg


def orders(prefix: str, n: int) -> list[Any]:
    from trading.orders import Order, OrderType, Side

    return [Order(f"{prefix}-{i}", "bench", "EURUSD", Side.BUY, Decimal("0.01"), OrderType.MARKET,
                  Decimal("1.07900"), Decimal("1.08200"), "bench", Decimal("1.08000"), 20, T0, T0 + 10**12)
            for i in range(n)]


def submit_all(address: str, prefix: str, n: int, start: Any = None) -> tuple[list[int], float]:
    """Submit n orders one by one; returns each round trip (ns) and the wall time (s)."""
    from cluster.exec_client import GrpcExecutionClient
    from cluster.settings import load_settings
    from trading.orders import OrderStatus

    client = GrpcExecutionClient(address, load_settings(ROOT / "octet.yaml").registry())
    todo = orders(prefix, n)
    client.health()  # connected before the clock starts
    if start is not None:
        start.wait()
    rtt = []
    t0 = time.perf_counter()
    for o in todo:
        t = time.perf_counter_ns()
        report = client.submit(o)
        rtt.append(time.perf_counter_ns() - t)
        if report.status is not OrderStatus.ACCEPTED:
            raise SystemExit(f"order {o.client_order_id} not accepted: {report.reason}")
    wall = time.perf_counter() - t0
    client.close()
    return rtt, wall


def _worker(address: str, prefix: str, n: int, start: Any, out: Any) -> None:
    out.put(submit_all(address, prefix, n, start))


def run(fsync: bool, n_single: int, n_each: int, clients: int) -> dict[str, Any]:
    from cluster.exec_service import ExecService

    with tempfile.TemporaryDirectory() as tmp, ExecService(bench_config(), Path(tmp) / "exec", fsync=fsync) as svc:
        submit_all(svc.address, "warm", 1000)
        rtt, wall = submit_all(svc.address, "one", n_single)
        us = [x / 1000 for x in rtt]
        ctx = mp.get_context("spawn")
        start, out = ctx.Barrier(clients + 1), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(svc.address, f"c{k}", n_each, start, out)) for k in range(clients)]
        for p in procs:
            p.start()
        start.wait()
        t0 = time.perf_counter()
        results = [out.get() for _ in procs]
        wall_many = time.perf_counter() - t0
        for p in procs:
            p.join()
        many_us = [x / 1000 for r, _ in results for x in r]
        return {
            "orders_single": len(us),
            "p50_us": round(percentile(us, 0.50), 1),
            "p99_us": round(percentile(us, 0.99), 1),
            "p999_us": round(percentile(us, 0.999), 1),
            "max_us": round(max(us), 1),
            "orders_per_s_1_client": round(len(us) / wall),
            "orders_per_s_8_clients": round(clients * n_each / wall_many),
            "p50_us_8_clients": round(percentile(many_us, 0.50), 1),
            "p99_us_8_clients": round(percentile(many_us, 0.99), 1),
        }


def main() -> None:
    n = int(os.environ.get("BENCH_ORDERS", "20000"))
    each = int(os.environ.get("BENCH_ORDERS_PER_CLIENT", "5000"))
    durable = run(True, n, each, 8)
    fast = run(False, n, each, 8)
    result = {
        "benchmark": "exec_latency",
        "what": "SubmitOrder -> accepted round trip from Python (GrpcExecutionClient) to octet-exec over loopback",
        **durable,
        "journal_fsync": True,
        "without_fsync": fast,
        "fsync_cost_ratio_p50": round(durable["p50_us"] / fast["p50_us"], 2),
        "target_p99_us": 1000,
        "machine": machine(),
    }
    print(f"rust_exec submit->accepted over loopback, {durable['orders_single']:,} orders, journal fsync on:")
    print(f"  p50 {durable['p50_us']} us, p99 {durable['p99_us']} us, p99.9 {durable['p999_us']} us "
          f"(target p99 < 1000 us)")
    print(f"  {durable['orders_per_s_1_client']:,} orders/s with 1 client, "
          f"{durable['orders_per_s_8_clients']:,} orders/s with 8 clients (p99 {durable['p99_us_8_clients']} us)")
    print(f"  fsync off: p50 {fast['p50_us']} us, p99 {fast['p99_us']} us, {fast['orders_per_s_1_client']:,} / "
          f"{fast['orders_per_s_8_clients']:,} orders/s; fsync costs x{result['fsync_cost_ratio_p50']} at p50")
    out = ROOT / "bench" / "results" / "exec_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
