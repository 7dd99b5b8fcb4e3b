# %% [markdown]
# # Which signals to trust: training, folds, and what the model learned
#
# `octet learn` reads every recorded signal with the features the desk knew at that instant and the
# outcome of its trades, trains XGBoost on Ray Train walk-forward (each fold trained on the samples
# before its test block, with an embargo), and promotes the model only when it beats the champion
# out of sample. This notebook does the same on generated samples where one feature is planted to
# predict a trade's success and the rest is noise, so it is plain whether the job finds it; point it
# at your store (`samples_from_store(engine)`) to learn from your own runs. With
# `OCTET_NOTEBOOK_SMALL=1` (the tests) it trains 1 trial on 1,200 samples.

# %%
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent if "__file__" in globals() else Path.cwd().resolve().parent
sys.path.insert(0, str(ROOT))

from cluster.config.settings import load_settings  # noqa: E402
from cluster.desk.topology import init_ray  # noqa: E402
from cluster.desk.trust import load_model  # noqa: E402
from cluster.research.learn import PLANTED, planted_samples, train  # noqa: E402
from cluster.storage.registry import ModelRegistry  # noqa: E402
from cluster.storage.store import SessionStore  # noqa: E402

SMALL = os.environ.get("OCTET_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("OCTET_NOTEBOOK_OUT") or ROOT / "notebooks" / "out")
OUT.mkdir(parents=True, exist_ok=True)
WORK = Path(tempfile.mkdtemp(prefix="octet-notebook-"))

# %% [markdown]
# ## Samples
# One row per signal: its features (the signal's Wyckoff evidence, the hour and weekday, the
# volatility regime, the accounts' headroom, recent results; `trading.trust.FEATURES`) and its outcome
# (`won`: its trades' R above 0). Here every feature is noise except the planted one.

# %%
samples = planted_samples(n=1_200 if SMALL else 6_000)
print(f"{len(samples):,} samples, win rate {samples['won'].mean():.2f}, planted: {PLANTED}")
print(samples.select("ts_ns", "won", "r", PLANTED, "climax.volume_ratio", "daily_fraction").head())

# %% [markdown]
# ## Train on Ray Train, walk-forward
# One Ray Tune trial per hyper-parameter set, each a Ray Train `XGBoostTrainer` run over every fold
# and a final model; the best trial becomes the challenger and, with no champion yet, it is promoted
# if it beats chance out of sample.

# %%
settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(WORK))
settings = settings.model_copy(update={"learning": settings.learning.model_copy(
    update={"folds": 3 if SMALL else 4, "tune_trials": 1 if SMALL else 3, "boost_rounds": 60 if SMALL else 150})})
init_ray(settings)
store = SessionStore.sqlite(WORK)
registry = ModelRegistry(store.engine, settings.models_path())
result = train(samples, settings, registry, progress=print)
print(("promoted: " if result.promoted else "not promoted: ") + result.verdict)

# %% [markdown]
# ## The folds, out of sample
# Each fold's AUC (0.5 is chance), Brier score, and the mean R of the trades the model would take
# (probability at or above `learning.skip_below`) against taking every signal.

# %%
folds = pl.DataFrame([{k: f[k] for k in ("index", "train_n", "n", "auc", "brier", "all_mean_r", "taken_mean_r", "taken_n")}
                      for f in result.challenger.folds])
print(folds)

# %% [markdown]
# ## What the model learned
# Feature importance (total gain of the splits on each feature) of the registered model, and its
# calibration: predicted probability against the observed win rate, per bin, over every fold's test block.

# %%
model = load_model(result.challenger.name, result.challenger.version, result.challenger.artifact)
gain = model.booster.get_score(importance_type="total_gain")
named = sorted(((model.features[int(k[1:])] if k.startswith("f") and k[1:].isdigit() else k, v)
                for k, v in gain.items()), key=lambda kv: -kv[1])[:12]
print("top features:", [n for n, _ in named[:3]])

bins: dict[float, list[float]] = {}
for f in result.challenger.folds:
    for b in f["calibration"]:
        bins.setdefault(b["bin"], [0, 0.0, 0.0])
        acc = bins[b["bin"]]
        acc[0] += b["n"]
        acc[1] += b["predicted"] * b["n"]
        acc[2] += b["observed"] * b["n"]
cal = sorted((k, v[1] / v[0], v[2] / v[0], v[0]) for k, v in bins.items() if v[0])

fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
axes[0].barh([n for n, _ in named][::-1], [v for _, v in named][::-1], color="#3b6ea5")
axes[0].set_title("feature importance (total gain)")
axes[1].plot([0, 1], [0, 1], color="#999", lw=1, ls="--")
axes[1].plot([c[1] for c in cal], [c[2] for c in cal], marker="o", color="#c0504d")
axes[1].set_xlabel("predicted probability")
axes[1].set_ylabel("observed win rate")
axes[1].set_title("calibration, out of sample")
axes[2].bar(folds["index"].to_list(), folds["auc"].to_list(), color="#4f9d69")
axes[2].axhline(0.5, color="#999", lw=1, ls="--")
axes[2].set_ylim(0.3, 1.0)
axes[2].set_xlabel("fold")
axes[2].set_title("AUC per fold (0.5 = chance)")
fig.tight_layout()
fig.savefig(OUT / "learning.png", dpi=110)
print(OUT / "learning.png")
assert named[0][0] == PLANTED, named[:3]  # the planted feature leads
assert np.mean(folds["auc"].to_list()) > 0.6

# %%
store.close()
