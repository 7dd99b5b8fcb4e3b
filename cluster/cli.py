"""The ``octet`` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cluster.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="Octet: a trading desk of eight cooperating agents on Ray.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
console = Console(width=None if sys.stdout.isatty() else 150)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The settings file.")]


def _settings(config: Path, **overrides: object) -> Settings:
    try:
        return load_settings(config, **{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        console.print(f"[red]configuration error[/red]\n{exc}")
        raise typer.Exit(2) from None


def _load_ticks(settings: Settings):  # type: ignore[no-untyped-def]
    from cluster.feeds.replay import generate_ticks, read_ticks

    s = settings.session
    if s.data_file is not None:
        return read_ticks(s.data_file, settings.registry())
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), s.ticks, s.seed, s.start)
    return ticks


def _check_credentials(settings: Settings) -> None:
    """Read every credential the session will use (a remote rust_exec's token and CA, an external
    Kafka's password), so that a missing or exposed one is one clear line, not a failed agent."""
    from cluster.exec_service import exec_credentials
    from cluster.secrets import SecretError, read_private

    if settings.execution.address is not None:
        creds = exec_credentials(settings)
        read_private(creds.token_file)
        for path in (creds.ca_file, creds.cert_file):
            if path is not None and not Path(path).is_file():
                raise SecretError(f"{path}: no such file (execution.ca_file / execution.cert_file)")
        if creds.key_file is not None:
            read_private(creds.key_file)
    access = settings.kafka.access()
    if settings.runtime.bus == "kafka" and access is not None:
        access.config()


def run_session(settings: Settings) -> None:
    """Run a session with a live progress bar and print its summary."""
    from cluster.secrets import SecretError, write_private
    from cluster.session import Session
    from cluster.storage.anchors import AuditKeyError, key_path, load_key
    from cluster.storage.store import open_store
    from cluster.topology import init_ray

    try:  # credentials first: a missing or exposed one is refused before anything starts
        load_key(key_path(settings), create=True)
        _check_credentials(settings)
    except (AuditKeyError, SecretError) as exc:
        raise _fail(str(exc)) from None
    with console.status("generating replay ticks"):
        ticks = _load_ticks(settings)
    with console.status("starting Ray and the agents"):
        init_ray(settings)
    data_dir = Path(settings.runtime.data_dir)
    with console.status(f"opening the {settings.runtime.store} store"):
        try:
            store = open_store(settings)
        except AuditKeyError as exc:
            raise _fail(str(exc)) from None
        live = _live(settings)
    columns = (TextColumn("[bold]session"), BarColumn(), MofNCompleteColumn(), TextColumn("batches"),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("session", total=(len(ticks) + settings.session.batch_size - 1)
                            // settings.session.batch_size, info="")

        def on_batch(p, _topo):  # type: ignore[no-untyped-def]
            bar.update(task, completed=p.batch, info=f"{p.ticks:,} ticks · {p.signals} signals · "
                       f"{p.orders} orders · {p.trades} closed · {p.ticks / max(p.elapsed_s, 1e-9):,.0f} ticks/s")

        try:
            result = Session(settings, store, on_batch=on_batch, live=live).run(ticks)
        finally:
            live.close()
    print_summary(settings, result)
    out = data_dir / "last_session.json"
    write_private(out, json.dumps(session_json(result), indent=2, default=str, allow_nan=False))
    console.print(f"records of run [bold]{result.run_id}[/bold] in [bold]{store.where}[/bold] "
                  f"(audit up to record {store.acked.get('audit_seq', 0)}), summary in [bold]{out}[/bold]")
    if store.anchor_errors:
        console.print(f"[red bold]{store.anchor_errors} batch(es) not anchored[/red bold] in {store.anchors.path} "
                      "(see the log): the next anchor covers them if one was written")
    if getattr(live, "errors", 0):
        console.print(f"[yellow]live view: {live.errors} Redis error(s), last: {live.last_error}[/yellow]")
    breaches = sum(len(v["breaches"]) for v in result.compliance.values())
    if breaches:
        console.print(f"[red bold]{breaches} hard-rule breach(es)[/red bold]")
    for d in result.discrepancies:
        console.print(f"[red bold]books differ from rust_exec:[/red bold] {d}")
    if breaches or result.discrepancies:
        raise typer.Exit(1)


def _live(settings: Settings):  # type: ignore[no-untyped-def]
    from cluster.live import MemoryLive, RedisLive

    if settings.runtime.live == "inprocess":
        return MemoryLive()
    url = settings.storage.redis_url.get_secret_value() if settings.storage.redis_url else None
    if url is None:
        from cluster.infra.services import LocalRedis

        url = LocalRedis(Path(settings.runtime.data_dir) / "redis").start()
    return RedisLive(url, settings.registry())


def session_json(result) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from dataclasses import asdict

    from cluster.storage.rows import json_safe

    return json_safe({
        "run_id": result.run_id, "ticks": result.ticks, "elapsed_s": result.elapsed_s,
        "signals": len(result.signals), "orders": len(result.orders), "trades": len(result.trades),
        "vetoes_by_rule": dict(result.vetoes_by_rule), "dead_letters": dict(result.dead_letters),
        "accounts": {a: asdict(s) for a, s in result.summaries.items()},
        "compliance": result.compliance, "execution": result.execution,
        "discrepancies": result.discrepancies,
    })


def print_summary(settings: Settings, result) -> None:  # type: ignore[no-untyped-def]
    rate = result.ticks / result.elapsed_s if result.elapsed_s else 0.0
    console.print(f"\n[bold]{result.ticks:,}[/bold] ticks in {result.elapsed_s:.1f} s ({rate:,.0f} ticks/s), "
                  f"{len(result.signals)} signals, {len(result.orders)} orders, {len(result.trades)} closed trades")
    accounts = Table(title="accounts")
    for col in ("account", "firm rules", "trades", "win rate", "net P&L", "return", "max drawdown",
                "min daily headroom", "min max-loss headroom", "breaches"):
        accounts.add_column(col, justify="right" if col not in ("account", "firm rules") else "left")
    for acc in settings.accounts:
        s = result.summaries[acc.id]
        c = result.compliance[acc.id]
        accounts.add_row(acc.id, acc.firm, str(s.trades), f"{s.win_rate:.0%}", f"{s.net_pnl:,.2f}",
                         f"{s.return_pct:+.2f}%", f"{s.max_drawdown:,.2f} ({s.max_drawdown_pct:.2f}%)",
                         "no daily rule" if c["min_daily_headroom"] is None else f"{c['min_daily_headroom']:,.2f}",
                         f"{c['min_max_loss_headroom']:,.2f}",
                         str(len(c["breaches"])))
    console.print(accounts)
    agents = Table(title="agents")
    for col in ("agent", "calls", "events", "mean latency", "restarts"):
        agents.add_column(col, justify="left" if col == "agent" else "right")
    for st in result.agent_stats:
        mean_ms = st["busy_s"] / st["calls"] * 1000 if st["calls"] else 0.0
        agents.add_row(st["name"], f"{st['calls']:,}", f"{st['events']:,}", f"{mean_ms:.2f} ms", str(st["restarts"]))
    console.print(agents)
    if result.vetoes_by_rule:
        console.print("vetoes: " + ", ".join(f"{k} {v}" for k, v in sorted(result.vetoes_by_rule.items())))
    if result.dead_letters:
        console.print("dead letters: " + ", ".join(f"{k} {v}" for k, v in sorted(result.dead_letters.items())))
    x = result.execution
    if x:
        console.print(f"rust_exec at {x['address']}: {x['orders']} orders, {x['reports']} execution reports, "
                      f"{x['open_positions']} positions open, {x['restarts']} restarts; "
                      f"journal {x['journal'] or '(remote)'}")


@app.command()
def demo(config: ConfigOpt = Path("octet.yaml"),
         ticks: Annotated[int | None, typer.Option(help="Override session.ticks.")] = None,
         seed: Annotated[int | None, typer.Option(help="Override session.seed.")] = None) -> None:
    """Run a full paper session on embedded defaults: local Ray, in-process bus, SQLite under ./var/."""
    run_session(_settings(config, session__ticks=ticks, session__seed=seed))


StoreOpt = Annotated[str | None, typer.Option(help="Where records go: sqlite | postgres (runtime.store).")]
LiveOpt = Annotated[str | None, typer.Option(help="Live state: inprocess | redis (runtime.live).")]


@app.command()
def run(config: ConfigOpt = Path("octet.yaml"),
        data: Annotated[Path | None, typer.Option(help="Replay ticks from a CSV/Parquet file.")] = None,
        ray_address: Annotated[str | None, typer.Option(help="Connect to a Ray cluster ('auto').")] = None,
        ticks: Annotated[int | None, typer.Option(help="Override session.ticks.")] = None,
        store: StoreOpt = None, live: LiveOpt = None,
        bus: Annotated[str | None, typer.Option(help="Market data path: inprocess | kafka (runtime.bus).")] = None,
        record_ticks: Annotated[bool | None, typer.Option(help="Also store every tick and bar (research).")]
        = None) -> None:
    """Run a session as configured (optionally on recorded ticks, PostgreSQL and Redis, or a Ray cluster).

    With --store postgres and no storage.url, a local PostgreSQL is started under data_dir/postgres;
    with --live redis and no storage.redis_url, a local Redis under data_dir/redis."""
    run_session(_settings(config, session__data_file=data, runtime__ray_address=ray_address, session__ticks=ticks,
                          runtime__store=store, runtime__live=live, storage__record_ticks=record_ticks,
                          runtime__bus=bus))


@app.command()
def generate(out: Annotated[Path, typer.Argument(help="Output file, .csv or .parquet.")],
             config: ConfigOpt = Path("octet.yaml"),
             ticks: Annotated[int | None, typer.Option(help="Override session.ticks.")] = None) -> None:
    """Write the replay generator's ticks to a file (for research or `octet run --data`)."""
    import numpy as np
    import polars as pl

    from cluster.feeds.replay import points_per_unit

    settings = _settings(config, session__ticks=ticks)
    batch = _load_ticks(settings)
    reg = settings.registry()
    scale = points_per_unit(reg, batch.inst)
    symbols = np.array(reg.symbols)[batch.inst]
    frame = pl.DataFrame({"ts": batch.ts, "symbol": symbols, "bid": batch.bid / scale, "ask": batch.ask / scale,
                          "volume": batch.volume})
    frame.write_parquet(out) if out.suffix == ".parquet" else frame.write_csv(out)
    console.print(f"wrote {len(frame):,} ticks to {out}")


@app.command("check-config")
def check_config(config: ConfigOpt = Path("octet.yaml")) -> None:
    """Validate the settings file and print what it defines."""
    s = _settings(config)
    console.print(f"{config}: ok — {len(s.instruments)} instruments, {len(s.accounts)} accounts "
                  f"({', '.join(f'{a.id} ({a.firm})' for a in s.accounts)})")


AddressOpt = Annotated[str, typer.Option(help="rust_exec's gRPC address (host:port).")]
SecretsOpt = Annotated[Path, typer.Option(
    "--secrets", envvar="OCTET_EXEC_SECRETS",
    help="rust_exec's credentials: the directory `octet exec-serve` (or the desk) made, holding "
         "operator.token and ca.pem (client.pem/client.key for mutual TLS).")]
TokenOpt = Annotated[Path | None, typer.Option("--token-file", envvar="OCTET_EXEC_TOKEN_FILE",
                                               help="The bearer token (default: operator.token in --secrets).")]
PlainOpt = Annotated[bool, typer.Option("--plaintext", help="rust_exec serves without TLS (loopback only).")]
DEFAULT_SECRETS = Path("var/secrets/exec")


@app.command("exec-serve")
def exec_serve(config: ConfigOpt = Path("octet.yaml"),
               listen: Annotated[str, typer.Option(help="gRPC address to serve on.")] = "127.0.0.1:50551",
               metrics_listen: Annotated[str, typer.Option(help="Prometheus address ('' = off).")] = "127.0.0.1:9464",
               journal_dir: Annotated[Path, typer.Option(help="Journal directory (kept across restarts).")]
               = Path("var/exec/service"),
               secrets: Annotated[Path | None, typer.Option(
                   "--secrets", help="Where its credentials are made and kept (default data_dir/secrets/exec).")] = None,
               host: Annotated[list[str] | None, typer.Option(
                   "--host", help="A name or address clients use to reach it (in its TLS certificate); repeat.")] = None,
               ) -> None:
    """Run rust_exec in the foreground for a cluster: set execution.address to reach it.

    It serves with TLS and bearer tokens made on first use: give the desk's host desk.token and
    ca.pem (execution.token_file, execution.ca_file), and operators operator.token and ca.pem."""
    import ipaddress
    import os

    from cluster.exec_service import exec_config, exec_secrets, find_binary
    from cluster.secrets import ExecSecrets, private_dir, write_private

    s = _settings(config)
    host = list(host or [])
    where, _, _port = listen.rpartition(":")
    try:
        ip = ipaddress.ip_address(where.strip("[]"))
    except ValueError:
        raise _fail(f"--listen {listen}: not an IP address and port (e.g. 0.0.0.0:50551)") from None
    if not ip.is_loopback:
        if not s.execution.tls:
            raise _fail(f"--listen {listen} is beyond loopback: set execution.tls: true (rust_exec serves "
                        "plaintext on loopback only)")
        if ip.is_unspecified and not host:
            raise _fail(f"--listen {listen}: give --host with each name or address clients use to reach this "
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
    private_dir(journal_dir)
    cfg = write_private(journal_dir / "exec.json", json.dumps(exec_config(s), indent=1))
    print(f"credentials in {made.dir}: desk.token (trading), operator.token (halt/resume/flatten)"
          + (", ca.pem (the CA clients trust)" if made.tls else "; no TLS: loopback only"), file=sys.stderr)
    cmd = [str(find_binary(s.execution.binary)), "--config", str(cfg), "--journal-dir", str(journal_dir),
           "--listen", listen, *made.server_args()]
    if metrics_listen:
        cmd += ["--metrics-listen", metrics_listen]
    if not s.execution.fsync:
        cmd.append("--no-fsync")
    os.execv(cmd[0], cmd)


def _client(address: str, secrets: Path, token_file: Path | None, plaintext: bool):  # type: ignore[no-untyped-def]
    """A client for the operator's commands: rust_exec's address and credentials are all they need
    (no settings file), so the kill switch works from any directory."""
    from cluster.exec_client import GrpcExecutionClient
    from cluster.secrets import ExecCredentials
    from trading.instruments import InstrumentRegistry

    mutual = (secrets / "client.pem").exists()
    creds = ExecCredentials(token_file or secrets / "operator.token", None if plaintext else secrets / "ca.pem",
                            secrets / "client.pem" if mutual else None, secrets / "client.key" if mutual else None)
    return GrpcExecutionClient(address, InstrumentRegistry([]), credentials=creds, reconnect_for=3.0, catch_up=False)


@contextmanager
def _reaching(address: str) -> Iterator[None]:
    """Turn an unreachable rust_exec into one clear line and exit code 1."""
    import grpc

    from cluster.exec_client import ExecUnavailable
    from cluster.secrets import SecretError

    try:
        yield
    except (ExecUnavailable, SecretError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except grpc.RpcError as exc:
        console.print(f"[red]rust_exec at {address} refused: {exc.code().name}: {exc.details()}[/red]")
        raise typer.Exit(1) from None


@app.command("exec-status")
def exec_status(address: AddressOpt = "127.0.0.1:50551", secrets: SecretsOpt = DEFAULT_SECRETS,
                token_file: TokenOpt = None, plaintext: PlainOpt = False) -> None:
    """Health and open positions of a running rust_exec."""
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
         address: AddressOpt = "127.0.0.1:50551",
         account: Annotated[str, typer.Option(help="Halt one account only.")] = "",
         flatten: Annotated[bool, typer.Option(help="Also cancel working orders and close positions.")] = False,
         secrets: SecretsOpt = DEFAULT_SECRETS, token_file: TokenOpt = None, plaintext: PlainOpt = False) -> None:
    """The manual kill switch: rust_exec refuses every new order until `octet resume`."""
    with _reaching(address):
        touched = _client(address, secrets, token_file, plaintext).operator_halt(reason, account_id=account, flatten=flatten)
    console.print(f"[red bold]halted[/red bold] {account or 'the whole venue'}: {reason}; "
                  f"{touched} orders cancelled or positions closed")


@app.command()
def resume(address: AddressOpt = "127.0.0.1:50551",
           account: Annotated[str, typer.Option(help="Resume one account only.")] = "",
           secrets: SecretsOpt = DEFAULT_SECRETS, token_file: TokenOpt = None, plaintext: PlainOpt = False) -> None:
    """Lift a halt."""
    with _reaching(address):
        _client(address, secrets, token_file, plaintext).resume(account)
    console.print(f"resumed {account or 'the whole venue'}")


services = typer.Typer(help="The local PostgreSQL, Redis and Kafka under data_dir (no system service, no root).",
                        no_args_is_help=True)
app.add_typer(services, name="services")


@contextmanager
def _service_errors() -> Iterator[None]:
    """A server that cannot be found or started: its reason in red, exit code 1."""
    from cluster.infra.services import ServiceError

    try:
        yield
    except ServiceError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


def _local(settings: Settings):  # type: ignore[no-untyped-def]
    from cluster.infra.services import LocalKafka, LocalPostgres, LocalRedis

    base = Path(settings.runtime.data_dir)
    with _service_errors():
        return LocalPostgres(base / "postgres"), LocalRedis(base / "redis"), LocalKafka(base / "kafka")


@services.command("start")
def services_start(config: ConfigOpt = Path("octet.yaml")) -> None:
    """Start (or reuse) the local PostgreSQL, Redis and Kafka broker; migrate the schema, make the topics."""
    from cluster.kafka_bus import ensure_topics
    from cluster.storage.store import SessionStore

    s = _settings(config)
    pg, rd, kf = _local(s)
    with _service_errors():
        url = pg.start()
        SessionStore(url).close()
        rd.start()
        console.print(f"PostgreSQL [green]up[/green] at {pg.shown} (schema migrated)\nRedis [green]up[/green] at "
                      f"{rd.shown} (passwords in {pg.base / 'password'} and {rd.base / 'password'})")
        access = kf.started()
        topics = ensure_topics(access, s.kafka)
        console.print(f"Kafka [green]up[/green] at {access.bootstrap} (SASL/SCRAM user octet): " + ", ".join(f"{t} ({n})" for t, n in topics.items()))


@services.command("status")
def services_status(config: ConfigOpt = Path("octet.yaml")) -> None:
    """Whether the local servers run, and where."""
    pg, rd, kf = _local(_settings(config))
    console.print(f"PostgreSQL {'[green]up[/green]' if pg.running() else '[red]down[/red]'} at {pg.shown}")
    console.print(f"Redis {'[green]up[/green]' if rd.pid() else '[red]down[/red]'} at {rd.shown}")
    console.print(f"Kafka {'[green]up[/green]' if kf.running() else '[red]down[/red]'} at {kf.bootstrap}")


@services.command("stop")
def services_stop(config: ConfigOpt = Path("octet.yaml")) -> None:
    """Stop the local servers (their data stays under data_dir)."""
    pg, rd, kf = _local(_settings(config))
    pg.stop()
    rd.stop()
    kf.stop()
    console.print("PostgreSQL, Redis and Kafka stopped")


db = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db, name="db")
UrlOpt = Annotated[str | None, typer.Option(help="A SQLAlchemy URL; default: the store the settings name.")]


def _store(config: Path, url: str | None, upgrade: bool = True):  # type: ignore[no-untyped-def]
    from cluster.storage.store import SessionStore, store_url

    return SessionStore(url or store_url(_settings(config)), upgrade=upgrade)


def _migrate(config: Path, url: str | None, direction: str, revision: str) -> None:
    from cluster.storage import migrate

    store = _store(config, url, upgrade=False)
    getattr(migrate, direction)(store.engine, revision)
    console.print(f"{store.where}: at revision {migrate.current(store.engine)}")


@db.command("upgrade")
def db_upgrade(config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None,
               revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the schema up (to the newest revision by default)."""
    _migrate(config, url, "upgrade", revision)


@db.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base' for none.")],
                 config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None) -> None:
    """Migrate the schema down (drops what later revisions made, with its data)."""
    _migrate(config, url, "downgrade", revision)


@db.command("current")
def db_current(config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None) -> None:
    """The schema's revision, the newest one, and the time-series layout."""
    from sqlalchemy import text

    from cluster.storage import migrate

    store = _store(config, url, upgrade=False)
    now, head = migrate.current(store.engine), migrate.head(store.engine)
    layout = "-"
    if now is not None:
        with store.engine.connect() as conn:
            layout = conn.execute(text("SELECT value FROM octet_meta WHERE key = 'timeseries'")).scalar() or "-"
    console.print(f"{store.where}: revision {now} (newest {head}); time series: {layout}")


audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


AnchorsOpt = Annotated[Path | None, typer.Option(
    "--anchors", help="The anchor log; default: storage.audit_anchor_log, or data_dir/audit/anchors.jsonl.")]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key", help="The key that signed the anchors; default: storage.audit_key_file, or data_dir/secrets/audit.key.")]
NoAnchorsOpt = Annotated[bool, typer.Option(
    "--no-anchors", help="Check the chain alone (a deleted or recomputed tail then goes unnoticed).")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


@audit_app.command("verify")
def audit_verify(config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None, anchors: AnchorsOpt = None,
                 key: KeyOpt = None, no_anchors: NoAnchorsOpt = False) -> None:
    """Recompute the whole chain, then hold every signed anchor against it: a record gone, rewritten,
    or an anchor line forged is named (exit 1). Exit 2: nothing to check against (no anchor log, no key)."""
    from cluster.storage import anchors as anchoring
    from cluster.storage import audit

    if not no_anchors and (anchors is None or key is None):
        settings = _settings(config)
        anchors = anchors or anchoring.log_path(settings)
        key = key or anchoring.key_path(settings)
    store = _store(config, url)
    if no_anchors:
        with console.status("verifying the audit chain"):
            v = audit.verify(store.engine)
        console.print("[yellow]warning: anchors not checked (--no-anchors): a deleted tail, or a tail rewritten "
                      "with its hashes recomputed, would still verify[/yellow]", soft_wrap=True)
        if v.ok:
            console.print(f"[green]audit chain intact[/green]: {v.records:,} records in {escape(store.where)}")
            return
        console.print(f"[red bold]audit chain broken at record {v.first_bad}[/red bold]: {escape(v.reason)} "
                      f"({v.records:,} records before it hold)", soft_wrap=True)
        raise typer.Exit(1)
    assert anchors is not None and key is not None
    if not anchors.exists():
        n = anchoring.records(store.engine)
        if n:
            raise _fail(f"no anchor log at {anchors}: the tail of the audit chain ({n:,} records) cannot be checked "
                        "(a deleted or recomputed tail would go unnoticed); give --anchors, or --no-anchors to "
                        "check the chain alone")
        console.print(f"[green]audit chain intact[/green]: no record in {escape(store.where)}, no anchor")
        return
    try:
        secret = anchoring.load_key(key)
        with console.status("verifying the audit chain and its anchors"):
            rep = anchoring.check(store.engine, anchors, secret)
    except anchoring.AuditKeyError as exc:
        raise _fail(str(exc)) from None
    for note in rep.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)
    if rep.ok:
        console.print(f"[green]audit chain intact[/green]: {rep.chain.records:,} records in {escape(store.where)}, "
                      f"anchored up to record {rep.anchored_to:,} by {rep.anchors:,} signed anchor(s) "
                      f"(last {rep.last_at or '-'}) in {escape(str(anchors))}", soft_wrap=True)
        return
    console.print("[red bold]audit trail broken[/red bold]"
                  + (f" at record {rep.first_bad}" if rep.first_bad is not None else "")
                  + f" in {escape(store.where)} (" + (f"the chain itself holds: {rep.chain.records:,} records"
                                                       if rep.chain.ok else
                                                       f"{rep.chain.records:,} records hold before the break")
                  + "):", soft_wrap=True)
    for problem in rep.problems[:20]:
        console.print(f"  - {escape(problem)}", soft_wrap=True)
    if len(rep.problems) > 20:
        console.print(f"  ... and {len(rep.problems) - 20} more")
    raise typer.Exit(1)


@audit_app.command("show")
def audit_show(order: Annotated[str, typer.Option("--order", help="A client order id.")],
               config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None) -> None:
    """The story of one order, from the signal behind it to its last fill."""
    from cluster.storage import audit

    store = _store(config, url)
    records = audit.story(store.engine, order)
    if not records:
        console.print(f"[red]no audit record of order {order}[/red] in {store.where}")
        raise typer.Exit(1)
    from trading.market import ts_to_datetime

    table = Table(title=f"order {order} (run {records[0].run_id})")
    for col in ("#", "time (UTC)", "what", "account", "detail"):
        table.add_column(col)
    for r in records:
        table.add_row(str(r.seq), ts_to_datetime(r.ts_ns).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if r.ts_ns else "-",
                      r.kind, r.account_id or "", _detail(r.kind, r.payload))
    console.print(table)


def _detail(kind: str, p: dict[str, object]) -> str:
    if kind == "signal":
        events = ", ".join(str(e.get("event")) for e in p.get("evidence", []))  # type: ignore[union-attr]
        return (f"{p['setup']} {p['side']} {p['symbol']} entry {p['entry']} stop {p['stop']} "
                f"confidence {float(p['confidence']):.2f}; evidence: {events}")  # type: ignore[arg-type]
    if kind == "decision":
        return f"{p['step']}: {p['outcome']}{' (' + str(p['rule']) + ')' if p['rule'] else ''} {p['reason']}"
    if kind == "order":
        return (f"{p['side']} {p['lots']} lots {p['symbol']} {p['order_type']} stop {p['stop_loss']} "
                f"target {p['take_profit']} profile {p['profile']} seed {p['seed']}")
    if kind == "report":
        fill = p.get("fill")
        extra = f" {fill['kind']} {fill['lots']} at {fill['price']} ({fill['reason']})" if fill else ""  # type: ignore[index]
        return f"{p['status']}{extra}{' ' + str(p['reason']) if p['reason'] else ''}"
    if kind == "trade":
        return f"closed {p['side']} {p['lots']} {p['entry']} -> {p['exit']}: P&L {p['pnl']} ({p['reason']})"
    return json.dumps(p, default=str)[:160]


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
