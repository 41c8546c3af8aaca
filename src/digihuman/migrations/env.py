"""Alembic's entry point: migrations run on the connection ``digihuman.migrations.upgrade`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from digihuman.tasks.records import Base

connection = context.config.attributes.get("connection")


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    # The models' metadata serves `alembic revision --autogenerate` as a starting point for a new revision.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # the alembic command line, with sqlalchemy.url in its config
    with create_engine(context.config.get_main_option("sqlalchemy.url")).connect() as own:
        _run(own)
