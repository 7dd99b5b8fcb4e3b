"""`octet db`: the schema's Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluster.cli.common import ConfigOpt, UrlOpt, console, fail, group, store_of

db = group("db", "The database schema (Alembic migrations).")


def _migrate(config: Path, url: str | None, direction: str, revision: str) -> None:
    from alembic.util import CommandError

    from cluster.storage import migrate

    try:
        migrate.check_revision(revision)  # before a store is opened (or made)
    except CommandError as exc:
        raise fail(f"revision {revision!r}: {exc}", 2) from None
    # a downgrade of a file that is not there would make one to undo: only an upgrade may make a new store
    store = store_of(config, url, upgrade=False, must_exist=direction == "downgrade")
    try:
        getattr(migrate, direction)(store.engine, revision)
        console.print(f"{store.where}: at revision {migrate.current(store.engine)}")
    except CommandError as exc:  # a relative revision past either end
        raise fail(f"revision {revision!r}: {exc}", 2) from None
    finally:
        store.close()


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

    store = store_of(config, url, upgrade=False, must_exist=True)
    now, head = migrate.current(store.engine), migrate.head(store.engine)
    layout = "-"
    if now is not None:
        with store.engine.connect() as conn:
            layout = conn.execute(text("SELECT value FROM octet_meta WHERE key = 'timeseries'")).scalar() or "-"
    console.print(f"{store.where}: revision {now} (newest {head}); time series: {layout}")
