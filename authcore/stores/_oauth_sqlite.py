"""SQLite OAuth stores on the shared layer (:mod:`authcore._sqlite`), schema ``oauth``.

:meth:`SQLiteGrantStore.apply` is one ``BEGIN IMMEDIATE`` transaction: each effect's
precondition is checked with a ``SELECT`` inside it and its write follows; the first failed
precondition rolls everything back.  SQLite admits one writer at a time, so two processes
redeeming one code serialize, and the second sees the first one's committed version.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, cast

from authcore._kinds import check_wrapped
from authcore._sqlite import Migration, Schema, SQLiteDatabase
from authcore.errors import ConfigurationError, StoreError
from authcore.oauth import (
    Artefact,
    ClientRecord,
    Effect,
    Family,
    Insert,
    RevokeFamily,
    SaveFamily,
    Update,
    decode_client,
    decode_family,
    decode_record,
    encode_client,
    encode_family,
    encode_record,
    record_kind,
)
from authcore.stores._oauth_memory import PURGE_BATCH, purge_batches, purge_cutoff, revoked_family

if TYPE_CHECKING:
    import os
    import sqlite3
    from collections.abc import Sequence

    from authcore.clock import Instant

__all__ = [
    "OAUTH_SCHEMA",
    "AsyncSQLiteClientStore",
    "AsyncSQLiteGrantStore",
    "SQLiteClientStore",
    "SQLiteGrantStore",
]

OAUTH_SCHEMA: Final = Schema(
    component="oauth",
    migrations=(
        Migration(
            version=1,
            description="OAuth clients, artefacts by digest, grant families",
            statements=(
                """
                CREATE TABLE authcore_oauth_clients (
                    client_id TEXT PRIMARY KEY NOT NULL,
                    data      BLOB NOT NULL
                )
                """,
                """
                CREATE TABLE authcore_oauth_records (
                    digest     TEXT PRIMARY KEY NOT NULL,
                    kind       TEXT NOT NULL,
                    family_id  TEXT NOT NULL,
                    version    INTEGER NOT NULL,
                    expires_at REAL NOT NULL,
                    data       BLOB NOT NULL
                )
                """,
                "CREATE INDEX authcore_oauth_records_family ON authcore_oauth_records (family_id)",
                """
                CREATE TABLE authcore_oauth_families (
                    family_id TEXT PRIMARY KEY NOT NULL,
                    version   INTEGER NOT NULL,
                    revoked   INTEGER NOT NULL,
                    data      BLOB NOT NULL
                )
                """,
            ),
        ),
        Migration(
            version=2,
            description="families' end as a column, so purge() can delete ended families",
            statements=(
                "ALTER TABLE authcore_oauth_families ADD COLUMN expires_at REAL",
                # A family whose JSON is unreadable (not authcore's) keeps NULL: never purged.
                """
                UPDATE authcore_oauth_families SET expires_at =
                    CASE WHEN json_valid(CAST(data AS TEXT))
                    THEN json_extract(CAST(data AS TEXT), '$.expires_at') END
                """,
                """
                CREATE INDEX authcore_oauth_families_expiry
                    ON authcore_oauth_families (expires_at)
                """,
                "CREATE INDEX authcore_oauth_records_expiry ON authcore_oauth_records (expires_at)",
            ),
        ),
    ),
)
"""The ``oauth`` schema component (migrations append; never edited once released)."""


def _open(path: str | os.PathLike[str] | SQLiteDatabase, timeout: float) -> SQLiteDatabase:
    if isinstance(path, SQLiteDatabase):
        path.migrate([OAUTH_SCHEMA])
        return path
    return SQLiteDatabase(path, schemas=[OAUTH_SCHEMA], timeout=timeout)


class _Conflict(Exception):
    """A precondition failed: roll the transaction back."""


class _SQLiteOAuthStore:
    """What both SQLite OAuth stores share: the database, opened or migrated."""

    __slots__ = ("_db",)

    def __init__(
        self, path: str | os.PathLike[str] | SQLiteDatabase, *, timeout: float = 10.0
    ) -> None:
        self._db = _open(path, timeout)

    @property
    def database(self) -> SQLiteDatabase:
        """The underlying database."""
        return self._db

    def close(self) -> None:
        """Close this store's connections."""
        self._db.close()


