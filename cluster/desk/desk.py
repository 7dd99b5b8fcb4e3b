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

import json
import os
import pickle
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.state import open_signed, sign
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
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(") ", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()


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
        self._status_at = 0.0

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
    def request(self, action: str, account: str, reason: str, who: str) -> str:
        request_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
        body = {"id": request_id, "action": action, "account": account, "reason": reason, "who": who,
                "at": time.time()}
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

    def load(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        if not self.checkpoint.exists():
            return None, None
        blob = open_signed(self.desk.key, ("desk", self.run_id, "checkpoint"), self.checkpoint.read_bytes())
        state = pickle.loads(blob)  # noqa: S301  (signed with the desk's key: written by this desk)
        intent = None
        if self.intent_path.exists():
            intent = json.loads(open_signed(self.desk.key, ("desk", self.run_id, "intent"),
                                            self.intent_path.read_bytes()))
        return state, intent

    def save(self, state: dict[str, Any]) -> None:
        blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        write_private(self.checkpoint, sign(self.desk.key, ("desk", self.run_id, "checkpoint"), blob))

    def intend(self, intent: dict[str, Any]) -> None:
        blob = json.dumps(intent).encode()
        write_private(self.intent_path, sign(self.desk.key, ("desk", self.run_id, "intent"), blob))

    def requests(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.desk.control.glob("*.json")):
            try:
                body = json.loads(path.read_text())
            except (OSError, ValueError):
                path.unlink(missing_ok=True)  # half-written or not ours: never acted on
                continue
            if not isinstance(body, dict) or (self.desk.answers / path.name).exists():
                path.unlink(missing_ok=True)
                continue
            out.append({**body, "id": path.stem})  # the id is the file's own name, never a path from its body
        return out

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
             live: MemoryLive | RedisLive | None, *, new: bool = False, t0: float | None = None) -> SessionResult:
    """Run the desk in this process until its feed ends or it is asked to stop (SIGTERM, SIGINT):
    a new run, or the run the desk was running, resumed from its checkpoint."""
    import signal

    from cluster.desk.session import Session
    from cluster.desk.topology import init_ray

    t0 = t0 or time.time()
    born = process_started()
    run_id, resuming = files.run_id(new)
    run = files.for_run(run_id)
    files.set_meta(run_id=run_id, pid=os.getpid(), state="starting", resumed=resuming, started=born,
                   first_tick_at=None, phase="starting Ray", error=None,
                   start_phases_s={"imports_and_settings": round(t0 - born, 3)})
    session = Session(settings, store, run_id, live=live, desk=run)
    run.phases = session.phases

    def stop(signum: int, _frame: Any) -> None:
        files.set_meta(state="stopping", phase=f"stopping ({signal.Signals(signum).name})")
        session.stop()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    run.started = born
    try:
        init_ray(settings)
        session.phases["ray_up"] = time.time()
        files.set_meta(phase="starting rust_exec and the agents")
        result = session.run(feed)
    except BaseException as exc:
        files.set_meta(state="failed", pid=None, error=str(exc).strip().splitlines()[-1:] or [type(exc).__name__])
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    state = "ended" if feed.ended else "stopped"
    files.set_meta(state=state, pid=None, phase=state, stopped=time.time())
    files.write_status({"state": state, **session.status()}, force=True)
    return result
