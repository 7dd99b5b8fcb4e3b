"""The saga's definition as a CrewAI Flow: risk -> correlation -> style -> compliance -> execution,
each step recording its verdicts from what its agent answered, routed to "stop" when no account
is left. It sits off the hot path: the desk runs the saga as a chain of Ray calls and records the
same decisions with ``cluster.desk.saga.record``; this Flow gives the same record from the same
outputs (tests/cluster/test_saga.py) for a replay of a saga, and it is what
``bench/saga_chain.py`` times a Flow kickoff with. Importing this module imports CrewAI (seconds).

A deterministic Flow with no LLM. Each step is a coroutine: CrewAI runs a plain method on a worker
thread, a hand-off more per step. The flow keeps no state of its own (a bare ``FlowState``, which
CrewAI instantiates as it is; for any other model it builds a new class at every kickoff).
"""

from __future__ import annotations

import os
from typing import ClassVar

for _key, _value in {"CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true",
                     "CREWAI_DISABLE_VERSION_CHECK": "true", "CREWAI_TRACING_ENABLED": "false"}.items():
    os.environ.setdefault(_key, _value)

from crewai.flow.flow import Flow, FlowState, listen, router, start  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402

from cluster.desk.record import Decision  # noqa: E402
from cluster.desk.saga import (  # noqa: E402
    SagaOutputs,
    record_compliance,
    record_correlation,
    record_execution,
    record_risk,
    record_style,
)
from trading.orders import Signal  # noqa: E402


class SagaRecordFlow(Flow[FlowState]):
    """The saga's steps in order, each recording one agent's answer into ``decisions``."""

    _signal: Signal = PrivateAttr()
    _out: SagaOutputs = PrivateAttr()
    _decisions: list[Decision] = PrivateAttr(default_factory=list)
    # The saga has no LLM and nothing to remember: without this CrewAI opens a LanceDB memory for
    # every flow (about 2 ms a kickoff on this machine). CrewAI's own internal flows set it too.
    _skip_auto_memory: ClassVar[bool] = True

    @start()
    async def size(self) -> None:
        self._decisions += record_risk(self._signal, self._out.sized)

    @router(size)
    async def correlate(self) -> str:
        self._decisions += record_correlation(self._signal, self._out.checked)
        return "styled" if any(intent is not None for _, intent, _ in self._out.checked) else "stop"

    @router("styled")
    async def style(self) -> str:
        self._decisions += record_style(self._signal, self._out.styled)
        return "to_compliance" if any(self._out.styled.values()) else "stop"

    @router("to_compliance")
    async def comply(self) -> str:
        self._decisions += record_compliance(self._signal, self._out.complied)
        return "approved" if self._out.complied.approved else "stop"

    @listen("approved")
    async def execute(self) -> None:
        self._decisions += record_execution(self._signal, self._out.update)


def record_with_flow(signal: Signal, out: SagaOutputs) -> list[Decision]:
    """The saga's decisions, recorded by a kickoff of the Flow."""
    flow = SagaRecordFlow(suppress_flow_events=True)
    flow._signal, flow._out = signal, out
    flow.kickoff()
    return flow._decisions
