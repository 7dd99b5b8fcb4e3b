"""PNG charts of detected Wyckoff structure: prices, trading ranges, events and phases.

``chart(detection, path)`` draws the bars (candles up to a few thousand bars, a close line
beyond), the trading ranges as support/resistance bands from their climax to where price left
them, each event as a labelled marker at its own bar, the phases as a coloured strip, and
volume with its baseline underneath. ``labels`` (the truth of a generated scenario) can be
drawn too, as small grey ticks above the strip, to compare by eye.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from trading.wyckoff.detector import VOLUME_UNITS, Detection  # noqa: E402
from trading.wyckoff.machine import PHASES  # noqa: E402

SHORT = {
    "preliminary_support": "PS", "preliminary_supply": "PSY", "selling_climax": "SC", "buying_climax": "BC",
    "automatic_rally": "AR", "automatic_reaction": "AR", "secondary_test": "ST", "spring": "Spring",
    "upthrust": "UTAD", "sign_of_strength": "SOS", "sign_of_weakness": "SOW",
    "last_point_of_support": "LPS", "last_point_of_supply": "LPSY",
}
PHASE_COLOURS = {"": "#ffffff", "A": "#f4cccc", "B": "#fff2cc", "C": "#d9ead3", "D": "#cfe2f3", "E": "#d9d2e9"}
BULLISH = {"selling_climax", "automatic_rally", "spring", "sign_of_strength", "last_point_of_support",
           "preliminary_support"}


def chart(detection: Detection, path: str | Path, start: int = 0, end: int | None = None,
          title: str | None = None, labels: Iterable[tuple[str, int]] = ()) -> Path:
    """Draw bars ``start..end-1`` of a batch detection to a PNG at ``path``; returns the path.

    ``labels``: optional (event, bar index) truths to mark for comparison.
    """
    c = detection.columns.cols
    n = len(detection.columns)
    end = n if end is None else min(end, n)
    if not 0 <= start < end:
        raise ValueError(f"empty bar span {start}..{end} of {n} bars")
    scale = detection.scale
    idx = np.arange(start, end)
    o, h, lo, cl = (c[k][start:end] / scale for k in ("o", "h", "l", "c"))
    t = c["t"]
    fig, (ax, axp, axv) = plt.subplots(3, 1, figsize=(14, 8), sharex=True,
                                       gridspec_kw={"height_ratios": [6, 0.4, 1.6], "hspace": 0.05})
    if end - start <= 3000:
        up = cl >= o
        ax.vlines(idx, lo, h, color=np.where(up, "#2e7d32", "#c62828"), linewidth=0.6)
        ax.vlines(idx, np.minimum(o, cl), np.maximum(o, cl), color=np.where(up, "#2e7d32", "#c62828"), linewidth=2.2)
    else:
        ax.plot(idx, cl, color="#37474f", linewidth=0.6)
    bar_of = {int(ts): i for i, ts in enumerate(t[start:end].tolist(), start)}
    for r in detection.ranges:
        if r.climax is None or r.far is None:
            continue
        a = bar_of.get(r.climax.bar_ts_ns)
        b = r.end if r.end >= 0 else n - 1
        if a is None and not (start <= b < end):
            continue
        a = a if a is not None else start
        b = min(b, end - 1)
        sup, res = r.support / scale, r.resistance / scale
        ax.add_patch(Rectangle((a, sup), b - a, res - sup, facecolor="#90a4ae", alpha=0.12, edgecolor="none"))
        ax.hlines([sup, res], a, b, colors="#546e7a", linestyles="--", linewidth=0.8)
        ax.text(a, res, f" {r.kind or 'range'}", fontsize=7, color="#37474f", va="bottom")
    for ev in detection.events:
        i = bar_of.get(ev.bar_ts_ns)
        if i is None:
            continue
        bull = ev.event in BULLISH or (ev.event == "secondary_test" and ev.price <= cl[i - start])
        y = ev.price
        ax.scatter([i], [y], marker="^" if bull else "v", color="#1565c0" if bull else "#ad1457", s=28, zorder=3)
        ax.annotate(SHORT.get(ev.event, ev.event), (i, y), xytext=(0, -12 if bull else 8), textcoords="offset points",
                    ha="center", fontsize=7, color="#263238")
    for sig in detection.signals:
        i = bar_of.get(sig.ts_ns)
        if i is not None:
            ax.scatter([i], [float(sig.entry)], marker="*", s=90, color="#ff8f00", zorder=4)
            ax.hlines(float(sig.stop), i, min(i + 40, end - 1), colors="#c62828", linewidth=0.8)
            ax.hlines([float(x) for x in sig.targets], i, min(i + 40, end - 1), colors="#2e7d32", linewidth=0.8)
    ph = detection.phases[start:end]
    change = np.flatnonzero(np.r_[True, ph[1:] != ph[:-1]])
    for k, first in enumerate(change.tolist()):
        last = int(change[k + 1]) if k + 1 < len(change) else len(ph)
        name = PHASES[int(ph[first])]
        axp.add_patch(Rectangle((start + first, 0), last - first, 1, facecolor=PHASE_COLOURS[name], edgecolor="none"))
        if name and last - first > (end - start) / 60:
            axp.text(start + (first + last) / 2, 0.5, name, ha="center", va="center", fontsize=7)
    for name, i in labels:
        if start <= i < end:
            axp.vlines(i, 0.75, 1.0, color="#616161", linewidth=0.8)
            axp.text(i, 1.05, SHORT.get(name, name), fontsize=5, color="#616161", ha="center", va="bottom")
    axp.set_ylim(0, 1)
    axp.set_yticks([])
    axp.set_ylabel("phase", rotation=0, ha="right", va="center", fontsize=7)
    axv.bar(idx, c["v"][start:end] / VOLUME_UNITS, color="#78909c", width=0.8)
    axv.plot(idx, c["vbase"][start:end] / VOLUME_UNITS, color="#ef6c00", linewidth=0.8)
    axv.set_ylabel("volume", fontsize=8)
    ax.set_title(title or f"{detection.symbol}: Wyckoff structure, bars {start}-{end - 1}", fontsize=10)
    ax.set_ylabel("price", fontsize=8)
    ax.margins(x=0.005)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
