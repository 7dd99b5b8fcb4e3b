"""Credentials Octet generates for itself, kept in files only their owner can read.

Under ``<data_dir>/secrets`` (mode 0700, files 0600), created on first use and reused after:

- ``state.key``: the key that signs agents' saved state (checked before it is loaded);
- ``ray.token``: the token of a local Ray;
- ``audit.key``: the key that signs the audit chain's anchors (``cluster.storage.anchors``);
- ``exec/``: rust_exec's TLS material (a CA of its own, the server's certificate and key, a client
  certificate for mutual TLS), its auth file (tokens' SHA-256 only) and the tokens themselves:
  ``desk.token`` (read, trade, control), ``operator.token`` (read, control: the kill switch) and
  ``trader.token`` (read, trade: orders without the kill switch).

The local PostgreSQL, Redis and Kafka keep their passwords beside their data, in
``<data_dir>/<server>/password`` (0600); Redis's ``redis.conf`` and Kafka's ``server.properties``
hold them too, also 0600, and no password is put on a command line. No secret is written anywhere
else: not in the settings stored with a run, not in a log, not in ``last_session.json``. A secret
file that others can read is refused with the command that fixes it.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import ipaddress
import json
import os
import secrets as _random
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import grpc

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes, PrivateKeyTypes


class SecretError(RuntimeError):
    """A secret file is missing, unreadable or readable by others; the message names it."""


def private_dir(path: Path) -> Path:
    """Create ``path`` and make it 0700. Missing parents are made with the usual mode: a parent
    such as ``data_dir`` must stay open to PostgreSQL's own user when Octet runs as root."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def output_dir(path: Path, private: bool = True) -> Path:
    """A folder the user named for output (``--out``): made 0700 when missing (``private``; else with
    the usual mode, as data_dir, which PostgreSQL's own user must reach; missing parents with the usual
    mode); one that exists keeps its mode, as it may be shared (a project folder, /tmp), while what is
    written into it is 0600. Raises OSError when it is not a folder or nothing can be written in it, so
    a command finds out before its work, not after."""
    path = Path(path)
    try:
        path.mkdir(parents=True)
    except FileExistsError:  # there already (or made meanwhile by another process): its mode is its own
        pass
    else:
        if private:
            os.chmod(path, 0o700)
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))
    probe = path / f".octet-probe-{os.getpid()}-{_random.token_hex(4)}"  # a name no other writer holds
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    probe.unlink()
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` as 0600, atomically (a temporary file renamed over it). The
    directory is left as it is (made if missing, with the usual mode)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data.encode() if isinstance(data, str) else data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def read_private(path: Path) -> bytes:
    """Read a secret file, refusing one that its group or others can read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SecretError(f"{path}: no such secret file") from None
    except OSError as exc:
        raise SecretError(f"{path}: cannot read ({exc.strerror})") from None
    if mode & 0o077:
        raise SecretError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SecretError(f"{path}: cannot read ({exc.strerror})") from None


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``, for logs and screens."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def secrets_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "secrets"


def generated(path: Path, make: Callable[[], str]) -> str:
    """The secret in ``path``, written there first (0600) from ``make()`` when it does not exist.
    Two processes that both find it missing agree on one: the file is written whole under a name
    of its own and linked into place only if nothing is there yet (the loser reads the winner's)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{_random.token_hex(4)}.new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, make().encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and refused when another process got there first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return read_private(path).decode().strip()


def ray_token_file(data_dir: Path) -> Path:
    """The token of a local Ray (made on first use, 0600)."""
    path = private_dir(secrets_dir(data_dir)) / "ray.token"
    generated(path, lambda: _random.token_hex(32))  # also refuses a file that others can read
    return path


def state_key(data_dir: Path) -> bytes:
    """The key that signs agents' saved state, kept apart from where that state is stored."""
    return bytes.fromhex(generated(private_dir(secrets_dir(data_dir)) / "state.key", lambda: _random.token_hex(32)))


@dataclass(frozen=True, slots=True)
class KafkaAccess:
    """Where the Kafka broker is and how to sign in (SASL/SCRAM-SHA-256 when ``username`` is set);
    the password stays in its 0600 file and is read when a client connects (paths pickle safely)."""

    bootstrap: str
    username: str | None = None
    password_file: Path | None = None

    def config(self) -> dict[str, Any]:
        """kafka-python's connection settings."""
        cfg: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.username:
            if self.password_file is None:
                raise SecretError(f"Kafka user {self.username!r} has no password file (kafka.password_file)")
            cfg |= {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                    "sasl_plain_username": self.username,
                    "sasl_plain_password": read_private(self.password_file).decode().strip()}
        return cfg

    def __str__(self) -> str:
        return self.bootstrap


# -- rust_exec ----------------------------------------------------------------------------------

# desk: the desk's own agents (they halt and flatten when the breaker says so); operator: the kill
# switch and status, no orders; trader: a strategy script's orders, no kill switch.
ROLES = {"desk": ["read", "trade", "control"], "operator": ["read", "control"], "trader": ["read", "trade"]}


@dataclass(frozen=True, slots=True)
class ExecCredentials:
    """What a client needs to reach rust_exec: paths only, so it pickles without a secret in it.

    ``ca_file`` None means plaintext on loopback (the server runs without TLS there); the token is
    still sent. ``cert_file`` and ``key_file`` are the client's certificate for mutual TLS."""

    token_file: Path
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The bearer token, sent with every call as plain metadata (gRPC's call-credential plugins
        cost about 0.35 ms a call here: bench/exec_latency.py)."""
        return (("authorization", f"Bearer {read_private(self.token_file).decode().strip()}"),)

    def channel(self, address: str, options: list[tuple[str, Any]] | None = None) -> grpc.Channel:
        """TLS to rust_exec (its CA, and the client certificate for mutual TLS), or plaintext when
        ``ca_file`` is None (a rust_exec without TLS, on loopback)."""
        if self.ca_file is None:
            return grpc.insecure_channel(address, options=options or [])
        try:
            ca = Path(self.ca_file).read_bytes()
        except OSError as exc:
            raise SecretError(f"{self.ca_file}: cannot read the CA certificate ({exc.strerror})") from None
        key = read_private(self.key_file) if self.key_file else None
        cert = Path(self.cert_file).read_bytes() if self.cert_file else None
        return grpc.secure_channel(address, grpc.ssl_channel_credentials(ca, key, cert), options=options or [])


def _pem_cert(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def _pem_key(key: PrivateKeyTypes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


class ExecSecrets:
    """rust_exec's TLS material, auth file and tokens in one 0700 directory, made on first use.

    ``hosts`` are the names and addresses clients use to reach it (loopback is always included);
    the server certificate is re-issued when they change. ``mutual``: clients must present a
    certificate signed by this CA too."""

    def __init__(self, directory: Path, *, hosts: list[str] | tuple[str, ...] = (), tls: bool = True,
                 mutual: bool = False) -> None:
        self.dir = Path(directory)
        self.hosts = sorted({"localhost", "127.0.0.1", "::1", *hosts})
        self.tls = tls
        self.mutual = mutual and tls

    def path(self, name: str) -> Path:
        return self.dir / name

    def ensure(self) -> ExecSecrets:
        if self.dir.parent.name == "secrets":  # data_dir/secrets/exec: the secrets directory is private too
            private_dir(self.dir.parent)
        private_dir(self.dir)
        # one maker at a time: two sessions on one data_dir (a sweep's trials, two backtests) starting at
        # once must not each make a CA and sign with the other's key
        fd = os.open(self.path(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._ensure_locked()
        finally:
            os.close(fd)  # releases the lock
        return self

    def _ensure_locked(self) -> None:
        digests = {role: hashlib.sha256(generated(self.path(f"{role}.token"),
                                                  lambda: _random.token_urlsafe(32)).encode()).hexdigest()
                   for role in ROLES}
        tokens = [{"name": role, "sha256": digests[role], "allow": allow} for role, allow in ROLES.items()]
        auth = json.dumps({"tokens": tokens}, indent=1)
        if not self.path("auth.json").exists() or read_private(self.path("auth.json")).decode() != auth:
            write_private(self.path("auth.json"), auth)
        if self.tls:
            self._ensure_tls()

    def _ensure_tls(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = dt.datetime.now(dt.UTC)

        def issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
                  issuer_key: CertificateIssuerPrivateKeyTypes | None, *, ca: bool = False,
                  sans: list[str] | None = None, usage: x509.ObjectIdentifier | None = None) -> x509.Certificate:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
            b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
                 .public_key(key.public_key()).serial_number(x509.random_serial_number())
                 .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
                 .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
            if sans:
                alt: list[x509.GeneralName] = []
                for h in sans:
                    try:
                        alt.append(x509.IPAddress(ipaddress.ip_address(h)))
                    except ValueError:
                        alt.append(x509.DNSName(h))
                b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
            if usage is not None:
                b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            return b.sign(issuer_key or key, hashes.SHA256())

        if not self.path("ca.pem").exists() or not self.path("ca.key").exists():
            new_ca_key = ec.generate_private_key(ec.SECP256R1())
            new_ca_cert = issue("octet-exec CA", new_ca_key, None, None, ca=True)
            write_private(self.path("ca.key"), _pem_key(new_ca_key))
            write_private(self.path("ca.pem"), _pem_cert(new_ca_cert))
            for stale in ("server.pem", "client.pem"):
                self.path(stale).unlink(missing_ok=True)
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        # ca.key is the key made above (EC), one that signs certificates
        ca_key = cast("CertificateIssuerPrivateKeyTypes", load_pem_private_key(read_private(self.path("ca.key")), None))
        ca_cert = x509.load_pem_x509_certificate(self.path("ca.pem").read_bytes())
        hosts_file = self.path("server.hosts")
        if (not self.path("server.pem").exists() or not hosts_file.exists()
                or json.loads(hosts_file.read_text()) != self.hosts):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = issue("octet-exec", key, ca_cert.subject, ca_key, sans=self.hosts, usage=ExtendedKeyUsageOID.SERVER_AUTH)
            write_private(self.path("server.key"), _pem_key(key))
            write_private(self.path("server.pem"), _pem_cert(cert))
            write_private(hosts_file, json.dumps(self.hosts))
        if self.mutual and not self.path("client.pem").exists():
            key = ec.generate_private_key(ec.SECP256R1())
            cert = issue("octet-desk", key, ca_cert.subject, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
            write_private(self.path("client.key"), _pem_key(key))
            write_private(self.path("client.pem"), _pem_cert(cert))

    def server_args(self) -> list[str]:
        """octet-exec's arguments for these credentials."""
        args = ["--auth-file", str(self.path("auth.json"))]
        if self.tls:
            args += ["--tls-cert", str(self.path("server.pem")), "--tls-key", str(self.path("server.key"))]
            if self.mutual:
                args += ["--tls-client-ca", str(self.path("ca.pem"))]
        return args

    def credentials(self, role: str = "desk") -> ExecCredentials:
        if role not in ROLES:
            raise SecretError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
        return ExecCredentials(self.path(f"{role}.token"), self.path("ca.pem") if self.tls else None,
                               self.path("client.pem") if self.mutual else None,
                               self.path("client.key") if self.mutual else None)
