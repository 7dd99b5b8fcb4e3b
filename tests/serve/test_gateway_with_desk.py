"""`octet desk start` brings the API up beside the desk (on the desk's Ray): it reports the running
desk, and an admin's halt through it is taken by the desk and recorded in the audit trail with the
key that asked; a viewer's is refused. Its agents' health shows each heartbeat, and an agent
killed under it restarted. A breaker that opens is an alert a trader acknowledges, audited, and `octet desk
alerts` and `octet desk ack` list and acknowledge from the command line. The desk's fills reach a client of the WebSocket stream
(through Redis), every one the store holds, each once; the delay is measured."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from cluster.config.secrets import state_key
from cluster.desk.desk import DeskFiles
from cluster.devservers.services import LocalRedis
from cluster.storage import audit
from cluster.storage import models as m
from cluster.storage.store import SessionStore
from serve.keys import add_key
from tests.conftest import ROOT
from tests.serve.test_gateway_on_serve import free_port

pytestmark = pytest.mark.ray
API = "/api/v1"


def test_the_desk_brings_up_the_api_and_an_admins_halt_through_it_is_audited_with_the_key(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path)
    doc.setdefault("session", {}).update(ticks=80_000, batch_size=1_000)
    doc["desk"] = {"speed": 1_000.0}  # ~3 min of wall time: still running while it is steered (stopped below)
    port = free_port()
    doc["gateway"] = {"port": port}
    doc["runtime"]["live"] = "redis"  # a local Redis under data_dir: the stream's source
    doc.setdefault("agents", {}).setdefault("breaker", {})["consecutive_losses"] = 1  # an alert at the first loss
    config = tmp_path / "desk.yaml"
    config.write_text(yaml.safe_dump(doc))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "cluster.cli"]
    started = subprocess.run([*cli, "desk", "start", "--config", str(config)], env=env, capture_output=True,
                             text=True, timeout=300, cwd=ROOT)
    assert started.returncode == 0, started.stdout + started.stderr
    files = DeskFiles(tmp_path, state_key(tmp_path))
    try:
        meta = with_gateway(files)
        base = meta["gateway"]
        assert base == f"http://127.0.0.1:{port}"
        status = subprocess.run([*cli, "desk", "status", "--config", str(config)], env=env, capture_output=True,
                                text=True, timeout=60, cwd=ROOT)
        assert f"API: {base}/api/v1" in status.stdout, status.stdout
        # the kill switch at rust_exec finds the desk's own (on a port chosen at its start) with no --address
        (tmp_path / "octet.yaml").write_text(config.read_text())
        venue = subprocess.run([*cli, "exec-status", "--secrets", str(tmp_path / "secrets" / "exec")], env=env,
                               capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert venue.returncode == 0 and "(the rust_exec of the desk running here, run " in venue.stdout, \
            venue.stdout + venue.stderr
        assert ": open; " in venue.stdout and "127.0.0.1:50551" not in venue.stdout, venue.stdout
        store = SessionStore.sqlite(tmp_path)
        _, admin = add_key(store.engine, "ops-alice", "admin", by="tests")
        _, viewer = add_key(store.engine, "watcher", "viewer", by="tests")
        acc = doc["accounts"][0]["id"]
        listener = Listener(base, viewer)
        listener.start()
        assert listener.first_fill.wait(150), f"no fill on the stream in 150 s: {listener.errors}"
        _, trader = add_key(store.engine, "trader-bob", "trader", by="tests")
        with httpx.Client(base_url=base, timeout=60) as c:
            # an alert (a breaker that opened at the first losing trade), acknowledged by a trader
            deadline = time.time() + 150
            while not (alerts := c.get(f"{API}/alerts", headers={"X-API-Key": viewer}).json()["items"]):
                assert time.time() < deadline, "no breaker opened: no alert to acknowledge"
                time.sleep(1.0)
            alert = alerts[0]["alert_id"]
            assert alerts[0]["kind"] == "breaker" and alerts[0]["acked_by"] is None
            assert c.post(f"{API}/alerts/{alert}/ack", headers={"X-API-Key": viewer},
                          json={"note": "x"}).status_code == 403
            assert c.post(f"{API}/alerts/breaker-999999999/ack", headers={"X-API-Key": trader},
                          json={"note": "x"}).status_code == 404
            acked = c.post(f"{API}/alerts/{alert}/ack", headers={"X-API-Key": trader},
                           json={"note": "seen: losing streak on EURUSD", "wait_seconds": 30})
            assert acked.status_code == 200 and acked.json()["outcome"] == f"acknowledged {alert}", acked.text
            deadline = time.time() + 60  # the desk writes the unit's records when the unit is done
            while (seen := next(a for a in c.get(f"{API}/alerts", headers={"X-API-Key": viewer}).json()["items"]
                                if a["alert_id"] == alert))["acked_by"] is None:
                assert time.time() < deadline, seen
                time.sleep(0.5)
            assert seen["acked_by"].startswith("api:trader-bob (") and seen["ack_note"] == "seen: losing streak on EURUSD"
            unacked = c.get(f"{API}/alerts", headers={"X-API-Key": viewer}, params={"unacked": True}).json()["items"]
            assert alert not in {a["alert_id"] for a in unacked}
            # the same from the command line: `octet desk alerts` lists those standing, --all the acknowledged too
            def desk_cli(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([*cli, "desk", *args, "--config", str(config)], env=env, capture_output=True,
                                      text=True, timeout=90, cwd=ROOT)
            listed = desk_cli("alerts")
            assert listed.returncode == 0 and f"{alert} " not in listed.stdout, listed.stdout + listed.stderr
            every = desk_cli("alerts", "--all")
            assert f"{alert}  " in every.stdout and "acknowledged by api:trader-bob (" in every.stdout \
                and "seen: losing streak on EURUSD" in every.stdout, every.stdout + every.stderr
            bad = desk_cli("ack", "notice-1", "-r", "x")
            assert bad.returncode == 2 and "not an alert id" in bad.stderr + bad.stdout, bad.stdout + bad.stderr
            missing = desk_cli("ack", "breaker-999999999", "-r", "x")
            assert missing.returncode == 2 and "no alert breaker-999999999" in missing.stderr + missing.stdout
            again = desk_cli("ack", alert, "-r", "seen again", "--who", "carol")
            assert again.returncode == 0 and f"acknowledged {alert} (asked by carol (" in again.stdout, \
                again.stdout + again.stderr
            desk = c.get(f"{API}/desk", headers={"X-API-Key": viewer}).json()
            assert desk["running"] is True and desk["run_id"] == meta["run_id"]
            refused = c.post(f"{API}/desk/halt", headers={"X-API-Key": viewer}, json={"account": acc, "reason": "x"})
            assert refused.status_code == 403
            halted = c.post(f"{API}/desk/halt", headers={"X-API-Key": admin},
                            json={"account": acc, "reason": "NFP in 5 min", "wait_seconds": 30})
            assert halted.status_code == 200, halted.text
            answer = halted.json()
            assert answer["outcome"] and answer["outcome"].startswith(f"halted {acc}"), answer
            again = c.get(f"{API}/desk/requests/{answer['request_id']}", headers={"X-API-Key": viewer}).json()
            assert again["outcome"] == answer["outcome"]
            # the files read again: by an admin only, for the whole desk (an account named is refused: 409)
            assert c.post(f"{API}/desk/reload", headers={"X-API-Key": trader}, json={"reason": "x"}).status_code == 403
            reloaded = c.post(f"{API}/desk/reload", headers={"X-API-Key": admin},
                              json={"reason": "the week's export", "wait_seconds": 30})
            assert reloaded.status_code == 200, reloaded.text
            assert reloaded.json()["outcome"].startswith("read news_calendar news_2026.csv: "), reloaded.json()
            one = c.post(f"{API}/desk/reload", headers={"X-API-Key": admin},
                         json={"account": acc, "reason": "x", "wait_seconds": 30})
            assert one.status_code == 409 and "for every account: name none" in one.text, one.text
            by_cli = subprocess.run([*cli, "desk", "reload", "--config", str(config), "-r", "the week's export"], env=env,
                                    capture_output=True, text=True, timeout=90, cwd=ROOT)
            assert by_cli.returncode == 0 and "read news_calendar news_2026.csv: " in by_cli.stdout, \
                by_cli.stdout + by_cli.stderr
            # agents' health: each answering its heartbeats; one killed is restarted, and says so
            agents = {a["name"]: a for a in c.get(f"{API}/agents", headers={"X-API-Key": viewer}).json()["items"]}
            assert "performance" in agents and len(agents) >= 8
            for a in agents.values():
                assert a["heartbeat_ok"] is True and time.time() - a["heartbeat_at"] < 60 and a["restarts"] == 0, a
            victim = agents["performance"]
            os.kill(victim["pid"], signal.SIGKILL)
            deadline = time.time() + 90
            while True:
                now = {a["name"]: a for a in c.get(f"{API}/agents", headers={"X-API-Key": viewer}).json()["items"]}
                if now["performance"]["pid"] != victim["pid"] and now["performance"]["heartbeat_ok"]:
                    break
                assert time.time() < deadline, now["performance"]
                time.sleep(0.5)
            assert now["performance"]["restarts"] == 1 and now["risk"]["restarts"] == 0
        deadline = time.time() + 60
        while True:  # the desk writes the unit's records when the unit is done
            with store.engine.connect() as conn:
                ops = [r.payload for r in conn.execute(select(audit.audit).where(audit.audit.c.kind == "operator"))
                       if r.payload["action"] not in ("ack", "reload")]
            if ops or time.time() > deadline:
                break
            time.sleep(0.2)
        assert len(ops) == 1 and ops[0]["action"] == "halt" and ops[0]["account_id"] == acc
        assert ops[0]["who"].startswith("api:ops-alice (") and ops[0]["request_id"] == answer["request_id"]
    finally:
        stopped = subprocess.run([*cli, "desk", "stop", "--config", str(config)], env=env, capture_output=True,
                                 text=True, timeout=300, cwd=ROOT)
        request.addfinalizer(LocalRedis(tmp_path / "redis").stop)  # the desk's local Redis outlives the desk by design
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert listener.stopped.wait(60), f"the stream did not say the desk stopped: {listener.errors}"
    with store.engine.connect() as conn:
        fills = conn.execute(select(m.FillRow.__table__).where(m.FillRow.__table__.c.run_id == meta["run_id"])
                             .order_by(m.FillRow.__table__.c.id)).mappings().all()
    want = [(f["client_order_id"], f["ts_ns"], f["kind"]) for f in fills]
    got = [(x["data"]["client_order_id"], x["data"]["ts_ns"], x["data"]["kind"]) for x in listener.fills]
    assert want and got == want, (len(got), len(want))
    delays = sorted(listener.delays_ms) or [float("nan")]
    print(f"\ndesk -> stream: {len(got)} fills ({len(listener.delays_ms)} live); Redis -> client p50 "
          f"{delays[len(delays) // 2]:.1f} ms, max {delays[-1]:.1f} ms")


def with_gateway(files: DeskFiles, seconds: float = 120) -> dict[str, Any]:
    """The desk's meta once its gateway is up (``meta["gateway"]``: its base URL)."""
    deadline = time.time() + seconds
    while not (meta := files.meta()).get("gateway"):
        assert not meta.get("gateway_error"), meta["gateway_error"]
        assert time.time() < deadline, "the API did not come up with the desk"
        time.sleep(0.2)
    return meta


