"""Circuit breaker state machines: closed (normal) -> open (tripped) -> half-open (probation) -> closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from trading.market import NS_PER_S
from trading.pickling import compact


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

    def _move(self, to: BreakerState, ts_ns: int, trigger: str, action: str) -> BreakerEvent:
        event = BreakerEvent(self.tier, self.scope, ts_ns, self.state, to, trigger, action)
        self.state = to
        self.since_ns = ts_ns
        self.events.append(event)
        return event

    def trip(self, ts_ns: int, trigger: str, action: str, hold_until_ns: int = 0) -> BreakerEvent | None:
        """Open (or keep open, extending the hold). Returns the event if the state changed."""
        self.reopen_after_ns = max(hold_until_ns, ts_ns + int(self.cooldown_s * NS_PER_S))
        if self.state is BreakerState.OPEN:
            return None
        return self._move(BreakerState.OPEN, ts_ns, trigger, action)

    def tick(self, ts_ns: int, healthy: bool) -> BreakerEvent | None:
        """Advance time: open -> half-open after the hold, half-open -> closed after probation."""
        if self.state is BreakerState.OPEN and ts_ns >= self.reopen_after_ns and healthy:
            return self._move(BreakerState.HALF_OPEN, ts_ns, "cooldown elapsed", "probe")
        if self.state is BreakerState.HALF_OPEN:
            if not healthy:
                return self.trip(ts_ns, "unhealthy during probation", "reopen")
            if ts_ns - self.since_ns >= int(self.probation_s * NS_PER_S):
                return self._move(BreakerState.CLOSED, ts_ns, "probation passed", "resume")
        return None

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
    ``spread_blowout`` times its running median, the venue unreachable, or the kill switch: the
    venue is halted and every position flattened.
    Agent tier: a call slower than ``agent_latency_ms`` on average over a review, an error, or a
    missed heartbeat: the agent's outputs are ignored and it is restarted.
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

    spreads: tuple[tuple[str, int, int], ...] = ()  # (symbol, max spread, median spread) in points
    losses: tuple[tuple[str, bool], ...] = ()       # (account, lost) per trade closed, in order
    slippage: tuple[tuple[str, int], ...] = ()      # (account, adverse slippage points) per fill
    rejects: tuple[str, ...] = ()                   # account per rejected order
    agents: tuple[tuple[str, AgentHealth], ...] = ()
    venue_ok: bool = True
    venue_error: str = ""
    kill_switch: str = ""                           # set: an operator halted the venue
    books_differ: tuple[str, ...] = ()              # the desk's books against rust_exec's, each difference
