"""The ``audit`` topic over a real Kafka broker: a session on the Kafka bus publishes every audit
record it commits, in chain order, and the signed anchor of each batch, the same anchors as its
anchor log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from sqlalchemy import select

from cluster.config.settings import load_settings
from cluster.desk.session import Session
from cluster.storage import anchors, audit
from cluster.storage.store import SessionStore
from tests.conftest import ROOT, replay_ticks

pytestmark = pytest.mark.ray


def test_the_audit_topic_carries_every_record_and_each_batchs_signed_anchor(ray_local, kafka_broker,  # type: ignore[no-untyped-def]
                                                                            tmp_path: Path) -> None:
    settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path / "var"), session__ticks=40_000,
                             runtime__bus="kafka", kafka__bootstrap=kafka_broker.bootstrap,
                             kafka__username="octet", kafka__password_file=str(kafka_broker.base / "password"))
    store = SessionStore(f"sqlite:///{tmp_path / 'octet.db'}")
    Session(settings, store, run_id="audited").run(replay_ticks(settings))
    with store.engine.connect() as conn:
        stored = {r.seq: r.hash for r in conn.execute(select(audit.audit.c.seq, audit.audit.c.hash))}
    consumer = KafkaConsumer("audit", **kafka_broker.access.config(), auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)
    docs = [json.loads(m.value) for m in consumer]
    consumer.close()
    records = [d for d in docs if d["type"] == "record"]
    signed = [d for d in docs if d["type"] == "anchor"]
    assert [d["seq"] for d in records] == sorted(stored) == list(range(1, len(stored) + 1))  # every one, in order
    assert all(stored[d["seq"]] == d["hash"] and d["run_id"] == "audited" for d in records)
    assert records[0]["kind"] == "run" and records[-1]["kind"] == "run_end" and len(records) > 10  # and the facts
    key = anchors.load_key(anchors.key_path(settings))
    log = [json.loads(line) for line in anchors.log_path(settings).read_text().splitlines()]
    assert [{k: v for k, v in d.items() if k != "type"} for d in signed] == log  # each batch's anchor, as logged
    assert len(log) >= 3 and [d["seq"] for d in log] == sorted(d["seq"] for d in log) and log[-1]["seq"] == len(stored) and log[-1]["hash"] == stored[len(stored)]
    assert all(anchors.sign(key, d) == d["mac"] for d in log)
    assert anchors.check(store.engine, anchors.log_path(settings), key).ok
    store.close()
