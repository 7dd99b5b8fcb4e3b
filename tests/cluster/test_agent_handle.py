"""The desk's handle on an agent keeps one sequenced call in flight (a property, not a convention)."""

from __future__ import annotations

import time

import pytest
import ray

from cluster.desk.topology import AgentRef


class Sleeper:
    def __init__(self) -> None:
        self.log: list[tuple[str, float, float]] = []

    def nap(self, seconds: float) -> float:
        start = time.time()
        time.sleep(seconds)
        self.log.append(("nap", start, time.time()))
        return seconds

    def stamp(self) -> float:
        self.log.append(("stamp", time.time(), time.time()))
        return time.time()

    def history(self) -> list[tuple[str, float, float]]:
        return self.log


@pytest.mark.ray
def test_a_second_call_to_one_agent_is_sent_only_when_the_first_is_done(ray_local, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from actors.shell import AgentShell

    handle = ray.remote(AgentShell).options(num_cpus=0).remote("sleeper", str(tmp_path), Sleeper,
                                                               run_id="handle", key=b"k" * 32)
    agent = AgentRef("sleeper", handle)
    ray.get(handle.info.remote())
    first = agent.call("nap", 0.6)
    sent = time.perf_counter()
    second = agent.call("stamp")
    waited = time.perf_counter() - sent
    assert waited >= 0.5, f"the second call went out {waited:.3f} s after the first: two were in flight"
    assert ray.get(first) == 0.6 and ray.get(second) > 0
    assert [name for name, _, _ in agent.query("history")] == ["nap", "stamp"]
    assert agent.seq == 2 and ray.get(agent.call("stamp")) > 0  # a finished call holds nothing back
    ray.kill(handle, no_restart=True)
