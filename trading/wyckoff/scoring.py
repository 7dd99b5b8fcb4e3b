"""Strict scoring of a detection against labelled truth (scenarios or hand-marked real bars).

- **Events** match at their own bar: a detected event is a true positive when an unmatched
  label of the same name has its bar within ``tolerance`` bars (3 by default) of the detected
  event's bar. Pairs are matched closest first, each label and each detection once. The
  **delay** of a match is the bars from the event's bar to the bar at which it became known
  (``known_ns``): what a trader waits before acting on it.
- **Phases**: the share of the truth's structure bars whose phase, as known at that bar, is the
  true one (bars with no true phase are not scored).
- **Signals** are followed on the bars after the signal's bar: ``target`` when the first
  target trades before the stop, ``stop`` when the stop trades first (a bar that trades both
  counts as the stop), ``open`` when neither trades before the data ends. Each signal is
  counted by how it lies against the truth's structure at its bar: ``with`` its direction,
  ``against`` it, or ``outside`` any structure. The reward-to-risk to the first target is
  kept for every signal.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from trading.orders import Signal
from trading.wyckoff.machine import PHASES, TradingRange, WyckoffEvent
from trading.wyckoff.scenarios import Label

TOLERANCE = 3


class Truth(Protocol):
    """What a scorer needs of labelled bars (a ``Scenario``, or real bars with hand marks)."""

    @property
    def labels(self) -> list[Label]: ...

    @property
    def phases(self) -> npt.NDArray[np.int8]:
        """The true phase of every bar (0 where none is known: not scored)."""
        ...

    @property
    def high(self) -> npt.NDArray[np.int64]: ...

    @property
    def low(self) -> npt.NDArray[np.int64]: ...

    def bar_of(self, ts_ns: int) -> int: ...

    def spans(self) -> list[tuple[int, int, int]]:
        """(first bar, last bar, direction) of each labelled structure."""
        ...


def match(detected: Sequence[int], labelled: Sequence[int], tolerance: int) -> list[tuple[int, int]]:
    """Pairs (index into detected, index into labelled), closest first, each used once."""
    pairs = sorted((abs(d - lab), i, j) for i, d in enumerate(detected) for j, lab in enumerate(labelled)
                   if abs(d - lab) <= tolerance)
    used_d: set[int] = set()
    used_l: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_d and j not in used_l:
            used_d.add(i)
            used_l.add(j)
            out.append((i, j))
    return out


def match_named(detected: Sequence[tuple[str, int]], labelled: Sequence[tuple[str, int]],
                tolerance: int) -> list[tuple[int, int]]:
    """``match`` for (event, bar) pairs: a detection matches only a label of its own name."""
    pairs = []
    for name in {n for n, _ in detected} & {n for n, _ in labelled}:
        di = [i for i, (n, _) in enumerate(detected) if n == name]
        lj = [j for j, (n, _) in enumerate(labelled) if n == name]
        pairs += [(di[i], lj[j]) for i, j in match([detected[k][1] for k in di], [labelled[k][1] for k in lj],
                                                    tolerance)]
    return pairs


def outcome(truth: Truth, signal: Signal, scale: int) -> str:
    """``target``, ``stop`` or ``open``: which of the first target and the stop trades first."""
    i = truth.bar_of(signal.ts_ns) + 1
    side = int(signal.side)
    stop = float(signal.stop) * scale
    target = float(signal.targets[0]) * scale
    hi, lo = truth.high[i:], truth.low[i:]
    stopped = (lo <= stop) if side > 0 else (hi >= stop)
    reached = (hi >= target) if side > 0 else (lo <= target)
    s = int(np.argmax(stopped)) if stopped.any() else len(hi)
    t = int(np.argmax(reached)) if reached.any() else len(hi)
    if s == t == len(hi):
        return "open"
    return "target" if t < s else "stop"


def reward_risk(signal: Signal) -> float:
    risk = abs(signal.entry - signal.stop)
    return float(abs(signal.targets[0] - signal.entry) / risk) if risk else 0.0


def alignment(spans: Iterable[tuple[int, int, int]], bar: int, side: int) -> str:
    for a, b, direction in spans:
        if a <= bar <= b:
            return "with" if side == direction else "against"
    return "outside"


@dataclass
class Score:
    """Event matches, delays, phase agreement and signal outcomes summed over truths."""

    tolerance: int = TOLERANCE
    true_positive: Counter[str] = field(default_factory=Counter)
    detected: Counter[str] = field(default_factory=Counter)
    labelled: Counter[str] = field(default_factory=Counter)
    delays: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    phase_hits: int = 0
    phase_bars: int = 0
    confusion: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    kind_hits: int = 0
    kind_total: int = 0
    signals: Counter[tuple[str, str]] = field(default_factory=Counter)  # (alignment, outcome)
    rr: list[float] = field(default_factory=list)
    truths: int = 0

    def add(self, truth: Truth, events: Iterable[WyckoffEvent], phases: npt.NDArray[np.int8] | None = None,
            ranges: Iterable[TradingRange] = (), signals: Iterable[Signal] = (), scale: int = 1,
            kind: str | None = None) -> None:
        """Score one detection. ``kind``: the truth's structure kind, checked against the last
        detected range whose climax lies in the truth's first structure."""
        self.truths += 1
        found = [e for e in events if not e.event.startswith("swing")]
        bars = [truth.bar_of(e.bar_ts_ns) for e in found]
        self.detected.update(e.event for e in found)
        self.labelled.update(lab.event for lab in truth.labels)
        for i, _ in match_named([(e.event, b) for e, b in zip(found, bars, strict=True)],
                                [(lab.event, lab.bar) for lab in truth.labels], self.tolerance):
            self.true_positive[found[i].event] += 1
            self.delays[found[i].event].append(truth.bar_of(found[i].known_ns) - bars[i])
        if phases is not None:
            inside = truth.phases > 0
            self.phase_bars += int(inside.sum())
            self.phase_hits += int((phases[inside] == truth.phases[inside]).sum())
            for t, d in zip(truth.phases[inside].tolist(), phases[inside].tolist(), strict=True):
                self.confusion[PHASES[t]][PHASES[d] or "-"] += 1
        spans = truth.spans()
        for s in signals:
            where = alignment(spans, truth.bar_of(s.ts_ns), int(s.side))
            self.signals[(where, outcome(truth, s, scale))] += 1
            self.rr.append(reward_risk(s))
        if kind is not None and spans:
            a, b, _ = spans[0]
            found_kind = next((r.kind for r in reversed(list(ranges)) if r.kind and r.climax is not None
                               and a <= truth.bar_of(r.climax.bar_ts_ns) <= b), None)
            self.kind_total += 1
            self.kind_hits += found_kind == kind

    def merge(self, other: Score) -> None:
        """Add another score's counts (scores of disjoint truths, e.g. from worker processes)."""
        for name in ("true_positive", "detected", "labelled", "signals"):
            getattr(self, name).update(getattr(other, name))
        for event, delays in other.delays.items():
            self.delays[event].extend(delays)
        for t, row in other.confusion.items():
            self.confusion[t].update(row)
        self.rr.extend(other.rr)
        for name in ("phase_hits", "phase_bars", "kind_hits", "kind_total", "truths"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def precision(self) -> dict[str, float]:
        return {e: round(self.true_positive[e] / n, 4) for e, n in sorted(self.detected.items()) if n}

    def recall(self) -> dict[str, float]:
        return {e: round(self.true_positive[e] / n, 4) for e, n in sorted(self.labelled.items()) if n}

    def delay(self) -> dict[str, dict[str, float]]:
        """Per event: the median and 90th percentile of bars from its bar to when it was known."""
        return {e: {"median": float(np.median(d)), "p90": float(np.percentile(d, 90))}
                for e, d in sorted(self.delays.items()) if d}

    @property
    def phase_accuracy(self) -> float:
        return round(self.phase_hits / self.phase_bars, 4) if self.phase_bars else 0.0

    @property
    def kind_accuracy(self) -> float:
        return round(self.kind_hits / self.kind_total, 4) if self.kind_total else 0.0

    def signal_report(self) -> dict[str, dict[str, float]]:
        """Per alignment: how many signals, and the share that reached the first target (of
        those that ended; ``open`` ones are counted apart)."""
        out = {}
        for where in ("with", "against", "outside"):
            n = {o: self.signals[(where, o)] for o in ("target", "stop", "open")}
            ended = n["target"] + n["stop"]
            out[where] = {"signals": sum(n.values()), **n,
                          "target_rate": round(n["target"] / ended, 4) if ended else 0.0}
        out["all"] = {"signals": sum(self.signals.values()),
                      "min_reward_risk": round(min(self.rr), 3) if self.rr else 0.0,
                      "median_reward_risk": round(float(np.median(self.rr)), 3) if self.rr else 0.0}
        return out
