"""Ingress benchmark over a real Kafka broker (KRaft, started here under a temporary directory).

1. ticks/s from the broker through the Kafka ingress actors (decode, validate, bars) to the
   market-analysis actors (Wyckoff), with 1 and with 2 ingress actors, offsets committed after
   every batch as in a session. The replay is produced first (producer ticks/s is printed too).
   The floor is measured in the same run: a bare kafka-python consumer (the same SASL access and
   fetch sizes as an ingress actor, no group, nothing decoded) reading the same records of the
   same partitions from the same offsets, alternated with the ingress runs (raw, 1 actor, raw,
   2 actors, raw) so that the day's drift touches both; ``ratio_to_raw_consumer`` = ingress
   ticks/s over the floor's ticks/s (the mean of the raw reads just before and just after).
2. tick-to-order over Kafka: the demo session with ``runtime.bus: kafka``, from the moment the
   driver asks the ingress actors for the batch holding a signal's tick to rust_exec's
   acknowledgement of the order, p50/p99; with the session's batch of 2,000 ticks and with 250.

Prints its figures and writes bench/results/ingress.json; it never fails on a time.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402

TICKS = int(os.environ.get("BENCH_TICKS", "1000000"))
KEY = os.urandom(32)  # signs the agents' saved state, as the desk's state.key does


def raw_consume(access: Any, topic: str, partitions: int, start: dict[int, int], end: dict[int, int],
                ticks: int) -> float:
    """The floor: ticks/s of a bare consumer reading the records [start, end) of every partition off
    the broker and counting them (nothing decoded, no group, no commit)."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    # the fetch sizes of cluster.adapters.kafka.ingress.KafkaIngressAgent._connect
    c = KafkaConsumer(**access.config(), enable_auto_commit=False, max_poll_records=200, fetch_max_bytes=4 << 20,
                      max_partition_fetch_bytes=512 << 10, request_timeout_ms=30_000)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        for tp in tps:
            c.seek(tp, start.get(tp.partition, 0))
        c.end_offsets(tps)  # connected to the partitions' leader before the clock starts, as the actors are
        want = sum(end[p] - start.get(p, 0) for p in range(partitions))
        records = 0
        deadline = time.monotonic() + 600
        started = time.perf_counter()
        while records < want:
            for tp, msgs in c.poll(timeout_ms=100, max_records=200).items():
                records += sum(1 for m in msgs if m.offset < end[tp.partition])
            if time.monotonic() > deadline:
                raise TimeoutError(f"bare consumer: {records:,} of {want:,} records after 600 s")
        return ticks / (time.perf_counter() - started)
    finally:
        c.close()


def consume(settings: Any, access: Any, partitions: int, start: dict[int, int], batches: int, actors: int,
            state_dir: Path) -> float:
    """ticks/s through ``actors`` ingress actors into the analysis shards, committing every batch."""
    import ray

    from actors.analysis import MarketAnalysisAgent
    from actors.shell import AgentShell
    from cluster.adapters.kafka.ingress import KafkaIngressAgent
    from cluster.desk.topology import AgentRef

    reg = settings.registry()
    shell = ray.remote(AgentShell)
    group = f"bench-{actors}-{time.time_ns()}"
    ingress = [AgentRef(f"ingress-{i}", shell.options(num_cpus=0).remote(
        f"ingress-{i}", str(state_dir / group), KafkaIngressAgent, reg, settings.session.bar_seconds, access, group,
        [p for p in range(partitions) if p % actors == i], partitions, start, 8, 20.0, key=KEY)) for i in range(actors)]
    shards = settings.runtime.analysis_shards
    analysis = [AgentRef(f"analysis-{i}", shell.options(num_cpus=0).remote(
        f"analysis-{i}", str(state_dir / group), MarketAnalysisAgent, reg, reg.symbols[i::shards],
        settings.wyckoff_params(), key=KEY)) for i in range(shards)]
    ray.get([r.handle.info.remote() for r in ingress + analysis])
    started = time.perf_counter()
    ticks = 0
    for b in range(batches):
        refs = [ing.call("poll_batch", b) for ing in ingress]
        if b + 1 < batches:  # the ingress actors read b+1 while the analysis works on b
            for ing in ingress:
                ing.handle.query.remote("prefetch", b + 1)
        ray.get([a.call("on_batch", *refs) for a in analysis])
        ticks += sum(len(r.clean) for r in ray.get(refs))
        for ing in ingress:
            ing.handle.query.remote("commit", b)
    rate = ticks / (time.perf_counter() - started)
    for r in ingress + analysis:
        st = r.info()
        print(f"   {st['name']}: {st['calls']} calls, {st['busy_s'] / max(st['calls'], 1) * 1000:.2f} ms each, "
              f"saving state {st.get('save_s', 0) / max(st['calls'], 1) * 1000:.2f} ms each", flush=True)
    for r in ingress + analysis:
        ray.kill(r.handle, no_restart=True)
    return rate


