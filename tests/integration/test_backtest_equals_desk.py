"""Backtest = desk: the same ticks through `octet backtest`'s in-process agents (rust_exec's service in
the same process, no socket) and through a desk session on Ray (rust_exec a child process over gRPC)
give the same orders, decisions, execution reports, fills and closed trades.

The in-process run is checked twice: against a Ray session run here, report by report, and, without
Ray, against the saga's pinned fingerprint (tests/integration/test_saga_fingerprint_on_ray.py), which
a Ray session is held to."""

from __future__ import annotations

import pytest

from cluster.config.settings import Settings, load_settings
from cluster.desk.session import Session, SessionResult
from tests.conftest import ROOT, replay_ticks
from tests.integration.test_saga_fingerprint_on_ray import (
    DECISIONS,
    DECISIONS_SHA256,
    ORDERS,
    ORDERS_SHA256,
    TICKS,
    decisions_digest,
    orders_digest,
)

S = 1_000_000_000


def run(tmp_path, in_process: bool, **overrides: object) -> SessionResult:  # type: ignore[no-untyped-def]
    settings: Settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path), session__ticks=TICKS,
                                       **overrides)
    result = Session(settings, run_id="fingerprint", keep_records=True, in_process=in_process).run(replay_ticks(settings))
    in_process_exec = in_process and settings.execution.backtest_in_process
    assert str(result.execution["address"]).startswith("inprocess:") == in_process_exec, result.execution
    return result


def reports(result: SessionResult) -> list[tuple[object, ...]]:
    return [(r.client_order_id, r.account_id, r.status.name, r.ts_ns, r.reason,
             None if r.fill is None else (r.fill.side.name, str(r.fill.lots), str(r.fill.price), r.fill.ts_ns,
                                          r.fill.kind, r.fill.reason, str(r.fill.commission), str(r.fill.realized_pnl)))
            for r in result.reports]


def trades(result: SessionResult) -> list[str]:
    return [repr(t) for t in result.trades]


def test_the_backtest_places_the_orders_and_decisions_pinned_for_the_desk(tmp_path) -> None:
    result = run(tmp_path, in_process=True)
    assert (len(result.orders), len(result.decisions)) == (ORDERS, DECISIONS)
    assert orders_digest(result) == ORDERS_SHA256
    assert decisions_digest(result) == DECISIONS_SHA256
    assert result.counts["discrepancies"] == 0 and len(result.reports) > ORDERS


def test_the_backtest_over_grpc_to_a_rust_exec_process_gives_the_same_reports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    in_process = run(tmp_path / "in", in_process=True)
    over_grpc = run(tmp_path / "grpc", in_process=True, execution__backtest_in_process=False)
    assert orders_digest(over_grpc) == ORDERS_SHA256
    assert reports(in_process) == reports(over_grpc) and any(r[-1] is not None for r in reports(in_process))
    assert trades(in_process) == trades(over_grpc) and len(in_process.trades) > 0


@pytest.mark.ray
def test_the_backtest_and_a_ray_desk_give_the_same_reports_fills_and_trades(ray_local, tmp_path) -> None:  # type: ignore[no-untyped-def]
    local = run(tmp_path / "local", in_process=True)
    on_ray = run(tmp_path / "ray", in_process=False)
    assert orders_digest(local) == orders_digest(on_ray)
    assert decisions_digest(local) == decisions_digest(on_ray)
    assert reports(local) == reports(on_ray) and any(r[-1] is not None for r in reports(local))
    assert trades(local) == trades(on_ray) and len(local.trades) > 0
    assert {a: s.net_pnl for a, s in local.summaries.items()} == {a: s.net_pnl for a, s in on_ray.summaries.items()}


