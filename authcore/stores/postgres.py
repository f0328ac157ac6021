"""PostgreSQL stores (extra ``authcore[postgres]``) on psycopg 3 and its connection pool.

For durable records shared by several machines:

* :class:`PostgresKeyStore`: API key records; a use credit is one ``UPDATE ... WHERE
  remaining_uses > 0 RETURNING``, updates are ``SELECT ... FOR UPDATE`` transactions.
* :class:`PostgresOneTimeStore`: one-time values; an add is one ``INSERT ... ON CONFLICT DO
  UPDATE ... WHERE expired`` statement.
* :class:`PostgresRateLimitStore`: GCRA in one server-side function call per decision.
* ``Async...`` faces of the OAuth, one-time and rate-limit stores for asyncio code (each call
  in a worker thread, as psycopg's pool is synchronous here).
* :class:`PostgresGrantStore` and :class:`PostgresClientStore`: the OAuth authorization
  server's artefacts and families (a decision's effects in one transaction of
  compare-and-set statements) and client registrations.
* :class:`PostgresKeyRingStore`: signing key rings, sealed under a key-encryption key and
  changed in ``SELECT ... FOR UPDATE`` transactions, so two machines rotating at once cannot
  lose a key.

Every single-statement operation is one round trip in autocommit mode (atomic by itself).

Stores share a :class:`PostgresDatabase`: one connection pool, plus versioned tables (an
``authcore_schema`` table of component versions, as in the SQLite layer).  Opening a database
migrates it under a transaction-level advisory lock, so processes starting together migrate
it exactly once; a schema newer than the code is refused rather than misread.

Failures fail closed: a server that is down, too slow (no reply within ``timeout``) or
restarted raises :class:`~authcore.errors.StoreError` within about ``timeout`` seconds, and the
pool replaces broken connections by itself, so the store works again once the server is back.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, cast

import psycopg
import psycopg.errors

from authcore._fork import lock as fork_safe_lock
from authcore._kinds import check_wrapped
from authcore._options import int_option
from authcore._sqlite import PRUNE_FACTOR, Migration, Schema
from authcore.apikeys import KeyRecord
from authcore.clock import utc_now
from authcore.errors import ConfigurationError, DecryptionFailed, NotFound, StoreError
from authcore.jose.keyring import KeyRing, check_keks
from authcore.onetime import check_key, check_times
from authcore.stores._keyrows import KEY_COLUMNS, key_record, key_row, micros
from authcore.stores._oauth_postgres import (
    OAUTH_SCHEMA,
    AsyncPostgresClientStore,
    AsyncPostgresGrantStore,
    PostgresClientStore,
    PostgresGrantStore,
)
from authcore.stores._postgres_common import PostgresDatabase, Store

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Mapping, Sequence

    from authcore import ratelimit
    from authcore.apikeys import KeyChange, Usage
    from authcore.clock import Clock
    from authcore.jose import JWK
    from authcore.ratelimit import GCRA

__all__ = [
    "KEYS_SCHEMA",
    "KEY_RING_SCHEMA",
    "OAUTH_SCHEMA",
    "ONE_TIME_SCHEMA",
    "RATE_LIMIT_SCHEMA",
    "AsyncPostgresClientStore",
    "AsyncPostgresGrantStore",
    "AsyncPostgresOneTimeStore",
    "AsyncPostgresRateLimitStore",
    "PostgresClientStore",
    "PostgresDatabase",
    "PostgresGrantStore",
    "PostgresKeyRingStore",
    "PostgresKeyStore",
    "PostgresOneTimeStore",
    "PostgresRateLimitStore",
]


KEYS_SCHEMA: Final = Schema(
    component="apikeys",
    migrations=(
        Migration(
            version=1,
            description="API key records",
            statements=(
                """
                CREATE TABLE authcore_api_keys (
                    key_id         text PRIMARY KEY,
                    prefix         text NOT NULL,
                    owner          text NOT NULL,
                    secret_hash    text NOT NULL,
                    scopes         text NOT NULL,
                    status         text NOT NULL
                                   CHECK (status IN ('active', 'disabled', 'revoked')),
                    created_us     bigint NOT NULL,
                    expires_us     bigint,
                    revoked_us     bigint,
                    name           text,
                    metadata       text NOT NULL,
                    rate_limit     text,
                    remaining_uses bigint CHECK (remaining_uses IS NULL OR remaining_uses >= 0),
                    use_count      bigint NOT NULL DEFAULT 0,
                    last_used_us   bigint,
                    replaces       text,
                    replaced_by    text
                )
                """,
                "CREATE INDEX authcore_api_keys_owner ON authcore_api_keys (owner, created_us)",
            ),
        ),
    ),
)
"""The versioned tables of :class:`PostgresKeyStore` (the columns of the SQLite store)."""

ONE_TIME_SCHEMA: Final = Schema(
    component="onetime",
    migrations=(
        Migration(
            version=1,
            description="one-time keys until their expiry (microseconds since the epoch)",
            statements=(
                "CREATE TABLE authcore_one_time (key text PRIMARY KEY, expires_us bigint NOT NULL)",
                "CREATE INDEX authcore_one_time_expiry ON authcore_one_time (expires_us)",
            ),
        ),
    ),
)
"""The versioned tables of :class:`PostgresOneTimeStore`."""

KEY_RING_SCHEMA: Final = Schema(
    component="keyrings",
    migrations=(
        Migration(
            version=1,
            description="sealed signing key rings by name, with a version per change",
            statements=(
                """
                CREATE TABLE authcore_key_rings (
                    name       text PRIMARY KEY,
                    version    bigint NOT NULL,
                    sealed     text NOT NULL,
                    updated_us bigint NOT NULL
                )
                """,
            ),
        ),
    ),
)
"""The versioned table of :class:`PostgresKeyRingStore`."""

RATE_LIMIT_SCHEMA: Final = Schema(
    component="ratelimit",
    migrations=(
        Migration(
            version=1,
            description="GCRA theoretical arrival times and the decision function",
            statements=(
                "CREATE TABLE authcore_rate_limits (key text PRIMARY KEY, tat_ns bigint NOT NULL)",
                # One GCRA step (authcore.ratelimit.GCRA.step) under the row lock: returns the
                # TAT it read (NULL for a new key), stores the new one only when allowed.
                """
                CREATE FUNCTION authcore_gcra_hit(p_key text, p_now bigint, p_inc bigint,
                                                  p_cap bigint)
                RETURNS bigint LANGUAGE plpgsql AS $$
                DECLARE
                    old bigint;
                    base bigint;
                BEGIN
                    LOOP
                        SELECT tat_ns INTO old FROM authcore_rate_limits
                            WHERE key = p_key FOR UPDATE;
                        IF FOUND THEN
                            base := GREATEST(old, p_now);
                            IF base + p_inc - p_cap <= p_now THEN
                                UPDATE authcore_rate_limits SET tat_ns = base + p_inc
                                    WHERE key = p_key;
                            END IF;
                            RETURN old;
                        END IF;
                        INSERT INTO authcore_rate_limits (key, tat_ns)
                            VALUES (p_key, p_now + p_inc) ON CONFLICT (key) DO NOTHING;
                        IF FOUND THEN
                            RETURN NULL;
                        END IF;
                    END LOOP;
                END
                $$
                """,
            ),
        ),
    ),
)
"""The versioned tables (and function) of :class:`PostgresRateLimitStore`."""

_COLUMNS: Final = ", ".join(KEY_COLUMNS)
_GET: Final = f"SELECT {_COLUMNS} FROM authcore_api_keys WHERE key_id = %s"  # noqa: S608 - constant
_GET_LOCKED: Final = _GET + " FOR UPDATE"
_BY_OWNER: Final = (
    f"SELECT {_COLUMNS} FROM authcore_api_keys WHERE owner = %s "  # noqa: S608 - constant
    "ORDER BY created_us, key_id"
)
_PLACEHOLDERS: Final = ", ".join(["%s"] * len(KEY_COLUMNS))
_INSERT: Final = f"INSERT INTO authcore_api_keys ({_COLUMNS}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
_UPSERT: Final = (
    _INSERT
    + " ON CONFLICT (key_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in KEY_COLUMNS[1:])
)


class _Every:
    """Counts calls and says when the ``every``-th comes (for periodic clean-ups)."""

    __slots__ = ("_calls", "_every", "_lock")

    def __init__(self, every: object, name: str) -> None:
        self._every = int_option(every, name)
        self._calls = 0
        self._lock = fork_safe_lock()

    def __call__(self) -> bool:
        with self._lock:
            self._calls += 1
            return self._calls % self._every == 0

    @property
    def limit(self) -> int:
        """The most rows one clean-up deletes (a backlog drains over the next ones)."""
        return PRUNE_FACTOR * self._every


class PostgresKeyStore(Store):
    """A :class:`~authcore.apikeys.KeyStore` in PostgreSQL.

    Args:
        database: A connection string, or an open :class:`PostgresDatabase` to share a pool
            with other stores (the table is migrated into it).
        timeout: Seconds before a call fails with StoreError (when opening by string).

    Raises:
        StoreError: If the server cannot be reached or migrated.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def __init__(self, database: str | PostgresDatabase, *, timeout: float = 5.0) -> None:
        super().__init__(database, KEYS_SCHEMA, timeout)

    def get(self, key_id: str) -> KeyRecord | None:
        """Return the record with this key id, or ``None`` (one statement)."""
        row = self._one(_GET, (key_id,))
        return None if row is None else key_record(row)

    def list_owner(self, owner: str) -> tuple[KeyRecord, ...]:
        """Return every record of ``owner``, oldest first."""
        with self._db.connection() as conn:
            rows = conn.execute(_BY_OWNER.encode(), (owner,)).fetchall()
        return tuple(key_record(row) for row in rows)

    def add(self, record: KeyRecord) -> None:
        """Insert a new record.

        Raises:
            StoreError: If a record with this id exists, or the server fails.
        """
        with self._db.connection() as conn:
            try:
                conn.execute(_INSERT.encode(), key_row(record))
            except psycopg.errors.UniqueViolation:
                raise StoreError("a key with this id exists") from None

    def update(self, key_id: str, change: KeyChange) -> tuple[KeyRecord, ...]:
        """Atomically apply ``change`` to a record (locked) and save what it returns.

        Raises:
            NotFound: If ``key_id`` does not exist.
        """
        with self._db.transaction() as conn:
            row = conn.execute(_GET_LOCKED.encode(), (key_id,)).fetchone()
            if row is None:
                raise NotFound("no key with this id")
            written = tuple(change(key_record(row)))
            for record in written:
                if not isinstance(record, KeyRecord):
                    raise StoreError("a change must return key records")
            for record in sorted(written, key=lambda r: r.key_id):  # one lock order
                conn.execute(_UPSERT.encode(), key_row(record))
            return written

    def consume_use(self, key_id: str) -> int | None:
        """Atomically take one use (one statement); ``None`` when none are left."""
        row = self._one(
            "UPDATE authcore_api_keys SET remaining_uses = remaining_uses - 1 "
            "WHERE key_id = %s AND remaining_uses > 0 RETURNING remaining_uses",
            (key_id,),
        )
        return None if row is None else int(row[0])

    def record_usage(self, usage: Mapping[str, Usage]) -> None:
        """Add counts and advance last-used times in one transaction (unknown ids skipped)."""
        rows = [
            (usage[key_id].count, micros(usage[key_id].last_used_at), key_id)
            for key_id in sorted(usage)  # one lock order: concurrent flushes cannot deadlock
        ]
        if not rows:
            return
        with self._db.transaction() as conn, conn.cursor() as cursor:
            cursor.executemany(
                b"UPDATE authcore_api_keys SET use_count = use_count + %s, "
                b"last_used_us = GREATEST(COALESCE(last_used_us, 0), %s) WHERE key_id = %s",
                rows,
            )


