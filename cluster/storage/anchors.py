"""Anchors of the audit chain: its head after every committed batch, signed with a key the database
never sees and appended to a log outside the database.

The hash chain (``cluster.storage.audit``) shows a record changed in place, but someone with the
database owner's rights can delete the tail of the chain, or rewrite it and recompute every hash
after the change, and the chain alone still verifies. An anchor is ``{seq, hash, chain, run_id,
at}`` (``chain`` is the hash of record 1, which names the chain) with an HMAC-SHA256 under a key
file outside the database (``storage.audit_key_file``, default ``<data_dir>/secrets/audit.key``: 32
random bytes, created on first use, mode 0600 in a 0700 directory; a key file others may read is
refused). Anchors are appended, one JSON line each and fsynced, to ``storage.audit_anchor_log``
(default ``<data_dir>/audit/anchors.jsonl``, 0600). ``check`` recomputes the chain, then holds
every anchor against it: an anchored record missing is a deleted tail, one whose hash differs was
rewritten, a line whose HMAC does not hold was forged or damaged.

What an anchor cannot show: records committed after the last anchor (a writer killed between its
commit and its anchor, or records written by a writer anchoring elsewhere), and a truncated anchor
log (whoever can delete lines of the log can hide a deletion of the records they vouched for: keep
a copy elsewhere, or read the ``audit`` topic on Kafka).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from cluster.storage import audit
from cluster.storage.reads import reading

if TYPE_CHECKING:
    from cluster.config.settings import Settings

KEY_BYTES = 32
VERSION = 1
FIELDS = ("v", "seq", "hash", "chain", "run_id", "at")


class AuditKeyError(Exception):
    """The anchor key or the anchor log cannot be used; the message (one line) says why and what to do."""


def key_path(settings: Settings) -> Path:
    return settings.storage.audit_key_file or Path(settings.runtime.data_dir) / "secrets" / "audit.key"


def log_path(settings: Settings) -> Path:
    return settings.storage.audit_anchor_log or Path(settings.runtime.data_dir) / "audit" / "anchors.jsonl"


def load_key(path: Path, create: bool = False) -> bytes:
    """The anchor key at ``path``; with ``create``, 32 random bytes are written there first when it
    does not exist (directory 0700, file 0600). A key others may read, or not 32 bytes, is refused."""
    path = Path(path)
    if create and not path.exists():
        _create_key(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise AuditKeyError(f"no audit key at {path} (the anchors cannot be checked without the key that "
                            "signed them: restore it from its backup, or give --key)") from None
    except OSError as exc:
        raise AuditKeyError(f"audit key {path} cannot be read: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise AuditKeyError(f"audit key {path} is not a regular file")
        if st.st_mode & 0o077:
            raise AuditKeyError(f"audit key {path} is open to group/others (mode {stat.S_IMODE(st.st_mode):04o}); "
                                f"refusing to use it: chmod 600 {path} (and consider the key exposed: make a new one)")
        key = os.read(fd, 4 * KEY_BYTES)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise AuditKeyError(f"audit key {path} holds {len(key)} bytes, not {KEY_BYTES}: not a key made by Octet")
    return key


def _create_key(path: Path) -> None:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
        os.chmod(path.parent, 0o700)  # mkdir's mode is masked by the umask
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, os.urandom(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic: a key made at the same time by another writer wins, whole
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sign(key: bytes, doc: dict[str, Any]) -> str:
    body = audit.canonical([doc.get(k) for k in FIELDS])
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


class AnchorLog:
    """The writer's side: one signed line per committed batch, appended and fsynced."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = Path(path)
        self.key = key
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, mode=0o700)
            os.chmod(self.path.parent, 0o700)
        new = not self.path.exists()
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise AuditKeyError(f"anchor log {self.path} cannot be opened for appending: {exc.strerror}") from None
        if new:
            _fsync_dir(self.path.parent)
        self.written = 0

    @staticmethod
    def for_settings(settings: Settings) -> AnchorLog:
        """The settings' anchor log and key (the key is made on first use)."""
        return AnchorLog(log_path(settings), load_key(key_path(settings), create=True))

    def write(self, seq: int, head: str, chain: str, run_id: str) -> dict[str, Any]:
        """Sign the chain's head and append it (durable when this returns); returns the anchor."""
        doc: dict[str, Any] = {"v": VERSION, "seq": seq, "hash": head, "chain": chain, "run_id": run_id,
                               "at": datetime.now(UTC).isoformat(timespec="milliseconds")}
        doc["mac"] = sign(self.key, doc)
        line = (json.dumps(doc, separators=(",", ":")) + "\n").encode()
        fcntl.flock(self.fd, fcntl.LOCK_EX)  # writers sharing the log never interleave their lines
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self.fd, view):]
            os.fsync(self.fd)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.written += 1
        return doc

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


# -- checking ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Anchor:
    line: int
    seq: int
    hash: str
    chain: str
    run_id: str
    at: str


