"""A replay feed: recorded or generated ticks delivered as time passes.

``speed`` is market seconds per wall second (1 = real time, 10 = ten times faster, ``None`` = as
fast as the desk takes them: every tick has already arrived, so a batch is always ``max_ticks``, the
backtest's regime). A market gap longer than ``max_gap_s`` (a night, a weekend) passes in ``max_gap_s``
of market time; the feed's clock still crosses the whole gap in that time, so the work due in it (a
daily reset, the weekend close) happens at its own instant, in order.
"""

from __future__ import annotations

import time

import numpy as np

from cluster.adapters.feeds.files import DataFileError, FileSpec, Loaded, load_market_files
from cluster.config.settings import Settings
from trading.market import NS_PER_S, TickBatch


class FeedError(RuntimeError):
    """A feed that cannot be opened (a missing or refused file): one line for the operator."""


def file_spec(settings: Settings) -> FileSpec:
    """How ``session.data_file`` is read (``session.data_*``)."""
    s = settings.session
    return FileSpec(s.data_format, s.data_symbol, s.data_tz, dict(s.data_columns), s.data_time_format,
                    s.data_spread_points, s.data_price_side, s.data_spike_factor)


def read_data_file(settings: Settings) -> Loaded:
    """``session.data_file`` read by ``session.data_*``; FeedError names what is wrong, in one line."""
    s = settings.session
    assert s.data_file is not None
    try:
        loaded = load_market_files([s.data_file], file_spec(settings), settings.registry(), strict=s.data_strict,
                                   max_skipped=s.data_max_skipped)
    except (OSError, DataFileError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FeedError(f"session.data_file: {reason}") from None
    longer = {sym: sec for sym, sec in loaded.bar_seconds.items() if sec > s.bar_seconds}
    if longer:
        sym, sec = next(iter(longer.items()))
        raise FeedError(f"session.data_file {s.data_file}: its {sym} bars are {sec} s long and the desk builds "
                        f"{s.bar_seconds} s bars (session.bar_seconds), which would cut each into pieces: set "
                        f"session.bar_seconds to {sec} (--bar-seconds {sec})")
    for sym, sec in loaded.bar_seconds.items():  # each bar of the file inside one of the desk's
        if s.bar_seconds % sec:
            raise FeedError(f"session.data_file {s.data_file}: its {sym} bars are {sec} s long, which does not divide "
                            f"the desk's {s.bar_seconds} s bars (session.bar_seconds): choose a multiple of {sec}")
        if sym in loaded.bar_offgrid:
            raise FeedError(f"session.data_file {s.data_file}: {loaded.offgrid(sym)}")
    return loaded


def replay_ticks(settings: Settings) -> TickBatch:
    """The replay's ticks: ``session.data_file``'s, or the generator's (``session.*``)."""
    from cluster.adapters.feeds.replay import generate_ticks

    s = settings.session
    if s.data_file is not None:
        return read_data_file(settings).ticks
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), s.ticks, s.seed, s.start)
    return ticks


def desk_feed(settings: Settings) -> ReplayFeed:
    """The desk's feed (``desk.*``): the replay or the file, paced at ``desk.speed``."""
    d = settings.desk
    if d.feed == "file" and settings.session.data_file is None:
        raise FeedError("desk.feed is file and session.data_file is not set: name the recorded tick file")
    if d.feed == "replay" and settings.session.data_file is not None:
        raise FeedError("desk.feed is replay (the generator) but session.data_file is set: set desk.feed: file")
    return ReplayFeed(replay_ticks(settings), d.speed, d.max_gap_seconds)


