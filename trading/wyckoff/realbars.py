"""Real bars, from PyPI packages, read from the installed package without importing it (dev
dependencies, pinned in ``uv.lock``), so nothing of them runs:

- ``eurusd_h1``: ``backtesting`` 0.6.6 ships ``backtesting/test/EURUSD.csv`` (5,000 one-hour bars
  with tick volume, 2017-04-19 to 2018-02-07). Marked by hand and **only scored**, never tuned on.
- ``eurusd_h1_early``: ``gym-anytrading`` 2.0.0 ships ``datasets/data/FOREX_EURUSD_1H_ASK.csv``
  (2017, one-hour ask bars with volume); only its bars **before** the first bar of the scored file
  (2017-01-01 22:00 to 2017-04-18 23:00), so the two never share a bar. Marked by hand as a real-bar
  **tuning** set (bench/data/eurusd_h1_early_marks.json).
- ``goog_d1``: ``backtesting`` 0.6.6's ``test/GOOG.csv`` (Google's daily bars with exchange volume,
  2004-08-19 to 2013-03-01), marked by hand as a second tuning set (bench/data/goog_d1_marks.json).
- ``googl_d1_late``: gym-anytrading's ``STOCKS_GOOGL.csv`` after that (2013-03-04 to 2018-08-29), a third
  (bench/data/googl_d1_late_marks.json).

Prices become integer points at ``SCALE`` per unit (the 5-digit quote, one more digit), volume
hundredths of the file's unit (scaled per file, below), as the detector's ``detect_points`` takes
them. A bar is stamped with its open time in the file; here ``start_ns`` is that instant and
``end_ns`` one bar (an hour; a day for the daily files) later.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from trading.wyckoff.machine import STRUCTURE_EVENTS
from trading.wyckoff.scenarios import Label, bar_closing_at

SCALE = 1_000_000
HOUR_NS = 3600 * 1_000_000_000
PACKAGE = "backtesting"
FILE = ("test", "EURUSD.csv")
GOOG_FILE = ("test", "GOOG.csv")
DAY_NS = 24 * HOUR_NS
GOOG_END = "2013-03-01 00:00:00"  # goog_d1's last bar
EARLY_PACKAGE = "gym_anytrading"
GOOGL_FILE = ("datasets", "data", "STOCKS_GOOGL.csv")
EARLY_FILE = ("datasets", "data", "FOREX_EURUSD_1H_ASK.csv")
EARLY_BEFORE = "2017-04-19 00:00:00"  # the scored file starts 2017-04-19 09:00: the tuning bars end before


class MissingData(RuntimeError):
    """The package that holds the bars is not installed."""


@dataclass(frozen=True)
class RealBars:
    symbol: str
    source: str
    times: list[str]  # the file's own stamps ("2017-04-19 09:00:00"), bar open, UTC assumed
    start_ns: npt.NDArray[np.int64]
    end_ns: npt.NDArray[np.int64]
    open: npt.NDArray[np.int64]
    high: npt.NDArray[np.int64]
    low: npt.NDArray[np.int64]
    close: npt.NDArray[np.int64]
    volume: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.close)

    def index(self, stamp: str) -> int:
        """The bar whose file stamp is ``stamp`` (raises KeyError if there is none)."""
        try:
            return self.times.index(stamp)
        except ValueError:
            raise KeyError(f"no bar stamped {stamp!r} in {self.source}") from None


def csv_path(package: str = PACKAGE, file: tuple[str, ...] = FILE) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingData(f"the {package!r} package is not installed: run `make setup` (it is a dev dependency)")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*file)
    if not path.is_file():
        raise MissingData(f"{path} is missing from the installed {package!r} package")
    return path


def _read(source: str, path: Path, stamp: Callable[[str], str], volume_per_unit: float, symbol: str = "EURUSD",
          bar_ns: int = HOUR_NS, before: str | None = None, after: str | None = None) -> RealBars:
    """The file's bars (a header, then time, open, high, low, close[, adjusted close], volume), each
    stamped by ``stamp`` in the scored file's form ("2017-04-19 09:00:00", bar open, UTC), after
    ``after`` and before ``before``; volume in units of ``volume_per_unit``."""
    times: list[str] = []
    rows: list[tuple[int, int, int, int, int]] = []
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for when, o, h, lo, c, *_, v in reader:
            iso = stamp(when)
            if before is not None and iso >= before:
                break
            if after is not None and iso <= after:
                continue
            times.append(iso)
            rows.append((round(float(o) * SCALE), round(float(h) * SCALE), round(float(lo) * SCALE),
                         round(float(c) * SCALE), round(float(v) / volume_per_unit * 100)))
    a = np.array(rows, dtype=np.int64)
    start = np.array([int(datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()) * 1_000_000_000 for s in times],
                     dtype=np.int64)
    return RealBars(symbol, source, times, start, start + bar_ns, a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])


def eurusd_h1() -> RealBars:
    """The scored bars (backtesting 0.6.6): never tune on them."""
    return _read(f"{PACKAGE} 0.6.6 {'/'.join(FILE)}", csv_path(), str, 1)


def goog_d1() -> RealBars:
    """A second real tuning set (backtesting 0.6.6's ``test/GOOG.csv``: Google's daily bars, 2004-08-19
    to 2013-03-01, with exchange volume): real volume, where the hourly FX files have tick counts with
    a strong time-of-day cycle. Stamped 00:00 UTC of the day, one day long (the detector reads bars, not
    sessions); volume in thousands of shares. Marked by hand for tuning (bench/data/goog_d1_marks.json)."""
    return _read(f"{PACKAGE} 0.6.6 {'/'.join(GOOG_FILE)}", csv_path(PACKAGE, GOOG_FILE), _midnight, 1000, "GOOG", DAY_NS)


def googl_d1_late() -> RealBars:
    """A third real tuning set: gym-anytrading 2.0.0's ``STOCKS_GOOGL.csv`` (Alphabet's class A daily
    bars with volume, split-adjusted), only those after ``GOOG_END``, the last bar of ``goog_d1``, so the
    two never share a day (2013-03-04 to 2018-08-29). Marked by hand for tuning
    (bench/data/googl_d1_late_marks.json)."""
    return _read(f"gym-anytrading 2.0.0 {'/'.join(GOOGL_FILE)} (after {GOOG_END})",
                 csv_path(EARLY_PACKAGE, GOOGL_FILE), _midnight, 1000, "GOOGL", DAY_NS, after=GOOG_END)


def _midnight(day: str) -> str:
    """A daily file's ``2013-03-04`` as ``2013-03-04 00:00:00``."""
    return f"{day} 00:00:00"


