"""ExecutionStyleAgent: applies each account's execution profile to its sized intent."""

from __future__ import annotations

from typing import ClassVar

from trading.execution_style import ExecutionProfile, apply_profile
from trading.instruments import InstrumentRegistry
from trading.orders import Order, OrderIntent


class ExecutionStyleAgent:
    reads: ClassVar[frozenset[str]] = frozenset({"apply"})  # changes no state: the shell does not save after it

    def __init__(self, registry: InstrumentRegistry, profiles: dict[str, ExecutionProfile]) -> None:
        self.registry = registry
        self.profiles = profiles
        self.last_events = 0

    def apply(self, intents: list[OrderIntent]) -> dict[str, list[Order]]:
        self.last_events = len(intents)
        return {
            i.account_id: apply_profile(i, self.profiles[i.account_id], self.registry[i.signal.symbol])
            for i in intents
        }
