"""CircuitBreakerAgent: account tier on daily-loss headroom, system tier on stale data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from trading.breaker import Breaker, BreakerEvent, BreakerState, Tier
from trading.compliance import Headroom
from trading.market import NS_PER_S, fx_market_closed
from trading.rules import FirmRules


@dataclass(frozen=True, slots=True)
class BreakerUpdate:
    events: tuple[BreakerEvent, ...]
    blocked_accounts: frozenset[str]
    flatten_accounts: tuple[str, ...]
    system_open: bool


def market_open(ts_ns: int) -> bool:
    return not bool(fx_market_closed(np.array([ts_ns], np.int64))[0])


class CircuitBreakerAgent:
    """Account tier: daily headroom under ``halt_fraction`` of the limit stops new positions until
    the firm's next reset; under ``flatten_fraction`` the account is also flattened. System tier:
    an instrument without a tick for ``stale_after_s`` while the market is open halts the desk."""

    def __init__(self, rules: dict[str, FirmRules], symbols: list[str], halt_fraction: float,
                 flatten_fraction: float, stale_after_s: float, cooldown_s: float, probation_s: float) -> None:
        self.rules = rules
        self.halt_fraction = halt_fraction
        self.flatten_fraction = flatten_fraction
        self.stale_after_ns = int(stale_after_s * NS_PER_S)
        self.accounts = {a: Breaker(Tier.ACCOUNT, a, cooldown_s, probation_s) for a in rules}
        self.system = Breaker(Tier.SYSTEM, "desk", cooldown_s, probation_s)
        self.last_seen = {s: 0 for s in symbols}
        self.flattened_day: dict[str, object] = {}
        self.kill_switch = ""
        self.last_events = 0

    def manual_kill(self, ts_ns: int, reason: str) -> BreakerEvent | None:
        self.kill_switch = reason
        return self.system.trip(ts_ns, f"kill switch: {reason}", "halt and flatten", 2**62)

    def on_batch(self, ts_ns: int, last_ts: Mapping[str, int], headrooms: Mapping[str, Headroom]) -> BreakerUpdate:
        events: list[BreakerEvent] = []
        flatten: list[str] = []
        for sym, t in last_ts.items():
            self.last_seen[sym] = max(self.last_seen.get(sym, 0), t)
        stale = [s for s, t in self.last_seen.items() if t and ts_ns - t > self.stale_after_ns]
        healthy = not stale or not market_open(ts_ns)
        if not healthy:
            ev = self.system.trip(ts_ns, f"stale data: {', '.join(sorted(stale))}", "halt new orders")
            if ev:
                events.append(ev)
        else:
            ev = self.system.tick(ts_ns, healthy and not self.kill_switch)
            if ev:
                events.append(ev)
        for acc, head in headrooms.items():
            breaker = self.accounts[acc]
            fraction = head.daily_fraction
            if fraction < self.halt_fraction:
                hold = self.rules[acc].next_reset_ns(ts_ns)
                ev = breaker.trip(ts_ns, f"daily headroom {fraction:.0%} of the limit", "stop opening positions", hold)
                if ev:
                    events.append(ev)
                day = self.rules[acc].trading_day(ts_ns)
                if fraction < self.flatten_fraction and self.flattened_day.get(acc) != day:
                    self.flattened_day[acc] = day
                    flatten.append(acc)
                    events.append(BreakerEvent(Tier.ACCOUNT, acc, ts_ns, breaker.state, breaker.state,
                                               f"daily headroom {fraction:.0%} of the limit", "flatten"))
            else:
                ev = breaker.tick(ts_ns, True)
                if ev:
                    events.append(ev)
        self.last_events = len(headrooms)
        blocked = frozenset(a for a, b in self.accounts.items() if b.state is not BreakerState.CLOSED)
        return BreakerUpdate(tuple(events), blocked, tuple(flatten), self.system.state is not BreakerState.CLOSED)
