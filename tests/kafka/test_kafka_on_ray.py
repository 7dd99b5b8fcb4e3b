"""The desk over a real Kafka broker: the same orders as in-process, and nothing lost or doubled
when an ingress actor is killed or the broker is stopped and restarted mid-stream; bad ticks and
bad messages land in the dead-letter topic with their reasons."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import numpy as np
import pytest
from kafka import KafkaConsumer

from cluster.adapters.kafka.events import encode_ticks, headers
from cluster.config.settings import Settings, load_settings
from cluster.desk.session import Progress, Session, SessionResult
from cluster.desk.topology import Topology
from tests.conftest import ROOT, replay_ticks
from tests.integration.test_session_on_ray import fingerprint

pytestmark = pytest.mark.ray
TICKS = 60_000
FEED_START: dict[int, int] = {}  # md.ticks's end offsets before run kafka1 (other tests use the broker too)


@pytest.fixture(scope="module")
def inprocess(tmp_path_factory) -> Settings:  # type: ignore[no-untyped-def]
    return load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path_factory.mktemp("var")),
                         session__ticks=TICKS)


def over_kafka(settings: Settings, broker, actors: int = 1) -> Settings:  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "runtime": settings.runtime.model_copy(update={"bus": "kafka", "ingress_actors": actors}),
        "kafka": settings.kafka.model_copy(update={"bootstrap": broker.bootstrap, "username": "octet",
                                             "password_file": broker.base / "password", "poll_timeout_seconds": 90.0})})


@pytest.fixture(scope="module")
def ticks(inprocess: Settings):  # type: ignore[no-untyped-def]
    return replay_ticks(inprocess)


@pytest.fixture(scope="module")
def baseline(ray_local, inprocess: Settings, ticks) -> SessionResult:  # type: ignore[no-untyped-def]
    return Session(inprocess, run_id="inproc", keep_records=True).run(ticks)


def ingress_events(result: SessionResult) -> int:
    """Ticks the ingress actors applied, each batch counted once (a retried call is not applied twice)."""
    return sum(s["events"] for s in result.agent_stats if s["name"].startswith("ingress"))


def test_the_kafka_run_gives_the_same_orders_as_the_in_process_run(baseline, inprocess, kafka_broker,  # type: ignore[no-untyped-def]
                                                                   ticks) -> None:
    from cluster.adapters.kafka.bus import end_offsets, ensure_topics

    ensure_topics(kafka_broker.access, inprocess.kafka)
    FEED_START.update(end_offsets(kafka_broker.access, "md.ticks", 3))
    result = Session(over_kafka(inprocess, kafka_broker), run_id="kafka1", keep_records=True).run(ticks)
    assert len(baseline.orders) >= 4
    assert fingerprint(result) == fingerprint(baseline)
    assert ingress_events(result) == len(ticks) and not result.dead_letters
    consumer = KafkaConsumer("exec.reports", **kafka_broker.access.config(), auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)
    mine = [json.loads(m.value) for m in consumer if json.loads(m.value)["run_id"] == "kafka1"]
    consumer.close()
    assert len(mine) == len(result.reports), "every execution report is on exec.reports, once"


def test_killing_an_ingress_actor_mid_stream_loses_and_doubles_nothing(baseline, inprocess, kafka_broker,  # type: ignore[no-untyped-def]
                                                                       ticks) -> None:
    killed = []

    def chaos(p: Progress, topo: Topology) -> None:
        if p.batch in (8, 19):
            victim = topo.ingress[p.batch % 2]
            os.kill(victim.info()["pid"], signal.SIGKILL)
            killed.append(victim.name)

    result = Session(over_kafka(inprocess, kafka_broker, actors=2), run_id="kafka2", on_batch=chaos, keep_records=True).run(ticks)
    assert killed == ["ingress-0", "ingress-1"]
    restarts = {s["name"]: s["restarts"] for s in result.agent_stats}
    assert restarts["ingress-0"] >= 1 and restarts["ingress-1"] >= 1
    assert ingress_events(result) == len(ticks) and not result.dead_letters
    assert fingerprint(result) == fingerprint(baseline)


def test_stopping_and_restarting_the_broker_mid_stream_loses_and_doubles_nothing(baseline, inprocess,  # type: ignore[no-untyped-def]
                                                                                 kafka_broker, ticks) -> None:
    outage: list[float] = []

    def chaos(p: Progress, _topo: Topology) -> None:
        if p.batch == 9:
            kafka_broker.stop()
            started = time.monotonic()

            def back() -> None:
                time.sleep(3.0)
                kafka_broker.start()
                outage.append(time.monotonic() - started)

            threading.Thread(target=back, daemon=True).start()

    result = Session(over_kafka(inprocess, kafka_broker), run_id="kafka3", on_batch=chaos, keep_records=True).run(ticks)
    assert outage and outage[0] >= 3.0 and kafka_broker.running()
    assert ingress_events(result) == len(ticks) and not result.dead_letters
    assert fingerprint(result) == fingerprint(baseline)


def test_bad_ticks_and_bad_messages_are_dead_lettered_with_reasons(inprocess, kafka_broker, ticks,  # type: ignore[no-untyped-def]
                                                                   monkeypatch) -> None:
    import cluster.adapters.kafka.bus as bus

    bad = ticks.take(slice(0, len(ticks)))
    eur = np.flatnonzero(bad.inst == 0)
    bad.volume[eur[100]] = np.nan                                   # NaN volume
    bad.bid[eur[200]] = bad.ask[eur[200]] + 5                        # crossed
    bad.ts[eur[301]], bad.bid[eur[301]], bad.ask[eur[301]] = bad.ts[eur[300]], bad.bid[eur[300]], bad.ask[eur[300]]
    bad.ts[eur[401]] = bad.ts[eur[399]] - 1                          # out of order
    original = bus.produce_replay

    def with_junk(bootstrap, registry, ticks, batch_size, partitions, on_progress=None):  # type: ignore[no-untyped-def]
        prod = bus.producer(bootstrap)
        prod.send("md.ticks", key=b"EURUSD", value=b"\x00garbage", partition=0, headers=headers("md.ticks", 1))
        prod.send("md.ticks", key=b"EURUSD", value=encode_ticks("EURUSD", 0, ticks.take(slice(0, 3))), partition=0,
                  headers=headers("md.ticks", 9))
        prod.flush()
        prod.close()
        return original(bootstrap, registry, ticks, batch_size, partitions, on_progress)

    monkeypatch.setattr(bus, "produce_replay", with_junk)
    result = Session(over_kafka(inprocess, kafka_broker), run_id="kafka4", keep_records=True).run(bad)
    reasons = Counter(r.split(" (")[0] for r in result.dead_letters.elements())
    assert reasons["NaN or negative volume"] == 1 and reasons["crossed quote"] == 1
    assert reasons["duplicate"] == 1 and reasons["out of order"] == 1
    assert reasons["unknown schema md.ticks v9 on md.ticks"] == 1
    assert sum(v for k, v in reasons.items() if "shorter than its header" in k) == 1
    consumer = KafkaConsumer("deadletter", **kafka_broker.access.config(), auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)
    dlq = Counter(json.loads(m.value)["reason"].split(" (")[0] for m in consumer)
    consumer.close()
    for reason in ("NaN or negative volume", "crossed quote", "duplicate", "out of order",
                   "unknown schema md.ticks v9 on md.ticks"):
        assert dlq[reason] >= 1, (reason, dlq)
    assert ingress_events(result) == len(bad)


def test_a_slow_desk_slows_consumption_and_the_read_ahead_stays_bounded(kafka_broker, inprocess, ticks) -> None:  # type: ignore[no-untyped-def]
    """Without Ray: the ingress agent itself, asked for batches one by one with the desk far behind."""
    from cluster.adapters.kafka.bus import TICKS as TOPIC
    from cluster.adapters.kafka.bus import end_offsets, ensure_topics, produce_replay
    from cluster.adapters.kafka.ingress import KafkaIngressAgent

    reg = inprocess.registry()
    parts = ensure_topics(kafka_broker.access, inprocess.kafka)[TOPIC]
    start = end_offsets(kafka_broker.access, TOPIC, parts)
    batches = produce_replay(kafka_broker.access, reg, ticks, 500, parts)  # 120 batches waiting
    agent = KafkaIngressAgent(reg, 60, kafka_broker.access, "slow", list(range(parts)), parts, start,
                              max_buffered=3)
    held = []
    for k in range(batches):
        agent.poll_batch(k)
        held.append(len(agent._pending))
    assert max(held) <= 3, held  # never more than max_buffered batches read ahead
    assert agent.done == batches - 1


def test_the_run_leaves_its_offsets_committed_at_the_end_of_the_feed(kafka_broker, inprocess) -> None:  # type: ignore[no-untyped-def]
    """After the first Kafka run of this module, its consumer group has committed every md.ticks
    partition up to the end of that run's messages: one chunk per batch per instrument (the final
    commit is waited for)."""
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(**kafka_broker.access.config(), group_id=f"{inprocess.kafka.group}.kafka1",
                             enable_auto_commit=False)
    try:
        committed = {p: consumer.committed(TopicPartition("md.ticks", p)) for p in range(3)}  # EURUSD, GBPUSD, USDJPY
    finally:
        consumer.close()
    batches = TICKS // inprocess.session.batch_size
    assert FEED_START, "run kafka1 comes first in this module"
    assert committed == {p: FEED_START[p] + batches for p in range(3)}, (committed, FEED_START)
