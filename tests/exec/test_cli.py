"""The operator's commands against a real rust_exec: serve, status, halt (the manual kill switch), resume."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cluster.adapters.rust_exec.client import GrpcExecutionClient
from cluster.config.secrets import ExecSecrets
from cluster.config.settings import SettingsError, load_settings
from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def octet(*args: str, cwd: str | os.PathLike[str] = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cluster.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT), **env})


def settings_in(tmp_path: Path) -> Path:
    """The shipped octet.yaml with its data_dir under ``tmp_path`` (tmp_path/var), written there."""
    import yaml

    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path / "var")
    config = tmp_path / "octet.yaml"
    config.write_text(yaml.safe_dump(doc))
    return config


@contextmanager
def serving(journal_dir: Path) -> Iterator[str]:
    """`octet exec-serve` on a free loopback port until the block ends, its credentials in
    ``journal_dir``'s sibling ``secrets``; yields its address."""
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen([sys.executable, "-m", "cluster.cli", "exec-serve", "--listen", address,
                               "--metrics-listen", "", "--journal-dir", str(journal_dir),
                               "--secrets", str(journal_dir.parent / "secrets")],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().startswith(f"LISTENING {address}")
        yield address
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


def test_serve_status_halt_and_resume_from_the_command_line(tmp_path, registry) -> None:  # type: ignore[no-untyped-def]
    with serving(tmp_path / "j") as address:
        creds = ("--address", address, "--secrets", str(tmp_path / "secrets"))
        status = octet("exec-status", *creds)
        assert status.returncode == 0 and "open;" in status.stdout and "0 orders" in status.stdout, status.stdout
        halted = octet("halt", "--reason", "manual kill switch", *creds, "--flatten")
        assert halted.returncode == 0 and "halted the whole venue" in halted.stdout
        client = GrpcExecutionClient(address, registry, credentials=ExecSecrets(tmp_path / "secrets").credentials())
        assert client.health().halt_reason == "manual kill switch"
        assert "HALTED: manual kill switch" in octet("exec-status", *creds).stdout
        assert octet("resume", *creds).returncode == 0
        assert not client.halted
        client.close()
    # the journal kept the halt and the resume (a clean stop also wrote a snapshot of them)
    kept = list((tmp_path / "j").glob("journal-*.bin")) + list((tmp_path / "j").glob("snapshot-*.bin"))
    assert sum(p.stat().st_size for p in kept) > 100, kept


def test_the_kill_switch_needs_only_the_address_and_credentials_from_any_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with serving(tmp_path / "j") as address:
        creds = ("--address", address, "--secrets", str(tmp_path / "secrets"))
        # from /, with no octet.yaml there and an invalid OCTET_* variable in the environment
        halted = octet("halt", "--reason", "from the root", *creds, "--flatten", cwd="/",
                       OCTET_SESSION__TICKS="many")
        assert halted.returncode == 0 and "halted the whole venue" in halted.stdout, halted.stdout + halted.stderr
        status = octet("exec-status", *creds, cwd="/", OCTET_SESSION__TICKS="many")
        assert status.returncode == 0 and "HALTED: from the root" in status.stdout, status.stdout + status.stderr
        assert octet("resume", *creds, cwd=tmp_path).returncode == 0
        assert "open;" in octet("exec-status", *creds, cwd=tmp_path).stdout


def test_status_of_an_unreachable_service_fails_with_a_clear_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = time.monotonic()
    ExecSecrets(tmp_path / "secrets").ensure()
    result = octet("exec-status", "--address", f"127.0.0.1:{free_port()}", "--secrets", str(tmp_path / "secrets"))
    assert result.returncode != 0 and "unreachable" in (result.stdout + result.stderr)
    assert time.monotonic() - t < 30


def test_an_address_that_is_not_host_and_port_is_one_line_before_any_call(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # gRPC takes port 99999 modulo 65536 and would reach another service; an empty address printed its
    # internal trace
    for command in (("exec-status",), ("halt", "--reason", "x"), ("resume",)):
        for address, why in (("127.0.0.1:99999", "a port from 1 to 65535"), ("", "a port from 1 to 65535"),
                             ("::1:50551", "in brackets"), ("host :1", "holds a space"),
                             ("h:\u00b2", "a port from 1 to 65535"), ("localhost:\u0663", "a port from 1 to 65535")):
            _one_line_error(octet(*command, "--address", address, "--secrets", str(tmp_path)), 2,
                            f"--address {address!r}: not host:port", why)
    path = tmp_path / "o.yaml"
    path.write_text("execution: {address: '127.0.0.1:70000'}\n")
    with pytest.raises(SettingsError, match=r"execution\.address.*'127\.0\.0\.1:70000': not host:port"):
        load_settings(path)


def test_desk_controls_refuse_what_the_desk_could_not_take_before_asking_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # a reason over the desk's 64 KiB request limit was dropped unread (the CLI waited 30 s, then withdrew
    # it); a line break in a name was printed and audited as two lines; a negative wait said the desk had
    # not started while it went on starting
    data = {"OCTET_RUNTIME__DATA_DIR": str(tmp_path)}
    _one_line_error(octet("desk", "halt", "-r", "x" * 100_000, **data), 2, "--reason: 100,000 characters; at most 500")
    _one_line_error(octet("desk", "flatten", "-r", "why", "--who", "bob\nEVIL", **data), 2, "--who: a line break")
    for command in (("desk", "start", "--wait", "-1"), ("desk", "stop", "--timeout", "-5")):
        done = octet(*command, **data)
        assert done.returncode == 2 and "greater than or equal to 0" in done.stdout + done.stderr, command
    assert not any(tmp_path.iterdir()), "nothing was started"


def _one_line_error(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == code, out
    assert "Traceback" not in out and len(out.strip().splitlines()) <= 3, out
    for word in words:
        assert word in out, out


def test_a_missing_or_refused_data_file_is_one_line_before_anything_starts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"OCTET_RUNTIME__DATA_DIR": str(tmp_path / "var"), "OCTET_RUNTIME__LIVE": "redis"}
    missing = octet("run", "--data", str(tmp_path / "nope.parquet"), **env)
    _one_line_error(missing, 2, "session.data_file", "nope.parquet")
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,symbol,bid,ask,volume\n2026-03-02T10:00:00Z,EURUSD,-1.0,1.0851,1\n")
    refused = octet("run", "--data", str(bad), **env)
    _one_line_error(refused, 2, "bad.csv", "line")
    assert not (tmp_path / "var" / "redis").exists(), "a refused file starts no server"


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = octet("db", "current", "--url", f"postgresql+psycopg://octet:hunter2@127.0.0.1:{free_port()}/nope")
    _one_line_error(done, 1, "database postgresql+psycopg://octet:***@127.0.0.1")
    assert "hunter2" not in done.stdout + done.stderr


def test_reading_the_store_starts_no_redis_and_no_broker(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "var"
    env = {"OCTET_RUNTIME__DATA_DIR": str(data), "OCTET_RUNTIME__LIVE": "redis", "OCTET_RUNTIME__BUS": "kafka"}
    missing = octet("db", "current", **env)  # a command that only reads makes no empty store
    _one_line_error(missing, 2, "octet.db: no such file")
    assert not data.exists() or not any(data.iterdir())
    made = octet("db", "upgrade", **env)
    assert made.returncode == 0, made.stdout + made.stderr
    done = octet("db", "current", **env)
    assert done.returncode == 0 and "revision" in done.stdout, done.stdout + done.stderr
    assert sorted(p.name for p in data.iterdir()) == ["octet.db"]


def test_read_only_commands_make_no_database_of_a_mistyped_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for command in (("db", "current"), ("audit", "verify", "--no-anchors"), ("users", "list"), ("models", "list")):
        done = octet(*command, "--url", f"sqlite:///{tmp_path / 'typo.db'}")
        _one_line_error(done, 2, "typo.db: no such file")
        assert not (tmp_path / "typo.db").exists(), command
        assert ("no key was made in it: `octet users add NAME" in done.stderr) == (command[0] == "users"), done.stderr
    revoke = octet("users", "revoke", "bob", "--url", f"sqlite:///{tmp_path / 'typo.db'}")
    _one_line_error(revoke, 2, "typo.db: no such file: no key was made in it")


def test_a_database_a_command_makes_is_private_and_an_unknown_revision_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for command, name in ((("db", "upgrade"), "made.db"), (("users", "add", "bob"), "keys.db")):
        done = octet(*command, "--url", f"sqlite:///{tmp_path / name}")
        assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, command  # it holds the books, or key hashes
    for direction in ("upgrade", "downgrade"):
        _one_line_error(octet("db", direction, "garbagerev", "--url", f"sqlite:///{tmp_path / 'none.db'}"), 2,
                        "revision 'garbagerev': Can't locate revision")
    assert not (tmp_path / "none.db").exists()
    _one_line_error(octet("db", "upgrade", "+9", "--url", f"sqlite:///{tmp_path / 'made.db'}"), 2,
                    "revision '+9': Relative revision +9")
    _one_line_error(octet("db", "upgrade", "", "--url", f"sqlite:///{tmp_path / 'made.db'}"), 2,
                    "revision '': give a revision")
    back = octet("db", "downgrade", "head-1", "--url", f"sqlite:///{tmp_path / 'made.db'}")  # relative forms still go
    assert back.returncode == 0 and "at revision" in back.stdout, back.stdout + back.stderr


def test_generate_refuses_a_path_it_cannot_write_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _one_line_error(octet("generate", str(tmp_path / "none" / "x.csv"), "--ticks", "100"), 2, "there is no folder")
    _one_line_error(octet("generate", str(tmp_path / "x.txt"), "--ticks", "100"), 2, "a .csv or a .parquet file")
    _one_line_error(octet("generate", str(tmp_path), "--ticks", "100"), 2, "a .csv or a .parquet file")


def test_exec_serve_without_its_binary_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k != "OCTET_EXEC_BINARY"}
    done = subprocess.run([sys.executable, "-m", "cluster.cli", "exec-serve", "--journal-dir", str(tmp_path / "j")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**env, "COLUMNS": "200", "PYTHONPATH": str(ROOT),
                               "OCTET_EXECUTION__BINARY": str(tmp_path / "no-such-octet-exec")})
    _one_line_error(done, 1, "execution.binary", "no-such-octet-exec")


def test_the_desk_commands_say_in_one_line_when_no_desk_runs_and_refuse_a_bad_feed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path / "var")
    config = tmp_path / "octet.yaml"
    config.write_text(yaml.safe_dump(doc))
    for args, code, says in ((["stop"], 1, "no desk is running (last state: never started)"),
                             (["halt", "-a", "x", "-r", "why"], 1, "no desk is running: start it"),
                             (["flatten", "-r", "why"], 1, "no desk is running: start it"),
                             (["flatten"], 2, "--reason: say why"),  # it closes at market: never without a word
                             (["flatten", "-a", "", "-r", "why"], 2, "--account: empty; give an account id"),
                             (["halt", "-a", " ", "-r", "why"], 2, "--account: empty"),  # not the whole desk
                             (["resume", "--account", ""], 2, "--account: empty"),
                             (["alerts"], 2, "no desk has run here: start one"),
                             (["ack", "warning-1", "-r", "seen"], 2, "no desk has run here: start one"),
                             (["ack", "warning-01", "-r", "seen"], 2, "'warning-01' is not an alert id"),
                             (["ack", "breaker-1"], 2, "--note: say what you saw or did"),
                             (["ack", "breaker-1", "-r", "two\nlines"], 2, "--note: a line break")):
        out = octet("desk", *args, "--config", str(config))
        assert out.returncode == code and says in out.stderr and "Traceback" not in out.stdout + out.stderr, out
    status = octet("desk", "status", "--config", str(config))
    assert status.returncode == 0 and "desk: never started" in status.stdout
    assert (tmp_path / "var" / "desk").stat().st_mode & 0o777 == 0o700
    # what an operator typed is shown as typed, never read as markup
    (tmp_path / "var" / "desk" / "status.json").write_text(json.dumps({
        "ticks": 10, "units": 4, "stages_s": {"advance": 0.04, "ingress": 0.02}, "updated": 0,
        "desk_halt": ["[/x] (root)", "[/bold] close"],
        "market_time_ns": 1_795_000_000 * 10**9 - 129_600 * 10**9,  # a day and a half before the next
        "accounts": {"a": {"balance": "1", "equity": "1", "positions": [], "daily_headroom": "1",
                           "max_loss_headroom": "1", "breaker": "ok", "operator_halt": ["[bold]eve", "r"],
                           "idle_deadline_ns": 1_795_000_000 * 10**9, "lots_room": "0.5", "risk_room": "980.00"}}}))
    status = octet("desk", "status", "--config", str(config))
    assert status.returncode == 0 and "Traceback" not in status.stdout + status.stderr, status
    assert "desk halted by [/x] (root): [/bold] close" in status.stdout and "halted by [bold]eve" in status.stdout
    assert "per unit: advance 10.0 ms · ingress 5.0 ms" in status.stdout
    # what a scaling plan and an open-risk cap leave new orders today
    assert "max-loss headroom 1 · lots it may add today 0.5 · open-risk room 980.00 · breaker ok" in " ".join(status.stdout.split())
    # a firm that closes an idle account: by when the account must enter a trade, and once it is past
    assert "enter a trade by 2026-11-18 11:06 UTC (the firm's inactivity rule: 1.5 days left)" in " ".join(status.stdout.split())
    doc_status = json.loads((tmp_path / "var" / "desk" / "status.json").read_text())
    doc_status["market_time_ns"] = 1_795_000_000 * 10**9 + 86_400 * 10**9
    (tmp_path / "var" / "desk" / "status.json").write_text(json.dumps(doc_status))
    status = octet("desk", "status", "--config", str(config))
    assert "no trade entered by 2026-11-18 11:06 UTC: past the firm's inactivity rule" in " ".join(status.stdout.split())
    doc["desk"] = {"feed": "file"}  # and no session.data_file
    config.write_text(yaml.safe_dump(doc))
    out = octet("desk", "start", "--foreground", "--config", str(config))
    assert out.returncode == 2 and "desk.feed is file and session.data_file is not set" in out.stderr, out
    assert "Traceback" not in out.stdout + out.stderr


def test_the_commands_that_steer_a_desk_work_whatever_its_news_calendar_file_holds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A bad calendar (an export put at its path) broke every command, the kill switch too: the steering ones now
    never read it, the desk's alerts and acknowledgement included; check-config still refuses it."""
    import yaml

    from cluster.config.secrets import state_key
    from cluster.desk.desk import DeskFiles
    from cluster.storage.store import SessionStore

    bad = tmp_path / "news.csv"
    bad.write_text("garbage,stuff\n1,2\n")
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path / "var")
    doc["agents"] = {"compliance": {"news_calendar": str(bad)}}
    config = tmp_path / "octet.yaml"
    config.write_text(yaml.safe_dump(doc))
    SessionStore.sqlite(tmp_path / "var").close()
    files = DeskFiles(tmp_path / "var", state_key(tmp_path / "var"))
    files.set_meta(run_id="r1", state="stopped")  # a desk has run here: alerts and ack go on to the store
    for args, code, says in ((["desk", "halt", "-r", "why"], 1, "no desk is running"),
                             (["desk", "flatten", "-r", "why"], 1, "no desk is running"),
                             (["desk", "stop"], 1, "no desk is running"),
                             (["desk", "status"], 0, "desk:"),
                             (["desk", "alerts"], None, ""),
                             (["desk", "ack", "warning-1", "-r", "seen"], None, ""),
                             (["check-config"], 2, "agents.compliance: news_calendar:")):
        out = octet(*args, "--config", str(config))
        both = out.stdout + out.stderr
        assert "Traceback" not in both, both
        if args[0] == "desk":
            assert "configuration error" not in both and "news_calendar" not in both, (args, both)
        if code is not None:
            assert out.returncode == code and says in both, (args, both)


