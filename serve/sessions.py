"""Backtests and replay sessions started through the API (``/api/v1/sessions``).

One Ray actor, ``SessionHost`` (named ``octet-sessions`` in the ``octet`` namespace), is made by
whoever starts the gateway (``serve.deploy.start``: the desk's driver, or ``octet serve``) and lives
as long as it. The gateway's replicas find it by name and ask it to start, stop and describe
sessions; it runs them one at a time (``gateway.sessions_at_once``), each in a thread of its own, on
the same Ray cluster as the desk:

- a **backtest** replays ``ticks`` generated ticks (``seed``) as fast as the desk takes them;
- a **replay** paces them at ``speed`` market seconds per wall second, as the desk does.

Each is a run of its own in the store (``/runs``, ``/orders?run=...``), through its own agents and its
own embedded rust_exec: never the desk's venue (``execution.address`` is ignored), never the desk's Kafka
topics (``runtime.bus`` inprocess) or live stream. Who started and who stopped it is in its audit
trail (``operator`` records with the caller's key)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

from cluster.config.settings import Settings

HOST_NAME = "octet-sessions"
NAMESPACE = "octet"
KEPT = 50  # finished sessions remembered (their runs stay in the store)
_held: Any = None  # the host this process started (``start_host``)


class Busy(RuntimeError):
    """As many sessions as ``gateway.sessions_at_once`` are running."""


class UnknownSession(KeyError):
    """No session with that id here."""


def session_settings(settings: Settings, ticks: int, seed: int) -> Settings:
    """The desk's settings for a session of the API: ``ticks`` generated ticks from ``seed``, on an
    embedded rust_exec of its own, the in-process bus, no live stream."""
    session = settings.session.model_copy(update={"ticks": ticks, "seed": seed, "data_file": None})
    runtime = settings.runtime.model_copy(update={"bus": "inprocess", "live": "inprocess"})
    execution = settings.execution.model_copy(update={"address": None})
    return settings.model_copy(update={"session": session, "runtime": runtime, "execution": execution})


def _job(run_id: str, kind: str, ticks: int, seed: int, speed: float | None, who: str, reason: str,
         started_at: float, state: str = "starting", ended_at: float | None = None,
         error: str | None = None) -> dict[str, Any]:
    """A session as the API describes it (``serve.schemas.SessionInfo``), with no progress yet."""
    return {"run_id": run_id, "kind": kind, "state": state, "ticks": ticks, "seed": seed, "speed": speed,
            "started_by": who, "reason": reason, "stopped_by": None, "started_at": started_at,
            "ended_at": ended_at, "error": error,
            "progress": {"ticks": 0, "batches": 0, "signals": 0, "orders": 0, "trades": 0, "elapsed_s": 0.0}}


class SessionHost:
    """Runs the API's sessions (see the module). Its methods return at once; a session runs in a
    thread, and its state is read with ``get`` / ``list``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.sessions: dict[str, Any] = {}  # run id -> the running Session (for stop)
        self.stop_reasons: dict[str, str] = {}  # run id -> why it was stopped (before its Session was made)
        self.host_id = ""  # the actor's id, the same across its restarts (in each session's start record)
        try:
            import ray

            if ray.is_initialized():
                context = ray.get_runtime_context()
                self.host_id = context.get_actor_id() or ""
                if self.host_id and context.was_current_actor_reconstructed:
                    self._settle_interrupted()
        except Exception:  # noqa: BLE001 (a host that cannot settle its past still serves; logged)
            import logging

            logging.getLogger("octet.sessions").exception("the sessions of the host before this restart were not settled")

    def _settle_interrupted(self) -> None:
        """This host was restarted (its process ended): the sessions its earlier process was running
        ended with it. Their runs are marked ``interrupted`` in the store (with an operator record),
        and they are listed here as failed."""
        from cluster.storage.store import open_store

        store = open_store(self.settings)
        try:
            lost = store.interrupt_runs({"host": self.host_id}, "the session host's process ended while it ran "
                                                                "(the host was restarted)")
        finally:
            store.close()
        now = time.time()
        for run_id, start in lost.items():
            kind = str(start["kind"]) if start.get("kind") in ("backtest", "replay") else "backtest"
            self.jobs[run_id] = _job(run_id, kind, int(start.get("ticks") or 0), int(start.get("seed") or 0),
                                     start.get("speed"), str(start.get("who") or ""), str(start.get("reason") or ""),
                                     (start["recorded_ns"] or 0) / 1e9 or now,
                                     state="failed", ended_at=now,
                                     error="interrupted: the session host's process ended while it ran")

    def start(self, kind: str, ticks: int, seed: int, speed: float | None, who: str, reason: str) -> dict[str, Any]:
        at_once = self.settings.gateway.sessions_at_once
        with self.lock:
            running = [j for j in self.jobs.values() if j["state"] in ("starting", "running", "stopping")]
            if len(running) >= at_once:
                raise Busy(f"{len(running)} session(s) running ({', '.join(j['run_id'] for j in running)}); "
                           f"gateway.sessions_at_once is {at_once}: stop one or wait")
            run_id = f"{kind[:2]}{uuid.uuid4().hex[:10]}"
            job = _job(run_id, kind, ticks, seed, speed, who, reason, time.time())
            self.jobs[run_id] = job
            self._forget()
        threading.Thread(target=self._run, args=(run_id,), name=f"session-{run_id}", daemon=True).start()
        return dict(job)

    def stop(self, run_id: str, who: str, reason: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(run_id)
            if job is None:
                raise UnknownSession(run_id)
            if job["state"] in ("starting", "running"):
                job["state"] = "stopping"
                job["stopped_by"] = who
                self.stop_reasons[run_id] = reason
                session = self.sessions.get(run_id)
                if session is not None:
                    session.stop(who, reason)
            return dict(job)

    def stop_all(self, who: str, reason: str, wait_s: float) -> int:
        """Stop every session (the gateway is stopping) and wait up to ``wait_s`` for them to end, each
        recorded as ended with who stopped it; returns how many were still running then."""
        with self.lock:
            running = [k for k, j in self.jobs.items() if j["state"] in ("starting", "running", "stopping")]
        for run_id in running:
            self.stop(run_id, who, reason)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with self.lock:
                left = sum(self.jobs[k]["state"] in ("starting", "running", "stopping") for k in running)
            if not left:
                return 0
            time.sleep(0.1)
        return left

    def get(self, run_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(run_id)
            if job is None:
                raise UnknownSession(run_id)
            return dict(job)

    def list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(j) for j in reversed(self.jobs.values())]

    def _forget(self) -> None:
        done = [k for k, j in self.jobs.items() if j["state"] in ("ended", "stopped", "failed")]
        for k in done[:max(0, len(done) - KEPT)]:
            del self.jobs[k]

    def _run(self, run_id: str) -> None:
        from cluster.adapters.feeds.paced import ReplayFeed, replay_ticks
        from cluster.desk.session import Session
        from cluster.storage.store import open_store

        job = self.jobs[run_id]
        store = None
        try:
            settings = session_settings(self.settings, job["ticks"], job["seed"])
            ticks = replay_ticks(settings)
            store = open_store(settings)

            def progress(p: Any, _topo: Any) -> None:
                job["progress"] = {"ticks": p.ticks, "batches": p.batch, "signals": p.signals, "orders": p.orders,
                                   "trades": p.trades, "elapsed_s": round(p.elapsed_s, 3)}

            session = Session(settings, store, run_id=run_id, on_batch=progress,
                              requested={"who": job["started_by"], "reason": job["reason"], "kind": job["kind"],
                                         "ticks": job["ticks"], "seed": job["seed"], "speed": job["speed"],
                                         "host": self.host_id})
            with self.lock:
                self.sessions[run_id] = session
                stopping = job["state"] == "stopping"
                if not stopping:
                    job["state"] = "running"
            if stopping:  # stopped before it began: it ends at its first batch, recorded
                session.stop(job["stopped_by"] or "", self.stop_reasons.get(run_id, ""))
            source = ReplayFeed(ticks, job["speed"], settings.desk.max_gap_seconds) if job["speed"] else ticks
            result = session.run(source)
            with self.lock:
                job["state"] = "stopped" if job["state"] == "stopping" else "ended"
                job["progress"] = {**job["progress"], "ticks": result.ticks, "batches": result.batches,
                                   "signals": result.counts["signals"], "orders": result.counts["orders"],
                                   "trades": result.counts["trades"], "elapsed_s": round(result.elapsed_s, 3)}
        except Exception as exc:  # noqa: BLE001 (told through the API, and logged)
            import logging

            logging.getLogger("octet.sessions").exception("session %s failed", run_id)
            with self.lock:
                job["state"] = "failed"
                job["error"] = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[-1][:300]}"
        finally:
            with self.lock:
                job["ended_at"] = time.time()
                self.sessions.pop(run_id, None)
                self.stop_reasons.pop(run_id, None)
            if store is not None:
                store.close()


def start_host(settings: Settings) -> Any:
    """The session host for the gateway, owned by the calling process (it ends with it)."""
    import ray

    global _held
    actor: Any = ray.remote(SessionHost)
    # held here: Ray ends an actor (not detached) once its owner holds no handle to it
    # restarted if its process dies: the sessions it ran end with it, and the restarted host marks
    # their runs interrupted (SessionHost._settle_interrupted)
    _held = actor.options(name=HOST_NAME, namespace=NAMESPACE, get_if_exists=True, num_cpus=0,
                          max_concurrency=8, max_restarts=-1).remote(settings)
    return _held


def drop_host() -> None:
    """Let go of the host this process started (``serve.deploy.stop`` ends it first)."""
    global _held
    _held = None


def host() -> Any:
    """The running session host, or None (a gateway under plain uvicorn, or one not yet started)."""
    import ray

    if not ray.is_initialized():
        return None
    try:
        return ray.get_actor(HOST_NAME, namespace=NAMESPACE)
    except ValueError:
        return None
