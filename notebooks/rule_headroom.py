# %% [markdown]
# # Rule headroom: how close did each account come to its firm's limits?
#
# A run of the demo's desk (two accounts under different firm rules), in this process, recorded in a
# SQLite store; then its headroom records read back as `octet report` reads them: the room left to the
# daily and the maximum loss limits had every open stop been hit (the ComplianceAgent's worst case),
# over time, its closest calls, how much of the daily limit was in use, and at which hours of the
# firm's day. With `OCTET_NOTEBOOK_SMALL=1` (the tests) it runs on 60,000 ticks.

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

from cluster.adapters.feeds.paced import replay_ticks  # noqa: E402
from cluster.config.settings import load_settings  # noqa: E402
from cluster.desk.session import Session  # noqa: E402
from cluster.research.report import closest_call, load_run  # noqa: E402
from cluster.storage.store import open_store  # noqa: E402

SMALL = os.environ.get("OCTET_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("OCTET_NOTEBOOK_OUT") or ROOT / "notebooks" / "out")
OUT.mkdir(parents=True, exist_ok=True)
WORK = Path(tempfile.mkdtemp(prefix="octet-notebook-"))

# %% [markdown]
# ## A recorded run

# %%
settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(WORK), session__ticks=60_000 if SMALL else 200_000)
store = open_store(settings)
result = Session(settings, store, in_process=True).run(replay_ticks(settings))
run = load_run(store.engine, result.run_id)
print(f"run {run.run_id}: {run.ticks:,} ticks, accounts {', '.join(run.accounts)}")

# %% [markdown]
# ## Headroom over time, per account

# %%
frames = []
for acc in run.accounts.values():
    frames.append(pl.DataFrame({
        "account": [acc.account_id] * len(acc.headroom),
        "ts_ns": [h[0] for h in acc.headroom],
        "daily": [float(h[3]) if h[3] is not None else None for h in acc.headroom],
        "max_loss": [float(h[4]) for h in acc.headroom],
    }, schema={"account": pl.Utf8, "ts_ns": pl.Int64, "daily": pl.Float64, "max_loss": pl.Float64}))
headroom = pl.concat(frames).with_columns(pl.from_epoch("ts_ns", time_unit="ns").dt.convert_time_zone(
    "America/New_York").alias("new_york"))
print(headroom.group_by("account").agg(pl.col("daily").min().alias("least daily room"),
                                       pl.col("max_loss").min().alias("least max-loss room"),
                                       pl.len().alias("records")))

# %% [markdown]
# ## The closest calls

# %%
for acc in run.accounts.values():
    print(acc.account_id, acc.firm, closest_call(acc))

# %% [markdown]
# ## Which hours of the firm's day used the daily room
# The daily limit in use at each record, as a share of the least room seen at the day's start,
# by hour of the New York day (most firms reset at 17:00 New York).

# %%
by_hour = (headroom.drop_nulls("daily")
           .with_columns(pl.col("new_york").dt.hour().alias("hour"),
                         (pl.col("daily") / pl.col("daily").max().over("account")).alias("room_left"))
           .group_by("account", "hour").agg(pl.col("room_left").min().alias("least_room_left"))
           .sort("account", "hour"))
print(by_hour)

# %%
fig, axes = plt.subplots(len(run.accounts), 1, figsize=(10, 2.8 * len(run.accounts)), squeeze=False)
for ax, (account, part) in zip(axes[:, 0], headroom.partition_by("account", as_dict=True).items(), strict=False):
    ax.plot(part["new_york"].to_list(), part["max_loss"].to_list(), lw=1, label="max loss room")
    if part["daily"].drop_nulls().len():
        ax.plot(part["new_york"].to_list(), part["daily"].to_list(), lw=1, label="daily loss room")
    ax.axhline(0, color="#c33", lw=0.8)
    ax.set_title(f"{account[0]}: room to the limits, every open stop hit (New York time)", fontsize=9)
    ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(OUT / "rule_headroom.png", dpi=100)
print(f"chart: {OUT / 'rule_headroom.png'}")
store.close()