class ReplayFeed:
    def __init__(self, ticks: TickBatch, speed: float | None = None, max_gap_s: float = 60.0) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be above 0 (market seconds per wall second), not {speed}")
        self.ticks = ticks = ticks.ties_in_order()
        self.speed = speed
        self._pos = 0
        ts = ticks.ts.astype(np.int64)
        if speed is not None and len(ts):
            gaps = np.diff(ts, prepend=ts[0]).astype(np.float64)
            # wall seconds from the first tick to each tick, long gaps shortened to max_gap_s
            self._wall = np.cumsum(np.minimum(gaps, max_gap_s * NS_PER_S)) / NS_PER_S / speed
        else:
            self._wall = np.zeros(len(ts))
        self._started = False  # the clock starts when the desk first looks at the feed, not before
        self._t0 = time.perf_counter()  # when tick 0 (or the tick sought) is due
        self._origin = 0
        self._polled = self._t0  # unpaced, a tick arrives when its batch is taken
        self._of_inst: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # each instrument's tick positions and stamps

    # -- the clock ----------------------------------------------------------------------------
    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._t0 = time.perf_counter()

    def _due(self, i: int) -> float:
        return self._t0 + float(self._wall[i] - self._wall[self._origin])

    def arrived_at(self, ts_ns: int, inst: int | None = None) -> float:
        if self.speed is None:
            return self._polled
        if inst is None:
            i = int(np.searchsorted(self.ticks.ts, ts_ns, "left"))
        else:  # the instrument's own first tick at or after ts_ns (the one that closed its bar)
            if inst not in self._of_inst:
                mine = np.flatnonzero(self.ticks.inst == inst)
                self._of_inst[inst] = (mine, self.ticks.ts[mine])
            mine, stamps = self._of_inst[inst]
            k = int(np.searchsorted(stamps, ts_ns, "left"))
            i = int(mine[k]) if k < len(mine) else len(self.ticks) - 1
        return self._due(min(i, len(self.ticks) - 1))

    def now_ns(self) -> int:
        """Market time: interpolated between the last tick due and the next (a shortened gap is
        crossed whole in its wall time); the last tick's stamp at the end; with no pacing, the
        stamp of the last tick delivered."""
        n = len(self.ticks)
        if n == 0:
            return 0
        if self.speed is None:
            return int(self.ticks.ts[max(self._pos - 1, 0)])
        self._start()
        now = time.perf_counter()
        j = int(np.searchsorted(self._wall, self._wall[self._origin] + (now - self._t0), "right")) - 1
        j = max(j, self._origin)
        if j >= n - 1:
            return int(self.ticks.ts[-1])
        span = float(self._wall[j + 1] - self._wall[j])
        frac = 1.0 if span <= 0 else min(1.0, (now - self._due(j)) / span)
        return int(self.ticks.ts[j]) + int((int(self.ticks.ts[j + 1]) - int(self.ticks.ts[j])) * frac)

    # -- delivery -----------------------------------------------------------------------------
    @property
    def position(self) -> int:
        return self._pos

    @property
    def ended(self) -> bool:
        return self._pos >= len(self.ticks)

    def _arrived(self, now: float) -> int:
        """How many ticks have arrived by ``now`` (an index past the last one due)."""
        if self.speed is None:
            return len(self.ticks)
        return int(np.searchsorted(self._wall, self._wall[self._origin] + (now - self._t0), "right"))

    def poll(self, max_ticks: int, linger_s: float, idle_s: float) -> TickBatch:
        self._start()
        start = self._pos
        if start >= len(self.ticks):
            return TickBatch.empty()
        if self.speed is not None:
            first_due = self._due(start)
            wait = first_due - time.perf_counter()
            if wait > idle_s:  # nothing before the idle deadline: the desk does time's work meanwhile
                time.sleep(idle_s)
                return TickBatch.empty()
            if wait > 0:
                time.sleep(wait)
            # the batch closes at max_ticks, or linger_s after its first tick arrived
            full_at = self._due(min(start + max_ticks, len(self.ticks)) - 1)
            close_at = min(first_due + linger_s, full_at)
            wait = close_at - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        end = min(start + max_ticks, self._arrived(time.perf_counter()), len(self.ticks))
        end = max(end, start + 1)
        self._pos = end
        self._polled = time.perf_counter()
        return self.ticks.take(slice(start, end))

    def seek(self, position: int) -> None:
        if not 0 <= position <= len(self.ticks):
            raise ValueError(f"cannot seek to tick {position}: the feed holds {len(self.ticks)}")
        self._pos = position
        self._origin = min(position, max(len(self.ticks) - 1, 0))
        self._t0 = time.perf_counter()
        self._started = True

    def identity(self) -> str:
        """A hash of every tick (stamp, instrument, bid, ask): the same replay or file, the same name."""
        import hashlib

        h = hashlib.sha256()
        for column in (self.ticks.ts, self.ticks.inst, self.ticks.bid, self.ticks.ask):
            h.update(np.ascontiguousarray(column).tobytes())
        return f"replay:{len(self.ticks)}:{h.hexdigest()[:20]}"

    def close(self) -> None:
        pass