class PostgresOneTimeStore(Store):
    """A :class:`~authcore.onetime.OneTimeStore` in PostgreSQL, shared by every machine.

    :meth:`add` is one statement: insert the key, or take over its row if it has expired;
    of concurrent adds of one key exactly one succeeds.  Expired rows are deleted every
    ``purge_every`` adds (per process), at most ``4 * purge_every`` at a time.

    Args:
        database: A connection string, or an open :class:`PostgresDatabase`.
        timeout: Seconds before a call fails with StoreError (when opening by string).
        purge_every: Adds between two deletions of expired rows.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_purge",)

    def __init__(
        self, database: str | PostgresDatabase, *, timeout: float = 5.0, purge_every: int = 256
    ) -> None:
        self._purge = _Every(purge_every, "purge_every")
        super().__init__(database, ONE_TIME_SCHEMA, timeout)

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it is already recorded.

        Raises:
            ConfigurationError: If ``key`` is not a storable key or a time is not aware.
            StoreError: If the server fails (the caller must refuse).
        """
        check_key(key)
        expiry_s, current_s = check_times(expires_at, now)
        if expiry_s <= current_s:
            return not self.contains(key, now=now)
        current = micros(now)
        added = (
            self._one(
                "INSERT INTO authcore_one_time AS t (key, expires_us) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET expires_us = EXCLUDED.expires_us "
                "WHERE t.expires_us <= %s RETURNING 1",
                (key, micros(expires_at), current),
            )
            is not None
        )
        if added and self._purge():
            self._one(
                "DELETE FROM authcore_one_time WHERE key IN (SELECT key FROM authcore_one_time "
                "WHERE expires_us <= %s LIMIT %s) RETURNING NULL",
                (current, self._purge.limit),
            )
        return added

    def contains(self, key: str, *, now: dt.datetime) -> bool:
        """Whether ``key`` is recorded and unexpired at ``now``.

        Raises:
            ConfigurationError: If ``now`` is not aware.
            StoreError: If the server fails.
        """
        check_times(now, now)
        try:
            check_key(key)
        except ConfigurationError:
            return False  # a key that could never have been stored
        row = self._one(
            "SELECT 1 FROM authcore_one_time WHERE key = %s AND expires_us > %s",
            (key, micros(now)),
        )
        return row is not None


