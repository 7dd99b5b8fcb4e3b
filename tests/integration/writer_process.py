"""A desk session run as its own process (a writer that the test kills with SIGKILL).

Usage: python -m tests.integration.writer_process '<json args>'. After every batch it prints
``ACK {...}``: the record counts that the store has made durable by then.
"""

from __future__ import annotations

import json
import sys

import ray

from cluster.config.settings import load_settings
from cluster.desk.session import Session
from cluster.storage.store import SessionStore
from tests.conftest import ROOT, replay_ticks


def main() -> None:
    args = json.loads(sys.argv[1])
    settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=args["data_dir"], session__ticks=args["ticks"],
                             runtime__store="postgres", storage__url=args["url"])
    ticks = replay_ticks(settings)
    ray.init(address=args["ray_address"], log_to_driver=False)
    store = SessionStore(args["url"])

    def on_batch(progress, _topo):  # type: ignore[no-untyped-def]
        print("ACK", json.dumps(session.acked), flush=True)

    session = Session(settings, store, run_id=args["run_id"], on_batch=on_batch)
    session.run(ticks)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
