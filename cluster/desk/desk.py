"""A long-running desk: the session on a feed that delivers ticks as time passes, until stopped.

Everything the desk keeps between its runs is under ``data_dir/desk`` (0700; files 0600):

- ``desk.json``: the current run, the driver's pid and state (starting, running, stopping, stopped,
  ended, failed), where rust_exec listens;
- ``status.json``: what `octet desk status` shows, written at most twice a second;
- ``<run_id>/checkpoint``: the driver's state after its last unit of work, signed like the agents'
  saved state (``data_dir/secrets/state.key``), and ``<run_id>/intent``: the unit it began next;
- ``control/``: operators' requests (`octet desk halt|resume|flatten`), answered in
  ``control/answers``. Only the desk's owner can write there: that is the control plane's lock.

A desk whose driver stops (`octet desk stop`, SIGTERM) or dies (SIGKILL, a crash, the machine) starts
again from the checkpoint with the same run, the agents' saved state and rust_exec's journal, replays
the unit it was in, and reconciles with rust_exec (``desk.reconcile_policy``).
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import stat
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.state import MAGIC, TamperedState, open_signed, sign
from cluster.config.secrets import private_dir, write_private

if TYPE_CHECKING:
    from cluster.adapters.live import MemoryLive, RedisLive
    from cluster.config.settings import Settings
    from cluster.desk.record import SessionResult
    from cluster.storage.store import SessionStore
    from trading.feed import Feed

STATES = ("starting", "running", "stopping", "stopped", "ended", "failed")


class DeskError(RuntimeError):
    """A desk that cannot be started, found or controlled (one line for the operator)."""


def process_started() -> float:
    """When this process started (time.time()), from /proc: the desk's start-up counts its imports."""
    ticks = pid_started(os.getpid())
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return time.time()
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK")) if ticks is not None else time.time()


