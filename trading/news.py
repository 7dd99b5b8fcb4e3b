"""High-impact news events, the blackout windows around them, and the calendar files they come from.

Three CSV layouts are read, told apart by their header:

- Octet's own: ``time_utc,currency,impact,title`` (ISO times; a time without a zone is UTC, as
  the column says).
- ForexFactory's export: ``Title,Country,Date,Time,Impact[,Forecast,Previous,URL]``. Country is
  the currency (USD, EUR...). Date is ``MM-DD-YYYY`` with Time ``8:30am``, or one ISO time with its
  offset. Times without an offset are in the zone the export was made in, which the file does not
  say: it must be given (``tz``).
- Investing.com-style: ``date,time,zone,currency,importance,event[,actual,forecast,previous]``
  (investpy's layout). Date is ``DD/MM/YYYY``, time ``HH:MM``, in the zone given (``tz``).

Impact is normalised to high, medium, low or holiday (``High Impact Expected`` is high; Investing's
``3``, ``***`` and ``bull3`` are high). Rows without a time (``All Day``, ``Tentative``, blank) cannot
open a window and are skipped with their line, and so are rows without a currency; a malformed row
is an error naming its line.

A calendar covers the weeks it has events in, Sunday 00:00 UTC to the next Sunday (exports are
weekly, Sunday to Saturday, as ForexFactory's; a Sunday-evening release opens its export's week).
A week without any event (of any impact or currency) is taken as not exported: there, and before
or after the file, the firm's news rule cannot be checked and the compliance rules refuse orders
rather than pass them silently. Coverage is by week, not by currency: an export filtered to one
currency says nothing of the others' news, and ``octet data news`` lists the currencies it holds.
"""

from __future__ import annotations

import bisect
import csv
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trading.errors import InvalidValue
from trading.market import datetime_to_ts, iso_to_ts, ts_to_datetime
from trading.textfile import open_regular, open_regular_bytes

IMPACTS = ("high", "medium", "low", "holiday")


@dataclass(frozen=True, slots=True)
class NewsEvent:
    ts_ns: int
    currency: str
    title: str
    impact: str = "high"


def week_of(ts_ns: int) -> date:
    """The Sunday (UTC) that starts the export week holding ``ts_ns``."""
    day = ts_to_datetime(ts_ns).date()
    return day - timedelta(days=(day.weekday() + 1) % 7)


