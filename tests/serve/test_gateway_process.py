"""The gateway's processes from the outside: `octet serve` killed outright leaves nothing holding
the API's port (HAProxy, which Serve starts as a child of its HAProxy manager, ends with it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.serve.test_gateway_on_serve import free_port

pytestmark = pytest.mark.ray


def haproxies_of(pid: int) -> list[int]:
    """The haproxy processes whose configuration is in the private directory of process ``pid``."""
    found = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and os.path.basename(args[0]) == b"haproxy" and any(f"/ohap{pid}-".encode() in a for a in args):
            found.append(int(p))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_haproxy_ends_with_a_gateway_killed_outright(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path)
    port = free_port()
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump(doc))
    proc = subprocess.Popen([sys.executable, "-m", "cluster.cli", "serve", "--config", str(config), "--port", str(port)],
                            env={**{k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH_TOKEN")},
                                 "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
                            stdout=(tmp_path / "serve.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    haproxy: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the gateway did not answer"
            time.sleep(0.5)
        haproxy = haproxies_of(proc.pid)
        assert haproxy, "the gateway answers through HAProxy"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 60  # Ray ends its workers once their driver is gone; HAProxy goes with its parent
        while True:
            left = [p for p in {*haproxy, *haproxies_of(proc.pid)} if alive(p)]  # a reload may have started another
            with socket.socket() as s:
                answered = s.connect_ex(("127.0.0.1", port)) == 0
            if not left and not answered:
                break
            assert time.monotonic() < deadline, f"HAProxy {left} outlived the gateway that started it " \
                                                f"(the API's port {'answers' if answered else 'is free'})"
            haproxy = sorted({*haproxy, *left})
            time.sleep(0.5)
    finally:
        for p in haproxy:
            if alive(p):
                os.kill(p, signal.SIGKILL)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # Ray's processes, if any are left
        except ProcessLookupError:
            pass
