"""A local PostgreSQL and Redis, started by the project from Debian's binaries, without a system service.

Each server lives under one directory (data, socket, log, pid) and listens on 127.0.0.1 only,
behind a password generated on first use into ``<its directory>/password`` (0600): PostgreSQL
with SCRAM-SHA-256 for every connection, Redis with ``requirepass``. ``url`` carries the password
(never print it: ``shown`` is the same URL without it).
PostgreSQL refuses to run as root: when Octet runs as root (CI), the server runs as the
``postgres`` user that Debian's package creates, and its directory is handed to that user.
``start`` is idempotent: a server already running from that directory is reused.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cluster.config.secrets import KafkaAccess, generated, private_dir, redact, write_private


class ServiceError(RuntimeError):
    """A server could not be found, started or reached; the message says which and why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kept_port(base: Path) -> int:
    """The port a server under ``base`` used before (its ``port`` file), so it comes back there; 0 if none."""
    port_file = base / "port"
    return int(port_file.read_text()) if port_file.exists() else 0


def _pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("postgres") or shutil.which("pg_ctl")
    if exe:
        return Path(exe).resolve().parent
    raise ServiceError("PostgreSQL server binaries not found: install Debian's `postgresql` package "
                       "(`make services-deps` does it as root)")


def _password(base: Path) -> str:
    """The server's password, made the first time (``base/password``, 0600)."""
    import secrets

    return generated(base / "password", lambda: secrets.token_urlsafe(24))


