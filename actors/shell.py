"""The thin Ray shell around an agent: ordered calls, saved state for restarts, timing.

Every mutating call carries the caller's sequence number. After applying it the shell saves the
agent's state with the last sequence and result (``actors.state``: the working state whole,
histories by what they gained). When Ray restarts a killed actor, the shell loads that state;
Ray then retries the call that was in flight. A retried call whose sequence is already applied
returns the recorded result instead of applying twice, so a crash at any instant loses nothing
and doubles nothing. The results of the last ``WINDOW`` calls are kept, so that a caller with more
than one call in flight gets each recorded result back when Ray retries them in order. (Ray may
retry calls out of order after a restart, so the desk keeps one sequenced call in flight per
actor; reading ahead, as the Kafka ingress does, is an unsequenced query.)

A method an agent lists in ``reads`` changes nothing: its call is sequenced like any other but
not saved (a retry after a restart computes the same answer from the same saved state), which
takes a state save off the saga's path for the correlation check and the execution style.
An agent may also say, after a call, that this call changed nothing (``last_changed = False``:
an analysis shard or the correlation window handed a batch that closed no bar of theirs): it is
not saved either, for the same reason. (The shell sets the flag back after reading it, so a
method that does not set it is always saved.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from actors.state import StateStore

MANY = "*many"  # the method of a call that applies several of the agent's calls in order, saved once
WINDOW = 2  # the desk keeps one sequenced call in flight per actor; one more is margin
# (an agent may set ``retry_window`` lower: the ingress agents, whose results are whole batches, and
# which the desk never calls again before it has the result of the call before)


class StaleCall(RuntimeError):
    """A call older than the last one applied (the caller's sequence went backwards)."""


class Diverged(RuntimeError):
    """A repeated sequence number that names another method than the call recorded under it: the
    caller is not replaying what it sent before (a resumed desk whose path changed)."""


def state_location(state_dir: str, name: str) -> str:
    """``state_dir`` is a directory (a SQLite file per agent) or a database URL shared by all."""
    if "://" in state_dir:
        return state_dir
    Path(state_dir).mkdir(parents=True, exist_ok=True)  # the agents' state: the owner's only
    os.chmod(state_dir, 0o700)
    path = Path(state_dir) / f"{name}.db"
    if not path.exists():  # SQLite creates its -wal and -shm files with the database's mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return str(path)


class _Unsaved:
    """The store of a shell that saves nothing (an agent in the backtest's own process, which no one
    restarts)."""

    bytes_written = 0

    def load(self) -> None:
        return None

    def save(self, seq: int, state: Any) -> None:
        pass


class AgentShell:
    """Hosts one agent object. ``factory`` builds it fresh; saved state, if present, wins. ``reload``
    gives an agent with a ``refresh`` method the factory's arguments again, to read its files anew."""

    def __init__(self, name: str, state_dir: str, factory: Any, *args: Any, run_id: str = "", key: bytes,
                 persist: bool = True) -> None:
        self.name = name
        self.args = args  # the factory's arguments: this start's settings (``reload``)
        self.store: StateStore | _Unsaved = (StateStore(state_location(state_dir, name), run_id or Path(state_dir).name,
                                                        name, key=key) if persist else _Unsaved())
        saved = self.store.load()
        self.restored = saved is not None
        self.recent: dict[int, tuple[str, Any]]  # sequence -> (method, result), of the calls a caller may repeat
        if saved is not None:
            self.agent, self.last_seq, self.recent, self.stats = saved
            self.stats["restarts"] = self.stats.get("restarts", 0) + 1
        else:
            self.agent = factory(*args)
            self.last_seq = 0
            self.recent = {}
            self.stats = {"calls": 0, "events": 0, "busy_s": 0.0, "restarts": 0, "save_s": 0.0}

    def call(self, seq: int, method: str, *args: Any, keep_from: int | None = None) -> Any:
        """Apply ``method`` once for ``seq``; a repeat of a recent sequence returns its result.

        With ``keep_from`` the shell keeps the results of every call after that sequence (the
        desk's last checkpoint), not only the last ``WINDOW``: a desk resumed after its driver died
        replays its calls since the checkpoint and gets the same answers for those applied."""
        if seq in self.recent:
            recorded_method, result = self.recent[seq]
            if recorded_method != method:
                raise Diverged(f"{self.name}: call {seq} was {recorded_method}, now {method}")
            return result
        if seq <= self.last_seq:
            raise StaleCall(f"{self.name}: call {seq} after {self.last_seq}, older than the last recorded")
        start = time.perf_counter()
        if method == MANY:  # [(method, args), ...]: one sequence number, one save
            result = [getattr(self.agent, m)(*a) for m, a in args[0]]
        else:
            result = getattr(self.agent, method)(*args)
        applied = time.perf_counter()
        self.stats["busy_s"] += applied - start
        self.stats["calls"] += 1
        self.stats["events"] += int(getattr(self.agent, "last_events", 1))
        self.last_seq = seq
        self.recent[seq] = (method, result)
        oldest = keep_from if keep_from is not None else seq - getattr(self.agent, "retry_window", WINDOW)
        for old in [k for k in self.recent if k <= oldest]:
            del self.recent[old]
        changed = getattr(self.agent, "last_changed", True)
        if changed is not True:
            self.agent.last_changed = True  # a method that says nothing changed it
        if method not in getattr(self.agent, "reads", ()) and (changed or method == MANY):
            self.store.save(seq, (self.agent, self.last_seq, self.recent, self.stats))
        saved = time.perf_counter()
        self.stats["save_s"] = self.stats.get("save_s", 0.0) + saved - applied
        spent = self.stats.setdefault("methods", {}).setdefault(method, [0, 0.0, 0.0])  # calls, busy_s, save_s
        spent[0] += 1
        spent[1] += applied - start
        spent[2] += saved - applied
        return result

    def reload(self) -> bool:
        """At a desk's start, before its first call: an agent restored from saved state reads what it
        reads from files the operator edits between runs (the news calendar, the market closures) as
        they are now, and the state is saved at once, so a restart of the actor later in the run
        restores the same (Ray's restarts never call this: the run's answers do not depend on them).
        Whether the agent has anything to read."""
        refresh = getattr(self.agent, "refresh", None)
        if not callable(refresh):
            return False
        refresh(*self.args)
        self.store.save(self.last_seq, (self.agent, self.last_seq, self.recent, self.stats))
        return True

    def query(self, method: str, *args: Any) -> Any:
        """A read-only call: no sequence, no save."""
        return getattr(self.agent, method)(*args)

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "pid": os.getpid(), "restored": self.restored, "last_seq": self.last_seq,
                "state_bytes_written": self.store.bytes_written, **self.stats}