class Listener(threading.Thread):
    """A stream client in a thread: every fill, until the desk says it stopped."""

    def __init__(self, base: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url = base.replace("http://", "ws://") + f"{API}/stream?topics=fills,desk"
        self.key = key
        self.fills: list[dict[str, Any]] = []
        self.delays_ms: list[float] = []
        self.errors: list[str] = []
        self.first_fill = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        import websockets

        async def listen() -> None:
            headers = {"X-API-Key": self.key}
            async with websockets.connect(self.url, additional_headers=headers) as ws:
                epoch = json.loads(await ws.recv())["epoch"]
            # the desk traded before the API was up: ask for the stream from its first message
            async with websockets.connect(f"{self.url}&after=0&epoch={epoch}", additional_headers=headers) as ws:
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello"
                while True:
                    msg = json.loads(await ws.recv())
                    if msg.get("topic") == "fills":
                        if msg["seq"] > hello["seq"]:  # sent live (not from the window): its delay
                            self.delays_ms.append(time.time() * 1000 - msg["at_us"] / 1000)
                        self.fills.append(msg)
                        self.first_fill.set()
                    elif msg.get("topic") == "desk" and msg["data"].get("event") in ("desk_stop", "end"):
                        self.stopped.set()
                        return
                    elif msg.get("type") in ("lost", "reload", "error"):
                        self.errors.append(json.dumps(msg))
        try:
            asyncio.run(listen())
        except Exception as exc:  # said by the test's assertions
            self.errors.append(repr(exc))
