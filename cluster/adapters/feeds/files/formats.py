"""Market data files in the formats traders have, read into one shape.

Every reader returns a ``Parsed``: a frame with the file's ``line`` number and ``text`` per data row,
``ts`` (UTC ns, null where unreadable), ``symbol``, ``fault`` (why the row cannot be used, null when
it can) and either ``bid``, ``ask``, ``volume`` (quotes) or ``open``, ``high``, ``low``, ``close``,
``volume``, ``spread`` (bars; spread in points, null when the file has none). Nothing here is
judged beyond reading: prices and order are checked in ``checks``.

Formats (``docs/data.md`` shows each):

- ``octet``: Octet's own: ``ts,symbol,bid,ask[,volume]`` (quotes) or ``ts,symbol,open,high,low,
  close,volume`` (bars); ``ts`` ISO-8601 with a zone or integer ns since the epoch. CSV or Parquet.
- ``mt5``: a MetaTrader 5 export (Symbols → Bars or Ticks → Export): tab-separated,
  ``<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>`` or
  ``<DATE> <TIME> <BID> <ASK> <LAST> <VOLUME> <FLAGS>``, in the broker's server time (a zone must
  be named). Bar prices are bids with the bar's spread in points; a tick row gives only what
  changed, so bid and ask carry forward.
- ``histdata``: HistData.com's generic ASCII: M1 bars ``YYYYMMDD HHMMSS;open;high;low;close;volume``
  and ticks ``YYYYMMDD HHMMSSmmm,bid,ask,volume``, no header, in Eastern Standard Time all year
  (UTC-5, no daylight saving), bid prices.
- ``dukascopy``: Dukascopy's CSV: ``Gmt time,Ask,Bid,AskVolume,BidVolume`` (ticks) or
  ``Gmt time,Open,High,Low,Close,Volume`` (candles), times ``dd.mm.yyyy HH:MM:SS.fff`` in UTC;
  ``Local time`` files carry their offset (`` GMT+0200``) on each row.
- ``generic``: any CSV or Parquet with a header, its columns named by a map (``ts`` or ``date`` and
  ``time``; ``symbol``; ``bid`` and ``ask``, or ``open``, ``high``, ``low``, ``close``; optional
  ``volume`` and ``spread``).
"""

from __future__ import annotations

import codecs
import gzip
import math
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from trading.clocks import HISTDATA_EST, UTC, Clock, ZoneError, parse_clock

FORMATS = ("auto", "octet", "mt5", "histdata", "dukascopy", "generic")
Kind = Literal["quotes", "bars"]
GENERIC_FIELDS = ("ts", "date", "time", "symbol", "bid", "ask", "open", "high", "low", "close", "volume", "spread")
STRIP = ' \t"\'\r'


class DataFileError(ValueError):
    """The file cannot be read as a whole (unknown format, missing column, no zone): one line."""


SPIKE_FACTOR = 2.0  # FileSpec.spike_factor's default (``cluster.adapters.feeds.files._spikes``)


@dataclass(frozen=True)
class FileSpec:
    """How to read a file. ``format`` auto tells it from the first line; ``symbol`` names the
    instrument of a one-instrument file (else the file name must hold exactly one known symbol);
    ``tz`` the clock of naive times (required for MT5 exports and naive ISO times); ``columns``
    maps the generic format's fields to the file's header names; ``time_format`` is a strptime
    format for its times; ``spread_points`` is the bars' spread (over the file's own);
    ``price_side`` which side bar prices are (default: the format's, else bid)."""

    format: str = "auto"
    symbol: str | None = None
    tz: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    time_format: str | None = None
    spread_points: int | None = None
    price_side: Literal["bid", "ask", "mid"] | None = None
    spike_factor: float = SPIKE_FACTOR  # a price this many times off the rows around it is a bad print (0: no check)


@dataclass
class Parsed:
    frame: pl.DataFrame
    kind: Kind
    format: str
    clock: str
    price_side: Literal["bid", "ask", "mid"] = "bid"
    notes: list[str] = field(default_factory=list)
    ignored: pl.DataFrame | None = None  # rows that are not market data (a trade-only MT5 tick), with a reason


# --- the raw text ---------------------------------------------------------------------------------

def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    elif len(raw) > 1 and raw[1:2] == b"\x00" and raw[:1] != b"\x00":  # UTF-16 LE without its mark
        return raw.decode("utf-16-le")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(f"{path}: line {line}: not text (byte 0x{raw[exc.start]:02x}); "
                            "is this a CSV file?") from None


