"""A desk attaches to a Ray started outside it (``ray start --head`` with Octet's token settings)
and runs its agents there; an address nothing answers at is one clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cluster.config.secrets import ray_token_file
from cluster.desk.topology import RayUnavailable, ray_gcs_address
from cluster.devservers.services import RayHead, free_port

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]

# The desk's side, in a fresh interpreter (this test process may already run a Ray of its own):
# attach, start one hosted agent, and report where it runs.
DESK = """
import json, sys
from pathlib import Path
import cluster
import ray
from actors.learning import LearningAgent
from actors.shell import AgentShell
from cluster.config.settings import load_settings
from cluster.desk.topology import AgentRef, init_ray

settings = load_settings(Path("octet.yaml"), runtime__data_dir=sys.argv[1], runtime__ray_address=sys.argv[2])
init_ray(settings)
handle = ray.remote(AgentShell).options(num_cpus=0).remote("learning", sys.argv[3], LearningAgent,
                                                           run_id="attach", key=bytes(range(32)))
ref = AgentRef("learning", handle)
ray.get(ref.call("on_update", [], []))
info = ref.info()
pid, ancestors = info["pid"], []
while pid > 1:  # the worker's process and its parents, read while it runs
    ancestors.append(pid)
    pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
print(json.dumps({"gcs": ray.get_runtime_context().gcs_address, "info": info, "ancestors": ancestors}))
ray.shutdown()
"""


def test_a_desk_attaches_to_a_ray_started_outside_it_and_its_agent_runs_there(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    token = ray_token_file(data_dir)  # what `ray start` and the desk both read
    with RayHead(token) as head:
        desk_env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH_TOKEN", "RAY_ADDRESS"))}
        out = subprocess.run([sys.executable, "-c", DESK, str(data_dir), head.address, str(tmp_path / "state")],
                             cwd=ROOT, env=desk_env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got["gcs"].endswith(f":{head.port}")  # Ray names a loopback address by the host's own
        assert got["info"]["calls"] == 1
        assert head.proc is not None and head.proc.pid in got["ancestors"], \
            "the agent's worker is not a process of the outside Ray"


def test_an_address_nothing_answers_at_is_one_clear_error() -> None:
    port = free_port()  # bound then released: nothing listens there
    with pytest.raises(RayUnavailable, match=f"runtime.ray_address 127.0.0.1:{port}: nothing answers at "):
        ray_gcs_address(f"127.0.0.1:{port}")


def test_octet_run_names_an_unreachable_ray_address_without_a_traceback(tmp_path: Path) -> None:
    port = free_port()
    out = subprocess.run([sys.executable, "-m", "cluster.cli", "run", "--config", str(ROOT / "octet.yaml"),
                          "--ray-address", f"127.0.0.1:{port}", "--ticks", "1000"], cwd=ROOT,
                         env={**os.environ, "OCTET_RUNTIME__DATA_DIR": str(tmp_path / "var")},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"runtime.ray_address 127.0.0.1:{port}: nothing answers at " in out.stderr
    assert "Traceback" not in out.stdout + out.stderr
