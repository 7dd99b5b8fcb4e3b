"""Circuit breaker state machines: closed (normal) -> open (tripped) -> half-open (probation) -> closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from trading.market import NS_PER_S


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Tier(StrEnum):
    AGENT = "agent"
    ACCOUNT = "account"
    SYSTEM = "system"


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
