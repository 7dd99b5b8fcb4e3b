"""The per-signal saga's CrewAI Flow: no LLM, and nothing CrewAI would set up for one."""

from __future__ import annotations

from cluster.desk.saga import SagaContext, TradeSaga, run_saga


def test_the_saga_flow_opens_no_memory_store() -> None:
    """CrewAI gives every flow a LanceDB memory unless told not to; the saga has nothing to
    remember, and opening one cost about 2 ms of each signal's tick-to-order."""
    assert TradeSaga(suppress_flow_events=True).memory is None


def test_a_saga_with_no_account_calls_no_agent() -> None:
    called: list[tuple[str, str]] = []
    ctx = SagaContext(None, [], {}, {}, {}, lambda agent, method, *_: called.append((agent, method)) or {})  # type: ignore[arg-type, func-returns-value]
    out = run_saga(ctx)
    assert called == [("risk", "size")] and out.decisions == [] and out.update is None


def test_an_order_the_venue_part_fills_at_once_is_recorded_as_sent_not_rejected() -> None:
    from decimal import Decimal

    from actors.execution import ExecUpdate
    from trading.compliance import ComplianceDecision
    from trading.orders import ExecutionReport, Order, OrderIntent, OrderStatus, OrderType, Side, Signal
    from trading.sizing import SizingDecision

    signal = Signal("EURUSD", Side.BUY, 0, Decimal("1.10000"), Decimal("1.09000"), (Decimal("1.12"),), 0.8, "spring")
    intent = OrderIntent(signal, "acc", Decimal(2), signal.stop, Decimal(2000))
    order = Order("o1", "acc", "EURUSD", Side.BUY, Decimal(2), OrderType.MARKET, signal.stop, None, signal.signal_id,
                  signal.entry, 10, 0, 60)
    statuses = [OrderStatus.PARTIALLY_FILLED, OrderStatus.REJECTED]
    answers = {
        ("risk", "size"): {"acc": SizingDecision(intent, "sized", ())},
        ("correlation", "check"): [(intent, "within limits")],
        ("style", "apply"): {"acc": [order]},
        ("compliance", "check"): {"acc": ComplianceDecision(True, "", "within all rules", Decimal(1), Decimal(1))},
    }
    for status in statuses:
        update = ExecUpdate((ExecutionReport("o1", "acc", status, 1, ""),), (), {}, {})
        ctx = SagaContext(signal, ["acc"], {}, {}, {},
                          lambda agent, method, *_, u=update: u if agent == "execution" else answers[(agent, method)])
        out = run_saga(ctx)
        execution = [d for d in out.decisions if d.step == "execution"]
        assert [d.outcome for d in execution] == ["sent" if status.placed else "rejected"], (status, execution)
    assert OrderStatus.PARTIALLY_FILLED.placed and not OrderStatus.EXPIRED.placed
