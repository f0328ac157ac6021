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
* A per-thread read cache stays exact when it is validated before each use by a marker
  taken before the read, and rebuilt whenever the marker differs: the WAL-index header
  (:func:`wal_index_header` on :attr:`SQLiteDatabase.wal_index`, which every commit by any
  connection rewrites), or where that is -1, ``PRAGMA data_version`` (which misses the
  connection's own commits), together with the connection's ``total_changes`` (which counts
  them).  :class:`~authcore.stores.sqlite.SQLiteKeyStore` is the example.
* Modules that import this one lazily keep ``sqlite3`` out of ``import authcore``.

Durability: WAL journal (readers never block the writer), ``synchronous=FULL`` by default (a
committed transaction survives power loss; ``NORMAL`` survives a process crash), a busy
timeout instead of immediate ``database is locked`` errors, and every write in an explicit
``BEGIN IMMEDIATE`` ... ``COMMIT``: a process killed mid-transaction leaves the previous
committed state, which the next opener recovers from the WAL.

Connections: one per thread (``sqlite3`` connections must not be shared) and per process (a
connection inherited through ``fork`` is abandoned, never used, as SQLite requires), and none
open across a ``fork``: the forking process closes its own first (:func:`_before_fork`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from authcore._options import is_choice, seconds_option
from authcore.errors import ConfigurationError, StoreError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = [
    "FORKS",
    "PRUNE_FACTOR",
    "WAL_INDEX_HEADER",
    "Migration",
    "SQLiteDatabase",
    "Schema",
    "apply_migrations",
    "store_error",
    "stored_int",
    "stored_text",
    "text_param",
    "unreadable",
    "wal_index_header",
]

_SYNC_MODES: Final = frozenset({"FULL", "NORMAL", "EXTRA"})

PRUNE_FACTOR: Final = 4
"""A store's periodic clean-up (every ``n`` writes) deletes at most ``PRUNE_FACTOR * n`` rows.

More than the ``n`` rows written since the last one, so a backlog drains over the next
clean-ups, but never a whole burst's worth inside one caller's request (or, for SQLite,
under the write lock every other process waits for).
"""

FORKS: Final = [0]
"""``[n]``: changes at every ``fork()``, in the parent (before it) and in the child (after it).

A connection made under another value must not be used: in a child it is the parent's, and
in the parent the fork closed it (:func:`_before_fork`).  Anything holding a connection per
thread compares it with the value it was made under (far cheaper than ``os.getpid()``, a
system call); CPython runs the hooks around every ``fork()`` that goes on running Python.
"""


# Every open SQLiteDatabase of this process, for the fork() hooks below.
_DATABASES: Final[weakref.WeakSet[SQLiteDatabase]] = weakref.WeakSet()


def _before_fork() -> None:
    """Close this process's connections before ``fork()``: the child must not inherit them.

    SQLite keeps its per-process lock bookkeeping in memory, and a child inherits it: a
    connection the child opens then counts on locks the *parent* holds (the ``-shm`` file's
    and the database file's) and takes none of its own.  When the parent later closes its
    last connection, SQLite believes no process is left, deletes the WAL and ``-shm`` files,
    and the child goes on writing to deleted files: its commits are lost to every other
    process.  With nothing open at the fork, the child's connections take their own locks.
    Connections re-open lazily, in the parent too (``FORKS`` changes).  A database with a
    transaction in progress in another thread is left as it is (closing it would lose that
    transaction); another thread paused between two statements of its own at the fork may
    get one ``StoreError`` (its connection closed under it), never a wrong answer.  Fork from
    a thread that is the only one using SQLite, as SQLite asks.
    """
    for database in list(_DATABASES):
        database._close_for_fork()  # noqa: SLF001 - this module's own class
    FORKS[0] += 1


def _forked() -> None:  # pragma: no cover - runs in fork() children only
    FORKS[0] += 1
    # The child's only thread: a database lock that another thread of the parent held at the
    # fork would stay held for ever (its holder does not exist here), and the child's first
    # connection() would wait on it.  Nothing the lock guarded is in use in the child.
    for database in list(_DATABASES):
        database._lock = threading.Lock()  # noqa: SLF001 - this module's own class


if hasattr(os, "register_at_fork"):  # POSIX; there is no fork() elsewhere
    os.register_at_fork(before=_before_fork, after_in_child=_forked)


# ---------------------------------------------------------------- the WAL-index header

WAL_INDEX_HEADER: Final = 96
"""Bytes at the start of a ``-shm`` file that every commit rewrites (unix VFS, WAL mode).

The two copies of the 48-byte WAL-index header (``iChange`` counts transactions;
``mxFrame``, the salts and checksums change with every commit; SQLite's walformat
document).  Not the checkpoint information after them: readers write their read marks
there, which would make every read look like a change.  SQLite itself compares the header
with its last copy to know whether its page cache is still valid; a store's read cache does
the same with one ``pread``, without the read transaction ``PRAGMA data_version`` opens.

The layout is that of SQLite's default unix VFS, the one :mod:`sqlite3` opens a path with
(the stores never pass a ``vfs=`` URI); a header of another version is not relied on.
"""

_WAL_INDEX_VERSION: Final = 3007000  # iVersion of every WAL-index since SQLite 3.7.0

_SHM_LOCK: Final = threading.Lock()
if hasattr(os, "register_at_fork"):  # a fork() child never inherits the registry mid-change
    os.register_at_fork(
        before=_SHM_LOCK.acquire,
        after_in_parent=_SHM_LOCK.release,
        after_in_child=_SHM_LOCK.release,
    )
_SHM_FILES: Final[dict[tuple[int, int], list[int]]] = {}
"""(st_dev, st_ino) of a ``-shm`` file -> [this process's read-only descriptor, users].

Process-wide because the hazard is: closing *any* descriptor of a file releases every POSIX
lock the process holds on it, SQLite's included (its shared-memory locks live on the ``-shm``
file, and other code in the process may have connections to it).  So a descriptor is closed
only when no :class:`SQLiteDatabase` uses it and its file is unlinked (SQLite deletes the
``-shm`` file only when the last connection anywhere closes).  At most one per file.
"""


def _release_unused() -> None:
    for key, (fd, users) in list(_SHM_FILES.items()):
        if users:
            continue
        try:
            gone = os.fstat(fd).st_nlink == 0
        except OSError:  # pragma: no cover - our descriptors are never closed elsewhere
            gone = True
        if gone:
            del _SHM_FILES[key]
            with contextlib.suppress(OSError):
                os.close(fd)  # the file is unlinked: no connection holds locks on it


def _shm_path(conn: sqlite3.Connection) -> Path | None:
    """The ``-shm`` file of ``conn``'s main database, if it is a WAL database on POSIX."""
    if not hasattr(os, "pread"):  # pragma: no cover - POSIX has it
        return None
    try:
        mode = conn.execute("PRAGMA main.journal_mode").fetchone()[0]
        listed = {name: file for _, name, file in conn.execute("PRAGMA database_list")}
    except sqlite3.Error:  # pragma: no cover - the connection was just opened
        return None
    main = listed.get("main")
    if str(mode).lower() != "wal" or not main:
        return None
    return Path(f"{main}-shm")  # the name SQLite's unix VFS gives it (its full path + "-shm")


def _open_wal_index(conn: sqlite3.Connection) -> tuple[int, tuple[int, int] | None]:
    """A descriptor to read ``conn``'s WAL-index header with and its registry key, or -1.

    -1 where ``os.pread`` is missing, the main database is not a WAL file with a ``-shm``
    file beside it, or the header is not of the version this code knows.  The caller
    releases the key with :func:`_release_wal_index` when it is done.
    """
    shm = _shm_path(conn)
    if shm is None:
        return -1, None
    with _SHM_LOCK:
        _release_unused()
        try:
            status = shm.stat()
            key = (status.st_dev, status.st_ino)
            if key not in _SHM_FILES:
                fd = os.open(shm, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                opened = os.fstat(fd)
                key = (opened.st_dev, opened.st_ino)
                # Already there only if the file was replaced between stat and open: the new
                # descriptor is then left open, unused (closing it could drop locks).
                _SHM_FILES.setdefault(key, [fd, 0])
        except OSError:
            return -1, None
        entry = _SHM_FILES[key]
        head = wal_index_header(entry[0])
        if head is None or int.from_bytes(head[:4], sys.byteorder) != _WAL_INDEX_VERSION:
            return -1, None
        entry[1] += 1
        return entry[0], key


def _release_wal_index(key: tuple[int, int] | None) -> None:
    if key is None:
        return
    with _SHM_LOCK:
        entry = _SHM_FILES.get(key)
        if entry is not None and entry[1] > 0:
            entry[1] -= 1
        _release_unused()


def wal_index_header(fd: int) -> bytes | None:
    """The WAL-index header read from ``fd``, or ``None`` if it could not be read whole."""
    try:
        head = os.pread(fd, WAL_INDEX_HEADER, 0)
    except OSError:
        return None
    return head if len(head) == WAL_INDEX_HEADER else None


class _ThreadState(threading.local):
    """What one thread holds of a database (class attributes are each thread's defaults)."""

    conn: sqlite3.Connection | None = None
    forks: int = -1


class _Opened:
    """The connections a database opened and the process they belong to.

    Shared with the database's finalizer, which closes them when the database is collected
    without :meth:`SQLiteDatabase.close`.  Only the process that opened them calls
    ``close()`` on them; a ``fork()`` child abandons the inherited ones (SQLite forbids using
    them there) and keeps them referenced in :data:`_ABANDONED`, so that the collector never
    closes them either: closing one would run SQLite's unlock and close logic on the
    parent's lock state, and could drop the locks of the child's own connections.
    """

    __slots__ = ("conns", "pid", "wal_key")

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.conns: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self.wal_key: tuple[int, int] | None = None  # the -shm registry entry in use

    def close_all(self) -> None:
        if self.pid == os.getpid():
            for _, conn in self.conns.values():
                conn.close()
        else:
            _ABANDONED.extend(conn for _, conn in self.conns.values())
        self.conns = {}


_ABANDONED: Final[list[sqlite3.Connection]] = []
"""Connections a ``fork()`` child inherited: never used, never closed (see :class:`_Opened`).

Normally empty: the forking process closes its connections first (:func:`_before_fork`);
only a database busy at the fork leaves some.
"""


def _finalize(opened: _Opened) -> None:
    opened.close_all()  # first: SQLite may delete the -shm file as the last one closes
    _release_wal_index(opened.wal_key)
    opened.wal_key = None


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


def check_schemas(schemas: object) -> tuple[Schema, ...]:
    """Return ``schemas`` as a tuple: a list or tuple of :class:`Schema`, one per component.

    Raises:
        ConfigurationError: For anything else (a string would be iterated per character).
    """
    if not isinstance(schemas, (list, tuple)) or not all(isinstance(s, Schema) for s in schemas):
        raise ConfigurationError("schemas must be a list of authcore schemas")
    checked: tuple[Schema, ...] = tuple(schemas)
    if len({s.component for s in checked}) != len(checked):
        raise ConfigurationError("schemas must name each component once")
    return checked


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
    for schema in check_schemas(schemas):
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
        schemas: A list of the components to migrate to their latest version, each once.
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
        schemas = check_schemas(schemas)  # before the file is created
        if not is_choice(synchronous, _SYNC_MODES):
            raise ConfigurationError("synchronous must be FULL, EXTRA or NORMAL")
        seconds_option(timeout, "timeout", positive=False)
        self.path: Path = Path(path)
        self._timeout = float(timeout)
        self._synchronous = synchronous
        self._local = _ThreadState()
        self._lock = threading.Lock()  # renewed in fork() children (see _forked)
        _DATABASES.add(self)
        self._opened = _Opened()
        self._closed = False
        self.wal_index: int = -1
        """Read-only descriptor of the ``-shm`` file, whose first 96 bytes (the WAL-index
        header) change with every commit; -1 where it cannot be used (then ``PRAGMA
        data_version`` tells commits apart).  Shared by every database object of this file
        in the process; never closed while SQLite may hold locks through the file."""
        self._wal_release: Callable[[], object] = lambda: None
        try:
            self._enable_wal()
            self.migrate(schemas)
            # After the migration's reads: SQLite writes the header on first use.
            self.wal_index, self._opened.wal_key = _open_wal_index(self.connection())
            # Released by close(), or when this object is collected without it (with its
            # connections; not at interpreter exit, where other threads may still run).
            finalizer = weakref.finalize(self, _finalize, self._opened)
            finalizer.atexit = False
            self._wal_release = finalizer
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
        except sqlite3.Error as exc:
            raise store_error(exc) from None
        try:
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            conn.close()  # not left to the collector (unclosed, as Python 3.13 warns)
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
            opened = self._opened
            if pid != opened.pid:  # forked: inherited connections belong to the parent
                opened.close_all()  # drops them without close() (another process's)
                opened.pid = pid
            elif conn is not None and opened.conns.get(id(conn), (None, None))[1] is conn:
                # This thread's own, which a fork left open (the database was busy then):
                # still this process's, and still good.
                local.forks = forks
                return conn
            conns = opened.conns
            for ident, (thread, old) in list(conns.items()):
                if not thread.is_alive():
                    old.close()
                    del conns[ident]
            conn = self._open()
            conns[id(conn)] = (threading.current_thread(), conn)
            if self.wal_index >= 0:
                self._renew_wal_index(conn)
        local.conn = conn
        local.forks = forks
        return conn

    def _close_for_fork(self) -> None:
        """Close every connection of this process, unless one is in a transaction (``fork()``).

        Runs in the forking thread with the interpreter's other threads paused between two
        bytecodes; never blocks (a lock held by a paused thread would never be released).
        """
        if not self._lock.acquire(blocking=False):
            return  # another thread is opening a connection: leave this database as it is
        try:
            opened = self._opened
            if opened.pid != os.getpid() or any(
                conn.in_transaction for _, conn in opened.conns.values()
            ):
                return
            for _, conn in opened.conns.values():
                conn.close()
            opened.conns = {}
        finally:
            self._lock.release()

    def _renew_wal_index(self, conn: sqlite3.Connection) -> None:
        """Point :attr:`wal_index` at the ``-shm`` file SQLite uses now (under the lock).

        When the last connection to the database anywhere closes (here: the connections of
        threads that ended, closed just above), SQLite deletes the ``-shm`` file, and the
        next connection creates a new one.  A descriptor of the old file would read a header
        that never changes again, and a read cache validated by it would never see another
        process's commit: a revoked key would keep verifying.  So each new connection
        checks that the descriptor still names the file beside the database, and follows a
        replacement (or falls back to ``PRAGMA data_version``).  No view can still use the
        old descriptor: a view lives in a thread whose connection is open, which would have
        kept the old file.
        """
        shm = _shm_path(conn)  # its query opens the WAL: the -shm file exists after it
        try:
            held = os.fstat(self.wal_index)
            there = shm.stat() if shm is not None else None
        except OSError:  # pragma: no cover - the query above just made SQLite open the file
            there = None
        if there is not None and (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino):
            return
        old = self._opened.wal_key
        self.wal_index, self._opened.wal_key = _open_wal_index(conn)
        _release_wal_index(old)

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
        """Close every connection this object opened in this process.

        A database collected without it closes them then (not at interpreter exit).
        """
        with self._lock:
            self._closed = True
            self._opened.close_all()
            self.wal_index = -1
        self._local = _ThreadState()
        self._wal_release()  # after the connections (SQLite may have unlinked the file); once
