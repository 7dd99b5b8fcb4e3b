"""High-impact news events and the blackout windows around them."""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from trading.errors import InvalidValue
from trading.market import datetime_to_ts


@dataclass(frozen=True, slots=True)
class NewsEvent:
    ts_ns: int
    currency: str
    title: str
    impact: str = "high"


class NewsCalendar:
    """Events sorted by time, searched by instrument currencies and a window."""

    def __init__(self, events: Iterable[NewsEvent] = ()) -> None:
        self.events = sorted(events, key=lambda e: e.ts_ns)
        self._ts = [e.ts_ns for e in self.events]

    def __len__(self) -> int:
        return len(self.events)

    def conflict(self, currencies: Iterable[str], start_ns: int, end_ns: int, before_ns: int,
                 after_ns: int) -> NewsEvent | None:
        """The first event in ``currencies`` whose window [ts - before, ts + after] meets [start, end]."""
        wanted = set(currencies)
        i = bisect.bisect_left(self._ts, start_ns - after_ns)
        while i < len(self.events) and self._ts[i] - before_ns <= end_ns:
            event = self.events[i]
            if event.currency in wanted and event.impact == "high":
                return event
            i += 1
        return None

    @classmethod
    def from_csv(cls, path: Path) -> NewsCalendar:
        """Rows ``time_utc,currency,impact,title`` with an ISO time; a bad row is named."""
        events = []
        with path.open(newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    moment = datetime.fromisoformat(row["time_utc"].replace("Z", "+00:00"))
                    events.append(NewsEvent(datetime_to_ts(moment), row["currency"].strip().upper(),
                                            row["title"].strip(), row.get("impact", "high").strip().lower()))
                except (KeyError, ValueError, AttributeError) as exc:
                    raise InvalidValue(f"{path}:{n}", row, f"not a calendar row ({exc})") from None
        return cls(events)
