"""The saga inside a session: the chain of ObjectRefs against the CrewAI Flow it replaced, and
against a bare five-hop Ray chain, in one run.

Runs the demo's settings (octet.yaml) for BENCH_SAGA_TICKS replay ticks (default 1,000,000) on a
local Ray with the whole topology and an embedded rust_exec. Each signal's saga is run in turn by

- the chain (``cluster.desk.saga.run_saga`` today: five calls submitted back to back, one wait), or
- the Flow of commit c87b05b (``cluster/desk/saga.py`` read from git: a CrewAI Flow whose steps
  each await one actor call), calling the agents' methods of then, which they still have,

alternating signal by signal, so both see the same machine and the same session; right after each
saga, one bare chain through five echo actors (``bench.ray_hops.bare_chain_ms``). Both paths give
the same orders and decisions (tests/integration/test_saga_fingerprint_on_ray.py). For the chain
it also times, off the saga's clock, a kickoff of the CrewAI Flow that records the same decisions
(``cluster.desk.saga_flow``). "full" samples are sagas that reached the execution agent (five hops
on either path); a saga that a veto ends early takes fewer hops on the Flow path.

Prints its figures and writes bench/results/saga_chain.json; it never fails on a time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cluster  # noqa: E402,F401  (before ray: RAY_AUTH_MODE)
from bench.common import machine, percentile  # noqa: E402
from bench.ray_hops import bare_chain_ms, echo_actors  # noqa: E402

OLD_COMMIT = "c87b05b"
TICKS = int(os.environ.get("BENCH_SAGA_TICKS", "1000000"))


def old_saga() -> ModuleType:
    """The saga module of ``OLD_COMMIT``, loaded under the name ``old_saga``."""
    source = subprocess.run(["git", "show", f"{OLD_COMMIT}:cluster/desk/saga.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("old_saga", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_saga"] = module
    exec(compile(source, f"{OLD_COMMIT}:cluster/desk/saga.py", "exec"), module.__dict__)  # noqa: S102
    return module


def figures(samples: list[float]) -> dict[str, float]:
    return {"n": len(samples), "p50_ms": round(percentile(samples, 0.5), 3),
            "p99_ms": round(percentile(samples, 0.99), 3), "max_ms": round(max(samples, default=float("nan")), 3)}


def main() -> None:
    import ray

    import cluster.desk.session as session_module
    from cluster.adapters.feeds.replay import generate_ticks
    from cluster.config.settings import load_settings
    from cluster.desk import saga
    from cluster.desk.saga_flow import record_with_flow
    from cluster.desk.session import Session
    from cluster.desk.topology import init_ray

    old = old_saga()
    samples: dict[str, list[float]] = {k: [] for k in (
        "chain", "chain_full", "chain_run_saga", "flow", "flow_full", "bare", "flow_record_kickoff",
        "plain_record")}
    turn = [0]

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=tmp, session__ticks=TICKS)
        init_ray(settings)
        echo = echo_actors()
        for _ in range(20):
            bare_chain_ms(echo)
        old.warm_up()  # CrewAI's one-time initialisation, before the clock
        record_with_flow(*_empty_record_args(saga))

        def timed_saga(ctx: Any) -> Any:
            turn[0] += 1
            if turn[0] % 2:  # the chain
                t0 = time.perf_counter()
                refs = saga.submit(ctx)
                ctx.update = ray.get(refs[-1])
                t1 = time.perf_counter()
                sized, checked, styled, complied = ray.get(refs[:-1])
                outs = saga.SagaOutputs(sized, checked, styled, complied, ctx.update)
                ctx.decisions.extend(saga.record(ctx.signal, outs))
                t2 = time.perf_counter()
                samples["chain"].append((t1 - t0) * 1000)
                samples["chain_run_saga"].append((t2 - t0) * 1000)
                if ctx.update is not None:
                    samples["chain_full"].append((t1 - t0) * 1000)
                t3 = time.perf_counter()
                again = record_with_flow(ctx.signal, outs)
                t4 = time.perf_counter()
                saga.record(ctx.signal, outs)
                samples["flow_record_kickoff"].append((t4 - t3) * 1000)
                samples["plain_record"].append((time.perf_counter() - t4) * 1000)
                assert again == ctx.decisions, "the Flow's record differs from the hot path's"
            else:  # the Flow of OLD_COMMIT
                t0 = time.perf_counter()
                done = old.run_saga(old.SagaContext(ctx.signal, ctx.accounts, ctx.snapshots, ctx.mids,
                                                    ctx.headrooms, ctx.call))
                ms = (time.perf_counter() - t0) * 1000
                ctx.decisions.extend(done.decisions)
                ctx.update = done.update
                samples["flow"].append(ms)
                if done.update is not None:
                    samples["flow_full"].append(ms)
            samples["bare"].append(bare_chain_ms(echo))
            return ctx

        session_module.run_saga = timed_saga  # type: ignore[assignment]
        s = settings.session
        ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), s.ticks, s.seed,
                                  datetime(2026, 3, 2, tzinfo=UTC))
        result = Session(settings, run_id="saga-bench").run(ticks)  # agent_stats read before the actors go
        ray.shutdown()

    out: dict[str, Any] = {"benchmark": "saga_chain", "ticks": TICKS, "old_commit": OLD_COMMIT,
                           "signals": result.counts["signals"], "orders": result.counts["orders"]}
    for key, values in samples.items():
        out[key] = figures(values)
    for name, num, den in (("chain_full_to_bare", "chain_full", "bare"), ("chain_to_bare", "chain", "bare"),
                           ("flow_full_to_chain_full", "flow_full", "chain_full")):
        out[f"ratio_{name}"] = {q: round(out[num][q] / out[den][q], 2) for q in ("p50_ms", "p99_ms")}
    out["agents_ms_per_call"] = {a["name"]: {"busy": round(a["busy_s"] / a["calls"] * 1000, 3),
                                             "save": round(a.get("save_s", 0.0) / a["calls"] * 1000, 3)}
                                 for a in result.agent_stats if a["name"] in saga.STEPS and a["calls"]}
    out["notes"] = ("One session, 2-core machine; sagas alternate chain / Flow of the old commit, a bare "
                    "five-echo chain after each. chain: submit to the execution agent's update; "
                    "chain_run_saga: plus fetching the four other outputs and recording the decisions. "
                    "flow_record_kickoff: the CrewAI Flow recording the same decisions, off the clock.")
    out["machine"] = machine()
    for key in samples:
        f = out[key]
        print(f"{key:20s} n {f['n']:4d}  p50 {f['p50_ms']:7.3f} ms  p99 {f['p99_ms']:7.3f} ms  max {f['max_ms']:7.3f}")
    for key in ("ratio_chain_full_to_bare", "ratio_chain_to_bare", "ratio_flow_full_to_chain_full"):
        print(f"{key:32s} p50 x{out[key]['p50_ms']}  p99 x{out[key]['p99_ms']}")
    print("per call, ms (all of an agent's calls, the saga's and others):", out["agents_ms_per_call"])
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "saga_chain.json").write_text(json.dumps(out, indent=2) + "\n")
    print("-> bench/results/saga_chain.json")


def _empty_record_args(saga: ModuleType) -> tuple[Any, Any]:
    """A signal and the outputs of a saga that no account passed: one kickoff pays CrewAI's setup."""
    from decimal import Decimal

    from actors.compliance import Complied
    from trading.orders import Side, Signal

    signal = Signal("EURUSD", Side.BUY, 0, Decimal("1.1"), Decimal("1.09"), (Decimal("1.12"),), 0.5, "spring")
    return signal, saga.SagaOutputs({}, [], {}, Complied(), None)


if __name__ == "__main__":
    main()
