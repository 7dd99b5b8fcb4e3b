"""rust_exec benchmark: SubmitOrder -> accepted round trip from Python over loopback, with TLS and
a bearer token as the desk runs it.

One client submits orders one after another through the desk's own client
(``GrpcExecutionClient.submit``: conversion, TLS, the token check, the engine, the journal's
fsync, the reply); p50/p99/p99.9 come from those round trips. The floors are measured in the same
run, interleaved with the submits in ten rounds so that the machine's drift touches both alike: a
bare gRPC round trip on the same channel (``Health``, which does no work) and the journal disk's
fdatasync of a small write. ``overhead_ratio_p99`` = submit p99 / (gRPC floor p99 + fsync floor
p99): the service's own cost, as a ratio that does not drift with the day's machine. Then 8 client
processes submit at once, for the throughput under concurrency. The run is repeated with the
journal's fsync off, and without TLS (token still on), to show what durability and encryption
cost. Prints its figures and writes bench/results/exec_latency.json. It never fails on a time.
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
    from cluster.adapters.rust_exec.process import exec_config
    from cluster.config.settings import load_settings

    cfg = exec_config(load_settings(ROOT / "octet.yaml"))
    cfg["accounts"].append({"id": "bench", "max_order_lots_e6": 100_000_000, "max_open_notional_usd_cents": 10**17,
                           "instruments": []})
    return cfg


def orders(prefix: str, n: int) -> list[Any]:
    from trading.orders import Order, OrderType, Side

    return [Order(f"{prefix}-{i}", "bench", "EURUSD", Side.BUY, Decimal("0.01"), OrderType.MARKET,
                  Decimal("1.07900"), Decimal("1.08200"), "bench", Decimal("1.08000"), 20, T0, T0 + 10**12)
            for i in range(n)]


def submit_all(address: str, creds: Any, prefix: str, n: int, start: Any = None) -> tuple[list[int], float]:
    """Submit n orders one by one; returns each round trip (ns) and the wall time (s)."""
    from cluster.adapters.rust_exec.client import GrpcExecutionClient
    from cluster.config.settings import load_settings
    from trading.orders import OrderStatus

    client = GrpcExecutionClient(address, load_settings(ROOT / "octet.yaml").registry(), credentials=creds)
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


def health_rtt(address: str, creds: Any, n: int) -> list[int]:
    """n bare gRPC round trips (Health) on the desk's kind of channel; each in ns."""
    from cluster.adapters.rust_exec.client import GrpcExecutionClient
    from trading.instruments import InstrumentRegistry

    client = GrpcExecutionClient(address, InstrumentRegistry([]), credentials=creds, catch_up=False)
    client.health()
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        client.health()
        out.append(time.perf_counter_ns() - t)
    client.close()
    return out


def fdatasync_rtt(directory: Path, n: int) -> list[int]:
    """n appends of 200 bytes, each followed by fdatasync, on the journal's disk; each in ns."""
    path = directory / "fsync-floor.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    out = []
    try:
        for _ in range(n):
            t = time.perf_counter_ns()
            os.write(fd, b"x" * 200)
            os.fdatasync(fd)
            out.append(time.perf_counter_ns() - t)
    finally:
        os.close(fd)
        path.unlink()
    return out


def _worker(address: str, creds: Any, prefix: str, n: int, start: Any, out: Any) -> None:
    out.put(submit_all(address, creds, prefix, n, start))


