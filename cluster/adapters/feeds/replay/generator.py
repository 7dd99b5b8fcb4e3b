"""A deterministic generator of realistic FX ticks.

Each instrument follows a sequence of Wyckoff cycles (markdown, accumulation with selling
climax, automatic rally, secondary test, trading range, spring, sign of strength, markup, and
the mirrored distribution), drawn as Brownian bridges between the legs' targets. Tick arrival
follows the trading sessions (Asia quiet, London/New York overlap busy) and each leg's activity
(climaxes are busy: FX volume is tick volume). Spreads widen in quiet sessions, at the daily
rollover and around random news spikes; volatility regimes scale the noise. Markets close
from Friday 21:00 to Sunday 21:00 UTC.

The same seed gives the same ticks, to the last point.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from cluster.config.settings import GeneratorSettings
from trading.instruments import Instrument, InstrumentRegistry
from trading.market import NS_PER_S, TickBatch, datetime_to_ts, fx_market_closed

MINUTE_NS = 60 * NS_PER_S
# Activity by UTC hour: Asia quiet, London busy, London/New York overlap busiest.
SESSION_ACTIVITY = np.array([0.6] * 7 + [1.2] * 5 + [1.6] * 4 + [1.0] * 5 + [0.5] * 3)
SESSION_SPREAD = np.array([1.4] * 7 + [1.0] * 5 + [0.9] * 4 + [1.0] * 5 + [1.6] * 3)


@dataclass(frozen=True, slots=True)
class PlantedEvent:
    """A labelled event the generator put into the path (the truth for detection tests)."""

    symbol: str
    event: str
    ts_ns: int
    price: float


@dataclass(frozen=True, slots=True)
class _Leg:
    minutes: int
    target: float
    vol: float
    activity: float
    label: str = ""
    phase: str = ""


def _open_minutes(start_ns: int, count: int) -> np.ndarray:
    """The first ``count`` minutes from ``start_ns`` at which the FX market is open."""
    out: list[np.ndarray] = []
    chunk = max(count * 2, 20_000)
    t0 = start_ns - start_ns % MINUTE_NS
    while sum(len(o) for o in out) < count:
        minutes = t0 + np.arange(chunk, dtype=np.int64) * MINUTE_NS
        out.append(minutes[~fx_market_closed(minutes)])
        t0 = int(minutes[-1]) + MINUTE_NS
    return np.concatenate(out)[:count]


def _cycle(rng: np.random.Generator, price: float, height: float, direction: int) -> tuple[list[_Leg], int]:
    """One trend and the range that ends it: an accumulation (direction -1: a markdown into it)
    or a distribution (direction +1). Most ranges end with a break the other way; about one in
    three spring/upthrust setups fails, breaks the near edge and the trend goes on.
    Returns the legs and the direction of the next trend."""
    d = direction
    trend = rng.uniform(1.5, 2.8) * height
    near = price + d * trend  # the climax extreme: support after a markdown, resistance after a markup
    acc = d < 0

    def name(accumulation: str, distribution: str) -> str:
        return accumulation if acc else distribution

    legs = [
        _Leg(int(rng.integers(180, 360)), near - d * 0.35 * height, 1.0, 1.0, "", "trend"),
        _Leg(int(rng.integers(3, 6)), near, 1.8, 3.5, name("selling_climax", "buying_climax"), "A"),
        _Leg(int(rng.integers(20, 45)), near - d * height, 1.1, 1.6, name("automatic_rally", "automatic_reaction"), "A"),
        _Leg(int(rng.integers(30, 60)), near - d * rng.uniform(0.04, 0.15) * height, 0.8, 0.7,
             "secondary_test", "A"),
    ]
    for _ in range(int(rng.integers(3, 6))):
        legs.append(_Leg(int(rng.integers(20, 60)), near - d * rng.uniform(0.25, 0.8) * height, 0.8, 0.8, "", "B"))
    has_spring = rng.random() < 0.8  # most ranges show a spring/upthrust; some do without
    if has_spring:
        depth = rng.uniform(0.15, 0.35) * height
        legs.append(_Leg(int(rng.integers(5, 10)), near + d * depth, 1.0, 1.3, name("spring", "upthrust"), "C"))
        legs.append(_Leg(int(rng.integers(5, 9)), near - d * 0.3 * height, 1.0, 1.2, "", "C"))
    legs.append(_Leg(int(rng.integers(15, 30)), near - d * 0.15 * height, 0.7, 0.6, "", "C"))
    if has_spring and rng.random() < 0.35:
        legs.append(_Leg(int(rng.integers(30, 60)), near + d * 1.2 * height, 1.2, 1.8,
                         name("failed_spring", "failed_upthrust"), "failed"))
        return legs, direction
    legs.append(_Leg(int(rng.integers(25, 50)), near - d * 1.4 * height, 1.1, 2.0,
                     name("sign_of_strength", "sign_of_weakness"), "D"))
    legs.append(_Leg(int(rng.integers(20, 40)), near - d * 1.1 * height, 0.8, 0.8,
                     name("last_point_of_support", "last_point_of_supply"), "D"))
    return legs, -direction


def _instrument_ticks(inst: Instrument, profile: GeneratorSettings, seed: int, start_ns: int,
                      target_ticks: int) -> tuple[TickBatch, list[PlantedEvent]]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(inst.symbol.encode())]))
    pip = float(inst.pip_size)
    height = profile.range_pips * pip
    sigma = profile.sigma_pips * pip
    minutes = _open_minutes(start_ns, int(target_ticks / profile.ticks_per_minute * 3) + 10_000)
    price = profile.start_price
    direction = -1 if rng.random() < 0.5 else 1
    k = 0
    parts_ts, parts_mid, parts_spread = [], [], []
    labels: list[PlantedEvent] = []
    count = 0
    regime = 1.0
    while count < target_ticks and k < len(minutes) - 1:
        regime = float(np.clip(regime * np.exp(rng.normal(0, 0.25)), 0.6, 1.8))  # volatility regime per cycle
        legs, next_direction = _cycle(rng, price, height, direction)
        for leg in legs:
            span = minutes[k:k + leg.minutes]
            if len(span) == 0:
                break
            hours = (span // (3_600 * NS_PER_S)) % 24
            rates = profile.ticks_per_minute * SESSION_ACTIVITY[hours] * leg.activity
            per_minute = rng.poisson(rates)
            n = int(per_minute.sum())
            k += len(span)
            if n == 0:
                price = leg.target
                continue
            offsets = (rng.random(n) * MINUTE_NS).astype(np.int64)
            ts = np.repeat(span, per_minute) + offsets
            order = np.argsort(ts, kind="stable")
            ts = ts[order]
            step = sigma * leg.vol * regime * np.sqrt(len(span) / n)
            walk = np.cumsum(rng.normal(0.0, step, n))
            frac = np.arange(1, n + 1) / n
            mid = price + walk - frac * (walk[-1] - (leg.target - price))
            spread_factor = SESSION_SPREAD[(ts // (3_600 * NS_PER_S)) % 24] * (0.8 + 0.2 * leg.vol * regime)
            minute_of_day = (ts // MINUTE_NS) % 1440
            spread_factor = np.where((minute_of_day >= 21 * 60 - 2) & (minute_of_day < 21 * 60 + 5),
                                     spread_factor * 4.0, spread_factor)  # daily rollover
            if rng.random() < 0.04:  # a news spike somewhere in the leg: spread and noise jump
                at = int(rng.integers(0, n))
                width = min(n - at, int(rng.integers(10, 40)))
                spread_factor[at:at + width] *= 3.5
                mid[at:at + width] += np.cumsum(rng.normal(0, 3 * step, width))
            spread = profile.spread_pips * pip * spread_factor * rng.uniform(0.9, 1.3, n)
            parts_ts.append(ts)
            parts_mid.append(mid)
            parts_spread.append(spread)
            if leg.label:  # the label sits at the leg's extreme in the direction it moved
                extreme = int(np.argmin(mid) if leg.target < price else np.argmax(mid))
                labels.append(PlantedEvent(inst.symbol, leg.label, int(ts[extreme]), float(mid[extreme])))
            price = float(mid[-1])
            count += n
        direction = next_direction
    ts = np.concatenate(parts_ts)
    mid = np.concatenate(parts_mid)
    spread = np.concatenate(parts_spread)
    scale = 10 ** inst.price_precision
    half = np.maximum(np.rint(spread * scale / 2), 1).astype(np.int64)
    mid_pts = np.rint(mid * scale).astype(np.int64)
    batch = TickBatch(ts, np.zeros(len(ts), np.int16), mid_pts - half, mid_pts + half, np.ones(len(ts)))
    return batch, labels


def generate_ticks(
    registry: InstrumentRegistry, profiles: dict[str, GeneratorSettings], total_ticks: int,
    seed: int, start: datetime, symbols: Sequence[str] | None = None,
) -> tuple[TickBatch, list[PlantedEvent]]:
    """``total_ticks`` ticks of the given symbols merged in time order, and the planted events.

    Each instrument is generated independently from (seed, symbol), so adding an instrument
    does not change the others' paths.
    """
    symbols = list(symbols or registry.symbols)
    start_ns = datetime_to_ts(start)
    share = total_ticks / len(symbols) * 1.25 + 1000
    batches, labels = [], []
    for sym in symbols:
        inst = registry[sym]
        batch, planted = _instrument_ticks(inst, profiles[sym], seed, start_ns, int(share))
        batches.append(TickBatch(batch.ts, np.full(len(batch), registry.index(sym), np.int16),
                                 batch.bid, batch.ask, batch.volume))
        labels.extend(planted)
    merged = TickBatch.concat(batches)
    order = np.lexsort((merged.inst, merged.ts))
    merged = merged.take(order[:total_ticks])
    cutoff = int(merged.ts[-1]) if len(merged) else start_ns
    return merged, sorted((e for e in labels if e.ts_ns <= cutoff), key=lambda e: (e.ts_ns, e.symbol))
