"""rust_exec as a child process: configuration, start, health, kill and restart.

In embedded mode (``execution.address`` unset) the desk starts ``octet-exec`` itself, with a
journal directory of its own per session, and the process exits when the desk does. On a cluster,
run ``octet exec-serve`` on a host and set ``execution.address`` instead.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import grpc

from cluster.config.secrets import ExecCredentials, ExecSecrets, private_dir, secrets_dir, write_private
from cluster.config.settings import Settings

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[3]
BUILT_BINARY = REPO / "rust_exec" / "target" / "release" / "octet-exec"


class ExecServiceError(RuntimeError):
    """rust_exec could not be found, started or reached."""


def find_binary(configured: Path | None = None) -> Path:
    """The ``octet-exec`` binary: configured (then that one or none), ``OCTET_EXEC_BINARY``, the
    built one, or on PATH."""
    if configured is not None:
        if configured.is_file() and os.access(configured, os.X_OK):
            return configured
        raise ExecServiceError(f"execution.binary {configured}: no executable file there")
    candidates = [ Path(os.environ["OCTET_EXEC_BINARY"]) if os.environ.get("OCTET_EXEC_BINARY") else None,
                  BUILT_BINARY]
    on_path = shutil.which("octet-exec")
    if on_path:
        candidates.append(Path(on_path))
    for c in candidates:
        if c is not None and c.is_file() and os.access(c, os.X_OK):
            return c
    raise ExecServiceError(f"octet-exec binary not found (looked at {BUILT_BINARY} and PATH); "
                           "build it with `make setup` or set execution.binary")


def exec_config(settings: Settings) -> dict[str, Any]:
    """The JSON configuration of rust_exec, from the desk's settings (one source of truth)."""
    registry = settings.registry()
    x = settings.execution
    return {
        "instruments": [{"symbol": i.symbol, "base": i.base, "quote": i.quote,
                         "price_precision": i.price_precision, "contract_size": i.contract_size}
                        for i in registry.values()],
        # limits as integers, converted exactly (the settings refuse a value that does not convert)
        "accounts": [{"id": a.id,
                      "max_order_lots_e6": a.limits.max_order_lots_e6(),
                      "max_open_notional_usd_cents": a.limits.max_open_notional_usd_cents(),
                      "instruments": list(a.limits.instruments)} for a in settings.accounts],
        "venue": {"slippage_points": x.slippage_points,
                  "latency_ns": int(x.latency_ms * 1_000_000),
                  "liquidity_lots": float(x.liquidity_lots)},
    }


def exec_secrets(settings: Settings, hosts: list[str] | tuple[str, ...] = ()) -> ExecSecrets:
    """The credentials of the rust_exec this desk starts (embedded, or ``octet exec-serve``)."""
    x = settings.execution
    return ExecSecrets(secrets_dir(settings.runtime.data_dir) / "exec", hosts=hosts, tls=x.tls, mutual=x.mutual_tls)


def exec_credentials(settings: Settings, role: str = "desk") -> ExecCredentials:
    """How this desk reaches rust_exec: ``execution.token_file`` and friends when set, else the files
    ``exec_secrets`` made under ``data_dir/secrets/exec`` (the same host's ``octet exec-serve``)."""
    x = settings.execution
    made = exec_secrets(settings).credentials(role)
    return ExecCredentials(x.token_file or made.token_file,
                           None if not x.tls else (x.ca_file or made.ca_file),
                           x.cert_file or made.cert_file, x.key_file or made.key_file)


