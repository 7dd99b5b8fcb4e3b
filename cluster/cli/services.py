"""`octet services`: the local PostgreSQL, Redis and Kafka for development (cluster/devservers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from cluster.cli.common import ConfigOpt, console, errors, group, settings_or_exit
from cluster.config.settings import Settings

if TYPE_CHECKING:
    from cluster.devservers.services import LocalKafka, LocalPostgres, LocalRedis

services = group("services", "The local PostgreSQL, Redis and Kafka under data_dir (no system service, no root).")


@contextmanager
def _service_errors() -> Iterator[None]:
    """A server that cannot be found or started: its reason in red, exit code 1."""
    from cluster.devservers.services import ServiceError

    try:
        yield
    except ServiceError as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None


def _local(settings: Settings) -> tuple[LocalPostgres, LocalRedis, LocalKafka]:
    from cluster.devservers.services import LocalKafka, LocalPostgres, LocalRedis

    base = Path(settings.runtime.data_dir)
    with _service_errors():
        return LocalPostgres(base / "postgres"), LocalRedis(base / "redis"), LocalKafka(base / "kafka")


@services.command("start")
def services_start(config: ConfigOpt = Path("octet.yaml")) -> None:
    """Start (or reuse) the local PostgreSQL, Redis and Kafka broker; migrate the schema, make the topics."""
    from cluster.adapters.kafka.bus import ensure_topics
    from cluster.storage.store import SessionStore

    s = settings_or_exit(config)
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
    pg, rd, kf = _local(settings_or_exit(config))
    console.print(f"PostgreSQL {'[green]up[/green]' if pg.running() else '[red]down[/red]'} at {pg.shown}")
    console.print(f"Redis {'[green]up[/green]' if rd.pid() else '[red]down[/red]'} at {rd.shown}")
    console.print(f"Kafka {'[green]up[/green]' if kf.running() else '[red]down[/red]'} at {kf.bootstrap}")


@services.command("stop")
def services_stop(config: ConfigOpt = Path("octet.yaml")) -> None:
    """Stop the local servers (their data stays under data_dir)."""
    pg, rd, kf = _local(settings_or_exit(config))
    pg.stop()
    rd.stop()
    kf.stop()
    console.print("PostgreSQL, Redis and Kafka stopped")