def _wait_port(port: int, seconds: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-1500:] if log and log.exists() else ""
    raise ServiceError(f"{what} did not listen on 127.0.0.1:{port} within {seconds:.0f} s\n{tail}")


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster under ``base``; ``url`` is the SQLAlchemy URL of its ``octet`` database."""

    base: Path
    port: int = 0
    user: str = "octet"
    database: str = "octet"

    def __post_init__(self) -> None:
        self.base = Path(self.base).resolve()
        self.bindir = _pg_bindir()
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = self.port or _kept_port(self.base) or free_port()

    @property
    def password(self) -> str:
        return _password(self.base)

    def url_of(self, database: str) -> str:
        from urllib.parse import quote

        return f"postgresql+psycopg://{self.user}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_of(self.database)

    @property
    def shown(self) -> str:
        return redact(self.url)

    def _as_owner(self, *cmd: str | Path) -> list[str]:
        args = [str(c) for c in cmd]
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def _run(self, *cmd: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self._as_owner(*cmd), capture_output=True, text=True, cwd="/", input=stdin,
                              env={**os.environ, "PGPASSWORD": self.password})
        if proc.returncode != 0:
            raise ServiceError(f"{' '.join(map(str, cmd[:2]))} failed ({proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-1500:]}")
        return proc

    def running(self) -> bool:
        if not (self.data / "postmaster.pid").exists():
            return False
        proc = subprocess.run(self._as_owner(self.bindir / "pg_ctl", "status", "-D", self.data),
                              capture_output=True, text=True, cwd="/")
        return proc.returncode == 0

    def start(self, timeout: float = 60.0) -> str:
        """Initialise on first use, start if stopped, create the database; returns ``url``."""
        private_dir(self.base)
        (self.base / "port").write_text(str(self.port))
        password = self.password  # made before the directory goes to the postgres user
        if os.geteuid() == 0:
            for parent in self.base.parents:  # the postgres user must be able to reach its directory
                if not parent.stat().st_mode & 0o001:
                    raise ServiceError(f"PostgreSQL runs as the postgres user, which cannot enter {parent} "
                                       f"(mode {parent.stat().st_mode & 0o777:o}); put its directory elsewhere")
            shutil.chown(self.base, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            pwfile = self.base / ".initdb-password"
            write_private(pwfile, password)
            if os.geteuid() == 0:
                shutil.chown(pwfile, "postgres", "postgres")
            try:
                self._run(self.bindir / "initdb", "-D", self.data, "-U", self.user, "--auth=scram-sha-256",
                          f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync", "--locale=C")
            finally:
                pwfile.unlink(missing_ok=True)
        hba = self.data / "pg_hba.conf"
        trusting = " trust" in hba.read_text()
        if not self.running():
            opts = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=100 "
                    "-c shared_buffers=128MB")
            self._run(self.bindir / "pg_ctl", "start", "-D", self.data, "-l", self.log, "-o", opts, "-w",
                      "-t", str(int(timeout)))
        _wait_port(self.port, timeout, "PostgreSQL", self.log)
        if trusting:  # a cluster made before passwords: set one, then require it
            self._run(self.bindir / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d",
                      "postgres", "-v", "ON_ERROR_STOP=1", "-f", "-",  # on stdin: no password on a command line
                      stdin=f"ALTER USER {self.user} PASSWORD '{password}';\n")
            lines = [ln.replace(" trust", " scram-sha-256") for ln in hba.read_text().splitlines()]
            hba.write_text("\n".join(lines) + "\n")
            self._run(self.bindir / "pg_ctl", "reload", "-D", self.data)
        exists = self._run(self.bindir / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                           "-d", "postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{self.database}'")
        if exists.stdout.strip() != "1":
            self._run(self.bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                      self.database)
        return self.url

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run(self.bindir / "pg_ctl", "stop", "-D", self.data, "-m", mode, "-w")

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash, for tests)."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), 9)


@dataclass
class LocalRedis:
    """One Redis server under ``base``, without persistence: its state is rebuilt from PostgreSQL."""

    base: Path
    port: int = 0

    def __post_init__(self) -> None:
        self.base = Path(self.base).resolve()
        exe = shutil.which("redis-server")
        if exe is None:
            raise ServiceError("redis-server not found: install Debian's `redis-server` package "
                               "(`make services-deps` does it as root)")
        self.exe = exe
        self.port = self.port or _kept_port(self.base) or free_port()
        self.pidfile = self.base / "redis.pid"
        self.log = self.base / "redis.log"
        self.conf = self.base / "redis.conf"

    @property
    def url(self) -> str:
        from urllib.parse import quote

        return f"redis://:{quote(_password(self.base), safe='')}@127.0.0.1:{self.port}/0"

    @property
    def shown(self) -> str:
        return redact(self.url)

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None

    def start(self, timeout: float = 20.0) -> str:
        private_dir(self.base)
        (self.base / "port").write_text(str(self.port))
        if self.pid() is not None and not self.conf.exists():
            self.stop()  # started before passwords: start it again with one (it keeps no data)
        if self.pid() is None:
            # the password goes in a 0600 file, not on the command line where `ps` shows it
            write_private(self.conf, "\n".join([
                f"port {self.port}", "bind 127.0.0.1", f"dir {self.base}", 'save ""', "appendonly no",
                "daemonize yes", f"pidfile {self.pidfile}", f"logfile {self.log}",
                f"requirepass {_password(self.base)}", ""]))
            subprocess.run([self.exe, str(self.conf)], check=True)
        _wait_port(self.port, timeout, "Redis", self.log)
        return self.url

    def stop(self) -> None:
        self._end(15)

    def kill(self) -> None:
        """SIGKILL (a crash, for tests): Redis comes back empty, as it keeps no files."""
        self._end(9)

    def _end(self, signum: int) -> None:
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signum)
            for _ in range(250):  # up to 5 s for it to go
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.02)
        self.pidfile.unlink(missing_ok=True)


KAFKA_SH = Path(__file__).resolve().parent / "kafka" / "kafka.sh"


@dataclass
class LocalKafka:
    """A single-node KRaft broker under ``base``, through ``cluster/devservers/kafka/kafka.sh``."""

    base: Path
    port: int = 0

    def __post_init__(self) -> None:
        self.base = Path(self.base).resolve()
        if shutil.which(os.environ.get("JAVA", "java")) is None:
            raise ServiceError("Java 17+ is needed for the Kafka broker (java not on PATH)")
        self.port = self.port or _kept_port(self.base)  # 0: kafka.sh picks one and keeps it

    def _sh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(KAFKA_SH), *args], capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise ServiceError(f"kafka.sh {args[0]} failed: {(proc.stderr or proc.stdout).strip()[-1500:]}")
        return proc

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def access(self) -> KafkaAccess:
        """The broker's address and its SASL/SCRAM user (password in ``base/password``, 0600)."""
        return KafkaAccess(self.bootstrap, "octet", self.base / "password")

    def started(self) -> KafkaAccess:
        self.start()
        return self.access

    def start(self) -> str:
        out = self._sh("start", str(self.base), *([str(self.port)] if self.port else [])).stdout.strip()
        self.port = int(out.rsplit(":", 1)[1])
        return self.bootstrap

    def running(self) -> bool:
        return self._sh("status", str(self.base), check=False).returncode == 0

    def stop(self) -> None:
        self._sh("stop", str(self.base))

    def kill(self) -> None:
        self._sh("kill", str(self.base))


class RayHead:
    """``ray start --head --block`` on a free loopback port, with a temp dir of its own (nothing else
    on the host finds it) and a token file (what docs/operators.md shows a desk attaching to): for
    the tests and benchmarks that attach a desk to a Ray started outside it. A context manager."""

    def __init__(self, token: Path) -> None:
        self.token = token
        self.port = 0
        self.address = ""
        self.temp_dir = ""
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> str:
        import sys
        import tempfile
        import threading

        self.port = free_port()
        self.temp_dir = tempfile.mkdtemp(prefix="ort-", dir="/tmp")  # short: Ray's socket paths live under it
        env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token),
               "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
                                      f"--port={self.port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                                      "--include-dashboard=false", "--disable-usage-stats",
                                      f"--temp-dir={self.temp_dir}"],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        assert self.proc.stdout is not None
        lines = []
        for line in self.proc.stdout:  # ready once it says so (its GCS listens earlier than that)
            lines.append(line)
            if "Ray runtime started" in line:
                break
        else:
            self.stop()
            raise ServiceError("ray start --head failed: " + "".join(lines)[-2000:])
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # the rest, so that it never blocks
        self.address = f"127.0.0.1:{self.port}"
        return self.address

    def stop(self) -> None:
        import signal

        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.proc = None
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> RayHead:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
