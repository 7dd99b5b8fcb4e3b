"""The per-signal saga's CrewAI Flow: no LLM, and nothing CrewAI would set up for one."""

from __future__ import annotations

from cluster.saga import SagaContext, TradeSaga, run_saga


def test_the_saga_flow_opens_no_memory_store() -> None:
    """CrewAI gives every flow a LanceDB memory unless told not to; the saga has nothing to
    remember, and opening one cost about 2 ms of each signal's tick-to-order."""
    assert TradeSaga(suppress_flow_events=True).memory is None


def test_a_saga_with_no_account_calls_no_agent() -> None:
    called: list[tuple[str, str]] = []
    ctx = SagaContext(None, [], {}, {}, {}, lambda agent, method, *_: called.append((agent, method)) or {})  # type: ignore[arg-type, func-returns-value]
    out = run_saga(ctx)
    assert called == [("risk", "size")] and out.decisions == [] and out.update is None
