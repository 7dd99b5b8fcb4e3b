"""The demo's orders, fills and closed trades, hashed: a refactor that changes behaviour changes it.

Runs ``octet demo`` (the embedded defaults of octet.yaml) into a fresh data directory, then hashes
every row of ``orders``, ``fills`` and ``trades`` in a fixed order, leaving out only what differs
between two runs of the same code (the run id and the store's row ids). Prints the digests and
writes them to bench/results/demo_fingerprint.json.

    .venv/bin/python bench/demo_fingerprint.py [--ticks N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLES = {"orders": "client_order_id", "fills": "client_order_id, id", "trades": "position_id"}
VOLATILE = {"run_id", "id"}


def digest(db: Path) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    with sqlite3.connect(db) as con:
        for table, order in TABLES.items():
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})") if r[1] not in VOLATILE]
            rows = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}").fetchall()
            h = hashlib.sha256()
            for row in rows:
                h.update(json.dumps([str(v) for v in row]).encode())
            out[table] = {"rows": len(rows), "sha256": h.hexdigest()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OCTET_RUNTIME__DATA_DIR": tmp}
        cmd = [str(ROOT / ".venv/bin/octet"), "demo"] + (["--ticks", str(args.ticks)] if args.ticks else [])
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        result = digest(Path(tmp) / "octet.db")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    report = {"commit": commit, "ticks": args.ticks, **result}
    print(json.dumps(report, indent=2))
    out = ROOT / "bench/results/demo_fingerprint.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
