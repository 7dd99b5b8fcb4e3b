"""The time zone of a data file's clock, and turning its local times into UTC nanoseconds.

A broker's "server time" is not UTC. Most FX brokers run their servers on New York time plus seven
hours, so that their trading day starts at 00:00 when New York's FX day turns at 17:00 (UTC+2 in
New York's winter, UTC+3 in its summer); ``NY+7`` names that clock. Any IANA zone
(``Europe/Athens``) or a fixed offset (``+02:00``, ``UTC``) is accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$")
_NY_PLUS = re.compile(r"^NY([+-]\d{1,2})$", re.IGNORECASE)
NS_PER_MINUTE = 60 * 1_000_000_000


class ZoneError(ValueError):
    """A zone name that is none of: an IANA zone, a fixed offset, NY+N."""


@dataclass(frozen=True, slots=True)
class Clock:
    """A file's clock: its local time is ``zone``'s plus ``shift_minutes`` (NY+7: New York, +420),
    or, with ``zone`` None, UTC plus ``shift_minutes`` (a fixed offset)."""

    name: str
    zone: str | None
    shift_minutes: int

    def to_utc_ns(self, local: pl.Expr) -> pl.Expr:
        """Naive local datetimes (ns) to UTC epoch ns; a time that does not exist, or exists twice,
        on this clock (a daylight-saving change) becomes null."""
        shifted = local - pl.duration(minutes=self.shift_minutes)
        if self.zone is None:
            return shifted.dt.epoch("ns")
        aware = shifted.dt.replace_time_zone(self.zone, ambiguous="null", non_existent="null")
        return aware.dt.epoch("ns")


def parse_clock(name: str) -> Clock:
    """``NY+7``, ``UTC``, ``+02:00``, ``-0500`` or an IANA zone; ZoneError names what is accepted."""
    text = name.strip()
    if text.upper() in ("UTC", "GMT", "Z"):
        return Clock("UTC", None, 0)
    if m := _NY_PLUS.match(text):
        hours = int(m.group(1))
        if not -12 <= hours <= 12:
            raise ZoneError(f"{name!r}: NY+N takes N from -12 to 12")
        return Clock(f"NY{hours:+d}", "America/New_York", hours * 60)
    if m := _OFFSET.match(text):
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes >= 60:
            raise ZoneError(f"{name!r}: an offset is at most 14:00")
        sign = 1 if m.group(1) == "+" else -1
        total = sign * (hours * 60 + minutes)
        return Clock(f"{'+' if total >= 0 else '-'}{abs(total) // 60:02d}:{abs(total) % 60:02d}", None, total)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ZoneError(f"{name!r} is not a time zone: give an IANA zone (Europe/Athens), a fixed offset "
                        "(+02:00, UTC), or NY+7 for a broker whose day starts at 17:00 New York") from None
    return Clock(text, text, 0)


UTC = Clock("UTC", None, 0)
HISTDATA_EST = Clock("-05:00", None, -300)  # HistData.com: Eastern Standard Time all year, no daylight saving