def test_the_batch_size_changes_no_order_decision_or_fill(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A batch is cut where each signal became known (the tick that closed its bar), and the
    correlation window learns the bars that closed before it: a saga sees the same marks and
    window whatever the batching. Before, orders' sizes and decisions' numbers followed the batch
    size: 333 and 100 ticks a batch each gave other orders than 2,000 (and 7 other decisions)."""
    pinned = run(tmp_path / "2000", in_process=True)
    for size in (333, 100):
        small = run(tmp_path / str(size), in_process=True, session__batch_size=size)
        assert orders_digest(small) == orders_digest(pinned) == ORDERS_SHA256, size
        assert decisions_digest(small) == decisions_digest(pinned) == DECISIONS_SHA256, size
        assert reports(small) == reports(pinned) and trades(small) == trades(pinned) and len(small.trades) > 0, size


def test_ticks_of_one_time_split_by_a_batch_boundary_reach_the_saga_in_one_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two ingress actors merge a batch's ticks in time and instrument order; the feed puts ticks
    of one time in that order too, so a boundary between two of them changes nothing. The tick
    before a signal's closing tick (another instrument's, of a higher index) is given that tick's
    time and a price 300 points away, and a batch ends between them: before, a batch of 2,000 saw
    that price at the saga and the split one did not, and sized other orders."""
    import numpy as np

    from trading.market import TickBatch

    def settings(size: int, name: str) -> Settings:
        return load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path / name), session__ticks=20_000,
                             session__batch_size=size, runtime__ingress_actors=2)

    def session(size: int, ticks: TickBatch, name: str) -> SessionResult:
        return Session(settings(size, name), run_id="ties", keep_records=True, in_process=True).run(ticks)

    ticks = replay_ticks(settings(2000, "untied"))
    registry = settings(2000, "untied").registry()
    ordered = {o.signal_id for o in session(2000, ticks, "untied").orders}
    cases = []
    for sid in sorted(ordered):
        symbol, ts = sid.split("-")[0], int(sid.split("-")[1])
        inst = registry.index(symbol)
        k = int(np.flatnonzero((ticks.inst == inst) & (ticks.ts >= ts))[0])  # the tick that closed its bar
        if k % 2000 and ticks.inst[k - 1] > inst:
            cases.append(k)
    assert cases, "no signal's closing tick follows a tick of a higher instrument"
    k = cases[0]
    ts, bid, ask = ticks.ts.copy(), ticks.bid.copy(), ticks.ask.copy()
    ts[k - 1] = ts[k]
    bid[k - 1] += 300
    ask[k - 1] += 300
    tied = TickBatch(ts, ticks.inst, bid, ask, ticks.volume)
    whole, split = session(2000, tied, "whole"), session(k, tied, "split")  # the boundary between the two
    assert decisions_digest(whole) == decisions_digest(split)
    assert orders_digest(whole) == orders_digest(split) and len(whole.orders) > 0


