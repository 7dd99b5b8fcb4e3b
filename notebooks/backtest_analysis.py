# %% [markdown]
# # A backtest on real data, analysed
#
# Real EURUSD hourly bars (the 5,000 that backtesting.py ships, April 2017 to February 2018) read as a
# recorded file is (`octet data check`: judged row by row, bars to quotes by the intra-bar model), run
# through the desk's own agents in this process (the `octet backtest` kernel: risk, correlation,
# compliance with the firm's rules, rust_exec's paper venue), once with the SMA reference strategy and
# once with Wyckoff; then the trades: by strategy and setup, by exit, their R multiples and the equity.
# With `OCTET_NOTEBOOK_SMALL=1` (the tests) it runs on the first 1,500 bars.

# %%
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent if "__file__" in globals() else Path.cwd().resolve().parent
sys.path.insert(0, str(ROOT))

from cluster.adapters.feeds.paced import read_data_file  # noqa: E402
from cluster.config.settings import load_settings  # noqa: E402
from cluster.desk.session import Session  # noqa: E402
from trading.market import TickBatch  # noqa: E402
from trading.wyckoff.realbars import csv_path  # noqa: E402

SMALL = os.environ.get("OCTET_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("OCTET_NOTEBOOK_OUT") or ROOT / "notebooks" / "out")
OUT.mkdir(parents=True, exist_ok=True)
WORK = Path(tempfile.mkdtemp(prefix="octet-notebook-"))

# %% [markdown]
# ## The file, as the desk reads it
# backtesting.py's CSV has an unnamed time column (`#1`, by position), no zone (its bars are read as
# UTC here) and no spread: one of 1 pip is given.

# %%
settings = load_settings(
    ROOT / "octet.yaml", runtime__data_dir=str(WORK), session__data_file=str(csv_path()),
    session__data_format="generic", session__data_symbol="EURUSD", session__data_tz="UTC",
    session__data_columns={"ts": "#1", "open": "Open", "high": "High", "low": "Low", "close": "Close",
                           "volume": "Volume"},
    session__data_spread_points=10, session__bar_seconds=3600)
loaded = read_data_file(settings)
print("\n".join(loaded.reports[0].lines()))
ticks = loaded.ticks
if SMALL:
    n = 1_500 * 4
    ticks = TickBatch(ticks.ts[:n], ticks.inst[:n], ticks.bid[:n], ticks.ask[:n], ticks.volume[:n])
print(f"{len(ticks):,} quotes")

# %% [markdown]
# ## The same quotes through the desk, one strategy at a time

# %%
frames = []
for strategy in ("sma_cross", "wyckoff"):
    run_settings = settings.model_copy(update={"strategy": settings.strategy.model_copy(update={"default": strategy})})
    result = Session(run_settings, keep_records=True, in_process=True).run(ticks)
    setups = {s.signal_id: s.setup for s in result.signals}
    print(f"{strategy}: {result.counts['signals']} signals, {len(result.orders)} orders, {len(result.trades)} trades, "
          f"{result.ticks / result.elapsed_s:,.0f} quotes/s")
    frames.append(pl.DataFrame({
        "strategy": [strategy] * len(result.trades),
        "account": [t.account_id for t in result.trades],
        "setup": [setups.get(t.signal_id, "?") for t in result.trades],
        "exit_by": [t.reason.value for t in result.trades],
        "closed_ns": [t.closed_ns for t in result.trades],
        "pnl": [float(t.pnl) for t in result.trades],
        "r": [t.r_multiple for t in result.trades],
    }, schema={"strategy": pl.Utf8, "account": pl.Utf8, "setup": pl.Utf8, "exit_by": pl.Utf8, "closed_ns": pl.Int64,
               "pnl": pl.Float64, "r": pl.Float64}))
trades = pl.concat(frames)
trades.head()

# %% [markdown]
# ## By strategy and setup

# %%
by_setup = (trades.group_by("strategy", "setup")
            .agg(pl.len().alias("trades"), (pl.col("pnl") > 0).mean().alias("win_rate"),
                 pl.col("r").mean().alias("avg_r"), pl.col("pnl").sum().alias("net_pnl"))
            .sort("strategy", "trades", descending=[False, True]))
print(by_setup)

# %%
by_exit = trades.group_by("strategy", "exit_by").agg(pl.len().alias("trades"), pl.col("r").mean().alias("avg_r"))
print(by_exit.sort("strategy", "exit_by"))

# %% [markdown]
# ## R multiples and equity

# %%
fig, (ax_r, ax_eq) = plt.subplots(1, 2, figsize=(11, 3.6))
for strategy in ("sma_cross", "wyckoff"):
    part = trades.filter(pl.col("strategy") == strategy).sort("closed_ns")
    if part.height:
        ax_r.hist(part["r"].to_list(), bins=30, alpha=0.5, label=strategy)
        ax_eq.plot(range(part.height), part["pnl"].cum_sum().to_list(), label=strategy)
ax_r.set_xlabel("R multiple")
ax_r.legend()
ax_eq.set_xlabel("closed trade")
ax_eq.set_ylabel("cumulative P&L (account currency)")
ax_eq.legend()
fig.savefig(OUT / "backtest_analysis.png", dpi=100, bbox_inches="tight")
print(f"chart: {OUT / 'backtest_analysis.png'}")
