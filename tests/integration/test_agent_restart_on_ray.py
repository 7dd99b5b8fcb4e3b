"""The agent tier's restart goes through Ray, which reaches an actor on any node, and the agent
comes back from its saved state."""

from __future__ import annotations

import time

import pytest
import ray

from actors.learning import LearningAgent
from actors.shell import AgentShell
from cluster.desk.topology import AgentRef, Topology

pytestmark = pytest.mark.ray


def test_the_agent_tier_restarts_an_agent_through_ray_and_it_comes_back_from_its_state(ray_local, tmp_path) -> None:  # type: ignore[no-untyped-def]
    handle = ray.remote(AgentShell).options(name="restart-test.learning", num_cpus=0, max_restarts=2,
                                            max_task_retries=-1).remote("learning", str(tmp_path), LearningAgent,
                                                                        run_id="restart-test", key=bytes(range(32)))
    ref = AgentRef("learning", handle)
    topo = Topology([], [], {"learning": ref})
    try:
        ray.get(ref.call("on_update", [], []))  # one call, saved
        before = ref.info()
        assert topo.restart(["learning", "no-such-agent"]) == ["learning"]
        deadline = time.monotonic() + 60
        after = None
        while time.monotonic() < deadline:
            try:
                after = ref.info()
                if after["pid"] != before["pid"]:
                    break
            except ray.exceptions.RayActorError:  # being restarted
                pass
            time.sleep(0.1)
        assert after is not None and after["pid"] != before["pid"], "Ray did not start it again"
        assert after["restored"] and after["restarts"] == before["restarts"] + 1
        ray.get(ref.call("on_update", [], []))  # the next call in sequence is taken after the restart
        assert ref.info()["calls"] == after["calls"] + 1
    finally:
        ray.kill(handle, no_restart=True)
