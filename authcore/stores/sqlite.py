"""SQLite stores on the standard library's :mod:`sqlite3`: the embedded default for persistence.

:class:`SQLiteKeyStore` and :class:`SQLiteRateLimitStore` may share one file.  Both are safe
for many threads (a connection per thread) and many processes on one machine (WAL, every
write in ``BEGIN IMMEDIATE``); see :mod:`authcore._sqlite` for durability and the
migration mechanism.  For several machines, use a networked store.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import sqlite3
import threading
import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, TypeVar

from authcore._apikeys._model import KeyRecord, KeyStatus
from authcore._encoding import json_dumps, json_loads
from authcore._sqlite import Migration, Schema, SQLiteDatabase, store_error
from authcore.errors import AuthcoreError, ConfigurationError, NotFound, StoreError
from authcore.onetime import check_key, check_times
from authcore.ratelimit import GCRA
from authcore.stores._oauth_sqlite import (
    OAUTH_SCHEMA,
    AsyncSQLiteClientStore,
    AsyncSQLiteGrantStore,
    SQLiteClientStore,
    SQLiteGrantStore,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping

    from authcore._apikeys._model import KeyChange, Usage

__all__ = [
    "KEYS_SCHEMA",
    "OAUTH_SCHEMA",
    "ONE_TIME_SCHEMA",
    "RATE_LIMIT_SCHEMA",
    "AsyncSQLiteClientStore",
    "AsyncSQLiteGrantStore",
    "SQLiteClientStore",
    "SQLiteGrantStore",
    "SQLiteKeyStore",
    "SQLiteOneTimeStore",
    "SQLiteRateLimitStore",
]

_T = TypeVar("_T")
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_US: Final = dt.timedelta(microseconds=1)
_CACHE_MAX: Final = 4096

KEYS_SCHEMA: Final = Schema(
    component="apikeys",
    migrations=(
        Migration(
            version=1,
            description="API key records",
            statements=(
                """
                CREATE TABLE authcore_api_keys (
                    key_id         TEXT PRIMARY KEY NOT NULL,
                    prefix         TEXT NOT NULL,
                    owner          TEXT NOT NULL,
                    secret_hash    TEXT NOT NULL,
                    scopes         TEXT NOT NULL,
                    status         TEXT NOT NULL
                                   CHECK (status IN ('active', 'disabled', 'revoked')),
                    created_us     INTEGER NOT NULL,
                    expires_us     INTEGER,
                    revoked_us     INTEGER,
                    name           TEXT,
                    metadata       TEXT NOT NULL,
                    rate_limit     TEXT,
                    remaining_uses INTEGER CHECK (remaining_uses IS NULL OR remaining_uses >= 0),
                    use_count      INTEGER NOT NULL DEFAULT 0,
                    last_used_us   INTEGER,
                    replaces       TEXT,
                    replaced_by    TEXT
                ) WITHOUT ROWID
                """,
            ),
        ),
        Migration(
            version=2,
            description="index keys by owner for list()",
            statements=(
                "CREATE INDEX authcore_api_keys_owner ON authcore_api_keys (owner, created_us)",
            ),
        ),
    ),
)
"""The versioned tables of :class:`SQLiteKeyStore`."""

RATE_LIMIT_SCHEMA: Final = Schema(
    component="ratelimit",
    migrations=(
        Migration(
            version=1,
            description="GCRA theoretical arrival times",
            statements=(
                """
                CREATE TABLE authcore_rate_limits (
                    key    TEXT PRIMARY KEY NOT NULL,
                    tat_ns INTEGER NOT NULL
                ) WITHOUT ROWID
                """,
            ),
        ),
    ),
)
"""The versioned tables of :class:`SQLiteRateLimitStore`."""

ONE_TIME_SCHEMA: Final = Schema(
    component="onetime",
    migrations=(
        Migration(
            version=1,
            description="one-time keys until their expiry (microseconds since the epoch)",
            statements=(
                """
                CREATE TABLE authcore_one_time (
                    key        TEXT PRIMARY KEY NOT NULL,
                    expires_us INTEGER NOT NULL
                ) WITHOUT ROWID
                """,
                "CREATE INDEX authcore_one_time_expiry ON authcore_one_time (expires_us)",
            ),
        ),
    ),
)
"""The versioned tables of :class:`SQLiteOneTimeStore`."""

# Column order of _row() and _record(); the statements below spell it out (no SQL is built
# from strings at run time).
_GET: Final = """
    SELECT key_id, prefix, owner, secret_hash, scopes, status, created_us, expires_us,
           revoked_us, name, metadata, rate_limit, remaining_uses, use_count, last_used_us,
           replaces, replaced_by
    FROM authcore_api_keys WHERE key_id = ?