def run(fsync: bool, n_single: int, n_each: int, clients: int, tls: bool = True) -> dict[str, Any]:
    from cluster.adapters.rust_exec.process import ExecService
    from cluster.config.secrets import ExecSecrets

    with tempfile.TemporaryDirectory() as tmp, ExecService(
            bench_config(), Path(tmp) / "exec", fsync=fsync, secrets=ExecSecrets(Path(tmp) / "secrets", tls=tls)) as svc:
        creds = svc.credentials()
        submit_all(svc.address, creds, "warm", 1000)
        rtt: list[int] = []
        floor_grpc: list[int] = []
        floor_fsync: list[int] = []
        wall = 0.0
        rounds = 10
        for k in range(rounds):  # interleaved, so that drift touches the floors and the submits alike
            floor_grpc += health_rtt(svc.address, creds, n_single // rounds)
            if fsync:
                floor_fsync += fdatasync_rtt(svc.journal_dir, n_single // (4 * rounds))
            part, w = submit_all(svc.address, creds, f"one{k}", n_single // rounds)
            rtt += part
            wall += w
        us = [x / 1000 for x in rtt]
        grpc_us = [x / 1000 for x in floor_grpc]
        fsync_us = [x / 1000 for x in floor_fsync]
        ctx = mp.get_context("spawn")
        start, out = ctx.Barrier(clients + 1), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(svc.address, creds, f"c{k}", n_each, start, out))
                 for k in range(clients)]
        for p in procs:
            p.start()
        start.wait()
        t0 = time.perf_counter()
        results = [out.get() for _ in procs]
        wall_many = time.perf_counter() - t0
        for p in procs:
            p.join()
        many_us = [x / 1000 for r, _ in results for x in r]
        floors: dict[str, Any] = {"floor_grpc_p50_us": round(percentile(grpc_us, 0.50), 1),
                                  "floor_grpc_p99_us": round(percentile(grpc_us, 0.99), 1)}
        if fsync:
            floors["floor_fsync_p50_us"] = round(percentile(fsync_us, 0.50), 1)
            floors["floor_fsync_p99_us"] = round(percentile(fsync_us, 0.99), 1)
            floors["overhead_ratio_p99"] = round(percentile(us, 0.99) / (floors["floor_grpc_p99_us"]
                                                                         + floors["floor_fsync_p99_us"]), 2)
        else:
            floors["overhead_ratio_p99"] = round(percentile(us, 0.99) / floors["floor_grpc_p99_us"], 2)
        return {
            "tls": tls,
            "token": True,
            "orders_single": len(us),
            "p50_us": round(percentile(us, 0.50), 1),
            "p99_us": round(percentile(us, 0.99), 1),
            "p999_us": round(percentile(us, 0.999), 1),
            "max_us": round(max(us), 1),
            "orders_per_s_1_client": round(len(us) / wall),
            "orders_per_s_8_clients": round(clients * n_each / wall_many),
            "p50_us_8_clients": round(percentile(many_us, 0.50), 1),
            "p99_us_8_clients": round(percentile(many_us, 0.99), 1),
            **floors,
        }


def main() -> None:
    n = int(os.environ.get("BENCH_ORDERS", "20000"))
    each = int(os.environ.get("BENCH_ORDERS_PER_CLIENT", "5000"))
    durable = run(True, n, each, 8)
    fast = run(False, n, each, 8)
    plain = run(True, n, each, 8, tls=False)
    result = {
        "benchmark": "exec_latency",
        "what": "SubmitOrder -> accepted round trip from Python (GrpcExecutionClient) to octet-exec over loopback, "
                "TLS and a bearer token on",
        **durable,
        "journal_fsync": True,
        "without_fsync": fast,
        "without_tls": plain,
        "fsync_cost_ratio_p50": round(durable["p50_us"] / fast["p50_us"], 2),
        "tls_cost_ratio_p50": round(durable["p50_us"] / plain["p50_us"], 2),
        "target_p99_us": 1000,
        "machine": machine(),
    }
    restart = ROOT / "bench" / "results" / "exec_restart.json"
    if restart.exists():  # bench/exec_restart.py, run by `make bench` just before
        result["restart_s_1m_commands"] = json.loads(restart.read_text()).get("restart_s_1m_commands")
    print(f"rust_exec submit->accepted over loopback with TLS and a token, {durable['orders_single']:,} orders, "
          "journal fsync on:")
    print(f"  p50 {durable['p50_us']} us, p99 {durable['p99_us']} us, p99.9 {durable['p999_us']} us "
          f"(target p99 < 1000 us)")
    print(f"  floors in the same run: gRPC Health p99 {durable['floor_grpc_p99_us']} us, fdatasync p99 "
          f"{durable['floor_fsync_p99_us']} us; submit p99 / (sum of floors) = x{durable['overhead_ratio_p99']}")
    print(f"  without TLS (token on): p50 {plain['p50_us']} us, p99 {plain['p99_us']} us; TLS costs "
          f"x{result['tls_cost_ratio_p50']} at p50")
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
