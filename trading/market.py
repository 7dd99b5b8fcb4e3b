"""Market data: single validated ticks and bars, and the columnar batches that the hot path moves.

Prices in a ``TickBatch`` are integer points (price x 10^precision), so they stay exact; the
instrument turns them back into Decimals where a price leaves the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from trading.errors import InvalidValue
from trading.instruments import Instrument
from trading.money import to_decimal
from trading.pickling import compact

NS_PER_S = 1_000_000_000
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


NEW_YORK = ZoneInfo("America/New_York")
FX_WEEK_TURN = time(17, 0)  # the FX week closes on Friday and opens on Sunday at 17:00 New York


def _weekends(first_ns: int, last_ns: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The (close, open) instants of every FX weekend from the one before ``first_ns`` to the one
    after ``last_ns``: Friday and Sunday 17:00 New York, daylight saving included (22:00 UTC in
    winter, 21:00 UTC in summer)."""
    day = ts_to_datetime(first_ns).astimezone(NEW_YORK).date() - timedelta(days=7)
    day -= timedelta(days=(day.weekday() - 4) % 7)  # back to a Friday
    end = ts_to_datetime(last_ns).astimezone(NEW_YORK).date() + timedelta(days=7)
    closes, opens = [], []
    while day <= end:
        closes.append(datetime_to_ts(datetime.combine(day, FX_WEEK_TURN, tzinfo=NEW_YORK)))
        opens.append(datetime_to_ts(datetime.combine(day + timedelta(days=2), FX_WEEK_TURN, tzinfo=NEW_YORK)))
        day += timedelta(days=7)
    return np.array(closes, np.int64), np.array(opens, np.int64)


Spans = tuple[tuple[int, int], ...]  # closed [start, end) spans besides the weekends: holidays (trading.closures)


