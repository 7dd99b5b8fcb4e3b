"""Alembic environment: runs on the connection or URL that ``cluster.storage.migrate`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from cluster.storage.models import Base, outside_models

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        assert url is not None, "cluster.storage.migrate sets sqlalchemy.url"
        engine = create_engine(url)
        with engine.begin() as conn:
            _configure(conn)
        engine.dispose()
    else:
        _configure(connection)


def _configure(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, include_object=outside_models,
                      render_as_batch=connection.dialect.name == "sqlite", transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


run()
