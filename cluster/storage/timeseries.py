"""Ticks and bars for research, written in bulk, and the 1-minute -> 1-hour rollup.

The migration decided the layout (``octet_meta.timeseries``): ``timescaledb`` hypertables with a
continuous aggregate, ``partitioned`` native range partitions by day with BRIN indexes, or
``plain`` tables on SQLite. On PostgreSQL ticks go in with ``COPY`` (one round trip per batch);
on the partitioned layout the day partitions a batch needs are created first.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine, text

from trading.instruments import InstrumentRegistry
from trading.market import Bar, TickBatch

DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9

_ROLLUP_1H = f"""
INSERT INTO bars_1h (symbol, ts_ns, open, high, low, close, volume)
SELECT g.symbol, g.bucket, o.open, g.high, g.low, c.close, g.volume
FROM (SELECT symbol, (ts_ns / {HOUR_NS}) * {HOUR_NS} AS bucket, max(high) AS high, min(low) AS low,
             sum(volume) AS volume, min(ts_ns) AS first_ts, max(ts_ns) AS last_ts
      FROM bars WHERE seconds = 60 AND ts_ns >= :start AND ts_ns < :end
      GROUP BY symbol, (ts_ns / {HOUR_NS}) * {HOUR_NS}) g
JOIN bars o ON o.symbol = g.symbol AND o.seconds = 60 AND o.ts_ns = g.first_ts
JOIN bars c ON c.symbol = g.symbol AND c.seconds = 60 AND c.ts_ns = g.last_ts
WHERE 1 = 1
ON CONFLICT (symbol, ts_ns) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low,
    close = excluded.close, volume = excluded.volume
"""


class TimeSeries:
    def __init__(self, engine: Engine, registry: InstrumentRegistry) -> None:
        self.engine = engine
        self.registry = registry
        with engine.connect() as conn:
            self.mode = str(conn.execute(text("SELECT value FROM octet_meta WHERE key = 'timeseries'")).scalar())
        self._days: dict[str, set[int]] = {"ticks": set(), "bars": set()}
        self._symbols = np.array(registry.symbols, dtype=object)

    def _ensure_days(self, conn: Any, table: str, first_ns: int, last_ns: int) -> None:
        if self.mode != "partitioned":
            return
        days = set(range(first_ns - first_ns % DAY_NS, last_ns + 1, DAY_NS))
        if days - self._days[table]:
            conn.execute(text("SELECT octet_ensure_partitions(:t, :a, :b)"), {"t": table, "a": first_ns, "b": last_ns})
            self._days[table] |= days

    def write_ticks(self, ticks: TickBatch) -> int:
        n = len(ticks)
        if n == 0:
            return 0
        frame = pl.DataFrame({"symbol": self._symbols[ticks.inst.astype(np.int64)].tolist(), "ts_ns": ticks.ts,
                              "bid": ticks.bid, "ask": ticks.ask})
        with self.engine.begin() as conn:
            self._ensure_days(conn, "ticks", int(ticks.ts.min()), int(ticks.ts.max()))
            if self.engine.dialect.name == "postgresql":
                buf = io.BytesIO()
                frame.write_csv(buf, include_header=False, separator="\t")
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy("COPY ticks (symbol, ts_ns, bid, ask) FROM STDIN") as copy:
                    copy.write(buf.getvalue())
            else:
                conn.execute(text("INSERT INTO ticks (symbol, ts_ns, bid, ask) VALUES (:symbol, :ts_ns, :bid, :ask)"),
                             frame.to_dicts())
        return n

    def write_bars(self, bars: list[Bar] | tuple[Bar, ...], seconds: int = 60) -> int:
        """Bars of mid prices, stored in points; a bar written again replaces the first."""
        if not bars:
            return 0
        rows = []
        for b in bars:
            scale = 10 ** self.registry[b.symbol].price_precision
            rows.append(dict(symbol=b.symbol, seconds=seconds, ts_ns=b.start_ns, open=round(b.open * scale),
                             high=round(b.high * scale), low=round(b.low * scale), close=round(b.close * scale),
                             volume=int(b.volume)))
        with self.engine.begin() as conn:
            self._ensure_days(conn, "bars", min(r["ts_ns"] for r in rows), max(r["ts_ns"] for r in rows))
            conn.execute(text("INSERT INTO bars (symbol, seconds, ts_ns, open, high, low, close, volume) "
                              "VALUES (:symbol, :seconds, :ts_ns, :open, :high, :low, :close, :volume) "
                              "ON CONFLICT (symbol, seconds, ts_ns) DO UPDATE SET open = excluded.open, "
                              "high = excluded.high, low = excluded.low, close = excluded.close, "
                              "volume = excluded.volume"), rows)
        return len(rows)

    def rollup_hours(self, start_ns: int, end_ns: int) -> None:
        """Bring ``bars_1h`` up to date for [start, end) (whole hours)."""
        start_ns -= start_ns % HOUR_NS
        end_ns += (-end_ns) % HOUR_NS
        if self.mode == "timescaledb":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("CALL refresh_continuous_aggregate('bars_1h', :a, :b)"), {"a": start_ns, "b": end_ns})
            return
        with self.engine.begin() as conn:
            conn.execute(text(_ROLLUP_1H), {"start": start_ns, "end": end_ns})

    def last_quotes(self) -> dict[str, tuple[int, int, int]]:
        """The latest tick per symbol: (ts_ns, bid, ask) in points."""
        out = {}
        with self.engine.connect() as conn:
            for symbol in self._symbols:
                row = conn.execute(text("SELECT ts_ns, bid, ask FROM ticks WHERE symbol = :s "
                                        "ORDER BY ts_ns DESC LIMIT 1"), {"s": symbol}).first()
                if row is not None:
                    out[str(symbol)] = (int(row[0]), int(row[1]), int(row[2]))
        return out

    def partitions(self, table: str) -> list[str]:
        if self.mode != "partitioned":
            return []
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t ORDER BY c.relname"), {"t": table})]
