"""rust_exec from the outside: `exec-serve`, `exec-status`, and the kill switch `halt` / `resume`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cluster.cli.common import ConfigOpt, app, console, errors, fail, settings_or_exit

if TYPE_CHECKING:
    from cluster.adapters.rust_exec.client import GrpcExecutionClient

AddressOpt = Annotated[str | None, typer.Option(
    help="rust_exec's gRPC address (host:port); left out: the rust_exec of the desk running here (octet.yaml's "
         "data_dir), else 127.0.0.1:50551 (octet exec-serve's).")]
EXEC_SERVE_ADDRESS = "127.0.0.1:50551"


_DATA_DIRS: dict[str, Path | None] = {}  # settings file -> its data_dir, read once per command


def _data_dir(config: Path | None) -> Path | None:
    """The data_dir of the settings (read as the desk's steering commands read them: whatever the rest of the file
    holds). ``config`` None: ./octet.yaml if there is one, else None (the kill switch then needs only its address
    and credentials, from any directory). A file named with -c must be read: a typo there must not halt (or
    resume) whatever answers at the default address."""
    from cluster.config.settings import SettingsError, load_steering_settings

    path = Path("octet.yaml") if config is None else config
    if str(path) in _DATA_DIRS:
        return _DATA_DIRS[str(path)]
    try:
        present = path.exists()
    except OSError as exc:  # a name too long
        present, problem = False, exc.strerror or str(exc)
    else:
        problem = "no such file"
    found: Path | None = None
    if present:
        try:
            settings, doubt = load_steering_settings(path)
            found = Path(settings.runtime.data_dir)
            if doubt is not None:  # said, as the desk's steering commands say it
                print(f"(settings {path} fail their checks: their data_dir read alone; "
                      f"{doubt.splitlines()[-1].strip()[:200]})", file=sys.stderr)
        except SettingsError as exc:
            problem = str(exc).splitlines()[-1].strip()[:200]
    if found is None and config is not None:
        raise fail(f"--config {path}: {problem}")
    if found is None and present:
        print(f"(settings {path} not read: {problem})", file=sys.stderr)
    _DATA_DIRS[str(path)] = found
    return found


def _address(address: str | None, config: Path | None) -> str:
    """The address given, or the one the desk running under the settings' data_dir started its rust_exec on (a port
    of its own, chosen at start: the kill switch must find it), or ``octet exec-serve``'s."""
    if address is not None:
        return address
    from cluster.config.secrets import state_key
    from cluster.desk.desk import DeskError, DeskFiles

    data_dir = _data_dir(config)
    if data_dir is None:
        return EXEC_SERVE_ADDRESS
    try:
        if not (data_dir / "desk").is_dir():  # no desk has run here (and none is made by asking)
            return EXEC_SERVE_ADDRESS
        files = DeskFiles(data_dir, state_key(data_dir))
        run_id = files.meta().get("run_id") if files.driver() is not None else None
        saved = files.for_run(run_id).load()[0] if run_id else None
    except (DeskError, OSError, ValueError):
        return EXEC_SERVE_ADDRESS  # no desk to ask: the separate rust_exec's address
    found = str((saved or {}).get("exec_address") or "")
    if not found:
        return EXEC_SERVE_ADDRESS
    console.print(f"(the rust_exec of the desk running here, run {run_id}: {found})", markup=False)
    return found


def _secrets(secrets: Path | None, config: Path | None) -> Path:
    """The credentials given, or where the desk and `octet exec-serve -c` make theirs (the settings'
    data_dir/secrets/exec), or ``var/secrets/exec`` (the default before, and without settings) when only that one
    holds an operator token."""
    if secrets is not None:
        return secrets
    data_dir = _data_dir(config)
    if data_dir is None:
        return DEFAULT_SECRETS
    made = data_dir / "secrets" / "exec"
    try:
        if not (made / "operator.token").exists() and (DEFAULT_SECRETS / "operator.token").exists():
            print(f"(no operator.token in {made}: the credentials in {DEFAULT_SECRETS} are used)", file=sys.stderr)
            return DEFAULT_SECRETS
    except OSError:
        pass  # refused below, naming the file it cannot read
    return made


SecretsOpt = Annotated[Path | None, typer.Option(
    "--secrets", envvar="OCTET_EXEC_SECRETS",
    help="rust_exec's credentials: the directory `octet exec-serve` (or the desk) made, holding "
         "operator.token and ca.pem (client.pem/client.key for mutual TLS); default data_dir/secrets/exec "
         "of --config, or var/secrets/exec without one.")]
DeskConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="The settings file whose data_dir holds the desk's rust_exec and credentials (when "
                           "--address or --secrets is left out; default ./octet.yaml if there is one); none is "
                           "needed when both are given.", show_default=False)]
TokenOpt = Annotated[Path | None, typer.Option("--token-file", envvar="OCTET_EXEC_TOKEN_FILE",
                                               help="The bearer token (default: operator.token in --secrets).")]
PlainOpt = Annotated[bool, typer.Option("--plaintext", help="rust_exec serves without TLS (loopback only).")]
DEFAULT_SECRETS = Path("var/secrets/exec")


@app.command("exec-serve")
def exec_serve(config: ConfigOpt = Path("octet.yaml"),
               listen: Annotated[str, typer.Option(help="gRPC address to serve on.")] = "127.0.0.1:50551",
               metrics_listen: Annotated[str, typer.Option(help="Prometheus address ('' = off).")] = "127.0.0.1:9464",
               journal_dir: Annotated[Path | None, typer.Option(
                   help="Journal directory (kept across restarts; default data_dir/exec/service).")] = None,
               secrets: Annotated[Path | None, typer.Option(
                   "--secrets", help="Where its credentials are made and kept (default data_dir/secrets/exec).")] = None,
               host: Annotated[list[str] | None, typer.Option(
                   "--host", help="A name or address clients use to reach it (in its TLS certificate); repeat.")] = None,
               ) -> None:
    """Run rust_exec in the foreground for a cluster: set execution.address to reach it.

    It serves with TLS and bearer tokens made on first use: give the desk's host desk.token and
    ca.pem (execution.token_file, execution.ca_file), and operators operator.token and ca.pem."""
    import ipaddress

    from cluster.adapters.rust_exec.process import ExecServiceError, exec_config, exec_secrets, find_binary
    from cluster.config.secrets import ExecSecrets, private_dir, write_private

    s = settings_or_exit(config)
    try:
        binary = find_binary(s.execution.binary)
    except ExecServiceError as exc:
        raise fail(str(exc), 1) from None
    host = list(host or [])
    where, _, _port = listen.rpartition(":")
    try:
        ip = ipaddress.ip_address(where.strip("[]"))
    except ValueError:
        raise fail(f"--listen {listen}: not an IP address and port (e.g. 0.0.0.0:50551)") from None
    if not ip.is_loopback:
        if not s.execution.tls:
            raise fail(f"--listen {listen} is beyond loopback: set execution.tls: true (rust_exec serves "
                        "plaintext on loopback only)")
        if ip.is_unspecified and not host:
            raise fail(f"--listen {listen}: give --host with each name or address clients use to reach this "
                        "host, for its TLS certificate (e.g. --host exec-host.internal)")
        if not ip.is_unspecified:
            host.append(str(ip))
    if metrics_listen and not metrics_listen.startswith(("127.", "[::1]", "localhost")):
        print(f"warning: metrics on {metrics_listen} are served without authentication (counters and latencies "
              "only); keep that port behind a firewall", file=sys.stderr)
    made = exec_secrets(s, host)
    if secrets is not None:
        made = ExecSecrets(secrets, hosts=host, tls=made.tls, mutual=made.mutual)
    made.ensure()
    if journal_dir is None:
        journal_dir = Path(s.runtime.data_dir) / "exec" / "service"
        before = Path("var/exec/service")  # the default before: a journal there holds halts and order ids to keep
        def kept(d: Path) -> bool:
            return any(d.glob("journal-*.bin")) or any(d.glob("snapshot-*.bin"))
        if not kept(journal_dir) and kept(before) and before.resolve() != journal_dir.resolve():
            print(f"(no journal in {journal_dir}: the one in {before} is kept; --journal-dir chooses)", file=sys.stderr)
            journal_dir = before
    private_dir(journal_dir)
    cfg = write_private(journal_dir / "exec.json", json.dumps(exec_config(s), indent=1))
    print(f"credentials in {made.dir}: desk.token (trading), operator.token (halt/resume/flatten)"
          + (", ca.pem (the CA clients trust)" if made.tls else "; no TLS: loopback only"), file=sys.stderr)
    cmd = [str(binary), "--config", str(cfg), "--journal-dir", str(journal_dir),
           "--listen", listen, *made.server_args()]
    if metrics_listen:
        cmd += ["--metrics-listen", metrics_listen]
    if not s.execution.fsync:
        cmd.append("--no-fsync")
    os.execv(cmd[0], cmd)


