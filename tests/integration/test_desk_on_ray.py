"""The long-running desk: stopped and started mid-run, and with its driver killed (SIGKILL) mid-run,
it continues its run with no order lost or doubled, its positions equal rust_exec's and its audit
chain whole; a position opened at rust_exec behind its back is found and handled by the policy; on
a paced feed it passes a firm's daily resets and the FX weekend as time passes, with no tick."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import select

from cluster.adapters.feeds.paced import ReplayFeed, desk_feed, replay_ticks
from cluster.adapters.rust_exec.client import GrpcExecutionClient
from cluster.adapters.rust_exec.process import ExecService, exec_credentials
from cluster.config.secrets import state_key
from cluster.config.settings import Settings, load_settings
from cluster.desk.desk import DeskFiles
from cluster.desk.session import Session
from cluster.storage import audit
from cluster.storage.store import RECORDS, SessionStore
from tests.conftest import ROOT
from trading.market import TickBatch, datetime_to_ts
from trading.orders import Order, OrderType, Side
from trading.presets import PRESET_DIR

pytestmark = pytest.mark.ray
S = 1_000_000_000
PLACED = {2, 3, 4}  # rust_exec's ACCEPTED, PARTIALLY_FILLED, FILLED


def desk_settings(tmp_path: Path, **overrides: Any) -> tuple[Path, Settings]:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path)
    doc.setdefault("session", {}).update(ticks=overrides.pop("ticks", 40_000), batch_size=1_000)
    doc["desk"] = {"speed": None, **overrides}
    doc["gateway"] = {"enabled": False}  # the API with the desk: tests/serve/test_gateway_with_desk.py
    path = tmp_path / "desk.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path, load_settings(path)


def check_books_against_rust_exec(store: SessionStore, run_id: str, address: str, settings: Settings,
                                  foreign: frozenset[str] = frozenset()) -> list[str]:
    """No order doubled or lost: the store's orders are rust_exec's placed orders (less ``foreign``
    ones, placed behind the desk's back), once each, and every report rust_exec made is in the store
    once; the audit chain verifies."""
    orders, reports = RECORDS["orders"], RECORDS["execution_reports"]
    with store.engine.connect() as conn:
        stored = [r[0] for r in conn.execute(select(orders.c.client_order_id).where(orders.c.run_id == run_id))]
        stored_reports = [(r[0], r[1]) for r in conn.execute(
            select(reports.c.client_order_id, reports.c.status).where(reports.c.run_id == run_id))]
    client = GrpcExecutionClient(address, settings.registry(), credentials=exec_credentials(settings), catch_up=False)
    try:
        theirs = client.reports(0)
        open_at_venue = client.positions()
    finally:
        client.close()
    placed = {r.client_order_id for r in theirs if r.status in PLACED} - foreign
    assert len(stored) == len(set(stored)), "an order recorded twice"
    assert set(stored) == placed, ("lost", placed - set(stored), "unknown", set(stored) - placed)
    # every report rust_exec made is in the store once, those of an adopted position too
    assert sorted(c for c, _ in stored_reports) == sorted(r.client_order_id for r in theirs), \
        "a report lost or recorded twice"
    assert open_at_venue == [], "flat at rust_exec at the run's end, as in the books"
    assert audit.verify(store.engine).ok
    return stored


def test_a_desk_stopped_mid_run_resumes_with_nothing_lost_or_doubled_and_adopts_a_position_opened_behind_its_back(  # type: ignore[no-untyped-def]
        ray_local, tmp_path) -> None:
    _, settings = desk_settings(tmp_path, reconcile_policy="adopt")
    svc = ExecService.for_settings(settings, tmp_path / "exec")  # one rust_exec across the desk's runs
    address = svc.start()
    try:
        settings = settings.model_copy(update={"execution": settings.execution.model_copy(update={"address": address})})
        files = DeskFiles(tmp_path, state_key(tmp_path))
        run = files.for_run("desk1")
        ticks = replay_ticks(settings)
        store = SessionStore.sqlite(tmp_path)

        def stop_at_15(p, _topo) -> None:  # type: ignore[no-untyped-def]
            if p.batch == 15:
                first.stop()

        first = Session(settings, store, "desk1", desk=run, on_batch=stop_at_15)
        feed = ReplayFeed(ticks)
        stopped = first.run(feed)
        assert stopped.batches == 15 and not feed.ended and stopped.counts["orders"] > 0
        # While the desk is down someone opens a position on its first account straight at rust_exec.
        acc = settings.accounts[0].id
        stranger = GrpcExecutionClient(address, settings.registry(), credentials=exec_credentials(settings),
                                       catch_up=False)
        mid = first.mids["EURUSD"]
        at = first.clock + S
        stranger.submit(Order("stranger-1", acc, "EURUSD", Side.BUY, Decimal("0.5"), OrderType.MARKET,
                              mid - Decimal("0.0050"), None, "", mid, 50, at, at + 60 * S))
        pts = settings.registry()["EURUSD"].points
        stranger.on_quotes(TickBatch(np.array([at], np.int64), np.array([settings.registry().index("EURUSD")], np.int16),
                                     np.array([pts(mid)], np.int64), np.array([pts(mid) + 1], np.int64), np.ones(1)))
        stranger.close()

        # ... and the operator adds a break the firm announced: the resumed desk's agents read it
        breaks = tmp_path / "closures.csv"
        breaks.write_text((PRESET_DIR / "market_closures.csv").read_text()
                          + "2026-12-22T18:00:00Z,2026-12-23T18:00:00Z,*,announced outage\n")
        compliance = settings.agents.compliance.model_copy(update={"market_closures": breaks})
        settings = settings.model_copy(update={"agents": settings.agents.model_copy(update={"compliance": compliance})})
        seen: list[dict] = []  # type: ignore[type-arg]

        def calendars(p, topo) -> None:  # type: ignore[no-untyped-def]
            if not seen:
                seen.append(topo.agents["compliance"].query("calendars"))

        second = Session(settings, SessionStore.sqlite(tmp_path), "desk1", desk=run, keep_records=True,
                         on_batch=calendars)
        result = second.run(ReplayFeed(ticks))
        assert seen and (seen[0]["market_closures"], seen[0]["closures"]) == (str(breaks), 11)
        notes = [n for r in result.records for n in r.notes]
        resolved = [n[2]["event"] for n in notes if n[0] == "reconcile"]
        assert len(resolved) == 1 and resolved[0].startswith(f"{acc} stranger-1: the desk held nothing, rust_exec long")
        assert "adopted" in resolved[0]
        assert any(n[0] == "desk_resume" for n in notes)
        assert result.counts["orders"] > stopped.counts["orders"], "it went on trading (the counts are the run's)"
        assert result.ticks == len(ticks) and not result.discrepancies
        status = second.status()  # what `octet desk status` shows: the run's own figures
        assert status["orders"] == result.counts["orders"] and status["ticks"] == len(ticks)
        assert status["tick_to_order_p50_ms"] == round(result.tick_to_order.percentile(0.5), 2) \
            < status["tick_to_order_p99_ms"] == round(result.tick_to_order.percentile(0.99), 2)
        stored = check_books_against_rust_exec(store, "desk1", address, settings, frozenset({"stranger-1"}))
        assert len(stored) == result.counts["orders"]
    finally:
        svc.stop()


def test_a_desk_whose_driver_is_killed_resumes_its_run_and_keeps_an_operators_halt(ray_local, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # paced so that the run lasts ~45 s of wall time whatever the machine: it is still running when it
    # is halted, stopped and killed (at full speed it could end before the stop)
    path, settings = desk_settings(tmp_path, ticks=80_000, speed=4_000.0)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "cluster.cli", "desk"]
    started = subprocess.run([*cli, "start", "--config", str(path)], env=env, capture_output=True, text=True,
                             timeout=300, cwd=ROOT)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "desk running" in started.stdout and "new run" in started.stdout
    acc = settings.accounts[1].id
    halted = subprocess.run([*cli, "halt", "--config", str(path), "-a", acc, "-r", "news", "--who", "alice"],
                            env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert halted.returncode == 0 and f"halted {acc}" in halted.stdout, halted.stdout + halted.stderr
    # stopped (SIGTERM through `octet desk stop`: the unit under way ends and is saved) and started again
    stopped = subprocess.run([*cli, "stop", "--config", str(path)], env=env, capture_output=True, text=True,
                             timeout=300, cwd=ROOT)
    assert stopped.returncode == 0 and "desk stopped in" in stopped.stdout, stopped.stdout + stopped.stderr
    again = subprocess.run([*cli, "start", "--config", str(path)], env=env, capture_output=True, text=True,
                           timeout=300, cwd=ROOT)
    assert again.returncode == 0 and "resumed run" in again.stdout, again.stdout + again.stderr
    files = DeskFiles(tmp_path, state_key(tmp_path))
    meta = files.meta()
    deadline = time.time() + 120
    while files.for_run(meta["run_id"]).load()[0]["result"].batches < 8:  # well into the run
        assert time.time() < deadline, "the desk did not get to its 8th batch"
        time.sleep(0.05)
    os.kill(meta["pid"], signal.SIGKILL)
    time.sleep(0.5)
    assert files.meta()["state"] == "running", "killed mid-run"
    status = subprocess.run([*cli, "status", "--config", str(path)], env=env, capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert "dead" in status.stdout, status.stdout
    # The desk starts again (here in this process, on this test's Ray): the same run, from its checkpoint.
    run_id = meta["run_id"]
    store = SessionStore.sqlite(tmp_path)
    # unpaced: the pace only kept the run going until the kill; the rest runs as fast as it goes (the same ticks)
    feed = desk_feed(settings.model_copy(update={"desk": settings.desk.model_copy(update={"speed": None})}))
    result = Session(settings, store, run_id, desk=files.for_run(run_id), keep_records=True).run(feed)
    assert feed.ended and result.ticks == settings.session.ticks and not result.discrepancies
    notes = [n for r in result.records for n in r.notes]
    assert any(n[0] == "desk_resume" for n in notes)
    operator = [n for n in notes if n[0] == "operator"]
    assert operator == [], "the halt was recorded before the kill, once"
    after = [d for r in result.records for d in r.decisions if d.account_id == acc
             and d.step in ("risk", "correlation", "style", "compliance", "execution")]
    assert after == [], "the halted account opened no saga after the restart"
    vetoes = [d for r in result.records for d in r.decisions if d.account_id == acc and d.step == "operator"]
    assert vetoes and vetoes[0].reason.startswith("halted by alice (")
    svc_address = files.for_run(run_id).load()[0]["exec_address"]
    # rust_exec stopped with the session; its journal holds every order: read it through a new one
    svc = ExecService.for_settings(settings, tmp_path / "exec" / run_id, svc_address)
    svc.start()
    try:
        check_books_against_rust_exec(store, run_id, svc.address, settings)
    finally:
        svc.stop()
    with store.engine.connect() as conn:
        kinds = [r[0] for r in conn.execute(select(audit.audit.c.kind).where(
            audit.audit.c.kind.in_(["operator", "desk_stop", "desk_resume"])).order_by(audit.audit.c.seq))]
    assert kinds == ["operator", "desk_stop", "desk_resume", "desk_resume"], \
        "the operator's halt once, with who asked; the stop; a resume after the stop and after the kill"


def test_a_paced_desk_takes_each_reset_at_its_instant_across_the_weekend_with_no_tick(ray_local, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["accounts"] = [{"id": "five", "firm": "the5ers.phase1", "balance": "100000"},
                       {"id": "ftmo", "firm": "ftmo.challenge", "balance": "100000"}]
    doc["runtime"]["data_dir"] = str(tmp_path)
    path = tmp_path / "weekend.yaml"
    path.write_text(yaml.safe_dump(doc))
    doc.setdefault("agents", {}).setdefault("breaker", {})["heartbeat_every_batches"] = 1  # a replay's: not a desk's
    path.write_text(yaml.safe_dump(doc))
    settings = load_settings(path, session__batch_size=200, desk__idle_ms=50.0)
    from cluster.adapters.feeds.replay.generator import generate_ticks

    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), 3_000, 7,
                              datetime(2026, 2, 27, 21, 45, tzinfo=UTC))
    friday_close = datetime_to_ts(datetime(2026, 2, 27, 22, 0, tzinfo=UTC))
    sunday_open = datetime_to_ts(datetime(2026, 3, 1, 22, 0, tzinfo=UTC))
    ticks = ticks.take((ticks.ts < friday_close) | (ticks.ts > sunday_open))
    ticks = ticks.take(ticks.ts < sunday_open + 1800 * S)  # half an hour of Sunday evening
    # 3,600 market seconds a wall second: Friday's last quarter of an hour passes in a quarter of a
    # second, the weekend in 6 (a 21,600 s gap): time enough for a slow machine to catch up with it
    feed = ReplayFeed(ticks, speed=3600.0, max_gap_s=21_600.0)
    files = DeskFiles(tmp_path, state_key(tmp_path))
    result = Session(settings, run_id="paced", desk=files.for_run("paced"), keep_records=True).run(feed)
    first, last = int(ticks.ts[0]), int(ticks.ts[-1])
    in_gap = [r for r in result.records if r.snapshots and friday_close < min(s.ts_ns for s in r.snapshots.values())
              < sunday_open]
    assert len(in_gap) >= 3, "the desk's clock moved through the weekend, with no tick"
    for acc in settings.accounts:
        rules = settings.firm_rules(acc)
        taken = {day: ref["at_ns"] for day, ref in result.compliance[acc.id]["day_references"].items()}
        resets = [t for t in rules.instants(first, last) if rules.next_reset_ns(t - 1) == t]
        assert sorted(taken.values())[1:] == resets, (acc.id, taken)
        assert not result.compliance[acc.id]["breaches"]
    # its heartbeats (and with them the reconciliation with rust_exec) come every desk.heartbeat_seconds,
    # not every few of its small batches
    execution = next(a for a in result.agent_stats if a["name"] == "execution")
    bound = result.elapsed_s / settings.desk.heartbeat_seconds + 3  # and at the start and the end
    assert execution["methods"]["reconcile"][0] <= bound < result.batches / settings.agents.breaker.heartbeat_every_batches
    five = result.compliance["five"]["day_references"]
    assert [five[d]["at_ns"] for d in ("2026-02-27", "2026-02-28", "2026-03-01")] == \
        [datetime_to_ts(datetime(2026, m, d, 22, 0, tzinfo=UTC)) for m, d in ((2, 27), (2, 28), (3, 1))]