def main() -> None:
    from cluster.adapters.feeds.replay import generate_ticks
    from cluster.adapters.kafka.bus import TICKS as TOPIC
    from cluster.adapters.kafka.bus import end_offsets, ensure_topics, produce_replay
    from cluster.config.settings import load_settings
    from cluster.desk.session import Session
    from cluster.desk.topology import init_ray
    from cluster.devservers.services import LocalKafka

    base = Path(tempfile.mkdtemp(prefix="octet-bench-kafka-"))
    broker = LocalKafka(base / "broker")
    try:
        access = broker.started()
        creds = {"kafka__bootstrap": access.bootstrap, "kafka__username": access.username,
                 "kafka__password_file": str(access.password_file)}
        settings = load_settings(ROOT / "octet.yaml", session__ticks=TICKS, runtime__data_dir=str(base / "var"),
                                 runtime__bus="kafka", **creds)
        reg = settings.registry()
        ticks, _ = generate_ticks(reg, settings.generator_profiles(), TICKS, 5, settings.session.start)
        partitions = ensure_topics(access, settings.kafka)[TOPIC]
        start = end_offsets(access, TOPIC, partitions)
        t = time.perf_counter()
        batches = produce_replay(access, reg, ticks, settings.session.batch_size, partitions)
        produce_rate = len(ticks) / (time.perf_counter() - t)
        print(f"produced {len(ticks):,} ticks in {batches:,} batches onto {partitions} partitions: "
              f"{produce_rate:,.0f} ticks/s (idempotent, acks=all)", flush=True)
        end = end_offsets(access, TOPIC, partitions)
        records = sum(end[p] - start.get(p, 0) for p in range(partitions))
        init_ray(settings)

        def raw() -> float:  # the floor: the median of five reads (a read is a fraction of a second)
            runs = sorted(raw_consume(access, TOPIC, partitions, start, end, len(ticks)) for _ in range(5))
            print(f"bare consumer, {records:,} records: {runs[2]:,.0f} ticks/s (reads: "
                  f"{', '.join(f'{r:,.0f}' for r in runs)})", flush=True)
            raw_runs.append(runs[2])
            return runs[2]

        rates: dict[int, float] = {}
        floors: dict[int, float] = {}
        raw_runs: list[float] = []
        before = raw()
        for actors in (1, 2):  # raw, 1 actor, raw, 2 actors, raw: drift touches the floor and the actors alike
            rates[actors] = consume(settings, access, partitions, start, batches, actors, base / "state")
            after = raw()
            floors[actors] = (before + after) / 2
            before = after
            print(f"broker -> {actors} ingress actor(s) -> {settings.runtime.analysis_shards} analysis shards: "
                  f"{rates[actors]:,.0f} ticks/s, x{rates[actors] / floors[actors]:.4g} of the bare consumer's "
                  f"{floors[actors]:,.0f} ticks/s", flush=True)
        latency: dict[int, dict[str, Any]] = {}
        for batch_size in (2000, 250):
            demo = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(base / "var"), runtime__bus="kafka",
                                 session__batch_size=batch_size, **creds)
            s = demo.session
            demo_ticks, _ = generate_ticks(reg, demo.generator_profiles(), s.ticks, s.seed, s.start)
            result = Session(demo, keep_records=True).run(demo_ticks)  # a short run: every latency
            lat = result.tick_to_order_ms
            latency[batch_size] = {"p50": round(percentile(lat, 0.5), 2), "p99": round(percentile(lat, 0.99), 2),
                                   "orders": len(result.orders), "ticks_per_s": round(result.ticks / result.elapsed_s)}
            print(f"demo session over Kafka, batches of {batch_size}: tick-to-order p50 {latency[batch_size]['p50']} ms,"
                  f" p99 {latency[batch_size]['p99']} ms over {len(lat)} orders; "
                  f"{latency[batch_size]['ticks_per_s']:,} ticks/s", flush=True)
        out = {
            "benchmark": "ingress", "ticks": len(ticks), "partitions": partitions, "kafka": "4.3.1 (KRaft, one node)",
            "produce_ticks_per_s": round(produce_rate),
            "ticks_per_s_1_actor": round(rates[1]), "ticks_per_s_2_actors": round(rates[2]),
            "ratio_2_to_1_actors": round(rates[2] / rates[1], 2),
            "raw_consumer_records": records,
            "raw_consumer_ticks_per_s": round(sorted(raw_runs)[len(raw_runs) // 2]),
            "raw_consumer_ticks_per_s_1_actor": round(floors[1]), "raw_consumer_ticks_per_s_2_actors": round(floors[2]),
            "ratio_to_raw_consumer_1_actor": float(f"{rates[1] / floors[1]:.4g}"),
            "ratio_to_raw_consumer_2_actors": float(f"{rates[2] / floors[2]:.4g}"),
            "raw_consumer_runs_ticks_per_s": [round(r) for r in raw_runs],
            "tick_to_order_p50_ms": latency[2000]["p50"], "tick_to_order_p99_ms": latency[2000]["p99"],
            "session_ticks_per_s": latency[2000]["ticks_per_s"],
            "tick_to_order_by_batch_size": latency,
            "notes": "ticks/s: broker -> ingress actors -> analysis shards, commit after every batch; "
                     "raw_consumer_ticks_per_s: the floor, a bare kafka-python consumer (same SASL access and fetch "
                     "sizes, no group, nothing decoded) reading the same records from the same offsets in the same "
                     "run, alternated raw, 1 actor, raw, 2 actors, raw (each raw figure the median of five reads); "
                     "ratio_to_raw_consumer_N: ingress ticks/s over the mean of the raw reads around it; tick-to-order: "
                     "the demo session over Kafka, from the driver's request for the batch holding the signal's tick "
                     "to rust_exec's acknowledgement of the order. The headline figures are for the default "
                     "batches of 2,000 ticks (250 for comparison). bench/ray_hops.py has the cost "
                     "of the saga's five actor calls alone on this machine.",
            "machine": machine(),
        }
        (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
        (ROOT / "bench" / "results" / "ingress.json").write_text(json.dumps(out, indent=2) + "\n")
        print("-> bench/results/ingress.json")
    finally:
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