class PostgresRateLimitStore(Store):
    """A :class:`~authcore.ratelimit.RateLimitStore` in PostgreSQL: one call per decision.

    The decision runs in the server function ``authcore_gcra_hit`` under the key's row lock
    (64-bit integer nanoseconds, the same arithmetic as :meth:`GCRA.step`), with the caller's
    ``now_ns``.  Rows whose time has passed are deleted every ``prune_every`` decisions, at
    most ``4 * prune_every`` at a time.

    Args:
        database: A connection string, or an open :class:`PostgresDatabase`.
        timeout: Seconds before a call fails with StoreError (when opening by string).
        prune_every: Decisions between two clean-ups (per process).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_prune",)

    def __init__(
        self, database: str | PostgresDatabase, *, timeout: float = 5.0, prune_every: int = 1000
    ) -> None:
        self._prune = _Every(prune_every, "prune_every")
        super().__init__(database, RATE_LIMIT_SCHEMA, timeout)

    def hit(self, key: str, limit: GCRA, *, cost: int, now_ns: int) -> ratelimit.Decision:
        """Take ``cost`` units of ``limit`` for ``key`` if allowed (one statement).

        Raises:
            ConfigurationError: If ``cost`` is not between 1 and ``limit.burst``.
            StoreError: If the server fails (the caller must refuse).
        """
        increment = limit.cost_ns(cost)
        if self._prune():
            self._one(
                "DELETE FROM authcore_rate_limits WHERE key IN (SELECT key FROM "
                "authcore_rate_limits WHERE tat_ns <= %s LIMIT %s) RETURNING NULL",
                (now_ns, self._prune.limit),
            )
        row = self._one(
            "SELECT authcore_gcra_hit(%s, %s, %s, %s)",
            (key, now_ns, increment, limit.capacity_ns),
        )
        old = None if row is None else row[0]
        return limit.step(old if old is not None and old > now_ns else None, now_ns, cost)[1]

    def reset(self, key: str) -> None:
        """Forget ``key``'s state."""
        self._one("DELETE FROM authcore_rate_limits WHERE key = %s RETURNING NULL", (key,))