def _bytes(path: Path) -> bytes:
    try:
        return _unpacked(path)
    except (gzip.BadGzipFile, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataFileError(f"{path}: not a readable {path.suffix[1:]} file ({exc})") from None


LINE_PROBE = 64 * 1024  # a file of quotes or bars has a line break within its first this many bytes
MAX_TEXT_BYTES = 1 << 30  # the text read at most (unpacked): a file is held whole, about 13 times its size in memory


def _unpacked(path: Path) -> bytes:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            return _capped(fh, path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.namelist() if m.lower().endswith((".csv", ".txt"))]
            if len(members) != 1:
                raise DataFileError(f"{path}: a zip must hold exactly one .csv or .txt file, it holds "
                                    f"{len(members)}")
            with z.open(members[0]) as fh:
                return _capped(fh, path)
    with path.open("rb") as fh:
        return _capped(fh, path)


def _capped(fh: IO[bytes] | gzip.GzipFile, path: Path) -> bytes:
    """The file's bytes (unpacked), read a piece at a time and refused as soon as they are not a text of lines or
    pass ``MAX_TEXT_BYTES``: a small archive of 2 GB of zeros was read whole first (16 GB of memory)."""
    head = fh.read(LINE_PROBE)
    if len(head) == LINE_PROBE and b"\n" not in head and b"\r" not in head:
        raise DataFileError(f"{path}: no line break in its first {LINE_PROBE // 1024} KiB: not a text file of quotes "
                            "or bars")
    pieces, total, piece = [], 0, head
    while piece:
        pieces.append(piece)
        total += len(piece)
        if total > MAX_TEXT_BYTES:
            unpacked = " unpacked" if path.suffix in (".gz", ".zip") else ""
            raise DataFileError(f"{path}: over {MAX_TEXT_BYTES:,} bytes of text{unpacked}: split it (a month a file, "
                                "say) and read each")
        piece = fh.read(1 << 24)
    return b"".join(pieces)


def _base_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".zip"):
        name = name.removesuffix(suffix)
    return name


def read_lines(path: Path) -> pl.DataFrame:
    """The file's non-blank lines with their numbers (``line``, ``text``)."""
    text = _decode(_bytes(path), path)
    lines = text.splitlines()
    frame = pl.DataFrame({"line": pl.int_range(1, len(lines) + 1, eager=True), "text": pl.Series(lines, dtype=pl.Utf8)})
    return frame.filter(pl.col("text").str.strip_chars() != "")


def _fields(rows: pl.DataFrame, sep: str, names: list[str]) -> pl.DataFrame:
    """Split ``text`` at ``sep`` into ``names``; ``_count`` is how many fields the row has."""
    parts = pl.col("text").str.split(sep)
    return rows.with_columns(
        parts.list.len().alias("_count"),
        *[parts.list.get(i, null_on_oob=True).str.strip_chars(STRIP).alias(n) for i, n in enumerate(names)])


def _sniff_sep(header: str) -> str:
    return max("\t,;|", key=header.count)


# --- values ---------------------------------------------------------------------------------------

def _first_fault(*faults: pl.Expr) -> pl.Expr:
    return pl.coalesce(*faults) if faults else pl.lit(None, pl.Utf8)


def _number(name: str, label: str | None = None, *, optional: bool = False) -> tuple[pl.Expr, pl.Expr]:
    """The column as Float64, and its fault: missing, or text in a number column."""
    label = label or name
    raw = pl.col(name)
    value = raw.cast(pl.Float64, strict=False)
    empty = raw.is_null() | (raw == "")
    fault = (pl.when(empty).then(pl.lit(None if optional else f"missing {label}", pl.Utf8))
             .when(value.is_null()).then(pl.format(f"text '{{}}' in number column {label}", raw.str.slice(0, 24)))
             .otherwise(pl.lit(None, pl.Utf8)))
    return value, fault


def _count_fault(expected: int) -> pl.Expr:
    return (pl.when(pl.col("_count") != expected)
            .then(pl.format(f"{{}} fields where the header has {expected}", pl.col("_count")))
            .otherwise(pl.lit(None, pl.Utf8)))


def check_time_format(fmt: str) -> None:
    """Refuse a ``--time-format`` the parser refuses outright (an hour without its minute, ...), in one
    line naming it. One it takes but that reads none of a file's times (an unknown directive, a stray %)
    is refused once the file is read (``cluster.adapters.feeds.files``)."""
    try:
        pl.Series(["2024-03-11 10:07:05"]).str.strptime(pl.Datetime("ns"), fmt, strict=False)
    except (ValueError, pl.exceptions.PolarsError) as exc:
        raise DataFileError(f"--time-format {fmt!r}: {(str(exc).strip().splitlines() or ['not a time format'])[0]}"
                            ) from None


def _local(raw: pl.Expr, fmt: str) -> pl.Expr:
    return raw.str.strptime(pl.Datetime("ns"), fmt, strict=False)


