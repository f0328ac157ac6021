"""The OAuth schema's second migration on databases written by the first (SQLite, PostgreSQL).

Version 2 adds the families' end as a column, filled from each family's JSON, so that
``purge`` can delete ended families.  A family authcore did not write (unreadable JSON)
keeps no end and is never purged; the migration does not fail on it.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import TYPE_CHECKING

from authcore._sqlite import Schema, SQLiteDatabase
from authcore.oauth import Family, encode_family
from authcore.stores import sqlite as sqlite_stores

from .conftest import need_module

if TYPE_CHECKING:
    from pathlib import Path

    from authcore.stores.postgres import PostgresGrantStore
    from authcore.stores.sqlite import SQLiteGrantStore

_ENDED = Family(
    family_id="ended",
    client_id="web",
    subject="alice",
    scope=("read",),
    created_at=1000.0,
    expires_at=1500.0,
)
_ALIVE = dataclasses.replace(_ENDED, family_id="alive", expires_at=90_000.0)
_ROWS = [
    (_ENDED.family_id, 1, 0, encode_family(_ENDED)),
    (_ALIVE.family_id, 1, 0, encode_family(_ALIVE)),
    ("foreign", 1, 0, b"not json {"),
    ("odd", 1, 0, b'{"expires_at": "soon"}'),
]


def _first_version(schema: Schema) -> Schema:
    return Schema(component=schema.component, migrations=schema.migrations[:1])


def _check_after_migration(store: SQLiteGrantStore | PostgresGrantStore) -> None:
    assert store.database.schema_version("oauth") == 2
    assert store.family("ended") == _ENDED
    assert store.purge(before=2000.0) == 1  # the ended family, filled from its JSON
    assert store.family("ended") is None
    assert store.family("alive") == _ALIVE
    assert store.purge(before=10.0**9) == 1  # alive, once ended; never the foreign rows


def test_sqlite_version_1_families_get_their_end(tmp_path: Path) -> None:
    """Families written before version 2 are purged by their JSON's end; foreign ones stay."""
    path = tmp_path / "oauth.db"
    SQLiteDatabase(path, schemas=[_first_version(sqlite_stores.OAUTH_SCHEMA)]).close()
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO authcore_oauth_families VALUES (?, ?, ?, ?)", _ROWS)
    conn.close()
    store = sqlite_stores.SQLiteGrantStore(path)
    try:
        _check_after_migration(store)
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        left = conn.execute("SELECT family_id, expires_at FROM authcore_oauth_families").fetchall()
    conn.close()
    assert sorted(left) == [("foreign", None), ("odd", "soon")]


def test_postgres_version_1_families_get_their_end(postgres_dsn: str) -> None:
    """The same on PostgreSQL, where the fill runs row by row."""
    need_module("psycopg", "psycopg_pool")
    import psycopg  # noqa: PLC0415 - optional dependency

    from authcore.stores import postgres  # noqa: PLC0415 - optional dependency

    postgres.PostgresDatabase(
        postgres_dsn, schemas=[_first_version(postgres.OAUTH_SCHEMA)], min_size=0
    ).close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO authcore_oauth_families VALUES (%s, %s, %s, %s)",
            [(f, v, bool(r), d) for f, v, r, d in _ROWS],
        )
    store = postgres.PostgresGrantStore(postgres_dsn)
    try:
        _check_after_migration(store)
    finally:
        store.close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        left = conn.execute("SELECT family_id, expires_at FROM authcore_oauth_families").fetchall()
    assert sorted(left) == [("foreign", None), ("odd", None)]
