"""The detector finds the planted structure and never looks ahead."""

from __future__ import annotations

from datetime import UTC, datetime

from cluster.feeds.replay import generate_ticks
from trading.bars import BarAggregator
from trading.market import Bar
from trading.wyckoff import WyckoffDetector


def bars_of(settings, symbol: str, n: int = 120_000) -> tuple[list[Bar], list]:  # type: ignore[no-untyped-def]
    reg = settings.registry()
    ticks, labels = generate_ticks(reg, settings.generator_profiles(), n, 7, datetime(2026, 3, 2, tzinfo=UTC))
    inst = reg[symbol]
    m = ticks.inst == reg.index(symbol)
    agg = BarAggregator(symbol, 60 * 10**9, inst.price_precision)
    return agg.add(ticks.ts[m], ticks.bid[m], ticks.ask[m], ticks.volume[m]), [e for e in labels if e.symbol == symbol]


def run(settings, bars: list[Bar], symbol: str):  # type: ignore[no-untyped-def]
    det = WyckoffDetector(settings.registry()[symbol], settings.wyckoff_params())
    events, signals = [], []
    for bar in bars:
        e, s = det.update(bar)
        events.extend(e)
        signals.extend(s)
    return events, signals


def test_signals_fire_after_planted_springs_and_upthrusts(settings) -> None:
    hits = total = 0
    for symbol in ("EURUSD", "GBPUSD", "USDJPY"):
        bars, labels = bars_of(settings, symbol)
        _, signals = run(settings, bars, symbol)
        planted = [e for e in labels if e.event in ("spring", "upthrust")]
        for s in signals:
            total += 1
            hits += any(p.event == s.setup and 0 <= s.ts_ns - p.ts_ns <= 30 * 60 * 10**9 for p in planted)
    assert total >= 5
    assert hits / total >= 0.8


def test_truncating_the_data_never_changes_what_was_already_emitted(settings) -> None:
    bars, _ = bars_of(settings, "EURUSD", 60_000)
    full, full_signals = run(settings, bars, "EURUSD")
    for cut in (len(bars) // 3, len(bars) // 2, len(bars) - 7):
        part, part_signals = run(settings, bars[:cut], "EURUSD")
        end = bars[cut - 1].end_ns
        assert part == [e for e in full if e.bar_ts_ns <= end]
        assert part_signals == [s for s in full_signals if s.ts_ns <= end]


def test_signals_carry_their_evidence(settings) -> None:
    bars, _ = bars_of(settings, "GBPUSD")
    _, signals = run(settings, bars, "GBPUSD")
    s = signals[0]
    events = [e.event for e in s.evidence]
    assert events[0] in ("selling_climax", "buying_climax") and events[-1] == s.setup
    assert dict(s.evidence[-1].numbers)["penetration_atr"] > 0
    assert (s.entry - s.stop) * s.side > 0 and 0 < s.confidence <= 0.95
