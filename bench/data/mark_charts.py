"""Charts for marking Wyckoff structures by hand in the real hourly EURUSD bars.

Usage (from the repo root):
  .venv/bin/python bench/data/mark_charts.py raw [STEP] [WIDTH]   # overlapping windows -> var/wyckoff/charts/real/raw_*.png
  .venv/bin/python bench/data/mark_charts.py zoom A B [OUT]       # one window of bars A..B (same folder, or OUT)
  .venv/bin/python bench/data/mark_charts.py marks                # one chart per range in eurusd_h1_marks.json
                                                                  # -> docs/img/wyckoff/real/marks_range_N.png

With ``--early`` first, the same for the tuning bars (realbars.eurusd_h1_early, Jan-Apr 2017) and
their marks (eurusd_h1_early_marks.json), charts in docs/img/wyckoff/real_early/ (raw and zoom ones in
var/wyckoff/charts/real_early/); with ``--goog``, Google's daily bars (realbars.goog_d1, 2004-2013),
goog_d1_marks.json, docs/img/wyckoff/real_goog/; with ``--googl``, Alphabet's later daily bars
(realbars.googl_d1_late, 2013-2018), googl_d1_late_marks.json, docs/img/wyckoff/real_googl/.

Only the bar loader (trading.wyckoff.realbars) is used; nothing of the detector.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import AutoMinorLocator, MultipleLocator  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from trading.wyckoff.realbars import TUNING_SETS, MissingData, eurusd_h1  # noqa: E402

OUT = ROOT / "docs" / "img" / "wyckoff" / "real"  # the marks' charts (committed)
WORK = ROOT / "var" / "wyckoff" / "charts" / "real"  # raw and zoom charts, for marking (not committed)
MARKS = ROOT / "bench" / "data" / "eurusd_h1_marks.json"
LOADER = eurusd_h1
NAME = "EURUSD H1"
SCALE = 1_000_000

SHORT = {
    "preliminary_support": "PS", "preliminary_supply": "PSY", "selling_climax": "SC", "buying_climax": "BC",
    "automatic_rally": "AR", "automatic_reaction": "AR", "secondary_test": "ST", "spring": "Spring",
    "upthrust": "UTAD", "sign_of_strength": "SOS", "sign_of_weakness": "SOW",
    "last_point_of_support": "LPS", "last_point_of_supply": "LPSY",
}


def load():
    b = LOADER()
    o, h, lo, c = (np.asarray(x, dtype=float) / SCALE for x in (b.open, b.high, b.low, b.close))
    v = np.asarray(b.volume, dtype=float) / 100
    return b, o, h, lo, c, v


def draw(a: int, z: int, path: Path, title: str = "", rng: dict | None = None, grid_step: float | None = None,
         size=(20, 10), dpi=90) -> None:
    b, o, h, lo, c, v = load()
    a, z = max(0, a), min(len(c), z)
    idx = np.arange(a, z)
    fig, (ax, axv) = plt.subplots(2, 1, figsize=size, dpi=dpi, sharex=True,
                                  gridspec_kw={"height_ratios": [3.2, 1], "hspace": 0.04})
    up = c[idx] >= o[idx]
    col = np.where(up, "#1a9850", "#d73027")
    n = z - a
    w = 0.7
    ax.vlines(idx, lo[idx], h[idx], color=col, linewidth=0.8 if n > 250 else 1.1)
    body_lo = np.minimum(o[idx], c[idx])
    body_h = np.maximum(np.abs(c[idx] - o[idx]), 1e-6)
    ax.bar(idx, body_h, bottom=body_lo, width=w, color=col, edgecolor=col, linewidth=0.3)
    lo_p, hi_p = lo[idx].min(), h[idx].max()
    span = hi_p - lo_p
    pad = span * 0.04
    if rng:
        ax.set_ylim(lo_p - span * 0.24, hi_p + span * 0.2)
    else:
        ax.set_ylim(lo_p - pad, hi_p + pad)
    if grid_step is None:
        for g in (0.0005, 0.001, 0.002, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100):
            if span / g <= 40:
                grid_step = g
                break
        else:
            grid_step = 100
    ax.yaxis.set_major_locator(MultipleLocator(grid_step))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.4f" if grid_step < 0.01 else "%.2f"))
    ax.yaxis.set_minor_locator(AutoMinorLocator(2))
    ax.grid(True, which="major", axis="y", linewidth=0.5, alpha=0.6)
    ax.grid(True, which="minor", axis="y", linewidth=0.3, alpha=0.3, linestyle=":")
    ax.tick_params(axis="y", labelsize=8, labelright=True, right=True)
    # volume
    axv.bar(idx, v[idx], width=w, color=col, alpha=0.8)
    ma = np.convolve(v, np.ones(20) / 20, mode="full")[: len(v)]
    ma[:19] = np.nan
    axv.plot(idx, ma[idx], color="#2b2bd6", linewidth=1.2, label="20-bar MA")
    axv.legend(loc="upper left", fontsize=8)
    axv.set_ylabel("tick vol")
    axv.grid(True, axis="y", linewidth=0.4, alpha=0.5)
    # x ticks: dates + bar index
    step = max(1, n // 25)
    step = next(s for s in (5, 10, 12, 20, 24, 25, 40, 48, 50, 100) if s >= step) if step <= 100 else step
    ticks = [i for i in idx if i % step == 0]
    axv.set_xticks(ticks)
    daily = b.times[0].endswith("00:00:00") and b.times[1].endswith("00:00:00")
    axv.set_xticklabels([f"{b.times[i][2:10] if daily else b.times[i][5:13]}\n#{i}" for i in ticks], fontsize=7)
    ax.grid(True, which="major", axis="x", linewidth=0.3, alpha=0.3)
    axv.set_xlim(a - 1, z)
    if rng:
        _annotate(ax, b, h, lo, rng, a, z)
    ax.set_title(title or f"{NAME} bars {a}-{z - 1}  ({b.times[a]} .. {b.times[z - 1]})", fontsize=11)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def _annotate(ax, b, h, lo, rng, a, z):
    s, e = b.index(rng["start"]), b.index(rng["end"])
    ax.hlines([rng["support"], rng["resistance"]], s, e, colors=["#1f4fbf", "#bf1f1f"], linestyles="--", linewidth=1.2)
    ax.axvspan(s - 0.5, e + 0.5, color="#f0e68c", alpha=0.15)
    span = ax.get_ylim()[1] - ax.get_ylim()[0]
    for k, ev in enumerate(rng["events"]):
        i = b.index(ev["time"])
        name = SHORT[ev["event"]]
        low_side = ev["event"] in ("preliminary_support", "selling_climax", "secondary_test", "spring",
                                   "last_point_of_support", "automatic_reaction", "sign_of_weakness")
        if ev["event"] == "secondary_test":
            low_side = abs(ev["price"] - lo[i]) <= abs(ev["price"] - h[i])
        off = span * (0.05 + 0.03 * (k % 2))
        y = ev["price"]
        ty = y - off if low_side else y + off
        ax.plot([i], [y], marker="^" if low_side else "v", color="black", markersize=7, zorder=5)
        ax.annotate(name, (i, y), (i, ty), ha="center", va="top" if low_side else "bottom", fontsize=9,
                    fontweight="bold", color="#4b0082", arrowprops={"arrowstyle": "-", "color": "#4b0082", "lw": 0.6})


def main(argv):
    try:
        run(argv)
    except (MissingData, ValueError, KeyError, IndexError) as e:
        raise SystemExit(f"mark_charts: {e}") from None


def run(argv):
    global OUT, WORK, MARKS, LOADER, NAME
    sets = {f"--{ts.key}": ts for ts in TUNING_SETS}
    if len(argv) > 1 and argv[1] in sets:
        ts = sets[argv[1]]
        argv = argv[:1] + argv[2:]
        OUT = ROOT / "docs" / "img" / "wyckoff" / f"real_{ts.key}"
        WORK = ROOT / "var" / "wyckoff" / "charts" / f"real_{ts.key}"
        MARKS, LOADER, NAME = ts.marks, ts.load, ts.name
    usage = f"usage: mark_charts.py [{'|'.join(sets)}] raw [STEP] [WIDTH] | zoom A B [OUT] | marks [ID ...]"
    if len(argv) > 1 and argv[1] not in ("raw", "zoom", "marks"):
        raise SystemExit(f"mark_charts: no mode {argv[1]!r}; {usage}")
    OUT.mkdir(parents=True, exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    mode = argv[1] if len(argv) > 1 else "raw"
    if mode == "raw":
        step = int(argv[2]) if len(argv) > 2 else 300
        width = int(argv[3]) if len(argv) > 3 else 400
        n = len(load()[0].times)
        for a in range(0, n, step):
            z = min(n, a + width)
            draw(a, z, WORK / f"raw_{a:04d}_{z - 1:04d}.png")
            if z == n:
                break
    elif mode == "zoom":
        if len(argv) < 4:
            raise SystemExit(f"mark_charts: zoom takes the first and last bar; {usage}")
        a, z = int(argv[2]), int(argv[3])
        n = len(load()[0].times)
        if not 0 <= a < z <= n:
            raise SystemExit(f"mark_charts: zoom {a} {z}: the bars are 0..{n}")
        out = Path(argv[4]) if len(argv) > 4 else WORK / f"zoom_{a:04d}_{z - 1:04d}.png"
        draw(a, z, out, size=(20, 10))
    elif mode == "marks":
        marks = json.loads(MARKS.read_text())
        b = load()[0]
        only = {int(x) for x in argv[2:]}
        for r in marks["ranges"]:
            if only and r["id"] not in only:
                continue
            idx = [b.index(ev["time"]) for ev in r["events"]]
            s, e = min([b.index(r["start"])] + idx), max([b.index(r["end"])] + idx)
            digits = 5 if r["resistance"] < 100 else 2
            title = (f"Range {r['id']}: {r['kind']} ({r['confidence']})  {r['start']} .. {r['end']}  "
                     f"support {r['support']:.{digits}f} resistance {r['resistance']:.{digits}f}")
            draw(s - 60, e + 61, OUT / f"marks_range_{r['id']}.png", title=title, rng=r, size=(20, 10), dpi=85)
    else:
        raise SystemExit(f"mark_charts: {usage}")


if __name__ == "__main__":
    main(sys.argv)
