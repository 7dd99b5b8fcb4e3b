"""``octet serve`` (the API gateway alone, for a desk already running) and ``octet users`` (its keys).

The gateway is a FastAPI app on Ray Serve (``serve/``, docs/api.md); `octet desk start` brings it
up with the desk when ``gateway.enabled``. Keys are stored hashed; a new key is shown once.
"""

from __future__ import annotations

import getpass
import re
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cluster.cli.common import ConfigOpt, UrlOpt, app, console, fail, group, settings_or_exit, store_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from cluster.config.settings import Settings
    from cluster.desk.desk import DeskFiles

users = group("users", "Keys to the API gateway: add (shown once), list, revoke.")
NO_KEYS = "no key was made in it: `octet users add NAME --role viewer` makes the store and its first key"


def start_gateway(settings: Settings, files: DeskFiles) -> None:
    """For the desk's driver, once Ray is up: the gateway on that Ray, started beside the desk (in a
    thread: the desk's first tick does not wait for it). ``desk.json`` says where it answers, or why
    it did not start; the desk trades either way (an API that cannot start must not stop trading)."""
    from serve.deploy import GatewayError, start

    if not settings.gateway.enabled:
        files.set_meta(gateway=None, gateway_error=None)
        return

    def up() -> None:
        try:
            files.set_meta(gateway=start(settings), gateway_error=None)
        except GatewayError as exc:
            files.set_meta(gateway=None, gateway_error=str(exc))
        except Exception as exc:  # Ray going down with the desk: say so, never kill the driver
            files.set_meta(gateway=None, gateway_error=f"{type(exc).__name__}: {exc}")

    files.set_meta(gateway=None, gateway_error=None)
    threading.Thread(target=up, name="gateway-start", daemon=True).start()


