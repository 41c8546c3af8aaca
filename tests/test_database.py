"""The database: tables are made on first use, and columns added later reach existing databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from digihuman.catalog import Catalog
from digihuman.database import Database


def test_a_database_made_before_a_column_existed_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Database(f"sqlite:///{path}")
    with sqlite3.connect(path) as old:  # as a database made before voice models had updated_at
        old.execute("ALTER TABLE voice_models DROP COLUMN updated_at")
        assert "updated_at" not in {row[1] for row in old.execute("PRAGMA table_info(voice_models)")}

    catalog = Catalog(Database(f"sqlite:///{path}"))
    model = catalog.create_voice("owner", "kept")
    edited = catalog.update_voice(model.id, "owner", title="edited")
    assert edited.title == "edited" and edited.updated_at >= model.created_at