class ExecService:
    """One ``octet-exec`` process with its journal directory; restarts keep the same port.

    It serves with TLS and tokens from ``secrets`` (made on first use; by default a ``secrets``
    directory beside the journal); ``credentials(role)`` is what a client needs to reach it."""

    def __init__(self, config: dict[str, Any], journal_dir: Path, *, binary: Path | None = None,
                 fsync: bool = True, listen: str = "127.0.0.1:0", metrics_listen: str | None = "127.0.0.1:0",
                 start_timeout: float = 20.0, supervise: bool = True, secrets: ExecSecrets | None = None) -> None:
        self.config = config
        self.journal_dir = Path(journal_dir)
        self.secrets = secrets or ExecSecrets(self.journal_dir.parent / f"{self.journal_dir.name}.secrets")
        self.binary = find_binary(binary)
        self.fsync = fsync
        self.listen = listen
        self.metrics_listen = metrics_listen
        self.start_timeout = start_timeout
        self.address = ""
        self.metrics_address = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.journal_dir / "octet-exec.log"
        self._lock = threading.Lock()
        self.supervise = supervise
        self.restarts = 0
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: Settings, journal_dir: Path, listen: str = "127.0.0.1:0") -> ExecService:
        x = settings.execution
        return cls(exec_config(settings), journal_dir, binary=x.binary, fsync=x.fsync, supervise=x.supervise,
                   listen=listen,
                   metrics_listen=f"127.0.0.1:{x.metrics_port}" if x.metrics_port >= 0 else None,
                   secrets=exec_secrets(settings))

    def credentials(self, role: str = "desk") -> ExecCredentials:
        return self.secrets.credentials(role)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> str:
        """Start the process and wait until it answers Health; returns its gRPC address."""
        with self._lock:
            if self.alive():
                return self.address
            private_dir(self.journal_dir)
            self.secrets.ensure()
            cfg_path = write_private(self.journal_dir / "exec.json", json.dumps(self.config, indent=1))
            listen = self.address or self.listen
            cmd = [str(self.binary), "--config", str(cfg_path), "--journal-dir", str(self.journal_dir),
                   "--listen", listen, "--parent-pid", str(os.getpid()), *self.secrets.server_args()]
            if self.metrics_listen:
                cmd += ["--metrics-listen", self.metrics_address or self.metrics_listen]
            if not self.fsync:
                cmd.append("--no-fsync")
            log = open(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")  # noqa: SIM115
            try:
                self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
            finally:
                log.close()
            line = self._first_line()
            parts = line.split()
            if len(parts) != 4 or parts[0] != "LISTENING":
                self.proc.kill()
                raise ExecServiceError(f"octet-exec did not start: {line!r}; see {self.log_path}:\n{self._tail()}")
            self.address = parts[1]
            self.metrics_address = parts[3] if parts[3] != "-" else ""
        self._wait_healthy()
        if self.supervise and self._watchdog is None:
            self._stopping.clear()
            self._watchdog = threading.Thread(target=self._watch, name="octet-exec-watchdog", daemon=True)
            self._watchdog.start()
        return self.address

    def _watch(self) -> None:
        """Restart the process if it dies: it replays its journal and serves on the same port,
        and clients retry their (idempotent) calls meanwhile."""
        while not self._stopping.wait(0.05):
            if self.proc is not None and self.proc.poll() is not None and not self._stopping.is_set():
                code = self.proc.returncode
                log.warning("octet-exec (pid %s) exited with %s; restarting it on %s", self.proc.pid, code,
                            self.address)
                try:
                    self.start()
                    self.restarts += 1
                except ExecServiceError as e:
                    log.error("octet-exec could not be restarted: %s", e)

    def _first_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        out: list[str] = []
        stdout = self.proc.stdout
        reader = threading.Thread(target=lambda: out.append(stdout.readline().decode().strip()), daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        if not out:
            self.proc.kill()
            raise ExecServiceError(f"octet-exec did not start within {self.start_timeout:.0f} s; "
                                   f"see {self.log_path}:\n{self._tail()}")
        return out[0]

    def _tail(self, lines: int = 8) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _wait_healthy(self) -> None:
        from cluster.adapters.rust_exec.client import exec_stub
        from cluster.adapters.rust_exec.pb import exec_pb2

        deadline = time.monotonic() + self.start_timeout
        creds = self.credentials("desk")
        with creds.channel(self.address) as channel:
            stub = exec_stub(creds, channel)
            while True:
                try:
                    stub.Health(exec_pb2.HealthRequest(), timeout=1.0)
                    return
                except grpc.RpcError as e:
                    if e.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                        raise ExecServiceError(f"octet-exec at {self.address} refused the desk's token "
                                               f"({e.details()}); see {self.secrets.dir}") from None
                    if time.monotonic() > deadline or not self.alive():
                        raise ExecServiceError(f"octet-exec at {self.address} is not healthy; "
                                               f"see {self.log_path}:\n{self._tail()}") from None
                    time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed that the journal had not made durable."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self) -> str:
        self.kill()
        return self.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join()
        self._watchdog = None
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> ExecService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
