"""Shared SQLite plumbing: connections per thread and process, transactions, migrations.

Every authcore SQLite store opens a :class:`SQLiteDatabase` with its :class:`Schema` (a
component name and its ordered :class:`Migration` list).  Several components may share one
file: each has its own row in the ``authcore_schema`` table, and opening a database applies the
missing migrations of each component inside one ``BEGIN IMMEDIATE`` transaction, so two
processes opening the same file at once migrate it exactly once.  A database whose version is
newer than the code knows is refused rather than misread.

To add a table for another store, declare a
``Schema(component="onetime", migrations=(Migration(version=1, statements=(...)),))``
and open ``SQLiteDatabase(path, schemas=[...])``; later changes append ``version=2``, never
edit a released migration.

A store built on this module (the stores of :mod:`authcore.stores.sqlite`) follows one
pattern:

* It holds one :class:`SQLiteDatabase` and no connection of its own: it asks
  :meth:`SQLiteDatabase.connection` (or :meth:`~SQLiteDatabase.reading`) at each call, so
  threads and ``fork`` children each get theirs.
* Every write is one ``with db.transaction() as conn:`` block, short and free of I/O other
  than SQLite; reads use ``with db.reading() as conn:``.  Both turn ``sqlite3`` errors into
  :class:`~authcore.errors.StoreError` (:func:`store_error` does it for code outside them).
* To share a file with other components it may accept an open :class:`SQLiteDatabase` in
  place of a path and call ``database.migrate([its_schema])``.
* A per-thread read cache stays exact when it is validated by
  :meth:`~SQLiteDatabase.change_marker` before each use and rebuilt whenever it differs.
* Modules that import this one lazily keep ``sqlite3`` out of ``import authcore``.

Durability: WAL journal (readers never block the writer), ``synchronous=FULL`` by default (a
committed transaction survives power loss; ``NORMAL`` survives a process crash), a busy
timeout instead of immediate ``database is locked`` errors, and every write in an explicit
``BEGIN IMMEDIATE`` ... ``COMMIT``: a process killed mid-transaction leaves the previous
committed state, which the next opener recovers from the WAL.

Connections: one per thread (``sqlite3`` connections must not be shared) and per process (a
connection inherited through ``fork`` is abandoned, never used, as SQLite requires).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from authcore.errors import ConfigurationError, StoreError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = [
    "FORKS",
    "Migration",
    "SQLiteDatabase",
    "Schema",
    "apply_migrations",
    "store_error",
    "stored_int",
    "stored_text",
    "text_param",
    "unreadable",
]

_SYNC_MODES: Final = frozenset({"FULL", "NORMAL", "EXTRA"})

FORKS: Final = [0]
"""``[n]``: how many times this process is a ``fork()`` child of one that imported this module.

