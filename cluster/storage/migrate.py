"""Schema migrations (Alembic), run by Octet itself: ``octet db upgrade`` or at a store's start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def check_revision(revision: str) -> None:
    """``alembic.util.CommandError`` for a revision these migrations do not have (a relative one,
    ``+1``, ``head-1``, ``0004+2``, ``x@y``, is checked as it runs)."""
    from alembic.util import CommandError

    if not revision.strip():
        raise CommandError("give a revision: an id, head or base")
    if revision in ("head", "heads", "base") or any(c in revision for c in "+-@"):
        return
    ScriptDirectory(str(MIGRATIONS)).get_revision(revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def known(revision: str) -> bool:
    """Is ``revision`` one of these migrations (a store a newer Octet upgraded holds one that is not)?"""
    from alembic.util import CommandError

    try:
        return ScriptDirectory(str(MIGRATIONS)).get_revision(revision) is not None
    except CommandError:
        return False
