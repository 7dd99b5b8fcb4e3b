"""`octet desk start` brings the API up beside the desk (on the desk's Ray): it reports the running
desk, and an admin's halt through it is taken by the desk and recorded in the audit trail with the
key that asked; a viewer's is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from cluster.config.secrets import state_key
from cluster.desk.desk import DeskFiles
from cluster.storage import audit
from cluster.storage.store import SessionStore
from serve.keys import add_key
from tests.conftest import ROOT
from tests.serve.test_gateway_on_serve import free_port

pytestmark = pytest.mark.ray
API = "/api/v1"


def test_the_desk_brings_up_the_api_and_an_admins_halt_through_it_is_audited_with_the_key(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path)
    doc.setdefault("session", {}).update(ticks=80_000, batch_size=1_000)
    doc["desk"] = {"speed": 1_000.0}  # ~3 min of wall time: still running while it is steered (stopped below)
    port = free_port()
    doc["gateway"] = {"port": port}
    config = tmp_path / "desk.yaml"
    config.write_text(yaml.safe_dump(doc))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "cluster.cli"]
    started = subprocess.run([*cli, "desk", "start", "--config", str(config)], env=env, capture_output=True,
                             text=True, timeout=300, cwd=ROOT)
    assert started.returncode == 0, started.stdout + started.stderr
    files = DeskFiles(tmp_path, state_key(tmp_path))
    try:
        deadline = time.time() + 120
        while not (meta := files.meta()).get("gateway"):
            assert not meta.get("gateway_error"), meta["gateway_error"]
            assert time.time() < deadline, "the API did not come up with the desk"
            time.sleep(0.2)
        base = meta["gateway"]
        assert base == f"http://127.0.0.1:{port}"
        status = subprocess.run([*cli, "desk", "status", "--config", str(config)], env=env, capture_output=True,
                                text=True, timeout=60, cwd=ROOT)
        assert f"API: {base}/api/v1" in status.stdout, status.stdout
        store = SessionStore.sqlite(tmp_path)
        _, admin = add_key(store.engine, "ops-alice", "admin", by="tests")
        _, viewer = add_key(store.engine, "watcher", "viewer", by="tests")
        acc = doc["accounts"][0]["id"]
        with httpx.Client(base_url=base, timeout=60) as c:
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
        deadline = time.time() + 60
        while True:  # the desk writes the unit's records when the unit is done
            with store.engine.connect() as conn:
                ops = [r.payload for r in conn.execute(select(audit.audit).where(audit.audit.c.kind == "operator"))]
            if ops or time.time() > deadline:
                break
            time.sleep(0.2)
        assert len(ops) == 1 and ops[0]["action"] == "halt" and ops[0]["account_id"] == acc
        assert ops[0]["who"].startswith("api:ops-alice (") and ops[0]["request_id"] == answer["request_id"]
    finally:
        stopped = subprocess.run([*cli, "desk", "stop", "--config", str(config)], env=env, capture_output=True,
                                 text=True, timeout=300, cwd=ROOT)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