FIRST_NS = 31_536_000 * 1_000_000_000  # 1971-01-01 UTC: earlier stamps are a unit or a zone gone wrong
LAST_NS = 7_258_118_400 * 1_000_000_000  # 2200-01-01 UTC (int64 nanoseconds end in 2262)


def _out_of_range(ts: pl.Expr) -> pl.Expr:
    return ts.is_not_null() & ((ts < FIRST_NS) | (ts >= LAST_NS))


def _time_fault(raw: pl.Expr, local: pl.Expr, ts: pl.Expr, clock: str) -> pl.Expr:
    return (pl.when(local.is_null()).then(pl.format("unreadable time '{}'", raw.str.slice(0, 40)))
            .when(local.dt.year().is_between(1971, 2199).not_()).then(
                pl.format("time '{}' out of range (1971 to 2199)", raw.str.slice(0, 40)))
            .when(ts.is_null()).then(pl.format(f"time '{{}}' does not exist or is ambiguous on the {clock} "
                                               "clock (a daylight-saving change)", raw))
            .otherwise(pl.lit(None, pl.Utf8)))


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_OFFSET_RE = r"(Z|[+-]\d{2}:?\d{2})$"


def _iso_or_epoch(raw: pl.Expr, clock: Clock | None, epoch_unit: str | None) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """ISO-8601 times (with a zone, or naive on ``clock``) or integer epoch stamps: (ts ns, fault,
    naive: a naive time and no clock to read it by)."""
    digits = raw.str.contains(r"^-?\d+$")
    if epoch_unit is None:  # by length: 10 digits s, 13 ms, 16 us, 19 ns
        n = raw.str.len_chars()
        scale = (pl.when(n <= 11).then(pl.lit(1_000_000_000)).when(n <= 14).then(pl.lit(1_000_000))
                 .when(n <= 17).then(pl.lit(1_000)).otherwise(pl.lit(1)))
    else:
        scale = pl.lit({"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[epoch_unit])
    epoch = raw.cast(pl.Int64, strict=False) * scale
    offset = raw.str.extract(_OFFSET_RE, 1)
    body = raw.str.replace(_OFFSET_RE, "").str.replace("T", " ")
    local = body.str.strptime(pl.Datetime("ns"), "%Y-%m-%d %H:%M:%S%.f", strict=False)
    local = pl.coalesce(local, body.str.strptime(pl.Datetime("ns"), "%Y-%m-%d %H:%M", strict=False),
                        body.str.strptime(pl.Datetime("ns"), "%Y-%m-%d", strict=False))
    sign = pl.when(offset.str.starts_with("-")).then(pl.lit(-1)).otherwise(pl.lit(1))
    off_digits = offset.str.replace(":", "").str.slice(1)
    off_min = (sign * (off_digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
                       + off_digits.str.slice(2, 2).cast(pl.Int64, strict=False)))
    off_min = pl.when(offset == "Z").then(pl.lit(0)).otherwise(off_min)
    aware = local.dt.epoch("ns") - off_min * 60_000_000_000
    naive_ts = clock.to_utc_ns(local) if clock is not None else pl.lit(None, pl.Int64)
    ts = pl.when(digits).then(epoch).when(offset.is_not_null()).then(aware).otherwise(naive_ts)
    naive = ~digits & offset.is_null() & local.is_not_null() & pl.lit(clock is None)
    parsed = pl.when(digits).then(epoch.is_not_null()).otherwise(local.is_not_null())
    out = pl.when(digits).then(_out_of_range(epoch)).otherwise(local.dt.year().is_between(1971, 2199).not_())
    fault = (pl.when(~parsed).then(pl.format("unreadable time '{}'", raw.str.slice(0, 40)))
             .when(out).then(pl.format("time '{}' out of range (1971 to 2199)", raw.str.slice(0, 40)))
             .when(ts.is_null() & ~naive).then(pl.format("time '{}' does not exist or is ambiguous on the "
                                                         f"{clock.name if clock else 'file'}'s clock", raw))
             .otherwise(pl.lit(None, pl.Utf8)))
    return ts, fault, naive


def _clock(spec: FileSpec, default: Clock | None) -> Clock | None:
    if spec.tz is None:
        return default
    try:
        return parse_clock(spec.tz)
    except ZoneError as exc:
        raise DataFileError(str(exc)) from None


def symbol_from_name(path: Path, known: list[str]) -> str | None:
    """The one known symbol the file name holds (EURUSD, EUR_USD, EUR-USD, eurusd), if exactly one."""
    squashed = re.sub(r"[^A-Z0-9]", "", _base_name(path).upper())
    found = {s for s in known if s.upper() in squashed}
    return found.pop() if len(found) == 1 else None


def _symbol(spec: FileSpec, path: Path, known: list[str]) -> str:
    if spec.symbol is not None:
        return spec.symbol
    found = symbol_from_name(path, known)
    if found is None:
        raise DataFileError(f"{path}: the file does not say its instrument and its name holds none (or several) "
                            f"of {', '.join(known)}: name it with --symbol (session.data_symbol)")
    return found


def _naive_refusal(frame: pl.DataFrame, path: Path) -> None:
    naive = frame.filter(pl.col("_naive"))
    if len(naive):
        first = naive.row(0, named=True)
        raise DataFileError(f"{path}: line {first['line']}: time '{first['_ts_raw']}' has no zone ({len(naive):,} "
                            "such row(s)): write it with one (Z, +02:00) or name the file's clock with --tz "
                            "(session.data_tz), e.g. UTC, Europe/Athens, +02:00 or NY+7")


def _finish(frame: pl.DataFrame, columns: list[str], faults: list[pl.Expr]) -> pl.DataFrame:
    return frame.with_columns(_first_fault(*faults).alias("fault")).select(["line", "text", "ts", "symbol",
                                                                            "fault", *columns])


QUOTE_COLUMNS = ["bid", "ask", "volume"]
BAR_COLUMNS = ["open", "high", "low", "close", "volume", "spread"]


# --- the formats ----------------------------------------------------------------------------------

def sniff(path: Path, first: str) -> str:
    """The format of a CSV file from its first non-blank line."""
    head = first.strip().lstrip("\ufeff")
    low = head.lower()
    if low.startswith("<date>"):
        return "mt5"
    if low.startswith(("gmt time", "local time")):
        return "dukascopy"
    if re.match(r"^\d{8} \d{6}(\d{3})?[;,]", head):
        return "histdata"
    names = {c.strip(STRIP).lower() for c in head.split(_sniff_sep(head))}
    if {"ts", "symbol"} <= names and ({"bid", "ask"} <= names or {"open", "high", "low", "close"} <= names):
        return "octet"
    raise DataFileError(f"{path}: cannot tell the format from its first line '{head[:80]}': name it with --format "
                        "(mt5, histdata, dukascopy, octet, or generic with --columns)")


def parse_mt5(rows: pl.DataFrame, path: Path, spec: FileSpec, known: list[str]) -> Parsed:
    header, body = rows.row(0, named=True)["text"], rows.slice(1)
    sep = _sniff_sep(header)
    names = [h.strip(STRIP).strip("<>").lower() for h in header.split(sep)]
    if spec.tz is None:
        raise DataFileError(f"{path}: an MT5 export is in the broker's server time: name it with --tz "
                            "(session.data_tz): NY+7 for most FX brokers (their day starts at 17:00 New York), "
                            "or an IANA zone or offset (+02:00)")
    clock = _clock(spec, None)
    assert clock is not None
    kind: Kind = "bars" if "open" in names else "quotes"
    need = ["date", "open", "high", "low", "close"] if kind == "bars" else ["date", "bid", "ask"]
    missing = [n for n in need if n not in names]
    if missing:
        raise DataFileError(f"{path}: line {rows.row(0, named=True)['line']}: an MT5 {kind} export needs "
                            f"<{'>, <'.join(n.upper() for n in missing)}>")
    f = _fields(body, sep, names)
    raw_time = (pl.col("date") + " " + pl.col("time")) if "time" in names else pl.col("date")
    local = _local(raw_time, "%Y.%m.%d %H:%M:%S%.f" if "time" in names else "%Y.%m.%d")
    ts = clock.to_utc_ns(local)
    symbol = _symbol(spec, path, known)
    faults = [_count_fault(len(names)), _time_fault(raw_time, local, ts, clock.name)]
    notes = [f"times on the broker's {clock.name} clock"]
    if kind == "bars":
        values = {n: _number(n) for n in ("open", "high", "low", "close")}
        tickvol, tv_fault = _number("tickvol", "<TICKVOL>", optional=True) if "tickvol" in names else (pl.lit(0.0), None)
        vol, v_fault = _number("vol", "<VOL>", optional=True) if "vol" in names else (pl.lit(0.0), None)
        spread, s_fault = (_number("spread", "<SPREAD>", optional=True) if "spread" in names
                           else (pl.lit(None, pl.Float64), None))
        faults += [values[n][1] for n in values] + [x for x in (tv_fault, v_fault, s_fault) if x is not None]
        f = f.with_columns(_first_fault(*faults).alias("_pf"))

        f = f.with_columns(ts.alias("ts"), pl.lit(symbol).alias("symbol"),
                           *[values[n][0].alias(n) for n in values],
                           tickvol.fill_null(0.0).alias("_tickvol"), vol.fill_null(0.0).alias("_vol"),
                           spread.alias("spread"))
        real_volume = bool(f["_vol"].max() or 0) if len(f) else False
        f = f.with_columns(pl.col("_vol" if real_volume else "_tickvol").alias("volume"))
        notes.append("volume from <VOL>" if real_volume else "volume from <TICKVOL> (ticks per bar)")
        if "spread" in names and spec.spread_points is None:
            notes.append("spread from <SPREAD> (points)")
        return Parsed(_finish(f, BAR_COLUMNS, [pl.col("_pf")]), "bars", "mt5", clock.name, spec.price_side or "bid", notes)
    # ticks: a row gives what changed; an empty bid or ask is the last one given
    bid, b_fault = _number("bid", optional=True)
    ask, a_fault = _number("ask", optional=True)
    volume, v_fault = _number("volume", optional=True) if "volume" in names else (pl.lit(None, pl.Float64), None)
    faults += [b_fault, a_fault] + ([v_fault] if v_fault is not None else [])
    f = f.with_columns(_first_fault(*faults).alias("_pf"))
    f = f.with_columns(ts.alias("ts"), pl.lit(symbol).alias("symbol"), bid.alias("_bid"), ask.alias("_ask"),
                       pl.when(volume > 0).then(volume).otherwise(pl.lit(1.0)).alias("volume"))
    changed = pl.col("_bid").is_not_null() | pl.col("_ask").is_not_null()
    # carry forward only over rows that read cleanly and, once filled in, make a valid quote: a crossed
    # or non-positive row (skipped later with its reason) must not become the next rows' bid or ask
    usable = pl.col("_pf").is_null()
    carried_bid, carried_ask = _carry(f["_bid"].to_numpy(), f["_ask"].to_numpy(), f["_pf"].is_null().to_numpy())
    f = f.with_columns(pl.Series("bid", carried_bid).fill_nan(None), pl.Series("ask", carried_ask).fill_nan(None))
    partial = pl.col("bid").is_null() | pl.col("ask").is_null()
    why = (pl.when(~changed).then(pl.lit("no bid or ask on the row (a last-price or volume-only tick)"))
           .otherwise(pl.lit("before the first full quote (bid and ask not both given yet)")))
    ignored = f.filter(usable & (~changed | partial)).select("line", "text", why.alias("reason"))
    f = f.filter(~usable | (changed & ~partial))
    frame = _finish(f, QUOTE_COLUMNS, [pl.col("_pf")])
    return Parsed(frame, "quotes", "mt5", clock.name, "bid", notes, ignored)


def _carry(bid: npt.NDArray[np.float64], ask: npt.NDArray[np.float64], usable: npt.NDArray[np.bool_],
           ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each MT5 tick row's bid and ask: its own, or the last one given by a row before it that read
    cleanly and made a valid quote (a crossed or non-positive row is skipped later, and what it gave
    must not become the next rows' bid or ask). NaN where none was given yet. Row by row, as the
    export means it; a file whose rows all give both sides needs no pass."""
    bid, ask = bid.astype(np.float64), ask.astype(np.float64)
    if not (np.isnan(bid) | np.isnan(ask)).any():
        return bid, ask
    out_b, out_a = bid.copy(), ask.copy()
    last_b = last_a = math.nan
    for i, (b, a, ok) in enumerate(zip(bid.tolist(), ask.tolist(), usable.tolist(), strict=True)):
        b = last_b if b != b else b  # NaN: not given on the row
        a = last_a if a != a else a
        out_b[i], out_a[i] = b, a
        if ok and not (b <= 0 or a <= 0 or b > a):  # NaN compares false: a partial row still carries its side
            last_b, last_a = b, a
    return out_b, out_a


def parse_histdata(rows: pl.DataFrame, path: Path, spec: FileSpec, known: list[str]) -> Parsed:
    first = rows.row(0, named=True)["text"].strip()
    # HistData stamps every file on one clock: a --tz (or session.data_tz) given for other files is not used
    # on a file found to be HistData's; with --format histdata named, it is (a file of that layout re-stamped)
    given = _clock(spec, None)  # a clock that does not exist is refused either way
    clock = given if given is not None and spec.format == "histdata" else HISTDATA_EST
    symbol = _symbol(spec, path, known)
    notes = [f"times on HistData's clock, {clock.name} (Eastern Standard Time, no daylight saving)"
             + (f"; the clock given ({spec.tz}) is not used: HistData stamps every file on its own (name "
                "--format histdata to read it on the clock given)" if given is not None else "")
             if clock is HISTDATA_EST else f"times on the clock given, {clock.name} (--format histdata)"]
    if ";" in first:
        names = ["_t", "open", "high", "low", "close", "volume"]
        f = _fields(rows, ";", names)
        local = _local(pl.col("_t"), "%Y%m%d %H%M%S")
        ts = clock.to_utc_ns(local)
        values = {n: _number(n) for n in names[1:]}
        faults = [_count_fault(6), _time_fault(pl.col("_t"), local, ts, clock.name), *(v[1] for v in values.values())]
        f = f.with_columns(_first_fault(*faults).alias("_pf"))

        f = f.with_columns(ts.alias("ts"), pl.lit(symbol).alias("symbol"), *[v[0].alias(n) for n, v in values.items()],
                           pl.lit(None, pl.Float64).alias("spread"))
        if len(f) and not (f["volume"].max() or 0):
            notes.append("no volume in the file (HistData's FX bars carry 0): volume-based events will not show")
        return Parsed(_finish(f, BAR_COLUMNS, [pl.col("_pf")]), "bars", "histdata", clock.name, spec.price_side or "bid", notes)
    names = ["_t", "bid", "ask", "volume"]
    f = _fields(rows, ",", names)
    local = _local(pl.col("_t"), "%Y%m%d %H%M%S%3f")
    ts = clock.to_utc_ns(local)
    bid, ask, volume = _number("bid"), _number("ask"), _number("volume", optional=True)
    faults = [_count_fault(4), _time_fault(pl.col("_t"), local, ts, clock.name), bid[1], ask[1], volume[1]]
    f = f.with_columns(_first_fault(*faults).alias("_pf"))
    f = f.with_columns(ts.alias("ts"), pl.lit(symbol).alias("symbol"), bid[0].alias("bid"), ask[0].alias("ask"),
                       pl.when(volume[0] > 0).then(volume[0]).otherwise(pl.lit(1.0)).alias("volume"))
    return Parsed(_finish(f, QUOTE_COLUMNS, [pl.col("_pf")]), "quotes", "histdata", clock.name, "bid", notes)


_DUKA_OFFSET = r"\s*GMT([+-]\d{2}):?(\d{2})$"


def parse_dukascopy(rows: pl.DataFrame, path: Path, spec: FileSpec, known: list[str]) -> Parsed:
    header, body = rows.row(0, named=True)["text"], rows.slice(1)
    names = [h.strip(STRIP).lower().replace(" ", "") for h in header.split(",")]
    gmt = names[0] == "gmttime"
    kind: Kind = "bars" if "open" in names else "quotes"
    need = ["open", "high", "low", "close"] if kind == "bars" else ["ask", "bid"]
    missing = [n for n in need if n not in names]
    if missing:
        raise DataFileError(f"{path}: line {rows.row(0, named=True)['line']}: a Dukascopy {kind} file needs "
                            f"{', '.join(n.title() for n in missing)}")
    names[0] = "_t"
    f = _fields(body, ",", names)
    raw = pl.col("_t")
    offset_h = raw.str.extract(_DUKA_OFFSET, 1).cast(pl.Int64, strict=False)
    offset_m = raw.str.extract(_DUKA_OFFSET, 2).cast(pl.Int64, strict=False)
    local = _local(raw.str.replace(_DUKA_OFFSET, ""), "%d.%m.%Y %H:%M:%S%.f")
    clock = UTC if gmt else _clock(spec, None)
    offset_min = offset_h * 60 + offset_h.sign() * offset_m
    with_offset = local.dt.epoch("ns") - offset_min * 60_000_000_000
    on_clock = clock.to_utc_ns(local) if clock is not None else pl.lit(None, pl.Int64)
    ts = pl.when(offset_h.is_not_null()).then(with_offset).otherwise(on_clock)
    f = f.with_columns(raw.alias("_ts_raw"), (offset_h.is_null() & pl.lit(clock is None)
                                               & local.is_not_null()).alias("_naive"))
    _naive_refusal(f, path)
    clock_name = "UTC" if gmt else (clock.name if clock else "the offset each row gives")
    symbol = _symbol(spec, path, known)
    faults = [_count_fault(len(names)), _time_fault(raw, local, ts, clock_name)]
    # local times carry their offset on each row: a clock given reads only the rows without one
    notes = ["times in UTC" + (f" (the file's Gmt time; the clock given, {spec.tz}, is not used)" if spec.tz else "")
             if gmt else "times by the offset each row gives"
             + (f" (a row without one on {clock.name})" if clock is not None else "")]
    if kind == "bars":
        values = {n: _number(n) for n in ("open", "high", "low", "close")}
        volume = _number("volume", optional=True) if "volume" in names else (pl.lit(0.0), None)
        faults += [v[1] for v in values.values()] + ([volume[1]] if volume[1] is not None else [])
        f = f.with_columns(_first_fault(*faults).alias("_pf"))

        f = f.with_columns(ts.alias("ts"), pl.lit(symbol).alias("symbol"), *[v[0].alias(n) for n, v in values.items()],
                           volume[0].fill_null(0.0).alias("volume"), pl.lit(None, pl.Float64).alias("spread"))
        base = _base_name(path).upper()
        side = spec.price_side or ("ask" if "_ASK_" in base else "bid")
        if spec.price_side is None and "_BID_" not in base:
            notes.append("the file name says ASK" if side == "ask"
                         else "the file name says neither BID nor ASK: bids assumed (--price-side)")
        return Parsed(_finish(f, BAR_COLUMNS, [pl.col("_pf")]), "bars", "dukascopy", clock_name, side, notes)
    ask, bid = _number("ask"), _number("bid")
    av = _number("askvolume", "AskVolume", optional=True) if "askvolume" in names else (pl.lit(0.0), None)
    bv = _number("bidvolume", "BidVolume", optional=True) if "bidvolume" in names else (pl.lit(0.0), None)
    faults += [bid[1], ask[1]] + [x[1] for x in (av, bv) if x[1] is not None]
    f = f.with_columns(_first_fault(*faults).alias("_pf"))
    f = f.with_columns(ts.alias("ts"), pl.lit(symbol).alias("symbol"), bid[0].alias("bid"), ask[0].alias("ask"),
                       (av[0].fill_null(0.0) + bv[0].fill_null(0.0)).alias("volume"))
    return Parsed(_finish(f, QUOTE_COLUMNS, [pl.col("_pf")]), "quotes", "dukascopy", clock_name, "bid", notes)


def _table_from_parquet(path: Path) -> pl.DataFrame:
    frame = pl.read_parquet(path)
    return frame.select(pl.int_range(1, len(frame) + 1).alias("line"), pl.lit("").alias("text"),
                        *[pl.col(c).cast(pl.Utf8).str.strip_chars(STRIP).alias(c) for c in frame.columns])


def parse_columns(table: pl.DataFrame, path: Path, spec: FileSpec, known: list[str], mapping: Mapping[str, str],
                  fmt: str, epoch_unit: str | None) -> Parsed:
    """A table whose header names its columns (``mapping``: Octet field → the file's column)."""
    have = set(table.columns)
    absent = [f"{k}={v}" for k, v in mapping.items() if v not in have]
    if absent:
        raise DataFileError(f"{path}: no column(s) {', '.join(absent)} in the file; it has "
                            f"{', '.join(c for c in table.columns if not c.startswith('_') and c not in ('line', 'text'))}")
    m = dict(mapping)
    kind: Kind = "quotes" if {"bid", "ask"} <= m.keys() else "bars"
    need = ["bid", "ask"] if kind == "quotes" else ["open", "high", "low", "close"]
    if kind == "bars" and not set(need) <= m.keys():
        raise DataFileError(f"{path}: name bid and ask, or open, high, low and close, among the columns "
                            f"(--columns; given: {', '.join(m) or 'none'})")
    if "ts" not in m and "date" not in m:
        raise DataFileError(f"{path}: name the time column: ts=<column>, or date=<column> and time=<column>")
    clock = _clock(spec, None)
    raw_time = pl.col(m["ts"]) if "ts" in m else (pl.col(m["date"]) + (" " + pl.col(m["time"]) if "time" in m else ""))
    if spec.time_format is not None:
        local = _local(raw_time, spec.time_format)
        aware_fmt = any(z in spec.time_format for z in ("%z", "%#z", "%:z", "%::z"))
        if aware_fmt:
            local = raw_time.str.strptime(pl.Datetime("ns", "UTC"), spec.time_format, strict=False)
            ts, naive = local.dt.epoch("ns"), pl.lit(False)
        else:
            ts = clock.to_utc_ns(local) if clock is not None else pl.lit(None, pl.Int64)
            naive = local.is_not_null() & pl.lit(clock is None)
        t_fault = _time_fault(raw_time, local, ts, clock.name if clock else "file's")
    else:
        ts, t_fault, naive = _iso_or_epoch(raw_time, clock, epoch_unit)
    table = table.with_columns(raw_time.alias("_ts_raw"), naive.alias("_naive"))
    _naive_refusal(table, path)
    if "symbol" in m:
        symbol = pl.col(m["symbol"])
    else:
        symbol = pl.lit(_symbol(spec, path, known))
    faults = [pl.col("_cf") if "_cf" in table.columns else pl.lit(None, pl.Utf8), t_fault]
    missing_symbol = (pl.when(symbol.is_null() | (symbol == "")).then(pl.lit("missing symbol")))
    faults.append(missing_symbol)
    if "symbol" in m and spec.symbol is not None:  # the file names its own: --symbol may only agree with it
        faults.append(pl.when(symbol != spec.symbol).then(pl.format(f"symbol '{{}}' in the file, not --symbol "
                                                                     f"{spec.symbol}", symbol)))
    cols: dict[str, pl.Expr] = {}
    for name in need:
        value, fault = _number(m[name], name)
        cols[name] = value
        faults.append(fault)
    if "volume" in m:
        value, fault = _number(m["volume"], "volume", optional=True)
        faults.append(fault)
        cols["volume"] = value.fill_null(1.0 if kind == "quotes" else 0.0)
    else:
        cols["volume"] = pl.lit(1.0 if kind == "quotes" else 0.0)
    if kind == "bars":
        if "spread" in m:
            value, fault = _number(m["spread"], "spread", optional=True)
            faults.append(fault)
            cols["spread"] = value
        else:
            cols["spread"] = pl.lit(None, pl.Float64)
    table = table.with_columns(_first_fault(*faults).alias("_pf"))
    frame = table.with_columns(ts.alias("ts"), symbol.alias("symbol"), *[v.alias(k) for k, v in cols.items()])
    columns = QUOTE_COLUMNS if kind == "quotes" else BAR_COLUMNS
    clock_name = clock.name if clock is not None else "the zone on each time"
    side = spec.price_side or ("bid" if fmt == "generic" else "mid")
    notes = [f"naive times on the {clock.name} clock" if clock is not None else "times carry their zone"]
    return Parsed(_finish(frame, columns, [pl.col("_pf")]), kind, fmt, clock_name, side, notes)


def parse(path: Path, spec: FileSpec, known: list[str]) -> Parsed:
    """Read ``path`` by ``spec`` (format auto: told from its first line)."""
    if spec.format not in FORMATS:
        raise DataFileError(f"format {spec.format!r}: one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise DataFileError(f"{path}: " + ("not a regular file" if path.exists() else "no such file"))
    if spec.time_format is not None:
        check_time_format(spec.time_format)
    base = _base_name(path)
    parquet = base.endswith(".parquet")
    if not parquet and path.suffix != ".zip" and not base.endswith((".csv", ".txt", ".tsv")):
        raise DataFileError(f"{path}: must end in .csv, .txt, .tsv or .parquet (optionally .gz or .zip)")
    fmt = spec.format
    if parquet:
        if fmt not in ("auto", "octet", "generic"):
            raise DataFileError(f"{path}: a Parquet file is read as octet or generic, not {fmt}")
        try:
            table = _table_from_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise DataFileError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
        fmt = "generic" if spec.columns else "octet"
    else:
        rows = read_lines(path)
        if rows.is_empty():
            raise DataFileError(f"{path}: the file is empty")
        if fmt == "auto":
            fmt = "generic" if spec.columns else sniff(path, rows.row(0, named=True)["text"])
        if fmt == "mt5":
            return parse_mt5(rows, path, spec, known)
        if fmt == "histdata":
            return parse_histdata(rows, path, spec, known)
        if fmt == "dukascopy":
            return parse_dukascopy(rows, path, spec, known)
        header = rows.row(0, named=True)["text"]
        sep = _sniff_sep(header)
        names = [h.strip(STRIP) or f"#{i + 1}" for i, h in enumerate(header.split(sep))]  # unnamed: #position
        if len(set(names)) != len(names) or any(n in ("line", "text") or n.startswith("_") for n in names):
            raise DataFileError(f"{path}: line {rows.row(0, named=True)['line']}: the header's column names must "
                                "be distinct and not line, text or start with _")
        table = _fields(rows.slice(1), sep, names).with_columns(_count_fault(len(names)).alias("_cf"))
    if fmt == "octet":
        cols = set(table.columns)
        fields: tuple[str, ...] = (("ts", "symbol", "bid", "ask", "volume") if {"bid", "ask"} <= cols
                                   else ("ts", "symbol", "open", "high", "low", "close", "volume", "spread"))
        mapping = {k: k for k in fields if k in cols}
        for need in ("ts", "symbol"):
            if need not in cols:
                raise DataFileError(f"{path}: missing column {need} (Octet's format: ts,symbol,bid,ask[,volume] "
                                    "or ts,symbol,open,high,low,close,volume)")
        return parse_columns(table, path, spec, known, mapping, "octet", "ns")
    if not spec.columns:
        raise DataFileError(f"{path}: the generic format needs --columns (e.g. ts=Time,bid=Bid,ask=Ask)")
    unknown = [k for k in spec.columns if k not in GENERIC_FIELDS]
    if unknown:
        raise DataFileError(f"--columns: unknown field(s) {', '.join(unknown)}; fields: {', '.join(GENERIC_FIELDS)}")
    return parse_columns(table, path, spec, known, spec.columns, "generic", None)
