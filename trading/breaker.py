"""Circuit breakers in three tiers, each a state machine: closed (normal) -> open (tripped) ->
half-open (probation) -> closed; every transition is an event.

Agent tier: per agent, on latency, errors and heartbeats: outputs ignored, agent restarted.
Account tier: per account, on the day's headroom, losing streaks, slippage and rejections: no new
positions (and a flatten when the day's headroom runs low). The day's headroom is the daily loss
limit's, or, for a firm without a daily rule, the maximum-loss headroom the account had when the
desk first saw its day.
System tier: on stale data, spread blowouts, an unreachable venue, books that differ from the
venue's and the kill switch: the venue halted and everything flattened.
Thresholds and windows: ``BreakerLimits``; the rules that apply them: ``CircuitBreakers``.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from trading.closures import MarketClosures
from trading.compliance import Headroom
from trading.market import NS_PER_S, Spans, after_fx_open_ns, fx_market_closed, fx_open_ns
from trading.pickling import compact
from trading.rules import FirmRules


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Tier(StrEnum):
    AGENT = "agent"
    ACCOUNT = "account"
    SYSTEM = "system"


@compact
@dataclass(frozen=True, slots=True)
class BreakerEvent:
    """A transition, with what tripped it and what was done."""

    tier: Tier
    scope: str
    ts_ns: int
    from_state: BreakerState
    to_state: BreakerState
    trigger: str
    action: str


@dataclass
class Breaker:
    """One breaker. It opens on a trigger, waits ``cooldown_s``, then probes in half-open for
    ``probation_s``; a trigger during probation opens it again."""

    tier: Tier
    scope: str
    cooldown_s: float
    probation_s: float
    state: BreakerState = BreakerState.CLOSED
    since_ns: int = 0
    reopen_after_ns: int = 0
    events: list[BreakerEvent] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)  # each kind of trigger: the review that last saw it
    closed: Spans = ()  # market closures besides the weekends: probation is market time

    def __setstate__(self, state: dict[str, object]) -> None:  # a breaker saved before ``seen``, ``closed``
        self.__dict__.update({"seen": {}, "closed": (), **state})

    def _move(self, to: BreakerState, ts_ns: int, trigger: str, action: str) -> BreakerEvent:
        event = BreakerEvent(self.tier, self.scope, ts_ns, self.state, to, trigger, action)
        self.state = to
        self.since_ns = ts_ns
        self.events.append(event)
        return event

    def trip(self, ts_ns: int, trigger: str, action: str, hold_until_ns: int = 0, extend: bool = True
             ) -> BreakerEvent | None:
        """Open for ``cooldown_s`` and at least until ``hold_until_ns``. A trigger seen again while
        open holds it until ``hold_until_ns`` too and, with ``extend``, ``cooldown_s`` from now (the
        cool-down runs from the last time a lasting condition was seen). Returns the event if the
        state changed."""
        cooldown = int(self.cooldown_s * NS_PER_S)
        if self.state is BreakerState.OPEN:
            self.reopen_after_ns = max(self.reopen_after_ns, hold_until_ns, ts_ns + cooldown if extend else 0)
            return None
        self.reopen_after_ns = max(hold_until_ns, ts_ns + cooldown)
        return self._move(BreakerState.OPEN, ts_ns, trigger, action)

    def open(self, ts_ns: int, trigger: str, action: str, hold_until_ns: int = 0, extend: bool = True,
             since_ns: int | None = None, kinds: tuple[str, ...] = ()) -> list[BreakerEvent]:
        """A trigger seen at ``ts_ns``: first the moves that fell due while all was well (stamped
        when they fell due, as a review then would have), then the trip. All was well until
        ``since_ns`` (a silence: where it passed the limit; default now), or until the last review
        that saw one of these ``kinds`` of trigger if that was earlier (an unreachable venue, books
        that differ, a failing agent: taken to have lasted from one review to the next). So the
        events are the same however often the breaker is reviewed: a condition that goes on keeps it
        open, a new trigger after the cool-down and probation fell due opens it again."""
        well_until = min([ts_ns if since_ns is None else since_ns] + [self.seen[k] for k in kinds if k in self.seen])
        for k in kinds:
            self.seen[k] = ts_ns
        events = self.tick(min(well_until, ts_ns), True) if self.state is not BreakerState.CLOSED else []
        tripped = self.trip(ts_ns, trigger, action, hold_until_ns, extend)
        return events + ([tripped] if tripped else [])

    def due_ns(self) -> int | None:
        """When its next move falls due (None: closed, nothing due)."""
        if self.state is BreakerState.OPEN:
            return self.reopen_after_ns
        if self.state is BreakerState.HALF_OPEN:
            return after_fx_open_ns(self.since_ns, int(self.probation_s * NS_PER_S), self.closed)
        return None

    def tick(self, ts_ns: int, healthy: bool) -> list[BreakerEvent]:
        """Advance time to ``ts_ns``: open -> half-open once the hold is over, half-open -> closed once
        probation is (``probation_s`` of market time: a weekend proves nothing). Each move is stamped
        when it fell due, not when this review came (so the state at any time is the same however
        often the breaker is reviewed); both can fall in one call."""
        events = []
        if self.state is BreakerState.OPEN and ts_ns >= self.reopen_after_ns and healthy:
            events.append(self._move(BreakerState.HALF_OPEN, max(self.reopen_after_ns, self.since_ns),
                                     "cooldown elapsed", "probe"))
        if self.state is BreakerState.HALF_OPEN:
            if not healthy:
                reopened = self.trip(ts_ns, "unhealthy during probation", "reopen")
                return events + ([reopened] if reopened else [])
            due = after_fx_open_ns(self.since_ns, int(self.probation_s * NS_PER_S), self.closed)
            if ts_ns >= due:
                events.append(self._move(BreakerState.CLOSED, due, "probation passed", "resume"))
        return events

    @property
    def allows_new_positions(self) -> bool:
        return self.state is BreakerState.CLOSED


@dataclass(frozen=True, slots=True)
class BreakerLimits:
    """Every trigger's threshold.

    Account tier: the day's headroom under ``daily_headroom_halt`` of the day's room (the daily
    limit, or without a daily rule the maximum-loss headroom at the day's start; flatten under
    ``daily_headroom_flatten``), ``consecutive_losses`` losing trades in a row, mean adverse
    slippage over the last ``slippage_window`` fills above ``slippage_points``, or
    ``rejects_per_day`` rejected orders in a firm day: the account stops opening positions.
    System tier: no tick for ``stale_after_s`` while the market is open, a spread above
    ``spread_blowout`` times its instrument's reference (``SpreadWatch``), the venue unreachable, or
    the kill switch: the
    venue is halted and every position flattened.
    Agent tier: a call slower than ``agent_latency_ms`` on average over a review, an error, or a
    missed heartbeat: the agent's outputs are ignored and it is restarted.
    Account tier, risk: the pass-odds monitor's probability of a hard breach (``Headroom.
    hard_breach_probability``) at or above ``hard_breach_reduce`` halves the account's risk until it
    falls back under (0 = off).
    """

    daily_headroom_halt: float = 0.5
    daily_headroom_flatten: float = 0.25
    stale_after_s: float = 300.0
    cooldown_s: float = 900.0
    probation_s: float = 600.0
    consecutive_losses: int = 5
    slippage_points: float = 15.0
    slippage_window: int = 5
    rejects_per_day: int = 5
    spread_blowout: float = 15.0
    agent_latency_ms: float = 1_000.0
    hard_breach_reduce: float = 0.25


@compact
@dataclass(frozen=True, slots=True)
class AgentHealth:
    """What a review saw of one agent: mean call latency since the last review, errors, heartbeat."""

    mean_latency_ms: float = 0.0
    errors: int = 0
    heartbeat_ok: bool = True


@compact
@dataclass(frozen=True, slots=True)
class DeskHealth:
    """Everything a review looks at beyond headroom and tick times."""

    spreads: tuple[tuple[str, int, float], ...] = ()  # blowouts (``SpreadWatch``): (symbol, spread, reference) in points
    losses: tuple[tuple[str, bool, int], ...] = ()  # (account, lost, closed at) per trade closed, in order
    slippage: tuple[tuple[str, int, int], ...] = ()  # (account, adverse slippage points, filled at) per fill
    rejects: tuple[tuple[str, int], ...] = ()        # (account, rejected at) per rejected order
    agents: tuple[tuple[str, AgentHealth], ...] = ()
    venue_ok: bool = True
    venue_error: str = ""
    kill_switch: str = ""                           # set: an operator halted the venue
    books_differ: tuple[str, ...] = ()              # the desk's books against rust_exec's, each difference


NEVER = 2**62  # no move due


@compact
@dataclass(frozen=True, slots=True)
class BreakerUpdate:
    events: tuple[BreakerEvent, ...]
    blocked_accounts: frozenset[str]
    flatten_accounts: tuple[str, ...]
    system_open: bool
    ignored_agents: frozenset[str] = frozenset()
    restart_agents: tuple[str, ...] = ()
    reduced_accounts: frozenset[str] = frozenset()  # risk halved: the odds of a hard breach are high
    next_due_ns: int = NEVER  # when a breaker's next move (a cool-down or probation over) falls due


def market_open(ts_ns: int, extra: Spans = ()) -> bool:
    return not bool(fx_market_closed(np.array([ts_ns], np.int64), extra)[0])


SPREAD_BLOCK = 200  # an instrument's ticks a block ...
SPREAD_BLOCKS = 5  # ... its reference spread is the median of its last this many blocks' medians


@dataclass
class SpreadWatch:
    """Spread blowouts, tick by tick: a tick whose spread is over ``factor`` times its instrument's
    reference is one. The reference is the median of the medians of the instrument's last
    ``blocks`` full blocks of ``block`` ticks, counted from its first, so where a blowout is found
    does not depend on how the ticks were batched (a running median of each batch's median did: a
    live desk's batches of a few ticks moved it within seconds, a backtest's of 2,000 over hours).
    A blowout enters its block capped at ``factor`` times the reference, so it moves the reference
    only once it has lasted about half the blocks (600 ticks of five blocks of 200): then it is the
    instrument's spread now. A spell of narrow spreads moves it no sooner, and normal spreads bring
    it back as fast, so no spell halts the desk for good. A block whose median is 0 (locked quotes)
    is left out. An instrument's first block is not judged."""

    factor: float
    block: int = SPREAD_BLOCK
    blocks: int = SPREAD_BLOCKS
    reference: dict[int, float] = field(default_factory=dict)
    filling: dict[int, list[int]] = field(default_factory=dict)
    medians: dict[int, list[float]] = field(default_factory=dict)  # the last ``blocks`` blocks' medians

    def scan(self, inst: int, spreads: npt.NDArray[np.int64]) -> list[tuple[int, int, float]]:
        """The blowouts among one instrument's next ticks (their spreads in points, in order), each
        (its index in ``spreads``, the spread, the reference it is over)."""
        out: list[tuple[int, int, float]] = []
        buf = self.filling.setdefault(inst, [])
        medians = self.medians.setdefault(inst, [])
        i = 0
        while i < len(spreads):
            chunk = spreads[i:i + self.block - len(buf)]  # the reference holds until the block is full
            ref = self.reference.get(inst, 0.0)
            if ref > 0:
                cap = self.factor * ref
                out.extend((i + j, int(chunk[j]), ref) for j in np.flatnonzero(chunk > cap).tolist())
                buf.extend(np.minimum(chunk, cap).tolist())
            else:
                buf.extend(chunk.tolist())
            i += len(chunk)
            if len(buf) >= self.block:
                median = float(np.median(buf))
                buf.clear()
                if median > 0:
                    medians.append(median)
                    del medians[:-self.blocks]
                    self.reference[inst] = float(np.median(medians))
        return out


