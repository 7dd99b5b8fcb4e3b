"""The live desk at a realistic peak rate: tick-to-order latency, the saga against a bare Ray
chain, and the desk's start-up and stop, measured in one run.

1. A desk is started with `octet desk start` on the replay of 3 instruments (``octet.yaml``) paced so
   that each sends a realistic peak of about 20 ticks a second, ``SPEED_X`` times faster (default 20:
   1,200 ticks a wall second in all; ``speed()`` turns that into ``desk.speed`` from the generator's
   mean rate). It runs until ``TICKS`` ticks are through (enough for 100+ orders).
   From the desk's own histograms (status.json at its end): tick-to-order p50/p99, from the moment
   the signal's tick arrived (its due time on the paced feed) to rust_exec's acknowledgement of the
   order; the saga alone p50/p99 (its first agent call to its end).
2. Start-up: from the `octet desk start` command to the first tick processed, and its phases as the
   desk recorded them (process imports and settings, Ray up, rust_exec up, actors up, the saga
   ready, first tick). Stop: `octet desk stop` on a second, resumed desk (stop asks it to end
   the batch under way, save, and exit).
3. In the same run, in this process: a bare `ray.init()` and a bare five-hop chain of Ray actor
   calls (five actors, each call handed the previous call's ObjectRef, one wait at the end), p50/p99;
   the saga's ratio to it.

Prints its figures and writes bench/results/live.json; it never fails on a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cluster  # noqa: E402, F401 - Ray's token authentication is set before Ray is imported
from bench.common import machine, percentile, write_results  # noqa: E402

TICKS = int(os.environ.get("BENCH_TICKS", "260000"))
SPEED_X = float(os.environ.get("BENCH_SPEED_X", "20"))
PER_INSTRUMENT_TPS = 20.0  # a realistic peak of one FX pair, ticks per second of market time
CLI = [sys.executable, "-m", "cluster.cli", "desk"]


def speed(settings: Any) -> float:
    """desk.speed such that each instrument sends PER_INSTRUMENT_TPS * SPEED_X ticks a wall second
    on average (the generator's instruments send ``ticks_per_minute`` a market minute)."""
    per_min = sum(i.generator.ticks_per_minute for i in settings.instruments) / len(settings.instruments)
    return PER_INSTRUMENT_TPS * SPEED_X / (per_min / 60)


def desk(args: list[str], config: Path, timeout: float = 600) -> tuple[float, str]:
    began = time.perf_counter()
    out = subprocess.run([*CLI, *args, "--config", str(config)], cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"octet desk {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return time.perf_counter() - began, out.stdout


def bare_ray(tmp: Path, hops: int = 5, rounds: int = 300) -> dict[str, float]:
    """ray.init() alone (a local Ray, token authentication on, as the desk starts it), then a bare
    chain of ``hops`` actor calls, each handed the previous ObjectRef."""
    import ray

    from cluster.config.secrets import ray_token_file
    from cluster.desk.topology import RAY_ENV

    for k, v in RAY_ENV.items():
        os.environ.setdefault(k, v)
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(ray_token_file(tmp))
    began = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False, num_cpus=2, configure_logging=False)
    init_s = time.perf_counter() - began

    @ray.remote(num_cpus=0)
    class Hop:
        def step(self, x: Any) -> Any:
            return x

    actors = [Hop.remote() for _ in range(hops)]
    ray.get([a.step.remote(0) for a in actors])
    times = []
    for i in range(rounds + 20):
        start = time.perf_counter()
        ref: Any = i
        for a in actors:
            ref = a.step.remote(ref)
        ray.get(ref)
        times.append((time.perf_counter() - start) * 1000)
    times = times[20:]
    ray.shutdown()
    del os.environ["RAY_AUTH_TOKEN_PATH"]
    return {"ray_init_s": round(init_s, 2), "chain_p50_ms": round(percentile(times, 0.5), 2),
            "chain_p99_ms": round(percentile(times, 0.99), 2)}


def main() -> None:
    import yaml

    from cluster.config.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="octet-live-") as tmp:
        doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
        doc["runtime"]["data_dir"] = str(Path(tmp) / "var")
        doc.setdefault("session", {})["ticks"] = TICKS
        config = Path(tmp) / "live.yaml"
        config.write_text(yaml.safe_dump(doc))
        settings = load_settings(config)
        pace = speed(settings)
        doc["desk"] = {"speed": pace, "max_gap_seconds": 60.0}
        config.write_text(yaml.safe_dump(doc))
        bare_before = bare_ray(Path(tmp) / "bare")
        print(f"bare ray.init {bare_before['ray_init_s']} s; five-hop chain p50 {bare_before['chain_p50_ms']} ms")
        start_s, _ = desk(["start"], config)
        files = Path(tmp) / "var" / "desk"
        meta = json.loads((files / "desk.json").read_text())
        print(f"desk started (first tick) in {start_s:.1f} s; speed {pace:.0f}x market time")
        while True:  # until the replay has gone through
            meta = json.loads((files / "desk.json").read_text())
            if meta.get("state") in ("ended", "failed", "stopped"):
                break
            time.sleep(2)
            st = json.loads((files / "status.json").read_text()) if (files / "status.json").exists() else {}
            print(f"  {st.get('ticks', 0):,} ticks, {st.get('orders', 0)} orders, lag {st.get('feed_lag_ms')} ms, "
                  f"tick-to-order p99 {st.get('tick_to_order_p99_ms')} ms", flush=True)
        status = json.loads((files / "status.json").read_text())
        if meta.get("state") != "ended":
            raise SystemExit(f"the desk {meta.get('state')}: {meta.get('error')}; see {files / 'desk.log'}")
        # stop: a second desk (a new run) stopped once it is up
        write_results("live", {"partial": True, "status": status, "start_s": round(start_s, 2)})
        desk(["start", "--new"], config)
        time.sleep(3)
        stop_s, _ = desk(["stop"], config)
        bare_after = bare_ray(Path(tmp) / "bare")
        chain_p99 = min(bare_before["chain_p99_ms"], bare_after["chain_p99_ms"])
        ray_init = min(bare_before["ray_init_s"], bare_after["ray_init_s"])
        out = {
            "machine": machine(),
            "ticks": status["ticks"], "orders": status["orders"], "instruments": len(settings.instruments),
            "per_instrument_ticks_per_s": PER_INSTRUMENT_TPS, "speed_x": SPEED_X, "desk_speed": round(pace, 1),
            "wall_ticks_per_s": round(PER_INSTRUMENT_TPS * SPEED_X * len(settings.instruments)),
            "tick_to_order_p50_ms": status["tick_to_order_p50_ms"],
            "tick_to_order_p99_ms": status["tick_to_order_p99_ms"],
            "saga_p50_ms": status["saga_p50_ms"], "saga_p99_ms": status["saga_p99_ms"],
            "bare_chain": {"before": bare_before, "after": bare_after},
            "saga_p99_to_bare_chain_p99": round(status["saga_p99_ms"] / chain_p99, 2),
            "start_s": round(start_s, 2), "start_phases_s": meta.get("start_phases_s"),
            "start_to_bare_ray_init": round(start_s / ray_init, 2),
            "stop_s": round(stop_s, 2),
            "targets": {"tick_to_order_p99_ms": "< 25", "saga_p99_to_bare_chain_p99": "<= 1.5",
                        "start_to_bare_ray_init": "<= 2"},
        }
        write_results("live", out)


if __name__ == "__main__":
    main()
