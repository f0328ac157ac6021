"""A replay cache in an SQLite file (stdlib ``sqlite3``), shared safely by several processes.

The table is the ``webhook_replay`` component of the shared authcore SQLite layer
(:mod:`authcore._sqlite`): WAL, a connection per thread and per process (one
inherited through ``fork`` is abandoned, never used), and a row in ``authcore_schema``
recording the layout; a file written by a newer layout is refused instead of guessed at.
Each :meth:`SQLiteReplayCache.add` is one ``BEGIN IMMEDIATE`` transaction (delete the key if
expired, insert if absent), so two processes racing on the same delivery cannot both accept
it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final

from authcore.webhooks._replay import check_add_arguments

if TYPE_CHECKING:
    import datetime as dt
    import os

    from typing_extensions import Self

    from authcore._sqlite import Schema, SQLiteDatabase

__all__ = ["REPLAY_SCHEMA_COMPONENT", "SQLiteReplayCache"]

REPLAY_SCHEMA_COMPONENT: Final = "webhook_replay"
"""The component name of the replay table in ``authcore_schema``."""

_PURGE_EVERY: Final = 256
"""Expired rows are deleted every this many successful adds."""


def _schema() -> Schema:
    from authcore._sqlite import Migration, Schema  # noqa: PLC0415 - lazy sqlite3

    return Schema(
        component=REPLAY_SCHEMA_COMPONENT,
        migrations=(
            Migration(
                version=1,
                description="webhook_replay: delivery key until expiry (UNIX seconds)",
                statements=(
                    (
                        "CREATE TABLE webhook_replay (key TEXT PRIMARY KEY NOT NULL,"
                        " expires_at REAL NOT NULL) WITHOUT ROWID"
                    ),
                    "CREATE INDEX webhook_replay_expiry ON webhook_replay (expires_at)",
                ),
            ),
        ),
    )


class SQLiteReplayCache:
    """A :class:`~authcore.webhooks.ReplayCache` persisted in an SQLite database file.

    Safe to share between threads (a connection per thread) and between processes on one
    machine (SQLite file locking; WAL), including across ``fork``.  For several machines,
    use a shared store.  ``":memory:"`` is refused (each thread would see its own
    database): use :class:`~authcore.webhooks.MemoryReplayCache` in one process.

    Args:
        path: The database file (created if missing), or an open
            :class:`~authcore._sqlite.SQLiteDatabase` to share with other authcore
            stores (the table is migrated into it).
        timeout: Seconds to wait for another process's write lock (when opening by path).

    Raises:
        ConfigurationError: If ``path`` is not a file path or ``timeout`` is negative.
        StoreError: If the file cannot be opened or migrated, or its layout is newer.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_adds", "_db", "_lock")

    def __init__(
        self, path: str | os.PathLike[str] | SQLiteDatabase, *, timeout: float = 5.0
    ) -> None:
        from authcore._sqlite import SQLiteDatabase  # noqa: PLC0415 - lazy sqlite3

        if isinstance(path, SQLiteDatabase):
            path.migrate([_schema()])
            self._db = path
        else:
            self._db = SQLiteDatabase(path, schemas=[_schema()], timeout=timeout)
        self._lock = threading.Lock()
        self._adds = 0

    def __repr__(self) -> str:
        return f"SQLiteReplayCache({str(self._db.path)!r})"

    def close(self) -> None:
        """Close the database connections; later calls to :meth:`add` raise StoreError."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it is already recorded.

        Raises:
            ConfigurationError: If ``key`` is not a non-empty str or a time is not aware.
            StoreError: If the database fails (locked too long, disk full, closed, ...).
        """
        expiry, current = check_add_arguments(key, expires_at, now)
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM webhook_replay WHERE key = ? AND expires_at <= ?", (key, current)
            )
            added: bool = (
                conn.execute(
                    "INSERT OR IGNORE INTO webhook_replay (key, expires_at) VALUES (?, ?)",
                    (key, expiry),
                ).rowcount
                == 1
            )
            if added:
                with self._lock:
                    self._adds += 1
                    purge = self._adds % _PURGE_EVERY == 0
                if purge:
                    conn.execute("DELETE FROM webhook_replay WHERE expires_at <= ?", (current,))
        return added