def test_a_breaker_that_trips_stops_the_same_signals_whatever_the_batch_size(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The breaker reviews before each saga as well as after each batch, counts losses one by one and
    stamps its cool-down's and probation's ends when they fall due. The SMA cross trades often and
    trips the account tier (five losing trades in a row): before, 2,000 ticks a batch placed 473 orders
    and 100 a batch 205 (and after the weekend a batch of 100 with no GBPUSD tick read GBPUSD as stale)."""
    whole = run(tmp_path / "2000", in_process=True, strategy__default="sma_cross")
    small = run(tmp_path / "100", in_process=True, strategy__default="sma_cross", session__batch_size=100)
    opened = [e for e in whole.breaker_events if e.to_state.name == "OPEN" and e.tier.name == "ACCOUNT"]
    assert opened and any("losing trades in a row" in e.trigger for e in opened)
    assert any(d.step == "breaker" and d.outcome == "veto" for d in whole.decisions)
    assert orders_digest(whole) == orders_digest(small) and len(whole.orders) > 100
    assert decisions_digest(whole) == decisions_digest(small)
    assert trades(whole) == trades(small)


def small(tmp_path, size: int) -> Settings:  # type: ignore[no-untyped-def]
    """The shipped settings on 12,000 generated ticks, in batches of ``size``."""
    return load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path / str(size)), session__ticks=12_000,
                         session__batch_size=size)


def batched(tmp_path, ticks, sizes: tuple[int, ...], run_id: str  # type: ignore[no-untyped-def]
            ) -> tuple[dict[int, SessionResult], dict[int, list[tuple[str, int, str, str]]]]:
    """These ticks backtested in each batch size: the results and their breaker events."""
    runs = {size: Session(small(tmp_path, size), run_id=run_id, keep_records=True, in_process=True).run(ticks)
            for size in sizes}
    return runs, {size: [(e.tier.name, e.ts_ns, e.to_state.name, e.trigger) for e in r.breaker_events]
                  for size, r in runs.items()}


def test_a_silence_inside_a_batch_trips_the_breaker_at_the_same_instant_whatever_the_batch_size(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """GBPUSD goes silent for 400 s of market time while the others tick on (stale after 300 s). The
    desk cuts its batch where the silence passes the limit and where GBPUSD's next tick ends it, and
    the breaker reviews there: the system tier opens 300 s after GBPUSD's last tick and cools down from
    its return, in batches of 2,000 ticks (some 70 minutes) as of 100. Before, the breaker judged
    silence at a batch's end only, and neither saw this one."""
    ticks = replay_ticks(small(tmp_path, 2000))
    gbp = small(tmp_path, 2000).registry().index("GBPUSD")
    hole = int(ticks.ts[len(ticks) // 2])
    ticks = ticks.take(~((ticks.inst == gbp) & (ticks.ts >= hole) & (ticks.ts < hole + 400 * S)))
    own = ticks.ts[ticks.inst == gbp]
    before, after = int(own[own < hole][-1]), int(own[own >= hole][0])
    runs, events = batched(tmp_path, ticks, (2000, 100), "silence")
    assert events[2000] == events[100]
    system = [e for e in events[2000] if e[0] == "SYSTEM"]
    assert system[:2] == [("SYSTEM", before + 300 * S + 1, "OPEN", "stale data: GBPUSD"),
                          ("SYSTEM", after + 900 * S, "HALF_OPEN", "cooldown elapsed")]
    assert orders_digest(runs[2000]) == orders_digest(runs[100]) and trades(runs[2000]) == trades(runs[100])


def test_a_spread_blowout_trips_the_breaker_at_its_tick_whatever_the_batch_size(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """EURUSD's quotes widen 60 pips for a moment. A tick's spread is judged against its instrument's
    usual spread (the median of its last blocks' medians), and the desk cuts its batch after that
    tick: the system tier opens at the first wide tick in batches of 2,000 ticks as of 100. Before, a
    batch's widest spread was judged at its end against a running median of batch medians."""
    ticks = replay_ticks(small(tmp_path, 2000))
    eur = small(tmp_path, 2000).registry().index("EURUSD")
    wide = [int(i) for i in (ticks.inst == eur).nonzero()[0] if i > len(ticks) // 2][:5]
    ticks.ask[wide] += 600
    runs, events = batched(tmp_path, ticks, (2000, 100), "spread")
    assert events[2000] == events[100]
    system = [e for e in events[2000] if e[0] == "SYSTEM"]
    assert system[0][1:3] == (int(ticks.ts[wide[0]]), "OPEN") and system[0][3].startswith("spread blowout: EURUSD")
    assert [e[2] for e in system] == ["OPEN", "HALF_OPEN", "CLOSED"]
    assert system[1][1] == int(ticks.ts[wide[-1]]) + 900 * S, "the cool-down runs from the last wide tick"
    assert orders_digest(runs[2000]) == orders_digest(runs[100]) and trades(runs[2000]) == trades(runs[100])


def test_a_saga_after_the_breakers_probation_ended_is_not_halted_even_with_one_tick_batches(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """USDJPY goes silent, trips the system tier, returns; its probation ends half a second before a
    GBPUSD signal. A desk in one-tick batches reviewed the breaker a tick earlier, within the second
    in which it skips the review before a saga, and halted the signal that batches of 2,000 traded.
    The review tells the desk when a breaker's next move falls due, and the desk reviews before a
    saga once that time has passed."""
    import numpy as np

    ticks = replay_ticks(small(tmp_path, 2000))
    first = Session(small(tmp_path / "probe", 2000), run_id="probe", keep_records=True, in_process=True).run(ticks)
    signal = next(o.signal_id for o in first.orders if o.signal_id.startswith("GBPUSD"))
    registry = small(tmp_path, 2000).registry()
    known = int(np.flatnonzero((ticks.inst == registry.index("GBPUSD"))
                               & (ticks.ts >= int(signal.split("-")[1])))[0])  # the tick that closed its bar
    jpy = registry.index("USDJPY")
    back = int(ticks.ts[known]) - 1500 * S - S // 2  # cool-down 900 s + probation 600 s end 0.5 s before it
    ts = ticks.ts.copy()
    ts[np.flatnonzero((ticks.inst == jpy) & (ticks.ts >= back))[0]] = back  # USDJPY's next tick comes back then
    moved = type(ticks)(ts, ticks.inst, ticks.bid, ticks.ask, ticks.volume)
    silent = moved.take(~((moved.inst == jpy) & (moved.ts >= back - 400 * S) & (moved.ts < back)))
    silent = silent.take(np.argsort(silent.ts, kind="stable"))
    runs, _ = batched(tmp_path, silent, (2000, 1), "due")
    closed = [e.ts_ns for e in runs[2000].breaker_events if e.tier.name == "SYSTEM" and e.to_state.name == "CLOSED"]
    assert closed == [int(ticks.ts[known]) - S // 2]
    for size, result in runs.items():
        assert not [d for d in result.decisions if d.signal_id == signal and d.step == "breaker"], size
    assert orders_digest(runs[2000]) == orders_digest(runs[1]) and decisions_digest(runs[2000]) == decisions_digest(runs[1])