"""
_BY_OWNER: Final = """
    SELECT key_id, prefix, owner, secret_hash, scopes, status, created_us, expires_us,
           revoked_us, name, metadata, rate_limit, remaining_uses, use_count, last_used_us,
           replaces, replaced_by
    FROM authcore_api_keys WHERE owner = ? ORDER BY created_us, key_id
"""
_INSERT: Final = """
    INSERT INTO authcore_api_keys (
        key_id, prefix, owner, secret_hash, scopes, status, created_us, expires_us,
        revoked_us, name, metadata, rate_limit, remaining_uses, use_count, last_used_us,
        replaces, replaced_by
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_REPLACE: Final = """
    INSERT OR REPLACE INTO authcore_api_keys (
        key_id, prefix, owner, secret_hash, scopes, status, created_us, expires_us,
        revoked_us, name, metadata, rate_limit, remaining_uses, use_count, last_used_us,
        replaces, replaced_by
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_STATUSES: Final = {s.value: s for s in KeyStatus}


def _micros(value: dt.datetime) -> int:
    return (value - _EPOCH) // _US


def _to_us(value: dt.datetime | None) -> int | None:
    return None if value is None else _micros(value)


def _from_us(value: int | None) -> dt.datetime | None:
    return None if value is None else _EPOCH + dt.timedelta(microseconds=value)


def _row(record: KeyRecord) -> tuple[object, ...]:
    limit = record.rate_limit
    return (
        record.key_id,
        record.prefix,
        record.owner,
        record.secret_hash,
        json_dumps(sorted(record.scopes)).decode(),
        record.status.value,
        _to_us(record.created_at),
        _to_us(record.expires_at),
        _to_us(record.revoked_at),
        record.name,
        json_dumps(dict(record.metadata)).decode(),
        None if limit is None else json_dumps([limit.rate, limit.period, limit.burst]).decode(),
        record.remaining_uses,
        record.use_count,
        _to_us(record.last_used_at),
        record.replaces,
        record.replaced_by,
    )


@functools.lru_cache(maxsize=8192)
def _record(row: tuple[object, ...]) -> KeyRecord:
    """Build a record from a row; anything unreadable is a :class:`StoreError`.

    Cached: a row (a tuple of str, int and None) fully determines its immutable record, and
    decoding dominates the cost of a lookup.
    """
    try:
        (key_id, prefix, owner, secret_hash, scopes, status, created, expires, revoked, name,
         metadata, limit, remaining, uses, last_used, replaces, replaced_by) = row  # fmt: skip
        rate_limit = None
        if limit is not None:
            rate, period, burst = json_loads(str(limit))
            rate_limit = GCRA(rate, period, burst)
        created_at = _EPOCH + dt.timedelta(microseconds=int(created))  # type: ignore[call-overload]
        return KeyRecord(
            key_id=str(key_id),
            prefix=str(prefix),
            owner=str(owner),
            secret_hash=str(secret_hash),
            scopes=frozenset(str(s) for s in json_loads(str(scopes))),
            status=_STATUSES[str(status)],
            created_at=created_at,
            expires_at=_from_us(expires),  # type: ignore[arg-type]
            revoked_at=_from_us(revoked),  # type: ignore[arg-type]
            name=None if name is None else str(name),
            metadata=MappingProxyType(
                {str(k): str(v) for k, v in json_loads(str(metadata)).items()}
            ),
            rate_limit=rate_limit,
            remaining_uses=None if remaining is None else int(remaining),  # type: ignore[call-overload]
            use_count=int(uses),  # type: ignore[call-overload]
            last_used_at=_from_us(last_used),  # type: ignore[arg-type]
            replaces=None if replaces is None else str(replaces),
            replaced_by=None if replaced_by is None else str(replaced_by),
        )
    except (
        AuthcoreError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OverflowError,
        AssertionError,
    ):
        raise StoreError("a stored API key record is unreadable") from None


class _View:
    """One thread's cached records and the change marker they were read under."""

    __slots__ = ("conn", "cursor", "records", "until", "version", "writes")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn: sqlite3.Connection = conn
        # A cursor kept for the change check saves creating one per lookup.  Its statement
        # returns one row, which fetchone() steps past to the end, so no read transaction
        # stays open between calls.
        self.cursor: sqlite3.Cursor = conn.cursor()
        self.records: dict[str, KeyRecord] = {}
        self.version: object = None  # no PRAGMA data_version value: the first check misses
        self.writes: int = -1  # this thread's transaction count when the records were read
        self.until: int = 0  # monotonic ns until which max_staleness skips the check


class _ThreadViews(threading.local):
    view: _View | None = None


class SQLiteKeyStore:
    """A :class:`~authcore.apikeys.KeyStore` in a SQLite file.

    Args:
        path: The database file (created and migrated if needed).
        timeout: Seconds to wait for another writer.
        synchronous: ``"FULL"`` (default: committed keys survive power loss) or ``"NORMAL"``.
        max_staleness: Seconds a thread may serve cached records without checking for
            changes by other connections (default 0: every read checks, so a revocation
            anywhere applies to the next verification).

    Raises:
        ConfigurationError: On an invalid option.
        StoreError: If the file cannot be opened or migrated.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 10.0,
        synchronous: str = "FULL",
        max_staleness: float = 0.0,
    ) -> None:
        given: object = max_staleness
        if (
            isinstance(given, bool)
            or not isinstance(given, (int, float))
            or not math.isfinite(given)
            or given < 0
        ):
            raise ConfigurationError("max_staleness must be a finite number of seconds >= 0")
        self._db = SQLiteDatabase(
            path, schemas=(KEYS_SCHEMA,), timeout=timeout, synchronous=synchronous
        )
        self._local = _ThreadViews()
        self._staleness_ns = int(given * 1e9)

    @property
    def database(self) -> SQLiteDatabase:
        """The underlying database (connections, transactions, schema versions)."""
        return self._db

    def get(self, key_id: str) -> KeyRecord | None:
        """Return the record with this key id, or ``None``.

        Records read by this thread are cached until the database changes: any commit by
        any connection or process (``PRAGMA data_version``, one cheap statement per call
        instead of a query and a decode), or by this thread.  With ``max_staleness`` > 0,
        the change check itself is skipped for that long after the last one, so other
        processes' revocations may take up to that long to be seen.
        """
        db = self._db
        try:
            conn = db.connection()
            view = self._local.view
            if view is None or view.conn is not conn:  # first use, or a new connection
                view = self._local.view = _View(conn)
            writes = db.local_writes()
            if self._staleness_ns and view.writes == writes and time.monotonic_ns() < view.until:
                fresh = True
            else:
                # Taken before the row is read: a commit in between changes it again, so
                # the next call drops what this one caches.
                version = view.cursor.execute("PRAGMA data_version").fetchone()[0]
                fresh = version == view.version and writes == view.writes
                if not fresh:
                    view.records = {}
                    view.version = version
                    view.writes = writes
                if self._staleness_ns:
                    view.until = time.monotonic_ns() + self._staleness_ns
            records = view.records
            if fresh:
                record = records.get(key_id)
                if record is not None:
                    return record
            row = conn.execute(_GET, (key_id,)).fetchone()
        except sqlite3.Error as exc:
            raise store_error(exc) from None
        if row is None:
            return None  # unknown ids are never cached: peers choose them
        record = _record(row)
        if len(records) >= _CACHE_MAX:
            records.clear()
        records[key_id] = record
        return record

    def list_owner(self, owner: str) -> tuple[KeyRecord, ...]:
        """Return every record of ``owner``, oldest first."""
        with self._db.reading() as conn:
            rows = conn.execute(_BY_OWNER, (owner,)).fetchall()
        return tuple(_record(row) for row in rows)

    def add(self, record: KeyRecord) -> None:
        """Insert a new record.

        Raises:
            StoreError: If a record with this id exists, or the store fails.
        """
        try:
            with self._db.transaction() as conn:
                conn.execute(_INSERT, _row(record))
        except StoreError as exc:
            if "CONSTRAINT" in str(exc) or "IntegrityError" in str(exc):
                raise StoreError("a key with this id exists") from None
            raise

    def update(self, key_id: str, change: KeyChange) -> tuple[KeyRecord, ...]:
        """Atomically apply ``change`` to a record and save what it returns.

        Raises:
            NotFound: If ``key_id`` does not exist.
        """
        with self._db.transaction() as conn:
            row = conn.execute(_GET, (key_id,)).fetchone()
            if row is None:
                raise NotFound("no key with this id")
            written = tuple(change(_record(row)))
            for record in written:
                if not isinstance(record, KeyRecord):
                    raise StoreError("a change must return key records")
                conn.execute(_REPLACE, _row(record))
            return written

    def consume_use(self, key_id: str) -> int | None:
        """Atomically take one use; ``None`` when none are left or the key is gone."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE authcore_api_keys SET remaining_uses = remaining_uses - 1 "
                "WHERE key_id = ? AND remaining_uses > 0",
                (key_id,),
            )
            if cursor.rowcount != 1:
                return None
            row = conn.execute(
                "SELECT remaining_uses FROM authcore_api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
            return int(row[0])

    def record_usage(self, usage: Mapping[str, Usage]) -> None:
        """Add counts and advance last-used times in one transaction (unknown ids skipped)."""
        rows = [(u.count, _to_us(u.last_used_at), key_id) for key_id, u in usage.items()]
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE authcore_api_keys SET use_count = use_count + ?, "
                "last_used_us = MAX(COALESCE(last_used_us, 0), ?) WHERE key_id = ?",
                rows,
            )

    def close(self) -> None:
        """Close the store's connections."""
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteKeyStore({str(self._db.path)!r})"


