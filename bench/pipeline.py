"""Pipeline benchmark: ticks/s through the whole desk on a local Ray, tick-to-order latency, and the
driver's memory over the run.

Tick-to-order latency is measured from the moment the batch holding a signal's bar-closing tick
is sent into the pipeline to the moment the venue acknowledges the order. The session runs with
the default settings (in-process bus) and an SQLite store, as ``octet run`` does, and keeps no
batch records: the latency percentiles come from the result's histogram (1% buckets). The driver's
resident size (VmRSS of /proc/self/status) is sampled after every batch; ``driver_rss_mb_10pct``
and ``driver_rss_mb_90pct`` are the samples at 10% and 90% of the batches (flat memory: the second
within 1.2x of the first). Prints its figures and writes bench/results/pipeline.json. It never
fails on a time.

    .venv/bin/python bench/pipeline.py [--ticks N]     (default: BENCH_TICKS, else 2,000,000)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from cluster.adapters.feeds.replay import generate_ticks  # noqa: E402
from cluster.config.settings import load_settings  # noqa: E402
from cluster.desk.session import Progress, Session  # noqa: E402
from cluster.desk.topology import init_ray  # noqa: E402
from cluster.storage.store import SessionStore  # noqa: E402


def rss_mb() -> float:
    """This process's resident set size, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=int(os.environ.get("BENCH_TICKS", "2000000")))
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="octet-bench-pipeline-"))
    settings = load_settings(ROOT / "octet.yaml", session__ticks=args.ticks, runtime__data_dir=str(data_dir))
    s = settings.session
    t = time.perf_counter()
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), s.ticks, s.seed, s.start)
    generate_s = time.perf_counter() - t
    t = time.perf_counter()
    init_ray(settings)
    ray_init_s = time.perf_counter() - t
    rss: list[float] = []

    def on_batch(_p: Progress, _topo: Any) -> None:
        rss.append(rss_mb())

    store = SessionStore.sqlite(data_dir)
    try:
        result = Session(settings, store, on_batch=on_batch).run(ticks)
    finally:
        store.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    lat = result.tick_to_order
    figures = {
        "ticks": result.ticks,
        "batch_size": s.batch_size,
        "store": "sqlite",
        "ticks_per_s": round(result.ticks / result.elapsed_s, 1),
        "session_s": round(result.elapsed_s, 3),
        "tick_to_order_p50_ms": round(lat.percentile(0.50), 3),
        "tick_to_order_p99_ms": round(lat.percentile(0.99), 3),
        "tick_to_order_mean_ms": round(lat.mean, 3) if lat.count else None,
        "orders": result.counts["orders"],
        "signals": result.counts["signals"],
        "generate_s": round(generate_s, 3),
        "ray_init_s": round(ray_init_s, 3),
        "driver_rss_mb_10pct": round(rss[int(0.1 * len(rss))], 1),
        "driver_rss_mb_90pct": round(rss[int(0.9 * len(rss))], 1),
        "driver_rss_mb_last": round(rss[-1], 1),
        "agent_mean_latency_ms": {st["name"]: round(st["busy_s"] / st["calls"] * 1000, 3)
                                  for st in result.agent_stats if st["calls"]},
        "machine": machine(),
    }
    out = ROOT / "bench" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(f"{figures['ticks']:,} ticks in {figures['session_s']} s: {figures['ticks_per_s']:,.0f} ticks/s "
          f"(batches of {s.batch_size}, SQLite store)")
    print(f"tick-to-order latency over {lat.count} orders: p50 {figures['tick_to_order_p50_ms']} ms, "
          f"p99 {figures['tick_to_order_p99_ms']} ms")
    print(f"driver RSS: {figures['driver_rss_mb_10pct']} MiB at 10% of the batches, "
          f"{figures['driver_rss_mb_90pct']} MiB at 90%, {figures['driver_rss_mb_last']} MiB at the end")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
