"""Alembic environment: runs on the connection or URL that ``cluster.storage.migrate`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cluster.storage.models import Base, outside_models

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _configure(conn)
        engine.dispose()
    else:
        _configure(connection)


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=Base.metadata, include_object=outside_models,
                      render_as_batch=connection.dialect.name == "sqlite", transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


run()
