"""One SQLAlchemy engine per process: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from digihuman.tasks.records import Base


class Database:
    """Creates the tables once and hands out transactions.

    Worker processes are forked from the consumer; a connection pool must never
    cross a fork, so the engine is rebuilt when the process id changes.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._pid: int | None = None
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        Base.metadata.create_all(self.engine)
        _add_missing_columns(self.engine)

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            if self._engine is not None:
                self._engine.dispose(close=False)
            self._engine = _make_engine(self.url)
            self._sessions = sessionmaker(self._engine, expire_on_commit=False)
            self._pid = os.getpid()
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        self.engine  # noqa: B018 - rebuilds after a fork
        assert self._sessions is not None
        with self._sessions() as session, session.begin():
            yield session


def _add_missing_columns(engine: Engine) -> None:
    """Add nullable columns that tables of an older database lack.

    create_all makes missing tables only; a column added to an existing table later
    (nullable, so old rows stay valid) would otherwise break every query on it.
    """
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import DBAPIError

    for table in Base.metadata.sorted_tables:
        present = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as connection:
                    connection.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))
            except DBAPIError:
                # another process (the worker, a second server) added it first
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
