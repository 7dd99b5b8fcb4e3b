"""The per-signal trade saga: risk -> correlation -> style -> compliance -> execution.

Each step is one Ray actor call that handles every account still in the saga. The driver submits
the five calls back to back as a chain of Ray ObjectRefs, each step handed the reference to the
step before (Ray resolves it before the step runs), and waits once, for the last: no step waits
on the driver. A step handed no account returns at once without touching its agent's state
(``check_sized``, ``apply_checked``, ``check_styled``, ``submit_approved`` in ``actors/``).

The audit trail is built afterwards from the five outputs (``record``): an account whose order is
vetoed leaves the saga with the reason recorded; every step appends its verdicts. The same record,
step by step, is also a CrewAI Flow (``cluster.desk.saga_flow``), which the hot path does not run:
a kickoff costs more than the five hops together (docs/operators.md). CrewAI is imported there
only, so the driver does not pay for its import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from actors.compliance import Complied
from actors.correlation import Checked
from actors.execution import ExecUpdate
from cluster.desk import runtime as rt
from cluster.desk.record import Decision  # the audit trail's verdict of a step
from trading.compliance import Headroom
from trading.ledger import AccountSnapshot
from trading.orders import Order, Signal
from trading.sizing import SizingDecision

STEPS = ("risk", "correlation", "style", "compliance", "execution")


@dataclass
class SagaContext:
    """What the saga needs from the session: the agents and the moment's account views."""

    signal: Signal
    accounts: list[str]
    snapshots: Mapping[str, AccountSnapshot]
    mids: Mapping[str, Decimal]
    headrooms: Mapping[str, Headroom]
    call: Callable[..., Any]  # (agent, method, *args) -> a Ray ObjectRef (``AgentRef.call``)
    reduced: frozenset[str] = frozenset()  # accounts whose breaker halves their risk
    decisions: list[Decision] = field(default_factory=list)
    update: ExecUpdate | None = None


@dataclass(frozen=True)
class SagaOutputs:
    """What each step answered, in the order of ``STEPS``."""

    sized: Mapping[str, SizingDecision]
    checked: Checked
    styled: Mapping[str, list[Order]]
    complied: Complied
    update: ExecUpdate | None


def submit(ctx: SagaContext) -> list[Any]:
    """Send the five steps as one chain: each call is handed the reference to the one before, and
    none is waited for here. (``AgentRef.call`` keeps one call in flight per agent; the five are
    five agents.) Returns the five references, the last one the execution agent's update."""
    c = ctx
    sized = c.call("risk", "size", c.signal, c.snapshots, c.mids, c.headrooms, c.accounts, c.reduced)
    checked = c.call("correlation", "check_sized", sized, c.snapshots, c.mids)
    styled = c.call("style", "apply_checked", checked)
    complied = c.call("compliance", "check_styled", styled, c.snapshots, c.mids)
    update = c.call("execution", "submit_approved", complied)
    return [sized, checked, styled, complied, update]


def run_saga(ctx: SagaContext) -> SagaContext:
    """Run one signal's saga to its end; the context carries the decisions and the update of the
    orders sent. An error of a step (rust_exec unreachable: ``ExecUnavailable``) is raised here."""
    refs = submit(ctx)
    ctx.update = rt.get(refs[-1])  # the one wait: every step before it is done too
    sized, checked, styled, complied = rt.get(refs[:-1])  # done: no wait, a read of the driver's store
    ctx.decisions.extend(record(ctx.signal, SagaOutputs(sized, checked, styled, complied, ctx.update)))
    return ctx


def warm_up() -> None:
    """Nothing to pay before the session's clock starts (the saga no longer runs CrewAI)."""


def actor_caller(agents: Mapping[str, Any]) -> Callable[..., Any]:
    """A ``call`` for the saga over the session's sequenced agent handles."""

    def call(agent: str, method: str, *args: Any) -> Any:
        return agents[agent].call(method, *args)  # an ObjectRef, handed to the next step

    return call


# -- the audit trail, from the steps' outputs ------------------------------------------------------
def _decision(signal: Signal, account: str, step: str, outcome: str, rule: str = "", reason: str = "",
              numbers: tuple[tuple[str, float], ...] = ()) -> Decision:
    return Decision(signal.signal_id, account, step, outcome, rule, reason, numbers)


def record_risk(signal: Signal, sized: Mapping[str, SizingDecision]) -> list[Decision]:
    out = []
    for acc, d in sized.items():
        if d.intent is None:
            out.append(_decision(signal, acc, "risk", "veto", d.rule, d.reason, d.inputs))
        else:
            out.append(_decision(signal, acc, "risk", "pass", "", f"{d.intent.lots} lots, risk "
                                 f"{d.intent.risk_amount}", d.inputs))
    return out


def record_correlation(signal: Signal, checked: Checked) -> list[Decision]:
    return [_decision(signal, acc, "correlation", "veto", "exposure", reason) if intent is None else
            _decision(signal, acc, "correlation", "scaled" if "scaled" in reason else "pass", "", reason)
            for acc, intent, reason in checked]


def record_style(signal: Signal, styled: Mapping[str, list[Order]]) -> list[Decision]:
    return [_decision(signal, acc, "style", "pass", "", f"{len(legs)} leg(s), profile {legs[0].profile}, "
                      f"seed {legs[0].seed}, active from {legs[0].not_before_ns}") if legs else
            _decision(signal, acc, "style", "veto", "size", "size below the minimum lot after the profile")
            for acc, legs in styled.items()]


def record_compliance(signal: Signal, complied: Complied) -> list[Decision]:
    out = []
    for acc, d in complied.decisions.items():
        numbers = tuple((name, float(value)) for name, value in (
            ("worst_case_daily_headroom", d.worst_case_daily_headroom),
            ("worst_case_max_loss_headroom", d.worst_case_max_loss_headroom)) if value is not None)
        if d.allowed:
            out.append(_decision(signal, acc, "compliance", "pass", "", d.reason, numbers))
        else:
            out.append(_decision(signal, acc, "compliance", "veto", d.rule, d.reason, numbers))
    return out


def record_execution(signal: Signal, update: ExecUpdate | None) -> list[Decision]:
    if update is None:
        return []
    return [_decision(signal, r.account_id, "execution", "sent" if r.status.placed else r.status.value,  # a part
                      "", f"{r.client_order_id} {r.status.value}" + (f": {r.reason}" if r.reason else ""))  # fill was sent
            for r in update.reports]


def record(signal: Signal, out: SagaOutputs) -> list[Decision]:
    """Every step's verdicts, in the order of the steps (a step that got no account adds none)."""
    return [*record_risk(signal, out.sized), *record_correlation(signal, out.checked),
            *record_style(signal, out.styled), *record_compliance(signal, out.complied),
            *record_execution(signal, out.update)]