def _dotted(stamp: str) -> str:
    """``01.01.2017 22:00:00.000`` as ``2017-01-01 22:00:00``."""
    day, clock = stamp.split(" ")
    d, mo, y = day.split(".")
    return f"{y}-{mo}-{d} {clock[:8]}"


def eurusd_h1_early() -> RealBars:
    """The tuning bars (gym-anytrading 2.0.0), those before ``EARLY_BEFORE``. The file's stamps
    (``01.01.2017 22:00:00.000``, bar open, UTC: its 2017-04-19 09:00 bar is the scored file's
    first, to the pip) become the scored file's form. Its volume (billions a bar) is counted in units
    of 5,000,000 so that its median sits near the scored file's tick counts (about 1,300 a bar)."""
    return _read(f"gym-anytrading 2.0.0 {'/'.join(EARLY_FILE)} (to {EARLY_BEFORE})",
                 csv_path(EARLY_PACKAGE, EARLY_FILE), _dotted, 5_000_000, before=EARLY_BEFORE)


MARKS = Path(__file__).resolve().parents[2] / "bench" / "data" / "eurusd_h1_marks.json"  # scored only
EARLY_MARKS = MARKS.with_name("eurusd_h1_early_marks.json")  # the tuning bars' marks
GOOG_MARKS = MARKS.with_name("goog_d1_marks.json")  # ... and the daily GOOG bars' (tuning too)
GOOGL_MARKS = MARKS.with_name("googl_d1_late_marks.json")  # ... and the later GOOGL bars' (tuning too)
SPAN_AFTER = 120  # bars after a marked range's end that still count as its structure (the LPS, the trend out)


@dataclass(frozen=True)
class TuningSet:
    """A set of real bars with hand marks that may be tuned on: ``key`` names it in the tools' options
    (``--early``) and chart folders (``real_early``)."""

    key: str
    name: str
    load: Callable[[], RealBars]
    marks: Path


TUNING_SETS = (TuningSet("early", "EURUSD H1 Jan-Apr 2017", eurusd_h1_early, EARLY_MARKS),
               TuningSet("goog", "GOOG daily 2004-2013", goog_d1, GOOG_MARKS),
               TuningSet("googl", "GOOGL daily 2013-2018", googl_d1_late, GOOGL_MARKS))


@dataclass(frozen=True)
class MarkedRange:
    id: int
    kind: str
    first: int
    last: int
    direction: int
    confidence: str


@dataclass
class MarkedTruth:
    """Real bars with an analyst's marks, in the shape the scorer takes (no per-bar phases:
    the marks name events and ranges, not the phase of every bar)."""

    bars: RealBars
    labels: list[Label]
    ranges: list[MarkedRange]

    @property
    def phases(self) -> npt.NDArray[np.int8]:
        return np.zeros(len(self.bars), np.int8)

    @property
    def high(self) -> npt.NDArray[np.int64]:
        return self.bars.high

    @property
    def low(self) -> npt.NDArray[np.int64]:
        return self.bars.low

    @property
    def end_ns(self) -> npt.NDArray[np.int64]:
        return self.bars.end_ns

    def bar_of(self, ts_ns: int) -> int:
        return bar_closing_at(self.bars.end_ns, ts_ns)

    def spans(self) -> list[tuple[int, int, int]]:
        out = []
        for k, r in enumerate(self.ranges):
            nxt = self.ranges[k + 1].first - 1 if k + 1 < len(self.ranges) else len(self.bars) - 1
            out.append((r.first, min(r.last + SPAN_AFTER, max(nxt, r.last)), r.direction))
        return out


def marked(bars: RealBars, path: Path = MARKS) -> MarkedTruth:
    """The hand marks at ``path`` as labels on ``bars`` (every stamp must name a bar, KeyError if not; every
    event one the scorer knows, ValueError if not)."""
    doc = json.loads(path.read_text())
    labels: list[Label] = []
    ranges: list[MarkedRange] = []
    for r in sorted(doc["ranges"], key=lambda r: bars.index(r["start"])):
        ranges.append(MarkedRange(int(r["id"]), r["kind"], bars.index(r["start"]), bars.index(r["end"]),
                                  int(r["direction"]), r.get("confidence", "")))
        for ev in r["events"]:
            if ev["event"] not in STRUCTURE_EVENTS:
                raise ValueError(f"range {r['id']}: {ev['event']!r} at {ev['time']} is not an event the scorer knows "
                                 f"({', '.join(STRUCTURE_EVENTS)})")
            i = bars.index(ev["time"])
            labels.append(Label(ev["event"], i, i, i))
    return MarkedTruth(bars, labels, ranges)
