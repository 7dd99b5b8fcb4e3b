"""Market data files in, quotes out: the anti-corruption layer for recorded data.

``load_market_files`` reads one or more files (``formats``), judges every row, skips what cannot be
used (naming each reason with its line numbers), reports gaps, turns bars into quotes by the
intra-bar model (``trading.intrabar``) and returns the session's ``TickBatch`` with an
``ImportReport``. A file as a whole is refused (``DataFileError``, one line) when it cannot be read,
names no zone where one is needed, holds an unknown instrument, or has more unusable rows than
``max_skipped`` allows (any, with ``strict``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cluster.adapters.feeds.files.formats import FORMATS, SPIKE_FACTOR, DataFileError, FileSpec, Parsed, parse
from trading.clocks import ZoneError, parse_clock
from trading.instruments import InstrumentRegistry
from trading.intrabar import QUOTES_PER_BAR, bar_path, bar_quotes
from trading.market import MAX_POINTS, TickBatch, fx_open_ns, tick_faults, to_points, ts_to_datetime

__all__ = ["FORMATS", "DataFileError", "FileSpec", "ImportReport", "Loaded", "ZoneError",
           "load_market_files", "octet_frame", "parse_columns_option", "points_per_unit",
           "parse_clock"]

EXAMPLES = 5  # line numbers kept per reason
QUOTE_GAP_NS = 30 * 60 * 1_000_000_000  # quotes further apart than this while the market is open: a gap
GAPS_SHOWN = 3
# A price at least SPIKE_FACTOR (formats.py) times, or at most 1/SPIKE_FACTOR of, the rows on both sides of it (its
# instrument's SPIKE_SIDE rows before and after) is a bad print (a decimal shifted, a fat finger), not a move: no
# market doubles or halves and comes back within a few rows, while a real jump that stays is near the rows on
# one side of it (``_spikes``; session.data_spike_factor, 0 = no check)
SPIKE_SIDE = 20
SPIKE_EDGE_ROWS = 3  # a side with fewer rows than this (a file's first and last rows) is not known ...
SPIKE_EDGE_FACTOR = 2.5  # ... and the other alone decides, at this many times the factor (2 x 2.5: five times)
SPIKE_WIDE = 201  # ... and, at the edge factor, against the middle of this many rows centred on it
SPIKE_PASSES = 8  # the check is run again without the rows found, until it finds none (at most this often)


@dataclass(frozen=True)
class Skipped:
    """Rows left out for one reason: how many, the first few line numbers, the first row's text."""

    reason: str
    count: int
    lines: tuple[int, ...]
    example: str


@dataclass(frozen=True)
class Gap:
    symbol: str
    after_ns: int
    before_ns: int
    open_s: float  # of which the market was open
    line: int  # the row after the gap


