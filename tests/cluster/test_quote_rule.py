"""One rule for a quote at every entry point: a recorded file, the ingress agents and a single
``Tick`` refuse the same quotes for the same reason (rust_exec, the last line, applies it too:
rust_exec/tests). Prices are judged in the instrument's integer points, after rounding, so a price
that rounds to zero is non-positive everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from actors.ingress import IngressAgent
from cluster.adapters.feeds.files import DataFileError, FileSpec, load_market_files
from trading.errors import InvalidValue
from trading.market import Tick, TickBatch

S = 1_000_000_000
T0 = 1_772_409_600 * S

CASES = [  # bid, ask, volume: the reason, or "" for a valid quote
    ("1.08000", "1.08010", 1.0, ""),
    ("1.08000", "1.08000", 1.0, ""),                     # zero spread: valid
    ("1.08011", "1.08010", 1.0, "crossed quote"),
    ("0.000004", "1.08010", 1.0, "non-positive price"),  # rounds to 0 points at 5 decimals
    ("1.08000", "0.000004", 1.0, "non-positive price"),
    ("1.08000", "1.08010", -1.0, "NaN or negative volume"),
    ("1.08000", "1.08010", float("nan"), "NaN or negative volume"),
    ("1e15", "2e15", 1.0, "price out of range"),          # beyond the wire's integers
]


@pytest.mark.parametrize(("bid", "ask", "volume", "reason"), CASES)
def test_every_entry_point_refuses_the_same_quotes_for_the_same_reason(
        registry, eurusd, tmp_path, bid: str, ask: str, volume: float, reason: str) -> None:  # type: ignore[no-untyped-def]
    # a single Tick
    if reason:
        with pytest.raises(InvalidValue, match=reason):
            Tick(eurusd, T0, bid, ask, volume)
    else:
        Tick(eurusd, T0, bid, ask, volume)
    # a recorded file
    path = tmp_path / "ticks.csv"
    path.write_text(f"ts,symbol,bid,ask,volume\n{T0},EURUSD,{bid},{ask},{volume}\n")
    if reason:
        with pytest.raises(DataFileError, match=f"line 2: {reason}"):
            load_market_files([path], FileSpec(), registry, strict=True)
        with pytest.raises(DataFileError, match=f"line 2: {reason}.*nothing is left"):  # skipping leaves nothing
            load_market_files([path], FileSpec(), registry)
    else:
        assert len(load_market_files([path], FileSpec(), registry, strict=True).ticks) == 1
    # the ingress agents, on the quote in points as a feed delivers it (it cannot carry one out of range)
    if reason == "price out of range":
        return
    points = [int(round(float(p) * 100_000)) for p in (bid, ask)]
    batch = TickBatch(np.array([T0], np.int64), np.zeros(1, np.int16), np.array([points[0]], np.int64),
                      np.array([points[1]], np.int64), np.array([volume], np.float64))
    result = IngressAgent(registry, 60).process(batch)
    assert [d.reason for d in result.dead_letters] == ([reason] if reason else [])
