"""What anchoring the audit chain costs per batch.

* the anchor alone: ``AnchorLog.write`` (one HMAC-SHA256 over the head, one JSON line appended and
  fsynced), timed over 2,000 calls;
* in the writer: ``SessionStore.flush`` of 100 execution reports with their fills, orders and
  audit records (one transaction per batch, as the storage benchmark writes them) into SQLite,
  without and with the anchor log, batches interleaved so both see the same disk.

Files go under a temporary directory on the disk of the repository (not a tmpfs). Prints its
figures and writes bench/results/audit_anchors.json; it never fails on a time.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402

CALLS = 2_000
BATCHES = 200
PER_BATCH = 100


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def bench_anchor(base: Path) -> dict[str, float]:
    from cluster.storage.anchors import AnchorLog, load_key

    log = AnchorLog(base / "audit" / "anchors.jsonl", load_key(base / "secrets" / "audit.key", create=True))
    took = []
    for i in range(CALLS):
        started = time.perf_counter()
        log.write(i + 1, f"{i:064x}", "0" * 64, "bench")
        took.append((time.perf_counter() - started) * 1e3)
    log.close()
    from cluster.storage.anchors import sign

    doc = {"v": 1, "seq": 1, "hash": "0" * 64, "chain": "0" * 64, "run_id": "bench", "at": "2026-03-02T00:00:00Z"}
    started = time.perf_counter()
    for _ in range(CALLS):
        sign(log.key, doc)
    sign_us = (time.perf_counter() - started) / CALLS * 1e6
    return {"p50_ms": round(statistics.median(took), 3), "p99_ms": round(pct(took, 0.99), 3),
            "mean_ms": round(statistics.fmean(took), 3), "hmac_us": round(sign_us, 1),
            "line_bytes": (base / "audit" / "anchors.jsonl").stat().st_size // CALLS}


def _batch(result: Any, run_id: str, start: int) -> None:
    from trading.orders import CloseReason, ExecutionReport, Fill, FillKind, Order, OrderStatus, OrderType, Side

    t0 = 1_772_409_600 * 10**9
    for i in range(start, start + PER_BATCH):
        coid = f"{run_id}-{i}"
        price = Decimal("1.08500") + Decimal(i % 50) / 100_000
        result.orders.append(Order(coid, "acc", "EURUSD", Side.BUY, Decimal("1.25"), OrderType.MARKET,
                                   price - Decimal("0.00200"), price + Decimal("0.00400"), f"sig-{i}", price, 15,
                                   t0 + i, t0 + i + 10**9))
        fill = Fill(coid, "acc", "EURUSD", Side.BUY, Decimal("1.25"), price, t0 + i, FillKind.OPEN, CloseReason.ENTRY,
                    Decimal("4.38"), Decimal("0"))
        result.reports.append(ExecutionReport(coid, "acc", OrderStatus.FILLED, t0 + i, "", fill))


def bench_flush(base: Path) -> dict[str, float]:
    from cluster.desk.record import BatchLog
    from cluster.storage.anchors import AnchorLog, load_key
    from cluster.storage.store import SessionStore

    key = load_key(base / "secrets" / "audit.key", create=True)
    plain = SessionStore(f"sqlite:///{base / 'plain.db'}")
    anchored = SessionStore(f"sqlite:///{base / 'anchored.db'}", anchors=AnchorLog(base / "flush.jsonl", key))
    took: dict[str, list[float]] = {"plain": [], "anchored": []}
    for b in range(BATCHES):
        for name, store in (("plain", plain), ("anchored", anchored)):
            log = BatchLog()
            _batch(log, name, b * PER_BATCH)
            record = log.seal(b + 1, 0, snapshots={}, headrooms={})
            started = time.perf_counter()
            store.flush(name, record)
            took[name].append((time.perf_counter() - started) * 1e3)
    plain.close()
    anchored.close()
    out = {f"{name}_p50_ms": round(statistics.median(xs), 3) for name, xs in took.items()}
    out.update({f"{name}_mean_ms": round(statistics.fmean(xs), 3) for name, xs in took.items()})
    out["anchoring_share_of_flush"] = round(1 - out["plain_mean_ms"] / out["anchored_mean_ms"], 3)
    return out


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix=".bench-anchors-", dir=ROOT))
    try:
        anchor = bench_anchor(base)
        print(f"anchor (HMAC + append + fsync): p50 {anchor['p50_ms']} ms, p99 {anchor['p99_ms']} ms, mean "
              f"{anchor['mean_ms']} ms; the HMAC alone {anchor['hmac_us']} µs; {anchor['line_bytes']} bytes a line",
              flush=True)
        flush = bench_flush(base)
        print(f"flush of {PER_BATCH} reports into SQLite: {flush['plain_mean_ms']} ms without anchors, "
              f"{flush['anchored_mean_ms']} ms with (mean over {BATCHES} batches)", flush=True)
        out = {"benchmark": "audit_anchors", "machine": machine(), "anchor": anchor, "calls": CALLS,
               "flush_sqlite": flush, "batches": BATCHES, "reports_per_batch": PER_BATCH,
               "notes": "anchor: AnchorLog.write, one per committed batch (HMAC-SHA256, one JSON line, fsync) "
                        "on the repository's disk (ext4); flush: SessionStore.flush into SQLite "
                        "(synchronous=FULL) with and without the anchor log, batches interleaved."}
        results = ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        (results / "audit_anchors.json").write_text(json.dumps(out, indent=2) + "\n")
        print("-> bench/results/audit_anchors.json")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
