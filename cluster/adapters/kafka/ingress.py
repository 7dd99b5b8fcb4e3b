"""Kafka ingress: one of a pool of actors reading ``md.ticks`` for the desk.

Each actor owns a fixed set of partitions (partition ``p`` goes to actor ``p % actors``) and
commits its offsets in the consumer group of the run. ``poll_batch(k)`` reads until it holds
batch ``k`` of every instrument it owns, validates it (the same ``IngressAgent`` as the embedded
mode: bad ticks are set aside with their reason) and returns it; a message it cannot decode, or
of a schema version it does not know, is dead-lettered with the reason. ``commit(k)`` commits the
offsets up to batch ``k``: the driver calls it once the batch's effects are durable in the store.
So a restarted actor (or a restarted broker) re-reads from the last durable batch and skips what
it has already processed: nothing is lost, nothing is processed twice.

Backpressure: the actor keeps at most ``max_buffered`` batches read ahead; a message further
ahead is sought back to and read again when the desk gets there, so a slow desk slows
consumption and memory stays bounded.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from actors.ingress import DeadLetter, IngressAgent, IngressResult
from cluster.adapters.kafka.events import (
    BARS_SCHEMA,
    BARS_VERSION,
    TickChunk,
    UnknownSchema,
    chunks_to_batch,
    decode_ticks,
    encode_bars,
    encode_json,
    headers,
)
from cluster.config.secrets import KafkaAccess
from trading.instruments import InstrumentRegistry
from trading.market import Bar

DLQ = "deadletter"


class KafkaIngressAgent:
    retry_window = 1  # results recorded for a retry: one batch (the desk waits for each before the next)

    def __init__(self, registry: InstrumentRegistry, bar_seconds: int, access: KafkaAccess, group: str,
                 partitions: list[int], n_partitions: int, start_offsets: dict[int, int],
                 max_buffered: int = 8, poll_timeout_s: float = 120.0, topic: str = "md.ticks") -> None:
        self.registry = registry
        self.ingress = IngressAgent(registry, bar_seconds)
        self.access, self.group, self.topic = access, group, topic
        self.partitions = sorted(partitions)
        self.start_offsets = start_offsets
        self.owned = [s for i, s in enumerate(registry.symbols) if i % n_partitions in self.partitions]
        self.max_buffered = max_buffered
        self.poll_timeout_s = poll_timeout_s
        self.done = -1  # the last batch processed
        self.read_through: dict[int, int] = {}  # partition -> offset after the last batch processed
        self.through_at: dict[int, dict[int, int]] = {}  # batch -> read_through as it was after it
        self.last_events = 0
        self._reset()
        self._warm()

    def _warm(self) -> None:
        """Connect now, so that the first batch does not pay for it (and look slow to the breaker)."""
        try:
            self._connect()
        except Exception:  # noqa: BLE001 - the broker may be down: the first poll connects and waits
            self._reset()

    def _reset(self) -> None:
        self._consumer: Any = None
        self._dlq: Any = None  # the producer for dead letters and bars
        self._pending: dict[int, dict[str, TickChunk]] = {}
        self._ends: dict[int, dict[int, int]] = {}  # batch -> partition -> offset after its message
        self._stray: list[DeadLetter] = []

    def __getstate__(self) -> dict[str, Any]:  # the connection and the read-ahead are not state
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()
        self._warm()

    def _connect(self) -> Any:
        if self._consumer is None:
            from kafka import KafkaConsumer
            from kafka.structs import TopicPartition

            from cluster.adapters.kafka.bus import producer

            c = KafkaConsumer(**self.access.config(), group_id=self.group, enable_auto_commit=False,
                              auto_offset_reset="earliest", max_poll_records=200, fetch_max_bytes=4 << 20,
                              max_partition_fetch_bytes=512 << 10, request_timeout_ms=30_000,
                              reconnect_backoff_max_ms=1000)
            tps = [TopicPartition(self.topic, p) for p in self.partitions]
            c.assign(tps)
            for tp in tps:  # after the last batch processed (committed or not), or where the run's feed began
                done = c.committed(tp)
                c.seek(tp, max(done if done is not None else self.start_offsets.get(tp.partition, 0),
                               self.read_through.get(tp.partition, 0)))
            self._consumer = c
            self._dlq = producer(self.access)
        return self._consumer

    def _dead(self, reason: str, payload: bytes, partition: int, offset: int, stray: bool = True) -> None:
        """To the dead-letter topic with its reason; a message that is no tick of a batch (``stray``)
        is also reported with the next batch."""
        self._dlq.send(DLQ, key=b"md.ticks", value=encode_json({"topic": self.topic, "partition": partition,
                                                                 "offset": offset, "reason": reason,
                                                                 "payload_hex": payload[:256].hex()}),
                       headers=headers(DLQ, 1))
        if stray:
            self._stray.append(DeadLetter(0, "?", 0, 0, reason))

    def _read(self, k: int) -> None:
        """Poll until batch ``k`` of every owned instrument is here. A message more than
        ``max_buffered`` batches ahead of ``k`` is not kept: its partition is sought back to it and
        read again later, so the read-ahead is bounded by partitions x ``max_buffered`` batches
        (and the fetch sizes), however far a slow desk falls behind."""
        c = self._connect()
        deadline = time.monotonic() + self.poll_timeout_s
        while len(self._pending.get(k, {})) < len(self.owned):
            records = c.poll(timeout_ms=100, max_records=200)
            for tp, msgs in records.items():
                for m in msgs:
                    try:
                        chunk = decode_ticks(m.value, m.headers)
                    except (UnknownSchema, ValueError) as exc:
                        self._dead(str(exc), m.value or b"", tp.partition, m.offset)
                        continue
                    if chunk.batch <= self.done:
                        continue  # processed before a restart: its offset was not yet committed
                    if chunk.batch > k + self.max_buffered:  # too far ahead: read it again later
                        c.seek(tp, m.offset)
                        break
                    self._pending.setdefault(chunk.batch, {})[chunk.symbol] = chunk
                    ends = self._ends.setdefault(chunk.batch, {})
                    ends[tp.partition] = max(ends.get(tp.partition, 0), m.offset + 1)
            if time.monotonic() > deadline:
                have = sorted(self._pending.get(k, {}))
                raise TimeoutError(f"ingress {self.partitions}: batch {k} not complete after "
                                   f"{self.poll_timeout_s:.0f} s (is the broker up?); it has {have} of "
                                   f"{self.owned}")

    def prefetch(self, k: int) -> None:
        """Read batch ``k`` ahead while the desk works on the one before (a query: nothing is saved;
        a restart just reads it again)."""
        if k > self.done:
            self._read(k)

    def poll_batch(self, k: int) -> IngressResult:
        self._read(k)
        chunks = self._pending.pop(k)
        batch = chunks_to_batch([chunks[s] for s in self.owned], self.registry)
        result = self.ingress.process(batch)
        clean = result.clean.take(np.lexsort((result.clean.inst, result.clean.ts)))
        for d in result.dead_letters:
            self._dead(d.reason, encode_json({"ts_ns": d.ts_ns, "symbol": d.symbol, "bid": d.bid, "ask": d.ask}),
                       -1, -1, stray=False)
        self._stray, stray = [], self._stray
        by_symbol: dict[str, list[Bar]] = {}
        for bar in result.bars:  # closed bars, for research and the dashboard: one message per instrument
            by_symbol.setdefault(bar.symbol, []).append(bar)
        for symbol, bars in by_symbol.items():
            self._dlq.send(BARS_SCHEMA, key=symbol.encode(), headers=headers(BARS_SCHEMA, BARS_VERSION),
                           value=encode_bars(symbol, k, bars))
        # (dead letters and bars are flushed by commit(), before the offsets move past them)
        for p, off in self._ends.pop(k, {}).items():
            self.read_through[p] = max(self.read_through.get(p, 0), off)
        for old in [b for b in self._ends if b < k]:
            self._ends.pop(old)
        self.through_at[k] = dict(self.read_through)  # what commit(k) may commit, even once k+1 is read
        for old in [b for b in self.through_at if b < k - 2 * self.max_buffered]:
            self.through_at.pop(old)
        self.done = k
        self.last_events = len(batch)
        return IngressResult(clean, result.bars, (*result.dead_letters, *stray))

    def commit(self, k: int, wait: bool = False) -> dict[int, int]:
        """Commit the offsets up to batch ``k`` (the desk has made its effects durable). Without
        ``wait`` it does not wait for the broker: a commit lost to a broker restart is covered by
        the next one, and a restarted actor resumes after its saved ``read_through`` in any case.
        The last batch's commit waits (retrying through a broker restart)."""
        from kafka.structs import OffsetAndMetadata, TopicPartition

        through = self.through_at.get(k, {})
        if not through:
            return through
        c = self._connect()
        self._dlq.flush()  # this batch's dead letters and bars are on the broker before its offsets move
        offsets = {TopicPartition(self.topic, p): OffsetAndMetadata(off, "", -1) for p, off in through.items()}
        if not wait:
            c.commit_async(offsets)
            return through
        deadline = time.monotonic() + self.poll_timeout_s
        while True:
            try:
                c.commit(offsets)
                return through
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
