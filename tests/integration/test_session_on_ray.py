"""The whole topology on a local Ray: it trades within the rules, it is deterministic, and it
survives agents and rust_exec being killed mid-session with the same orders."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from cluster.config.settings import Settings, load_settings
from cluster.desk.session import Progress, Session, SessionResult
from cluster.desk.topology import Topology
from cluster.storage.store import SessionStore
from tests.conftest import replay_ticks

pytestmark = pytest.mark.ray
TICKS = 90_000


@pytest.fixture(scope="module")
def session_settings(tmp_path_factory, settings: Settings) -> Settings:
    data_dir = tmp_path_factory.mktemp("var")
    from tests.conftest import ROOT

    return load_settings(ROOT / "octet.yaml", runtime__data_dir=str(data_dir), session__ticks=TICKS)


@pytest.fixture(scope="module")
def ticks(session_settings: Settings):  # type: ignore[no-untyped-def]
    return replay_ticks(session_settings)


def back_again(victim, old_pid: int, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until Ray has restarted a killed agent. This test is about what a restart restores;
    a restart that outlasts a heartbeat review rightly opens the agent's breaker, which would
    veto signals in the meantime (tested in tests/actors/test_breaker_and_correlation.py), so
    the session goes on only once the agent answers again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if victim.info()["pid"] != old_pid:
                return
        except Exception:  # noqa: BLE001 - unavailable while Ray restarts it
            time.sleep(0.1)
    raise AssertionError(f"{victim.name} did not come back within {timeout} s")


def fingerprint(result: SessionResult) -> tuple[list[tuple], list[tuple]]:
    orders = [(o.client_order_id, o.account_id, o.symbol, o.side.name, str(o.lots), str(o.stop_loss),
               str(o.take_profit), o.not_before_ns) for o in result.orders]
    fills = [(r.client_order_id, r.status.value, r.ts_ns, str(r.fill.price), r.fill.kind.value)
             for r in result.reports if r.fill is not None]
    return orders, fills


@pytest.fixture(scope="module")
def baseline(ray_local, session_settings: Settings, ticks) -> SessionResult:  # type: ignore[no-untyped-def]
    store = SessionStore.sqlite(session_settings.runtime.data_dir)
    return Session(session_settings, store, run_id="baseline", keep_records=True).run(ticks)


def test_the_desk_places_and_closes_trades_without_breaking_a_rule(baseline: SessionResult) -> None:
    assert len(baseline.signals) >= 3
    assert len(baseline.orders) >= 4 and len(baseline.trades) >= 4
    assert all(not v["breaches"] for v in baseline.compliance.values())
    names = {s["name"] for s in baseline.agent_stats}
    assert {"risk", "correlation", "style", "compliance", "breaker", "performance", "learning",
            "execution"} <= names and any(n.startswith("analysis") for n in names)
    steps = {d.step for d in baseline.decisions}
    assert {"risk", "correlation", "style", "compliance", "execution"} <= steps
    assert baseline.summaries["ftmo-100k"].trades + baseline.summaries["funded-50k"].trades == len(baseline.trades)


def test_the_session_is_recorded_in_sqlite(baseline: SessionResult, session_settings: Settings) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{session_settings.runtime.data_dir / 'octet.db'}")
    with engine.connect() as conn:
        n_orders = conn.execute(text("select count(*) from orders where run_id='baseline'")).scalar()
        n_decisions = conn.execute(text("select count(*) from decisions where run_id='baseline'")).scalar()
        n_headroom = conn.execute(text("select count(distinct ts_ns) from headroom where run_id='baseline'")).scalar()
        lowest = conn.execute(text("select min(daily_fraction) from headroom where run_id='baseline'")).scalar()
    assert n_orders == len(baseline.orders) and n_decisions == len(baseline.decisions)
    assert n_headroom >= baseline.batches - 1 and 0 < lowest <= 1, "every account's headroom, every batch"


def test_the_same_replay_through_a_separately_run_rust_exec_gives_identical_orders_and_fills(  # type: ignore[no-untyped-def]
        baseline: SessionResult, session_settings, ticks, tmp_path) -> None:
    from cluster.adapters.rust_exec.process import ExecService

    with ExecService.for_settings(session_settings, tmp_path / "exec") as service:
        remote = session_settings.model_copy(update={"execution": session_settings.execution.model_copy(
            update={"address": service.address})})
        again = Session(remote, run_id="again", keep_records=True).run(ticks)
    assert again.execution["address"] == service.address and again.execution["journal"] is None
    assert again.execution["orders"] == baseline.execution["orders"] > 0
    assert fingerprint(again) == fingerprint(baseline)


def test_killing_agents_and_rust_exec_mid_session_changes_no_order(baseline: SessionResult, session_settings,  # type: ignore[no-untyped-def]
                                                                    ticks) -> None:
    killed: list[str] = []

    def kill_exec() -> None:
        assert session.exec_service is not None and session.exec_service.pid is not None
        os.kill(session.exec_service.pid, signal.SIGKILL)
        killed.append("octet-exec")

    def chaos(progress: Progress, topo: Topology) -> None:
        victims = {10: topo.analysis[0][1], 20: topo.agents["risk"], 30: topo.agents["execution"]}
        victim = victims.get(progress.batch)
        if victim is not None:
            pid = victim.info()["pid"]
            os.kill(pid, signal.SIGKILL)
            killed.append(victim.name)
            back_again(victim, pid)
        if progress.batch in (5, 35):  # rust_exec dies at an arbitrary moment, mid-call or not
            threading.Timer(0.05 + 0.1 * (progress.batch == 35), kill_exec).start()

    session = Session(session_settings, run_id="chaos", on_batch=chaos, keep_records=True)
    result = session.run(ticks)
    assert sorted(killed) == sorted(["analysis-0", "risk", "execution", "octet-exec", "octet-exec"])
    assert session.exec_service is not None and session.exec_service.restarts == 2
    restarts = {s["name"]: s["restarts"] for s in result.agent_stats}
    assert restarts["analysis-0"] >= 1 and restarts["risk"] >= 1 and restarts["execution"] >= 1
    assert fingerprint(result) == fingerprint(baseline)


def test_a_spread_blowout_halts_rust_exec_and_flattens_within_100_ms(session_settings, ticks) -> None:  # type: ignore[no-untyped-def]
    from trading.breaker import Tier
    from trading.orders import CloseReason

    blown = ticks.take(slice(0, len(ticks)))
    at = slice(45_000, 45_040)  # EURUSD (index 0) quotes 60 pips wide for a moment
    eur = blown.inst[at] == 0
    blown.ask[at] = blown.ask[at] + 600 * eur
    result = Session(session_settings, run_id="blowout", keep_records=True).run(blown)
    system = [e for e in result.breaker_events if e.tier is Tier.SYSTEM]
    assert system and "spread blowout: EURUSD" in system[0].trigger and system[0].action == "halt and flatten"
    assert [e.to_state.value for e in system] == ["open", "half_open", "closed"], "and it recovers"
    # the breaker halted rust_exec directly (its latency is a figure for bench/compliance_year.py, not
    # a bound for a shared CI machine)
    assert result.halt_latency_ms, result.halt_latency_ms
    halted_at = system[0].ts_ns
    flattened = [r for r in result.reports if r.fill is not None and r.fill.reason is CloseReason.FLATTEN
                 and r.ts_ns >= halted_at and r.ts_ns < halted_at + 3_600 * 10**9]
    vetoed = [d for d in result.decisions if d.step == "breaker" and d.rule == "system"]
    assert flattened or vetoed, "the halt changed what the desk did"
    assert all(not v["breaches"] for v in result.compliance.values())


def test_an_operator_kill_switch_is_followed_by_the_desk_until_resumed(session_settings, ticks) -> None:  # type: ignore[no-untyped-def]
    from cluster.adapters.rust_exec.client import GrpcExecutionClient
    from trading.breaker import Tier

    def operator(progress: Progress, topo: Topology) -> None:
        if progress.batch in (15, 30):
            assert session.exec_service is not None
            client = GrpcExecutionClient(session.exec_service.address, session_settings.registry(),
                                         credentials=session.exec_service.credentials("operator"))
            if progress.batch == 15:
                client.halt("operator kill switch", cancel_working=True, flatten=True)
            else:
                client.resume()
            client.close()

    session = Session(session_settings, run_id="kill", on_batch=operator, keep_records=True)
    result = session.run(ticks)
    system = [e for e in result.breaker_events if e.tier is Tier.SYSTEM]
    assert system and system[0].trigger == "kill switch: venue halted by an operator"
    assert system[-1].to_state.value == "closed", "the desk resumed after the operator did"
    refused = [d for d in result.decisions if d.step == "breaker" and d.rule == "system"]
    after = [s for s in result.signals if system[0].ts_ns <= s.ts_ns < system[1].ts_ns]
    assert len(refused) >= len(after) * len(session_settings.accounts)
    assert result.execution["halted"] is False


def test_an_unreachable_venue_opens_the_system_tier_and_the_desk_halts_it_once_back(session_settings, ticks) -> None:  # type: ignore[no-untyped-def]
    from trading.breaker import Tier

    settings = session_settings.model_copy(update={"execution": session_settings.execution.model_copy(
        update={"supervise": False, "reconnect_seconds": 0.3})})

    def outage(progress: Progress, topo: Topology) -> None:
        assert session.exec_service is not None
        if progress.batch == 20:
            session.exec_service.kill()   # the broker disappears; nobody restarts it
        elif progress.batch == 24:
            session.exec_service.start()  # and comes back with its journal

    session = Session(settings, run_id="outage", on_batch=outage, keep_records=True)
    result = session.run(ticks)
    system = [e for e in result.breaker_events if e.tier is Tier.SYSTEM]
    assert system and system[0].trigger.startswith("venue unreachable: rust_exec at")
    assert system[-1].to_state.value == "closed", "it recovered through half-open"
    assert result.halt_latency_ms, "the desk halted the venue as soon as it answered again"
    assert result.execution["halted"] is False and result.execution["orders"] >= len(result.orders) > 0
    assert all(not v["breaches"] for v in result.compliance.values())
