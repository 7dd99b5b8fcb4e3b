"""Where an agent's state lives between calls, so that a restarted actor resumes where it was.

After every call the shell saves the agent's working state (pickled, with its append-only
``AppendLog`` histories left out by reference) and, apart, only the items each history gained
since the last save, in one transaction. Restoring reads the working state and puts every
history back from its pieces. So a call costs the size of the working state plus what it added,
not the whole history: a year's run no longer slows down as its history grows.

Everything saved is signed (HMAC-SHA256, under a key kept in ``data_dir/secrets/state.key``,
never in the database), and a signature is checked before anything is unpickled: whoever can
write the state database, but not read the key, cannot make an agent run code of theirs.

The state goes to SQL through the store's models (``agent_snapshots``, ``agent_log_chunks``): a
SQLite file per agent under the session's state directory by default (local disk, no
contention), or one PostgreSQL database for a cluster whose actors restart on other nodes.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import pickle
from typing import Any

from trading.history import AppendLog

MAGIC = b"OCTS1"  # signed state, version 1: MAGIC, 32 bytes of HMAC-SHA256, the pickle


class TamperedState(RuntimeError):
    """Saved agent state whose signature does not hold: it is refused, never loaded."""


def _sign(key: bytes, where: tuple[str, ...], blob: bytes) -> bytes:
    mac = hmac.new(key, "\x1f".join(where).encode() + b"\x1e" + blob, hashlib.sha256).digest()
    return MAGIC + mac + blob


def _open(key: bytes, where: tuple[str, ...], signed: bytes) -> bytes:
    """The pickle inside ``signed``, if its signature is ours for this place; else ``TamperedState``."""
    body = signed[len(MAGIC) + 32:]
    if not signed.startswith(MAGIC) or not hmac.compare_digest(_sign(key, where, body), signed):
        raise TamperedState(f"saved state of {'/'.join(where)} is not signed with this desk's key "
                            "(changed outside Octet, or written with another data_dir/secrets/state.key): "
                            "refusing to load it")
    return body


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, logs: dict[str, AppendLog[Any]]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.logs = logs

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is AppendLog:
            self.logs[obj.log_id] = obj
            return ("log", obj.log_id, len(obj))
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, load_log: Any) -> None:
        super().__init__(file)
        self.load_log = load_log

    def persistent_load(self, pid: Any) -> Any:
        kind, log_id, n = pid
        if kind != "log":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        return self.load_log(log_id, n)


class _SqliteFile:
    """This agent's own SQLite file, through the standard library (a restarted actor is back fast)."""

    def __init__(self, path: str, run_id: str, agent: str) -> None:
        import sqlite3

        self.key = (run_id, agent)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives the process being killed
        self.db.execute("CREATE TABLE IF NOT EXISTS agent_snapshots (run_id TEXT, agent TEXT, seq INTEGER, "
                        "state BLOB, PRIMARY KEY (run_id, agent))")
        self.db.execute("CREATE TABLE IF NOT EXISTS agent_log_chunks (run_id TEXT, agent TEXT, log TEXT, "
                        "start INTEGER, items BLOB, PRIMARY KEY (run_id, agent, log, start))")

    def snapshot(self) -> bytes | None:
        row = self.db.execute("SELECT state FROM agent_snapshots WHERE run_id = ? AND agent = ?", self.key).fetchone()
        return None if row is None else bytes(row[0])

    def chunks(self, log_id: str) -> list[bytes]:
        return [bytes(r[0]) for r in self.db.execute(
            "SELECT items FROM agent_log_chunks WHERE run_id = ? AND agent = ? AND log = ? ORDER BY start",
            (*self.key, log_id))]

    def save(self, seq: int, state: bytes, pieces: list[tuple[str, int, bytes]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for log_id, start, blob in pieces:
                self.db.execute("INSERT OR REPLACE INTO agent_log_chunks VALUES (?, ?, ?, ?, ?)",
                                (*self.key, log_id, start, blob))
            self.db.execute("INSERT OR REPLACE INTO agent_snapshots VALUES (?, ?, ?, ?)", (*self.key, seq, state))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()


class _Database:
    """A database shared by every agent (PostgreSQL for a cluster). Its tables are the store's
    (``cluster/storage/models.py``, made by its migrations): read from the database, not imported,
    so that the agents know nothing of the cluster that hosts them."""

    def __init__(self, url: str, run_id: str, agent: str) -> None:
        from sqlalchemy import MetaData, Table, create_engine

        self.engine = create_engine(url, pool_size=1, max_overflow=1)
        meta = MetaData()
        self.snapshots = Table("agent_snapshots", meta, autoload_with=self.engine)
        self.pieces = Table("agent_log_chunks", meta, autoload_with=self.engine)
        self.run_id, self.agent = run_id, agent

    def snapshot(self) -> bytes | None:
        from sqlalchemy import select

        t = self.snapshots
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.state).where(t.c.run_id == self.run_id, t.c.agent == self.agent)).first()
        return None if row is None else bytes(row[0])

    def chunks(self, log_id: str) -> list[bytes]:
        from sqlalchemy import select

        t = self.pieces
        with self.engine.connect() as conn:
            return [bytes(r[0]) for r in conn.execute(select(t.c["items"]).where(
                t.c.run_id == self.run_id, t.c.agent == self.agent, t.c.log == log_id).order_by(t.c.start))]

    def save(self, seq: int, state: bytes, pieces: list[tuple[str, int, bytes]]) -> None:
        from sqlalchemy import delete, insert, update

        c, s = self.pieces, self.snapshots
        with self.engine.begin() as conn:
            for log_id, start, blob in pieces:
                conn.execute(delete(c).where(c.c.run_id == self.run_id, c.c.agent == self.agent, c.c.log == log_id,
                                             c.c.start == start))  # a piece of a save that never committed
                conn.execute(insert(c), [dict(run_id=self.run_id, agent=self.agent, log=log_id, start=start,
                                              items=blob)])
            done = conn.execute(update(s).where(s.c.run_id == self.run_id, s.c.agent == self.agent)
                                .values(seq=seq, state=state)).rowcount
            if not done:
                conn.execute(insert(s), [dict(run_id=self.run_id, agent=self.agent, seq=seq, state=state)])

    def close(self) -> None:
        self.engine.dispose()