class SQLiteClientStore(_SQLiteOAuthStore):
    """A :class:`~authcore.oauth.ClientStore` in a SQLite file.

    Args:
        path: The database file, or an open database shared with other stores.
        timeout: Seconds to wait for another writer (when opening by path).

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def get(self, client_id: str) -> ClientRecord | None:
        """Return the client registered as ``client_id``, or ``None``."""
        if not isinstance(cast("object", client_id), str) or not _encodable(client_id):
            return None
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT data FROM authcore_oauth_clients WHERE client_id = ?", (client_id,)
            ).fetchone()
        return None if row is None else decode_client(row[0])

    def add(self, client: ClientRecord) -> None:
        """Register ``client`` (replacing a registration with the same id)."""
        if not isinstance(client, ClientRecord):
            raise ConfigurationError("expected a ClientRecord")
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO authcore_oauth_clients (client_id, data) VALUES (?, ?)",
                (client.client_id, encode_client(client)),
            )


class SQLiteGrantStore(_SQLiteOAuthStore):
    """A :class:`~authcore.oauth.GrantStore` in a SQLite file, safe across processes.

    Args:
        path: The database file, or an open database shared with other stores.
        timeout: Seconds to wait for another writer (when opening by path).

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def get(self, digest: str) -> Artefact | None:
        """Return the record stored under ``digest``, or ``None``."""
        if not isinstance(cast("object", digest), str) or not _encodable(digest):
            return None
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT kind, data FROM authcore_oauth_records WHERE digest = ?", (digest,)
            ).fetchone()
        return None if row is None else decode_record(row[0], row[1])

    def family(self, family_id: str) -> Family | None:
        """Return the family ``family_id``, or ``None``."""
        if not isinstance(cast("object", family_id), str) or not _encodable(family_id):
            return None
        with self._db.reading() as conn:
            row = _family_row(conn, family_id)
        return None if row is None else decode_family(row)

    def apply(self, effects: Sequence[Effect]) -> bool:
        """Apply every effect in one transaction; ``False`` (nothing written) on a conflict."""
        try:
            with self._db.transaction() as conn:
                for effect in effects:
                    _apply_one(conn, effect)
        except _Conflict:
            return False
        return True

    def purge(self, *, before: Instant, batch_size: int = PURGE_BATCH) -> int:
        """Delete what expired before ``before``: records, then families left without records.

        As :meth:`MemoryGrantStore.purge <authcore.stores.memory.MemoryGrantStore.purge>`:
        keep a margin, and a family goes only once its end is before ``before`` and no
        record of it is left.  Rows go ``batch_size`` at a time, each batch its own
        transaction, so the store's writers (token requests) wait for one batch at most,
        even on the first purge of a large backlog.  A failure leaves the batches already
        deleted deleted; purge again.

        Args:
            before: The cut-off: an aware datetime or UNIX seconds.
            batch_size: Rows per transaction (1 to 1,000,000).

        Returns:
            How many records and families were deleted.

        Raises:
            ConfigurationError: If ``before`` is not an instant or ``batch_size`` is invalid.
            StoreError: If the database fails.

        .. versionchanged:: 0.1.0
           Deletes in batches (``batch_size``), one transaction each.
        """
        cutoff = purge_cutoff(before)

        def delete(statement: str, batch: int) -> int:
            with self._db.transaction() as conn:
                return int(conn.execute(statement, (cutoff, batch)).rowcount)

        return purge_batches(delete, (_PURGE_RECORDS, _PURGE_FAMILIES), batch_size)


_PURGE_RECORDS: Final = """
    DELETE FROM authcore_oauth_records WHERE rowid IN (
        SELECT rowid FROM authcore_oauth_records WHERE expires_at < ? LIMIT ?
    )
"""
# Every path to a family starts from one of its records: without them it is unreachable.
_PURGE_FAMILIES: Final = """
    DELETE FROM authcore_oauth_families WHERE rowid IN (
        SELECT f.rowid FROM authcore_oauth_families AS f WHERE f.expires_at < ? AND NOT EXISTS (
            SELECT 1 FROM authcore_oauth_records AS r WHERE r.family_id = f.family_id
        ) LIMIT ?
    )
"""


