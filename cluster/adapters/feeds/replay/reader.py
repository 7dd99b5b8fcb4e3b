"""Readers for recorded ticks and bars in CSV or Parquet.

Ticks: columns ``ts`` (ISO-8601 with zone, or integer ns since the epoch), ``symbol``, ``bid``,
``ask`` and optionally ``volume``. Bars: ``ts`` (bar start), ``symbol``, ``open``, ``high``,
``low``, ``close``, ``volume``. Rows are validated; a bad row is reported with its line number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from trading.errors import InvalidValue
from trading.instruments import InstrumentRegistry
from trading.market import Bar, TickBatch, tick_faults, to_points


def points_per_unit(registry: InstrumentRegistry, inst: npt.NDArray[np.int16]) -> npt.NDArray[np.int64]:
    """Per tick, how many integer points make one unit of price (10^precision of its instrument)."""
    scales = np.array([10 ** registry.by_index(i).price_precision for i in range(len(registry))], np.int64)
    per_tick: npt.NDArray[np.int64] = scales[inst]
    return per_tick


def _frame(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".csv":
        return pl.read_csv(path, try_parse_dates=False)
    raise InvalidValue("path", str(path), "must end in .csv or .parquet")


def _ts_ns(col: pl.Series) -> pl.Series:
    if col.dtype.is_integer():
        return col.cast(pl.Int64)
    parsed = col.cast(pl.Utf8).str.to_datetime(time_zone="UTC", time_unit="ns")
    return parsed.dt.epoch("ns")


def _require(df: pl.DataFrame, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InvalidValue(str(path), df.columns, f"missing column(s) {', '.join(missing)}")


def read_ticks(path: str | Path, registry: InstrumentRegistry) -> TickBatch:
    """Ticks of known instruments, sorted by time; raises on the first invalid row."""
    path = Path(path)
    df = _frame(path)
    _require(df, ["ts", "symbol", "bid", "ask"], path)
    if "volume" not in df.columns:
        df = df.with_columns(pl.lit(1.0).alias("volume"))
    df = df.with_columns(_ts_ns(df["ts"]).alias("ts"), pl.int_range(pl.len()).alias("row"))
    unknown = set(df["symbol"].unique().to_list()) - set(registry.symbols)
    if unknown:
        raise InvalidValue(f"{path}:symbol", sorted(unknown), "unknown instrument(s)")
    # prices in points (floats), judged by the one tick rule of every entry point (trading.market), then rounded
    inst = np.array([registry.index(s) for s in df["symbol"].to_list()], np.int16)
    scale = points_per_unit(registry, inst)
    bid_f: npt.NDArray[np.float64] = df["bid"].cast(pl.Float64).fill_null(float("nan")).to_numpy() * scale
    ask_f: npt.NDArray[np.float64] = df["ask"].cast(pl.Float64).fill_null(float("nan")).to_numpy() * scale
    volume = df["volume"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    reason = tick_faults(bid_f, ask_f, volume, timed=~df["ts"].is_null().to_numpy())
    bid, ask = to_points(bid_f), to_points(ask_f)
    bad = np.flatnonzero(reason != "")
    if len(bad):
        row = df.row(int(bad[0]), named=True)
        raise InvalidValue(f"{path}:line {row['row'] + 2}", {k: row[k] for k in ("bid", "ask", "volume")},
                           f"{reason[bad[0]]} ({len(bad):,} invalid row(s) in all)")
    order = np.argsort(df["ts"].to_numpy().astype(np.int64), kind="stable")
    return TickBatch(df["ts"].to_numpy().astype(np.int64)[order], inst[order], bid[order], ask[order],
                     volume[order])


def read_bars(path: str | Path, bar_seconds: int = 60) -> list[Bar]:
    """Bars in time order; ``Bar`` validation names the first invalid field."""
    path = Path(path)
    df = _frame(path)
    _require(df, ["ts", "symbol", "open", "high", "low", "close", "volume"], path)
    df = df.with_columns(_ts_ns(df["ts"]).alias("ts")).sort("ts", maintain_order=True)
    span = bar_seconds * 1_000_000_000
    return [
        Bar(r["symbol"], r["ts"], r["ts"] + span, float(r["open"]), float(r["high"]), float(r["low"]),
            float(r["close"]), float(r["volume"]), int(r.get("ticks") or 0), float(r.get("spread") or 0.0))
        for r in df.iter_rows(named=True)
    ]
