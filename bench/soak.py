"""A simulated month through the live desk at full speed: does any actor's memory grow with the run?

The desk (with its checkpoints, as `octet desk start` runs it) replays a month of the generator's
three instruments (``SOAK_DAYS`` days of market time, about 13,000 ticks a day) as fast as it goes.
Every actor's resident memory (VmRSS of its process) and the driver's are read at the 10% mark and
at the end; the figure is each one's ratio end / 10% (target: within 1.2).

Prints its figures and writes bench/results/soak.json; it never fails on a time or a ratio.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cluster  # noqa: E402, F401 - Ray's token authentication is set before Ray is imported
from bench.common import machine, write_results  # noqa: E402

DAYS = float(os.environ.get("SOAK_DAYS", "30"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    import yaml

    from cluster.adapters.feeds.paced import ReplayFeed, replay_ticks
    from cluster.config.secrets import state_key
    from cluster.config.settings import load_settings
    from cluster.desk.desk import DeskFiles
    from cluster.desk.session import Session
    from cluster.desk.topology import init_ray
    from cluster.storage.store import SessionStore

    with tempfile.TemporaryDirectory(prefix="octet-soak-") as tmp:
        doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
        doc["runtime"]["data_dir"] = tmp
        per_day = sum(i["generator"].get("ticks_per_minute", 9.0) for i in doc["instruments"]) * 60 * 24
        doc["session"]["ticks"] = int(per_day * DAYS * 5 / 7)  # trading days only
        config = Path(tmp) / "soak.yaml"
        config.write_text(yaml.safe_dump(doc))
        settings = load_settings(config, desk__speed=None)
        ticks = replay_ticks(settings)
        days = (int(ticks.ts[-1]) - int(ticks.ts[0])) / 86_400e9
        init_ray(settings)
        size = settings.session.batch_size
        batches = (len(ticks) + size - 1) // size
        marks: dict[str, dict[str, float]] = {}
        pids: dict[str, int] = {}
        started = time.perf_counter()

        def on_batch(p: Any, topo: Any) -> None:
            if not pids:
                pids.update({ref.name: ref.info()["pid"] for ref in topo.all()})
            at = "10%" if p.batch == max(1, batches // 10) else "end" if p.batch == batches else None
            if p.batch % max(1, batches // 20) == 0:
                print(f"  {p.batch}/{batches} batches, {p.ticks:,} ticks, {p.orders} orders, "
                      f"{p.ticks / max(p.elapsed_s, 1e-9):,.0f} ticks/s", flush=True)
            if at:
                marks[at] = {name: round(rss_mb(pid), 1) for name, pid in pids.items()}
                marks[at]["driver"] = round(rss_mb(os.getpid()), 1)

        files = DeskFiles(Path(tmp), state_key(Path(tmp)))
        session = Session(settings, SessionStore.sqlite(Path(tmp)), "soak", on_batch=on_batch, desk=files.for_run("soak"))
        result = session.run(ReplayFeed(ticks))
        elapsed = time.perf_counter() - started
        ratios = {name: round(marks["end"][name] / marks["10%"][name], 3) for name in marks["10%"]}
        worst = max(ratios, key=lambda n: ratios[n])
        out = {"machine": machine(), "market_days": round(days, 1), "ticks": result.ticks, "batches": result.batches,
               "orders": result.counts["orders"], "trades": result.counts["trades"], "elapsed_s": round(elapsed, 1),
               "ticks_per_s": round(result.ticks / elapsed), "rss_mb_10pct": marks["10%"], "rss_mb_end": marks["end"],
               "rss_end_to_10pct": ratios, "worst": {worst: ratios[worst]}, "target": "every ratio <= 1.2"}
        write_results("soak", out)


if __name__ == "__main__":
    main()
