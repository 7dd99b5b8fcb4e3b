"""How far two analysts' hand marks of the same real bars agree, scored as the detector is scored.

Each marked real set (the scored EURUSD hours and ``trading.wyckoff.realbars.TUNING_SETS``) has the
first analyst's marks; a second analyst marked them again blind (``SECOND``; the brief it was given is
``bench/data/second_marks_brief.md``: the same written definitions, its own charts, without the first
marks, the detector or its figures). The second's marks are scored against the first's with the
detector's strict matcher (an event of the same name at its own bar, +-3 bars, each mark matched once,
closest first): precision is the share of the second's marks the first also made, recall the share of
the first's the second also made. The shipped detector, and the same with its range gate off
(``--gate-min`` adds others), are scored in the same run against each analyst, against the marks both
made (recall only) and against either (precision only: the most lenient pairing, never a headline).
Prints its figures; a full run (every set, no ``--set`` or ``--gate-min``) writes
``bench/results/wyckoff_agreement.json``. Never fails on a number.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, write_results  # noqa: E402
from bench.wyckoff_accuracy import TARGET_EVENTS, detect_real  # noqa: E402
from trading.wyckoff import WyckoffParams  # noqa: E402
from trading.wyckoff.realbars import MARKS, SCALE, TUNING_SETS, MarkedTruth, MissingData, TuningSet, eurusd_h1, marked  # noqa: E402
from trading.wyckoff.scoring import TOLERANCE, match_named  # noqa: E402

DATA = ROOT / "bench" / "data"
SECOND = {"scored": DATA / "eurusd_h1_marks_second.json", "early": DATA / "eurusd_h1_early_marks_second.json",
          "goog": DATA / "goog_d1_marks_second.json", "googl": DATA / "googl_d1_late_marks_second.json"}
# every marked real set: the scored one (its second marks change nothing the detector is scored on) and the tuning ones
SETS = (TuningSet("scored", "EURUSD H1 Apr 2017-Feb 2018 (the scored set)", eurusd_h1, MARKS), *TUNING_SETS)
# the shipped detector, and with its range gate off (what docs/operators.md offers for real charts)
DETECTORS = {"shipped": WyckoffParams(), "gate_off": dataclasses.replace(WyckoffParams(), gate_min=0.0)}
LOOSE = 10  # a looser tolerance, printed beside the strict one for context (never the headline)
CHARTS = ROOT / "docs" / "img" / "wyckoff" / "agreement"
CSU = "climaxes_springs_upthrusts"  # the four events issue 19's targets name, together
# the stretches the first analyst's method texts name as left unmarked (trending, or small flags), where they
# name dates; the second analyst's brief did not name them (second_marks_brief.md). GOOG's and GOOGL's texts
# name whole years' advances and declines only loosely, so none is taken from them.
NAMED_UNMARKED = {"scored": (("2017-07-27", "2017-07-31"), ("2017-11-15", "2017-11-27")),
                  "early": (("2017-02-07", "2017-02-14"), ("2017-03-16", "2017-03-24"), ("2017-04-03", "2017-04-07"))}


def agreement(first: list[tuple[str, int]], second: list[tuple[str, int]], tolerance: int,
              with_precision: bool = True) -> dict[str, Any]:
    """``second`` scored against ``first``: per event name and over ``TARGET_EVENTS`` together
    (``with_precision`` false: recall only, where ``first`` is a subset a detection may rightly miss)."""
    pairs = match_named(second, first, tolerance)
    out: dict[str, Any] = {}
    names = sorted({n for n, _ in first} | {n for n, _ in second})
    for group, wanted in [*((n, {n}) for n in names), (CSU, set(TARGET_EVENTS))]:
        n_first = sum(n in wanted for n, _ in first)
        n_second = sum(n in wanted for n, _ in second)
        both = sum(second[i][0] in wanted for i, _ in pairs)
        out[group] = {"first": n_first, "second": n_second, "both": both,
                      "precision": round(both / n_second, 4) if n_second and with_precision else None,
                      "recall": round(both / n_first, 4) if n_first else None}
    return out


def precision_either(first: list[tuple[str, int]], second: list[tuple[str, int]],
                     seen: list[tuple[str, int]]) -> dict[str, Any]:
    """Of the detector's climaxes, springs and upthrusts, how many either analyst also made (matched to the
    first's marks, then what is left to the second's): a looser view, printed beside the strict ones."""
    wanted = set(TARGET_EVENTS)
    mine = [x for x in seen if x[0] in wanted]
    by_first = {i for i, _ in match_named(mine, first, TOLERANCE)}
    rest = [x for i, x in enumerate(mine) if i not in by_first]
    both = len(by_first) + len(match_named(rest, second, TOLERANCE))
    return {"detected": len(mine), "either": both, "precision": round(both / len(mine), 4) if mine else None}


def agreed(first: list[tuple[str, int]], second: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The first's climaxes, springs and upthrusts the second also made (as the first placed them)."""
    mine = [x for x in first if x[0] in set(TARGET_EVENTS)]
    return [mine[j] for _, j in match_named(second, mine, TOLERANCE)]


