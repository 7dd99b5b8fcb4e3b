"""ExecutionStyleAgent: applies each account's execution profile to its sized intent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from trading.execution_style import ExecutionProfile, apply_profile
from trading.instruments import InstrumentRegistry
from trading.orders import Order, OrderIntent


class ExecutionStyleAgent:
    # changes no state: the shell does not save after them
    reads: ClassVar[frozenset[str]] = frozenset({"apply", "apply_checked"})

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

    def apply_checked(self, checked: Sequence[tuple[str, OrderIntent | None, str]]) -> dict[str, list[Order]]:
        """The saga's step after the correlation check, handed its output: ``apply`` to the intents it
        allowed, in their order. None allowed: an empty answer at once."""
        intents = [intent for _, intent, _ in checked if intent is not None]
        return self.apply(intents) if intents else {}