class AsyncPostgresOneTimeStore:
    """The ``async`` face of a :class:`PostgresOneTimeStore`: each call runs in a worker thread.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("sync",)

    def __init__(self, sync: PostgresOneTimeStore) -> None:
        check_wrapped(sync, PostgresOneTimeStore, AsyncPostgresOneTimeStore)
        self.sync: PostgresOneTimeStore = sync

    async def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """See :meth:`PostgresOneTimeStore.add`."""
        return await asyncio.to_thread(self.sync.add, key, expires_at=expires_at, now=now)

    async def contains(self, key: str, *, now: dt.datetime) -> bool:
        """See :meth:`PostgresOneTimeStore.contains`."""
        return await asyncio.to_thread(self.sync.contains, key, now=now)


class AsyncPostgresRateLimitStore:
    """The ``async`` face of a :class:`PostgresRateLimitStore`: each call in a worker thread.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("sync",)

    def __init__(self, sync: PostgresRateLimitStore) -> None:
        check_wrapped(sync, PostgresRateLimitStore, AsyncPostgresRateLimitStore)
        self.sync: PostgresRateLimitStore = sync

    async def hit(self, key: str, limit: GCRA, *, cost: int, now_ns: int) -> ratelimit.Decision:
        """See :meth:`PostgresRateLimitStore.hit`."""
        return await asyncio.to_thread(self.sync.hit, key, limit, cost=cost, now_ns=now_ns)

    async def reset(self, key: str) -> None:
        """See :meth:`PostgresRateLimitStore.reset`."""
        await asyncio.to_thread(self.sync.reset, key)


