"""AdaptiveRiskAgent (ARIA): sizes each account's order for a signal."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from trading.compliance import Headroom
from trading.fx import rates_from
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.orders import Signal
from trading.sizing import RiskParameters, RiskState, SizingDecision, size_intent

BREAKER_RISK_FACTOR = 0.5  # an account whose breaker reduces risk sizes at half


class AdaptiveRiskAgent:
    def __init__(self, registry: InstrumentRegistry, params: dict[str, RiskParameters],
                 slip_pips: Mapping[str, tuple[Decimal, Decimal]] | None = None) -> None:
        self.registry = registry
        self.params = params
        self.states = {acc: RiskState() for acc in params}
        self.last_events = 0
        # per account: the entry and stop slippage (pips) the open-risk cap's worst case counts (Settings.worst_slip_pips)
        self.slip_pips = dict(slip_pips or {})

    def refresh(self, registry: InstrumentRegistry, params: dict[str, RiskParameters],
                slip_pips: Mapping[str, tuple[Decimal, Decimal]] | None = None) -> None:
        """A resumed desk's agent, given its settings again (``actors.shell``): the slippage its worst case counts
        (its state may have been saved before it did)."""
        self.slip_pips = dict(slip_pips or {})

    def size(self, signal: Signal, snapshots: Mapping[str, AccountSnapshot], mids: Mapping[str, Decimal],
             headrooms: Mapping[str, Headroom], accounts: list[str],
             reduced: frozenset[str] = frozenset()) -> dict[str, SizingDecision]:
        """Each account's order for ``signal``; an account in ``reduced`` (its breaker's pass-odds
        trigger) risks half as much."""
        rates = rates_from(self.registry, mids)
        inst = self.registry[signal.symbol]
        self.last_events = len(accounts)
        return {
            acc: size_intent(signal, snapshots[acc], inst, rates, self.params[acc], self.states[acc],
                             headrooms[acc].nearest_headroom, headrooms[acc].pass_risk_pct,
                             BREAKER_RISK_FACTOR if acc in reduced else 1.0, headrooms[acc].lots_room,
                             headrooms[acc].risk_room,
                             self.slip_pips.get(acc, (Decimal(0), Decimal(0))))
            for acc in accounts
        }

    def on_trades(self, trades: list[ClosedTrade]) -> int:
        for trade in trades:
            self.states[trade.account_id].record(trade)
        self.last_events = len(trades)
        return len(trades)
