"""The thin Ray shell around an agent: ordered calls, snapshots for restarts, timing.

Every mutating call carries the caller's sequence number. After applying it the shell writes a
snapshot (agent state, last sequence, last result) atomically to ``state_dir``. When Ray
restarts a killed actor, the shell loads that snapshot; Ray then retries the call that was in
flight. A retried call whose sequence is already applied returns the recorded result instead
of applying twice, so a crash at any instant loses nothing and doubles nothing.
"""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any


class StaleCall(RuntimeError):
    """A call older than the last one applied (the caller's sequence went backwards)."""


class AgentShell:
    """Hosts one agent object. ``factory`` builds it fresh; a snapshot, if present, wins."""

    def __init__(self, name: str, state_dir: str, factory: Any, *args: Any) -> None:
        self.name = name
        self._path = Path(state_dir) / f"{name}.pkl"
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self.restored = False
        if self._path.exists():
            with self._path.open("rb") as fh:
                self.agent, self.last_seq, self.last_result, self.stats = pickle.load(fh)
            self.restored = True
            self.stats["restarts"] = self.stats.get("restarts", 0) + 1
        else:
            self.agent = factory(*args)
            self.last_seq = 0
            self.last_result: Any = None
            self.stats = {"calls": 0, "events": 0, "busy_s": 0.0, "restarts": 0}

    def call(self, seq: int, method: str, *args: Any) -> Any:
        """Apply ``method`` once for ``seq``; a repeat of the last sequence returns its result."""
        if seq == self.last_seq:
            return self.last_result
        if seq < self.last_seq:
            raise StaleCall(f"{self.name}: call {seq} after {self.last_seq}")
        start = time.perf_counter()
        result = getattr(self.agent, method)(*args)
        self.stats["busy_s"] += time.perf_counter() - start
        self.stats["calls"] += 1
        self.stats["events"] += int(getattr(self.agent, "last_events", 1))
        self.last_seq, self.last_result = seq, result
        tmp = self._path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump((self.agent, self.last_seq, self.last_result, self.stats), fh,
                        protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self._path)
        return result

    def query(self, method: str, *args: Any) -> Any:
        """A read-only call: no sequence, no snapshot."""
        return getattr(self.agent, method)(*args)

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "pid": os.getpid(), "restored": self.restored, **self.stats}