def pid_started(pid: int) -> int | None:
    """The kernel's start time of process ``pid`` (clock ticks since boot): with the pid, what tells
    a process from a later one that got the same number."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


REQUEST_MAX_BYTES = 64 * 1024
INTENTS_MAX_BYTES = 16 * 1024 * 1024  # the intent log holds the units since the last checkpoint: a few records
SIGNED_HEADER = len(MAGIC) + 32  # a signed record's magic and signature, before its body
LEGACY_INTENT = MAGIC  # the intent file of a desk before the log began with it: one signed record, no
# length (never a length here: it would read as 1.3 GB)
ANSWERS_KEPT_S = 24 * 3600


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (a child not yet reaped) is not a running desk
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


class DeskFiles:
    """The desk's directory: its run, checkpoint, intent, status and operators' requests."""

    def __init__(self, data_dir: Path, key: bytes) -> None:
        self.root = private_dir(Path(data_dir) / "desk")
        self.control = private_dir(self.root / "control")
        self.answers = private_dir(self.control / "answers")
        self.key = key
        self.meta_path = self.root / "desk.json"
        self.status_path = self.root / "status.json"
        self.log_path = self.root / "desk.log"
        self.lock_path = self.root / "driver.lock"
        self._status_at = 0.0
        self._lock_fd: int | None = None
        self._meta_lock = threading.Lock()

    # -- the driver's lock: one driver per data_dir, held for its life (the kernel drops it when
    # the process dies, however it dies) ------------------------------------------------------
    def _lock_file(self) -> int:
        return os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)

    def lock_driver(self) -> None:
        """Take the driver's lock, or DeskError if another driver holds it."""
        fd = self._lock_file()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DeskError("another desk driver is running on this data_dir (`octet desk status`)") from None
        self._lock_fd = fd

    def unlock_driver(self) -> None:
        """Let go of the driver's lock (a driver that has ended; its process may still be tidying up)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def driver(self) -> int | None:
        """The running driver's pid (0: one holds the lock and has not said its pid yet), or None.
        The lock says whether a driver runs; the pid is believed only if its process is the one
        that wrote it (the same start time): a pid reused by another process is never signalled."""
        fd = self._lock_file()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            meta = self.meta()
            pid, born = meta.get("pid"), meta.get("pid_started")
            if isinstance(pid, int) and pid > 0 and born is not None and pid_started(pid) == born:
                return pid
            return 0
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    # -- the run ------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        try:
            data = json.loads(self.meta_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise DeskError(f"{self.meta_path} cannot be read ({exc}): remove it to start a new desk") from None
        return data if isinstance(data, dict) else {}

    def set_meta(self, **changes: Any) -> dict[str, Any]:
        with self._meta_lock:  # the driver and the gateway's starter write it from two threads
            meta = {**self.meta(), **changes}
            write_private(self.meta_path, json.dumps(meta, indent=1))
        return meta

    def run_id(self, new: bool = False) -> tuple[str, bool]:
        """The run to continue (a desk that was stopped or died) or a new one; and whether it resumes."""
        meta = self.meta()
        run_id = meta.get("run_id")
        if run_id and not new and meta.get("state") not in ("ended",) and self.checkpoint_path(run_id).exists():
            return str(run_id), True
        return uuid.uuid4().hex[:12], False

    def run_dir(self, run_id: str) -> Path:
        return private_dir(self.root / run_id)

    def checkpoint_path(self, run_id: str) -> Path:
        return self.root / run_id / "checkpoint"

    def for_run(self, run_id: str) -> RunFiles:
        return RunFiles(self, run_id)

    # -- status -------------------------------------------------------------------------------
    def write_status(self, status: dict[str, Any], force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._status_at >= 0.5:
            self._status_at = now
            write_private(self.status_path, json.dumps({**status, "updated": time.time()}, indent=1, default=str))

    def status(self) -> dict[str, Any]:
        try:
            data = json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    # -- operators' requests ------------------------------------------------------------------
    def withdraw(self, request_id: str) -> bool:
        """Take back a request the desk has not taken yet (True if it was still queued)."""
        try:
            (self.control / f"{request_id}.json").unlink()
            return True
        except FileNotFoundError:
            return False

    def request(self, action: str, account: str, reason: str, who: str, **extra: str) -> str:
        request_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
        body = {"id": request_id, "action": action, "account": account, "reason": reason, "who": who,
                "at": time.time(), **extra}
        write_private(self.control / f"{request_id}.json", json.dumps(body))
        return request_id

    def answer_of(self, request_id: str) -> str | None:
        try:
            return str(json.loads((self.answers / f"{request_id}.json").read_text())["outcome"])
        except (OSError, ValueError, KeyError):
            return None


class RunFiles:
    """One run's checkpoint and intent, and the desk's control directory (``DeskPort``)."""

    def __init__(self, desk: DeskFiles, run_id: str) -> None:
        self.desk = desk
        self.run_id = run_id
        self.dir = desk.run_dir(run_id)
        self.checkpoint = self.dir / "checkpoint"
        self.intent_path = self.dir / "intent"
        self.started: float | None = None  # when the desk's process started, until its first batch
        self.phases: dict[str, float] = {}  # the session's start-up marks (time.time())
        self._fd: int | None = None  # the intent log, open for appending
        self._whole: int | None = None  # the length of its whole records, as load() found them

    def load(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The last checkpoint and the intents of the units begun after it, in order (those a driver
        that died had begun: a resumed desk replays them)."""
        if not self.checkpoint.exists():
            return None, []
        blob = open_signed(self.desk.key, ("desk", self.run_id, "checkpoint"), self.checkpoint.read_bytes())
        state = pickle.loads(blob)  # noqa: S301  (signed with the desk's key: written by this desk)
        intents = [i for i in self._intents() if int(i.get("unit", 0)) > int(state.get("units", 0))]
        return state, intents

    def _intents(self) -> list[dict[str, Any]]:
        """The intent log: records of a 4-byte length and a signed JSON object. Its last record may
        have been cut short by the machine stopping while it was written (its unit had not begun:
        nothing is done before its intent is on disk): it is dropped, and the log cut back to the
        records before it. A record before the last whose signature fails is refused. The log must
        be a regular file of at most INTENTS_MAX_BYTES (it holds the units since the checkpoint)."""
        try:
            fd = os.open(self.intent_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise DeskError(f"{self.intent_path}: cannot be read as the desk's intent log ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > INTENTS_MAX_BYTES:
                raise DeskError(f"{self.intent_path}: not the desk's intent log (not a regular file of at most "
                                f"{INTENTS_MAX_BYTES:,} bytes): move it away to resume")
            data = f.read(INTENTS_MAX_BYTES + 1)
            if data.startswith(LEGACY_INTENT):  # one signed intent, as a driver before the log wrote it
                self._whole = 0  # replayed, then covered by the next checkpoint
                return [json.loads(open_signed(self.desk.key, ("desk", self.run_id, "intent"), data))]
            out, at = [], 0
            while at + 4 <= len(data):
                size = int.from_bytes(data[at:at + 4], "big")
                end = at + 4 + size
                if size <= SIGNED_HEADER or end > len(data):
                    break  # cut short
                try:
                    body = open_signed(self.desk.key, ("desk", self.run_id, "intent"), data[at + 4:end])
                except TamperedState:
                    if end < len(data):
                        raise
                    break  # the last record, not all of it written
                out.append(json.loads(body))
                at = end
        self._whole = at  # this driver writes its next record after the last whole one, not after debris
        return out

    def save(self, state: dict[str, Any]) -> None:
        """A checkpoint, then the intent log emptied: every intent in it is of a unit it covers."""
        blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        write_private(self.checkpoint, sign(self.desk.key, ("desk", self.run_id, "checkpoint"), blob))
        os.ftruncate(self._intent_fd(), 0)

    def intend(self, intent: dict[str, Any]) -> None:
        """Append a unit's intent to the log and sync it before the unit begins: whatever the unit
        then does (an order at rust_exec, a record in the store) a restart finds its intent."""
        signed = sign(self.desk.key, ("desk", self.run_id, "intent"), json.dumps(intent).encode())
        record = memoryview(len(signed).to_bytes(4, "big") + signed)
        fd = self._intent_fd()
        while record:
            record = record[os.write(fd, record):]
        os.fdatasync(fd)

    def _intent_fd(self) -> int:
        if self._fd is None:
            try:
                fd = os.open(self.intent_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK,
                             0o600)
            except OSError as exc:
                raise DeskError(f"{self.intent_path}: cannot be written as the desk's intent log ({exc.strerror})") \
                    from None
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                os.close(fd)
                raise DeskError(f"{self.intent_path}: not a regular file: move it away to run")
            if self._whole is not None and info.st_size > self._whole:
                os.ftruncate(fd, self._whole)
                os.fsync(fd)
            self._fd = fd
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def requests(self) -> list[dict[str, Any]]:
        """The operators' requests waiting, oldest first: regular files of at most 64 KiB (anything
        else in the directory is left alone and never read), each a JSON object."""
        out = []
        for path in sorted(self.desk.control.glob("*.json")):
            try:
                info = os.lstat(path)
                if not stat.S_ISREG(info.st_mode) or info.st_size > REQUEST_MAX_BYTES:
                    continue
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as f:
                    body = json.loads(f.read(REQUEST_MAX_BYTES))
            except (OSError, ValueError):
                self._drop(path)  # half-written or not ours: never acted on
                continue
            if not isinstance(body, dict) or (self.desk.answers / path.name).exists():
                self._drop(path)
                continue
            out.append({**body, "id": path.stem})  # the id is the file's own name, never a path from its body
        return out

    @staticmethod
    def _drop(path: Path) -> None:
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                path.unlink()
        except OSError:
            pass

    def clean_answers(self) -> None:
        """Answers older than a day go (a desk that runs for weeks keeps no growing directory)."""
        cutoff = time.time() - ANSWERS_KEPT_S
        for path in self.desk.answers.glob("*.json"):
            try:
                if os.lstat(path).st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass

    def answer(self, request: dict[str, Any], outcome: str) -> None:
        request_id = str(request.get("id", ""))
        if not request_id:
            return
        write_private(self.desk.answers / f"{request_id}.json", json.dumps({"outcome": outcome, "at": time.time()}))
        (self.desk.control / f"{request_id}.json").unlink(missing_ok=True)

    def after_unit(self, status: Any) -> None:
        """After each unit: the status file, at most twice a second (``status`` builds it); after the
        first batch, the desk is running and says when its first tick was processed."""
        if self.started is not None and status()["batches"]:
            now = time.time()
            phases = {k: round(v - self.started, 3) for k, v in self.phases.items()}
            self.desk.set_meta(state="running", phase="running", first_tick_at=now,
                               start_phases_s={**self.desk.meta().get("start_phases_s", {}), **phases,
                                               "first_tick": round(now - self.started, 3)})
            self.started = None
        if time.monotonic() - self.desk._status_at >= 0.5:
            self.desk.write_status({"state": "running", **status()})


def run_desk(settings: Settings, files: DeskFiles, feed: Feed, store: SessionStore | None,
             live: MemoryLive | RedisLive | None, *, new: bool = False, t0: float | None = None,
             on_ray: Callable[[DeskFiles], None] | None = None) -> SessionResult:
    """Run the desk in this process until its feed ends or it is asked to stop (SIGTERM, SIGINT):
    a new run, or the run the desk was running, resumed from its checkpoint. ``on_ray(files)`` is
    called once Ray is up (the command line starts the gateway there, beside the desk)."""
    import signal

    from cluster.desk.session import Session
    from cluster.desk.topology import init_ray

    t0 = t0 or time.time()
    born = process_started()
    files.lock_driver()  # one driver per data_dir, for this process's life
    run_id, resuming = files.run_id(new)
    run = files.for_run(run_id)
    run.clean_answers()
    files.set_meta(run_id=run_id, pid=os.getpid(), pid_started=pid_started(os.getpid()), state="starting",
                   resumed=resuming, started=born, first_tick_at=None, phase="starting Ray", error=None,
                   start_phases_s={"imports_and_settings": round(t0 - born, 3)})
    session = Session(settings, store, run_id, live=live, desk=run)
    run.phases = session.phases

    def stop(signum: int, _frame: Any) -> None:
        files.set_meta(state="stopping", phase=f"stopping ({signal.Signals(signum).name})")
        session.stop()

    run.started = born
    previous: dict[int, Any] = {}
    try:
        # Ray's init sets a SIGTERM handler of its own (it exits at once): ours goes on after it,
        # and a stop asked for while Ray starts is taken as soon as it is in place
        init_ray(settings)
        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        session.phases["ray_up"] = time.time()
        if on_ray is not None:
            on_ray(files)
        files.set_meta(phase="starting rust_exec and the agents")
        result = session.run(feed)
    except BaseException as exc:
        files.set_meta(state="failed", pid=None, error=str(exc).strip().splitlines()[-1:] or [type(exc).__name__])
        raise
    finally:
        run.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    state = "ended" if feed.ended else "stopped"
    files.write_status({"state": state, **session.status()}, force=True)
    files.set_meta(state=state, pid=None, phase=state, stopped=time.time())
    files.unlock_driver()  # the next desk may start while this process lets Ray go
    return result
