"""A replay cache in an SQLite file (stdlib ``sqlite3``), shared safely by several processes.

The database runs in WAL mode; each :meth:`SQLiteReplayCache.add` is one ``BEGIN IMMEDIATE``
transaction (delete the key if expired, insert if absent), so two processes racing on the
same delivery cannot both accept it.  A ``schema_version`` table records the layout; opening
a file written by a newer, unknown layout fails instead of guessing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import datetime as dt

    from typing_extensions import Self

from authcore.errors import ConfigurationError, StoreError
from authcore.webhooks._replay import check_add_arguments

__all__ = ["SCHEMA_VERSION", "SQLiteReplayCache"]

SCHEMA_VERSION: Final = 1
"""The layout this module writes and reads."""

_PURGE_EVERY: Final = 256
"""Expired rows are deleted every this many successful adds."""

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    (
        "CREATE TABLE IF NOT EXISTS webhook_replay ("
        " key TEXT PRIMARY KEY NOT NULL,"
        " expires_at REAL NOT NULL"
        ") WITHOUT ROWID"
    ),
    "CREATE INDEX IF NOT EXISTS webhook_replay_expiry ON webhook_replay (expires_at)",
)


class SQLiteReplayCache:
    """A :class:`~authcore.webhooks.ReplayCache` persisted in an SQLite database file.

    Safe to share between threads (one connection behind a lock) and between processes on
    one machine (SQLite file locking; WAL).  For several machines, use a shared store.

    Args:
        path: The database file (created if missing).  ``":memory:"`` works for tests.
        timeout: Seconds to wait for another process's write lock.

    Raises:
        StoreError: If the file cannot be opened or has an unknown schema version.
        ConfigurationError: If ``timeout`` is negative.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_adds", "_closed", "_conn", "_lock", "_path", "_pid", "_timeout")

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        given: object = timeout  # checked at run time: callers may not be type-checked
        if isinstance(given, bool) or not isinstance(given, (int, float)) or given < 0:
            raise ConfigurationError("timeout must be a non-negative number of seconds")
        try:
            self._path = os.fspath(path)
        except TypeError:
            raise ConfigurationError("path must be a str or os.PathLike") from None
        self._timeout = float(timeout)
        self._lock = threading.Lock()
        self._adds = 0
        self._closed = False
        self._conn = self._connect()
        try:
            self._init_schema()
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot open replay cache: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        self._pid = os.getpid()
        try:
            return sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open replay cache: {exc}") from None

    def _init_schema(self) -> None:
        conn = self._conn
        if self._path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            rows = conn.execute("SELECT version FROM schema_version").fetchall()
            if not rows:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if rows and rows != [(SCHEMA_VERSION,)]:
            conn.close()
            raise StoreError(f"replay cache schema version {rows[0][0]} is not {SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"SQLiteReplayCache({self._path!r})"

    def close(self) -> None:
        """Close the database connection; later calls to :meth:`add` raise StoreError."""
        with self._lock:
            self._closed = True
            if self._pid == os.getpid():
                self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it is already recorded.

        Raises:
            StoreError: If the database fails (locked too long, disk full, closed, ...).
        """
        expiry, current = check_add_arguments(key, expires_at, now)
        with self._lock:
            try:
                return self._add(key, expiry, current)
            except sqlite3.Error as exc:
                raise StoreError(f"replay cache: {exc}") from None

    def _add(self, key: str, expiry: float, current: float) -> bool:
        if self._closed:
            raise StoreError("replay cache is closed")
        if self._pid != os.getpid():  # pragma: no cover - only in a forked child
            # A connection inherited through fork must never be used (nor closed) in the
            # child: SQLite's locks belong to the parent.  Abandon it and open our own.
            self._conn = self._connect()
            self._init_schema()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "DELETE FROM webhook_replay WHERE key = ? AND expires_at <= ?", (key, current)
            )
            cursor = conn.execute(
                "INSERT OR IGNORE INTO webhook_replay (key, expires_at) VALUES (?, ?)",
                (key, expiry),
            )
            added = cursor.rowcount == 1
            if added:
                self._adds += 1
                if self._adds % _PURGE_EVERY == 0:
                    conn.execute("DELETE FROM webhook_replay WHERE expires_at <= ?", (current,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return added
