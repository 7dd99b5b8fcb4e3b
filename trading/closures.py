"""Market closures besides the weekend (holidays, announced breaks), and the file they come from.

A firm can forbid holding a position over a long market break as it does over the weekend. FTMO's
FTMO Account (not Swing): "we require you to close your positions just before the markets close for
the weekend or if the rollover (market break) is longer than 2 hours"
(ftmo.com/en/faq/do-i-have-to-close-my-positions-overnight/), "prior to the weekend and any other
announced market closures that are longer than 2 hours" (its trading update of 2024-11-28). The firm
announces them in its weekly trading updates; spot FX is closed on Christmas Day and New Year's Day
(its update of 2025-12-18). ``Holding.max_break_minutes`` is that limit; this file lists the breaks.

Layout, one break a row, times ISO (a time without a zone is UTC, as the columns say)::

    start_utc,end_utc,symbols,title
    2026-12-24T22:00:00Z,2026-12-25T22:00:00Z,*,Christmas Day: spot FX closed

``symbols``: ``*`` (every instrument) or the symbols it closes, separated by spaces. Lines after the
header that start with ``#`` are comments. A break is judged
long with the closure it runs into: one that lasts until the weekend close (an early close on a
Friday) is as long as the weekend. A malformed row is an error naming its line.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trading.errors import InvalidValue
from trading.market import Spans, datetime_to_ts, next_weekend_close_ns
from trading.textfile import open_regular

COLUMNS = ("start_utc", "end_utc", "symbols", "title")
CLOSURES_MAX_BYTES = 4 << 20  # years of every instrument's holidays are a few hundred rows


@dataclass(frozen=True, slots=True)
class MarketClosure:
    start_ns: int
    end_ns: int
    symbols: frozenset[str] | None  # None: every instrument
    title: str

    def closes(self, symbols: Iterable[str] | None) -> bool:
        """Does the break close one of ``symbols`` (None: any instrument)?"""
        return self.symbols is None or symbols is None or not self.symbols.isdisjoint(symbols)

    def longer_than(self, limit_ns: int) -> bool:
        """Longer than ``limit_ns`` on its own, or because it runs into the weekend close."""
        return self.end_ns - self.start_ns > limit_ns or self.end_ns >= next_weekend_close_ns(self.start_ns)


class MarketClosures:
    """Breaks sorted by their start, searched by instruments and length."""

    def __init__(self, closures: Iterable[MarketClosure] = (), source: str = "") -> None:
        self.closures = sorted(closures, key=lambda c: (c.start_ns, c.end_ns))
        self._starts = [c.start_ns for c in self.closures]
        self.source = source

    def __len__(self) -> int:
        return len(self.closures)

    def next_long(self, ts_ns: int, symbols: Iterable[str] | None, limit_ns: int) -> MarketClosure | None:
        """The first break starting at or after ``ts_ns``, longer than ``limit_ns``, that closes one of
        ``symbols`` (None: any instrument)."""
        wanted = None if symbols is None else frozenset(symbols)
        for c in self.closures[bisect.bisect_left(self._starts, ts_ns):]:
            if c.closes(wanted) and c.longer_than(limit_ns):
                return c
        return None

    def spans(self, symbols: Iterable[str], every: bool = False) -> Spans:
        """The (start, end) of the breaks that close one of ``symbols`` (``every``: all of them), for
        market time (``trading.market.fx_open_ns``): an instrument's silence there is no stale feed."""
        wanted = frozenset(symbols)
        return tuple((c.start_ns, c.end_ns) for c in self.closures
                     if (c.symbols is None or (wanted <= c.symbols if every else not wanted.isdisjoint(c.symbols))))

    def during(self, ts_ns: int, symbols: Iterable[str] | None, limit_ns: int) -> MarketClosure | None:
        """A break under way at ``ts_ns``, longer than ``limit_ns``, that closes one of ``symbols``."""
        wanted = None if symbols is None else frozenset(symbols)
        for c in self.closures[:bisect.bisect_right(self._starts, ts_ns)]:
            if ts_ns < c.end_ns and c.closes(wanted) and c.longer_than(limit_ns):
                return c
        return None

    @classmethod
    def from_csv(cls, path: Path) -> MarketClosures:
        """The breaks in ``path`` (the layout above); a bad row raises ``InvalidValue`` naming its line."""
        with open_regular(path, "the market closures", CLOSURES_MAX_BYTES) as fh:
            lines = (line if not line.lstrip().startswith("#") or n == 0 else "\n" for n, line in enumerate(fh))
            reader = csv.DictReader(lines, strict=True)  # a comment is a blank line: line numbers hold
            try:
                header = [(h or "").strip().lower() for h in reader.fieldnames or ()]
                if not set(COLUMNS) <= set(header):
                    raise InvalidValue(str(path), ",".join(header) or "(empty)",
                                       f"not a market closures file: its header is {','.join(COLUMNS)}")
                out = []
                for raw in reader:
                    row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
                    try:
                        if None in raw:
                            raise ValueError("more fields than the header has: quote a title holding a comma")
                        out.append(_closure(row))
                    except (KeyError, ValueError, OverflowError) as exc:
                        raise InvalidValue(f"{path}:{reader.line_num}", ",".join(row.values()),
                                           f"not a market closure ({exc})") from None
            except csv.Error as exc:
                raise InvalidValue(f"{path}:{reader.line_num}", "", f"not a CSV file Octet can read ({exc})") \
                    from None
            except UnicodeDecodeError:
                raise InvalidValue(str(path), "", "not UTF-8 text: save it as UTF-8 CSV") from None
        return cls(out, str(path))


def _moment(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return datetime_to_ts(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def _closure(row: dict[str, str]) -> MarketClosure:
    start, end = _moment(row["start_utc"]), _moment(row["end_utc"])
    if end <= start:
        raise ValueError("it ends before it starts")
    names = row["symbols"].split()
    if not names:
        raise ValueError("no symbols: give * for every instrument")
    if "*" in names and len(names) > 1:
        raise ValueError("* closes every instrument: give it alone")
    if any(not n.isalnum() for n in names if n != "*"):
        raise ValueError(f"symbols are alphanumeric, separated by spaces (not {row['symbols']!r})")
    return MarketClosure(start, end, None if names == ["*"] else frozenset(names),
                         row["title"] or "market closure")
