"""PostgreSQL OAuth stores: clients, and grants applied in one transaction (schema ``oauth``).

:meth:`PostgresGrantStore.apply` mirrors the SQLite store: one transaction in which each
effect is one statement whose ``WHERE`` (or ``ON CONFLICT``) clause is its precondition;
the first failed precondition rolls everything back.  Under ``READ COMMITTED`` a second
``UPDATE ... WHERE version = %s`` of the same row waits for the first transaction and then
re-checks its condition against the committed row, so of two concurrent redemptions of one
code exactly one applies.  A revocation is one upsert that increments the stored version,
so it never overwrites a family written concurrently.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Final, cast

import psycopg
import psycopg.errors

from authcore._kinds import check_wrapped
from authcore._sqlite import Migration, Schema
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
from authcore.stores._postgres_common import Store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg.rows import TupleRow

    from authcore.clock import Instant
    from authcore.stores._postgres_common import PostgresDatabase

__all__ = [
    "OAUTH_SCHEMA",
    "AsyncPostgresClientStore",
    "AsyncPostgresGrantStore",
    "PostgresClientStore",
    "PostgresGrantStore",
]

# Transactions that deadlock with another (rotation against revocation, in opposite row
# order) are rolled back by the server; they are retried this many times in all.
_ATTEMPTS: Final = 3

OAUTH_SCHEMA: Final = Schema(
    component="oauth",
    migrations=(
        Migration(
            version=1,
            description="OAuth clients, artefacts by digest, grant families",
            statements=(
                """
                CREATE TABLE authcore_oauth_clients (
                    client_id text PRIMARY KEY,
                    data      bytea NOT NULL
                )
                """,
                """
                CREATE TABLE authcore_oauth_records (
                    digest     text PRIMARY KEY,
                    kind       text NOT NULL,
                    family_id  text NOT NULL,
                    version    bigint NOT NULL,
                    expires_at double precision NOT NULL,
                    data       bytea NOT NULL
                )
                """,
                "CREATE INDEX authcore_oauth_records_family ON authcore_oauth_records (family_id)",
                "CREATE INDEX authcore_oauth_records_expiry ON authcore_oauth_records (expires_at)",
                """
                CREATE TABLE authcore_oauth_families (
                    family_id text PRIMARY KEY,
                    version   bigint NOT NULL,
                    revoked   boolean NOT NULL,
                    data      bytea NOT NULL
                )
                """,
            ),
        ),
        Migration(
            version=2,
            description="families' end as a column, so purge() can delete ended families",
            statements=(
                "ALTER TABLE authcore_oauth_families ADD COLUMN expires_at double precision",
                # Row by row: a family whose JSON is unreadable (not authcore's) keeps NULL
                # (never purged) instead of failing the migration.
                """
                DO $$
                DECLARE row record;
                BEGIN
                    FOR row IN SELECT family_id, data FROM authcore_oauth_families LOOP
                        BEGIN
                            UPDATE authcore_oauth_families SET expires_at =
                                (convert_from(row.data, 'UTF8')::jsonb ->> 'expires_at')::float8
                            WHERE family_id = row.family_id;
                        EXCEPTION WHEN others THEN NULL;
                        END;
                    END LOOP;
                END $$
                """,
                """
                CREATE INDEX authcore_oauth_families_expiry
                    ON authcore_oauth_families (expires_at)
                """,
            ),
        ),
    ),
)
"""The versioned tables of the PostgreSQL OAuth stores (the SQLite store's, typed)."""


class _Conflict(Exception):
    """A precondition failed: roll the transaction back."""


def _valid(value: object) -> bool:
    """Whether ``value`` is a str PostgreSQL text can hold (else it was never stored)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


class _PostgresOAuthStore(Store):
    """What both PostgreSQL OAuth stores share: the database, opened or migrated."""

    __slots__ = ()

    def __init__(self, database: str | PostgresDatabase, *, timeout: float = 5.0) -> None:
        super().__init__(database, OAUTH_SCHEMA, timeout)


class PostgresClientStore(_PostgresOAuthStore):
    """A :class:`~authcore.oauth.ClientStore` in PostgreSQL.

    Args:
        database: A connection string, or an open
            :class:`~authcore.stores.postgres.PostgresDatabase` to share a pool.
        timeout: Seconds before a call fails with StoreError (when opening by string).

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def get(self, client_id: str) -> ClientRecord | None:
        """Return the client registered as ``client_id``, or ``None`` (one statement)."""
        if not _valid(client_id):
            return None
        with self._db.connection() as conn:
            row = conn.execute(
                b"SELECT data FROM authcore_oauth_clients WHERE client_id = %s", (client_id,)
            ).fetchone()
        return None if row is None else decode_client(bytes(row[0]))

    def add(self, client: ClientRecord) -> None:
        """Register ``client`` (replacing a registration with the same id)."""
        if not isinstance(client, ClientRecord):
            raise ConfigurationError("expected a ClientRecord")
        with self._db.connection() as conn:
            conn.execute(
                b"INSERT INTO authcore_oauth_clients (client_id, data) VALUES (%s, %s) "
                b"ON CONFLICT (client_id) DO UPDATE SET data = EXCLUDED.data",
                (client.client_id, encode_client(client)),
            )


class PostgresGrantStore(_PostgresOAuthStore):
    """A :class:`~authcore.oauth.GrantStore` in PostgreSQL, shared by every machine.

    Args:
        database: A connection string, or an open
            :class:`~authcore.stores.postgres.PostgresDatabase` to share a pool.
        timeout: Seconds before a call fails with StoreError (when opening by string).

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def get(self, digest: str) -> Artefact | None:
        """Return the record stored under ``digest``, or ``None`` (one statement)."""
        if not _valid(digest):
            return None
        with self._db.connection() as conn:
            row = conn.execute(
                b"SELECT kind, data FROM authcore_oauth_records WHERE digest = %s", (digest,)
            ).fetchone()
        return None if row is None else decode_record(row[0], bytes(row[1]))

    def family(self, family_id: str) -> Family | None:
        """Return the family ``family_id``, or ``None`` (one statement)."""
        if not _valid(family_id):
            return None
        with self._db.connection() as conn:
            row = conn.execute(
                b"SELECT version, revoked, data FROM authcore_oauth_families WHERE family_id = %s",
                (family_id,),
            ).fetchone()
        return None if row is None else _family(row)

    def apply(self, effects: Sequence[Effect]) -> bool:
        """Apply every effect in one transaction; ``False`` (nothing written) on a conflict.

        Raises:
            StoreError: If the server fails (the transaction is rolled back).
        """
        for attempt in range(_ATTEMPTS):
            with self._db.connection() as conn:
                try:
                    with conn.transaction():
                        for effect in effects:
                            _apply_one(conn, effect)
                except _Conflict:
                    return False
                except psycopg.errors.DeadlockDetected:
                    if attempt + 1 == _ATTEMPTS:
                        raise
                    continue
                return True
        raise StoreError("postgres kept deadlocking")  # pragma: no cover - loop returns

    def purge(self, *, before: Instant, batch_size: int = PURGE_BATCH) -> int:
        """Delete what expired before ``before``: records, then families left without records.

        As :meth:`MemoryGrantStore.purge <authcore.stores.memory.MemoryGrantStore.purge>`:
        keep a margin, and a family goes only once its end is before ``before`` and no
        record of it is left.  Rows go ``batch_size`` at a time, each batch its own
        transaction, so no transaction holds a large backlog's row locks (or its dead rows)
        for long.  A failure leaves the batches already deleted deleted; purge again.

        Args:
            before: The cut-off: an aware datetime or UNIX seconds.
            batch_size: Rows per transaction (1 to 1,000,000).

        Returns:
            How many records and families were deleted.

        Raises:
            ConfigurationError: If ``before`` is not an instant or ``batch_size`` is invalid.
            StoreError: If the server fails (the current batch is rolled back).

        .. versionchanged:: 0.1.0
           Deletes in batches (``batch_size``), one transaction each.
        """
        cutoff = purge_cutoff(before)

        def delete(statement: bytes, batch: int) -> int:
            with self._db.transaction() as conn:
                return int(conn.execute(statement, (cutoff, batch)).rowcount)

        return purge_batches(delete, (_PURGE_RECORDS, _PURGE_FAMILIES), batch_size)


_PURGE_RECORDS: Final = (
    b"DELETE FROM authcore_oauth_records WHERE digest IN (SELECT digest FROM "
    b"authcore_oauth_records WHERE expires_at < %s LIMIT %s)"
)
# Every path to a family starts from one of its records: without them it is unreachable.
_PURGE_FAMILIES: Final = (
    b"DELETE FROM authcore_oauth_families WHERE family_id IN (SELECT f.family_id FROM "
    b"authcore_oauth_families AS f WHERE f.expires_at < %s AND NOT EXISTS "
    b"(SELECT 1 FROM authcore_oauth_records AS r WHERE r.family_id = f.family_id) LIMIT %s)"
)


def _family(row: Sequence[object]) -> Family:
    """A family from ``(version, revoked, data)``: the columns override the JSON's."""
    version, revoked, data = row
    family = decode_family(bytes(cast("bytes", data)))
    if family.version != version or family.revoked != revoked:
        family = replace(family, version=cast("int", version), revoked=bool(revoked))
    return family


def _apply_one(conn: psycopg.Connection[TupleRow], effect: Effect) -> None:
    if isinstance(effect, Insert):
        record = effect.record
        changed = conn.execute(
            b"INSERT INTO authcore_oauth_records "
            b"(digest, kind, family_id, version, expires_at, data) "
            b"VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (digest) DO NOTHING",
            (
                record.digest,
                record_kind(record),
                record.family_id,
                record.version,
                record.expires_at,
                encode_record(record),
            ),
        ).rowcount
    elif isinstance(effect, Update):
        record = effect.record
        changed = conn.execute(
            b"UPDATE authcore_oauth_records SET version = %s, expires_at = %s, data = %s "
            b"WHERE digest = %s AND version = %s AND kind = %s",
            (
                record.version,
                record.expires_at,
                encode_record(record),
                record.digest,
                effect.expected_version,
                record_kind(record),
            ),
        ).rowcount
    elif isinstance(effect, SaveFamily):
        family = effect.family
        if effect.expected_version is None:
            changed = conn.execute(
                b"INSERT INTO authcore_oauth_families "
                b"(family_id, version, revoked, expires_at, data) "
                b"VALUES (%s, %s, %s, %s, %s) ON CONFLICT (family_id) DO NOTHING",
                (
                    family.family_id,
                    family.version,
                    family.revoked,
                    family.expires_at,
                    encode_family(family),
                ),
            ).rowcount
        else:
            changed = conn.execute(
                b"UPDATE authcore_oauth_families "
                b"SET version = %s, revoked = %s, expires_at = %s, data = %s "
                b"WHERE family_id = %s AND version = %s",
                (
                    family.version,
                    family.revoked,
                    family.expires_at,
                    encode_family(family),
                    family.family_id,
                    effect.expected_version,
                ),
            ).rowcount
    elif isinstance(effect, RevokeFamily):
        tombstone = revoked_family(None, effect)
        conn.execute(
            b"INSERT INTO authcore_oauth_families AS f "
            b"(family_id, version, revoked, expires_at, data) "
            b"VALUES (%s, %s, true, %s, %s) ON CONFLICT (family_id) "
            b"DO UPDATE SET version = f.version + 1, revoked = true",
            (
                tombstone.family_id,
                tombstone.version,
                tombstone.expires_at,
                encode_family(tombstone),
            ),
        )
        changed = 1
    else:
        raise StoreError(f"unknown effect {type(effect).__name__}")
    if changed != 1:
        raise _Conflict


class AsyncPostgresClientStore:
    """The ``async`` face of a :class:`PostgresClientStore`: each call runs in a worker thread.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("sync",)

    def __init__(self, sync: PostgresClientStore) -> None:
        check_wrapped(sync, PostgresClientStore, AsyncPostgresClientStore)
        self.sync: PostgresClientStore = sync

    async def get(self, client_id: str) -> ClientRecord | None:
        """Return the client registered as ``client_id``, or ``None``."""
        return await asyncio.to_thread(self.sync.get, client_id)


class AsyncPostgresGrantStore:
    """The ``async`` face of a :class:`PostgresGrantStore`: each call runs in a worker thread.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("sync",)

    def __init__(self, sync: PostgresGrantStore) -> None:
        check_wrapped(sync, PostgresGrantStore, AsyncPostgresGrantStore)
        self.sync: PostgresGrantStore = sync

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
        """See :meth:`PostgresGrantStore.purge` (in a worker thread)."""
        return await asyncio.to_thread(self.sync.purge, before=before, batch_size=batch_size)
