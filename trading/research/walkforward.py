"""Parameter grids and walk-forward windows.

A walk-forward splits time into consecutive windows: parameters are chosen on a training window and
judged on the test window right after it, never the reverse, and the next window moves on by the
test's length, so every test window is out of sample and no test window overlaps another.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trading.errors import InvalidValue


@dataclass(frozen=True, slots=True)
class Window:
    index: int
    train_from: int  # ns, inclusive
    train_to: int  # ns, exclusive; the test starts here
    test_to: int  # ns, exclusive

    @property
    def test_from(self) -> int:
        return self.train_to


MAX_WINDOWS = 1000


def _span(ns: int) -> str:
    hours = ns / 3.6e12
    return f"{hours / 24:g} d" if hours >= 48 else f"{hours:g} h"


def windows(start_ns: int, end_ns: int, train_ns: int, test_ns: int, anchored: bool = False,
            bar_ns: int = 1) -> list[Window]:
    """Consecutive (train, test) windows over [start, end): each test follows its training window and
    the next starts a test length later; ``anchored`` keeps every training window starting at
    ``start`` (growing), else it rolls with a fixed length. Only whole windows are made, at most
    ``MAX_WINDOWS``. Every edge lies on the grid of ``bar_ns`` from the epoch (the desk's bars), so
    no bar is split between a training stretch and its test: the lengths are whole bars (rounded
    down) and the first window starts at the first whole bar."""
    spec = f"{_span(train_ns)}:{_span(test_ns)}"
    if min(train_ns, test_ns) < max(bar_ns, 1):
        raise InvalidValue("walk-forward", spec, f"training and test must each be at least one bar ({_span(bar_ns)})")
    train_ns -= train_ns % bar_ns
    test_ns -= test_ns % bar_ns
    start_ns = -(-start_ns // bar_ns) * bar_ns
    if (end_ns - start_ns - train_ns) // test_ns > MAX_WINDOWS:
        raise InvalidValue("walk-forward", spec, f"more than {MAX_WINDOWS} windows over the {_span(end_ns - start_ns)} "
                                                 "of data: choose longer windows")
    out: list[Window] = []
    train_from = start_ns
    while True:
        train_to = (start_ns + train_ns + len(out) * test_ns) if anchored else train_from + train_ns
        test_to = train_to + test_ns
        if test_to > end_ns:
            break
        out.append(Window(len(out), start_ns if anchored else train_from, train_to, test_to))
        train_from += test_ns
    if not out:
        raise InvalidValue("walk-forward", spec, f"no whole training and test window fits in the "
                                                 f"{_span(max(end_ns - start_ns, 0))} of data")
    return out


def grid(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, in the axes' order (the last varies fastest)."""
    if not axes:
        return [{}]
    for name, values in axes.items():
        if len(values) == 0:
            raise InvalidValue(name, values, "an axis needs at least one value")
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(axes[n] for n in names))]
