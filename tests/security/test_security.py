"""Security by default, tried as an attacker on this machine would: every server refuses a caller
without credentials, only the right token reaches the kill switch, saved state cannot be made to
run code, and no secret leaves its 0600 file (not into the records, the logs or the summary)."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
import redis

from actors.shell import AgentShell
from actors.state import TamperedState
from cluster.adapters.rust_exec.client import exec_stub
from cluster.adapters.rust_exec.pb import exec_pb2 as pb
from cluster.adapters.rust_exec.pb import exec_pb2_grpc
from cluster.adapters.rust_exec.process import ExecService, exec_config, find_binary
from cluster.config.secrets import ExecSecrets, SecretError, read_private
from tests.conftest import ROOT, fresh_database

KEY = bytes(range(32))


@pytest.fixture
def svc(settings, tmp_path):  # type: ignore[no-untyped-def]
    with ExecService(exec_config(settings), tmp_path / "exec", supervise=False) as service:
        yield service


def _stub(address: str, creds: grpc.ChannelCredentials) -> Any:
    return exec_pb2_grpc.ExecutionStub(grpc.secure_channel(address, creds))


def _code(call: Any, *args: Any) -> grpc.StatusCode:
    try:
        call(*args)
    except grpc.RpcError as e:
        return e.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


CALLS = {
    "Health": lambda s: s.Health(pb.HealthRequest(), timeout=5),
    "ListPositions": lambda s: s.ListPositions(pb.ListPositionsRequest(), timeout=5),
    "SubmitOrder": lambda s: s.SubmitOrder(pb.SubmitOrderRequest(order=pb.Order(client_order_id="x", account_id="nope")),
                                           timeout=5),
    "Halt": lambda s: s.Halt(pb.HaltRequest(reason="attacker"), timeout=5),
    "Flatten": lambda s: s.Flatten(pb.FlattenRequest(request_id="f", reason="attacker"), timeout=5),
    "Resume": lambda s: s.Resume(pb.ResumeRequest(), timeout=5),
    "GetOrder": lambda s: s.GetOrder(pb.GetOrderRequest(client_order_id="x"), timeout=5),
    "CancelOrder": lambda s: s.CancelOrder(pb.CancelOrderRequest(client_order_id="x"), timeout=5),
    "ModifyOrder": lambda s: s.ModifyOrder(pb.ModifyOrderRequest(client_order_id="x"), timeout=5),
    "PushQuotes": lambda s: s.PushQuotes(pb.PushQuotesRequest(batch_seq=1, stream_id="attacker"), timeout=5),
    "StreamReports": lambda s: next(iter(s.StreamReports(pb.StreamReportsRequest(), timeout=5))),
}


def test_every_rpc_of_the_contract_is_in_the_attack_list() -> None:
    assert set(CALLS) == set(pb.DESCRIPTOR.services_by_name["Execution"].methods_by_name)


# -- rust_exec ------------------------------------------------------------------------------------
def test_rust_exec_refuses_every_call_without_a_token_or_with_an_unknown_one(svc) -> None:  # type: ignore[no-untyped-def]
    tls = grpc.ssl_channel_credentials(svc.credentials().ca_file.read_bytes())
    anonymous = _stub(svc.address, tls)
    forged = _stub(svc.address, grpc.composite_channel_credentials(tls, grpc.access_token_call_credentials("guess")))
    for name, call in CALLS.items():
        assert _code(call, anonymous) is grpc.StatusCode.UNAUTHENTICATED, name
        assert _code(call, forged) is grpc.StatusCode.UNAUTHENTICATED, name
    desk = _stub(svc.address, grpc.composite_channel_credentials(
        tls, grpc.access_token_call_credentials(read_private(svc.credentials().token_file).decode())))
    assert not desk.Health(pb.HealthRequest(), timeout=5).halted  # nothing above reached the engine


def test_rust_exec_serves_no_plaintext(svc) -> None:  # type: ignore[no-untyped-def]
    plain = exec_pb2_grpc.ExecutionStub(grpc.insecure_channel(svc.address))
    assert _code(CALLS["Health"], plain) is grpc.StatusCode.UNAVAILABLE


def test_only_a_token_with_the_control_permission_reaches_the_kill_switch(svc) -> None:  # type: ignore[no-untyped-def]
    def stub(role: str) -> Any:
        creds = svc.credentials(role)
        return exec_stub(creds, creds.channel(svc.address))

    trader, operator = stub("trader"), stub("operator")
    for name in ("Halt", "Flatten", "Resume"):
        assert _code(CALLS[name], trader) is grpc.StatusCode.PERMISSION_DENIED, name
    assert _code(CALLS["SubmitOrder"], operator) is grpc.StatusCode.PERMISSION_DENIED
    # the trader's (empty) order reaches the engine and is refused there as invalid, not for the token
    assert _code(CALLS["SubmitOrder"], trader) is grpc.StatusCode.INVALID_ARGUMENT
    assert _code(CALLS["Halt"], operator) is grpc.StatusCode.OK
    assert trader.Health(pb.HealthRequest(), timeout=5).halt_reason == "attacker"
    assert _code(CALLS["Resume"], operator) is grpc.StatusCode.OK


def test_mutual_tls_refuses_a_client_without_a_certificate_of_its_ca(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    secrets = ExecSecrets(tmp_path / "s", mutual=True)
    with ExecService(exec_config(settings), tmp_path / "exec", secrets=secrets, supervise=False) as svc:
        creds = svc.credentials()
        assert creds.cert_file is not None and creds.key_file is not None
        token = grpc.access_token_call_credentials(read_private(creds.token_file).decode())
        no_cert = _stub(svc.address, grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(creds.ca_file.read_bytes()), token))  # type: ignore[union-attr]
        assert _code(CALLS["Health"], no_cert) is grpc.StatusCode.UNAVAILABLE
        assert exec_stub(creds, creds.channel(svc.address)).Health(pb.HealthRequest(), timeout=5).pid > 0


def test_octet_exec_refuses_to_start_without_credentials_or_in_the_open(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    secrets = ExecSecrets(tmp_path / "s").ensure()
    cfg = tmp_path / "exec.json"
    cfg.write_text(json.dumps(exec_config(settings)))

    def start(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(find_binary()), "--config", str(cfg), "--journal-dir", str(tmp_path / "j"), *args],
                              capture_output=True, text=True, timeout=30)

    cases = {
        "--auth-file is required": start("--listen", "127.0.0.1:0"),
        "loopback only": start("--insecure", "--listen", "0.0.0.0:0"),
        "give --tls-cert": start("--auth-file", str(secrets.path("auth.json")), "--listen", "0.0.0.0:0"),
    }
    for message, done in cases.items():
        assert done.returncode == 2 and message in done.stderr, (message, done.stderr)
    os.chmod(secrets.path("auth.json"), 0o644)
    loose = start(*secrets.server_args(), "--listen", "127.0.0.1:0")
    assert loose.returncode == 1 and "readable by others" in loose.stderr, loose.stderr


def test_a_run_id_that_could_name_a_directory_outside_its_own_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    """A run id names data_dir/state/<run id> (deleted when a session ends) and exec/<run id>."""
    from cluster.desk.session import Session

    for bad in (".", "..", "../../outside", "a/b", "", "x" * 65, "run id"):
        with pytest.raises(ValueError, match="a run id is"):
            Session(settings, run_id=bad or "\n")
    assert Session(settings, run_id="re0123456789_a-b").run_id == "re0123456789_a-b"


def test_a_client_refuses_a_token_file_that_others_can_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secrets = ExecSecrets(tmp_path / "s").ensure()
    os.chmod(secrets.path("desk.token"), 0o640)
    with pytest.raises(SecretError, match="chmod 600"):
        creds = secrets.credentials()
        exec_stub(creds, creds.channel("127.0.0.1:1"))


# -- PostgreSQL, Redis, Kafka ---------------------------------------------------------------------
def test_postgres_refuses_a_connection_without_its_password(postgres) -> None:  # type: ignore[no-untyped-def]
    where = {"host": "127.0.0.1", "port": postgres.port, "user": postgres.user, "dbname": "postgres", "connect_timeout": 5}
    for password in (None, "guess"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(**where, **({"password": password} if password else {})).close()
    with psycopg.connect(**where, password=postgres.password) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    hba = [ln for ln in (postgres.data / "pg_hba.conf").read_text().splitlines() if ln and not ln.startswith("#")]
    assert hba and all("scram-sha-256" in ln for ln in hba), hba


def test_redis_refuses_a_client_without_its_password(redis_server) -> None:  # type: ignore[no-untyped-def]
    for password in (None, "guess"):
        with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
            redis.Redis(host="127.0.0.1", port=redis_server.port, password=password, socket_timeout=5).ping()
    assert redis.Redis.from_url(redis_server.url).ping()
    assert "requirepass" not in " ".join(Path(f"/proc/{redis_server.pid()}/cmdline").read_text().split("\0"))


def test_kafka_refuses_a_client_without_its_password(kafka_broker) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError, KafkaError

    wrong = {**kafka_broker.access.config(), "sasl_plain_password": "guess"}
    for config in ({"bootstrap_servers": kafka_broker.bootstrap}, wrong):  # refused: never connected (4 s to try)
        with pytest.raises(KafkaError) as refused:
            KafkaAdminClient(**config, request_timeout_ms=4000, bootstrap_timeout_ms=4000).close()
        assert not isinstance(refused.value, KafkaConfigurationError), refused.value  # an option it does not know
    admin = KafkaAdminClient(**kafka_broker.access.config(), request_timeout_ms=10_000)
    assert isinstance(admin.list_topics(), list)
    admin.close()


# -- Ray --------------------------------------------------------------------------------------------
@pytest.mark.ray
def test_ray_refuses_a_driver_with_a_wrong_token_and_takes_one_with_its_own(ray_local) -> None:  # type: ignore[no-untyped-def]
    gcs = ray_local.get_runtime_context().gcs_address
    token_file = Path(os.environ["RAY_AUTH_TOKEN_PATH"])
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    code = f"import ray; ray.init(address={gcs!r}, log_to_driver=False); print('CONNECTED', ray.cluster_resources())"
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")} | {"RAY_AUTH_MODE": "token",
                                                                                    "HOME": "/nonexistent"}
    wrong = subprocess.run([sys.executable, "-c", code], env={**base, "RAY_AUTH_TOKEN": "0" * 64},
                           capture_output=True, text=True, timeout=180)
    assert wrong.returncode != 0 and "CONNECTED" not in wrong.stdout, wrong.stdout[-500:]
    assert "InvalidAuthToken" in wrong.stderr or "AuthenticationError" in wrong.stderr, wrong.stderr[-800:]
    right = subprocess.run([sys.executable, "-c", code], env={**base, "RAY_AUTH_TOKEN_PATH": str(token_file)},
                           capture_output=True, text=True, timeout=180)
    assert "CONNECTED" in right.stdout, right.stderr[-800:]  # the same GCS, reachable: the token made the difference


def test_a_secret_file_leaves_its_directory_as_it_was_and_a_new_private_one_is_0700(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cluster.config.secrets import private_dir, write_private

    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    write_private(data / "last_session.json", "{}")  # the data directory stays open to PostgreSQL's user
    assert stat.S_IMODE(data.stat().st_mode) == 0o755 and stat.S_IMODE((data / "last_session.json").stat().st_mode) == 0o600
    made = private_dir(data / "exec" / "run1")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700


def test_a_postgres_made_before_passwords_is_given_one_and_trusts_nobody(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import tempfile

    from cluster.devservers.services import LocalPostgres

    base = Path(tempfile.mkdtemp(prefix="octet-test-pg-old-"))  # in /tmp: reachable by the postgres user
    os.chmod(base, 0o755)
    try:
        pg = LocalPostgres(base / "postgres")
        pg.base.mkdir()
        if os.geteuid() == 0:
            shutil.chown(pg.base, "postgres", "postgres")
        pg._run(pg.bindir / "initdb", "-D", pg.data, "-U", pg.user, "--auth=trust", "--no-sync", "--locale=C")
        pg.start()
        hba = [ln for ln in pg.data.joinpath("pg_hba.conf").read_text().splitlines() if ln and not ln.startswith("#")]
        assert hba and all("scram-sha-256" in ln for ln in hba), hba
        where = {"host": "127.0.0.1", "port": pg.port, "user": pg.user, "dbname": "postgres", "connect_timeout": 5}
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(**where).close()
        with psycopg.connect(**where, password=pg.password) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        pg.stop("immediate")
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- saved agent state ----------------------------------------------------------------------------
class _Counter:
    def __init__(self) -> None:
        self.total = 0

    def add(self, n: int) -> int:
        self.total += n
        return self.total


class _Payload:
    """What an attacker with write access to the state database would plant: code run on unpickling."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (open, (str(self.marker), "w"))