@dataclass
class ImportReport:
    path: str
    format: str
    kind: str
    clock: str
    symbols: list[str]
    rows: int
    kept: int
    quotes: int
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[Skipped] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    gap_count: int = 0
    bar_seconds: dict[str, int] = field(default_factory=dict)
    first_ns: int = 0
    last_ns: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def skipped_rows(self) -> int:
        return sum(s.count for s in self.skipped)

    def lines(self) -> list[str]:
        """The report as text, one finding a line."""
        share = self.skipped_rows / self.rows if self.rows else 0.0
        out = [f"{self.path}: {self.format} {self.kind}, {', '.join(self.symbols)}; {self.rows:,} rows read, "
               f"{self.kept:,} used, {self.skipped_rows:,} skipped ({share:.2%})"]
        if self.kept:
            span = f"{_when(self.first_ns)} → {_when(self.last_ns)} UTC"
            if self.kind == "bars":
                sizes = ", ".join(f"{s} {_duration(v)}" for s, v in sorted(self.bar_seconds.items()))
                out.append(f"  bars of {sizes}, {span}; {self.quotes:,} quotes by the intra-bar model "
                           f"({QUOTES_PER_BAR} a bar)")
            else:
                out.append(f"  {self.quotes:,} quotes, {span}")
        out += [f"  {note}" for note in self.notes]
        for s in self.skipped:
            out.append(f"  skipped {s.count:,} × {s.reason}: line{'s' if len(s.lines) > 1 else ''} "
                       f"{', '.join(f'{n:,}' for n in s.lines)}{' …' if s.count > len(s.lines) else ''}")
        for s in self.ignored:
            out.append(f"  ignored {s.count:,} × {s.reason} (not a fault)")
        if self.gap_count:
            shown = "; ".join(f"{g.symbol} {_duration(g.open_s)} open market without data after "
                              f"{_when(g.after_ns)} (line {g.line:,})" for g in self.gaps)
            out.append(f"  {self.gap_count:,} gap(s) outside FX weekends, the longest: {shown}")
        return [printable(line) for line in out]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "format": self.format, "kind": self.kind, "clock": self.clock,
            "symbols": self.symbols, "rows": self.rows, "kept": self.kept, "quotes": self.quotes,
            "skipped": [vars_of(s) for s in self.skipped], "ignored": [vars_of(s) for s in self.ignored],
            "gap_count": self.gap_count, "gaps": [vars_of(g) for g in self.gaps], "bar_seconds": self.bar_seconds,
            "first_ns": self.first_ns, "last_ns": self.last_ns, "notes": self.notes,
        }


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on (ESC, BEL, other controls) written as
    its escape: a hostile file's cells are quoted in reports, never obeyed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def vars_of(obj: Skipped | Gap) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(obj).items()}


def _when(ns: int) -> str:
    return ts_to_datetime(ns).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float) -> str:
    s = float(seconds)
    if s >= 86_400 and s % 86_400 == 0:
        return f"{s / 86_400:g} d"
    if s >= 3_600:
        return f"{s / 3_600:.3g} h"
    if s >= 60:
        return f"{s / 60:.3g} min"
    return f"{s:g} s"


@dataclass
class Loaded:
    ticks: TickBatch
    reports: list[ImportReport]
    bar_seconds: dict[str, int]  # per symbol given as bars, their size
    bar_offgrid: dict[str, int] = field(default_factory=dict)  # per symbol given as bars, the first start
    # off the grid of their own size counted from 00:00 UTC, if any

    def offgrid(self, symbol: str) -> str:
        """Why ``symbol``'s bars (in ``bar_offgrid``) cannot make the desk's: said the same by the backtest, which
        refuses them, by `octet data check`, and by `octet data convert`, which refuses to make quotes of them."""
        at = ts_to_datetime(self.bar_offgrid[symbol]).strftime("%Y-%m-%d %H:%M:%S")
        return (f"its {symbol} bar of {at} UTC starts off the {self.bar_seconds[symbol]} s grid counted from "
                "00:00 UTC, where the desk's bars start, so it would straddle two of them: export bars on a clock a "
                "whole number of bar lengths from UTC, or shorter bars")


# --- judging rows ---------------------------------------------------------------------------------

def _group(faults: pl.DataFrame, reason_col: str) -> list[Skipped]:
    """Faulty rows (line, text, reason) grouped by reason with the quoted values left out."""
    if faults.is_empty():
        return []
    keyed = faults.with_columns(pl.col(reason_col).str.replace_all(r"'[^']*'", "…").alias("_key"))
    groups = keyed.group_by("_key", maintain_order=True).agg(pl.len().alias("n"), pl.col("line").head(EXAMPLES),
                                                              pl.col(reason_col).first().alias("first"),
                                                              pl.col("text").first().alias("text"))
    out = []
    for r in groups.sort("n", descending=True).iter_rows(named=True):
        reason = r["first"] if r["n"] == 1 else r["_key"]
        out.append(Skipped(reason, int(r["n"]), tuple(int(x) for x in r["line"]), str(r["text"])[:120]))
    return out


