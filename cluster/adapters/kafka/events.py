"""Event payloads on the bus: one definition per schema and version, used by producers and consumers.

Every message carries the headers ``schema`` (its name) and ``v`` (its version). A consumer
decodes only the versions it knows; any other message is dead-lettered with the reason, never
guessed at.

* ``md.ticks`` v1 — a chunk of one instrument's ticks, binary: a fixed header (symbol, batch
  number, tick count) and the columns ts (int64 ns), bid and ask (int64 points), volume (float64),
  little-endian. One message per instrument per batch, keyed by the instrument: many ticks per
  message is what lets Python move 100,000s of ticks a second through Kafka.
* ``md.ticks`` v2 — v1 and then one byte per tick, the quote's ``path`` flag (``TickBatch.path``:
  quotes made from bars). Sent only for quotes that carry the flags; ticks stay v1.
* ``md.bars`` v2 — one instrument's bars closed in a batch, as JSON columns:
  ``{"symbol", "batch", "bars": {"start_ns": [...], "end_ns": [...], "open": [...], ...}}`` with
  the fields of ``BAR_FIELDS`` (v1 was a list of one object per bar: five times the cost to encode
  on the ingress actor's path for the same content).
* every other topic v1 — a JSON document (UTF-8, sorted keys, Decimals as strings).
"""

from __future__ import annotations

import json
import operator
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from trading.instruments import InstrumentRegistry
from trading.market import Bar, TickBatch

TICKS_SCHEMA = "md.ticks"
TICKS_VERSION = 1
TICKS_PATH_VERSION = 2  # v1 and the quotes' path flags
_HEADER = struct.Struct("<16sqI")  # symbol (ASCII, padded), batch number, tick count
BARS_SCHEMA = "md.bars"
BARS_VERSION = 2
BAR_FIELDS = ("start_ns", "end_ns", "open", "high", "low", "close", "volume", "ticks", "spread")
_bar_values = operator.attrgetter(*BAR_FIELDS)


class UnknownSchema(ValueError):
    """A message whose schema or version this build does not know."""


@dataclass(frozen=True, slots=True)
class TickChunk:
    symbol: str
    batch: int
    ts: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    volume: np.ndarray
    path: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ts)


def headers(schema: str, version: int) -> list[tuple[str, bytes]]:
    return [("schema", schema.encode()), ("v", str(version).encode())]


def schema_of(msg_headers: list[tuple[str, bytes]] | None) -> tuple[str, int]:
    h = dict(msg_headers or [])
    try:
        return h["schema"].decode(), int(h["v"])
    except (KeyError, ValueError, UnicodeDecodeError):
        raise UnknownSchema("no schema/version headers") from None


def ticks_version(ticks: TickBatch) -> int:
    """The md.ticks version ``encode_ticks`` writes these ticks in."""
    return TICKS_VERSION if ticks.path is None else TICKS_PATH_VERSION


def encode_ticks(symbol: str, batch: int, ticks: TickBatch) -> bytes:
    """v1, or v2 when the ticks carry path flags (``ticks_version``)."""
    parts = [_HEADER.pack(symbol.encode("ascii"), batch, len(ticks)),
             ticks.ts.astype("<i8").tobytes(), ticks.bid.astype("<i8").tobytes(),
             ticks.ask.astype("<i8").tobytes(), ticks.volume.astype("<f8").tobytes()]
    if ticks.path is not None:
        parts.append(ticks.path.astype(np.uint8).tobytes())
    return b"".join(parts)


def decode_ticks(payload: bytes, msg_headers: list[tuple[str, bytes]] | None) -> TickChunk:
    schema, version = schema_of(msg_headers)
    if schema != TICKS_SCHEMA or version not in (TICKS_VERSION, TICKS_PATH_VERSION):
        raise UnknownSchema(f"unknown schema {schema} v{version} on md.ticks (this build reads "
                            f"v{TICKS_VERSION} and v{TICKS_PATH_VERSION})")
    if len(payload) < _HEADER.size:
        raise ValueError(f"md.ticks payload of {len(payload)} bytes is shorter than its header")
    raw_symbol, batch, n = _HEADER.unpack_from(payload)
    per_tick = 32 if version == TICKS_VERSION else 33
    if len(payload) != _HEADER.size + per_tick * n:
        raise ValueError(f"md.ticks v{version} payload of {len(payload)} bytes does not hold {n} ticks")
    cols = np.frombuffer(payload, dtype="<i8", count=3 * n, offset=_HEADER.size).reshape(3, n)
    vol = np.frombuffer(payload, dtype="<f8", count=n, offset=_HEADER.size + 24 * n)
    path = None
    if version == TICKS_PATH_VERSION:
        path = np.frombuffer(payload, dtype=np.uint8, count=n, offset=_HEADER.size + 32 * n).astype(np.bool_)
    return TickChunk(raw_symbol.rstrip(b"\0").decode("ascii"), batch, cols[0].astype(np.int64),
                     cols[1].astype(np.int64), cols[2].astype(np.int64), vol.astype(np.float64), path)


def chunks_to_batch(chunks: list[TickChunk], registry: InstrumentRegistry) -> TickBatch:
    """Chunks of several instruments as one batch, each instrument's ticks in the order they came
    (validation judges that order: a tick out of order must stay out of order)."""
    return TickBatch.concat([TickBatch(c.ts, np.full(len(c), registry.index(c.symbol), np.int16), c.bid, c.ask,
                                       c.volume, c.path) for c in chunks])


def encode_json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()


def decode_json(payload: bytes, msg_headers: list[tuple[str, bytes]] | None, schema: str,
                version: int = 1) -> Any:
    got = schema_of(msg_headers)
    if got != (schema, version):
        raise UnknownSchema(f"unknown schema {got[0]} v{got[1]} (this build reads {schema} v{version})")
    return json.loads(payload)


def encode_bars(symbol: str, batch: int, bars: list[Bar]) -> bytes:
    """``md.bars`` v2: one instrument's bars of one batch, column by column."""
    columns = zip(*map(_bar_values, bars), strict=True)
    doc = {"symbol": symbol, "batch": batch, "bars": dict(zip(BAR_FIELDS, (list(c) for c in columns), strict=True))}
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_bars(payload: bytes, msg_headers: list[tuple[str, bytes]] | None) -> tuple[str, int, list[Bar]]:
    """The instrument, batch and bars of an ``md.bars`` v2 message (each bar checked as it is built)."""
    doc = decode_json(payload, msg_headers, BARS_SCHEMA, BARS_VERSION)
    cols = doc["bars"]
    rows = zip(*(cols[f] for f in BAR_FIELDS), strict=True)
    return doc["symbol"], doc["batch"], [Bar(doc["symbol"], *row) for row in rows]
