"""Where a session's start-up and shutdown go, and the whole start against a bare ``ray.init()``.

Phases, each timed on its own, with the default settings (``octet.yaml``) and a fresh data dir:

1. imports in a fresh interpreter (less a bare interpreter's start): the CLI, an analysis agent's
   module as a Ray worker loads it, with and without polars (which it loaded before it was made
   lazy: the old and the new cost, alternated in this run), and the session driver (which brings
   the saga's CrewAI);
2. ``ray.init`` of a local Ray (token authentication on, as the desk runs it);
3. the embedded rust_exec: credentials, process, healthy;
4. every actor of the topology up (each answered ``info``);
5. teardown: actors killed, rust_exec stopped, Ray shut down.

Then, each in a fresh process and alternated (``--rounds``): a bare ``ray.init()``; a desk that
starts its own Ray; a desk that attaches to a Ray already running (``ray start --head`` with the
desk's token, started before the clock, stopped after). For each desk: process start -> the first
batch of ticks processed (``on_batch``), and that over the bare ``ray.init()`` of the same round
(the issue's target: at most 2).

Prints its figures and writes bench/results/startup.json; it never fails on a time. Run it on a
quiet machine: ``.venv/bin/python bench/startup.py`` (a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cluster  # noqa: E402, F401 - Ray's token authentication is set before Ray is imported
from bench.common import machine  # noqa: E402


def _import_s(module: str, repeats: int = 3) -> float:
    """The best of ``repeats`` fresh interpreters importing ``module``, less a bare interpreter's."""

    def best(code: str) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        return min(times)

    return round(best(f"import {module}") - best("pass"), 3)


BARE = """
import time, sys
t0 = float(sys.argv[1])
import cluster, ray
start = time.time()
ray.init(address="local", include_dashboard=False, log_to_driver=False, num_cpus=2, configure_logging=False)
print(time.time() - start, time.time() - t0)
ray.shutdown()
"""

# A desk in a fresh process: ``Session.run`` on two batches; prints the wall time from the process's
# launch (argv[1], the parent's clock) to Ray up, to the first batch processed, to the run's end, and
# the shutdown of its Ray (a local one is stopped; an attached one only left).
DESK = """
import json, sys, time
t0 = float(sys.argv[1])
marks = {}
from pathlib import Path
import cluster
import ray
from cluster.config.settings import load_settings
from cluster.desk.session import Session
from cluster.desk.topology import init_ray
from cluster.cli.session import _load_ticks
from cluster.storage.store import open_store
marks["imported"] = time.time() - t0
settings = load_settings(Path("octet.yaml"), runtime__data_dir=sys.argv[2], session__ticks=4000,
                         runtime__ray_address=sys.argv[3] or None)
ticks = _load_ticks(settings)
init_ray(settings)
marks["ray_up"] = time.time() - t0
store = open_store(settings)
def on_batch(p, topo):
    marks.setdefault("first_batch", time.time() - t0)
Session(settings, store, on_batch=on_batch).run(ticks)
marks["run_done"] = time.time() - t0
store.close()
start = time.time()
ray.shutdown()
marks["ray_shutdown"] = time.time() - start
print(json.dumps(marks))
"""