def read_anchors(path: Path, key: bytes) -> tuple[list[Anchor], list[str]]:
    """The anchors of the log whose signature holds, and a sentence for every line that is not one."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise AuditKeyError(f"no anchor log at {path}") from None
    except OSError as exc:
        raise AuditKeyError(f"anchor log {path} cannot be read: {exc.strerror}") from None
    good: list[Anchor] = []
    bad: list[str] = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for n, raw in enumerate(lines, 1):
        try:
            doc = json.loads(raw)
            ok = (isinstance(doc, dict) and doc.get("v") == VERSION and type(doc.get("seq")) is int
                  and doc["seq"] >= 1
                  and all(isinstance(doc.get(k), str) for k in ("hash", "chain", "run_id", "at", "mac")))
        except ValueError:
            ok = False
        if not ok:
            cut = " (the last line, cut short: a write interrupted by a crash?)" if n == len(lines) and \
                not data.endswith(b"\n") else ""
            bad.append(f"anchor line {n} is damaged: not an anchor record{cut}")
            continue
        if not hmac.compare_digest(sign(key, doc), doc["mac"]):
            bad.append(f"anchor line {n} (record {doc['seq']}, {doc['at']}) does not carry a valid signature: "
                       "forged, altered after it was written, or signed with another key")
            continue
        good.append(Anchor(n, doc["seq"], doc["hash"], doc["chain"], doc["run_id"], doc["at"]))
    return good, bad


@dataclass(slots=True)
class Report:
    """What ``check`` found: ``ok`` when the chain holds and every anchor agrees with it."""

    chain: audit.Verdict
    anchors: int = 0                   # anchors of this chain held against the store
    anchored_to: int = 0               # the highest record an anchor vouches for
    last_at: str = ""                  # when the newest anchor of this chain was written
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_bad: int | None = None       # the record named first (None: only anchor lines are bad)

    @property
    def ok(self) -> bool:
        return not self.problems

    def _bad(self, seq: int | None, problem: str) -> None:
        self.problems.append(problem)
        if seq is not None and (self.first_bad is None or seq < self.first_bad):
            self.first_bad = seq


def records(engine: Engine) -> int:
    with reading(engine).connect() as conn:
        return int(conn.execute(select(audit.audit.c.seq).order_by(audit.audit.c.seq.desc()).limit(1)).scalar() or 0)


def check(engine: Engine, log: Path, key: bytes) -> Report:
    """The chain recomputed, then every anchor of the log held against it. ``AuditKeyError`` when
    there is nothing to hold it against (no log, or an empty one, while the store has records)."""
    anchors, damaged = read_anchors(log, key)
    if not anchors and not damaged and (n := records(engine)):
        raise AuditKeyError(f"the anchor log {log} holds no anchor: the tail of the audit chain ({n:,} records) "
                            "cannot be checked (a deleted or recomputed tail would go unnoticed)")
    v = audit.verify(engine, {1} | {a.seq for a in anchors})
    rep = Report(v)
    if not v.ok:
        rep._bad(v.first_bad, f"chain broken at record {v.first_bad}: {v.reason} ({v.records:,} records before it "
                 "hold)")
    for d in damaged:
        rep._bad(None, d)
    chain_id = v.found.get(1)
    if v.ok and v.records == 0:
        if anchors:
            top = max(anchors, key=lambda a: a.seq)
            rep._bad(1, f"records 1–{top.seq} are gone: the store holds no audit record, but anchor line "
                     f"{top.line} ({top.at}, run {top.run_id}) vouches for records up to {top.seq} (deleted, or "
                     "this log belongs to another store)")
        return rep
    mine = [a for a in anchors if a.chain == chain_id]
    others = len(anchors) - len(mine)
    if anchors and not mine:
        rep._bad(1, f"no anchor in {log} is of this store's chain: its record 1 is not the record 1 of any anchored "
                 "chain (the chain was rewritten from its first record, or the log belongs to another store)")
        return rep
    if others:
        rep.notes.append(f"{others} anchor(s) of another chain (another store shares this log) not checked here")
    mine.sort(key=lambda a: (a.seq, a.line))
    rep.anchors = len(mine)
    if mine:
        rep.anchored_to = mine[-1].seq
        rep.last_at = max(a.at for a in mine)
    reach = v.records if v.ok else (v.first_bad or 1) - 1  # the records the chain vouches for
    matched = 0
    for a in mine:  # the first anchored record that differs (every later one then differs too)
        if a.seq > reach:
            break
        if v.found.get(a.seq) != a.hash:
            rep._bad(a.seq, f"record {a.seq} was rewritten: it does not match its anchor (line {a.line}, {a.at}, "
                     f"run {a.run_id}); the change lies in records {matched + 1}–{a.seq}"
                     + (f" (record {matched} is the last anchored one that matches)" if matched else ""))
            break
        matched = a.seq
    if v.ok and mine and mine[-1].seq > reach:
        gone = mine[-1]
        rep._bad(reach + 1, f"records {reach + 1}–{gone.seq} are gone: the store ends at record {reach}, but "
                 f"anchor line {gone.line} ({gone.at}, run {gone.run_id}) vouches for record {gone.seq} (the tail "
                 "of the chain was deleted)")
    if v.ok and not rep.problems and rep.anchored_to < v.records:
        rep.notes.append(f"records {rep.anchored_to + 1}–{v.records} come after the last anchor (written since, or "
                         "by a writer that anchors elsewhere): the anchors do not cover them")
    return rep
