# %% [markdown]
# # Wyckoff structure: a research notebook
#
# Cells in the "percent" format: open it in VS Code / Jupyter (with jupytext) or run it whole with
# `.venv/bin/python notebooks/wyckoff_research.py [out_dir]`; the tests run it that way.
# It uses the batch mode (`trading.wyckoff.detect`) on polars frames, the same definitions the
# live actors use, and draws charts with `trading.wyckoff.chart.chart`.

# %%
import os
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent if "__file__" in globals() else Path.cwd().resolve().parent
sys.path.insert(0, str(ROOT))

from trading.wyckoff import WyckoffParams, detect  # noqa: E402
from trading.wyckoff.chart import chart  # noqa: E402
from trading.wyckoff.scenarios import SCALE, generate  # noqa: E402
from trading.wyckoff.scoring import Score  # noqa: E402

# charts: to $OCTET_NOTEBOOK_OUT, or the script's first argument, or notebooks/out
ARG = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") and "__file__" in globals() else None
OUT = Path(os.environ.get("OCTET_NOTEBOOK_OUT") or ARG or ROOT / "notebooks" / "out")
OUT.mkdir(parents=True, exist_ok=True)
params = WyckoffParams()

# %% [markdown]
# ## One labelled scenario as a polars frame
# A scenario is what a researcher would load from a bar file: one row per bar. `detect` takes
# such a frame (`start_ns, end_ns, open, high, low, close, volume`) and the price precision.

# %%
sc = generate(8)
bars = pl.DataFrame({
    "start_ns": sc.start_ns, "end_ns": sc.end_ns, "open": sc.open / SCALE, "high": sc.high / SCALE,
    "low": sc.low / SCALE, "close": sc.close / SCALE, "volume": sc.volume / 100,
})
d = detect(bars, "EURUSD", precision=5, params=params)
print(f"scenario {sc.seed}: {sc.kind}, {len(sc)} bars, spring planted: {sc.spring}, failed: {sc.failed}")

# %% [markdown]
# ## What was found, with the numbers behind each event

# %%
events = pl.DataFrame([
    {"event": e.event, "bar": sc.bar_of(e.bar_ts_ns), "known_at_bar": sc.bar_of(e.known_ns), "price": e.price,
     **{k: v for k, v in e.numbers}} for e in d.events
])
print(events.select("event", "bar", "known_at_bar", "price"))
print("planted:", [(lab.event, lab.bar) for lab in sc.labels])

# %% [markdown]
# ## Per-bar features and phases
# Volume-spread analysis (no demand / no supply / effort without result), the trend/range regime,
# the higher timeframe's regime and the phase as known at each bar.

# %%
frame = d.frame()
print(frame.group_by("phase").agg(pl.len().alias("bars"), pl.col("no_supply").sum(), pl.col("no_demand").sum(),
                                  pl.col("effort_no_result").sum()).sort("phase"))

# %% [markdown]
# ## The chart: ranges, events, phases (and the planted truth as grey ticks)

# %%
png = chart(d, OUT / "wyckoff_scenario_8.png", max(sc.structure[0] - 150, 0), sc.structure[1],
            labels=[(lab.event, lab.bar) for lab in sc.labels])
print("chart:", png)

# %% [markdown]
# ## Signals with their evidence

# %%
for s in d.signals:
    print(s.setup, s.side.name, "entry", s.entry, "stop", s.stop, "targets", s.targets, "confidence", s.confidence)
    for ev in s.evidence:
        print("   ", ev.event, dict(ev.numbers))

# %% [markdown]
# ## Accuracy on a few labelled scenarios (the benchmark runs 500: `bench/wyckoff_accuracy.py`)

# %%
score = Score()
for seed in range(200, 240):
    s = generate(seed)
    det = detect(pl.DataFrame({"start_ns": s.start_ns, "end_ns": s.end_ns, "open": s.open / SCALE,
                               "high": s.high / SCALE, "low": s.low / SCALE, "close": s.close / SCALE,
                               "volume": s.volume / 100}), "EURUSD", 5, params)
    score.add(s, det.events, det.phases, det.ranges, kind=s.kind)
print(pl.DataFrame({"event": list(score.precision()), "precision": list(score.precision().values()),
                    "recall": [score.recall().get(e, 0.0) for e in score.precision()]}))
print("phase accuracy", score.phase_accuracy, "| structure kind right in", score.kind_hits, "of", score.kind_total)
