"""The per-signal trade saga: risk -> correlation -> style -> compliance -> execution.

A CrewAI Flow with deterministic steps and no LLM. Each step is one Ray actor call that handles
every account still in the saga; an account whose order is vetoed leaves it with the reason
recorded, and the flow ends when no account is left. Every step appends to the audit record.

Each step after the first is also the router that names the next one ("stop" when no account is
left), and each is a coroutine that awaits the actor's reply on the flow's event loop: CrewAI
runs a plain method on a worker thread and every method costs it a thread hand-off more, which
here cost more than the agents' own work. The flow keeps no state of its own (the decisions live in
the context); it is a bare ``FlowState``, which CrewAI instantiates as it is (for any other model
it builds a new class at every kickoff).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

for _key, _value in {"CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true",
                     "CREWAI_DISABLE_VERSION_CHECK": "true", "CREWAI_TRACING_ENABLED": "false"}.items():
    os.environ.setdefault(_key, _value)

from crewai.flow.flow import Flow, FlowState, listen, router, start  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402

from actors.execution import ExecUpdate  # noqa: E402
from cluster.desk.record import Decision  # noqa: E402  (the audit trail's verdict of a step)
from trading.compliance import Headroom  # noqa: E402
from trading.ledger import AccountSnapshot  # noqa: E402
from trading.orders import Order, OrderIntent, Signal  # noqa: E402


@dataclass
class SagaContext:
    """What the saga needs from the session: the agents and the moment's account views."""

    signal: Signal
    accounts: list[str]
    snapshots: Mapping[str, AccountSnapshot]
    mids: Mapping[str, Decimal]
    headrooms: Mapping[str, Headroom]
    call: Callable[..., Any]  # (agent, method, *args) -> the result, or an awaitable of it (a Ray ObjectRef)
    decisions: list[Decision] = field(default_factory=list)
    intents: dict[str, OrderIntent] = field(default_factory=dict)
    orders: dict[str, list[Order]] = field(default_factory=dict)
    update: ExecUpdate | None = None


class TradeSaga(Flow[FlowState]):
    """risk -> correlation -> style -> compliance -> execution, for all accounts of one signal."""

    _ctx: SagaContext = PrivateAttr()
    # The saga has no LLM and nothing to remember: without this CrewAI opens a LanceDB memory for
    # every flow (about 2 ms of each saga on this machine). CrewAI's own internal flows set it too.
    _skip_auto_memory: ClassVar[bool] = True

    def _record(self, account: str, step: str, outcome: str, rule: str = "", reason: str = "",
                numbers: tuple[tuple[str, float], ...] = ()) -> None:
        self._ctx.decisions.append(Decision(self._ctx.signal.signal_id, account, step, outcome, rule, reason, numbers))

    async def _ask(self, agent: str, method: str, *args: Any) -> Any:
        """One agent call: awaited on the flow's loop when it is a Ray ObjectRef."""
        result = self._ctx.call(agent, method, *args)
        return await result if inspect.isawaitable(result) else result

    @start()
    async def size(self) -> None:
        c = self._ctx
        sized = await self._ask("risk", "size", c.signal, c.snapshots, c.mids, c.headrooms, c.accounts)
        for acc, decision in sized.items():
            if decision.intent is None:
                self._record(acc, "risk", "veto", "sizing", decision.reason, decision.inputs)
            else:
                c.intents[acc] = decision.intent
                self._record(acc, "risk", "pass", "", f"{decision.intent.lots} lots, risk "
                             f"{decision.intent.risk_amount}", decision.inputs)

    @router(size)
    async def correlate(self) -> str:
        c = self._ctx
        if not c.intents:
            return "stop"
        checked = await self._ask("correlation", "check", list(c.intents.values()), c.snapshots, c.mids)
        for (acc, _), (intent, reason) in zip(list(c.intents.items()), checked, strict=True):
            if intent is None:
                del c.intents[acc]
                self._record(acc, "correlation", "veto", "exposure", reason)
            else:
                c.intents[acc] = intent
                self._record(acc, "correlation", "scaled" if "scaled" in reason else "pass", "", reason)
        return "styled" if c.intents else "stop"

    @router("styled")
    async def style(self) -> str:
        c = self._ctx
        c.orders = await self._ask("style", "apply", list(c.intents.values()))
        for acc in list(c.orders):
            legs = c.orders[acc]
            if not legs:
                del c.orders[acc]
                self._record(acc, "style", "veto", "size", "size below the minimum lot after the profile")
            else:
                self._record(acc, "style", "pass", "", f"{len(legs)} leg(s), profile {legs[0].profile}, "
                             f"seed {legs[0].seed}, active from {legs[0].not_before_ns}")
        return "to_compliance" if c.orders else "stop"

    @router("to_compliance")
    async def comply(self) -> str:
        c = self._ctx
        decisions = await self._ask("compliance", "check", c.orders, c.snapshots, c.mids)
        for acc, d in decisions.items():
            numbers = tuple((name, float(value)) for name, value in (
                ("worst_case_daily_headroom", d.worst_case_daily_headroom),
                ("worst_case_max_loss_headroom", d.worst_case_max_loss_headroom)) if value is not None)
            if d.allowed:
                self._record(acc, "compliance", "pass", "", d.reason, numbers)
            else:
                del c.orders[acc]
                self._record(acc, "compliance", "veto", d.rule, d.reason, numbers)
        return "approved" if c.orders else "stop"

    @listen("approved")
    async def execute(self) -> None:
        c = self._ctx
        legs = [o for acc in sorted(c.orders) for o in c.orders[acc]]
        c.update = await self._ask("execution", "submit", legs)
        for report in c.update.reports:
            outcome = "sent" if report.status.placed else report.status.value  # a part fill was sent too
            self._record(report.account_id, "execution", outcome, "", f"{report.client_order_id} {report.status.value}"
                         + (f": {report.reason}" if report.reason else ""))


def run_saga(ctx: SagaContext) -> SagaContext:
    """Run one signal's saga to its end; the context carries the decisions and the orders sent."""
    flow = TradeSaga(suppress_flow_events=True)
    flow._ctx = ctx
    flow.kickoff()
    return ctx


def warm_up() -> None:
    """Pay CrewAI's one-time initialisation (~1.6 s on the first kickoff in a process) before the
    session's clock starts, with a saga that has no account and so calls no agent."""
    flow = TradeSaga(suppress_flow_events=True)
    flow._ctx = SagaContext(None, [], {}, {}, {}, lambda *_: {})  # type: ignore[arg-type]
    flow.kickoff()


def actor_caller(agents: Mapping[str, Any]) -> Callable[..., Any]:
    """A ``call`` for the saga over the session's sequenced agent handles."""

    def call(agent: str, method: str, *args: Any) -> Any:
        return agents[agent].call(method, *args)  # an ObjectRef, awaited by the saga

    return call
