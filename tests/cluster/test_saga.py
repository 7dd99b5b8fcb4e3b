"""The per-signal saga: its record from the steps' outputs (plain and as a CrewAI Flow), the steps
that get no account, and CrewAI kept out of the driver's imports."""

from __future__ import annotations

import pickle
import subprocess
import sys
from decimal import Decimal

from actors.compliance import ComplianceAgent, Complied
from actors.correlation import CorrelationAgent
from actors.execution import ExecUpdate
from actors.style import ExecutionStyleAgent
from cluster.desk.saga import SagaOutputs, record
from tests.conftest import ROOT
from trading.compliance import ComplianceDecision, CostAllowance
from trading.exposure import ExposureLimits
from trading.ledger import AccountSnapshot
from trading.orders import ExecutionReport, Order, OrderIntent, OrderStatus, OrderType, Side, Signal
from trading.presets import load_preset
from trading.sizing import SizingDecision

SIGNAL = Signal("EURUSD", Side.BUY, 0, Decimal("1.10000"), Decimal("1.09000"), (Decimal("1.12"),), 0.8, "spring")
INTENT = OrderIntent(SIGNAL, "acc", Decimal(2), SIGNAL.stop, Decimal(2000))
ORDER = Order("o1", "acc", "EURUSD", Side.BUY, Decimal(2), OrderType.MARKET, SIGNAL.stop, None, SIGNAL.signal_id,
              SIGNAL.entry, 10, 0, 60)
ALLOWED = ComplianceDecision(True, "", "within all rules", Decimal(1), Decimal(1))


def outputs(update: ExecUpdate | None, allowed: bool = True) -> SagaOutputs:
    decision = ALLOWED if allowed else ComplianceDecision(False, "daily_loss", "worst case beyond", Decimal(-1), Decimal(5))
    return SagaOutputs({"acc": SizingDecision(INTENT, "sized", (("atr", 1.5),))}, [("acc", INTENT, "within limits")],
                       {"acc": [ORDER]}, Complied({"acc": decision}, {"acc": [ORDER]} if allowed else {}), update)


def test_the_saga_flow_opens_no_memory_store() -> None:
    """CrewAI gives every flow a LanceDB memory unless told not to; the saga has nothing to
    remember, and opening one cost about 2 ms of each kickoff."""
    from cluster.desk.saga_flow import SagaRecordFlow

    assert SagaRecordFlow(suppress_flow_events=True).memory is None


def test_an_order_the_venue_part_fills_at_once_is_recorded_as_sent_not_rejected() -> None:
    for status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.REJECTED):
        update = ExecUpdate((ExecutionReport("o1", "acc", status, 1, ""),), (), {}, {})
        execution = [d for d in record(SIGNAL, outputs(update)) if d.step == "execution"]
        assert [d.outcome for d in execution] == ["sent" if status.placed else "rejected"], (status, execution)
    assert OrderStatus.PARTIALLY_FILLED.placed and not OrderStatus.EXPIRED.placed


def test_the_record_has_every_step_in_order_and_stops_at_a_veto() -> None:
    update = ExecUpdate((ExecutionReport("o1", "acc", OrderStatus.ACCEPTED, 1, ""),), (), {}, {})
    assert [(d.step, d.outcome) for d in record(SIGNAL, outputs(update))] == [
        ("risk", "pass"), ("correlation", "pass"), ("style", "pass"), ("compliance", "pass"), ("execution", "sent")]
    vetoed = record(SIGNAL, outputs(None, allowed=False))
    assert [(d.step, d.outcome, d.rule) for d in vetoed][-1] == ("compliance", "veto", "daily_loss")
    assert vetoed[-1].numbers == (("worst_case_daily_headroom", -1.0), ("worst_case_max_loss_headroom", 5.0))
    nothing = SagaOutputs({"acc": SizingDecision(None, "no room", ())}, [], {}, Complied(), None)
    assert [(d.step, d.outcome, d.reason) for d in record(SIGNAL, nothing)] == [("risk", "veto", "no room")]


def test_the_crewai_flow_records_the_same_decisions_as_the_hot_path() -> None:
    from cluster.desk.saga_flow import record_with_flow

    update = ExecUpdate((ExecutionReport("o1", "acc", OrderStatus.PARTIALLY_FILLED, 1, "part"),), (), {}, {})
    cases = [outputs(update), outputs(None, allowed=False),
             SagaOutputs({"acc": SizingDecision(None, "no room", ())}, [], {}, Complied(), None),
             SagaOutputs({"acc": SizingDecision(INTENT, "sized", ())}, [("acc", None, "at the limit")], {},
                         Complied(), None)]
    for out in cases:
        assert record_with_flow(SIGNAL, out) == record(SIGNAL, out)


def test_a_step_handed_no_account_answers_at_once_and_leaves_its_agent_as_it_was(registry) -> None:  # type: ignore[no-untyped-def]
    snaps = {"acc": AccountSnapshot("acc", "USD", 0, Decimal(50_000), Decimal(50_000), Decimal(50_000), (), 0)}
    mids = {"EURUSD": Decimal("1.1"), "GBPUSD": Decimal("1.27"), "USDJPY": Decimal("150")}
    correlation = CorrelationAgent(registry, {"acc": "ann"}, ExposureLimits(per_currency=3.0), 240)
    style = ExecutionStyleAgent(registry, {})
    costs = CostAllowance(Decimal(1), Decimal("3.5"), Decimal(10))
    compliance = ComplianceAgent(registry, {"acc": load_preset("ftmo.challenge")}, {"acc": costs}, {"acc": "ann"})
    before = [pickle.dumps(a) for a in (correlation, style, compliance)]
    assert correlation.check_sized({"acc": SizingDecision(None, "no room", ())}, snaps, mids) == []
    assert style.apply_checked([("acc", None, "at the limit")]) == {}
    assert compliance.check_styled({"acc": []}, snaps, mids) == Complied()
    assert [pickle.dumps(a) for a in (correlation, style, compliance)] == before


def test_the_session_driver_imports_no_crewai() -> None:
    """CrewAI's import costs seconds at start-up; the saga's hot path does not run the Flow."""
    code = "import cluster, sys; import cluster.desk.session; print('crewai' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