def ranges_overlap(a: MarkedTruth, b: MarkedTruth) -> dict[str, Any]:
    """Of ``a``'s ranges, how many a range of ``b`` with the same direction overlaps, and the best overlap's
    share of the two spans together (intersection over union, first event to last)."""
    best = []
    for r in a.ranges:
        ious = [(min(r.last, s.last) - max(r.first, s.first) + 1) / (max(r.last, s.last) - min(r.first, s.first) + 1)
                for s in b.ranges if s.direction == r.direction and s.first <= r.last and r.first <= s.last]
        best.append(max(ious, default=0.0))
    return {"ranges": len(a.ranges), "overlapped": sum(x > 0 for x in best),
            "half_overlapped": sum(x >= 0.5 for x in best),
            "mean_best_iou": round(sum(best) / len(best), 4) if best else None}


def events(truth: MarkedTruth, confidence: str | None = None) -> list[tuple[str, int]]:
    """Every mark as (event, bar); with ``confidence``, only those of ranges marked with it, each mark counted
    with one range (where two ranges share its bar, the later one: the climax that starts it)."""
    if confidence is None:
        return [(lab.event, lab.bar) for lab in truth.labels]
    out = []
    for lab in truth.labels:
        home = [r for r in truth.ranges if r.first <= lab.bar <= r.last]
        if home and max(home, key=lambda r: r.first).confidence == confidence:
            out.append((lab.event, lab.bar))
    return out


def recall_by_confidence(first: MarkedTruth, second: MarkedTruth) -> dict[str, Any]:
    """Of the first's climaxes, springs and upthrusts in its ranges of each confidence, how many the second made."""
    out = {}
    for level in ("high", "medium", "low"):
        mine = events(first, level)
        if any(n in TARGET_EVENTS for n, _ in mine):
            out[level] = agreement(mine, events(second), TOLERANCE, with_precision=False)[CSU]
    return out


def outside(marks: list[tuple[str, int]], times: list[str], spans: tuple[tuple[str, str], ...]) -> list[tuple[str, int]]:
    """``marks`` less those on a day within one of ``spans`` (first and last day, inclusive)."""
    return [(n, b) for n, b in marks if not any(a <= times[b][:10] <= z for a, z in spans)]


def hits(first: list[tuple[str, int]], second: list[tuple[str, int]]) -> tuple[set[int], set[int]]:
    """Which of ``first``'s and of ``second``'s marks the other also made (indices), as ``agreement`` pairs them."""
    pairs = match_named(second, first, TOLERANCE)
    return {j for _, j in pairs}, {i for i, _ in pairs}


def load_marks(bars: Any, path: Path) -> MarkedTruth:
    """``marked``, or one line and exit 2 when the file cannot be read or names a bar or an event there is not."""
    try:
        return marked(bars, path)
    except (OSError, ValueError, KeyError, TypeError) as e:  # json.JSONDecodeError is a ValueError
        raise SystemExit(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
                         f"{str(e).strip(chr(39)) or type(e).__name__}") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", dest="sets", action="append", choices=sorted(SECOND),
                    help="a set with a second analyst's marks (default: every one)")
    ap.add_argument("--gate-min", action="append", type=float, default=[], metavar="X",
                    help="also score the detector with gate_min X (0 < X < 1; repeatable)")
    ap.add_argument("--charts", action="store_true", help=f"a chart of each set's two sets of marks in {CHARTS}")
    args = ap.parse_args()
    if not all(0 < g < 1 for g in args.gate_min):
        ap.error("--gate-min takes values between 0 and 1 (0 is gate_off, already scored)")
    detectors = {**DETECTORS, **{f"gate_{g:g}": dataclasses.replace(WyckoffParams(), gate_min=g) for g in args.gate_min}}
    out: dict[str, Any] = {"tolerance_bars": TOLERANCE, "loose_tolerance_bars": LOOSE,
                           "what": "the second analyst's marks scored against the first's (precision: share of the "
                                   "second's marks the first also made; recall: share of the first's the second also "
                                   "made), and the detector against each, against the marks both made (recall only) "
                                   "and against either (precision only)", "sets": {}}
    for ts in SETS:
        if ts.key not in SECOND or (args.sets and ts.key not in args.sets):
            continue
        try:
            bars = ts.load()
        except MissingData as e:
            print(f"{ts.name} skipped: {e}")
            continue
        first, second = load_marks(bars, ts.marks), load_marks(bars, SECOND[ts.key])
        r = score_set(ts, bars, first, second, detectors)
        out["sets"][ts.key] = r
        if args.charts:
            draw(CHARTS / f"{ts.key}.png", ts.name, bars, first, second)
        print_set(ts.name, len(bars), first, second, r, detectors)
    tuning = {k: v for k, v in out["sets"].items() if k != "scored"}
    for name, sets in (("pooled", out["sets"]), ("pooled_tuning_sets", tuning)):
        if len(sets) < 2:
            continue
        out[name] = pooled(sets, detectors)
        for key, v in out[name].items():
            print(f"{', '.join(sets)} together: {key}: {v['both']} agree of {v['first']} (the reference's) "
                  f"and {v['second']}; precision/recall {fmt(v)}")
    if args.sets or args.gate_min or len(out["sets"]) < len(SECOND):
        print("(a partial run: bench/results/wyckoff_agreement.json keeps the last full run's figures)")
        return
    out["machine"] = machine()
    print(f"-> {write_results('wyckoff_agreement', out).relative_to(ROOT)}")