def test_saved_state_changed_behind_the_desk_is_refused_and_never_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state_dir = tmp_path / "state"
    AgentShell("counter", str(state_dir), _Counter, run_id="r", key=KEY).call(1, "add", 5)
    marker = tmp_path / "pwned"
    db = sqlite3.connect(state_dir / "counter.db")
    signed = db.execute("SELECT state FROM agent_snapshots").fetchone()[0]
    evil = pickle.dumps(_Payload(marker))
    for planted in (evil, signed[:37] + evil):  # a bare pickle, and one behind a copied signature
        db.execute("UPDATE agent_snapshots SET state = ?", (planted,))
        db.commit()
        with pytest.raises(TamperedState, match="not signed with this desk's key"):
            AgentShell("counter", str(state_dir), _Counter, run_id="r", key=KEY)
        assert not marker.exists()
    db.execute("UPDATE agent_snapshots SET state = ?", (signed,))
    db.commit()
    with pytest.raises(TamperedState):  # the right bytes under another key (another desk's state.key)
        AgentShell("counter", str(state_dir), _Counter, run_id="r", key=bytes(32))
    assert AgentShell("counter", str(state_dir), _Counter, run_id="r", key=KEY).agent.total == 5
    db.close()


# -- a whole session: file modes, and no secret outside its file -------------------------------
@pytest.mark.ray
def test_a_session_keeps_its_files_private_and_no_secret_in_its_records_its_data_dir_or_its_output(
        tmp_path, postgres, redis_server) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "var"
    url = fresh_database(postgres, "security")
    env = {**{k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN_PATH"}, "COLUMNS": "200",
           "OCTET_RUNTIME__DATA_DIR": str(data), "OCTET_STORAGE__URL": url,
           "OCTET_STORAGE__REDIS_URL": redis_server.url,
           "OCTET_RUNTIME__KEEP_AGENT_STATE": "true"}  # the agents' saved state stays, to be checked below
    done = subprocess.run([sys.executable, "-m", "cluster.cli", "run", "--ticks", "12000", "--store", "postgres",
                           "--live", "redis"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    secrets = {"postgres password": postgres.password, "redis password": (redis_server.base / "password").read_text().strip(),
               "state key": (data / "secrets" / "state.key").read_text().strip(),
               "Ray token": (data / "secrets" / "ray.token").read_text().strip()}
    for token in sorted((data / "secrets" / "exec").glob("*.token")):
        secrets[token.name] = token.read_text().strip()
    audit_key = (data / "secrets" / "audit.key").read_bytes()
    secrets |= {"audit key": audit_key.decode("latin-1"), "audit key (hex)": audit_key.hex()}
    assert len(secrets) == 9 and all(len(v) >= 16 for v in secrets.values())

    haystacks = {"the command's output": done.stdout + done.stderr}
    for path in data.rglob("*"):
        if path.is_file() and "secrets" not in path.relative_to(data).parts:
            haystacks[str(path.relative_to(data))] = path.read_bytes().decode("latin-1")
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for t in tables:
            rows = conn.execute(f'SELECT row_to_json(x)::text FROM "{t}" x').fetchall()
            haystacks[f"table {t}"] = "\n".join(r[0] for r in rows)
        stored = conn.execute("SELECT settings FROM runs").fetchone()[0]
    assert stored["storage"]["url"] == "**********"
    assert "last_session.json" in haystacks and any(k.startswith("table audit") for k in haystacks)
    for what, secret in secrets.items():
        leaks = [where for where, text in haystacks.items() if secret in text]
        assert not leaks, f"the {what} appears in {leaks}"

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    private_dirs = [data / "secrets", data / "secrets" / "exec", *(data / "state").iterdir(), *(data / "exec").iterdir()]
    assert len(private_dirs) == 4 and all(mode(d) == 0o700 for d in private_dirs), {str(d): oct(mode(d))
                                                                                     for d in private_dirs}
    files = [f for d in private_dirs for f in d.iterdir() if f.is_file()] + [data / "last_session.json",
                                                                             data / "audit" / "anchors.jsonl"]
    assert any(f.name.startswith("journal-") for f in files) and any(f.suffix == ".db" for f in files)
    loose = {str(f.relative_to(data)): oct(mode(f)) for f in files if mode(f) != 0o600}
    assert not loose, loose


def _race_for_secret(path: str, barrier) -> str:  # type: ignore[no-untyped-def]
    from cluster.config.secrets import generated

    barrier.wait()
    return generated(Path(path), lambda: os.urandom(16).hex())


def test_processes_that_make_a_secret_at_once_agree_on_one(tmp_path: Path) -> None:
    """Gateway replicas starting on a fresh data_dir each make the token-signing key if it is
    missing: all of them must end up with the same one (else a token one signs, another refuses)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    for attempt in range(3):
        path = tmp_path / f"gateway-{attempt}.key"
        with ctx.Manager() as manager:
            barrier = manager.Barrier(6)
            with ctx.Pool(6) as pool:
                got = pool.starmap(_race_for_secret, [(str(path), barrier)] * 6)
        assert len(set(got)) == 1, got
        assert got[0] == path.read_text().strip() and (path.stat().st_mode & 0o777) == 0o600
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