def _fresh(code: str, *args: str, token: Path | None = None) -> str:
    """``code`` in a fresh interpreter with the launch time as argv[1]; the Ray token file ``token``
    (else none set: a desk finds its own under its data_dir)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH_TOKEN", "RAY_ADDRESS"))}
    if token is not None:
        env["RAY_AUTH_TOKEN_PATH"] = str(token)
    out = subprocess.run([sys.executable, "-c", code, f"{time.time():.6f}", *args], cwd=ROOT,
                         capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"a fresh process failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


def whole_start(rounds: int) -> dict[str, object]:
    """Bare ``ray.init()``, a desk with its own Ray, a desk attached to a running Ray: alternated."""
    runs: dict[str, list[dict[str, float]]] = {"bare_ray_init": [], "desk_own_ray": [], "desk_attached": []}
    from cluster.config.secrets import ray_token_file

    for r in range(rounds):
        with tempfile.TemporaryDirectory(prefix="octet-bench-startup-") as tmp:
            init_s, _ = (float(x) for x in _fresh(BARE, token=ray_token_file(Path(tmp))).split())
        runs["bare_ray_init"].append({"ray_init": init_s})
        with tempfile.TemporaryDirectory(prefix="octet-bench-startup-") as tmp:
            runs["desk_own_ray"].append(json.loads(_fresh(DESK, tmp, "")))
        with tempfile.TemporaryDirectory(prefix="octet-bench-startup-") as tmp:
            from cluster.config.secrets import ray_token_file
            from cluster.devservers.services import RayHead

            with RayHead(ray_token_file(Path(tmp))) as head:  # what docs/operators.md shows
                runs["desk_attached"].append(json.loads(_fresh(DESK, tmp, head.address)))
        print(f"round {r + 1}: bare ray.init {init_s:.1f} s; desk (own Ray) first batch at "
              f"{runs['desk_own_ray'][-1]['first_batch']:.1f} s; desk (attached) first batch at "
              f"{runs['desk_attached'][-1]['first_batch']:.1f} s", flush=True)
    ratios = {k: [round(d["first_batch"] / b["ray_init"], 2) for d, b in zip(runs[k], runs["bare_ray_init"], strict=True)]
              for k in ("desk_own_ray", "desk_attached")}
    return {"runs_s": {k: [{m: round(v, 3) for m, v in d.items()} for d in v] for k, v in runs.items()},
            "first_batch_over_bare_ray_init": ratios,
            "median_ratio": {k: round(statistics.median(v), 2) for k, v in ratios.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="alternations of bare / own Ray / attached")
    rounds = ap.parse_args().rounds
    imports = {m: _import_s(m) for m in ("cluster.cli", "actors.analysis", "cluster.desk.session")}
    imports["actors.analysis+polars (before)"] = _import_s("actors.analysis, polars")
    imports["actors.analysis (again)"] = _import_s("actors.analysis")
    print("imports (s):", imports, flush=True)

    import ray

    from cluster.adapters.rust_exec.process import ExecService
    from cluster.config.secrets import state_key
    from cluster.config.settings import load_settings
    from cluster.desk.topology import build, init_ray

    phases: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="octet-bench-startup-") as tmp:
        settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=tmp)
        start = time.perf_counter()
        init_ray(settings)
        phases["ray_init"] = time.perf_counter() - start

        start = time.perf_counter()
        svc = ExecService.for_settings(settings, Path(tmp) / "exec" / "bench")
        address = svc.start()
        phases["rust_exec_up"] = time.perf_counter() - start

        start = time.perf_counter()
        topo = build(settings, Path(tmp) / "state" / "bench", "octet-bench", address, "bench", None,
                     svc.credentials(), state_key(Path(tmp)))
        ray.get([r.handle.info.remote() for r in topo.all()])
        phases["actors_up"] = time.perf_counter() - start
        actors = len(topo.all())

        start = time.perf_counter()
        topo.shutdown()
        phases["actors_down"] = time.perf_counter() - start
        start = time.perf_counter()
        svc.stop()
        phases["rust_exec_down"] = time.perf_counter() - start
        start = time.perf_counter()
        ray.shutdown()
        phases["ray_shutdown"] = time.perf_counter() - start

    whole = whole_start(rounds)
    figures = {
        "imports_s": imports,
        "start_phases_s": {k: round(v, 3) for k, v in phases.items() if not k.endswith(("_down", "_shutdown"))},
        "stop_phases_s": {k: round(v, 3) for k, v in phases.items() if k.endswith(("_down", "_shutdown"))},
        "actors": actors,
        "whole_start": whole,
        "machine": machine(),
    }
    total_start = sum(figures["start_phases_s"].values()) + imports["cluster.desk.session"]  # type: ignore[attr-defined]
    print(f"start: imports {imports['cluster.desk.session']:.1f} s + Ray {phases['ray_init']:.1f} s + rust_exec "
          f"{phases['rust_exec_up']:.1f} s + {actors} actors {phases['actors_up']:.1f} s = {total_start:.1f} s; "
          f"stop {sum(figures['stop_phases_s'].values()):.1f} s", flush=True)  # type: ignore[attr-defined]
    print("first batch / bare ray.init (median):", whole["median_ratio"], flush=True)
    out = ROOT / "bench" / "results" / "startup.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