@app.command("serve")
def serve_cmd(config: ConfigOpt = Path("octet.yaml"),
              port: Annotated[int | None, typer.Option(help="Listen here (gateway.port).")] = None,
              host: Annotated[str | None, typer.Option(help="Bind this address (gateway.host; loopback).")] = None,
              login: Annotated[str | None, typer.Option(
                  help="Make a key of this role (viewer, trader or admin) for this server alone, revoked when it "
                       "stops, and print the dashboard's address that logs in with it.")] = None,
              ) -> None:
    """Serve the API and the dashboard over the store and the desk's files (for a desk already
    running, or its records); runs until Ctrl-C or SIGTERM."""
    from cluster.cli.common import with_local_servers
    from cluster.desk.topology import RayUnavailable, init_ray
    from cluster.storage.store import StoreError, store_url
    from serve.deploy import GatewayError, start, stop
    from serve.keys import ROLES

    if login is not None and login not in ROLES:
        raise fail(f"--login: one of {', '.join(ROLES)}, not {login!r}", 2)
    settings = settings_or_exit(config, gateway__port=port, gateway__host=host)
    settings = with_local_servers(settings, only=frozenset({"postgres", "redis"}))
    try:
        store_of(config, store_url(settings)).close()  # it answers and is migrated (one line if not)
    except StoreError as exc:
        raise fail(str(exc), 1) from None
    from serve.deploy import check_port, check_proxy

    try:
        check_proxy(settings)  # before Ray starts: a missing haproxy or a port in use is one line at once
        check_port(settings.gateway.host, settings.gateway.port)
        store = store_of(config, store_url(settings))
        try:
            for gone in _orphaned_login_keys(store.engine, settings.gateway.port):
                console.print(f"[yellow]revoked {gone!r}: the login key of a server on its port that is gone (killed "
                              "before it could revoke it)[/yellow]")
        finally:
            store.close()
        init_ray(settings)
        with console.status("starting the gateway on Ray Serve"):
            base = start(settings)
    except (RayUnavailable, GatewayError) as exc:
        raise fail(str(exc), 1) from None
    except KeyboardInterrupt:  # Ctrl-C while it starts: take down what started, say so, no traceback
        with console.status("stopping the gateway"):
            stop()
        raise fail("interrupted while starting: the gateway is stopped", 130) from None
    console.print(f"API at [bold]{base}/api/v1[/bold] (OpenAPI: {base}/docs); keys: `octet users add NAME "
                  "--role viewer|trader|admin`. Ctrl-C stops it.")
    if not _loopback(settings.gateway.host):
        console.print(f"[yellow]warning: it listens on {settings.gateway.host}:{settings.gateway.port}, beyond this "
                      "host, in plain HTTP: keys and tokens cross the network in clear. Put it behind TLS (a reverse "
                      "proxy on this host), or keep gateway.host 127.0.0.1[/yellow]", soft_wrap=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # SIGHUP: its terminal closed
        signal.signal(sig, lambda *_: done.set())
    name = f"{BROWSE_KEY}-{settings.gateway.port}"  # one per server: two servers on one store keep theirs
    key = ""
    try:
        if login is not None:  # made once the server is up: a start that fails leaves no key behind
            store = store_of(config, store_url(settings))
            try:
                key = _browse_key(store.engine, name, login)
            finally:
                store.close()
            console.print(f"Dashboard: [bold]{base}/login/#key={key}[/bold]\n(a {login} key made for this "
                          f"server alone, named {name!r}: revoked when it stops)", soft_wrap=True)
        else:
            console.print(f"Dashboard: [bold]{base}/[/bold] (log in with a key)")
        while not done.wait(0.5):
            pass
    finally:
        # the key first: it needs only the store, while a Ctrl-C in a terminal also reaches Ray's own
        # processes, and stopping Serve may then wait on a Ray that is gone
        if key:
            _drop_browse_key(settings, config, name)
        with console.status("stopping the gateway"):
            stop()
    console.print("gateway stopped")


BROWSE_KEY = "octet-serve-login"


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _listening(port: int) -> bool:
    """Whether anything listens on ``port`` on any address of this host (IPv4 or IPv6)."""
    from serve.deploy import GatewayError, port_in_use

    for host in ("0.0.0.0", "::"):  # each overlaps every address of its family (and :: the IPv4 ones too)
        try:
            if port_in_use(host, port):
                return True
        except GatewayError:
            pass  # (this host cannot listen there at all, as with no IPv6: it says nothing of a listener)
    return False


def _orphaned_login_keys(engine: Engine, port: int) -> list[str]:
    """Revoke the live login keys (``octet serve --login``) of servers on other ports of this host where nothing
    listens any more: a server killed outright (SIGKILL) never revoked its key. Returns their names. Only on a
    SQLite store, which only this host's servers use (a PostgreSQL store may serve servers on other hosts)."""
    from serve.keys import list_keys

    if engine.dialect.name != "sqlite":
        return []
    gone = []
    for k in list_keys(engine):
        m = re.fullmatch(rf"{BROWSE_KEY}-(\d+)", str(k.get("name", "")))
        if m is None or k.get("revoked_ns") is not None or int(m.group(1)) == port or _listening(int(m.group(1))):
            continue  # (this port's own is revoked when this server makes its key; a server listening keeps its)
        _revoke_if_live(engine, str(k["name"]))
        gone.append(str(k["name"]))
    return gone


def _revoke_if_live(engine: Engine, name: str) -> None:
    from serve.keys import KeyProblem, revoke_key

    try:
        revoke_key(engine, name)
    except KeyProblem:
        pass  # none live


def _browse_key(engine: Engine, name: str, role: str) -> str:
    """A fresh key named ``name`` (one a server on this port left, killed outright, is revoked)."""
    from serve.keys import add_key

    _revoke_if_live(engine, name)
    return add_key(engine, name, role, by="octet serve --login")[1]


def _drop_browse_key(settings: Settings, config: Path, name: str) -> None:
    from cluster.storage.store import store_url

    try:
        store = store_of(config, store_url(settings))
    except Exception:  # noqa: BLE001 (store_of has said why in one line)
        console.print(f"[yellow]the key {name!r} could not be revoked (the store is gone): "
                      f"`octet users revoke {name}`[/yellow]")
        return
    try:
        _revoke_if_live(store.engine, name)
    finally:
        store.close()


RoleOpt = Annotated[str, typer.Option("--role", "-r", help="viewer (reads), trader, or admin (the kill switch).")]


@users.command("add")
def users_add(name: Annotated[str, typer.Argument(help="Who or what the key is for.")], role: RoleOpt = "viewer",
              config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None) -> None:
    """Make a key and show it once: it is stored hashed and cannot be shown again."""
    from serve.keys import KeyProblem, add_key

    store = store_of(config, url)
    try:
        p, key = add_key(store.engine, name, role, by=getpass.getuser())
    except KeyProblem as exc:
        raise fail(str(exc)) from None
    console.print(f"key {p.key_id} for {escape(p.name)} ({p.role}); shown once, store it now:", soft_wrap=True)
    print(key)  # plain, so that it can be piped


@users.command("list")
def users_list(config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None) -> None:
    """Every key made (never its secret), revoked ones marked."""
    from serve.keys import list_keys

    rows = list_keys(store_of(config, url, must_exist=True, missing=NO_KEYS).engine)
    table = Table(title=f"{len(rows)} key(s)")
    for col in ("key id", "name", "role", "created (UTC)", "by", "revoked (UTC)"):
        table.add_column(col)

    def when(ns: int | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns / 1e9)) if ns else ""

    for r in rows:
        table.add_row(r["key_id"], escape(r["name"]), r["role"], when(r["created_ns"]), escape(r["created_by"]),
                      when(r["revoked_ns"]))
    console.print(table)


@users.command("revoke")
def users_revoke(key: Annotated[str, typer.Argument(help="The key's id or name.")],
                 config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None) -> None:
    """Revoke a key: refused within seconds by every gateway replica (login tokens made with it too)."""
    from serve.keys import KeyProblem, revoke_key

    try:
        row = revoke_key(store_of(config, url, must_exist=True, missing=NO_KEYS).engine, key)
    except KeyProblem as exc:
        raise fail(str(exc), 1) from None
    console.print(f"revoked key {row['key_id']} ({escape(row['name'])}, {row['role']})")