Anything holding a connection per thread compares it with the value it was made under (far
cheaper than ``os.getpid()``, a system call); CPython runs the hook in every child that can go
on running Python code.
"""


def _forked() -> None:  # pragma: no cover - runs in fork() children only
    FORKS[0] += 1


if hasattr(os, "register_at_fork"):  # POSIX; there is no fork() elsewhere
    os.register_at_fork(after_in_child=_forked)


class _ThreadState(threading.local):
    """What one thread holds of a database (class attributes are each thread's defaults)."""

    conn: sqlite3.Connection | None = None
    forks: int = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One schema step of a component.

    Attributes:
        version: The version this step brings the component to (1, 2, ... in order).
        statements: SQL statements run in order, inside the migration transaction.
        description: What the step does.
    """

    version: int
    statements: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Schema:
    """The versioned tables of one component (``"apikeys"``, ``"ratelimit"``, ...)."""

    component: str
    migrations: tuple[Migration, ...]

    def __post_init__(self) -> None:
        versions = [m.version for m in self.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise ConfigurationError(f"migrations of {self.component} must be versions 1..n")

    @property
    def latest(self) -> int:
        """The version after every migration."""
        return len(self.migrations)


def unreadable(table: str, column: str) -> StoreError:
    """The error for a stored value authcore did not write (tampered, corrupted, foreign).

    It names the table and column, never the value (which may be secret).
    """
    return StoreError(f"{table}.{column} holds a value authcore did not write")


def apply_migrations(
    schemas: Sequence[Schema],
    *,
    version_of: Callable[[str], int],
    execute: Callable[[str], object],
    record: Callable[[str, int], object],
) -> None:
    """Run every migration a component lacks, then record its new version: the one loop.

    The caller (SQLite or PostgreSQL) holds the transaction and supplies the three
    backend-specific steps; the order and the refusals are the same for every backend.

    Raises:
        StoreError: If a component's stored version is newer than its schema.
    """
    for schema in schemas:
        current = version_of(schema.component)
        if current > schema.latest:
            raise StoreError(
                f"schema of {schema.component} is version {current}, newer than "
                f"this authcore supports ({schema.latest})"
            )
        for migration in schema.migrations[current:]:
            for statement in migration.statements:
                execute(statement)
        if schema.latest != current:
            record(schema.component, schema.latest)


def stored_int(value: object, table: str, column: str, *, minimum: int | None = None) -> int:
    """Return a value read back from an INTEGER column, checked.

    Raises:
        StoreError: If it is not an ``int`` (text, a real, a blob, NULL) or is below
            ``minimum``.
    """
    if type(value) is not int or (minimum is not None and value < minimum):
        raise unreadable(table, column)
    return value


def stored_text(value: object, table: str, column: str) -> str:
    """Return a value read back from a TEXT column, checked.

    Text SQLite cannot hold as UTF-8 (a lone surrogate) is stored as a BLOB of its
    ``surrogatepass`` encoding (see :func:`text_param`) and decoded back here.

    Raises:
        StoreError: If it is neither text nor such a blob.
    """
    if type(value) is str:
        return value
    if type(value) is bytes:
        try:
            return value.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise unreadable(table, column) from None
    raise unreadable(table, column)


def text_param(value: str) -> str | bytes:
    """Return ``value`` as SQLite can bind it (a BLOB for text holding a lone surrogate).

    Text with a lone surrogate cannot be held by SQLite's UTF-8, so it is bound as a BLOB of
    its ``surrogatepass`` encoding.  Such a blob never equals any stored text and decodes
    back through :func:`stored_text`, so a store keeps every ``str`` the memory stores keep,
    and looks it up exactly.
    """
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")
    return value


def store_error(exc: sqlite3.Error) -> StoreError:
    """Translate a sqlite3 error (its message names no data, only what failed)."""
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    return StoreError(f"sqlite {name}: {exc}")


class SQLiteDatabase:
    """A SQLite file opened for authcore stores (see the module docstring).

    Args:
        path: The database file (created if missing).  ``":memory:"`` is refused: every
            thread would see a different database; use the memory stores instead.
        schemas: The components to migrate to their latest version.
        timeout: Seconds to wait for another writer before :class:`StoreError`.
        synchronous: ``"FULL"`` (default), ``"EXTRA"`` or ``"NORMAL"``.

    Raises:
        ConfigurationError: On an invalid option.
        StoreError: If the file cannot be opened or migrated, or its schema is newer.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        schemas: Sequence[Schema],
        timeout: float = 10.0,
        synchronous: str = "FULL",
    ) -> None:
        given: tuple[object, object] = (path, timeout)  # untyped callers pass anything
        if not isinstance(given[0], (str, os.PathLike)) or str(path) in {"", ":memory:"}:
            raise ConfigurationError("path must name a database file (not :memory:)")
        if synchronous not in _SYNC_MODES:
            raise ConfigurationError("synchronous must be FULL, EXTRA or NORMAL")
        if isinstance(given[1], bool) or not isinstance(given[1], (int, float)) or timeout < 0:
            raise ConfigurationError("timeout must be a number of seconds >= 0")
        self.path: Path = Path(path)
        self._timeout = float(timeout)
        self._synchronous = synchronous
        self._local = _ThreadState()
        self._lock = threading.Lock()
        self._connections: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._pid = os.getpid()
        self._closed = False
        try:
            self._enable_wal()
            self.migrate(schemas)
        except BaseException:
            self.close()  # no connection outlives a failed open
            raise

    def _enable_wal(self) -> None:
        try:
            mode = self.connection().execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.Error as exc:
            raise store_error(exc) from None
        if str(mode).lower() != "wal":
            raise StoreError(f"could not enable WAL (journal mode is {mode})")

    # ------------------------------------------------------------------ connections

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise store_error(exc) from None
        return conn

    def connection(self) -> sqlite3.Connection:
        """Return this thread's connection (opened on first use, reopened after ``fork``)."""
        local = self._local
        conn = local.conn
        forks = FORKS[0]
        if conn is not None and local.forks == forks:
            return conn
        if self._closed:
            raise StoreError("database is closed")
        pid = os.getpid()
        with self._lock:
            if pid != self._pid:  # forked: inherited connections belong to the parent
                self._connections = {}
                self._pid = pid
            for ident, (thread, old) in list(self._connections.items()):
                if not thread.is_alive():
                    old.close()
                    del self._connections[ident]
            conn = self._open()
            self._connections[id(conn)] = (threading.current_thread(), conn)
        local.conn = conn
        local.forks = forks
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any exception).

        Raises:
            StoreError: For any sqlite3 failure (locked past the timeout, I/O, corruption).
        """
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise store_error(exc) from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise store_error(exc) from None
            raise

    @staticmethod
    def change_marker(conn: sqlite3.Connection) -> tuple[int, int]:
        """A value that differs whenever the data may have changed since it was last taken.

        ``PRAGMA data_version`` changes when another connection (thread or process) commits;
        ``conn.total_changes`` (a counter in memory) changes with every row ``conn`` itself
        inserts, updates or deletes.  Take it before reading what it guards.

        Raises:
            sqlite3.Error: Left to the caller, which translates it (a closed connection
                raises too).
        """
        return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """Give this thread's connection for reads, translating sqlite3 errors."""
        try:
            yield self.connection()
        except sqlite3.Error as exc:
            raise store_error(exc) from None

    # ------------------------------------------------------------------ schema

    def migrate(self, schemas: Sequence[Schema]) -> None:
        """Bring every component to its latest version, in one transaction.

        Raises:
            StoreError: If a component's stored version is newer than its schema.
        """
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS authcore_schema ("
                "component TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL)"
            )
            apply_migrations(
                schemas,
                version_of=lambda component: self._version(conn, component),
                execute=conn.execute,
                record=lambda component, version: conn.execute(
                    "INSERT OR REPLACE INTO authcore_schema (component, version) VALUES (?, ?)",
                    (component, version),
                ),
            )

    @staticmethod
    def _version(conn: sqlite3.Connection, component: str) -> int:
        row = conn.execute(
            "SELECT version FROM authcore_schema WHERE component = ?", (component,)
        ).fetchone()
        return 0 if row is None else stored_int(row[0], "authcore_schema", "version", minimum=1)

    def schema_version(self, component: str) -> int:
        """Return the stored version of ``component`` (0 if it was never migrated)."""
        with self.reading() as conn:
            return self._version(conn, component)

    def close(self) -> None:
        """Close every connection this object opened in this process."""
        with self._lock:
            self._closed = True
            if self._pid == os.getpid():
                for _, conn in self._connections.values():
                    conn.close()
            self._connections = {}
        self._local = _ThreadState()
