r"""SQLite stores on the standard library's :mod:`sqlite3`: the embedded default for persistence.

:class:`SQLiteKeyStore`, :class:`SQLiteRateLimitStore` and :class:`SQLiteOneTimeStore` may
share one file: give each the same path, or open one :class:`SQLiteDatabase` and pass it to
each (one set of connections; each store migrates its tables into it).  All are safe for many
threads (a connection per thread) and many processes on one machine (WAL, every write in
``BEGIN IMMEDIATE``, a schema version per component in ``authcore_schema``).  For several
machines, use a networked store.

Every value read back is checked for exactly what authcore writes: a row that was tampered
with, corrupted, or written by another tool raises :class:`~authcore.errors.StoreError`
naming the table and column (never the value), as does a schema version that is not a
positive integer, and no security decision (a key verification, a rate-limit decision, a
replay check) passes on a store error.  Text that SQLite cannot hold as UTF-8 (a lone
surrogate, such as ``json.loads`` makes of an escaped ``\ud800``) is stored and looked up
exactly, as the memory stores do.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from time import monotonic_ns
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from authcore._encoding import json_dumps, json_loads
from authcore._fork import lock as fork_safe_lock
from authcore._options import int_option, seconds_option
from authcore._sqlite import (
    FORKS,
    PRUNE_FACTOR,
    WAL_INDEX_HEADER,
    Migration,
    Schema,
    SQLiteDatabase,
    store_error,
    stored_int,
    stored_text,
    text_param,
    unreadable,
)
from authcore.apikeys import KeyRecord, KeyStatus
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
    from collections.abc import Callable, Mapping

    from authcore import ratelimit
    from authcore.apikeys import KeyChange, Usage
    from authcore.clock import Instant

__all__ = [
    "KEYS_SCHEMA",
    "OAUTH_SCHEMA",
    "ONE_TIME_SCHEMA",
    "RATE_LIMIT_SCHEMA",
    "AsyncSQLiteClientStore",
    "AsyncSQLiteGrantStore",
    "Migration",
    "SQLiteClientStore",
    "SQLiteDatabase",
    "SQLiteGrantStore",
    "SQLiteKeyStore",
    "SQLiteOneTimeStore",
    "SQLiteRateLimitStore",
    "Schema",
]

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_US: Final = dt.timedelta(microseconds=1)
_CACHE_MAX: Final = 4096
_DECODED_MAX: Final = 8192


def _no_pread(fd: int, length: int, offset: int) -> bytes:  # pragma: no cover - not POSIX
    raise OSError(f"no pread({fd}, {length}, {offset}) on this platform")


# Only ever called with a descriptor from _sqlite, which gives none where pread is missing.
_pread: Final[Callable[[int, int, int], bytes]] = getattr(os, "pread", _no_pread)


def _whole(version: object) -> bool:
    """Whether a change marker may be remembered: a PRAGMA value, or a whole header."""
    return type(version) is not bytes or len(version) == WAL_INDEX_HEADER


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
_KEYS: Final = "authcore_api_keys"
_LIMITS: Final = "authcore_rate_limits"
_ONE_TIME: Final = "authcore_one_time"


def _micros(value: dt.datetime) -> int:
    return (value - _EPOCH) // _US


def _seconds_to_us(seconds: float) -> int:
    # Exact for datetimes: their timestamp() has at most 16 significant digits of
    # microseconds, which a double holds exactly until the year 2255.
    return round(seconds * 1_000_000)


def _to_us(value: dt.datetime | None) -> int | None:
    return None if value is None else _micros(value)


def _row(record: KeyRecord) -> tuple[object, ...]:
    limit = record.rate_limit
    return (
        text_param(record.key_id),
        text_param(record.prefix),
        text_param(record.owner),
        text_param(record.secret_hash),
        json_dumps(sorted(record.scopes)).decode(),
        record.status.value,
        _to_us(record.created_at),
        _to_us(record.expires_at),
        _to_us(record.revoked_at),
        None if record.name is None else text_param(record.name),
        json_dumps(dict(record.metadata)).decode(),
        None if limit is None else json_dumps([limit.rate, limit.period, limit.burst]).decode(),
        record.remaining_uses,
        record.use_count,
        _to_us(record.last_used_at),
        None if record.replaces is None else text_param(record.replaces),
        None if record.replaced_by is None else text_param(record.replaced_by),
    )


# Reading back: every column is checked for exactly what _row() writes; anything else
# (tampered, corrupted, written by another tool) raises StoreError naming table and column.


def _text(value: object, column: str) -> str:
    return stored_text(value, _KEYS, column)


def _optional_text(value: object, column: str) -> str | None:
    return None if value is None else stored_text(value, _KEYS, column)


def _time(value: object, column: str) -> dt.datetime:
    micros = stored_int(value, _KEYS, column)
    try:
        return _EPOCH + dt.timedelta(microseconds=micros)
    except OverflowError:
        raise unreadable(_KEYS, column) from None


def _optional_time(value: object, column: str) -> dt.datetime | None:
    return None if value is None else _time(value, column)


def _json(value: object, column: str) -> object:
    if type(value) is not str:
        raise unreadable(_KEYS, column)
    try:
        return json_loads(value)
    except AuthcoreError:
        raise unreadable(_KEYS, column) from None


def _scopes(value: object) -> frozenset[str]:
    scopes = _json(value, "scopes")
    if type(scopes) is not list or not all(type(s) is str for s in scopes):
        raise unreadable(_KEYS, "scopes")
    return frozenset(scopes)


def _metadata(value: object) -> MappingProxyType[str, str]:
    metadata = _json(value, "metadata")
    if type(metadata) is not dict or not all(type(v) is str for v in metadata.values()):
        raise unreadable(_KEYS, "metadata")
    return MappingProxyType(metadata)


def _rate_limit(value: object) -> GCRA | None:
    if value is None:
        return None
    limit = _json(value, "rate_limit")
    if type(limit) is not list or len(limit) != 3:  # noqa: PLR2004 - rate, period, burst
        raise unreadable(_KEYS, "rate_limit")
    try:
        return GCRA(*limit)
    except ConfigurationError:
        raise unreadable(_KEYS, "rate_limit") from None


def _record(row: tuple[object, ...]) -> KeyRecord:
    """Build a record from a row of :data:`_GET`'s columns, checking each one.

    Raises:
        StoreError: Naming the table and the first column whose value authcore did not write.
    """
    if len(row) != 17:  # noqa: PLR2004 - the columns of _GET
        raise unreadable(_KEYS, "*")
    (key_id, prefix, owner, secret_hash, scopes, status, created, expires, revoked, name,
     metadata, limit, remaining, uses, last_used, replaces, replaced_by) = row  # fmt: skip
    state = _STATUSES.get(status) if type(status) is str else None
    if state is None:
        raise unreadable(_KEYS, "status")
    return KeyRecord(
        key_id=_text(key_id, "key_id"),
        prefix=_text(prefix, "prefix"),
        owner=_text(owner, "owner"),
        secret_hash=_text(secret_hash, "secret_hash"),
        scopes=_scopes(scopes),
        status=state,
        created_at=_time(created, "created_us"),
        expires_at=_optional_time(expires, "expires_us"),
        revoked_at=_optional_time(revoked, "revoked_us"),
        name=_optional_text(name, "name"),
        metadata=_metadata(metadata),
        rate_limit=_rate_limit(limit),
        remaining_uses=None
        if remaining is None
        else stored_int(remaining, _KEYS, "remaining_uses", minimum=0),
        use_count=stored_int(uses, _KEYS, "use_count", minimum=0),
        last_used_at=_optional_time(last_used, "last_used_us"),
        replaces=_optional_text(replaces, "replaces"),
        replaced_by=_optional_text(replaced_by, "replaced_by"),
    )


class _View:
    """One thread's connection, cached records and the change marker they were read under.

    The marker has two parts, taken separately (``authcore._sqlite`` describes the pattern):
    the WAL-index header (one ``pread`` of the ``-shm`` file; ``PRAGMA data_version`` where
    it cannot be read) changes when any connection (thread or process) commits; the
    connection's ``total_changes`` (a counter in memory, no I/O) changes with every row this
    connection itself inserts, updates or deletes.  ``max_staleness`` skips only the first.
    """

    __slots__ = ("changes", "conn", "cursor", "forks", "records", "until", "version", "wal")

    def __init__(self, conn: sqlite3.Connection, wal_index: int) -> None:
        self.conn: sqlite3.Connection = conn
        self.forks = FORKS[0]  # the view dies with the process that made it
        self.wal = wal_index  # the database's -shm descriptor, or -1: use the PRAGMA
        # A cursor kept for the PRAGMA saves creating one per lookup.  Its statement returns
        # one row, which fetchone() steps past to the end, so no read transaction stays open
        # between calls.
        self.cursor: sqlite3.Cursor = conn.cursor()
        self.records: dict[str, KeyRecord] = {}
        self.version: object = None  # no marker yet: the first check misses
        self.changes: int = -1  # conn.total_changes when the records were read
        self.until: int = 0  # monotonic ns until which max_staleness skips the check


class _ThreadViews(threading.local):
    view: _View | None = None


class SQLiteKeyStore:
    """A :class:`~authcore.apikeys.KeyStore` in a SQLite file.

    Args:
        path: The database file (created and migrated if needed), or an open
            :class:`SQLiteDatabase` to share with other stores (the table is migrated into it).
        timeout: Seconds to wait for another writer (when opening by path).
        synchronous: ``"FULL"`` (default: committed keys survive power loss) or ``"NORMAL"``
            (when opening by path).
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
        path: str | os.PathLike[str] | SQLiteDatabase,
        *,
        timeout: float = 10.0,
        synchronous: str = "FULL",
        max_staleness: float = 0.0,
    ) -> None:
        staleness = seconds_option(max_staleness, "max_staleness", positive=False)
        self._db = _open(path, KEYS_SCHEMA, timeout=timeout, synchronous=synchronous)
        self._local = _ThreadViews()
        self._staleness_ns = int(staleness * 1e9)
        # Row -> record, shared by this store's threads: a row (a tuple of str, int and None)
        # fully determines its immutable record, and decoding dominates a lookup's cost once
        # a commit elsewhere has emptied the per-thread views.  It holds only what this store
        # read, goes with the store, and is emptied when full.
        self._decoded: dict[tuple[object, ...], KeyRecord] = {}

    @property
    def database(self) -> SQLiteDatabase:
        """The underlying database (connections, transactions, schema versions)."""
        return self._db

    def get(self, key_id: str) -> KeyRecord | None:  # noqa: C901, PLR0912 - the hot path, one frame
        """Return the record with this key id, or ``None``.

        Records read by this thread are cached until the database changes: any commit by
        any connection or process (the WAL-index header, one ``pread`` of the ``-shm`` file
        per call instead of a query and a decode; ``PRAGMA data_version`` where that file
        cannot be read), or a row written by this thread (``total_changes``).  With
        ``max_staleness`` > 0, that check itself is skipped for that long after the last
        one, so other connections' changes may take up to that long to be seen.

        Raises:
            StoreError: The database or its ``-shm`` file cannot be read, or the store is
                closed.
        """
        try:
            view = self._local.view
            if view is None or view.forks != FORKS[0]:  # first use, or a fork() child
                db = self._db
                view = self._local.view = _View(db.connection(), db.wal_index)
            # A closed connection raises here (sqlite3.ProgrammingError), before any cache
            # is served or the descriptor read.
            changes = view.conn.total_changes
            if self._staleness_ns and view.changes == changes and monotonic_ns() < view.until:
                fresh = True
            else:
                # Taken before the row is read: a commit in between changes it again, so
                # the next call drops what this one caches.
                if view.wal >= 0:
                    version: object = _pread(view.wal, WAL_INDEX_HEADER, 0)
                else:
                    version = view.cursor.execute("PRAGMA data_version").fetchone()[0]
                fresh = version == view.version and changes == view.changes
                if not fresh:
                    view.records = {}
                    # A short read is never remembered, so it can never match.
                    view.version = version if _whole(version) else None
                    view.changes = changes
                if self._staleness_ns:
                    view.until = monotonic_ns() + self._staleness_ns
            records = view.records
            if fresh:
                record = records.get(key_id)
                if record is not None:
                    return record
            row = view.conn.execute(_GET, (_param(key_id),)).fetchone()
        except sqlite3.Error as exc:
            raise store_error(exc) from None
        except OSError as exc:  # the -shm file could not be read
            raise StoreError(f"cannot read the WAL index: {exc.strerror or exc}") from None
        if row is None:
            return None  # unknown ids are never cached: peers choose them
        record = self._decode(row)
        if len(records) >= _CACHE_MAX:
            records.clear()
        records[key_id] = record
        return record

    def _decode(self, row: tuple[object, ...]) -> KeyRecord:
        decoded = self._decoded
        record = decoded.get(row)
        if record is None:
            record = _record(row)
            if len(decoded) >= _DECODED_MAX:
                decoded.clear()
            decoded[row] = record
        return record

    def list_owner(self, owner: str) -> tuple[KeyRecord, ...]:
        """Return every record of ``owner``, oldest first."""
        with self._db.reading() as conn:
            rows = conn.execute(_BY_OWNER, (_param(owner),)).fetchall()
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
            row = conn.execute(_GET, (_param(key_id),)).fetchone()
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
        key = _param(key_id)
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT remaining_uses FROM authcore_api_keys WHERE key_id = ?", (key,)
            ).fetchone()
            if row is None or row[0] is None:
                return None
            left = stored_int(row[0], _KEYS, "remaining_uses", minimum=0)
            if left == 0:
                return None
            conn.execute(
                "UPDATE authcore_api_keys SET remaining_uses = ? WHERE key_id = ?", (left - 1, key)
            )
            return left - 1

    def record_usage(self, usage: Mapping[str, Usage]) -> None:
        """Add counts and advance last-used times in one transaction (unknown ids skipped)."""
        rows = [(u.count, _to_us(u.last_used_at), _param(k)) for k, u in usage.items()]
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
    deleted every ``prune_every`` decisions, at most ``4 * prune_every`` at a time (a
    backlog drains over the next clean-ups, never inside one request).

    Args:
        path: The database file (may be the one of a :class:`SQLiteKeyStore`), or an open
            :class:`SQLiteDatabase` to share (the table is migrated into it).
        timeout: Seconds to wait for another writer (when opening by path).
        synchronous: ``"NORMAL"`` (default: limits survive a process crash; a power loss may
            forget the last decisions, which only makes a limit briefly looser), or ``"FULL"``.
        prune_every: How many decisions between two clean-ups.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | SQLiteDatabase,
        *,
        timeout: float = 10.0,
        synchronous: str = "NORMAL",
        prune_every: int = 1000,
    ) -> None:
        int_option(prune_every, "prune_every")
        self._db = _open(path, RATE_LIMIT_SCHEMA, timeout=timeout, synchronous=synchronous)
        self._prune_every = prune_every
        self._calls = 0

    @property
    def database(self) -> SQLiteDatabase:
        """The underlying database."""
        return self._db

    def hit(self, key: str, limit: GCRA, *, cost: int, now_ns: int) -> ratelimit.Decision:
        """Atomically take ``cost`` units of ``limit`` for ``key`` (see ``RateLimitStore``).

        One ``BEGIN IMMEDIATE`` transaction: read the TAT, :meth:`GCRA.step`, write it back.
        """
        limit.cost_ns(cost)  # refuse a bad cost before opening a transaction
        if not key.isascii() and not _encodable(key):
            raise ConfigurationError("a rate-limit key must be encodable as UTF-8")
        self._calls += 1
        prune = self._calls % self._prune_every == 0
        name = _param(key)
        with self._db.transaction() as conn:
            if prune:
                conn.execute(
                    "DELETE FROM authcore_rate_limits WHERE key IN (SELECT key FROM "
                    "authcore_rate_limits WHERE tat_ns <= ? AND typeof(tat_ns) = 'integer' "
                    "LIMIT ?)",
                    (now_ns, PRUNE_FACTOR * self._prune_every),
                )
            row = conn.execute(
                "SELECT tat_ns FROM authcore_rate_limits WHERE key = ?", (name,)
            ).fetchone()
            tat = None if row is None else stored_int(row[0], _LIMITS, "tat_ns")
            new_tat, decision = limit.step(
                None if tat is None or tat <= now_ns else tat, now_ns, cost
            )
            if new_tat is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO authcore_rate_limits (key, tat_ns) VALUES (?, ?)",
                    (name, new_tat),
                )
            return decision

    def reset(self, key: str) -> None:
        """Forget ``key``'s state."""
        if not key.isascii() and not _encodable(key):
            return  # a key that could never have been stored
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM authcore_rate_limits WHERE key = ?", (_param(key),))

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
    new.  Expired rows are deleted every ``purge_every`` successful adds, at most
    ``4 * purge_every`` at a time (a backlog drains over the next clean-ups, never inside one
    request).

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
        int_option(purge_every, "purge_every")
        self._db = _open(path, ONE_TIME_SCHEMA, timeout=timeout)
        self._purge_every = purge_every
        self._lock = fork_safe_lock()
        self._adds = 0

    @property
    def database(self) -> SQLiteDatabase:
        """The underlying database."""
        return self._db

    def add(self, key: str, *, expires_at: Instant, now: Instant) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it is already recorded.

        Both times are aware datetimes or UNIX seconds.

        Raises:
            ConfigurationError: If ``key`` is not a storable key or a time is unusable.
            StoreError: If the database fails (locked too long, disk full, closed, ...).
        """
        check_key(key)
        expiry_s, current_s = check_times(expires_at, now)
        expiry, current = _seconds_to_us(expiry_s), _seconds_to_us(current_s)
        if expiry_s <= current_s:  # already expired: new unless recorded and unexpired
            return not self.contains(key, now=now)
        with self._db.transaction() as conn:
            # Only a row authcore wrote (an integer expiry) can be expired and replaced; any
            # other row stays and is refused below.
            conn.execute(
                "DELETE FROM authcore_one_time WHERE key = ? AND expires_us <= ? "
                "AND typeof(expires_us) = 'integer'",
                (key, current),
            )
            added = (
                conn.execute(
                    "INSERT OR IGNORE INTO authcore_one_time (key, expires_us) VALUES (?, ?)",
                    (key, expiry),
                ).rowcount
                == 1
            )
            if not added:  # the row that is there decides: it must be one authcore wrote
                _one_time_expiry(
                    conn.execute(
                        "SELECT expires_us FROM authcore_one_time WHERE key = ?", (key,)
                    ).fetchone()
                )
            else:
                with self._lock:
                    self._adds += 1
                    purge = self._adds % self._purge_every == 0
                if purge:
                    conn.execute(
                        "DELETE FROM authcore_one_time WHERE key IN (SELECT key FROM "
                        "authcore_one_time WHERE expires_us <= ? "
                        "AND typeof(expires_us) = 'integer' LIMIT ?)",
                        (current, PRUNE_FACTOR * self._purge_every),
                    )
        return added

    def contains(self, key: str, *, now: Instant) -> bool:
        """Whether ``key`` is recorded and unexpired at ``now``.

        Raises:
            ConfigurationError: If ``now`` is unusable.
            StoreError: If the database fails.
        """
        current = _seconds_to_us(check_times(now, now)[1])
        given: object = key  # untyped callers pass anything
        if not isinstance(given, str) or (not key.isascii() and not _encodable(key)):
            return False  # a key that could never have been stored
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT expires_us FROM authcore_one_time WHERE key = ?", (key,)
            ).fetchone()
        return row is not None and _one_time_expiry(row) > current

    def close(self) -> None:
        """Close the database connections this store opened."""
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteOneTimeStore({str(self._db.path)!r})"


def _one_time_expiry(row: tuple[object, ...] | None) -> int:
    if row is None:  # pragma: no cover - read in the transaction that found the key
        raise unreadable(_ONE_TIME, "key")
    return stored_int(row[0], _ONE_TIME, "expires_us")


def _param(value: object) -> object:
    """A lookup or write parameter: text SQLite cannot hold goes through text_param()."""
    return text_param(value) if type(value) is str and not value.isascii() else value


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