def detected(bars: Any, truth: MarkedTruth, params: WyckoffParams) -> list[tuple[str, int]]:
    """The detector's structure events on real ``bars`` as (event, bar), as the marks are (swings left out)."""
    return [(e.event, truth.bar_of(e.bar_ts_ns)) for e in detect_real(bars, params).events
            if not e.event.startswith("swing")]


def score_set(ts: TuningSet, bars: Any, first: MarkedTruth, second: MarkedTruth,
              detectors: dict[str, WyckoffParams]) -> dict[str, Any]:
    """One set's figures: the second against the first, the ranges, and each detector against both."""
    seen = {name: detected(bars, first, params) for name, params in detectors.items()}
    f, s = events(first), events(second)
    r: dict[str, Any] = {
        "name": ts.name, "bars": len(bars), "first": str(ts.marks.relative_to(ROOT)),
        "second": str(SECOND[ts.key].relative_to(ROOT)),
        "second_vs_first": agreement(f, s, TOLERANCE), "second_vs_first_loose": agreement(f, s, LOOSE),
        "first_recalled_by_confidence": recall_by_confidence(first, second),
        "ranges_first_in_second": ranges_overlap(first, second),
        "ranges_second_in_first": ranges_overlap(second, first),
        **{f"{name}_vs_{who}": agreement(marks, seen[name], TOLERANCE)
           for name in detectors for who, marks in (("first", f), ("second", s))},
        **{f"{name}_vs_either": precision_either(f, s, seen[name]) for name in detectors},
        **{f"{name}_vs_agreed": agreement(agreed(f, s), seen[name], TOLERANCE, with_precision=False)
           for name in detectors}}
    if ts.key in NAMED_UNMARKED:
        spans = NAMED_UNMARKED[ts.key]
        r["named_unmarked"] = [list(x) for x in spans]
        r["second_vs_first_outside_named_unmarked"] = agreement(
            outside(f, bars.times, spans), outside(s, bars.times, spans), TOLERANCE)
    return r


