"""One SQLAlchemy engine per process: SQLite in WAL mode by default, PostgreSQL by URL.

The schema is brought to the newest revision (digihuman/migrations) the first time a process opens a
database; processes that start together wait for one another.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from digihuman import migrations

# URLs this process has migrated already: tests and the CLI build many Database objects per process.
_migrated: set[str] = set()


class Database:
    """Migrates the schema once and hands out transactions.

    Worker processes are forked from the consumer; a connection pool must never
    cross a fork, so the engine is rebuilt when the process id changes.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._pid: int | None = None
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        if url not in _migrated:
            migrations.upgrade(self.engine)
            _migrated.add(url)

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
