"""Schema migrations (Alembic), run by every process at start: ``upgrade(engine)`` brings any database to head.

A new schema change is a new file in ``versions/`` (``down_revision`` = the previous head), written with
``op`` calls; on SQLite use ``op.batch_alter_table`` to change existing tables. Revisions must keep rows:
add columns nullable or with a server default, and copy data before dropping anything.

Databases made before migrations existed (tables made by ``create_all``, no ``alembic_version``) are
adopted by the first revision, which creates only what is missing; see ``versions/0001_initial.py``.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

SCRIPTS = Path(__file__).parent
# One key for PostgreSQL's advisory lock, the same in every process of every version.
PG_LOCK_KEY = zlib.crc32(b"digihuman.migrations")
_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(.+?)\s*$", re.MULTILINE)


def upgrade(engine: Engine, revision: str = "head", scripts: Path = SCRIPTS) -> None:
    """Apply every revision up to ``revision``; processes starting together wait for each other."""
    if revision == "head" and scripts == SCRIPTS and _at_own_head(engine):
        return  # nothing to apply: most starts, which then need not import alembic (~0.5 CPU-s)
    from alembic.runtime.environment import EnvironmentContext

    config = _config(scripts)
    # What alembic's command.upgrade does, with this package's own revisions read once per process:
    # reading them is half the cost of migrating a new database, and tests open hundreds per process.
    script = _own_scripts() if scripts == SCRIPTS else _read_scripts(config)
    with _exclusive(engine) as connection:
        config.attributes["connection"] = connection
        with EnvironmentContext(config, script, fn=lambda rev, _: script._upgrade_revs(revision, rev),
                                as_sql=False, starting_rev=None, destination_rev=revision):
            script.run_env()


def _at_own_head(engine: Engine) -> bool:
    """Whether the database is at the newest of this package's revisions already."""
    head = _own_head()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return list(found) == [head]
    except DBAPIError:  # no alembic_version table: a new database, or one made before migrations
        return False


@functools.cache
def _own_head() -> str | None:
    """The one revision of ``versions/`` that no other revises, read from the files' plain assignments;
    None where they say anything else (a merge, a branch), which alembic then works out itself."""
    revisions, revised = set(), set()
    for path in (SCRIPTS / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        names = {key: re.fullmatch(r"""(["'])(\w+)\1|None""", found.get(key, "")) for key in found}
        plain = set(names) == {"revision", "down_revision"} and all(names.values())
        if not plain or names["revision"][2] is None:
            return None
        revisions.add(names["revision"][2])
        if names["down_revision"][2] is not None:
            revised.add(names["down_revision"][2])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def _config(scripts: Path) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(scripts))
    return config


def _read_scripts(config: Config) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    script.revision_map.heads  # noqa: B018 - parses every revision file now, once
    return script


@functools.cache
def _own_scripts() -> ScriptDirectory:
    return _read_scripts(_config(SCRIPTS))


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection held under a lock that one migrating process owns at a time.

    API servers and workers start together; without the lock two of them would both find the
    tables missing and the second CREATE TABLE would fail.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
            connection.commit()
            try:
                yield connection
                connection.commit()
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database
    lock_path = f"{database}.migrate.lock" if engine.dialect.name == "sqlite" and database and \
        database != ":memory:" else None
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600) if lock_path else None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when closed
        with engine.connect() as connection:
            yield connection
            connection.commit()
    finally:
        if fd is not None:
            os.close(fd)
