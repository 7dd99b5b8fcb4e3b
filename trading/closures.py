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

``symbols``: ``*`` (every instrument) or the symbols it closes, as the desk's instruments name them,
separated by spaces (the settings refuse one the desk does not know). Lines after the header that start
with ``#`` are comments. The breaks of one symbol that touch or overlap are one break, judged long as a
whole (an early close, then the holiday), and one that lasts until the weekend close (an early close on
a Friday) is as long as the weekend. A malformed row is an error naming its line.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from trading.errors import InvalidValue
from trading.market import Spans, iso_to_ts, next_weekend_close_ns
from trading.textfile import open_regular

COLUMNS = ("start_utc", "end_utc", "symbols", "title")
CLOSURES_MAX_BYTES = 4 << 20  # years of every instrument's holidays are a few hundred rows


@dataclass(frozen=True, slots=True)
class MarketClosure:
    start_ns: int
    end_ns: int
    symbols: frozenset[str] | None  # None: every instrument
    title: str
    line: int = 0  # its line in the file (0: not from one)

    def closes(self, symbol: str) -> bool:
        return self.symbols is None or symbol in self.symbols

    def longer_than(self, limit_ns: int) -> bool:
        """Longer than ``limit_ns`` on its own, or because it runs into the weekend close."""
        return self.end_ns - self.start_ns > limit_ns or self.end_ns >= next_weekend_close_ns(self.start_ns)


class MarketClosures:
    """Breaks sorted by their start, searched by instrument and length. For one instrument, the breaks
    that close it and touch or overlap are one break (an early close, then a holiday)."""

    def __init__(self, closures: Iterable[MarketClosure] = (), source: str = "") -> None:
        self.closures = sorted(closures, key=lambda c: (c.start_ns, c.end_ns))
        self.source = source
        self._breaks: dict[str, tuple[list[MarketClosure], list[int]]] = {}

    def __len__(self) -> int:
        return len(self.closures)

    def __getstate__(self) -> dict[str, object]:  # the merged breaks are worked out again when asked
        return {"closures": self.closures, "source": self.source}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._breaks = {}

    def breaks(self, symbol: str) -> tuple[list[MarketClosure], list[int]]:
        """The breaks that close ``symbol``, touching and overlapping ones merged (their titles joined),
        and their starts."""
        if symbol not in self._breaks:
            merged: list[MarketClosure] = []
            for c in self.closures:
                if not c.closes(symbol):
                    continue
                if merged and c.start_ns <= merged[-1].end_ns:
                    last = merged[-1]
                    merged[-1] = MarketClosure(last.start_ns, max(last.end_ns, c.end_ns), last.symbols,
                                               last.title if c.end_ns <= last.end_ns else f"{last.title} + {c.title}",
                                               last.line)
                else:
                    merged.append(c)
            self._breaks[symbol] = (merged, [b.start_ns for b in merged])
        return self._breaks[symbol]

    def next_long(self, ts_ns: int, symbols: Iterable[str], limit_ns: int) -> MarketClosure | None:
        """The first break starting at or after ``ts_ns``, longer than ``limit_ns``, that closes one of
        ``symbols``."""
        found: MarketClosure | None = None
        for symbol in set(symbols):
            merged, starts = self.breaks(symbol)
            for b in merged[bisect.bisect_left(starts, ts_ns):]:
                if found is not None and b.start_ns >= found.start_ns:
                    break
                if b.longer_than(limit_ns):
                    found = b
                    break
        return found

    def during(self, ts_ns: int, symbols: Iterable[str], limit_ns: int) -> MarketClosure | None:
        """A break under way at ``ts_ns``, longer than ``limit_ns``, that closes one of ``symbols``."""
        for symbol in sorted(set(symbols)):
            merged, starts = self.breaks(symbol)
            k = bisect.bisect_right(starts, ts_ns) - 1  # merged breaks are disjoint: only the last can hold ts
            if k >= 0 and ts_ns < merged[k].end_ns and merged[k].longer_than(limit_ns):
                return merged[k]
        return None

    def spans(self, symbols: Iterable[str], every: bool = False) -> Spans:
        """The (start, end) of the breaks that close one of ``symbols`` (``every``: all of them), for
        market time (``trading.market.fx_open_ns``): an instrument's silence there is no stale feed."""
        wanted = frozenset(symbols)
        return tuple((c.start_ns, c.end_ns) for c in self.closures
                     if (c.symbols is None or (wanted <= c.symbols if every else not wanted.isdisjoint(c.symbols))))

    @classmethod
    def from_csv(cls, path: Path) -> MarketClosures:
        """The breaks in ``path`` (the layout above); a bad row raises ``InvalidValue`` naming its line."""
        with open_regular(path, "the market closures list", CLOSURES_MAX_BYTES) as fh:
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
                        out.append(_closure(row, reader.line_num))
                    except (KeyError, ValueError, OverflowError) as exc:
                        raise InvalidValue(f"{path}:{reader.line_num}", ",".join(row.values()),
                                           f"not a market closure ({exc})") from None
            except csv.Error as exc:  # the reader's own count: the row's is not updated by a row that failed
                raise InvalidValue(f"{path}:{reader.reader.line_num}", "", f"not a CSV file Octet can read ({exc})") \
                    from None
            except UnicodeDecodeError:
                raise InvalidValue(str(path), "", "not UTF-8 text: save it as UTF-8 CSV") from None
        return cls(out, str(path))


def _closure(row: dict[str, str], line: int = 0) -> MarketClosure:
    start, end = iso_to_ts(row["start_utc"]), iso_to_ts(row["end_utc"])
    if end <= start:
        raise ValueError("it ends at or before its start")
    names = row["symbols"].split()
    if not names:
        raise ValueError("no symbols: give * for every instrument")
    if "*" in names and len(names) > 1:
        raise ValueError("* closes every instrument: give it alone")
    if any(not n.isalnum() for n in names if n != "*"):
        raise ValueError(f"symbols are alphanumeric, separated by spaces (not {row['symbols']!r})")
    return MarketClosure(start, end, None if names == ["*"] else frozenset(names),
                         row["title"] or "market closure", line)
