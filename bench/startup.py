"""Where a session's start-up and shutdown go: the baseline the live desk's start-up work cuts.

Phases, each timed on its own, with the default settings (``octet.yaml``) and a fresh data dir:

1. imports in a fresh interpreter (less a bare interpreter's start): the CLI, the domain and
   agents, and the session driver (which brings the saga's CrewAI);
2. ``ray.init`` of a local Ray (token authentication on, as the desk runs it);
3. the embedded rust_exec: credentials, process, healthy;
4. every actor of the topology up (each answered ``info``);
5. teardown: actors killed, rust_exec stopped, Ray shut down.

Prints its figures and writes bench/results/startup.json; it never fails on a time. Run it on a
quiet machine: ``.venv/bin/python bench/startup.py`` (about a minute).
"""

from __future__ import annotations

import json
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


def main() -> None:
    imports = {m: _import_s(m) for m in ("cluster.cli", "actors.analysis", "cluster.desk.session")}
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

    figures = {
        "imports_s": imports,
        "start_phases_s": {k: round(v, 3) for k, v in phases.items() if not k.endswith(("_down", "_shutdown"))},
        "stop_phases_s": {k: round(v, 3) for k, v in phases.items() if k.endswith(("_down", "_shutdown"))},
        "actors": actors,
        "machine": machine(),
    }
    total_start = sum(figures["start_phases_s"].values()) + imports["cluster.desk.session"]  # type: ignore[attr-defined]
    print(f"start: imports {imports['cluster.desk.session']:.1f} s + Ray {phases['ray_init']:.1f} s + rust_exec "
          f"{phases['rust_exec_up']:.1f} s + {actors} actors {phases['actors_up']:.1f} s = {total_start:.1f} s; "
          f"stop {sum(figures['stop_phases_s'].values()):.1f} s", flush=True)  # type: ignore[attr-defined]
    out = ROOT / "bench" / "results" / "startup.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