def silences(last_ns: int, stamps: npt.NDArray[np.int64], spacing_ns: int, limit_ns: int, end_ns: int,
             closed: Spans = ()) -> list[tuple[int, int | None]]:
    """Where one instrument's silences grow past ``limit_ns`` of market time (the stale-data trigger),
    given its last tick before (``last_ns``, 0: none yet, so never stale), its ticks' times since
    (``stamps``, ascending) and the end of what is known (``end_ns``). A tick stands for
    ``spacing_ns`` after it (ticks made from bars: a quarter of the bar; ``trading.intrabar``).
    Each silence: (the first instant over the limit, the index in ``stamps`` of the tick that ended
    it, or None if it still goes on at ``end_ns``). The desk reviews at both (``cluster.desk.session``),
    so a silence trips the breaker at the instant it passes the limit and its cool-down runs from the
    tick that ends it, however the ticks are batched. Market time leaves out the weekends and the
    instrument's ``closed`` spans (holidays: ``trading.closures``)."""
    prev = np.concatenate((np.array([last_ns], np.int64), stamps.astype(np.int64)))
    nxt = np.concatenate((stamps.astype(np.int64), np.array([end_ns], np.int64)))
    since = prev + spacing_ns
    long = np.flatnonzero((prev > 0) & (nxt - since > limit_ns))  # market time is at most calendar time
    if not len(long):
        return []
    silent = fx_open_ns(since[long], nxt[long], closed)
    return [(after_fx_open_ns(int(since[i]), limit_ns + 1, closed), i if i < len(stamps) else None)
            for i in long[silent > limit_ns].tolist()]


