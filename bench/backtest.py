"""Backtest speed: Octet's backtest against backtesting.py and nautilus_trader on the same data, in
one run, each engine in its own process (its imports and loading in its wall time), alternating
engine by engine for ``--rounds`` rounds so that the machine's drift falls on all; the best round
of each is kept and the ratios are of those.

(a) the SMA 10/30 crossover with a fixed 20-pip stop, always in the market, on ``--bars`` generated
    hourly EURUSD bars (a seeded random walk, FX hours only, no costs): Octet (`octet backtest` with
    tests/data/sma_reference.yaml: one account whose rules refuse nothing, the bars as quotes by its
    intra-bar model), backtesting.py (the same strategy, market orders at the next bar's open: the
    trade list tests/integration/test_cross_engine.py holds equal to Octet's), nautilus_trader (its
    example EMACross 10/30, the bars as quotes by its own wrangler);
(b) ``--ticks`` generated quotes of EURUSD, GBPUSD and USDJPY: Octet's backtest with its Wyckoff
    strategy and every account, and nautilus_trader's BacktestEngine with EMACross on 1-minute bars
    of each pair;
(c) Octet's backtest with the Wyckoff strategy on the bars of (a): bars a second.

Octet and backtesting.py make the same trades on (a) (the trade counts are printed beside the
figures). Otherwise not like for like: Octet's run goes through the whole desk (risk, correlation, compliance with firm rules, the audit record, a SQLite store, rust_exec
over gRPC), where the peers only simulate the orders. The trade counts are printed beside the
figures. nautilus_trader is installed into its own virtual environment (``--peers``, made with uv on
first use: about 600 MB); ``--no-nautilus`` skips it.

Prints the figures and writes bench/results/backtest.json; never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, write_results  # noqa: E402

NAUTILUS = "nautilus_trader==1.221.0"
REFERENCE = ROOT / "tests" / "data" / "sma_reference.yaml"  # the cross-engine set-up of (a)
PY = sys.executable


def make_bars(n: int, out: Path, seed: int = 1) -> None:
    """``n`` hourly EURUSD bars of a seeded random walk, in FX hours only (Octet's bar format)."""
    import numpy as np
    import polars as pl

    from trading.market import fx_market_closed

    rng = np.random.default_rng(seed)
    start = 1_577_923_200_000_000_000  # Thursday 2 January 2020, 00:00 UTC
    ts = start + np.arange(int(n * 1.5) + 200, dtype=np.int64) * 3_600_000_000_000
    ts = ts[~fx_market_closed(ts)][:n]
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 0.0015, n)))
    open_ = np.r_[1.1, close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0008, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0008, n)))
    pl.DataFrame({"ts": ts, "symbol": "EURUSD", "open": open_.round(5), "high": high.round(5), "low": low.round(5),
                  "close": close.round(5), "volume": rng.integers(100, 1000, n).astype(float)}).write_parquet(out)


def peers_python(venv: Path) -> Path:
    """The peer venv's interpreter, with nautilus_trader (made with uv on first use)."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import nautilus_trader"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    print(f"installing {NAUTILUS} into {venv} (first use; ~600 MB) ...", flush=True)
    subprocess.run([uv, "venv", "-q", "-p", "3.11", str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(python), NAUTILUS], check=True)
    return python


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return wall, out.stdout


def octet(data: Path, work: Path, *args: str, config: Path = ROOT / "octet.yaml") -> dict[str, Any]:
    """`octet backtest` on ``data``; wall_s from the command's start to its exit."""
    var = work / "octet-var"
    shutil.rmtree(var, ignore_errors=True)
    env = {**os.environ, "OCTET_RUNTIME__DATA_DIR": str(var), "COLUMNS": "200"}
    wall, _ = timed([str(ROOT / ".venv" / "bin" / "octet"), "backtest", "--config", str(config),
                     "--data", str(data), *args], env)
    summary = json.loads((var / "last_session.json").read_text())
    return {"engine": "octet", "wall_s": wall, "loop_s": summary["elapsed_s"], "ticks": summary["ticks"],
            "signals": summary["signals"], "orders": summary["orders"], "trades": summary["trades"]}