def _closed(first_ns: int, last_ns: int, extra: Spans = ()) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``_weekends`` with the ``extra`` closed spans that meet their range merged in: every (close,
    open) from the weekend before ``first_ns`` to the one after ``last_ns``, ascending, disjoint."""
    closes, opens = _weekends(first_ns, last_ns)
    lo, hi = int(closes[0]), int(opens[-1])
    near = [(a, b) for a, b in extra if b > lo and a < hi]
    if not near:
        return closes, opens
    merged: list[list[int]] = []
    for a, b in sorted([*zip(closes.tolist(), opens.tolist(), strict=True), *near]):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    spans = np.array(merged, np.int64)
    return spans[:, 0].copy(), spans[:, 1].copy()


def fx_market_closed(ts_ns: npt.NDArray[np.int64], extra: Spans = ()) -> npt.NDArray[np.bool_]:
    """FX market hours: closed from Friday 17:00 to Sunday 17:00 New York, and in the ``extra`` spans
    (vectorised over ns stamps)."""
    if len(ts_ns) == 0:
        return np.zeros(0, np.bool_)
    closes, opens = _closed(int(ts_ns.min()), int(ts_ns.max()), extra)
    last_close = np.searchsorted(closes, ts_ns, side="right") - 1
    closed: npt.NDArray[np.bool_] = (last_close >= 0) & (ts_ns < opens[np.maximum(last_close, 0)])
    return closed


def fx_open_ns(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], extra: Spans = ()) -> npt.NDArray[np.int64]:
    """Per pair, how long the FX market is open between ``a`` and ``b`` (ns, ``a <= b``): the time
    between them less any weekend closure (Friday to Sunday 17:00 New York) and ``extra`` span inside it."""
    if len(a) == 0:
        return np.zeros(0, np.int64)
    closes, opens = _closed(int(a.min()), int(b.max()), extra)
    before = np.r_[0, np.cumsum(opens - closes)]  # closed time of the weekends before weekend k

    def closed_upto(t: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        k = np.searchsorted(closes, t, side="right")  # weekends that began at or before t
        j = np.maximum(k - 1, 0)
        partial = np.clip(np.minimum(t, opens[j]) - closes[j], 0, None)
        done: npt.NDArray[np.int64] = np.where(k > 0, before[j] + partial, 0)
        return done

    open_ns: npt.NDArray[np.int64] = (b - a) - (closed_upto(b) - closed_upto(a))
    return open_ns


def after_fx_open_ns(since_ns: int, open_ns: int, extra: Spans = ()) -> int:
    """The first instant by which the FX market has been open ``open_ns`` since ``since_ns``
    (the inverse of ``fx_open_ns``: a weekend or ``extra`` span in between is skipped)."""
    t, left = since_ns, open_ns
    while True:
        closes, opens = _closed(t, t, extra)
        k = int(np.searchsorted(closes, t, side="right")) - 1  # the last closure that began at or before t
        if k >= 0 and t < opens[k]:  # closed: wait for the open
            t = int(opens[k])
            continue
        close = int(closes[k + 1])  # the next close after t (a weekend follows within the range)
        if t + left <= close:
            return t + left
        left -= close - t
        t = close


def next_weekend_close_ns(ts_ns: int) -> int:
    """The first FX weekend close (Friday 17:00 New York) at or after ``ts_ns``."""
    closes, _ = _weekends(ts_ns, ts_ns)
    return int(closes[np.searchsorted(closes, ts_ns, side="left")])


def ts_to_datetime(ts_ns: int) -> datetime:
    """Exact to the microsecond, never rounded up: a float division would put 1 ns before a
    reset onto the reset itself."""
    seconds, ns = divmod(int(ts_ns), NS_PER_S)
    return datetime.fromtimestamp(seconds, tz=UTC) + timedelta(microseconds=ns // 1000)


FIRST_YEAR, LAST_YEAR = 1971, 2200  # market time is worked out in int64 nanoseconds (to 2262)


def iso_to_ts(text: str) -> int:
    """An instant as the files operators give write it (a news calendar, market closures, a backtest's trades): ISO
    8601 with an offset or a trailing ``Z``, or with neither, which is UTC (the columns are named ``..._utc``), in
    ns. ValueError when it is not one, or its year is not from FIRST_YEAR to LAST_YEAR."""
    moment = datetime.fromisoformat(text.strip())
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not FIRST_YEAR <= moment.astimezone(UTC).year <= LAST_YEAR:
        raise ValueError(f"{text.strip()}: a year from {FIRST_YEAR} to {LAST_YEAR}")
    return datetime_to_ts(moment)


def utc_text(ts_ns: int) -> str:
    """An instant as operators read it in alerts and notes: ``2026-12-13 00:00 UTC``."""
    return f"{ts_to_datetime(ts_ns):%Y-%m-%d %H:%M} UTC"


def datetime_to_ts(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise InvalidValue("timestamp", moment, "must be timezone-aware")
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000


TICK_FAULTS = ("no time", "unknown instrument", "NaN or missing price", "price out of range",
               "non-positive price", "crossed quote", "NaN or negative volume", "out of order", "duplicate")
MAX_POINTS = 2**62  # a price at or beyond this many points does not fit the wire's integers: "price out of range"


def to_points(prices: npt.NDArray[np.float64]) -> IntArray:
    """Prices already multiplied into points (floats) as integer points, rounded to the nearest;
    a missing (NaN) or out-of-range price becomes 0 (``tick_faults`` names it)."""
    ok = np.isfinite(prices) & (np.abs(np.where(np.isfinite(prices), prices, 0.0)) < MAX_POINTS)
    points: IntArray = np.rint(np.where(ok, prices, 0.0)).astype(np.int64)
    return points


_FAULT_NAMES: npt.NDArray[np.object_] = np.array(TICK_FAULTS, dtype=object)


def tick_faults(bid: npt.NDArray[np.int64] | npt.NDArray[np.float64],
                ask: npt.NDArray[np.int64] | npt.NDArray[np.float64], volume: npt.NDArray[np.float64], *,
                timed: npt.NDArray[np.bool_] | None = None, inst: npt.NDArray[np.int16] | None = None,
                instruments: int | None = None, ts: npt.NDArray[np.int64] | None = None,
                prev: Mapping[int, tuple[int, int, int]] | None = None) -> npt.NDArray[np.object_]:
    """Why each tick cannot be traded ('' when it can): the one rule every entry point applies
    (the file reader, the ingress agents and so the Kafka ingress, ``Tick``; rust_exec applies the
    same to what it is sent). The first fault in ``TICK_FAULTS`` order is named.

    Prices are points: integers, or floats not yet rounded (a file's), where NaN is a missing
    price. A price at or beyond ``MAX_POINTS`` is out of range; a zero spread (bid equal to ask)
    is a valid quote. Only what is passed is judged: ``timed`` (False: the tick has no time),
    ``inst`` with ``instruments`` (an index outside ``range(instruments)`` is unknown), and ``ts``
    with ``inst``: per instrument, among the ticks with no other fault, a time before the latest
    so far is out of order and an exact repeat of the previous tick (time, bid and ask) a
    duplicate; ``prev`` holds each instrument's last accepted (ts, bid, ask) from before."""
    n = len(bid)
    code = np.zeros(n, dtype=np.int8)  # 0: fine; k + 1: TICK_FAULTS[k] (small integers: fast to compare)

    def fault(bad: npt.NDArray[np.bool_], k: int) -> None:
        code[bad & (code == 0)] = k + 1

    if timed is not None:
        fault(~timed, 0)
    if inst is not None and instruments is not None:
        fault((inst < 0) | (inst >= instruments), 1)
    if np.issubdtype(bid.dtype, np.floating) or np.issubdtype(ask.dtype, np.floating):
        fault(np.isnan(bid) | np.isnan(ask), 2)  # an infinite price (a huge one, overflowed) is out of range
        bid_f, ask_f = np.where(np.isfinite(bid), bid, 0.0), np.where(np.isfinite(ask), ask, 0.0)
        fault(~np.isfinite(bid) | ~np.isfinite(ask) | (np.abs(bid_f) >= MAX_POINTS) | (np.abs(ask_f) >= MAX_POINTS), 3)
        bid, ask = to_points(bid.astype(np.float64)), to_points(ask.astype(np.float64))
    else:
        fault((bid >= MAX_POINTS) | (bid <= -MAX_POINTS) | (ask >= MAX_POINTS) | (ask <= -MAX_POINTS), 3)
    fault((bid <= 0) | (ask <= 0), 4)
    fault(bid > ask, 5)
    fault(~np.isfinite(volume) | (volume < 0), 6)
    if ts is not None and inst is not None:
        before = prev or {}
        fine = code == 0
        for i in np.unique(inst[fine]):
            idx = np.flatnonzero((inst == i) & fine)
            t, b, a = ts[idx], bid[idx], ask[idx]
            p_ts, p_bid, p_ask = before.get(int(i), (np.iinfo(np.int64).min, -1, -1))
            running = np.maximum.accumulate(np.r_[p_ts, t])[:-1]
            out_of_order = t < running
            duplicate = (t == np.r_[p_ts, t[:-1]]) & (b == np.r_[p_bid, b[:-1]]) & (a == np.r_[p_ask, a[:-1]])
            code[idx[out_of_order]] = 8
            code[idx[duplicate & ~out_of_order]] = 9
    reason = np.full(n, "", dtype=object)
    bad = np.flatnonzero(code)
    if len(bad):
        reason[bad] = _FAULT_NAMES[code[bad] - 1]
    return reason


def _finite_price(field: str, value: Decimal) -> None:
    """A NaN or infinite price has no points to judge (``tick_faults`` judges the rest)."""
    if not value.is_finite():
        raise InvalidValue(field, value, "must be a finite price")


@dataclass(frozen=True, slots=True)
class Tick:
    """One top-of-book quote. Rejects NaN, non-positive or crossed prices and negative volume."""

    instrument: Instrument
    ts_ns: int
    bid: Decimal
    ask: Decimal
    volume: float = 1.0

    def __post_init__(self) -> None:
        _finite_price("bid", to_decimal(self.bid, "bid"))
        _finite_price("ask", to_decimal(self.ask, "ask"))
        bid = self.instrument.price(self.bid)
        ask = self.instrument.price(self.ask)
        bid_pts, ask_pts = self.instrument.points(bid), self.instrument.points(ask)

        def column(pts: int) -> IntArray:  # clipped into int64, still out of range when it was
            return np.array([min(max(pts, -MAX_POINTS), MAX_POINTS)], np.int64)

        fault = tick_faults(column(bid_pts), column(ask_pts), np.array([self.volume], np.float64),
                            timed=np.array([self.ts_ns > 0]))[0]
        if fault == "no time":
            raise InvalidValue("ts_ns", self.ts_ns, "must be a positive epoch timestamp in ns")
        if fault == "price out of range":
            raise InvalidValue("bid" if abs(bid_pts) >= MAX_POINTS else "ask", max(bid, ask), fault)
        if fault:
            field = ("volume" if "volume" in fault else "ask" if fault == "crossed quote" or bid_pts > 0 else "bid")
            raise InvalidValue(field, {"bid": bid, "ask": ask, "volume": self.volume}[field], fault)
        object.__setattr__(self, "bid", bid)
        object.__setattr__(self, "ask", ask)

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid


@compact
@dataclass(frozen=True, slots=True)
class Bar:
    """An OHLC bar of mid prices with tick volume and the mean spread, closed at ``end_ns``."""

    symbol: str
    start_ns: int
    end_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    ticks: int
    spread: float

    def __post_init__(self) -> None:
        for name in ("open", "high", "low", "close", "volume", "spread"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise InvalidValue(name, value, "must be finite")
        if self.low > min(self.open, self.close) or self.high < max(self.open, self.close):
            raise InvalidValue("high/low", (self.high, self.low), "do not contain open and close")
        if self.volume < 0:
            raise InvalidValue("volume", self.volume, "must be non-negative")
        if self.end_ns <= self.start_ns:
            raise InvalidValue("end_ns", self.end_ns, "must be after start_ns")

    @property
    def range(self) -> float:
        return self.high - self.low


@dataclass(frozen=True, slots=True)
class TickBatch:
    """Ticks of several instruments in columns, ordered by time.

    ``inst`` indexes the session's ``InstrumentRegistry``; ``bid``/``ask`` are integer points.
    ``path``, for quotes made from bars (``trading.intrabar``): true where the price moved from its
    instrument's previous quote along the bar's modelled path, through every level between, so the
    venue fills a stop, target or limit crossed on the way at its own price; None for ticks (each a
    jump from the last).
    """

    ts: IntArray
    inst: npt.NDArray[np.int16]
    bid: IntArray
    ask: IntArray
    volume: FloatArray
    path: npt.NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        n = len(self.ts)
        for name in ("inst", "bid", "ask", "volume"):
            if len(getattr(self, name)) != n:
                raise InvalidValue(name, len(getattr(self, name)), f"column length differs from ts ({n})")
        if self.path is not None and len(self.path) != n:
            raise InvalidValue("path", len(self.path), f"column length differs from ts ({n})")

    def __len__(self) -> int:
        return len(self.ts)

    @staticmethod
    def empty() -> TickBatch:
        return TickBatch(
            np.empty(0, np.int64), np.empty(0, np.int16), np.empty(0, np.int64),
            np.empty(0, np.int64), np.empty(0, np.float64),
        )

    def last_quotes(self) -> dict[int, tuple[int, int, int]]:
        """The last quote of each instrument in the batch, by instrument index (ascending):
        (ts_ns, bid, ask) in points."""
        n = len(self)
        if n == 0:
            return {}
        inst, first_from_end = np.unique(self.inst[::-1], return_index=True)
        last = n - 1 - first_from_end
        return {int(i): (int(self.ts[k]), int(self.bid[k]), int(self.ask[k])) for i, k in zip(inst, last, strict=True)}

    def ties_in_order(self) -> TickBatch:
        """The same ticks, those that share a time put in instrument order, as ingress merges its
        shards' ticks within a batch: then the order is the same however the ticks are batched (a
        batch boundary between two ticks of one time would otherwise keep the feed's order there).
        Ticks out of time order stay where they are (ingress sets them aside as out of order)."""
        n = len(self)
        if n < 2:
            return self
        same = self.ts[1:] == self.ts[:-1]
        if not (same & (self.inst[1:] < self.inst[:-1])).any():
            return self
        run = np.r_[0, np.cumsum(~same)]  # a run of ticks of one time, in feed order
        return self.take(np.lexsort((self.inst, run)))

    def take(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp] | slice) -> TickBatch:
        return TickBatch(self.ts[index], self.inst[index], self.bid[index], self.ask[index], self.volume[index],
                         None if self.path is None else self.path[index])

    @staticmethod
    def concat(batches: list[TickBatch]) -> TickBatch:
        if not batches:
            return TickBatch.empty()
        path = None
        if any(b.path is not None for b in batches):
            path = np.concatenate([np.zeros(len(b), np.bool_) if b.path is None else b.path for b in batches])
        return TickBatch(
            np.concatenate([b.ts for b in batches]),
            np.concatenate([b.inst for b in batches]),
            np.concatenate([b.bid for b in batches]),
            np.concatenate([b.ask for b in batches]),
            np.concatenate([b.volume for b in batches]),
            path,
        )
