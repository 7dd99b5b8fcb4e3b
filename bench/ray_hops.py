"""What a hop between Ray actors costs on this machine: the floor under a signal's saga.

The saga is five actor calls in a row (risk, correlation, style, compliance, execution), as the
architecture asks: each step a Ray actor call. This measures, on an otherwise idle local Ray:

1. one actor task, round trip (``ray.get(actor.echo.remote(x))``);
2. five tasks in a row on five actors, the driver waiting for each (the saga's shape);
3. the same five as one chain of ObjectRefs (each actor handed the previous ref);
4. the same five as a Ray Compiled Graph (shared-memory channels), and what its five actors
   burn while they wait for work: a compiled graph's actors poll their channels.

The payload is a dict of the size of the saga's arguments (two account snapshots, mids,
headrooms: about 2 kB pickled). Prints its figures and writes bench/results/ray_hops.json; it
never fails on a time.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cluster  # noqa: E402,F401  (before ray: Ray reads RAY_AUTH_MODE when imported)
from bench.common import machine, percentile  # noqa: E402

N = int(os.environ.get("BENCH_HOPS", "1000"))
PAYLOAD = {"accounts": [{"id": f"acc-{i}", "balance": "100000.00", "positions": [("EURUSD", 1, "0.50", "1.08512")] * 3}
                        for i in range(2)], "mids": {"EURUSD": "1.08514", "GBPUSD": "1.26511", "USDJPY": "150.211"},
           "pad": "x" * 1500}


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _figures(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(samples, 0.5), 3), "p99_ms": round(percentile(samples, 0.99), 3)}


def _timed(run: Any) -> list[float]:
    for _ in range(20):
        run()
    samples = []
    for _ in range(N):
        t = time.perf_counter()
        run()
        samples.append((time.perf_counter() - t) * 1000)
    return samples


class Echo:
    """An actor that does nothing but answer: a hop and no work."""

    def echo(self, x: Any) -> Any:
        return x

    def pid(self) -> int:
        return os.getpid()


def echo_actors(n: int = 5) -> list[Any]:
    """``n`` idle echo actors on the Ray this process is connected to (no CPU reserved, as the desk's)."""
    import ray

    return [ray.remote(num_cpus=0)(Echo).remote() for _ in range(n)]


def bare_chain_ms(actors: list[Any], payload: Any = PAYLOAD) -> float:
    """One bare chain through ``actors`` (``echo_actors()``), timed in ms: each task handed the
    previous one's ObjectRef, one wait for the last; the floor under the saga's five hops. Other
    benches (bench/saga_chain.py) call it between their own samples, so both see the same machine."""
    import ray

    t = time.perf_counter()
    ref = payload
    for a in actors:
        ref = a.echo.remote(ref)
    ray.get(ref)
    return (time.perf_counter() - t) * 1000


def main() -> None:
    import ray
    from ray.dag import InputNode

    from cluster.desk.topology import RAY_ENV

    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    ray.init(include_dashboard=False, log_to_driver=False, num_cpus=2, configure_logging=False)

    actors = echo_actors()
    pids = ray.get([a.pid.remote() for a in actors])
    out: dict[str, Any] = {"benchmark": "ray_hops", "samples": N, "payload_bytes": len(json.dumps(PAYLOAD))}

    out["one_task"] = _figures(_timed(lambda: ray.get(actors[0].echo.remote(PAYLOAD))))

    def in_a_row() -> None:
        x = PAYLOAD
        for a in actors:
            x = ray.get(a.echo.remote(x))

    out["five_tasks_in_a_row"] = _figures(_timed(in_a_row))

    out["five_tasks_chained"] = _figures(_timed(lambda: bare_chain_ms(actors)))

    idle = 3.0
    before = _cpu_seconds(pids)
    time.sleep(idle)
    out["idle_cores_of_five_task_actors"] = round((_cpu_seconds(pids) - before) / idle, 3)

    with InputNode() as inp:
        node = inp
        for a in actors:
            node = a.echo.bind(node)
    graph = node.experimental_compile()
    try:
        out["five_hops_compiled_graph"] = _figures(_timed(lambda: ray.get(graph.execute(PAYLOAD))))
        before = _cpu_seconds(pids)
        time.sleep(idle)
        out["idle_cores_of_five_compiled_actors"] = round((_cpu_seconds(pids) - before) / idle, 3)
    finally:
        graph.teardown()
    ray.shutdown()

    out["ratio_five_in_a_row_to_compiled_p50"] = round(
        out["five_tasks_in_a_row"]["p50_ms"] / out["five_hops_compiled_graph"]["p50_ms"], 1)
    out["notes"] = ("Idle local Ray, 5 actors with num_cpus=0. A compiled graph's actors poll their channels "
                    "while idle (Ray 2.60): on 2 cores that is CPU the desk's analysis and ingress need.")
    out["machine"] = machine()
    for key in ("one_task", "five_tasks_in_a_row", "five_tasks_chained", "five_hops_compiled_graph"):
        print(f"{key:28s} p50 {out[key]['p50_ms']:7.3f} ms   p99 {out[key]['p99_ms']:7.3f} ms")
    print(f"idle cores used by the 5 actors: tasks {out['idle_cores_of_five_task_actors']}, "
          f"compiled graph {out['idle_cores_of_five_compiled_actors']}")
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "ray_hops.json").write_text(json.dumps(out, indent=2) + "\n")
    print("-> bench/results/ray_hops.json")


if __name__ == "__main__":
    main()