class PostgresKeyRingStore(Store):
    """Signing key rings (:class:`~authcore.jose.keyring.KeyRing`) in PostgreSQL.

    A ring holds private keys, so it is stored sealed (:meth:`KeyRing.seal
    <authcore.jose.keyring.KeyRing.seal>`): encrypted and authenticated under a
    key-encryption key that never reaches the database, and bound to its name.  A row that
    was altered, copied from another name or sealed under an unknown key is refused with
    :class:`~authcore.errors.StoreError`, never loaded.

    :meth:`update` is a read-modify-write under the row's lock: every machine may run the
    same rotation schedule, and concurrent changes apply one after the other.

    Args:
        database: A connection string, or an open :class:`PostgresDatabase`.
        keks: The key-encryption key (``JWK.generate("A256KW", kid=...)``), or several: the
            first seals, every one unseals (to rotate the key-encryption key, put the new one
            first; each ring is resealed under it at its next :meth:`update`).
        timeout: Seconds before a call fails with StoreError (when opening by string).
        clock: The clock of the rings loaded.

    Raises:
        ConfigurationError: If a key-encryption key is not one ``KeyRing.seal`` accepts.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_clock", "_keks")

    def __init__(
        self,
        database: str | PostgresDatabase,
        *,
        keks: JWK | Sequence[JWK],
        timeout: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self._keks = check_keks(keks)
        self._clock = clock
        super().__init__(database, KEY_RING_SCHEMA, timeout)

    def _unseal(self, name: str, sealed: object) -> KeyRing:
        if not isinstance(sealed, str):
            raise StoreError(f"key ring {name!r}: stored value is not text")
        try:
            return KeyRing.unseal(sealed, self._keks, name=name, clock=self._clock)
        except DecryptionFailed:
            raise StoreError(
                f"key ring {name!r} could not be unsealed (altered, copied from another name, "
                "or sealed under a key-encryption key not given)"
            ) from None

    def load(self, name: str) -> KeyRing | None:
        """Return the ring stored as ``name``, or ``None`` (one statement).

        Raises:
            StoreError: If the stored ring cannot be unsealed, or the server fails.
        """
        row = self._one("SELECT sealed FROM authcore_key_rings WHERE name = %s", (name,))
        return None if row is None else self._unseal(name, row[0])

    def update(self, name: str, change: Callable[[KeyRing | None], KeyRing]) -> KeyRing:
        """Apply ``change`` to the ring ``name`` (``None`` if absent) and store its result.

        The row stays locked while ``change`` runs, so keep it quick (no network I/O);
        concurrent updates of one name run one after the other, each seeing the last.
        ``change`` may return its argument unchanged: nothing is written then.

        Returns:
            The ring now stored.

        Raises:
            ConfigurationError: If ``change`` returns something other than a KeyRing.
            StoreError: If the stored ring cannot be unsealed, or the server fails.
        """
        if not isinstance(cast("object", name), str) or not name:
            raise ConfigurationError("name must be a non-empty string")
        for _ in range(2):  # a first insert may race another machine's: then lock its row
            with self._db.transaction() as conn:
                row = conn.execute(
                    b"SELECT sealed FROM authcore_key_rings WHERE name = %s FOR UPDATE", (name,)
                ).fetchone()
                current = None if row is None else self._unseal(name, row[0])
                ring = change(current)
                if not isinstance(cast("object", ring), KeyRing):
                    raise ConfigurationError("a key ring change must return a KeyRing")
                if ring is current:
                    return ring
                sealed = ring.seal(self._keks[0], name=name)
                now = micros(utc_now())
                if row is not None:
                    conn.execute(
                        b"UPDATE authcore_key_rings SET sealed = %s, version = version + 1, "
                        b"updated_us = %s WHERE name = %s",
                        (sealed, now, name),
                    )
                    return ring
                inserted = conn.execute(
                    b"INSERT INTO authcore_key_rings (name, version, sealed, updated_us) "
                    b"VALUES (%s, 1, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING name",
                    (name, sealed, now),
                ).fetchone()
                if inserted is not None:
                    return ring
        raise StoreError(f"key ring {name!r}: concurrent creation, retry")  # pragma: no cover
