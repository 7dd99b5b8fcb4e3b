"""Pipeline benchmark: ticks/s through the whole desk on a local Ray, and tick-to-order latency.

Tick-to-order latency is measured from the moment the batch holding a signal's bar-closing tick
is sent into the pipeline to the moment the venue acknowledges the order. Prints its figures and
writes bench/results/pipeline.json. It never fails on a time.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from cluster.adapters.feeds.replay import generate_ticks  # noqa: E402
from cluster.config.settings import load_settings  # noqa: E402
from cluster.desk.session import Session  # noqa: E402
from cluster.desk.topology import init_ray  # noqa: E402


def main() -> None:
    ticks_n = int(os.environ.get("BENCH_TICKS", "200000"))
    settings = load_settings(ROOT / "octet.yaml", session__ticks=ticks_n,
                             runtime__data_dir=str(ROOT / "var" / "bench"))
    s = settings.session
    t = time.perf_counter()
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), s.ticks, s.seed, s.start)
    generate_s = time.perf_counter() - t
    t = time.perf_counter()
    init_ray(settings)
    ray_init_s = time.perf_counter() - t
    result = Session(settings).run(ticks)
    lat = result.tick_to_order_ms
    figures = {
        "ticks": result.ticks,
        "batch_size": s.batch_size,
        "ticks_per_s": round(result.ticks / result.elapsed_s, 1),
        "session_s": round(result.elapsed_s, 3),
        "tick_to_order_p50_ms": round(percentile(lat, 0.50), 3),
        "tick_to_order_p99_ms": round(percentile(lat, 0.99), 3),
        "tick_to_order_mean_ms": round(statistics.fmean(lat), 3) if lat else None,
        "orders": len(result.orders),
        "signals": len(result.signals),
        "generate_s": round(generate_s, 3),
        "ray_init_s": round(ray_init_s, 3),
        "agent_mean_latency_ms": {st["name"]: round(st["busy_s"] / st["calls"] * 1000, 3)
                                  for st in result.agent_stats if st["calls"]},
        "machine": machine(),
    }
    out = ROOT / "bench" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(f"{figures['ticks']:,} ticks in {figures['session_s']} s: {figures['ticks_per_s']:,.0f} ticks/s "
          f"(batches of {s.batch_size})")
    print(f"tick-to-order latency over {len(lat)} orders: p50 {figures['tick_to_order_p50_ms']} ms, "
          f"p99 {figures['tick_to_order_p99_ms']} ms")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