def test_the_commands_that_steer_a_desk_work_when_the_rest_of_its_settings_fail_their_checks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A file that fails a check added since the desk started (a balance over the ceiling, an id too long) refused
    every command, the kill switch too: the steering ones now read the runtime, storage, kafka and desk sections
    alone, and say so; a bad one of those is still refused, as is everything else."""
    import yaml

    from cluster.config.secrets import state_key
    from cluster.desk.desk import DeskFiles
    from cluster.storage.store import SessionStore

    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path / "var")
    doc["accounts"][0]["balance"] = 1e40
    doc["accounts"][0]["id"] = "a" * 80
    config = tmp_path / "octet.yaml"
    config.write_text(yaml.safe_dump(doc))
    SessionStore.sqlite(tmp_path / "var").close()
    DeskFiles(tmp_path / "var", state_key(tmp_path / "var")).set_meta(run_id="r1", state="stopped")
    for args, code, says in ((["desk", "halt", "-r", "why"], 1, "no desk is running"),
                             (["desk", "stop"], 1, "no desk is running"),
                             (["desk", "status"], 0, "desk:"),
                             (["check-config"], 2, "accounts.0.balance: Input should be less than or equal to")):
        out = octet(*args, "--config", str(config))
        both = out.stdout + out.stderr
        assert "Traceback" not in both and out.returncode == code and says in both, (args, both)
        if args[0] == "desk":  # said once, however many times the command reads the settings
            assert out.stderr.count("steering with their runtime, storage, kafka and desk sections only") == 1, both
            assert "accounts.0.balance" in out.stderr and "accounts.0.id" in out.stderr, both
    doc["runtime"]["data_dir"] = ["not", "a", "path"]  # a section steering reads: nothing to steer with
    config.write_text(yaml.safe_dump(doc))
    out = octet("desk", "status", "--config", str(config), OCTET_SESION__TICKS="5")
    assert out.returncode == 2 and "configuration error" in out.stderr and "Traceback" not in out.stderr, out
    assert "runtime.data_dir" in out.stderr, out.stderr  # what blocks steering, not the first problem met


def test_the_commands_that_read_the_store_answer_while_a_desk_holds_its_write_lock(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """On SQLite, `octet users list`, `octet audit show` and `octet desk alerts` took the write lock to open the
    store (its schema check) and to read: beside a desk writing a batch they waited, and past 30 s failed with
    'database is locked'. A store at the newest revision is now opened and read without it."""
    import sqlite3
    import time

    from cluster.config.secrets import state_key
    from cluster.desk.desk import DeskFiles
    from cluster.storage import audit
    from cluster.storage.audit import Entry
    from cluster.storage.models import Run
    from cluster.storage.store import SessionStore
    from serve.keys import add_key

    config = settings_in(tmp_path)
    store = SessionStore.sqlite(tmp_path / "var")
    with store.engine.begin() as conn:
        conn.execute(Run.__table__.insert().values(run_id="r1", started_ns=0, status="done", settings={}, summary=None,
                                                   recorded_ns=1))
        audit.append(conn, "r1", [Entry("signal", 1, {"s": 1}, signal_id="sig"),
                                  Entry("order", 2, {"o": 1}, signal_id="sig", order_id="ord", account_id="acc")])
    add_key(store.engine, "viewer", "viewer", by="test")
    store.close()
    DeskFiles(tmp_path / "var", state_key(tmp_path / "var")).set_meta(run_id="r1", state="stopped")
    desk = sqlite3.connect(str(tmp_path / "var" / "octet.db"), isolation_level=None)
    desk.execute("BEGIN IMMEDIATE")  # a batch of the desk's under way
    try:
        for args, says in ((["users", "list"], "viewer"), (["audit", "show", "--order", "ord"], "order"),
                           (["desk", "alerts"], "")):
            began = time.monotonic()
            out = octet(*args, "--config", str(config))
            assert out.returncode == 0 and says in out.stdout, (args, out.stdout + out.stderr)
            assert time.monotonic() - began < 20, (args, time.monotonic() - began)  # it waited 30 s, then failed
    finally:
        desk.execute("ROLLBACK")
        desk.close()


def test_the_kill_switch_finds_the_credentials_under_the_settings_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`octet exec-serve -c FILE` makes its credentials under FILE's data_dir/secrets/exec (and its journal under
    data_dir/exec/service), while `octet halt` looked in ./var/secrets/exec: with any other data_dir the kill switch
    failed unless --secrets was given. Given the same -c, it now looks where they are, from any directory."""
    import yaml

    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path / "elsewhere")
    config = tmp_path / "octet.yaml"
    config.write_text(yaml.safe_dump(doc))
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen([sys.executable, "-m", "cluster.cli", "exec-serve", "-c", str(config), "--listen", address,
                               "--metrics-listen", ""], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert server.stdout is not None and server.stdout.readline().startswith(f"LISTENING {address}")
        assert (tmp_path / "elsewhere" / "secrets" / "exec" / "operator.token").is_file()
        assert (tmp_path / "elsewhere" / "exec" / "service" / "exec.json").is_file()
        halted = octet("halt", "--reason", "elsewhere", "--address", address, "-c", str(config), cwd="/")
        assert halted.returncode == 0 and "halted the whole venue" in halted.stdout, halted.stdout + halted.stderr
        status = octet("exec-status", "--address", address, "--config", str(config), cwd="/")
        assert status.returncode == 0 and "HALTED: elsewhere" in status.stdout, status.stdout + status.stderr
        assert octet("resume", "--address", address, "-c", str(config), cwd="/").returncode == 0
        assert "open;" in octet("exec-status", "--address", address, cwd=tmp_path).stdout  # ./octet.yaml's, by default
        without = octet("exec-status", "--address", address, cwd="/")  # no settings: ./var/secrets/exec, not there
        assert without.returncode != 0 and "Traceback" not in without.stdout + without.stderr, without
        # a -c that names no file (a typo) halts nothing: it must not fall back to whatever answers by default
        for bad in (str(tmp_path / "octet.yml"), "a" * 300):
            typo = octet("halt", "--reason", "typo", "--address", address, "-c", bad, cwd="/")
            assert typo.returncode == 2 and "--config" in typo.stderr and "Traceback" not in typo.stderr, typo
        assert "open;" in octet("exec-status", "--address", address, "-c", str(config), cwd="/").stdout
        # credentials kept at the default before (./var/secrets/exec) still serve when data_dir's has none
        old = tmp_path / "old"
        (old / "var" / "secrets").mkdir(parents=True)
        (tmp_path / "elsewhere" / "secrets" / "exec").rename(old / "var" / "secrets" / "exec")
        (old / "octet.yaml").write_text(yaml.safe_dump({**doc, "runtime": {**doc["runtime"],
                                                                            "data_dir": str(old / "desk_data")}}))
        kept = octet("exec-status", "--address", address, cwd=old)
        assert kept.returncode == 0 and "open;" in kept.stdout and "var/secrets/exec are used" in kept.stderr, kept
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


def test_a_store_a_newer_octet_upgraded_is_refused_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A store whose schema revision this Octet does not know (a newer one upgraded it) ended every command that
    opens it in Alembic's traceback (`Can't locate revision`)."""
    from sqlalchemy import text

    from cluster.storage.store import SessionStore

    config = settings_in(tmp_path)
    store = SessionStore.sqlite(tmp_path / "var")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    store.close()
    out = octet("users", "list", "--config", str(config))
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "its schema is at revision 0099_future, which this Octet does not know" in out.stderr, out.stderr


def test_exec_serve_keeps_the_journal_it_kept_before_its_default_moved_under_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`octet exec-serve`'s journal was ./var/exec/service and is now data_dir/exec/service: started again after an
    upgrade, it began a fresh journal and a halt (and every order id placed) was gone. A journal at the old place,
    with none at the new, is kept."""
    import yaml

    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp_path / "data")
    config = tmp_path / "octet.yaml"
    config.write_text(yaml.safe_dump(doc))
    creds = ("--secrets", str(tmp_path / "data" / "secrets" / "exec"))

    def serve(*journal: str) -> tuple[subprocess.Popen[str], str]:
        address = f"127.0.0.1:{free_port()}"
        server = subprocess.Popen([sys.executable, "-m", "cluster.cli", "exec-serve", "-c", str(config), "--listen",
                                   address, "--metrics-listen", "", *journal], cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert server.stdout is not None and server.stdout.readline().startswith(f"LISTENING {address}")
        return server, address

    server, address = serve("--journal-dir", "var/exec/service")  # where it kept it before
    try:
        assert octet("halt", "--reason", "before the upgrade", "--address", address, *creds).returncode == 0
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    server, address = serve()  # the default now: data_dir/exec/service, empty
    try:
        status = octet("exec-status", "--address", address, *creds)
        assert "HALTED: before the upgrade" in status.stdout, status.stdout + status.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=10)
    assert "the one in var/exec/service is kept" in err, err
    assert not list((tmp_path / "data" / "exec" / "service").glob("journal-*.bin"))

