"""The Kafka backbone: topics, the market-data producer, and the publisher of the desk's events.

Topics are created at start-up with the partition counts and retention of ``kafka.topics``. Ticks
travel on ``md.ticks`` as chunks of one instrument (``cluster.adapters.kafka.events``), keyed by the instrument
and placed on partition ``instrument index % partitions``, one chunk per instrument per batch (an
empty one when the instrument had no tick), so an ingress actor knows when it holds a whole batch
of its instruments. Producers are idempotent with ``acks=all``: a retry after a broker restart
never writes a message twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import TopicPartition

from cluster.adapters.kafka.events import TICKS_SCHEMA, encode_json, encode_ticks, headers, ticks_version
from cluster.config.secrets import KafkaAccess
from cluster.config.settings import KafkaSettings
from cluster.storage.rows import breaker_row, fill_row, jsonable, report_row, signal_row
from trading.breaker import BreakerEvent
from trading.instruments import InstrumentRegistry
from trading.market import TickBatch
from trading.orders import ExecutionReport, Signal

TICKS = "md.ticks"


def producer(access: KafkaAccess, **extra: Any) -> KafkaProducer:
    return KafkaProducer(**access.config(), acks="all", enable_idempotence=True, linger_ms=2,
                         batch_size=1 << 20, max_request_size=16 << 20, retries=2**31 - 1,
                         delivery_timeout_ms=300_000, request_timeout_ms=30_000, **extra)


def ensure_topics(access: KafkaAccess, settings: KafkaSettings, timeout_s: float = 60.0) -> dict[str, int]:
    """Create the topics that do not exist yet; returns each topic's partition count."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(**access.config(), request_timeout_ms=10_000)
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(name, t.partitions, 1, topic_configs={"retention.ms": str(int(t.retention_hours * 3.6e6))})
               for name, t in settings.topics.items() if name not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
        counts = {}
        for meta in admin.describe_topics(list(settings.topics)):
            counts[meta["name"]] = len(meta["partitions"])
        return counts
    finally:
        admin.close()


def end_offsets(access: KafkaAccess, topic: str, partitions: int) -> dict[int, int]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(**access.config(), enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def batches_of(ticks: TickBatch, batch_size: int) -> Iterable[tuple[int, TickBatch]]:
    for k, start in enumerate(range(0, len(ticks), batch_size)):
        yield k, ticks.take(slice(start, start + batch_size))


def publish_ticks(prod: KafkaProducer, registry: InstrumentRegistry, partitions: int, k: int,
                  batch: TickBatch) -> int:
    """Batch ``k`` as one chunk per instrument (empty ones too); returns the ticks sent."""
    hdrs = headers(TICKS_SCHEMA, ticks_version(batch))
    for i, symbol in enumerate(registry.symbols):
        mine = batch.take(batch.inst == i)
        prod.send(TICKS, key=symbol.encode(), value=encode_ticks(symbol, k, mine), partition=i % partitions,
                  headers=hdrs)
    return len(batch)


def produce_replay(access: KafkaAccess, registry: InstrumentRegistry, ticks: TickBatch, batch_size: int,
                   partitions: int, on_progress: Callable[[int], None] | None = None) -> int:
    """The replay feed onto ``md.ticks``, every message acknowledged by the broker; returns batches."""
    prod = producer(access)
    n = 0
    try:
        for k, batch in batches_of(ticks, batch_size):
            publish_ticks(prod, registry, partitions, k, batch)
            n = k + 1
            if on_progress is not None and k % 50 == 0:
                on_progress(k)
        prod.flush()
    finally:
        prod.close()
    return n


class PublishedFacts(Protocol):
    """What the publisher reads of a batch's record (``cluster.desk.record.BatchRecord``)."""

    @property
    def signals(self) -> Sequence[Signal]: ...
    @property
    def reports(self) -> Sequence[ExecutionReport]: ...
    @property
    def breaker_events(self) -> Sequence[BreakerEvent]: ...


# Audit records committed by the store, each commit's rows with their signed anchor (or None).
AuditBatch = Sequence[tuple[Sequence[dict[str, Any]], dict[str, Any] | None]]


class Publisher:
    """The desk's events on their topics (JSON v1): signals, execution reports, breaker events and
    audit records, sent after each batch is durable in the store and flushed before the next."""

    def __init__(self, access: KafkaAccess) -> None:
        self.prod = producer(access)
        self.sent = 0

    def send(self, topic: str, key: str, doc: Any) -> None:
        self.prod.send(topic, key=key.encode(), value=encode_json(doc), headers=headers(topic, 1))
        self.sent += 1

    def publish(self, run_id: str, r: PublishedFacts, audit_records: AuditBatch = ()) -> None:
        """A batch's record: its signals, execution reports and breaker events on their topics, and
        the audit records the store committed (with their signed anchor) on ``audit``; flushed."""
        for s in r.signals:
            self.send("signals", s.symbol, {"run_id": run_id, **jsonable(signal_row(s))})
        for x in r.reports:
            doc = {"run_id": run_id, **jsonable(report_row(x))}
            if x.fill is not None:
                doc["fill"] = jsonable(fill_row(x))
            self.send("exec.reports", x.account_id, doc)
        for e in r.breaker_events:
            self.send("breaker.events", e.scope, {"run_id": run_id, **jsonable(breaker_row(e))})
        for rows, anchor in audit_records:  # one key: the chain stays in order on one partition
            for row in rows:
                self.send("audit", "chain", {"type": "record", **row})
            if anchor is not None:
                self.send("audit", "chain", {"type": "anchor", **anchor})
        self.flush()

    def flush(self) -> None:
        self.prod.flush()

    def close(self) -> None:
        self.prod.flush()
        self.prod.close()
