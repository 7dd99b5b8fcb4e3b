"""Full-speed throughput against an older commit, alternated in one run: ``Session(settings).run(ticks)``
on the default 200,000 ticks, old and new in turn, each in a fresh process with its own Ray; the
session's own seconds (start-up excluded) and its orders.

Usage: ``git worktree add --detach ../old <commit> && ln -s $PWD/.venv ../old/.venv``, then
``.venv/bin/python bench/ab_throughput.py ../old [rounds]``. Writes bench/results/ab_throughput.json.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

NEW = str(Path(__file__).resolve().parent.parent)
OLD = str(Path(sys.argv[1]).resolve())
CODE = r'''
import sys, time, json
sys.path.insert(0, ROOT)
import cluster
from cluster.config.settings import load_settings
from cluster.desk.session import Session
from cluster.desk.topology import init_ray
try:
    from cluster.adapters.feeds.paced import replay_ticks
except ImportError:
    replay_ticks = None
import tempfile, yaml
from pathlib import Path
tmp = tempfile.mkdtemp()
doc = yaml.safe_load(open(ROOT + "/octet.yaml")); doc["runtime"]["data_dir"] = tmp
p = Path(tmp) / "s.yaml"; p.write_text(yaml.safe_dump(doc))
s = load_settings(p)
from cluster.adapters.feeds.replay import generate_ticks
ticks, _ = generate_ticks(s.registry(), s.generator_profiles(), s.session.ticks, s.session.seed, s.session.start)
init_ray(s)
r = Session(s).run(ticks)
print(json.dumps({"elapsed_s": r.elapsed_s, "ticks": r.ticks, "orders": r.counts["orders"],
                  "tick_to_order_p50_ms": r.tick_to_order.percentile(0.5)}))
'''
out = {"old": [], "new": []}
for _round in range(int(sys.argv[2]) if len(sys.argv) > 2 else 3):
    for name, root in (("old", OLD), ("new", NEW)):
        res = subprocess.run([f"{root}/.venv/bin/python", "-c", f"ROOT={root!r}\n" + CODE], cwd=root,
                             capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": "/root",
                             "RAY_AUTH_MODE": "token",
                             "OCTET_EXEC_BINARY": os.environ.get("OCTET_EXEC_BINARY", f"{NEW}/rust_exec/target/release/octet-exec")})
        line = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else res.stderr[-2000:]
        print(name, line, flush=True)
        out[name].append(json.loads(line))
best = {k: min(v, key=lambda r: r["elapsed_s"]) for k, v in out.items()}
old_commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=OLD, capture_output=True, text=True).stdout.strip()
result = {"old_commit": old_commit, "old_best_s": best["old"]["elapsed_s"], "new_best_s": best["new"]["elapsed_s"],
          "ratio_new_to_old_throughput": round(best["old"]["elapsed_s"] / best["new"]["elapsed_s"], 3), "runs": out}
Path(NEW, "bench", "results", "ab_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
print(json.dumps(result))
