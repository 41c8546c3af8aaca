"""The database schema is migrated at start (Alembic): new databases, databases made by the old
create_all, and later revisions all keep their rows."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from digihuman import migrations
from digihuman.catalog import Catalog
from digihuman.database import Database
from digihuman.keys import KeyStore, hash_key
from digihuman.tasks.records import Base
from digihuman.tasks.store import TaskStore


def _old_database(url: str) -> None:
    """A database as servers made it before migrations: create_all, rows in it, no alembic_version."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO tasks (id, kind, name, owner, status, progress, stage, inputs, attempts, max_attempts, "
            "timeout_s, cancel_requested, created_at, updated_at, files_purged) VALUES ('t1', 'voice.train', "
            "'old task', 'o1', 'succeeded', 1.0, 'done', '{\"title\": \"kept\"}', 1, 2, 60, false, 1, 2, false)"))
        connection.execute(text("INSERT INTO api_keys (id, name, key_hash, created_at) "
                                "VALUES ('k1', 'old key', :h, 1)"), {"h": hash_key("old-secret-key")})
        connection.execute(text(
            "INSERT INTO voice_models (id, owner, title, description, visibility, tags, languages, train_mode, "
            "created_at) VALUES ('v1', 'o1', 'old voice', '', 'private', '[]', '[\"en\"]', 'fast', 1)"))
        assert "alembic_version" not in inspect(connection).get_table_names()
    engine.dispose()


def _assert_rows_kept(db: Database) -> None:
    task = TaskStore(db).get("t1")
    assert (task.name, task.status, task.inputs) == ("old task", "succeeded", {"title": "kept"})
    assert KeyStore(db, []).identify("old-secret-key") == "k1"
    assert Catalog(db).voice("v1", "o1").title == "old voice"


def test_a_new_database_is_at_the_newest_revision(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    assert migrations.current(db.engine) == "0001"
    assert {"tasks", "api_keys", "voice_models", "avatar_models", "callbacks"} <= set(inspect(db.engine).get_table_names())


def test_a_database_made_by_create_all_is_adopted_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(f"sqlite:///{path}")
    with sqlite3.connect(path) as old:  # made before voice models had updated_at and avatar models existed
        old.execute("ALTER TABLE voice_models DROP COLUMN updated_at")
        old.execute("DROP TABLE avatar_models")

    db = Database(f"sqlite:///{path}")
    assert migrations.current(db.engine) == "0001"
    _assert_rows_kept(db)
    catalog = Catalog(db)
    edited = catalog.update_voice("v1", "o1", title="edited")  # the added column is usable
    assert edited.title == "edited" and edited.updated_at is not None
    assert "avatar_models" in inspect(db.engine).get_table_names()


@pytest.mark.postgres
def test_a_postgres_database_made_by_create_all_is_adopted_by_processes_starting_together(postgres_url: str) -> None:
    _old_database(postgres_url)
    engines = [create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://")) for _ in range(3)]
    errors: list[BaseException] = []

    def start(engine) -> None:  # type: ignore[no-untyped-def]
        try:
            migrations.upgrade(engine)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    db = Database(postgres_url)
    assert migrations.current(db.engine) == "0001"
    _assert_rows_kept(db)


SECOND_REVISION = '''
"""Tasks get a priority; a table of notes."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("text", sa.Text))


def downgrade() -> None:
    op.drop_table("notes")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("priority")
'''


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_later_revision_keeps_the_rows(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else f"sqlite:///{tmp_path / 'db'}"
    _old_database(url)
    scripts = tmp_path / "migrations"
    shutil.copytree(migrations.SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0002_priority.py").write_text(SECOND_REVISION)

    db = Database(url)  # adopted at 0001
    migrations.upgrade(db.engine, scripts=scripts)
    assert migrations.current(db.engine) == "0002"
    _assert_rows_kept(db)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT priority FROM tasks WHERE id = 't1'")).scalar_one() == 0
    assert "notes" in inspect(db.engine).get_table_names()


def test_a_start_on_a_database_at_the_newest_revision_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Database(url)
    assert migrations._own_head() == migrations._own_scripts().get_current_head()
    start = (f"import sys; from digihuman.database import Database; Database({url!r}); "
             "print('alembic' in sys.modules)")
    started = subprocess.run([sys.executable, "-c", start], capture_output=True, text=True, check=True)
    assert started.stdout == "False\n"