def _client(address: str, secrets: Path, token_file: Path | None, plaintext: bool) -> GrpcExecutionClient:
    """A client for the operator's commands: rust_exec's address and credentials are all they need
    (no settings file), so the kill switch works from any directory."""
    from cluster.adapters.rust_exec.client import GrpcExecutionClient
    from cluster.config.secrets import ExecCredentials
    from trading.instruments import InstrumentRegistry

    mutual = (secrets / "client.pem").exists()
    creds = ExecCredentials(token_file or secrets / "operator.token", None if plaintext else secrets / "ca.pem",
                            secrets / "client.pem" if mutual else None, secrets / "client.key" if mutual else None)
    return GrpcExecutionClient(address, InstrumentRegistry([]), credentials=creds, reconnect_for=3.0, catch_up=False)


@contextmanager
def _reaching(address: str) -> Iterator[None]:
    """Turn an unreachable rust_exec into one clear line and exit code 1."""
    import grpc

    from cluster.adapters.rust_exec.client import ExecUnavailable
    from cluster.config.secrets import SecretError
    from cluster.config.settings import address_problem

    if problem := address_problem(address):
        raise fail(f"--address {address!r}: {problem}")
    try:
        yield
    except (ExecUnavailable, SecretError) as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    except grpc.RpcError as exc:
        errors.print(f"[red]rust_exec at {address} refused: {exc.code().name}: {escape(str(exc.details()))}[/red]",
                     soft_wrap=True)
        raise typer.Exit(1) from None


@app.command("exec-status")
def exec_status(address: AddressOpt = None, secrets: SecretsOpt = None,
                token_file: TokenOpt = None, plaintext: PlainOpt = False,
                config: DeskConfigOpt = None) -> None:
    """Health and open positions of a running rust_exec."""
    address, secrets = _address(address, config), _secrets(secrets, config)
    with _reaching(address):
        c = _client(address, secrets, token_file, plaintext)
        h = c.health()
        positions = c.positions()
    state = f"[red]HALTED: {h.halt_reason}[/red]" if h.halted else "[green]open[/green]"
    console.print(f"rust_exec {h.version} pid {h.pid} at {address}: {state}; {h.orders} orders, "
                  f"{h.last_seq} reports ({h.durable_seq} durable), {h.open_positions} positions open, "
                  f"{h.recovered_records} journal records recovered at start, up {h.uptime_ms / 1000:.0f} s")
    if h.halted_accounts:
        console.print("halted accounts: " + ", ".join(h.halted_accounts))
    table = Table(title="open positions")
    for col in ("position", "account", "symbol", "side", "units", "entry", "stop", "take profit"):
        table.add_column(col)
    for p in positions:
        table.add_row(p.position_id, p.account_id, p.symbol, "buy" if p.side == 1 else "sell", f"{p.quantity:,}",
                      str(p.entry_price), str(p.stop_loss), str(p.take_profit or "-"))
    console.print(table)


@app.command()
def halt(reason: Annotated[str, typer.Option(help="Why; recorded with every cancel and close.")],
         address: AddressOpt = None,
         account: Annotated[str, typer.Option(help="Halt one account only.")] = "",
         flatten: Annotated[bool, typer.Option(help="Also cancel working orders and close positions.")] = False,
         secrets: SecretsOpt = None, token_file: TokenOpt = None, plaintext: PlainOpt = False,
         config: DeskConfigOpt = None) -> None:
    """The manual kill switch: rust_exec refuses every new order until `octet resume`."""
    address, secrets = _address(address, config), _secrets(secrets, config)
    with _reaching(address):
        touched = _client(address, secrets, token_file, plaintext).operator_halt(reason, account_id=account, flatten=flatten)
    console.print(f"[red bold]halted[/red bold] {account or 'the whole venue'}: {reason}; "
                  f"{touched} orders cancelled or positions closed")


@app.command()
def resume(address: AddressOpt = None,
           account: Annotated[str, typer.Option(help="Resume one account only.")] = "",
           secrets: SecretsOpt = None, token_file: TokenOpt = None, plaintext: PlainOpt = False,
           config: DeskConfigOpt = None) -> None:
    """Lift a halt."""
    address, secrets = _address(address, config), _secrets(secrets, config)
    with _reaching(address):
        _client(address, secrets, token_file, plaintext).resume(account)
    console.print(f"resumed {account or 'the whole venue'}")