def _order_faults(ts: npt.NDArray[np.int64], inst: npt.NDArray[np.int16], values: npt.NDArray[np.float64]
                  ) -> npt.NDArray[np.object_]:
    """Per row (all usable so far): a time before an earlier row's of its instrument, or the same
    time as its instrument's previous row (a duplicate when ``values`` are the same too)."""
    reason = np.full(len(ts), None, dtype=object)
    same = np.zeros(len(ts), np.bool_)
    for i in np.unique(inst):
        idx = np.flatnonzero(inst == i)
        v = values[idx]
        same[idx[1:]] = np.all(v[1:] == v[:-1], axis=1)
        t = ts[idx]
        running = np.maximum.accumulate(t)
        back = np.r_[False, t[1:] < running[:-1]]
        repeat = np.r_[False, t[1:] == running[:-1]] & ~back
        reason[idx[back]] = "out of order (a time before an earlier row's; is the file sorted?)"
        dup = idx[repeat]
        reason[dup] = np.where(same[dup], "duplicate (the same time and values as the row before)",
                               "duplicate time (a second bar for the same time, with other values)")
    return reason


def _scales(registry: InstrumentRegistry, inst: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    table = np.array([10.0 ** registry.by_index(i).price_precision for i in range(len(registry))], np.float64)
    scale: npt.NDArray[np.float64] = table[inst]
    return scale


def _judge(parsed: Parsed, registry: InstrumentRegistry, spike_factor: float
           ) -> tuple[pl.DataFrame, npt.NDArray[np.object_]]:
    """The rows and, per row, why it cannot be used (None: it can)."""
    with np.errstate(over="ignore", invalid="ignore"):  # a huge price is a fault named below, not a warning
        return _judge_rows(parsed, registry, spike_factor)


def _judge_rows(parsed: Parsed, registry: InstrumentRegistry, spike_factor: float
                ) -> tuple[pl.DataFrame, npt.NDArray[np.object_]]:
    frame = parsed.frame
    symbols = frame.filter(pl.col("fault").is_null())["symbol"].unique().drop_nulls().to_list()
    unknown = sorted(set(symbols) - set(registry.symbols))
    if unknown:
        raise DataFileError(f"unknown instrument(s) {', '.join(unknown)}: the settings define "
                            f"{', '.join(registry.symbols)} (instruments in the settings; --symbol)")
    index = {s: i for i, s in enumerate(registry.symbols)}
    inst = np.array([index.get(s, 0) for s in frame["symbol"].fill_null("").to_list()], np.int16)
    reason = np.array(frame["fault"].to_list(), dtype=object)
    ts = frame["ts"].fill_null(0).to_numpy().astype(np.int64)
    scale = _scales(registry, inst)
    if parsed.kind == "quotes":
        ok = np.flatnonzero(reason == None)  # noqa: E711 (an object array)
        bid = frame["bid"].fill_null(float("nan")).to_numpy()[ok] * scale[ok]
        ask = frame["ask"].fill_null(float("nan")).to_numpy()[ok] * scale[ok]
        volume = frame["volume"].fill_null(float("nan")).to_numpy()[ok]
        faults = tick_faults(bid, ask, volume, ts=ts[ok], inst=inst[ok])
        hints = {"crossed quote": "crossed quote (bid above ask)",
                 "out of order": "out of order (a time before an earlier row's; is the file sorted?)",
                 "duplicate": "duplicate (the same time, bid and ask as the row before)"}
        bad = faults != ""
        reason[ok[bad]] = [hints.get(str(f), str(f)) for f in faults[bad]]
        fine = ok[~bad]
        sides = np.column_stack([bid[~bad], ask[~bad]])
        reason[fine] = _spikes(inst[fine], sides, sides, spike_factor)  # each side against its own
        return frame, reason
    prices = {c: frame[c].fill_null(float("nan")).to_numpy() * scale for c in ("open", "high", "low", "close")}
    stack = np.column_stack(list(prices.values()))
    volume = frame["volume"].fill_null(float("nan")).to_numpy()
    spread = frame["spread"].fill_null(0.0).to_numpy()
    finite = np.where(np.isfinite(stack), stack, 0.0)
    checks: list[tuple[Any, str]] = [
        (np.isnan(stack).any(axis=1), "NaN or missing price"),  # infinite: a huge price, overflowed
        ((~np.isfinite(stack) | (np.abs(finite) >= MAX_POINTS)).any(axis=1), "price out of range"),
        # judged in points, as at every entry point (tests/cluster/test_quote_rule.py): under half a point is 0
        ((np.rint(finite) <= 0).any(axis=1), "non-positive price"),
        (prices["high"] < prices["low"], "high below low"),
        ((np.minimum(prices["open"], prices["close"]) < prices["low"])
         | (np.maximum(prices["open"], prices["close"]) > prices["high"]), "open or close outside the bar's low-high"),
        (~np.isfinite(volume) | (volume < 0), "NaN or negative volume"),
        (np.isnan(spread), "NaN spread"),
        (spread < 0, "negative spread"),
        # a spread of a tenth of the price or more (in points, as the prices): no market quotes that; it
        # would set the ask of every quote made from the bar (99999 points on EURUSD: an ask of 2.1)
        (~np.isfinite(spread) | (spread >= 0.1 * np.where(np.isfinite(prices["close"]), prices["close"], np.inf)),
         "spread out of range (a tenth of the price or more)"),
    ]
    for bad, why in checks:
        reason[bad & (reason == None)] = why  # noqa: E711
    ok = np.flatnonzero(reason == None)  # noqa: E711
    values = frame.select("open", "high", "low", "close", "volume").to_numpy()[ok]
    reason[ok] = _order_faults(ts[ok], inst[ok], values)
    fine = ok[reason[ok] == None]  # noqa: E711
    reason[fine] = _spikes(inst[fine], prices["close"][fine], stack[fine], spike_factor)
    return frame, reason


def _middles(level: npt.NDArray[np.float64], k: int, center: bool = False
             ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per row: the lower and upper middle values of the (up to) ``k`` rows ending at it (``center``: centred on
    it), itself among them."""
    s = pl.Series(level)
    lo, hi = (s.rolling_quantile(0.5, how, k, min_samples=1, center=center).to_numpy() for how in ("lower", "higher"))
    return lo, hi


def _side_middles(level: npt.NDArray[np.float64], k: int) -> tuple[npt.NDArray[np.float64], ...]:
    """Per row: the lower and upper middle values of the (up to) ``k`` rows before it, and how many there are."""
    lo, hi = (np.r_[np.nan, m[:-1]] for m in _middles(level, k))
    count = np.minimum(np.arange(len(level)), k).astype(np.float64)
    return lo, hi, count


def _edge_middles(level: npt.NDArray[np.float64], k: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """For the rows within ``k`` of either end: the lower and upper middle values of that end's window (its first
    or last 2k + 1 rows, or all of them); NaN (not judged) for the rows in between."""
    n = len(level)
    w = min(n, 2 * k + 1)
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    for rows, part in ((slice(0, min(k, n)), level[:w]), (slice(max(n - k, 0), n), level[n - w:])):
        ordered = np.sort(part)
        lo[rows], hi[rows] = ordered[(w - 1) // 2], ordered[w // 2]
    return lo, hi


def _beyond(p: npt.NDArray[np.float64], lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64]
            ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """How many times each price is above both middle values (``up``), and below both (``down``); 0 where the
    middle values are not known (NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        up, down = np.minimum(p / lo, p / hi), np.minimum(lo / p, hi / p)
    return np.nan_to_num(up, nan=0.0), np.nan_to_num(down, nan=0.0)


def _how_far(lv: npt.NDArray[np.float64], px: npt.NDArray[np.float64], factor: float) -> npt.NDArray[np.float64]:
    """Per row of one instrument (``lv`` its level columns, ``px`` its price columns): how many times its
    farthest price is above or below the rows around it, by ``_spikes``' rule (0 where it is not judged)."""
    worst = np.zeros(len(lv))
    refs = []  # per level column: the middles of the rows before, of the rows after, of the edge's and wide windows
    for c in range(lv.shape[1]):
        col = lv[:, c]
        after = tuple(a[::-1] for a in _side_middles(col[::-1], SPIKE_SIDE))
        refs.append((_side_middles(col, SPIKE_SIDE), after, _edge_middles(col, SPIKE_SIDE),
                     _middles(col, SPIKE_WIDE, center=True)))
    for c in range(px.shape[1]):
        p = px[:, c]
        (lo_b, hi_b, n_b), (lo_a, hi_a, n_a), edge, wide = refs[c % lv.shape[1]]
        up_b, down_b = _beyond(p, lo_b, hi_b)
        up_a, down_a = _beyond(p, lo_a, hi_a)
        both = (n_b >= SPIKE_EDGE_ROWS) & (n_a >= SPIKE_EDGE_ROWS)
        far = np.where(both, np.maximum(np.minimum(up_b, up_a), np.minimum(down_b, down_a)), 0.0)
        # within SPIKE_SIDE rows of an edge, where a side is short, the middles of the edge's own window (the first
        # or the last 2 * SPIKE_SIDE + 1 rows, itself among them) decide too, at SPIKE_EDGE_FACTOR times the factor;
        # and anywhere, the middles of the SPIKE_WIDE rows centred on it (itself among them), at the same: a run of
        # bad prints longer than half a side, or on every other row, is a minority there
        off = np.maximum(np.maximum(*_beyond(p, *edge)), np.maximum(*_beyond(p, *wide)))
        far = np.maximum(far, np.where(off >= factor * SPIKE_EDGE_FACTOR, off, 0.0))
        worst = np.maximum(worst, far)
    return worst


def _spikes(inst: npt.NDArray[np.int16], levels: npt.NDArray[np.float64], prices: npt.NDArray[np.float64],
            factor: float) -> npt.NDArray[np.object_]:
    """Per row (all usable so far, in file order): an isolated spike when one of its ``prices`` (a quote's bid
    and ask, a bar's four; one column each) is at least ``factor`` times, or at most 1/``factor`` of, the rows
    on both sides of it: the middle values (both, for an even count) of the ``levels`` (the same column for a
    quote, the closes for a bar) of its instrument's ``SPIKE_SIDE`` rows before it and ``SPIKE_SIDE`` after,
    both above it or both below. A level that changes and stays is near one side, so it is kept wherever it
    falls; a bad print, or a run of up to half ``SPIKE_SIDE`` of them, is far from both. Within ``SPIKE_SIDE``
    rows of either end, where a side is short, a row is also a spike when it is ``SPIKE_EDGE_FACTOR`` times
    ``factor`` off both middle values of that end's window (its first or last ``2 * SPIKE_SIDE + 1`` rows,
    itself among them; a short file's all): a decimal shifted, alone or in a run, rather than a level the
    file starts or ends on (a level 5x off for a few rows at an edge is taken as bad prints). Anywhere, a row
    that far off both middle values of the ``SPIKE_WIDE`` rows centred on it is one too (a longer run, or bad
    prints on every other row, are a minority there). The check runs
    again without the rows it found (at most ``SPIKE_PASSES`` times), so the ends of a longer run, and prints
    on every other row, are found once the rest are gone. ``factor`` 0: no check. Else None."""
    n = len(inst)
    reason = np.full(n, None, dtype=object)
    if n == 0 or factor <= 0:
        return reason
    lv = levels.reshape(n, -1)
    px = prices.reshape(n, -1)
    for i in np.unique(inst):
        idx = np.flatnonzero(inst == i)
        # pass after pass, without the rows found so far: the ends of a longer run, or prints every other
        # row, are far from what is left once the rest of them is gone
        alive, worst = np.arange(len(idx)), np.zeros(len(idx))
        for _ in range(SPIKE_PASSES):
            if len(alive) < 3:
                break  # with two rows, neither is known to be the wrong one
            far = _how_far(lv[idx[alive]], px[idx[alive]], factor)
            hit = far >= factor
            if not hit.any():
                break
            worst[alive[hit]] = far[hit]
            alive = alive[~hit]
        for k in np.flatnonzero(worst >= factor):
            reason[idx[k]] = (f"isolated spike (a price '{worst[k]:.3g}' times above or below the rows around it: "
                              "a bad print)")
    return reason


def _period(ts: npt.NDArray[np.int64]) -> int:
    """The bar size: the commonest step between bars (ns)."""
    steps = np.diff(ts)
    steps = steps[steps > 0]
    if len(steps) == 0:
        return 60 * 1_000_000_000
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def _gaps(symbol: str, ts: npt.NDArray[np.int64], lines: npt.NDArray[np.int64], step_ns: int | None
          ) -> tuple[int, list[Gap]]:
    if len(ts) < 2:
        return 0, []
    a, b = ts[:-1], ts[1:]
    threshold = QUOTE_GAP_NS if step_ns is None else step_ns
    candidates = np.flatnonzero(b - a > threshold)
    if len(candidates) == 0:
        return 0, []
    start = a[candidates] + (0 if step_ns is None else step_ns)
    open_ns = fx_open_ns(start, b[candidates])
    real = open_ns > (threshold if step_ns is None else 0)
    idx, open_ns = candidates[real], open_ns[real]
    longest = np.argsort(-open_ns, kind="stable")[:GAPS_SHOWN]
    return len(idx), [Gap(symbol, int(a[idx[k]]), int(b[idx[k]]), float(open_ns[k]) / 1e9, int(lines[idx[k] + 1]))
                      for k in longest]


def _load_one(path: Path, spec: FileSpec, registry: InstrumentRegistry, strict: bool, max_skipped: float
              ) -> tuple[TickBatch, ImportReport, dict[str, int], dict[str, int]]:
    try:
        parsed = parse(path, spec, registry.symbols)
        frame, reason = _judge(parsed, registry, spec.spike_factor)
    except DataFileError as exc:
        message = str(exc)
        raise DataFileError(printable(message if message.startswith(str(path)) else f"{path}: {message}")) from None
    except OSError as exc:  # a file that exists but cannot be read (permissions, a device, an I/O error)
        raise DataFileError(printable(f"{path}: cannot read it ({exc.strerror or exc})")) from None
    rows = len(frame) + (len(parsed.ignored) if parsed.ignored is not None else 0)
    unreadable = frame["fault"].fill_null("").str.starts_with("unreadable time")
    if spec.time_format is not None and parsed.format in ("generic", "octet") and len(frame) and unreadable.all():
        first = frame.row(0, named=True)
        raise DataFileError(printable(f"{path}: --time-format {spec.time_format!r} reads none of its times (line "
                                      f"{first['line']}: {first['fault']}); the directives are strftime's: "
                                      "%Y-%m-%d %H:%M:%S, %d.%m.%Y %H:%M:%S%.3f, ..."))
    bad = reason != None  # noqa: E711
    faults = frame.select("line", "text").with_columns(pl.Series("reason", reason.tolist(), dtype=pl.Utf8))
    skipped = _group(faults.filter(pl.Series(bad)), "reason")
    ignored = _group(parsed.ignored, "reason") if parsed.ignored is not None else []
    n_bad = int(bad.sum())
    if n_bad and (strict or n_bad > max_skipped * rows or n_bad == len(frame)):
        first = faults.filter(pl.Series(bad)).row(0, named=True)
        why = ("--strict refuses any" if strict else "nothing is left" if n_bad == len(frame)
               else f"more than the {max_skipped:.1%} allowed (session.data_max_skipped)")
        raise DataFileError(printable(f"{path}: line {first['line']}: {first['reason']} — {n_bad:,} of {rows:,} rows "
                                      f"cannot be used, {why}; `{check_command(path, spec)}` lists them"))
    good = frame.filter(pl.Series(~bad))
    if good.is_empty():
        raise DataFileError(f"{path}: no market data rows in the file")
    index = {s: i for i, s in enumerate(registry.symbols)}
    inst = np.array([index[s] for s in good["symbol"].to_list()], np.int16)
    ts = good["ts"].to_numpy().astype(np.int64)
    lines = good["line"].to_numpy().astype(np.int64)
    scale = _scales(registry, inst)
    gap_count, gaps = 0, list[Gap]()
    bar_seconds: dict[str, int] = {}
    bar_offgrid: dict[str, int] = {}
    notes = list(parsed.notes)
    finer = 0  # prices with more decimals than their instrument quotes: rounded (said, not silently)
    if parsed.kind == "quotes":
        raw_bid, raw_ask = good["bid"].to_numpy() * scale, good["ask"].to_numpy() * scale
        bid, ask = to_points(raw_bid), to_points(raw_ask)
        finer = _finer(raw_bid) + _finer(raw_ask)
        closed = int(((bid == ask) & (raw_ask > raw_bid)).sum())
        if closed:
            notes.append(f"{closed:,} quotes' spreads under a point became 0 in the rounding")
        batch = TickBatch(ts, inst, bid, ask, good["volume"].to_numpy().astype(np.float64))
        for i in np.unique(inst):
            n, g = _gaps(registry.symbols[i], ts[inst == i], lines[inst == i], None)
            gap_count, gaps = gap_count + n, gaps + g
    else:
        parts = []
        for i in np.unique(inst):
            sel = inst == i
            symbol = registry.symbols[i]
            step = _period(ts[sel])
            bar_seconds[symbol] = max(step // 1_000_000_000, 1)
            off = ts[sel][ts[sel] % step != 0]
            if len(off):
                bar_offgrid[symbol] = int(off[0])
            n, g = _gaps(symbol, ts[sel], lines[sel], step)
            gap_count, gaps = gap_count + n, gaps + g
            raw = {c: good[c].to_numpy()[sel] * scale[sel] for c in ("open", "high", "low", "close")}
            pts = {c: to_points(v) for c, v in raw.items()}
            finer += sum(_finer(v) for v in raw.values())
            file_spread = good["spread"].to_numpy()[sel]
            if spec.spread_points is not None:
                spread = np.full(int(sel.sum()), spec.spread_points, np.int64)
            else:
                spread = np.rint(np.nan_to_num(file_spread, nan=0.0)).astype(np.int64)
            q_ts, q_bid, q_ask, q_vol = bar_quotes(ts[sel], step, pts["open"], pts["high"], pts["low"], pts["close"],
                                                   good["volume"].to_numpy()[sel].astype(np.float64), spread,
                                                   parsed.price_side)
            parts.append(TickBatch(q_ts, np.full(len(q_ts), i, np.int16), q_bid, q_ask, q_vol,
                                   bar_path(int(sel.sum()))))
        batch = _merge(parts)
        if spec.spread_points is not None:
            notes.append(f"spread {spec.spread_points} points (--spread)")
        elif good["spread"].is_null().all():
            notes.append("no spread in the file: bid = ask in the quotes made from it (--spread POINTS sets one)")
        notes.append(f"bar prices are {parsed.price_side}s" if parsed.price_side != "mid" else "bar prices are mids")
    if finer:
        digits = ", ".join(f"{registry.by_index(int(i)).symbol} {registry.by_index(int(i)).price_precision}"
                           for i in np.unique(inst))
        notes.append(f"{finer:,} prices have more decimals than the instrument quotes ({digits}): rounded to them "
                     "(is the symbol right?)")
    gaps = sorted(gaps, key=lambda g: -g.open_s)[:GAPS_SHOWN]
    report = ImportReport(
        str(path), parsed.format, parsed.kind, parsed.clock, sorted({registry.symbols[i] for i in np.unique(inst)}),
        rows, len(good), len(batch), skipped, ignored, gaps, gap_count, bar_seconds,
        int(batch.ts.min()) if len(batch) else 0, int(batch.ts.max()) if len(batch) else 0, notes)
    return batch, report, bar_seconds, bar_offgrid


def _finer(points: npt.NDArray[np.float64]) -> int:
    """How many of these prices (in points, as read) fall between two points: more decimals than quoted."""
    finite = points[np.isfinite(points)]
    return int((np.abs(finite - np.rint(finite)) > 1e-9 * np.maximum(1.0, np.abs(finite)) + 1e-6).sum())


def check_command(path: Path, spec: FileSpec) -> str:
    """The ``octet data check`` command that reads ``path`` as ``spec`` does (its options given)."""
    import shlex

    words = ["octet", "data", "check", str(path)]
    if spec.format != "auto":
        words += ["--format", spec.format]
    for option, value in (("--symbol", spec.symbol), ("--tz", spec.tz), ("--time-format", spec.time_format),
                          ("--price-side", spec.price_side)):
        if value is not None:
            words += [option, value]
    if spec.columns:
        words += ["--columns", ",".join(f"{k}={v}" for k, v in spec.columns.items())]
    if spec.spread_points is not None:
        words += ["--spread", str(spec.spread_points)]
    if spec.spike_factor != SPIKE_FACTOR:
        words += ["--spike-factor", str(spec.spike_factor)]
    return " ".join(shlex.quote(w) for w in words)


def _merge(parts: Sequence[TickBatch]) -> TickBatch:
    merged = TickBatch.concat(list(parts))
    return merged.take(np.argsort(merged.ts, kind="stable"))


def load_market_files(paths: Sequence[str | Path], spec: FileSpec, registry: InstrumentRegistry, *,
                      strict: bool = False, max_skipped: float = 0.01) -> Loaded:
    """Every file's usable quotes, merged in time order, with a report per file. Two files may not
    cover the same instrument over the same time."""
    batches, reports, bars, offgrid = [], [], {}, {}
    spans: dict[str, list[tuple[str, int, int]]] = {}  # per instrument: each file's (path, first, last)
    for p in paths:
        path = Path(p)
        batch, report, bar_seconds, bar_offgrid = _load_one(path, spec, registry, strict, max_skipped)
        for i in np.unique(batch.inst):
            symbol = registry.symbols[i]
            sel = batch.ts[batch.inst == i]
            lo, hi = int(sel.min()), int(sel.max())
            for other, a, b in spans.get(symbol, []):
                if a <= hi and lo <= b:
                    raise DataFileError(f"{path} and {other} both hold {symbol} from {_when(max(lo, a))} to "
                                        f"{_when(min(hi, b))}: give each stretch of an instrument once")
            spans.setdefault(symbol, []).append((str(path), lo, hi))
        batches.append(batch)
        reports.append(report)
        bars.update(bar_seconds)
        offgrid.update(bar_offgrid)
    return Loaded(_merge(batches), reports, bars, offgrid)


def points_per_unit(registry: InstrumentRegistry, inst: npt.NDArray[np.int16]) -> npt.NDArray[np.int64]:
    """Per tick, how many integer points make one unit of price (10^precision of its instrument)."""
    scales = np.array([10 ** registry.by_index(i).price_precision for i in range(len(registry))], np.int64)
    per_tick: npt.NDArray[np.int64] = scales[inst]
    return per_tick


def octet_frame(batch: TickBatch, registry: InstrumentRegistry) -> pl.DataFrame:
    """Quotes in Octet's file format (``ts`` in ns, ``symbol``, ``bid``, ``ask``, ``volume``)."""
    scale = points_per_unit(registry, batch.inst)
    symbols = np.array(registry.symbols)[batch.inst]
    return pl.DataFrame({"ts": batch.ts, "symbol": symbols, "bid": batch.bid / scale, "ask": batch.ask / scale,
                         "volume": batch.volume})


_COLUMN = re.compile(r"^\s*([a-z_]+)\s*=\s*(.+?)\s*$")


def parse_columns_option(text: str | None) -> dict[str, str]:
    """``ts=Time,bid=Bid,ask=Ask`` as a map; DataFileError names a malformed part."""
    if not text:
        return {}
    out: dict[str, str] = {}
    for part in text.split(","):
        m = _COLUMN.match(part)
        if m is None:
            raise DataFileError(f"--columns: {part!r} is not field=column (e.g. ts=Time,bid=Bid,ask=Ask; a column "
                                "without a name in the header is # and its position: ts=#1)")
        out[m.group(1)] = m.group(2)
    return out
