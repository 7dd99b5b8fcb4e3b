"""API keys and login tokens: who may call the gateway, and as what.

- An **API key** is ``okt_<key id>_<secret>``: 12 hex characters that name it, then 43 characters
  of a 256-bit random secret. The store keeps the secret's SHA-256 only (a secret of 256 random
  bits needs no slow hash: it cannot be guessed, only stolen), with a name, a role and when it
  was made and revoked. The key itself is shown once, by `octet users add`, and never logged.
- A **login token** (``POST /api/v1/auth/token`` with a key) is a JWT (HS256) that lives
  ``gateway.token_minutes``, signed with ``data_dir/secrets/gateway.key`` (0600). It carries the
  key's id and role; a token whose key was revoked since is refused.
- **Roles** are ordered: viewer < trader < admin. A route asks for the least role that may call it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from cluster.config.secrets import generated, private_dir, secrets_dir
from cluster.storage.models import ApiKey
from cluster.storage.reads import reading

ROLES = ("viewer", "trader", "admin")
KEY_RE = re.compile(r"^okt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")
ISSUER = "octet"
keys_table = ApiKey.__table__


class KeyProblem(ValueError):
    """A key that cannot be made or revoked as asked (one line for the operator)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key (its id and name) and its role."""

    key_id: str
    name: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def who(self) -> str:
        """How the audit trail names the caller."""
        return f"api:{self.name} ({self.key_id})"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_key(engine: Engine, name: str, role: str, by: str) -> tuple[Principal, str]:
    """A new key: its principal and the key itself (shown once; only its digest is stored)."""
    if role not in ROLES:
        raise KeyProblem(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not NAME_RE.match(name):
        raise KeyProblem("a key's name is 1-64 letters, digits, spaces or . _ @ -, starting with a letter or digit")
    if re.fullmatch(r"[0-9a-f]{12}", name):
        raise KeyProblem("a key's name must not look like a key id (12 hex digits): `users revoke` takes either")
    with engine.begin() as conn:
        taken = conn.execute(select(keys_table.c.key_id).where(keys_table.c.name == name,
                                                               keys_table.c.revoked_ns.is_(None))).first()
        if taken is not None:
            raise KeyProblem(f"a key named {name!r} exists ({taken[0]}): revoke it first, or choose another name")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        conn.execute(insert(keys_table).values(key_id=key_id, name=name, role=role, secret_sha256=_digest(secret),
                                               created_ns=time.time_ns(), created_by=by[:64], revoked_ns=None))
    return Principal(key_id, name, role), f"okt_{key_id}_{secret}"


def list_keys(engine: Engine) -> list[dict[str, Any]]:
    """Every key made, revoked ones too (never their digests)."""
    cols = [c for c in keys_table.c if c.name != "secret_sha256"]
    with reading(engine).connect() as conn:
        return [dict(r) for r in conn.execute(select(*cols).order_by(keys_table.c.created_ns)).mappings()]


def revoke_key(engine: Engine, key: str) -> dict[str, Any]:
    """Revoke the key with this id (or name); its row stays, marked. KeyProblem if none is live, or
    if a name is shared by several live keys (then the id says which)."""
    with engine.begin() as conn:
        rows = conn.execute(select(keys_table.c.key_id, keys_table.c.name, keys_table.c.role)
                            .where((keys_table.c.key_id == key) | (keys_table.c.name == key),
                                   keys_table.c.revoked_ns.is_(None))).mappings().all()
        if not rows:
            raise KeyProblem(f"no live key with id or name {key!r} (`octet users list`)")
        by_id = [r for r in rows if r["key_id"] == key]
        if len(rows) > 1 and len(by_id) != 1:  # two live keys answer to the name: revoke none
            raise KeyProblem(f"{len(rows)} live keys answer to {key!r} ({', '.join(r['key_id'] for r in rows)}): "
                             "give the key id")
        row = by_id[0] if by_id else rows[0]
        conn.execute(update(keys_table).where(keys_table.c.key_id == row["key_id"])
                     .values(revoked_ns=time.time_ns()))
    return dict(row)


class KeyBook:
    """Checks presented keys against the store. It holds every key's row (keys are few: an
    operator's), read in one query at most every ``ttl`` seconds, so a busy client costs no query per
    request and a revocation takes effect within ``ttl``. An id it does not hold (a key made since,
    or a made-up one) reads the table again, ``burst`` times at once and then once every ``reread``
    seconds: a flood of made-up ids costs the store a query per ``reread`` per replica, not one per
    request, and a key just made works at once unless such a flood has spent the reads."""

    def __init__(self, engine: Engine, ttl: float = 5.0, reread: float = 1.0, burst: int = 5) -> None:
        self.engine = engine
        self.ttl = ttl
        self.reread = reread
        self.burst = float(burst)
        self.reads = 0  # queries of the key table made
        self._rows: dict[str, dict[str, Any]] = {}
        self._read_at = -float("inf")  # time.monotonic() of the last read
        self._spare, self._spare_at = self.burst, time.monotonic()  # rereads for ids not held: a token bucket
        self._lock = threading.Lock()  # one read at a time: a crowd waits for it, not a read each

    def _spare_now(self, now: float) -> float:
        return min(self.burst, self._spare + (now - self._spare_at) / self.reread)

    def _held(self, key_id: str, now: float) -> bool:
        """Whether the rows held answer for ``key_id`` now, without a query."""
        return now - self._read_at < self.ttl and (key_id in self._rows or self._spare_now(now) < 1.0)

    def known(self, presented: str) -> bool:
        """Whether checking ``presented`` needs no query now."""
        m = KEY_RE.match(presented)
        if m is not None:
            key_id = m.group(1)
        elif presented.count(".") == 2:  # a login token: its key's row is read once its signature holds
            import jwt

            try:
                sub = jwt.decode(presented, options={"verify_signature": False}).get("sub")
            except jwt.PyJWTError:
                return True  # refused without a query
            if not isinstance(sub, str):
                return True
            key_id = sub
        else:
            return True  # malformed: refused without a query
        return self._held(key_id, time.monotonic())

    def _row(self, key_id: str) -> dict[str, Any] | None:
        if not self._held(key_id, time.monotonic()):
            with self._lock:
                now = time.monotonic()
                if not self._held(key_id, now):  # nobody read the table while this thread waited
                    if now - self._read_at < self.ttl:  # a reread for an id not held: spend one
                        self._spare, self._spare_at = self._spare_now(now) - 1.0, now
                    with reading(self.engine).connect() as conn:
                        rows = conn.execute(select(keys_table)).mappings().all()
                    self._rows = {r["key_id"]: dict(r) for r in rows}
                    self._read_at = now
                    self.reads += 1
        row = self._rows.get(key_id)
        return dict(row) if row is not None else None

    def check_key(self, presented: str) -> Principal | None:
        """The principal of a live key, or None (unknown, revoked, malformed or wrong secret)."""
        m = KEY_RE.match(presented)
        if m is None:
            return None
        row = self._row(m.group(1))
        if row is None or row["revoked_ns"] is not None:
            return None
        if not hmac.compare_digest(row["secret_sha256"], _digest(m.group(2))):
            return None
        return Principal(row["key_id"], row["name"], row["role"])

    def live(self, key_id: str) -> Principal | None:
        row = self._row(key_id)
        if row is None or row["revoked_ns"] is not None:
            return None
        return Principal(row["key_id"], row["name"], row["role"])


def token_key(data_dir: Path) -> bytes:
    """The key that signs login tokens (made on first use, 0600)."""
    path = private_dir(secrets_dir(data_dir)) / "gateway.key"
    return bytes.fromhex(generated(path, lambda: secrets.token_hex(32)))


def issue_token(key: bytes, p: Principal, minutes: float) -> tuple[str, int]:
    """A login token for ``p`` and when it expires (seconds since the epoch)."""
    import jwt

    now = int(time.time())
    exp = now + int(minutes * 60)
    claims = {"iss": ISSUER, "sub": p.key_id, "role": p.role, "name": p.name, "iat": now, "exp": exp,
              "jti": secrets.token_hex(8)}
    return jwt.encode(claims, key, algorithm="HS256"), exp


def check_token(key: bytes, book: KeyBook, token: str) -> Principal | None:
    """The principal of a valid, unexpired token whose key is still live (its role as the key has it now)."""
    import jwt

    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss"]})
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not re.fullmatch(r"[0-9a-f]{12}", sub):
        return None
    return book.live(sub)