def peer(python: Path, script: str, *args: str) -> dict[str, Any]:
    wall, out = timed([str(python), str(ROOT / "bench" / "peers" / script), *args])
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    return result


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda r: r["loop_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--ticks", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--peers", type=Path, default=ROOT / "var" / "bench-peers")
    ap.add_argument("--no-nautilus", action="store_true")
    args = ap.parse_args()
    if args.bars < 100 or args.ticks < 1000 or args.rounds < 1:
        ap.error("--bars at least 100, --ticks at least 1000, --rounds at least 1")
    nautilus = None if args.no_nautilus else peers_python(args.peers)
    with tempfile.TemporaryDirectory(prefix="octet-bench-backtest-") as tmp:
        work = Path(tmp)
        bars, ticks = work / "bars.parquet", work / "ticks.parquet"
        make_bars(args.bars, bars)
        subprocess.run([str(ROOT / ".venv" / "bin" / "octet"), "generate", str(ticks), "--ticks", str(args.ticks),
                        "--config", str(ROOT / "octet.yaml")], check=True, capture_output=True, cwd=ROOT)
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in ("a_octet", "a_backtesting", "a_nautilus", "b_octet",
                                                                  "b_nautilus", "c_octet_wyckoff")}
        one = ("--accounts", "ftmo-100k", "--bar-seconds", "3600")
        for r in range(args.rounds):
            print(f"round {r + 1} of {args.rounds}: (a) {args.bars:,} bars", flush=True)
            runs["a_octet"].append(octet(bars, work, "--no-report", config=REFERENCE))
            runs["a_backtesting"].append(peer(Path(PY), "backtesting_run.py", str(bars)))
            if nautilus is not None:
                runs["a_nautilus"].append(peer(nautilus, "nautilus_run.py", "bars", str(bars)))
            print(f"round {r + 1} of {args.rounds}: (b) {args.ticks:,} ticks, (c)", flush=True)
            runs["b_octet"].append(octet(ticks, work))
            if nautilus is not None:
                runs["b_nautilus"].append(peer(nautilus, "nautilus_run.py", "ticks", str(ticks)))
            runs["c_octet_wyckoff"].append(octet(bars, work, "--strategy", "wyckoff", *one))
    a_o, a_b = best(runs["a_octet"]), best(runs["a_backtesting"])
    b_o, c_o = best(runs["b_octet"]), best(runs["c_octet_wyckoff"])
    a_n = best(runs["a_nautilus"]) if runs["a_nautilus"] else None
    b_n = best(runs["b_nautilus"]) if runs["b_nautilus"] else None
    n = args.bars
    figures: dict[str, Any] = {
        "a_bars_per_s": {"octet": n / a_o["loop_s"], "backtesting.py": n / a_b["loop_s"],
                         **({"nautilus_trader": n / a_n["loop_s"]} if a_n else {})},
        "a_wall_s": {"octet": a_o["wall_s"], "backtesting.py": a_b["process_wall_s"],
                     **({"nautilus_trader": a_n["process_wall_s"]} if a_n else {})},
        "a_trades": {"octet": a_o["trades"], "octet_signals": a_o["signals"], "backtesting.py": a_b["trades"],
                     **({"nautilus_trader_orders": a_n["orders"]} if a_n else {})},
        "a_ratio_octet_to_backtesting_py": a_b["loop_s"] / a_o["loop_s"],
        "b_ticks_per_s": {"octet": args.ticks / b_o["loop_s"],
                          **({"nautilus_trader": args.ticks / b_n["loop_s"]} if b_n else {})},
        "b_wall_s": {"octet": b_o["wall_s"], **({"nautilus_trader": b_n["process_wall_s"]} if b_n else {})},
        "b_loop_s": {"octet": b_o["loop_s"], **({"nautilus_trader": b_n["loop_s"]} if b_n else {})},
        "b_orders": {"octet": b_o["orders"], **({"nautilus_trader": b_n["orders"]} if b_n else {})},
        "c_wyckoff_bars_per_s": n / c_o["loop_s"],
    }
    if a_n:
        figures["a_ratio_octet_to_nautilus"] = a_n["loop_s"] / a_o["loop_s"]
    if b_n:
        figures["b_ratio_octet_to_nautilus"] = b_n["loop_s"] / b_o["loop_s"]
    write_results("backtest", {
        "machine": machine(), "bars": n, "ticks": args.ticks, "rounds": args.rounds,
        "ratios": "best round of each engine, the rounds alternating engine by engine in one run; a ratio "
                  "above 1 means Octet is faster",
        "figures": figures, "runs": runs,
        "versions": {"nautilus_trader": NAUTILUS.split("==")[1] if nautilus else None},
    })


if __name__ == "__main__":
    main()
