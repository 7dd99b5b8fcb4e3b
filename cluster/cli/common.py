"""What every command group shares: the app, the console, the settings file option, one way to fail."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from cluster.config.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from cluster.storage.store import SessionStore

# markdown: a command's help is wrapped as paragraphs at any width (rich mode keeps the docstrings' line breaks)
MARKUP: Literal["markdown"] = "markdown"
app = typer.Typer(rich_markup_mode=MARKUP, help="Octet: a trading desk of eight cooperating agents on Ray.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)


def group(name: str, help: str) -> typer.Typer:  # noqa: A002 (typer's own word)
    """A group of commands under ``octet NAME``, its help wrapped as the top level's is."""
    sub = typer.Typer(rich_markup_mode=MARKUP, help=help, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub
console = Console(width=None if sys.stdout.isatty() else 150)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 150)  # error lines: stdout stays the output

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The settings file.")]


def settings_or_exit(config: Path, **overrides: object) -> Settings:
    """The settings file with ``overrides`` (None: not given), or the error named and exit code 2."""
    try:
        return load_settings(config, True, **{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise _refused(exc) from None


_WARNED: set[str] = set()  # the settings files a steering command has warned of (this process)


def steering_settings(config: Path) -> Settings:
    """The settings as ``settings_or_exit`` gives them, less a read of the files they name (the news calendar, the
    market closures): for a command that steers a running desk, which must work whatever those files hold. When
    the file fails its checks elsewhere, its runtime, storage, kafka and desk sections alone, with a warning: the
    kill switch must not wait on a firm's or an account's settings (only those sections are to be read)."""
    from cluster.config.settings import load_steering_settings

    try:
        settings, problem = load_steering_settings(config)
    except SettingsError as exc:
        raise _refused(exc) from None
    if problem is not None and str(config) not in _WARNED:  # once per command, however often it reads them
        _WARNED.add(str(config))
        errors.print(f"[yellow]warning:[/yellow] the settings do not pass their checks (`octet check-config`); "
                     f"steering with their runtime, storage, kafka and desk sections only:\n{escape(problem)}",
                     soft_wrap=True)
    return settings


def _refused(exc: SettingsError) -> typer.Exit:
    """The settings' error printed; the exit (code 2) to raise."""
    errors.print(f"[red]configuration error[/red]\n{escape(str(exc))}", soft_wrap=True)
    return typer.Exit(2)


UrlOpt = Annotated[str | None, typer.Option(help="A SQLAlchemy URL; default: the store the settings name.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as one error line; raise the Exit this returns."""
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def config_hint(message: str, config: Path | None) -> str:
    """``message`` with the settings file named in the ``octet data check`` command it suggests, when it is
    not the default one (the command as printed reads the file as the refused run did)."""
    import shlex

    if config is None or Path(config) == Path("octet.yaml"):
        return message
    return message.replace("`octet data check ", f"`octet data check -c {shlex.quote(str(config))} ")


def writable(folder: Path, what: str, private: bool = True) -> Path:
    """``folder`` made if missing (0700 when ``private``) and written to once, or one error line naming
    ``what`` (an existing folder keeps its mode: ``cluster.config.secrets.output_dir``)."""
    from cluster.config.secrets import output_dir

    try:
        return output_dir(folder, private)
    except OSError as exc:
        raise fail(f"{what} {folder}: cannot write there ({exc.strerror or exc})") from None


def research_pass_odds(settings: Settings, wanted: bool | None) -> Settings:
    """The pass-odds monitor in a backtest or sweep: off unless asked for (it costs tens of ms at
    every closed trade and firm day), on when an account steers its risk by it (the orders depend on
    it there, and a backtest must place the desk's orders)."""
    steering = [a.id for a in settings.accounts if a.risk.pass_odds_risk]
    if wanted is False and steering:
        raise fail(f"--no-pass-odds: {', '.join(steering)} size their trades by the pass odds "
                   "(risk.pass_odds_risk); the backtest would not place the desk's orders without them")
    return settings.with_pass_odds(bool(wanted) or bool(steering))


SERVERS = frozenset({"postgres", "redis", "kafka"})


def with_local_servers(settings: Settings, only: frozenset[str] = SERVERS) -> Settings:
    """The settings, with the local development servers (``cluster/devservers``, under data_dir)
    started for what they ask for without naming a server: PostgreSQL for ``runtime.store:
    postgres`` without ``storage.url``, Redis for ``runtime.live: redis`` without
    ``storage.redis_url``, a Kafka broker for ``runtime.bus: kafka`` without ``kafka.bootstrap``
    (of those in ``only``: a command that reads the store starts no broker). Only the command line
    starts them; the desk itself is always given where its servers are."""
    from pydantic import SecretStr

    from cluster.devservers.services import LocalKafka, LocalPostgres, LocalRedis, ServiceError

    base = Path(settings.runtime.data_dir)
    storage, kafka = settings.storage, settings.kafka
    try:
        if "postgres" in only and settings.runtime.store == "postgres" and storage.url is None:
            storage = storage.model_copy(update={"url": SecretStr(LocalPostgres(base / "postgres").start())})
        if "redis" in only and settings.runtime.live == "redis" and storage.redis_url is None:
            storage = storage.model_copy(update={"redis_url": SecretStr(LocalRedis(base / "redis").start())})
        if "kafka" in only and settings.runtime.bus == "kafka" and kafka.bootstrap is None:
            access = LocalKafka(base / "kafka").started()
            kafka = kafka.model_copy(update={"bootstrap": access.bootstrap, "username": access.username,
                                             "password_file": access.password_file})
    except ServiceError as exc:
        raise fail(str(exc), 1) from None
    return settings.model_copy(update={"storage": storage, "kafka": kafka})


NO_RUN = "the store holds no run yet: run `octet demo`, `octet run` or `octet backtest` first"


def store_of(config: Path, url: str | None, upgrade: bool = True, must_exist: bool = False,
             missing: str = NO_RUN, steering: bool = False) -> SessionStore:
    """The store at ``url``, or the one the settings file names (a local PostgreSQL started if need
    be); a database that cannot be reached or read is one line and exit code 1. ``must_exist``: a
    SQLite file that is not there is that line too, ending with ``missing`` (a command that only reads
    makes no empty one)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from cluster.config.secrets import redact
    from cluster.storage.store import SessionStore, StoreError, store_url

    if url is None:  # (steering: for a command that steers a running desk, ``steering_settings``)
        settings = steering_settings(config) if steering else settings_or_exit(config)
        local = Path(settings.runtime.data_dir) / "octet.db"
        if must_exist and settings.runtime.store == "sqlite" and not local.is_file():
            raise fail(f"database {local}: no such file: {missing}")
        url = store_url(with_local_servers(settings, only=frozenset({"postgres"})))
    if must_exist:
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            parsed = None  # refused below, in the same words as any other command's
        database = parsed.database if parsed is not None and parsed.get_backend_name() == "sqlite" else None
        uri = parsed is not None and str(parsed.query.get("uri", "")).lower() in ("true", "1", "yes", "on")
        if uri and database and database.startswith("file:"):  # the URI form (uri=true): file:PATH?mode=ro
            database = database.removeprefix("file:").split("?")[0]
        if database and database != ":memory:" and not Path(database).is_file():
            raise fail(f"database {redact(url)}: no such file: {missing}")
    try:
        store = SessionStore(url, upgrade=upgrade)
        with store.engine.connect():  # reachable, and the credentials hold
            pass
        return store
    except (SQLAlchemyError, StoreError, ValueError) as exc:  # ValueError: a URL's query SQLite cannot take
        cause = getattr(exc, "orig", None) or exc
        raise fail(f"database {redact(url)}: {first_line(cause)}", 1) from None


def first_line(exc: BaseException) -> str:
    """An error's first line (its type's name when it says nothing)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def start_ray(settings: Settings) -> None:
    """Ray for this command: the cluster ``runtime.ray_address`` names, or a local one; one line and
    exit code 2 when it cannot be reached."""
    from cluster.desk.topology import RayUnavailable, init_ray

    with console.status("attaching to Ray" if settings.runtime.ray_address else "starting Ray"):
        try:
            init_ray(settings)
        except RayUnavailable as exc:
            raise fail(str(exc)) from None
