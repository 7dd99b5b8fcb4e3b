"""rust_exec through its real gRPC server, and the same service in this process (a backtest's):
fills, protection, idempotency, limits, halt, and a kill -9 in the middle of a session with nothing
lost."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
import time
import urllib.request
from decimal import Decimal
from functools import partial
from typing import Any

import grpc
import numpy as np
import pytest

from cluster.adapters.rust_exec.client import ExecUnavailable, GrpcExecutionClient
from cluster.adapters.rust_exec.inprocess import InProcessExecService
from cluster.adapters.rust_exec.pb import exec_pb2 as pb
from cluster.adapters.rust_exec.process import ExecService, ExecServiceError, exec_config
from trading.market import TickBatch
from trading.orders import CloseReason, Order, OrderStatus, OrderType, Side

S = 1_000_000_000
T0 = 1_772_409_600 * S


def batch(rows: list[tuple[int, int, int, int]]) -> TickBatch:
    ts, inst, bid, ask = zip(*rows, strict=True)
    n = len(ts)
    return TickBatch(np.array(ts, np.int64), np.array(inst, np.int16), np.array(bid, np.int64),
                     np.array(ask, np.int64), np.ones(n, np.float64))


def order(cid: str = "o1", side: Side = Side.BUY, stop: str = "1.07900", tp: str | None = "1.08200",
          not_before: int = T0, slippage: int = 20, account: str = "acc", lots: str = "1",
          symbol: str = "EURUSD") -> Order:
    return Order(cid, account, symbol, side, Decimal(lots), OrderType.MARKET, Decimal(stop),
                 Decimal(tp) if tp else None, "sig", Decimal("1.08000"), slippage, not_before, not_before + 60 * S)


@pytest.fixture
def config(settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    cfg = exec_config(settings)
    cfg["accounts"] += [
        {"id": "acc", "max_order_lots_e6": 50_000_000, "max_open_notional_usd_cents": 10**11, "instruments": []},
        {"id": "small", "max_order_lots_e6": 1_000_000, "max_open_notional_usd_cents": 25_000_000,
         "instruments": ["EURUSD"]},
    ]
    return cfg


@pytest.fixture(params=["process", "in-process"])
def svc(request, config, tmp_path):  # type: ignore[no-untyped-def]
    """rust_exec as a desk runs it (a child process, over gRPC, its journal fsynced) and as a backtest
    does (the same service in this process, its journal not fsynced): every test below holds for both."""
    service = (ExecService(config, tmp_path / "exec") if request.param == "process"
               else InProcessExecService(config, tmp_path / "exec", fsync=False))
    with service:
        yield service


@pytest.fixture
def process(config, tmp_path):  # type: ignore[no-untyped-def]
    """The process alone: its metrics port and its pid have no in-process counterpart."""
    with ExecService(config, tmp_path / "exec") as service:
        yield service


@pytest.fixture
def client(svc, registry):  # type: ignore[no-untyped-def]
    c = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials())
    yield c
    c.close()


@pytest.fixture
def process_client(process, registry):  # type: ignore[no-untyped-def]
    c = GrpcExecutionClient(process.address, registry, credentials=process.credentials())
    yield c
    c.close()


def test_a_market_order_fills_at_the_ask_and_its_take_profit_closes_it(client) -> None:
    assert client.submit(order()).status is OrderStatus.ACCEPTED
    reports = client.on_quotes(batch([(T0 + S, 0, 108000, 108010), (T0 + 2 * S, 0, 108210, 108220)]))
    fills = [(r.fill.kind.value, str(r.fill.price), r.fill.lots) for r in reports if r.fill]
    assert fills == [("open", "1.08010", Decimal(1)), ("close", "1.08210", Decimal(1))]
    assert reports[-1].fill.reason is CloseReason.TAKE_PROFIT  # type: ignore[union-attr]


def test_a_gap_through_the_stop_fills_at_the_gapped_quote(client) -> None:
    client.submit(order(tp=None))
    reports = client.on_quotes(batch([(T0 + S, 0, 108000, 108010), (T0 + 2 * S, 0, 107850, 107860)]))
    last = reports[-1].fill
    assert last is not None and last.reason is CloseReason.STOP_LOSS and str(last.price) == "1.07850"


def test_a_second_submit_of_the_same_order_returns_the_first_report_and_never_a_second_order(client) -> None:
    first = client.submit(order())
    client.on_quotes(batch([(T0 + S, 0, 108000, 108010)]))
    assert client.submit(order()) == first, "the same order again (a retry, a replay) is answered from the first"
    other = client.submit(order(side=Side.SELL, stop="1.08100", tp=None, lots="3"))
    assert other.status is OrderStatus.REJECTED, "another order under a used id is refused, never answered as the first"
    assert "client order id o1 was placed as [acc EURUSD buy 100000 units" in other.reason
    assert "now sent as [acc EURUSD sell 300000 units" in other.reason
    positions = client.positions("acc")
    assert len(positions) == 1 and positions[0].quantity == 100_000
    # many clients racing with one id: one order
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(client.submit(order("race"))))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({(r.status, r.ts_ns) for r in results}) == 1
    assert client.health().orders == 2


def test_two_sessions_in_a_row_against_one_rust_exec_each_get_their_own_results(svc, registry) -> None:  # type: ignore[no-untyped-def]
    first = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials())
    first.submit(order("s1"))
    assert [r.status for r in first.on_quotes(batch([(T0 + S, 0, 108000, 108010)]))] == [OrderStatus.FILLED]
    assert len(first.flatten("acc", T0 + 2 * S, "end of session 1")) == 1
    first.close()
    # A new session: its counters start again at 1, and rust_exec must not take them for the first's.
    second = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials())
    second.submit(order("s2", not_before=T0 + 3 * S))
    filled = second.on_quotes(batch([(T0 + 4 * S, 0, 108000, 108010)]))
    assert [(r.client_order_id, r.status) for r in filled] == [("s2", OrderStatus.FILLED)], "batch 1 is applied"
    closed = second.flatten("acc", T0 + 5 * S, "end of session 2")
    assert [(r.client_order_id, r.fill.reason) for r in closed if r.fill] == [("s2", CloseReason.FLATTEN)]
    assert second.positions("acc") == []
    second.close()


def test_a_refused_submit_hands_out_what_another_client_caused_before_it(svc, registry) -> None:  # type: ignore[no-untyped-def]
    desk = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials())
    desk.submit(order("held"))
    assert [r.status for r in desk.on_quotes(batch([(T0 + S, 0, 108000, 108010)]))] == [OrderStatus.FILLED]
    operator = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials("operator"), catch_up=False)
    assert len(operator.halt("operator", cancel_working=True, flatten=True, ts_ns=T0 + 2 * S)) == 1
    # The desk's next call is refused (halted): the operator's close must still reach its books.
    reports = desk.submit_all(order("next", not_before=T0 + 3 * S))
    assert [(r.client_order_id, r.status) for r in reports] == [("held", OrderStatus.FILLED),
                                                                 ("next", OrderStatus.REJECTED)]
    assert reports[0].fill is not None and reports[0].fill.reason is CloseReason.FLATTEN
    assert desk.on_quotes(batch([(T0 + 4 * S, 0, 108000, 108010)])) == [], "and nothing twice"
    desk.close()
    operator.close()


def test_the_desk_reconciles_its_positions_with_rust_exec_and_alarms_on_a_fill_it_never_ordered(svc, registry) -> None:  # type: ignore[no-untyped-def]
    from actors.execution import AccountSpec, ExecutionAgent

    desk = ExecutionAgent(registry, partial(GrpcExecutionClient, svc.address, registry, credentials=svc.credentials()), [AccountSpec("acc", "USD", Decimal(100_000), Decimal(0))])
    desk.submit([order("mine")])
    desk.on_quotes(batch([(T0 + S, 0, 108000, 108010)]), T0 + S)
    agreed = desk.reconcile()
    assert agreed.discrepancies == () and len(desk.ledgers["acc"].positions) == 1
    # Someone else opens a position on the desk's account straight at rust_exec.
    stranger = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials(), catch_up=False)
    stranger.submit(order("not-mine", not_before=T0 + 2 * S))
    stranger.on_quotes(batch([(T0 + 3 * S, 0, 108000, 108010)]))
    update = desk.reconcile()
    assert any("a fill of not-mine on acc, an order the desk never placed" in d for d in update.discrepancies)
    assert any(d.startswith("acc not-mine: the desk holds nothing, rust_exec long 100,000 EURUSD")
               for d in update.discrepancies), update.discrepancies
    stranger.close()


def test_a_refused_resubmit_under_a_live_orders_id_leaves_that_order_booked(svc, registry) -> None:  # type: ignore[no-untyped-def]
    from actors.execution import AccountSpec, ExecutionAgent

    desk = ExecutionAgent(registry, partial(GrpcExecutionClient, svc.address, registry, credentials=svc.credentials()), [AccountSpec("acc", "USD", Decimal(100_000), Decimal(0))])
    desk.submit([order("live", not_before=T0 + 2 * S)])
    refused = desk.submit([order("live", not_before=T0 + 2 * S, lots="2")])  # another order, the same id
    assert [r.status for r in refused.reports] == [OrderStatus.REJECTED] and "was placed as" in refused.reports[0].reason
    filled = desk.on_quotes(batch([(T0 + 3 * S, 0, 108000, 108010)]), T0 + 3 * S)
    assert [r.client_order_id for r in filled.reports if r.fill] == ["live"] and filled.discrepancies == ()
    assert desk.reconcile().discrepancies == () and len(desk.ledgers["acc"].positions) == 1


def test_the_order_the_desk_records_carries_the_minimum_hold_rust_exec_enforces(svc, registry) -> None:  # type: ignore[no-untyped-def]
    from actors.execution import AccountSpec, ExecutionAgent

    desk = ExecutionAgent(registry, partial(GrpcExecutionClient, svc.address, registry, credentials=svc.credentials()),
                          [AccountSpec("acc", "USD", Decimal(100_000), Decimal(0), min_hold_seconds=60)])
    update = desk.submit([order("held")])
    assert [o.min_hold_ns for o in update.submitted] == [60 * S]  # what the session stores in `orders`
    assert desk.client.get_order("held").order.min_hold_ns == 60 * S  # what rust_exec enforces


def test_too_much_slippage_rejects_and_an_unfilled_order_expires(client) -> None:
    client.submit(order("slip", slippage=5))
    reports = client.on_quotes(batch([(T0 + S, 0, 108050, 108060)]))
    assert reports[0].status is OrderStatus.REJECTED and "60 points" in reports[0].reason
    client.submit(order("late", not_before=T0 + 10 * S))
    reports = client.on_quotes(batch([(T0 + 100 * S, 0, 108000, 108010)]))
    assert reports[0].status is OrderStatus.EXPIRED and reports[0].ts_ns == T0 + 70 * S


def test_every_rejection_has_its_grpc_status_code_and_a_message(client) -> None:
    def code(o: Any) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as e:
            client.stub.SubmitOrder(pb.SubmitOrderRequest(order=o), timeout=5)
        return e.value.code(), e.value.details()

    base = client.to_pb(order("x"))
    cases = {
        "too-large": (dict(account_id="small", quantity=200_000), grpc.StatusCode.RESOURCE_EXHAUSTED, "limit of 1 lots"),
        "notional": (dict(account_id="small", quantity=100_000, reference_price=300_000, stop_loss=290_000,
                          take_profit=0), grpc.StatusCode.RESOURCE_EXHAUSTED, "open notional"),
        "not-allowed": (dict(account_id="small", symbol="USDJPY", reference_price=150_000, stop_loss=149_000,
                             take_profit=0), grpc.StatusCode.PERMISSION_DENIED, "may not trade USDJPY"),
        "no-account": (dict(account_id="ghost"), grpc.StatusCode.NOT_FOUND, "unknown account ghost"),
        "no-symbol": (dict(symbol="XAUUSD"), grpc.StatusCode.NOT_FOUND, "unknown instrument XAUUSD"),
        "bad-stop": (dict(stop_loss=109_000), grpc.StatusCode.INVALID_ARGUMENT, "loss side"),
        "": ({}, grpc.StatusCode.INVALID_ARGUMENT, "client_order_id is required"),
    }
    for cid, (fields, want, text) in cases.items():
        o = pb.Order()
        o.CopyFrom(base)
        o.client_order_id = cid
        for k, v in fields.items():
            setattr(o, k, v)
        got, details = code(o)
        assert got == want and text in details, (cid, got, details)
    # the desk's client turns a refusal into a REJECTED report carrying the message
    r = client.submit(order("ghost-order", account="ghost"))
    assert r.status is OrderStatus.REJECTED and "unknown account ghost" in r.reason
    assert client.get_order("too-large").status == pb.ORDER_STATUS_REJECTED


def test_halt_refuses_orders_flattens_and_resume_reopens(client) -> None:
    client.submit(order("a"))
    client.on_quotes(batch([(T0 + S, 0, 108000, 108010)]))
    client.submit(order("w", not_before=T0 + 30 * S))
    reports = client.halt("kill switch", flatten=True, ts_ns=T0 + 2 * S)
    assert {(r.client_order_id, r.status) for r in reports} == {("w", OrderStatus.CANCELLED), ("a", OrderStatus.FILLED)}
    assert [r.fill.reason for r in reports if r.fill] == [CloseReason.FLATTEN]
    assert client.halted and not client.positions()
    refused = client.submit(order("b"))
    assert refused.status is OrderStatus.REJECTED and refused.reason == "venue halted: kill switch"
    client.resume()
    assert client.submit(order("c")).status is OrderStatus.ACCEPTED
    client.halt("daily headroom", account_id="acc")
    assert client.submit(order("d")).reason == "account acc halted: daily headroom"
    assert not client.halted


@pytest.mark.parametrize("supervised", [False, True], ids=["restarted-by-hand", "restarted-by-watchdog"])
def test_kill_minus_nine_mid_stream_loses_nothing_and_the_report_stream_resumes_without_gaps(  # type: ignore[no-untyped-def]
        config, tmp_path, registry, supervised: bool) -> None:
    svc = ExecService(config, tmp_path / "exec", supervise=supervised)
    svc.start()
    client = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials())
    try:
        _kill_mid_stream(svc, client, supervised)
    finally:
        client.close()
        svc.stop()


def _kill_mid_stream(svc: ExecService, client: GrpcExecutionClient, supervised: bool) -> None:
    acked: list[str] = []
    stamps: list[float] = []
    stop = threading.Event()

    def desk() -> None:  # submits and pushes quotes without pause, retrying through the outage
        k = 0
        while not stop.is_set() and k < 400:
            cid = f"k{k:04d}"
            if client.submit(order(cid, not_before=T0 + k * S)).status is OrderStatus.ACCEPTED:
                acked.append(cid)
            client.on_quotes(batch([(T0 + k * S + 1, 0, 108000 + k % 7, 108010 + k % 7)]))
            stamps.append(time.monotonic())
            k += 1

    worker = threading.Thread(target=desk)
    worker.start()
    while len(acked) < 100:  # kill it a quarter of the way through
        time.sleep(0.001)
    seen = client.reports(0)
    before = client.health()
    svc.kill()
    if not supervised:
        time.sleep(0.3)  # the desk keeps calling into a dead service, and retrying
        svc.start()
    worker.join(60)
    stop.set()
    assert not worker.is_alive()
    after = client.health()
    assert after.pid != before.pid and after.recovered_records > 0
    gap = max(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    if supervised:
        assert svc.restarts == 1
    else:
        assert gap >= 0.25, f"the desk rode out a {gap:.2f} s outage mid-stream"
    assert len(acked) == 400 and after.orders == 400, "every acknowledged order survived, none twice"
    for cid in acked[:: 37]:
        assert client.get_order(cid).status in (pb.ORDER_STATUS_FILLED, pb.ORDER_STATUS_ACCEPTED)
    rest = client.reports(seen[-1].seq)
    seqs = [r.seq for r in seen + rest]
    assert seqs == list(range(1, after.last_seq + 1)), "contiguous from 1, across the restart"
    opened = {r.client_order_id for r in seen + rest if r.fill.kind == pb.FILL_KIND_OPEN}
    assert len(opened) == sum(1 for r in seen + rest if r.fill.kind == pb.FILL_KIND_OPEN), "no fill twice"
    # positions rebuilt by the replay are the ones the fills say are open
    closed = {r.client_order_id for r in seen + rest if r.fill.kind == pb.FILL_KIND_CLOSE}
    assert {p.position_id for p in client.positions()} == opened - closed


def test_a_resent_quote_batch_returns_its_first_reports(client) -> None:
    client.submit(order())
    state = pickle.dumps(client)  # an actor's snapshot, taken before the call
    first = client.on_quotes(batch([(T0 + S, 0, 108000, 108010)]))
    restored = pickle.loads(state)  # the actor restarted from that snapshot re-sends the call
    assert restored.on_quotes(batch([(T0 + S, 0, 108000, 108010)])) == first
    assert len(client.positions()) == 1


def test_metrics_are_served_for_prometheus(process, process_client) -> None:  # type: ignore[no-untyped-def]
    process_client.submit(order())
    process_client.submit(order("ghost", account="ghost"))
    body = urllib.request.urlopen(f"http://{process.metrics_address}/metrics", timeout=5).read().decode()
    assert "octet_exec_orders_submitted_total 2" in body
    assert 'octet_exec_orders_rejected_total{code="unknown_account"} 1' in body
    assert "octet_exec_submit_latency_seconds_count 2" in body
    assert "octet_exec_journal_fsync_seconds_bucket" in body


def test_the_service_does_not_outlive_the_desk_that_started_it(config, tmp_path) -> None:
    script = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from cluster.adapters.rust_exec.process import ExecService\n"
        f"s = ExecService(json.loads({repr(__import__('json').dumps(config))}), Path({str(tmp_path / 'x')!r}))\n"
        "s.start(); print(s.pid, flush=True); time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child}/stat") as f:
                if f.read().split()[2] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("octet-exec outlived its parent")


def test_cancel_modify_and_get_order_over_grpc(client) -> None:
    client.submit(order("w", not_before=T0 + 30 * S))
    assert client.cancel("w", T0 + S).status is OrderStatus.CANCELLED
    again = client.cancel("w", T0 + 2 * S)
    assert again.status is OrderStatus.REJECTED and "no longer be cancelled" in again.reason
    with pytest.raises(grpc.RpcError) as e:
        client.stub.CancelOrder(pb.CancelOrderRequest(client_order_id="nope"), timeout=5)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    client.submit(order("m"))
    client.on_quotes(batch([(T0 + S, 0, 108000, 108010)]))
    reply = client.stub.ModifyOrder(pb.ModifyOrderRequest(client_order_id="m", stop_loss=107950, take_profit=-1),
                                    timeout=5)
    assert (reply.order.stop_loss, reply.order.take_profit, reply.position_open) == (107950, 0, True)
    assert reply.last_report.event == pb.REPORT_EVENT_MODIFIED
    with pytest.raises(grpc.RpcError) as e:
        client.stub.ModifyOrder(pb.ModifyOrderRequest(client_order_id="m", stop_loss=108100), timeout=5)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "loss side" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        client.get_order("ghost")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_reports_another_client_caused_reach_the_desk_once(svc, client, registry) -> None:
    client.submit(order("mine"))
    client.on_quotes(batch([(T0 + S, 0, 108000, 108010)]))
    operator = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials("operator"))  # `octet halt --flatten` from a terminal
    closes = operator.halt("operator kill switch", cancel_working=True, flatten=True)
    assert [r.fill.reason for r in closes if r.fill] == [CloseReason.FLATTEN]
    operator.close()
    # the desk's next call hands it the flatten it did not cause, before its own reports, once
    got = client.on_quotes(batch([(T0 + 2 * S, 0, 108001, 108011)]))
    assert [(r.client_order_id, r.fill.reason) for r in got if r.fill] == [("mine", CloseReason.FLATTEN)]
    assert client.venue_halted
    assert client.on_quotes(batch([(T0 + 3 * S, 0, 108002, 108012)])) == []


def test_a_firms_minimum_hold_keeps_the_take_profit_back_not_the_stop(client) -> None:
    from dataclasses import replace

    client.submit(replace(order("scalp"), min_hold_ns=120 * S))
    client.on_quotes(batch([(T0 + S, 0, 108000, 108010)]))
    assert client.on_quotes(batch([(T0 + 30 * S, 0, 108250, 108260)])) == [], "no tick scalping"
    closed = client.on_quotes(batch([(T0 + 122 * S, 0, 108250, 108260)]))
    assert closed[0].fill is not None and closed[0].fill.reason is CloseReason.TAKE_PROFIT


def test_a_restart_under_a_tighter_limit_keeps_the_accepted_order_and_refuses_a_new_one(  # type: ignore[no-untyped-def]
        config, tmp_path, registry) -> None:
    svc = ExecService(config, tmp_path / "exec", supervise=False)
    svc.start()
    client = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials())
    try:
        first = client.submit(order("big", lots="5"))
        assert first.status is OrderStatus.ACCEPTED  # acc: 50 lots
        svc.kill()
        next(a for a in svc.config["accounts"] if a["id"] == "acc")["max_order_lots_e6"] = 1_000_000  # 1 lot
        svc.start()
        assert client.get_order("big").status == pb.ORDER_STATUS_ACCEPTED, "replayed under the limit it met"
        assert client.submit(order("big", lots="5")) == first, "a resubmit still gets the first result"
        twin = client.submit(order("big2", lots="5"))
        assert twin.status is OrderStatus.REJECTED and "over account acc's limit of 1 lots" in twin.reason
    finally:
        client.close()
        svc.stop()
    # the journal directory and what is in it are the owner's only
    assert (tmp_path / "exec").stat().st_mode & 0o777 == 0o700
    for f in (tmp_path / "exec").iterdir():
        if f.name != "octet-exec.log":
            assert f.stat().st_mode & 0o777 == 0o600, f


def test_a_crossed_or_zero_quote_is_skipped_and_counted_and_fills_nothing(process, process_client) -> None:  # type: ignore[no-untyped-def]
    svc, client = process, process_client
    client.submit(order("rest"))
    bad = pb.PushQuotesRequest(batch_seq=1, symbols=["EURUSD"], symbol_index=[0, 0, 0],
                               ts_ns=[T0 + S, T0 + 2 * S, T0 + 3 * S], bid=[108020, 0, 108000],
                               ask=[108010, 108010, 0], stream_id="bad-feed")
    assert list(client.stub.PushQuotes(bad, timeout=5).reports) == [], "crossed, zero bid, zero ask: no fill"
    assert client.get_order("rest").status == pb.ORDER_STATUS_ACCEPTED
    body = urllib.request.urlopen(f"http://{svc.metrics_address}/metrics", timeout=5).read().decode()
    assert "octet_exec_quotes_invalid_total 3" in body
    filled = client.on_quotes(batch([(T0 + 4 * S, 0, 108000, 108010)]))
    assert [(r.client_order_id, str(r.fill.price)) for r in filled if r.fill] == [("rest", "1.08010")]


@pytest.mark.parametrize("policy", ["adopt", "flatten"])
def test_a_position_opened_behind_the_desks_back_is_resolved_by_the_reconcile_policy(svc, registry, policy) -> None:  # type: ignore[no-untyped-def]
    from actors.execution import AccountSpec, ExecutionAgent

    desk = ExecutionAgent(registry, partial(GrpcExecutionClient, svc.address, registry, credentials=svc.credentials()),
                          [AccountSpec("acc", "USD", Decimal(100_000), Decimal(0))])
    desk.submit([order("mine")])
    desk.on_quotes(batch([(T0 + S, 0, 108000, 108010)]), T0 + S)
    stranger = GrpcExecutionClient(svc.address, registry, credentials=svc.credentials(), catch_up=False)
    stranger.submit(order("not-mine", not_before=T0 + 2 * S, lots="2"))
    stranger.on_quotes(batch([(T0 + 3 * S, 0, 108000, 108010)]))
    update = desk.settle_differences(policy)
    assert update.discrepancies == (), "every difference resolved"
    (event,) = update.reconciled
    assert event.startswith("acc not-mine: the desk held nothing, rust_exec long 200,000 EURUSD"), event
    held = {p.position_id for p in stranger.positions("acc")}
    if policy == "adopt":
        assert "adopted" in event and held == {"mine", "not-mine"}
        adopted = desk.ledgers["acc"].positions["not-mine"]
        assert (adopted.lots, adopted.entry, adopted.stop_loss) == (Decimal(2), Decimal("1.0801"), Decimal("1.079"))
        # its stop, hit at the venue, closes it in the books like the desk's own
        closed = desk.on_quotes(batch([(T0 + 4 * S, 0, 107850, 107860)]), T0 + 4 * S)
        assert {t.position_id for t in closed.trades} == {"mine", "not-mine"} and closed.discrepancies == ()
    else:
        assert "flattened at rust_exec" in event and held == {"mine"}, "only the stranger's position is closed"
        assert set(desk.ledgers["acc"].positions) == {"mine"}
    assert desk.reconcile().discrepancies == ()
    stranger.close()



def test_in_process_the_journal_is_held_while_open_and_its_state_comes_back_after_close(config, registry,  # type: ignore[no-untyped-def]
                                                                                        tmp_path) -> None:
    first = InProcessExecService(config, tmp_path / "exec", fsync=False)
    address = first.start()
    client = GrpcExecutionClient(address, registry, credentials=None)
    client.submit(order("kept"))
    assert [r.status for r in client.on_quotes(batch([(T0 + S, 0, 108000, 108010)]))] == [OrderStatus.FILLED]
    second = InProcessExecService(config, tmp_path / "exec", fsync=False, lock_wait=0.2)
    with pytest.raises(ExecServiceError, match="locked by another holder"):
        second.start()
    first.stop()
    client.reconnect_for = 0.2
    with pytest.raises(ExecUnavailable, match="no rust_exec service is open in this process"):
        client.health()  # as a process that is down: retried, then given up
    with second:  # the journal (and the snapshot written at close) rebuild the same state
        again = GrpcExecutionClient(second.address, registry, credentials=None)
        assert again.health().orders == 1 and again.health().recovered_records >= 1
        assert [p.position_id for p in again.positions("acc")] == ["kept"]
        assert again.submit(order("kept")).status is OrderStatus.ACCEPTED, "the first answer, not a second order"
        assert again.health().orders == 1


def test_in_process_a_bad_configuration_is_refused_with_the_reason(config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config["instruments"][0]["price_precision"] = "five"
    with pytest.raises(ExecServiceError, match=r"rust_exec in-process over .*config: invalid type: string \"five\", expected u32"):
        InProcessExecService(config, tmp_path / "exec").start()


def test_in_process_refusals_are_the_grpc_servers_and_close_waits_for_no_caller(config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cluster.adapters.rust_exec import octet_exec_native  # type: ignore[attr-defined]

    service = octet_exec_native.Service(json.dumps(config), str(tmp_path / "exec"), False)
    assert service.call("PushQuotes", b"\xff\xff\xff")[:1] == (grpc.StatusCode.INTERNAL.value[0],)
    assert service.call("Nope", b"")[:2] == (grpc.StatusCode.UNIMPLEMENTED.value[0],
                                             "rust_exec has no unary method \"Nope\"")
    stop = threading.Event()
    answered: list[int] = []

    def caller() -> None:
        while not stop.is_set():
            answered.append(service.call("Health", b"")[0])

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10  # the callers answered before the close (a fixed 0.2 s was not enough on a
    while not answered and time.monotonic() < deadline:  # loaded machine: the first answer came after it)
        time.sleep(0.01)
    time.sleep(0.1)
    service.close()  # while four threads call: no "already borrowed", later calls are UNAVAILABLE
    time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert answered[0] == 0 and answered[-1] == grpc.StatusCode.UNAVAILABLE.value[0], answered[-3:]
    again = octet_exec_native.Service(json.dumps(config), str(tmp_path / "exec"), False, lock_wait_ms=2000)
    assert again.call("Health", b"")[0] == 0, "the journal was let go"
    again.close()


def test_in_process_a_journal_write_that_fails_stops_the_service_not_the_backtests_process(config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = f"""
import json, resource, signal
from pathlib import Path
from cluster.adapters.rust_exec.client import ExecUnavailable, GrpcExecutionClient
from cluster.adapters.rust_exec.inprocess import InProcessExecService
from cluster.adapters.rust_exec.pb import exec_pb2 as pb
svc = InProcessExecService(json.loads({json.dumps(json.dumps(config))}), Path({str(tmp_path / 'x')!r}), fsync=False)
client = GrpcExecutionClient(svc.start(), None, credentials=None, reconnect_for=0.2)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4000, resource.RLIM_INFINITY))  # the disk is full
try:
    for k in range(1000):  # each batch is journaled
        request = pb.PushQuotesRequest(batch_seq=k + 1, stream_id="s", symbols=["EURUSD"], symbol_index=[0],
                                       ts_ns=[k + 1], bid=[108000], ask=[108010])
        client._call(lambda s: s.PushQuotes(request))
except ExecUnavailable as e:
    print("unavailable:", e)
try:
    client.health()
except ExecUnavailable as e:
    print("still:", e)
svc.stop()
print("the process carries on")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("unavailable: rust_exec at inprocess:1 unreachable") and "stopped: journal write failed" in lines[0]
    assert "File too large" in lines[0], lines
    assert lines[1].startswith("still: ") and lines[2] == "the process carries on", lines