class CircuitBreakers:
    """The three tiers' breakers of a desk and the rules that trip them (thresholds and windows in
    ``BreakerLimits``): ``review`` looks at one batch's headroom, tick times and health."""

    def __init__(self, rules: dict[str, FirmRules], symbols: list[str], limits: BreakerLimits,
                 closures: MarketClosures | None = None) -> None:
        self.limits = lim = limits
        self.rules = rules
        self.accounts = {a: Breaker(Tier.ACCOUNT, a, lim.cooldown_s, lim.probation_s) for a in rules}
        self.system = Breaker(Tier.SYSTEM, "desk", lim.cooldown_s, lim.probation_s)
        self.agents: dict[str, Breaker] = {}
        self.last_seen = {s: 0 for s in symbols}
        self.flattened_day: dict[str, object] = {}
        self.day_room: dict[str, tuple[object, Decimal]] = {}  # no daily rule: (day, max-loss headroom then)
        self.kill_switch = ""
        self._venue_kill = False
        self.streak: dict[str, int] = defaultdict(int)
        self.slips: dict[str, deque[int]] = {}
        self.rejects: dict[tuple[str, object], int] = defaultdict(int)
        self.reduced: set[str] = set()
        self.set_closures(symbols, closures)

    def set_closures(self, symbols: list[str], closures: MarketClosures | None) -> None:
        """Market hours besides the weekends: each instrument's breaks (its silence there is no stale
        feed), and those of every instrument (probation waits through them)."""
        closures = closures or MarketClosures()
        self.closed = {s: closures.spans((s,)) for s in symbols}
        self.desk_closed = closures.spans(symbols, every=True)
        for breaker in (self.system, *self.accounts.values(), *self.agents.values()):
            breaker.closed = self.desk_closed

    def __setstate__(self, state: dict[str, object]) -> None:  # breakers saved before market closures
        self.__dict__.update({"closed": {}, "desk_closed": (), **state})

    def _day_fraction(self, acc: str, ts_ns: int, head: Headroom) -> float:
        """The share of the day's room left (1.0 untouched, 0 at the floor). Without a daily rule
        the room is the maximum-loss headroom at the day's first review, so a day that loses half of
        what the account could lose still stops it, as a daily limit would."""
        if head.daily_headroom is not None:
            return head.daily_fraction
        day = self.rules[acc].trading_day(ts_ns)
        seen = self.day_room.get(acc)
        if seen is None or seen[0] != day:
            seen = self.day_room[acc] = (day, head.max_loss_headroom)
        room = seen[1]
        return float(head.max_loss_headroom / room) if room > 0 else 0.0

    def manual_kill(self, ts_ns: int, reason: str) -> BreakerEvent | None:
        """The kill switch: the system tier opens and stays open until ``release_kill``."""
        self.kill_switch = reason
        return self.system.trip(ts_ns, f"kill switch: {reason}", "halt and flatten", 2**62)

    def release_kill(self, ts_ns: int) -> None:
        self.kill_switch = ""
        self.system.reopen_after_ns = ts_ns + int(self.limits.cooldown_s * NS_PER_S)

    # -- system tier ----------------------------------------------------------------------------
    def _system(self, ts_ns: int, health: DeskHealth) -> tuple[list[str], int]:
        """The system tier's triggers at ``ts_ns``, and since when the first of them holds (a silence
        from where it passed the limit, the others from now)."""
        reasons = []
        since = ts_ns
        limit = int(self.limits.stale_after_s * NS_PER_S)
        # silent for stale_after_s of market time: a weekend or the instrument's holiday is not silence
        # (an instrument that has not ticked in the first seconds after the open is not stale)
        stale: list[tuple[str, int]] = []  # (symbol, when its silence passed the limit)
        for s, t in self.last_seen.items():
            hours = self.closed.get(s, ())  # the weekends are in market_open and fx_open_ns already
            if t and ts_ns - t > limit and market_open(ts_ns, hours) and int(
                    fx_open_ns(np.array([min(t, ts_ns)], np.int64), np.array([ts_ns], np.int64), hours)[0]) > limit:
                stale.append((s, after_fx_open_ns(min(t, ts_ns), limit + 1, hours)))
        if stale:
            reasons.append(f"stale data: {', '.join(sorted(s for s, _ in stale))}")
            since = min(at for _, at in stale)
        for symbol, spread, reference in health.spreads:  # the desk reviews at each blowout's tick
            reasons.append(f"spread blowout: {symbol} {spread} points, {spread / reference:.0f}x its usual "
                           f"{reference:g} (the median of its recent ticks)")
        if not health.venue_ok:
            reasons.append(f"venue unreachable: {health.venue_error}")
        if health.books_differ:  # the desk no longer knows what it holds: stop and flatten at the venue
            reasons.append(f"books differ from the venue: {'; '.join(health.books_differ[:5])}"
                           + (f" (+{len(health.books_differ) - 5} more)" if len(health.books_differ) > 5 else ""))
        if health.kill_switch:  # the venue is halted by an operator: mirror it until they resume
            self.kill_switch, self._venue_kill = health.kill_switch, True
        elif self._venue_kill:
            self.kill_switch, self._venue_kill = "", False
            self.system.reopen_after_ns = ts_ns + int(self.limits.cooldown_s * NS_PER_S)  # cool-down from now
        if self.kill_switch:
            reasons.append(f"kill switch: {self.kill_switch}")
        return reasons, since

    # -- account tier -----------------------------------------------------------------------------
    def _account_reasons(self, acc: str, ts_ns: int, health: DeskHealth) -> tuple[list[str], int]:
        """The account's triggers among the trades, fills and refusals since the last review, and
        when the first of them tripped (the trade, fill or refusal that completed it; ``ts_ns`` if
        none did)."""
        lim = self.limits
        reasons = []
        at = ts_ns
        # Trade by trade and fill by fill, as if reviewed after each: what trips, when, and what
        # starts counting again after it, does not depend on how many a review sees at once.
        streak = ""
        for who, lost, closed in health.losses:
            if who == acc:
                self.streak[acc] = self.streak[acc] + 1 if lost else 0
                if lim.consecutive_losses and self.streak[acc] >= lim.consecutive_losses:
                    streak, self.streak[acc] = f"{self.streak[acc]} losing trades in a row", 0
                    at = min(at, closed)
        if streak:
            reasons.append(streak)
        window = self.slips.setdefault(acc, deque(maxlen=lim.slippage_window))
        slipped = ""
        for who, points, filled in health.slippage:
            if who == acc:
                window.append(points)
                if len(window) == lim.slippage_window and sum(window) / len(window) > lim.slippage_points:
                    slipped = f"abnormal slippage: {sum(window) / len(window):.1f} points over {len(window)} fills"
                    window.clear()
                    at = min(at, filled)
        if slipped:
            reasons.append(slipped)
        refused = ""
        for who, when in health.rejects:  # counted in the firm day each was refused in
            if who != acc:
                continue
            when = when if 0 < when <= ts_ns else ts_ns  # (a refusal of an order with no time: now)
            day = self.rules[acc].trading_day(when)
            for key in [k for k in self.rejects if k[0] == acc and k[1] != day]:  # past days: done with
                del self.rejects[key]
            self.rejects[(acc, day)] += 1
            if lim.rejects_per_day and self.rejects[(acc, day)] >= lim.rejects_per_day:
                refused = f"{self.rejects[(acc, day)]} rejected orders today"
                self.rejects[(acc, day)] = -10**9  # once per day
                at = min(at, when)
        if refused:
            reasons.append(refused)
        return reasons, min(at, ts_ns)

    def _risk(self, acc: str, ts_ns: int, head: Headroom, events: list[BreakerEvent]) -> None:
        """Halve the account's risk while the pass-odds monitor puts a hard breach at or above
        ``hard_breach_reduce``; an event when it starts and when it ends."""
        limit = self.limits.hard_breach_reduce
        p = head.hard_breach_probability
        high = bool(limit) and p is not None and p >= limit
        state = self.accounts[acc].state
        if high and acc not in self.reduced:
            self.reduced.add(acc)
            events.append(BreakerEvent(Tier.ACCOUNT, acc, ts_ns, state, state,
                                       f"hard-breach odds {p:.0%} at or above {limit:.0%}", "halve risk"))
        elif not high and acc in self.reduced and p is not None:
            self.reduced.discard(acc)
            events.append(BreakerEvent(Tier.ACCOUNT, acc, ts_ns, state, state,
                                       f"hard-breach odds {p:.0%} under {limit:.0%}", "full risk"))

    # -- agent tier -------------------------------------------------------------------------------
    def _agents(self, ts_ns: int, health: DeskHealth, events: list[BreakerEvent]) -> list[str]:
        restart = []
        for name, h in health.agents:
            breaker = self.agents.setdefault(name, Breaker(Tier.AGENT, name, self.limits.cooldown_s,
                                                           self.limits.probation_s, closed=self.desk_closed))
            why, kinds = [], []
            if h.errors:
                why.append(f"{h.errors} errors")
                kinds.append("errors")
            if not h.heartbeat_ok:
                why.append("missed heartbeat")
                kinds.append("heartbeat")
            if h.mean_latency_ms > self.limits.agent_latency_ms:
                why.append(f"mean latency {h.mean_latency_ms:.0f} ms")
                kinds.append("latency")
            if why:
                moved = breaker.open(ts_ns, ", ".join(why), "ignore outputs and restart", kinds=tuple(kinds))
                events.extend(moved)
                if moved and moved[-1].to_state is BreakerState.OPEN:
                    restart.append(name)
            else:
                events.extend(breaker.tick(ts_ns, True))
        return restart

    def review(self, ts_ns: int, last_ts: Mapping[str, int], headrooms: Mapping[str, Headroom],
               health: DeskHealth | None = None) -> BreakerUpdate:
        health = health or DeskHealth()
        events: list[BreakerEvent] = []
        flatten: list[str] = []
        for sym, t in last_ts.items():
            self.last_seen[sym] = max(self.last_seen.get(sym, 0), t)
        reasons, since = self._system(ts_ns, health)
        if reasons:
            hold = 2**62 if self.kill_switch else 0
            # a silence holds from where it passed the limit; a lasting condition (the venue, the books,
            # the kill switch) from the last review that saw it; a blowout is judged at its own tick
            kinds = tuple(r.split(":")[0] for r in reasons if not r.startswith(("stale data", "spread blowout")))
            events.extend(self.system.open(ts_ns, "; ".join(reasons), "halt and flatten", hold, since_ns=since,
                                           kinds=kinds))
        else:
            events.extend(self.system.tick(ts_ns, True))
        for acc, head in headrooms.items():
            breaker = self.accounts[acc]
            self._risk(acc, ts_ns, head, events)
            fraction = self._day_fraction(acc, ts_ns, head)
            what = "daily headroom" if head.daily_headroom is not None else "max-loss headroom"
            extra, at = self._account_reasons(acc, ts_ns, health)
            low = fraction < self.limits.daily_headroom_halt
            # A streak, slippage or refusals trip at the trade, fill or refusal that completed them, a
            # fallen headroom now (in that order, as reviews after each would): held to the firm's next
            # reset after that. Seen again before it, the cool-down is not pushed on (how often a
            # review sees it would decide when the account trades again).
            if extra:
                events.extend(breaker.open(at, "; ".join(extra), "stop opening positions",
                                           self.rules[acc].next_reset_ns(at), extend=False))
            if low:
                events.extend(breaker.open(ts_ns, f"{what} {fraction:.0%} of the day's room", "stop opening positions",
                                           self.rules[acc].next_reset_ns(ts_ns), extend=False, kinds=("headroom",)))
            if low or extra:
                day = self.rules[acc].trading_day(ts_ns)
                if fraction < self.limits.daily_headroom_flatten and self.flattened_day.get(acc) != day:
                    self.flattened_day[acc] = day
                    flatten.append(acc)
                    events.append(BreakerEvent(Tier.ACCOUNT, acc, ts_ns, breaker.state, breaker.state,
                                               f"{what} {fraction:.0%} of the day's room", "flatten"))
            else:
                events.extend(breaker.tick(ts_ns, True))
        restart = self._agents(ts_ns, health, events)
        blocked = frozenset(a for a, b in self.accounts.items() if b.state is not BreakerState.CLOSED)
        ignored = frozenset(n for n, b in self.agents.items() if b.state is BreakerState.OPEN)
        events.sort(key=lambda e: e.ts_ns)  # a move stamped when it fell due may precede this review's trips
        # (agents' breakers are reviewed at heartbeats only: their moves wait for the next one)
        due = [d for b in (self.system, *self.accounts.values()) if (d := b.due_ns()) is not None]
        return BreakerUpdate(tuple(events), blocked, tuple(flatten), self.system.state is not BreakerState.CLOSED,
                             ignored, tuple(restart), frozenset(self.reduced), min(due, default=NEVER))
