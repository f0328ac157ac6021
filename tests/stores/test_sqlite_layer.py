"""The shared SQLite layer: components, migrations and their versions in one file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from authcore._sqlite import Migration, Schema, SQLiteDatabase
from authcore.errors import ConfigurationError, StoreError
from authcore.stores.sqlite import SQLiteKeyStore

from .sqlite_helpers import integrity, set_schema_version

if TYPE_CHECKING:
    from pathlib import Path

_NOTES = Schema(
    component="notes",
    migrations=(Migration(version=1, statements=("CREATE TABLE notes (k TEXT PRIMARY KEY)",)),),
)


def test_another_component_adds_its_tables(tmp_path: Path) -> None:
    """Other areas add versioned tables to the same file with the same mechanism."""
    path = tmp_path / "db.sqlite"
    replay = Schema(
        component="webhook_replay",
        migrations=(
            Migration(version=1, statements=("CREATE TABLE replay (k TEXT PRIMARY KEY)",)),
            Migration(version=2, statements=("ALTER TABLE replay ADD COLUMN seen INTEGER",)),
        ),
    )
    store = SQLiteKeyStore(path)
    db = SQLiteDatabase(path, schemas=[replay])
    try:
        with db.transaction() as conn:
            conn.execute("INSERT INTO replay (k, seen) VALUES ('a', 1)")
        assert db.schema_version("webhook_replay") == 2
        assert db.schema_version("apikeys") == 2
    finally:
        db.close()
        store.close()


def test_failed_migration_changes_nothing(tmp_path: Path) -> None:
    """A migration that fails rolls back every step of that open."""
    path = tmp_path / "db.sqlite"
    broken = Schema(
        component="broken",
        migrations=(
            Migration(version=1, statements=("CREATE TABLE t1 (x)",)),
            Migration(version=2, statements=("THIS IS NOT SQL",)),
        ),
    )
    with pytest.raises(StoreError):
        SQLiteDatabase(path, schemas=[broken])
    db = SQLiteDatabase(path, schemas=[])
    try:
        assert db.schema_version("broken") == 0
        tables = {r[0] for r in db.connection().execute("SELECT name FROM sqlite_master")}
        assert "t1" not in tables
    finally:
        db.close()


def test_newer_version_of_any_component_is_refused(tmp_path: Path) -> None:
    """Opening refuses a component stored at a version newer than its schema, naming it."""
    path = tmp_path / "db.sqlite"
    SQLiteDatabase(path, schemas=[_NOTES]).close()
    set_schema_version(path, "notes", 2)
    with pytest.raises(StoreError, match="notes is version 2"):
        SQLiteDatabase(path, schemas=[_NOTES])
    db = SQLiteDatabase(path, schemas=[])  # a database not asked for the component opens
    try:
        assert db.schema_version("notes") == 2
    finally:
        db.close()
    assert integrity(path) == "ok"


@pytest.mark.parametrize(
    ("schemas", "message"),
    [
        ("notes", "must be a list"),  # a string was iterated per character
        (None, "must be a list"),
        (_NOTES, "must be a list"),
        ([_NOTES, "notes"], "must be a list"),
        ({_NOTES}, "must be a list"),
        ([_NOTES, _NOTES], "each component once"),
    ],
)
def test_schemas_are_checked_before_the_file_is_created(
    tmp_path: Path, schemas: object, message: str
) -> None:
    path = tmp_path / "db.sqlite"
    with pytest.raises(ConfigurationError, match=message):
        SQLiteDatabase(path, schemas=schemas)  # type: ignore[arg-type]
    assert not path.exists()
    db = SQLiteDatabase(path, schemas=[])
    try:
        with pytest.raises(ConfigurationError, match=message):
            db.migrate(schemas)  # type: ignore[arg-type]
        assert db.schema_version("notes") == 0
    finally:
        db.close()