def print_set(name: str, n: int, first: MarkedTruth, second: MarkedTruth, r: dict[str, Any],
              detectors: dict[str, WyckoffParams]) -> None:
    print(f"\n{name} ({n} bars): {len(first.ranges)} ranges / {len(first.labels)} events marked first, "
          f"{len(second.ranges)} / {len(second.labels)} second")
    rf, rs = r["ranges_first_in_second"], r["ranges_second_in_first"]
    print(f"  ranges: {rf['overlapped']} of the first's {rf['ranges']} overlap one of the second's of the same "
          f"direction ({rf['half_overlapped']} with intersection over union 0.5 or more); {rs['overlapped']} of the "
          f"second's {rs['ranges']} overlap one of the first's")
    by = r["first_recalled_by_confidence"]
    print("  the first's climaxes, springs and upthrusts the second also made, by the first's confidence: " + ", ".join(
        f"{level} {v['both']} of {v['first']}" for level, v in by.items()))
    if "second_vs_first_outside_named_unmarked" in r:
        v = r["second_vs_first_outside_named_unmarked"][CSU]
        print(f"  outside the stretches the first's method names as left unmarked: {v['both']} agree of {v['first']} "
              f"and {v['second']}; precision/recall {fmt(v)}")
    print("  the detector's climaxes, springs and upthrusts either analyst also made: " + ", ".join(
        f"{d} {r[f'{d}_vs_either']['either']} of {r[f'{d}_vs_either']['detected']}" for d in detectors))
    print("  the marks both analysts made (climaxes, springs, upthrusts) the detector found: " + ", ".join(
        f"{d} {r[f'{d}_vs_agreed'][CSU]['both']} of {r[f'{d}_vs_agreed'][CSU]['first']}" for d in detectors))
    print(f"  {'event':28s} {'first':>5s} {'second':>6s} {'both':>4s}  precision/recall at +-{TOLERANCE}"
          f"  (+-{LOOSE})   detector vs first / vs second at +-{TOLERANCE}: {', '.join(detectors)}")
    strict, loose = r["second_vs_first"], r["second_vs_first_loose"]
    for event, s in strict.items():
        dets = "   ".join(f"{fmt(r[f'{d}_vs_first'].get(event))} / {fmt(r[f'{d}_vs_second'].get(event))}"
                           for d in detectors)
        print(f"  {event:28s} {s['first']:5d} {s['second']:6d} {s['both']:4d}  {fmt(s)}  ({fmt(loose[event])})   {dets}")


def pooled(sets: dict[str, Any], detectors: dict[str, WyckoffParams] = DETECTORS) -> dict[str, Any]:
    """The climaxes, springs and upthrusts of ``sets`` together: the second against the first, and each
    detector against each analyst and against the marks both made."""
    group = CSU
    keys = ["second_vs_first", *(f"{d}_vs_{who}" for d in detectors for who in ("first", "second", "agreed"))]
    out = {}
    for key in keys:
        n = {f: sum(r[key][group][f] for r in sets.values()) for f in ("first", "second", "both")}
        # against the marks both made, only recall means something: a detection of a mark one analyst made is not wrong
        out[key] = {**n, "precision": round(n["both"] / n["second"], 4) if n["second"] and "agreed" not in key else None,
                    "recall": round(n["both"] / n["first"], 4) if n["first"] else None}
    return out


def draw(path: Path, title: str, bars: Any, first: MarkedTruth, second: MarkedTruth) -> None:
    """The closes, each analyst's ranges as a strip (first above, second below) and their climaxes, springs and
    upthrusts: filled where the other made the same event within the tolerance, hollow where not."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from trading.wyckoff.chart import SHORT

    close, hi, lo = bars.close / SCALE, bars.high / SCALE, bars.low / SCALE
    fig, ax = plt.subplots(figsize=(16, 5.5))
    ax.plot(np.arange(len(close)), close, color="#607d8b", linewidth=0.6)
    top, bottom, span = float(hi.max()), float(lo.min()), float(hi.max() - lo.min())
    mine = [[x for x in events(t) if x[0] in set(TARGET_EVENTS)] for t in (first, second)]
    hit = hits(mine[0], mine[1])
    for who, (truth, marks, y, colour) in enumerate(((first, mine[0], top + 0.06 * span, "#1565c0"),
                                                     (second, mine[1], bottom - 0.06 * span, "#ef6c00"))):
        for r in truth.ranges:
            ax.hlines(y + (0.03 if who == 0 else -0.03) * span, r.first, r.last, colors=colour, linewidth=4, alpha=0.5)
        for k, (name, bar) in enumerate(marks):
            price = hi[bar] if name in ("buying_climax", "upthrust") else lo[bar]
            ax.scatter([bar], [price], marker="v" if who == 0 else "^", s=46, zorder=3, linewidths=1.2,
                       facecolors=colour if k in hit[who] else "none", edgecolors=colour)
            ax.annotate(SHORT[name], (bar, price), xytext=(0, 9 if who == 0 else -13), textcoords="offset points",
                        fontsize=6.5, ha="center", color=colour)
    ticks = np.linspace(0, len(close) - 1, 9).astype(int)
    ax.set_xticks(ticks, [bars.times[i][:10] for i in ticks], fontsize=8)
    ax.set_title(f"{title}: first analyst (blue, ranges above) and second (orange, below); SC, BC, springs, UTADs "
                 f"filled where both marked them (+-{TOLERANCE} bars), hollow where one did", fontsize=9)
    ax.margins(x=0.01)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt(s: dict[str, Any] | None) -> str:
    if s is None:
        return "   -/-   "
    p, r = s["precision"], s["recall"]
    return f"{'-' if p is None else f'{p:.2f}':>4s}/{'-' if r is None else f'{r:.2f}':<4s}"


if __name__ == "__main__":
    main()
