"""The one interface every source of ticks implements: a replay paced at real time (or N times
faster, or as fast as it goes), a recorded file, and the venue feeds of a later issue.

The desk asks a feed for what has arrived; a batch closes when ``max_ticks`` are there or
``linger_s`` after its first tick, whichever comes first, so a paced or live feed gets small batches
(latency) and a full-speed replay large ones (throughput), through one code path. When nothing
arrives for ``idle_s`` the feed returns an empty batch and the desk does the work that time alone
brings (daily resets, the weekend close, heartbeats, stale data) at ``now_ns``.
"""

from __future__ import annotations

from typing import Protocol

from trading.market import TickBatch


class Feed(Protocol):
    @property
    def position(self) -> int:
        """How many ticks the feed has delivered since its start (where a resumed desk seeks to)."""
        ...

    @property
    def ended(self) -> bool:
        """Nothing more will come (a replay or a file at its end; a live feed never ends)."""
        ...

    def poll(self, max_ticks: int, linger_s: float, idle_s: float) -> TickBatch:
        """The ticks that arrived, in time order: at most ``max_ticks``, returned when that many are
        there or ``linger_s`` after the first one arrived; empty after ``idle_s`` without any."""
        ...

    def now_ns(self) -> int:
        """The market's time now (the instant the desk may advance to with no tick)."""
        ...

    def arrived_at(self, ts_ns: int, inst: int | None = None) -> float:
        """When (``time.perf_counter()``) the first tick at or after ``ts_ns`` arrived (of instrument
        ``inst``, if given: the tick that closed its bar), for tick-to-order latency."""
        ...

    def seek(self, position: int) -> None:
        """Continue after the first ``position`` ticks (a desk resuming from its checkpoint)."""
        ...

    def identity(self) -> str:
        """What names the market this feed delivers (a resumed desk checks it reads the same one)."""
        ...

    def close(self) -> None: ...