class NewsCalendar:
    """Events sorted by time, searched by instrument currencies and a window, and the export
    weeks the calendar covers (``covers``)."""

    def __init__(self, events: Iterable[NewsEvent] = (), source: str = "") -> None:
        self.events = sorted(events, key=lambda e: e.ts_ns)
        self._ts = [e.ts_ns for e in self.events]
        self.source = source
        self.weeks = frozenset(week_of(t) for t in self._ts)  # the Sundays starting a week with events
        self._until: dict[date, int] = {}  # covered_until by week

    def __len__(self) -> int:
        return len(self.events)

    def coverage(self) -> str:
        """The weeks covered, in words: ``first to last``, with the weeks missing in between."""
        if not self.weeks:
            return "nothing"
        first, last = min(self.weeks), max(self.weeks)
        text = f"{first} to {last + timedelta(days=6)}"
        gaps = [first + timedelta(days=7 * k) for k in range((last - first).days // 7 + 1)]
        gaps = [w for w in gaps if w not in self.weeks]
        if gaps:
            text += (f" less {len(gaps)} week(s) without events (the first from {gaps[0]} to "
                     f"{gaps[0] + timedelta(days=6)})")
        return text

    def covered_until(self, ts_ns: int) -> int:
        """The instant the calendar stops covering from ``ts_ns`` on: the start of the first export week from
        the one holding ``ts_ns`` it has no event in (at or before ``ts_ns`` when it does not cover that week).
        An order whose window reaches past it is refused on a firm with a news rule (``covers``)."""
        week = week_of(ts_ns)
        until = self._until.get(week)
        if until is None:
            end = week
            while end in self.weeks:
                end += timedelta(days=7)
            until = self._until[week] = datetime_to_ts(datetime.combine(end, time(0), UTC))
        return until

    def covered_again(self, ts_ns: int) -> int:
        """The start of the first week after the one holding ``ts_ns`` the calendar has events in (0: none)."""
        week = week_of(ts_ns)
        later = [w for w in self.weeks if w > week]
        return datetime_to_ts(datetime.combine(min(later), time(0), UTC)) if later else 0

    def covered_before(self, ts_ns: int) -> bool:
        """Whether the calendar has events in a week before the one holding ``ts_ns``."""
        return bool(self.weeks) and min(self.weeks) < week_of(ts_ns)

    def covers(self, start_ns: int, end_ns: int) -> str:
        """'' if the calendar covers every export week [start, end] meets, else why not (for the veto)."""
        if not self.events:
            return "no news calendar is loaded (agents.compliance.news_calendar)"
        week, last = week_of(start_ns), week_of(max(start_ns, end_ns))
        while week <= last:
            if week not in self.weeks:
                return (f"the news calendar covers {self.coverage()}, and not the week from {week} to "
                        f"{week + timedelta(days=6)} of the order's window: load a calendar for it "
                        "(octet data news FILE)")
            week += timedelta(days=7)
        return ""

    def _first_high(self, currencies: Iterable[str], i: int, until_ns: int) -> NewsEvent | None:
        """The first high-impact event in ``currencies`` from index ``i``, at or before ``until_ns``."""
        wanted = set(currencies)
        while i < len(self.events) and self._ts[i] <= until_ns:
            event = self.events[i]
            if event.currency in wanted and event.impact == "high":
                return event
            i += 1
        return None

    def first_between(self, currencies: Iterable[str], after_ns: int, until_ns: int) -> NewsEvent | None:
        """The first high-impact event in ``currencies`` at a time in (after, until]."""
        return self._first_high(currencies, bisect.bisect_right(self._ts, after_ns), until_ns)

    def conflict(self, currencies: Iterable[str], start_ns: int, end_ns: int, before_ns: int,
                 after_ns: int) -> NewsEvent | None:
        """The first event in ``currencies`` whose window [ts - before, ts + after] meets [start, end]."""
        return self._first_high(currencies, bisect.bisect_left(self._ts, start_ns - after_ns), end_ns + before_ns)

    @classmethod
    def from_csv(cls, path: Path, tz: str | None = None) -> NewsCalendar:
        """The calendar in ``path`` (any layout above); see ``read_calendar`` for what was skipped."""
        return read_calendar(path, tz).calendar


@dataclass
class CalendarRead:
    """A calendar file read: its layout, its events, and the rows skipped with their line and why."""

    calendar: NewsCalendar
    layout: str
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        cal = self.calendar
        impacts = Counter(e.impact for e in cal.events)
        lines = [f"{cal.source}: {self.layout} layout, {len(cal):,} events "
                 f"({', '.join(f'{impacts[i]:,} {i}' for i in IMPACTS if impacts[i])})"]
        if cal.events:
            lines.append(f"covers {cal.coverage()}; currencies {', '.join(sorted({e.currency for e in cal.events}))}")
        if self.skipped:
            why = Counter(reason for _, reason in self.skipped)
            lines.append(f"skipped {len(self.skipped):,} rows: " + "; ".join(f"{n:,} {r}" for r, n in why.most_common())
                         + f" (first at line {self.skipped[0][0]})")
        return "\n".join(lines)


def impact_of(text: str) -> str:
    """high | medium | low | holiday from a calendar's impact or importance column."""
    t = text.strip().lower()
    if t in ("3", "***", "bull3") or "high" in t:
        return "high"
    if t in ("2", "**", "bull2") or "medium" in t or "moderate" in t:
        return "medium"
    if "holiday" in t:
        return "holiday"
    if t in ("1", "*", "bull1", "0", "") or "low" in t or "non-economic" in t:
        return "low"
    raise ValueError(f"impact {text!r} is none of high, medium, low, holiday")


_NO_TIME = {"", "all day", "tentative", "day 1", "day 2", "day 3"}
_CLOCK12 = re.compile(r"^(\d{1,2}):(\d{2})\s*([ap]m)$", re.IGNORECASE)
LAYOUTS = {
    "octet": ("time_utc", "currency", "impact", "title"),
    "forexfactory": ("title", "country", "date", "time", "impact"),
    "investing": ("date", "time", "currency", "importance", "event"),
}


class _NeedsZone(Exception):
    """A row's time carries no zone and none was given."""


NEEDS_ZONE = ("its time carries no zone: give the zone the export was made in "
              "(agents.compliance.news_calendar_tz, or --tz)")


def _zone(tz: str | None) -> ZoneInfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue("news calendar zone", tz, "not a time zone name (e.g. America/New_York)") from None


def _clock(text: str) -> time:
    m = _CLOCK12.match(text.strip())
    if m:
        if not 1 <= int(m.group(1)) <= 12:
            raise ValueError(f"{text.strip()!r}: a 12-hour clock's hour is 1 to 12")
        hour = int(m.group(1)) % 12 + (12 if m.group(3).lower() == "pm" else 0)
        return time(hour, int(m.group(2)))
    return time.fromisoformat(text.strip())


def _local(day: date, clock: time, zone: ZoneInfo) -> int:
    return datetime_to_ts(datetime.combine(day, clock, tzinfo=zone))


CALENDAR_MAX_BYTES = 64 << 20  # a year's export of every currency is a few MB


def read_calendar(path: Path, tz: str | None = None) -> CalendarRead:
    """Read a calendar export (the layouts in the module's text); a bad row is named by its line."""
    fh = open_regular(path, "the news calendar", CALENDAR_MAX_BYTES)
    with fh:
        reader = csv.DictReader(fh, strict=True)  # an unterminated quote is an error, not one long field
        try:
            return _read_rows(path, reader, tz)
        except csv.Error as exc:
            raise InvalidValue(f"{path}:{reader.reader.line_num}", "", f"not a CSV file Octet can read ({exc})") \
                from None
        except UnicodeDecodeError:
            line, raw = _undecodable(path)
            utf16 = line == 1 and raw.startswith((b"\xff\xfe", b"\xfe\xff"))  # the byte-order mark MetaTrader writes
            raise InvalidValue(f"{path}:{line}", repr(raw[:24]), "UTF-16 text (a MetaTrader file?), not a UTF-8 calendar: save "
                               "the export as UTF-8 CSV" if utf16 else "not UTF-8 text: save the export as UTF-8 CSV") \
                from None


def _undecodable(path: Path) -> tuple[int, bytes]:
    """The first line that is not UTF-8, and its bytes (the decoder reads ahead, so the error itself
    does not tell the line)."""
    with open_regular_bytes(path, "the news calendar", CALENDAR_MAX_BYTES) as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return n, raw
    return 0, b""


def _read_rows(path: Path, reader: csv.DictReader[str], tz: str | None) -> CalendarRead:
    header = [h.strip().lower() for h in reader.fieldnames or ()]
    layout = next((name for name, cols in LAYOUTS.items() if set(cols) <= set(header)), None)
    if layout is None:
        raise InvalidValue(str(path), ",".join(header) or "(empty)",
                           "not a calendar layout Octet reads: " + "; ".join(
                               f"{name}: {','.join(cols)}" for name, cols in LAYOUTS.items()))
    zone = _zone(tz)
    events: list[NewsEvent] = []
    skipped: list[tuple[int, str]] = []
    for raw in reader:
        n = reader.line_num
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        try:
            event = _event(layout, row, zone)
        except _NeedsZone:
            raise InvalidValue(f"{path}:{n}", ",".join(row.values()), NEEDS_ZONE) from None
        except (KeyError, ValueError, OverflowError) as exc:
            raise InvalidValue(f"{path}:{n}", ",".join(row.values()), f"not a {layout} calendar row ({exc})") \
                from None
        if isinstance(event, str):
            skipped.append((n, event))
        else:
            events.append(event)
    return CalendarRead(NewsCalendar(events, str(path)), layout, skipped)


def _event(layout: str, row: dict[str, str], zone: ZoneInfo | None) -> NewsEvent | str:
    """The row's event, or why it is skipped."""
    if layout == "octet":
        currency, ts = row["currency"].upper(), iso_to_ts(row["time_utc"])
        title, impact = row["title"], impact_of(row.get("impact") or "high")
    elif layout == "forexfactory":
        currency, when, clock = row["country"].upper(), row["date"], row["time"]
        title, impact = row["title"], impact_of(row["impact"])
        if "t" in when.lower() and re.search(r"[+-]\d{2}:?\d{2}$|z$", when, re.IGNORECASE):  # ISO with its offset
            ts = iso_to_ts(when)
        else:
            if clock.lower() in _NO_TIME:
                return f"no time ({clock or 'blank'})"
            day = datetime.strptime(when, "%m-%d-%Y").date()
            if zone is None:
                raise _NeedsZone
            ts = _local(day, _clock(clock), zone)
    else:
        currency, clock = row["currency"].upper(), row["time"]
        title, impact = row["event"], impact_of(row["importance"])
        if clock.lower() in _NO_TIME:
            return f"no time ({clock or 'blank'})"
        day = datetime.strptime(row["date"], "%d/%m/%Y").date()
        if zone is None:
            raise _NeedsZone
        ts = _local(day, _clock(clock), zone)
    if not re.fullmatch(r"[A-Z]{3}", currency):
        return "no currency" if not currency else f"not a currency ({currency})"
    return NewsEvent(ts, currency, title, impact)
