"""rust_exec benchmark: how long a restart takes after 1,000,000 journaled commands.

`rust_exec/examples/journal_gen.rs` writes the journal through the service's own code (the engine,
the journal writer, snapshots and compaction): a realistic mix of about 80% quote batches (8
quotes each), 12% orders, and cancels, modifies, flattens, halts and resumes. It writes it twice
from one seed: with snapshots every 50,000 commands (the default) and with snapshots off. Then the
real release binary is started on each directory and timed from process start to the first Health
answer (loading the newest snapshot and replaying the journal after it, or replaying all of it),
three times each, killed with SIGKILL between (so no shutdown snapshot changes what is measured).
It also reports the longest pause a snapshot causes (the engine's state is copied under the
service's lock; encoding and writing happen on another thread).
Both starts must rebuild the same state (reports, orders), which is checked. Prints the figures
and writes bench/results/exec_restart.json. It never fails on a time.

    .venv/bin/python bench/exec_restart.py [--commands 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402

RUST = ROOT / "rust_exec"
BINARY = RUST / "target" / "release" / "octet-exec"
GEN = RUST / "target" / "release" / "examples" / "journal_gen"
SNAPSHOT_EVERY = 50_000


def build() -> None:
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    subprocess.run([cargo, "build", "--release", "--locked", "--quiet", "--bin", "octet-exec", "--example", "journal_gen"],
                   cwd=RUST, check=True)


def bench_config(path: Path) -> None:
    from cluster.adapters.rust_exec.process import exec_config
    from cluster.config.settings import load_settings

    cfg = exec_config(load_settings(ROOT / "octet.yaml"))
    cfg["accounts"].append({"id": "bench", "max_order_lots_e6": 10**9, "max_open_notional_usd_cents": 10**17,
                            "instruments": []})
    path.write_text(json.dumps(cfg))


def generate(cfg: Path, journal: Path, commands: int, every: int) -> dict[str, Any]:
    out = subprocess.run([str(GEN), "--config", str(cfg), "--journal-dir", str(journal), "--commands", str(commands),
                          "--snapshot-every", str(every)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def restart(cfg: Path, journal: Path, every: int) -> tuple[float, Any, dict[str, Any]]:
    """Seconds from process start to the first Health answer, that answer, and the service's own
    "journal replayed" log line (snapshot frame, frames replayed, milliseconds)."""
    import grpc

    from cluster.adapters.rust_exec.pb import exec_pb2, exec_pb2_grpc

    log = journal.parent / f"{journal.name}.log"
    t0 = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen([str(BINARY), "--config", str(cfg), "--journal-dir", str(journal), "--listen",
                                 "127.0.0.1:0", "--snapshot-every", str(every), "--insecure"],  # restart time only
                                stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if not line or line[0] != "LISTENING":
            raise RuntimeError(f"octet-exec did not start on {journal}: {line}")
        with grpc.insecure_channel(line[1]) as channel:
            stub = exec_pb2_grpc.ExecutionStub(channel)
            while True:
                try:
                    health = stub.Health(exec_pb2.HealthRequest(), timeout=5)
                    seconds = time.perf_counter() - t0
                    replayed = next(json.loads(x)["fields"] for x in log.read_text().splitlines()
                                    if '"journal replayed"' in x)
                    return seconds, health, replayed
                except grpc.RpcError:
                    time.sleep(0.001)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def size(journal: Path, prefix: str) -> int:
    return sum(p.stat().st_size for p in journal.glob(f"{prefix}-*.bin"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commands", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    build()
    work = Path(tempfile.mkdtemp(prefix="octet-exec-restart-", dir=ROOT / "var" if (ROOT / "var").is_dir() else None))
    try:
        cfg = work / "exec.json"
        bench_config(cfg)
        result: dict[str, Any] = {"commands": args.commands, "snapshot_every": SNAPSHOT_EVERY, "runs": args.runs}
        figures: dict[str, list[float]] = {}
        states = {}
        for name, every in (("snapshots", SNAPSHOT_EVERY), ("no_snapshots", 0)):
            journal = work / name
            t = time.perf_counter()
            gen = generate(cfg, journal, args.commands, every)
            print(f"{name}: journaled {gen['frames']:,} commands ({gen['orders']:,} orders, {gen['reports']:,} reports) "
                  f"in {time.perf_counter() - t:.1f} s; journal {size(journal, 'journal') / 2**20:.1f} MiB, "
                  f"snapshots {size(journal, 'snapshot') / 2**20:.1f} MiB", flush=True)
            result[f"journal_mib_{name}"] = round(size(journal, "journal") / 2**20, 1)
            result[f"snapshot_mib_{name}"] = round(size(journal, "snapshot") / 2**20, 1)
            result["orders"], result["reports"] = gen["orders"], gen["reports"]
            if every:
                # a snapshot copies the engine's state under the service's lock: the longest such pause
                result["snapshot_state_ms_max"] = gen["snapshot_state_ms_max"]
            times = []
            for _ in range(args.runs):
                seconds, health, replayed = restart(cfg, journal, every)
                times.append(seconds)
                states[name] = (health.last_seq, health.orders, health.open_positions, health.halted)
            figures[name] = times
            result[f"replay_{name}"] = {"snapshot_frame": replayed["snapshot_frame"], "frames_replayed": replayed["frames"],
                                        "ms": replayed["ms"]}
            print(f"{name}: restart to Health {', '.join(f'{x:.3f}' for x in times)} s (snapshot of frame "
                  f"{replayed['snapshot_frame']:,}, {replayed['frames']:,} frames replayed, {replayed['ms']} ms)",
                  flush=True)
        assert states["snapshots"] == states["no_snapshots"], f"both starts rebuild the same state: {states}"
        # flat in the journal's length: what a restart costs grows with the state (every order and
        # report is kept), not with the commands journaled
        result["restart_s_by_commands_with_snapshots"] = {}
        for n in (args.commands // 4, args.commands // 2):
            journal = work / f"snapshots-{n}"
            generate(cfg, journal, n, SNAPSHOT_EVERY)
            seconds, health, replayed = restart(cfg, journal, SNAPSHOT_EVERY)
            result["restart_s_by_commands_with_snapshots"][str(n)] = round(seconds, 3)
            print(f"snapshots, {n:,} commands: restart to Health {seconds:.3f} s ({health.orders:,} orders, "
                  f"{replayed['frames']:,} frames replayed)", flush=True)
            shutil.rmtree(journal)
        result["restart_s_by_commands_with_snapshots"][str(args.commands)] = round(
            sorted(figures["snapshots"])[len(figures["snapshots"]) // 2], 3)
        result["restart_s_1m_commands"] = round(sorted(figures["snapshots"])[len(figures["snapshots"]) // 2], 3)
        result["restart_s_1m_commands_no_snapshots"] = round(sorted(figures["no_snapshots"])[len(figures["no_snapshots"]) // 2], 3)
        result["restart_s_all"] = {k: [round(x, 3) for x in v] for k, v in figures.items()}
        result["state"] = dict(zip(("last_seq", "orders", "open_positions", "halted"), states["snapshots"], strict=True))
        result["machine"] = machine()
        result["note"] = ("median of the runs; restart = process start to the first Health answer; the machine's "
                          f"{os.cpu_count()} cores are shared with other work, so figures vary between runs")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"restart after {args.commands:,} commands: {result['restart_s_1m_commands']:.3f} s with snapshots "
          f"(every {SNAPSHOT_EVERY:,}), {result['restart_s_1m_commands_no_snapshots']:.3f} s without")
    out = ROOT / "bench" / "results" / "exec_restart.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
