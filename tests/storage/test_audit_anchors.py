"""The audit chain's anchors, on real PostgreSQL and on SQLite: what the chain alone cannot show (a
deleted tail; a tail rewritten with every hash after it recomputed, as the database owner could)
is found against the heads signed outside the database; a forged or damaged anchor line is named;
the key is private or refused; ``octet audit verify`` exits 0 on an intact store, 1 on a tampered
one, and 2 with one clear line when it has nothing to check against."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, text, update

from cluster.config.settings import Settings, load_settings
from cluster.storage import anchors, audit
from cluster.storage.anchors import AnchorLog, AuditKeyError
from cluster.storage.audit import Entry
from cluster.storage.store import SessionStore
from tests.conftest import ROOT

BATCHES, PER_BATCH = 3, 10  # anchors at records 10, 20 and 30


def _settings(tmp_path: Path) -> Settings:
    return load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path / "var"))


def _anchored(url: str, tmp_path: Path) -> SessionStore:
    """A store whose 30 records came in three batches, each batch's head anchored (the writer's defaults)."""
    store = SessionStore(url, anchors=AnchorLog.for_settings(_settings(tmp_path)))
    for b in range(BATCHES):
        store.append_audit(f"r{b}", [Entry("order", b * 100 + i, {"lots": f"{i}.10", "price": "1.08501"}, f"s{i}",
                                           f"o{b}-{i}", "acc") for i in range(PER_BATCH)])
    return store


def _log(tmp_path: Path) -> Path:
    return tmp_path / "var" / "audit" / "anchors.jsonl"


def _key(tmp_path: Path) -> bytes:
    return anchors.load_key(tmp_path / "var" / "secrets" / "audit.key")


@contextmanager
def as_owner(store: SessionStore) -> Iterator[Connection]:
    """The database owner's rights: the append-only triggers switched off for one transaction."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit DISABLE TRIGGER USER"))
            yield conn
            conn.execute(text("ALTER TABLE audit ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_no_update"))
            conn.execute(text("DROP TRIGGER audit_no_delete"))
            yield conn
            conn.execute(text("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                              "BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END"))
            conn.execute(text("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
                              "BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END"))


def _delete_tail(store: SessionStore, first: int) -> None:
    with as_owner(store) as conn:
        conn.execute(text("DELETE FROM audit WHERE seq >= :s"), {"s": first})


def _rewrite_and_recompute(store: SessionStore, seq: int, payload: dict[str, str]) -> None:
    """Record ``seq`` given another payload, and every hash from it to the head recomputed."""
    t = audit.audit
    with as_owner(store) as conn:
        rows = conn.execute(select(t).where(t.c.seq >= seq).order_by(t.c.seq)).all()
        prev = rows[0].prev_hash
        for r in rows:
            body = payload if r.seq == seq else r.payload
            h = audit.record_hash(prev, r.seq, r.run_id, Entry(r.kind, r.ts_ns, body, r.signal_id, r.order_id,
                                                                r.account_id))
            conn.execute(update(t).where(t.c.seq == r.seq).values(payload=body, prev_hash=prev, hash=h))
            prev = h


def test_an_intact_anchored_chain_checks_out(url: str, tmp_path: Path) -> None:
    store = _anchored(url, tmp_path)
    lines = _log(tmp_path).read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [10, 20, 30]  # one anchor per committed batch
    rep = anchors.check(store.engine, _log(tmp_path), _key(tmp_path))
    assert rep.ok and (rep.chain.records, rep.anchors, rep.anchored_to) == (30, 3, 30), rep.problems


def test_a_deleted_tail_is_found_by_its_anchors_and_named(url: str, tmp_path: Path) -> None:
    store = _anchored(url, tmp_path)
    _delete_tail(store, 26)  # the last 5 records
    assert audit.verify(store.engine) == audit.Verdict(True, 25)  # the chain alone still holds
    rep = anchors.check(store.engine, _log(tmp_path), _key(tmp_path))
    assert not rep.ok and rep.first_bad == 26
    assert "records 26–30 are gone" in rep.problems[0] and "tail of the chain was deleted" in rep.problems[0]


def test_a_rewritten_tail_with_recomputed_hashes_chains_but_not_against_its_anchors(url: str,
                                                                                      tmp_path: Path) -> None:
    store = _anchored(url, tmp_path)
    _rewrite_and_recompute(store, 14, {"lots": "9.10", "price": "1.08501"})
    v = audit.verify(store.engine)
    assert v.ok and v.records == 30  # every link recomputed: the chain alone says intact
    rep = anchors.check(store.engine, _log(tmp_path), _key(tmp_path))
    assert not rep.ok and rep.first_bad == 20, rep.problems  # the first anchored record after the change
    assert "record 20 was rewritten" in rep.problems[0] and "records 11–20" in rep.problems[0]


def test_a_forged_or_damaged_anchor_line_is_named(url: str, tmp_path: Path) -> None:
    """Who deletes the tail cannot re-sign the last anchor to match what is left: without the key,
    a line made to vouch for record 20 instead of 30 does not hold."""
    store = _anchored(url, tmp_path)
    _delete_tail(store, 21)
    log = _log(tmp_path)
    lines = log.read_text().splitlines()
    with store.engine.connect() as conn:
        head = conn.execute(text("SELECT hash FROM audit WHERE seq = 20")).scalar()
    forged = {**json.loads(lines[2]), "seq": 20, "hash": head}
    log.write_text("\n".join([*lines[:2], json.dumps(forged), '{"v": 1, "seq": 3']) + "\n")
    rep = anchors.check(store.engine, log, _key(tmp_path))
    assert not rep.ok and rep.first_bad is None, rep.problems  # every record the good anchors name holds
    assert any(p.startswith("anchor line 3 (record 20") and "does not carry a valid signature" in p
               for p in rep.problems), rep.problems
    assert any(p.startswith("anchor line 4 is damaged") for p in rep.problems), rep.problems
    other_key = os.urandom(32)  # a log checked with another key: every line is named
    assert len(anchors.check(store.engine, log, other_key).problems) == 4
    log.write_text("")  # emptied: nothing vouches for the tail any more, and that is said
    with pytest.raises(AuditKeyError, match=r"holds no anchor: the tail of the audit chain \(20 records\) cannot"):
        anchors.check(store.engine, log, _key(tmp_path))


def test_the_key_is_made_private_and_one_others_can_read_is_refused(tmp_path: Path) -> None:
    settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path / "var"),
                             storage__audit_key_file=str(tmp_path / "keys" / "octet-audit.key"))
    log = AnchorLog.for_settings(settings)  # made on first use, where the setting says
    log.close()
    key = tmp_path / "keys" / "octet-audit.key"
    assert (key.stat().st_mode & 0o777, key.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert len(key.read_bytes()) == 32 and anchors.load_key(key, create=True) == key.read_bytes()  # kept
    assert _log_mode(settings) == 0o600
    for mode in (0o640, 0o604):
        key.chmod(mode)
        with pytest.raises(AuditKeyError, match=rf"is open to group/others \(mode 0{mode:o}\); refusing to use it"):
            AnchorLog.for_settings(settings)
    key.chmod(0o600)
    key.write_bytes(b"short")
    with pytest.raises(AuditKeyError, match="holds 5 bytes, not 32"):
        anchors.load_key(key)
    with pytest.raises(AuditKeyError, match="no audit key at"):
        anchors.load_key(tmp_path / "nowhere.key")


def _log_mode(settings: Settings) -> int:
    return anchors.log_path(settings).stat().st_mode & 0o777


def _octet(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cluster.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={**os.environ, "COLUMNS": "250", **env})


def test_octet_audit_verify_exits_0_intact_1_tampered_2_without_anchors(url: str, tmp_path: Path) -> None:
    store = _anchored(url, tmp_path)
    var = {"OCTET_RUNTIME__DATA_DIR": str(tmp_path / "var")}  # the writer's default anchor log and key
    ok = _octet("audit", "verify", "--url", url, **var)
    assert ok.returncode == 0 and "intact: 30 records" in ok.stdout and "anchored up to record 30 by 3" in ok.stdout, \
        ok.stdout + ok.stderr
    _rewrite_and_recompute(store, 27, {"lots": "0.01", "price": "1.08501"})
    assert audit.verify(store.engine).ok
    bad = _octet("audit", "verify", "--url", url, **var)
    assert bad.returncode == 1 and "broken at record 30" in bad.stdout and "record 30 was rewritten" in bad.stdout, \
        bad.stdout + bad.stderr
    chain_only = _octet("audit", "verify", "--url", url, "--no-anchors")
    assert chain_only.returncode == 0 and "anchors not checked" in chain_only.stdout, chain_only.stdout
    missing = _octet("audit", "verify", "--url", url, "--anchors", str(tmp_path / "none.jsonl"), "--key",
                     str(tmp_path / "none.key"))
    assert missing.returncode == 2 and "cannot be checked" in missing.stderr and "Traceback" not in missing.stderr, \
        missing.stdout + missing.stderr
    key = tmp_path / "var" / "secrets" / "audit.key"
    key.chmod(0o644)
    exposed = _octet("audit", "verify", "--url", url, **var)
    assert exposed.returncode == 2 and "refusing to use it" in exposed.stderr and "Traceback" not in exposed.stderr, \
        exposed.stdout + exposed.stderr