class SQLiteRateLimitStore:
    """A :class:`~authcore.ratelimit.RateLimitStore` in a SQLite file, shared by processes.

    Each decision is one ``BEGIN IMMEDIATE`` transaction; rows whose time has passed are
    deleted every ``prune_every`` decisions.

    Args:
        path: The database file (may be the one of a :class:`SQLiteKeyStore`).
        timeout: Seconds to wait for another writer.
        synchronous: ``"NORMAL"`` (default: limits survive a process crash; a power loss may
            forget the last decisions, which only makes a limit briefly looser), or ``"FULL"``.
        prune_every: How many decisions between two clean-ups.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 10.0,
        synchronous: str = "NORMAL",
        prune_every: int = 1000,
    ) -> None:
        every: object = prune_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigurationError("prune_every must be an int >= 1")
        self._db = SQLiteDatabase(
            path, schemas=(RATE_LIMIT_SCHEMA,), timeout=timeout, synchronous=synchronous
        )
        self._prune_every = prune_every
        self._calls = 0

    @property
    def database(self) -> SQLiteDatabase:
        """The underlying database."""
        return self._db

    def apply(
        self, key: str, step: Callable[[int | None], tuple[int | None, _T]], *, now_ns: int
    ) -> _T:
        """Atomically run one GCRA step for ``key`` (see ``RateLimitStore``)."""
        self._calls += 1
        prune = self._calls % self._prune_every == 0
        with self._db.transaction() as conn:
            if prune:
                conn.execute("DELETE FROM authcore_rate_limits WHERE tat_ns <= ?", (now_ns,))
            row = conn.execute(
                "SELECT tat_ns FROM authcore_rate_limits WHERE key = ?", (key,)
            ).fetchone()
            tat = None if row is None or row[0] <= now_ns else int(row[0])
            new_tat, result = step(tat)
            if new_tat is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO authcore_rate_limits (key, tat_ns) VALUES (?, ?)",
                    (key, new_tat),
                )
            return result

    def reset(self, key: str) -> None:
        """Forget ``key``'s state."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM authcore_rate_limits WHERE key = ?", (key,))

    def close(self) -> None:
        """Close the store's connections."""
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteRateLimitStore({str(self._db.path)!r})"