def _family_row(conn: sqlite3.Connection, family_id: str) -> bytes | None:
    row = conn.execute(
        "SELECT data FROM authcore_oauth_families WHERE family_id = ?", (family_id,)
    ).fetchone()
    return None if row is None else bytes(row[0])


def _apply_one(conn: sqlite3.Connection, effect: Effect) -> None:
    if isinstance(effect, Insert):
        record = effect.record
        inserted = conn.execute(
            "INSERT OR IGNORE INTO authcore_oauth_records "
            "(digest, kind, family_id, version, expires_at, data) VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.digest,
                record_kind(record),
                record.family_id,
                record.version,
                record.expires_at,
                encode_record(record),
            ),
        ).rowcount
        if inserted != 1:
            raise _Conflict
    elif isinstance(effect, Update):
        record = effect.record
        changed = conn.execute(
            "UPDATE authcore_oauth_records SET version = ?, expires_at = ?, data = ? "
            "WHERE digest = ? AND version = ? AND kind = ?",
            (
                record.version,
                record.expires_at,
                encode_record(record),
                record.digest,
                effect.expected_version,
                record_kind(record),
            ),
        ).rowcount
        if changed != 1:
            raise _Conflict
    elif isinstance(effect, SaveFamily):
        family = effect.family
        if effect.expected_version is None:
            changed = conn.execute(
                "INSERT OR IGNORE INTO authcore_oauth_families "
                "(family_id, version, revoked, expires_at, data) VALUES (?, ?, ?, ?, ?)",
                (
                    family.family_id,
                    family.version,
                    int(family.revoked),
                    family.expires_at,
                    encode_family(family),
                ),
            ).rowcount
        else:
            changed = conn.execute(
                "UPDATE authcore_oauth_families SET version = ?, revoked = ?, expires_at = ?, "
                "data = ? WHERE family_id = ? AND version = ?",
                (
                    family.version,
                    int(family.revoked),
                    family.expires_at,
                    encode_family(family),
                    family.family_id,
                    effect.expected_version,
                ),
            ).rowcount
        if changed != 1:
            raise _Conflict
    elif isinstance(effect, RevokeFamily):
        row = _family_row(conn, effect.family_id)
        family = revoked_family(None if row is None else decode_family(row), effect)
        conn.execute(
            "INSERT OR REPLACE INTO authcore_oauth_families "
            "(family_id, version, revoked, expires_at, data) VALUES (?, ?, 1, ?, ?)",
            (family.family_id, family.version, family.expires_at, encode_family(family)),
        )
    else:
        raise StoreError(f"unknown effect {type(effect).__name__}")


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class AsyncSQLiteClientStore:
    """The ``async`` face of a :class:`SQLiteClientStore`: each call runs in a worker thread.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("sync",)

    def __init__(self, sync: SQLiteClientStore) -> None:
        check_wrapped(sync, SQLiteClientStore, AsyncSQLiteClientStore)
        self.sync: SQLiteClientStore = sync

    async def get(self, client_id: str) -> ClientRecord | None:
        """Return the client registered as ``client_id``, or ``None``."""
        return await asyncio.to_thread(self.sync.get, client_id)


class AsyncSQLiteGrantStore:
    """The ``async`` face of a :class:`SQLiteGrantStore`: each call runs in a worker thread.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("sync",)

    def __init__(self, sync: SQLiteGrantStore) -> None:
        check_wrapped(sync, SQLiteGrantStore, AsyncSQLiteGrantStore)
        self.sync: SQLiteGrantStore = sync

    async def get(self, digest: str) -> Artefact | None:
        """Return the record stored under ``digest``, or ``None``."""
        return await asyncio.to_thread(self.sync.get, digest)

    async def family(self, family_id: str) -> Family | None:
        """Return the family ``family_id``, or ``None``."""
        return await asyncio.to_thread(self.sync.family, family_id)

    async def apply(self, effects: Sequence[Effect]) -> bool:
        """Apply every effect or none; ``False`` when a precondition fails."""
        return await asyncio.to_thread(self.sync.apply, effects)

    async def purge(self, *, before: Instant, batch_size: int = PURGE_BATCH) -> int:
        """See :meth:`SQLiteGrantStore.purge` (in a worker thread)."""
        return await asyncio.to_thread(self.sync.purge, before=before, batch_size=batch_size)
