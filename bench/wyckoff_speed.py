"""Wyckoff detector speed: batch throughput on 10 million bars, incremental latency per bar.

* batch: labelled scenarios are chained into one continuous series of ``--bars`` one-minute
  bars (default 10,000,000; generating them is not timed), and ``detect_points`` runs over all
  of it once: bars/s, plus the share of bars at which the state machine had to wake;
* incremental: ``WyckoffDetector.update`` (the actor's path, from ``Bar`` objects) over the
  first ``--incremental-bars`` of the same series, timed bar by bar: p50/p99/max in µs, and
  bars/s; the two modes' outputs over that stretch are checked equal on the way.

Prints the figures and writes bench/results/wyckoff_speed.json; it never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from cluster.config.settings import load_settings  # noqa: E402
from trading.market import Bar  # noqa: E402
from trading.wyckoff import WyckoffDetector, WyckoffParams, detect_points  # noqa: E402
from trading.wyckoff.detector import VOLUME_UNITS  # noqa: E402
from trading.wyckoff.scenarios import BAR_NS, SCALE, START_NS, generate  # noqa: E402


def series(bars: int) -> tuple[np.ndarray, ...]:
    parts, n, seed, last = [], 0, 0, None
    while n < bars:
        s = generate(seed)
        seed += 1
        off = 0 if last is None else last - int(s.open[0])
        parts.append((s.open + off, s.high + off, s.low + off, s.close + off, s.volume))
        last = int(s.close[-1]) + off
        n += len(s)
        if seed % 2000 == 0:
            print(f"  generating: {n:,} bars", flush=True)
    o, h, lo, c, v = (np.concatenate([p[i] for p in parts])[:bars] for i in range(5))
    start = START_NS + np.arange(bars, dtype=np.int64) * BAR_NS
    return start, start + BAR_NS, o, h, lo, c, v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=10_000_000)
    ap.add_argument("--incremental-bars", type=int, default=200_000)
    args = ap.parse_args()
    params = WyckoffParams()
    t0 = time.perf_counter()
    start, end, o, h, lo, c, v = series(args.bars)
    print(f"{args.bars:,} bars generated in {time.perf_counter() - t0:.1f} s (not timed)")
    t0 = time.perf_counter()
    d = detect_points("EURUSD", start, end, o, h, lo, c, v, SCALE, params)
    batch_s = time.perf_counter() - t0
    batch_rate = args.bars / batch_s
    print(f"batch: {args.bars:,} bars in {batch_s:.1f} s = {batch_rate:,.0f} bars/s; "
          f"{len(d.events):,} events, {len(d.ranges):,} ranges, machine woke at {d.wakeups / args.bars:.1%} of bars")
    del d
    inst = load_settings(ROOT / "octet.yaml").registry()["EURUSD"]
    m = args.incremental_bars
    bars = [Bar("EURUSD", int(start[i]), int(end[i]), o[i] / SCALE, h[i] / SCALE, lo[i] / SCALE, c[i] / SCALE,
                v[i] / VOLUME_UNITS, 1, 0.0) for i in range(m)]
    det = WyckoffDetector(inst, params)
    lat: list[float] = []
    events, signals = [], []
    t_all = time.perf_counter()
    for bar in bars:
        t = time.perf_counter_ns()
        e, s = det.update(bar)
        lat.append((time.perf_counter_ns() - t) / 1000)
        events.extend(x for x in e if not x.event.startswith("swing"))
        signals.extend(s)
    inc_s = time.perf_counter() - t_all
    check = detect_points("EURUSD", start[:m], end[:m], o[:m], h[:m], lo[:m], c[:m], v[:m], SCALE, params, inst)
    same = check.events == events and check.signals == signals
    t0 = time.perf_counter()
    detect_points("EURUSD", start[:m], end[:m], o[:m], h[:m], lo[:m], c[:m], v[:m], SCALE, params, inst)
    batch_small = m / (time.perf_counter() - t0)
    out = {
        "bars": args.bars,
        "batch_bars_per_s": round(batch_rate),
        "batch_seconds": round(batch_s, 2),
        "incremental_bars": m,
        "incremental_bars_per_s": round(m / inc_s),
        "incremental_p50_us": round(percentile(lat, 0.5), 1),
        "incremental_p99_us": round(percentile(lat, 0.99), 1),
        "incremental_max_us": round(max(lat), 1),
        "batch_over_incremental": round(batch_small / (m / inc_s), 1),
        "modes_agree": same,
        "machine": machine(),
    }
    print(f"incremental: p50 {out['incremental_p50_us']} µs, p99 {out['incremental_p99_us']} µs per bar, "
          f"{out['incremental_bars_per_s']:,} bars/s; batch is {out['batch_over_incremental']}x faster on the same "
          f"{m:,} bars; modes agree: {same}")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "wyckoff_speed.json").write_text(json.dumps(out, indent=2) + "\n")
    print("-> bench/results/wyckoff_speed.json")


if __name__ == "__main__":
    main()