def _open(
    path: str | os.PathLike[str] | SQLiteDatabase, schema: Schema, **options: float | str
) -> SQLiteDatabase:
    """Open ``path`` with ``schema``, or migrate ``schema`` into an open database."""
    if isinstance(path, SQLiteDatabase):
        path.migrate([schema])
        return path
    return SQLiteDatabase(path, schemas=[schema], **options)  # type: ignore[arg-type]


class SQLiteOneTimeStore:
    """A :class:`~authcore.onetime.OneTimeStore` in a SQLite file, shared by processes.

    Serves webhook replay protection, the JWT denylist and jti checks for every process of
    one machine.  Each :meth:`add` is one ``BEGIN IMMEDIATE`` transaction (drop the key if
    expired, insert it if absent), so two processes racing on one key cannot both see it as
    new.  Expired rows are deleted every ``purge_every`` successful adds.

    Args:
        path: The database file (created if missing), or an open database to share with
            other authcore stores (the table is migrated into it).
        timeout: Seconds to wait for another writer (when opening by path).
        purge_every: Successful adds between two deletions of expired rows.

    Raises:
        ConfigurationError: On an invalid path or option.
        StoreError: If the file cannot be opened or migrated, or its layout is newer.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_adds", "_db", "_lock", "_purge_every")

    def __init__(
        self,
        path: str | os.PathLike[str] | SQLiteDatabase,
        *,
        timeout: float = 10.0,
        purge_every: int = 256,
    ) -> None:
        every: object = purge_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigurationError("purge_every must be an int >= 1")
        self._db = _open(path, ONE_TIME_SCHEMA, timeout=timeout)
        self._purge_every = purge_every
        self._lock = threading.Lock()
        self._adds = 0

    @property
    def database(self) -> SQLiteDatabase:
        """The underlying database."""
        return self._db

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it is already recorded.

        Raises:
            ConfigurationError: If ``key`` is not a storable key or a time is not aware.
            StoreError: If the database fails (locked too long, disk full, closed, ...).
        """
        check_key(key)
        expiry_s, current_s = check_times(expires_at, now)
        expiry, current = _micros(expires_at), _micros(now)
        if expiry_s <= current_s:  # already expired: new unless recorded and unexpired
            return not self.contains(key, now=now)
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM authcore_one_time WHERE key = ? AND expires_us <= ?", (key, current)
            )
            added = (
                conn.execute(
                    "INSERT OR IGNORE INTO authcore_one_time (key, expires_us) VALUES (?, ?)",
                    (key, expiry),
                ).rowcount
                == 1
            )
            if added:
                with self._lock:
                    self._adds += 1
                    purge = self._adds % self._purge_every == 0
                if purge:
                    conn.execute("DELETE FROM authcore_one_time WHERE expires_us <= ?", (current,))
        return added

    def contains(self, key: str, *, now: dt.datetime) -> bool:
        """Whether ``key`` is recorded and unexpired at ``now``.

        Raises:
            ConfigurationError: If ``now`` is not aware.
            StoreError: If the database fails.
        """
        check_times(now, now)
        given: object = key  # untyped callers pass anything
        if not isinstance(given, str) or (not key.isascii() and not _encodable(key)):
            return False  # a key that could never have been stored
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT 1 FROM authcore_one_time WHERE key = ? AND expires_us > ?",
                (key, _micros(now)),
            ).fetchone()
        return row is not None

    def close(self) -> None:
        """Close the database connections this store opened."""
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteOneTimeStore({str(self._db.path)!r})"


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
