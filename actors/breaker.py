"""CircuitBreakerAgent: the desk's circuit breakers (``trading.breaker.CircuitBreakers``) as an agent."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from trading.breaker import BreakerEvent, BreakerLimits, BreakerUpdate, CircuitBreakers, DeskHealth
from trading.closures import MarketClosures
from trading.compliance import Headroom
from trading.rules import FirmRules

__all__ = ["BreakerUpdate", "CircuitBreakerAgent"]


class CircuitBreakerAgent:
    def __init__(self, rules: dict[str, FirmRules], symbols: list[str], limits: BreakerLimits,
                 closures: str | None = None) -> None:
        self.breakers = CircuitBreakers(rules, symbols, limits,
                                        MarketClosures.from_csv(Path(closures)) if closures else None)
        self.last_events = 0

    def refresh(self, rules: dict[str, FirmRules], symbols: list[str], limits: BreakerLimits,
                closures: str | None = None) -> None:
        """A resumed desk's agent, given its settings again (``actors.shell``): the market closures as
        the file holds them now."""
        self.breakers.set_closures(symbols, MarketClosures.from_csv(Path(closures)) if closures else None)

    def set_closures(self, closures: MarketClosures) -> None:
        """The market closures a running desk read again (``Session._reload``), for the instruments it has."""
        self.breakers.set_closures(list(self.breakers.closed), closures)

    def calendars(self) -> dict[str, int]:
        """The breaks it counts as shut market for every instrument (its probation waits through them)."""
        return {"desk_closed_spans": len(self.breakers.desk_closed)}

    def on_batch(self, ts_ns: int, last_ts: Mapping[str, int], headrooms: Mapping[str, Headroom],
                 health: DeskHealth | None = None) -> BreakerUpdate:
        """A review: ``last_ts`` is each instrument's last tick, plus what it stands for (the desk's
        ``Session._last_ts``)."""
        self.last_events = len(headrooms)
        return self.breakers.review(ts_ns, last_ts, headrooms, health)

    def manual_kill(self, ts_ns: int, reason: str) -> BreakerEvent | None:
        return self.breakers.manual_kill(ts_ns, reason)

    def release_kill(self, ts_ns: int) -> None:
        self.breakers.release_kill(ts_ns)