class StateStore:
    """The saved state of one agent of one run: ``where`` is a SQLite file path or a database URL."""

    def __init__(self, where: str, run_id: str, agent: str, *, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a state signing key of at least 16 bytes is required (cluster.config.secrets.state_key)")
        self.key = key
        self.run_id, self.agent = run_id, agent
        self.backend: _SqliteFile | _Database = (_Database(where, run_id, agent) if "://" in where
                                                 else _SqliteFile(where, run_id, agent))
        self.saved: dict[str, int] = {}  # items of each history already saved
        self.bytes_written = 0

    def load(self) -> Any | None:
        signed = self.backend.snapshot()
        if signed is None:
            return None
        blob = _open(self.key, (self.run_id, self.agent), signed)
        loaded: dict[str, AppendLog[Any]] = {}

        def load_log(log_id: str, n: int) -> AppendLog[Any]:
            if log_id in loaded:  # one history referenced from two places stays one object
                return loaded[log_id]
            items: list[Any] = []
            for piece in self.backend.chunks(log_id):
                items.extend(pickle.loads(_open(self.key, (self.run_id, self.agent, log_id), piece)))
            self.saved[log_id] = n
            loaded[log_id] = AppendLog(items[:n], log_id)
            return loaded[log_id]

        return _Unpickler(io.BytesIO(blob), load_log).load()

    def save(self, seq: int, state: Any) -> None:
        buf = io.BytesIO()
        logs: dict[str, AppendLog[Any]] = {}
        _Pickler(buf, logs).dump(state)
        pieces = []
        for log_id, log in logs.items():
            start = self.saved.get(log_id, 0)
            if len(log) > start:
                blob = pickle.dumps(list(log[start:]), protocol=pickle.HIGHEST_PROTOCOL)
                pieces.append((log_id, start, _sign(self.key, (self.run_id, self.agent, log_id), blob)))
        blob = _sign(self.key, (self.run_id, self.agent), buf.getvalue())
        self.backend.save(seq, blob, pieces)
        self.bytes_written += len(blob) + sum(len(p[2]) for p in pieces)
        for log_id, log in logs.items():
            self.saved[log_id] = len(log)

    def close(self) -> None:
        self.backend.close()


def sign(key: bytes, where: tuple[str, ...], blob: bytes) -> bytes:
    """``blob`` signed for ``where`` with ``key`` (the desk's own checkpoint uses the agents' format)."""
    return _sign(key, where, blob)


def open_signed(key: bytes, where: tuple[str, ...], signed: bytes) -> bytes:
    """The blob inside ``signed`` if it was signed for ``where`` with ``key``; else ``TamperedState``."""
    return _open(key, where, signed)
